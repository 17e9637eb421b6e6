// NVMe passthrough backend: io_uring_cmd (NVME_URING_CMD_IO) on /dev/ngXnY.
#pragma once

#include "backend.hpp"
#include "../nvme/cmd.hpp"
#include "../nvme/identify.hpp"

namespace pifio {

class NvmeBackend final : public Backend {
public:
    // Opens `path` (a char device), identifies the namespace and derives the
    // geometry for the job's PI options.
    static Result<std::unique_ptr<Backend>> open(const std::string& path, const EngineOptions& o);
    ~NvmeBackend() override;

    const std::string& path() const noexcept override { return path_; }
    const Geometry& geometry() const noexcept override { return geo_; }
    std::string describe() const override;
    unsigned ring_flags() const noexcept override;
    int fd() const noexcept override { return fd_; }
    Error reopen() override;
    void close() noexcept override;
    int prep(io_uring_sqe* sqe, const Io& io) const noexcept override;
    Completion complete(const io_uring_cqe* cqe, const Io& io) const noexcept override;
    int recheck(char* why, size_t len) noexcept override;

private:
    NvmeBackend() = default;
    std::string path_;
    std::string source_;   // where the format came from
    int fd_ = -1;
    nvme::IoGeom io_;
    Geometry geo_;
    nvme::FormatKey key_;   // Identify's format fields at open (recheck compares them)
    uint8_t lbaf_ = 0;
    std::string fmt_at_open_;
};

}  // namespace pifio
