// A backend turns one I/O on one target into an io_uring SQE and a CQE back
// into a result. The ring loop (engine.hpp, io.cpp) is shared; backends
// differ in what they put in the SQE:
//   nvme  — /dev/ngXnY char devices: IORING_OP_URING_CMD with NVMe commands
//           (needs 128-byte SQEs and 32-byte CQEs);
//   block — block devices: O_DIRECT reads/writes (block_backend.*).
// open_backend() (select.cpp) picks one by the target's file type.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "options.hpp"
#include "pifio/pi.hpp"

struct io_uring_sqe;
struct io_uring_cqe;

namespace pifio {
namespace nvme {
struct StatusInfo;
}

enum class Dir : uint8_t { read, write, flush };

// One I/O as the ring loop hands it to a backend. Positions are in blocks of
// the target's geometry; buffers are already sized (data_len = nlb * stride,
// md_len = nlb * md_stride).
struct Io {
    Dir dir = Dir::read;
    uint64_t lba = 0;
    uint32_t nlb = 0;
    void* data = nullptr;
    uint32_t data_len = 0;
    void* md = nullptr;
    uint32_t md_len = 0;
    int buf_index = -1;     // registered buffer (fixedbufs), -1: none
    int file_index = -1;    // registered file (registerfiles), -1: use fd()
    // Backend-private per-I/O space filled by prep() (e.g. the block backend's
    // io_uring PI attribute); lives until the I/O completes.
    alignas(8) mutable unsigned char scratch[32] = {};
};

// A completion as the backend reads it.
struct Completion {
    int err = 0;            // 0, or an errno for fio
    uint16_t status = 0;    // device status (NVMe sct<<8|sc) when device is true
    bool device = false;    // err comes from a device status
    const nvme::StatusInfo* info = nullptr;   // the status table's row, when it names the status
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual const std::string& path() const noexcept = 0;
    virtual const Geometry& geometry() const noexcept = 0;
    // One line for logs and the report ("nsid 1, 4096+8/t1 (Identify)").
    virtual std::string describe() const = 0;
    // io_uring setup flags this backend needs (IORING_SETUP_SQE128 | _CQE32).
    virtual unsigned ring_flags() const noexcept = 0;
    // The open fd I/O goes to (-1 when closed).
    virtual int fd() const noexcept = 0;
    virtual Error reopen() = 0;   // open the fd again after close()
    virtual void close() noexcept = 0;

    // Hot path: fill `sqe` (already cleared by the ring) for `io`; user_data is
    // set by the caller. Returns 0 or -errno when the I/O cannot be expressed.
    virtual int prep(io_uring_sqe* sqe, const Io& io) const noexcept = 0;
    // Hot path: read the completion of `io`.
    virtual Completion complete(const io_uring_cqe* cqe, const Io& io) const noexcept = 0;
    // Asked at open: are this backend's reads and writes plain
    // IORING_OP_READ/WRITE (_FIXED with fixedbufs) of io.data at byte offset
    // lba * stride on fd(), whose completion is good exactly when res ==
    // data_len? Then the SQE flags they carry (IOSQE_*, not FIXED_FILE), and
    // the engine fills those SQEs and reads those CQEs itself, with no call
    // per I/O; prep() and complete() still get flushes and failed I/Os.
    // -1 (the default): the backend preps and completes every I/O.
    virtual int plain_rw_flags() const noexcept { return -1; }
    // At close: checks that run after the I/O (block backend: pi_audit of the
    // blocks written). Logs through `log`; returns the number of bad blocks.
    virtual uint64_t finish_audit(void (*log)(const char*)) noexcept { return 0; }
    // Is the target still in the format (and size) it was opened with? Asked
    // while the job runs (at open, at the first I/O, about once a second, after
    // an I/O error, at close): without allocating while it is. 0: unchanged, or
    // cannot tell right now (a controller being reset); otherwise an errno,
    // and `why` gets one line naming what changed.
    virtual int recheck(char* why, size_t len) noexcept { return 0; }
};

// Open `path` with the backend its file type calls for, discover its format
// (or take pi_format), and derive its geometry for the job's PI options.
Result<std::unique_ptr<Backend>> open_backend(const std::string& path, const EngineOptions& o);

}  // namespace pifio
