// Block backend: io_uring O_DIRECT reads/writes on block devices (plain
// namespaces, dm stacks). Chosen by file type (S_ISBLK) in select.cpp.
//
// PI paths (pi_mode):
//   uring-pi  userspace PI exactly as on passthrough, carried by io_uring PI
//             attributes (Linux 6.14+, IORING_FEAT_RW_ATTR) on a device with an
//             integrity profile; format from FS_IOC_GETLBMD_CAP (6.17+) or
//             sysfs integrity/ (older). Needs pi_act=0 (the host supplies PI).
//   kernel    the block layer generates and verifies (auto-integrity); the
//             engine moves data only. pi_audit=/dev/ngXnY[,...] then reads the
//             raw PI of exactly the blocks written back from the bottom
//             namespaces and checks it against the physical LBAs (engine/audit).
//   auto      uring-pi when pi_act=0 and kernel and device allow it, else kernel
//             (describe() says which and why).
// The choice is block_policy.hpp's (pure); open() does the probing. Features
// are probed once per process on named errnos.
#pragma once

#include <memory>
#include <vector>

#include "backend.hpp"

namespace pifio {
namespace audit {
class Auditor;
}

class BlockBackend final : public Backend {
public:
    static Result<std::unique_ptr<Backend>> open(const std::string& path, const EngineOptions& o);
    ~BlockBackend() override;

    const std::string& path() const noexcept override { return path_; }
    const Geometry& geometry() const noexcept override { return geo_; }
    std::string describe() const override;
    unsigned ring_flags() const noexcept override { return 0; }
    int fd() const noexcept override { return fd_; }
    Error reopen() override;
    void close() noexcept override;
    int prep(io_uring_sqe* sqe, const Io& io) const noexcept override;
    Completion complete(const io_uring_cqe* cqe, const Io& io) const noexcept override;
    int plain_rw_flags() const noexcept override;
    uint64_t finish_audit(void (*log)(const char*)) noexcept override;
    int recheck(char* why, size_t len) noexcept override;

private:
    // The device's block size, capacity and integrity profile now, without
    // allocating; false when the fd cannot be asked (errno set).
    bool fingerprint(char* out, size_t len, unsigned long long* bytes) const noexcept;
    BlockBackend() = default;
    std::string path_;
    std::string why_;           // how the PI path was chosen
    int fd_ = -1;
    Geometry geo_;
    bool uring_pi_ = false;
    bool async_ = false;        // IOSQE_ASYNC on every I/O (kernel leaks EAGAIN for dm-split NOWAIT I/O)
    uint16_t chk_flags_ = 0;    // IO_INTEGRITY_CHK_*
    uint16_t apptag_ = 0;
    uint64_t reftag_base_ = 0;  // type 2
    std::unique_ptr<audit::Auditor> auditor_;
    uint64_t* written_ = nullptr;   // bitmap of blocks written since the last audit (pi_audit)
    std::vector<uint64_t> written_store_;
    std::string sysfs_;         // /sys/dev/block/M:m
    char print_[224] = {};      // fingerprint() at open
};

// Probed once per process: does the running kernel take io_uring PI attributes?
// 0 yes, else an errno (EOPNOTSUPP: no IORING_FEAT_RW_ATTR).
int probe_uring_pi();

}  // namespace pifio
