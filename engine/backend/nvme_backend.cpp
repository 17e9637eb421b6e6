#include "nvme_backend.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <liburing.h>
#include <unistd.h>

#include "../nvme/identify.hpp"

namespace pifio {

Result<std::unique_ptr<Backend>> NvmeBackend::open(const std::string& path, const EngineOptions& o) {
    Result<std::unique_ptr<Backend>> r;
    std::unique_ptr<NvmeBackend> b(new NvmeBackend);
    b->path_ = path;
    if (Error e = b->reopen()) {
        r.error = e;
        return r;
    }
    auto id = nvme::identify(b->fd_, path);
    Format fmt;
    if (!o.pi_format.empty()) {
        auto pf = parse_format(o.pi_format);
        if (!pf.ok()) {
            r.error = {pf.error.err, path + ": pi_format=" + o.pi_format + ": " + pf.error.msg};
            return r;
        }
        fmt = pf.value;
        b->source_ = "pi_format";
        if (id.ok()) {
            const Format& d = id.value.fmt;
            // The transfer geometry must match the namespace, or every command
            // moves the wrong number of bytes; the PI fields may be overridden
            // (negative tests: write type-1 tuples to a type-3 namespace...).
            if (d.data_size != fmt.data_size || d.ms != fmt.ms || (d.ms && d.layout != fmt.layout)) {
                r.error = {EINVAL, path + ": pi_format=" + o.pi_format + " does not match the namespace's format " +
                                       format_to_short(d) + " (Identify) in data size, metadata size or layout; use " +
                                       "pi_format=" + format_to_short(d) + " or drop pi_format"};
                return r;
            }
            if (!(d == fmt)) b->source_ = "pi_format, namespace is " + format_to_short(d);
        } else if (id.value.nsid == 0) {
            r.error = id.error;
            return r;
        }
    } else {
        if (!id.ok()) {
            r.error = {id.error.err, id.error.msg + " (set pi_format=<data>+<ms>/... to name the format yourself)"};
            return r;
        }
        fmt = id.value.fmt;
        b->source_ = "Identify";
    }
    b->io_.nsid = id.value.nsid;
    b->io_.fmt = fmt;
    b->io_.pract = o.pi_act && fmt.pi_type != 0;
    b->io_.prchk = o.pi_chk;
    b->io_.apptag = uint16_t(o.apptag);
    b->io_.apptag_mask = uint16_t(o.apptag_mask);
    b->io_.reftag_base = o.pi_reftag;
    b->geo_ = make_geometry(fmt, o.pi_act, id.value.nsze);
    if (id.ok()) {
        // What recheck() compares against; the NVM command set Identify only
        // when this controller answers it.
        if (nvme::format_key(b->fd_, id.value.nsid, true, &b->key_) != 0)
            nvme::format_key(b->fd_, id.value.nsid, false, &b->key_);
        b->lbaf_ = id.value.lbaf_index;
        b->fmt_at_open_ = format_to_short(id.value.fmt);
    }
    r.value = std::move(b);
    return r;
}

NvmeBackend::~NvmeBackend() { close(); }

int NvmeBackend::recheck(char* why, size_t len) noexcept {
    if (fd_ < 0 || fmt_at_open_.empty()) return 0;
    nvme::FormatKey now;
    const int ret = nvme::format_key(fd_, io_.nsid, key_.have_elbaf, &now);
    // Cannot ask right now (an errno, a controller being reset): ask again later.
    // "Invalid namespace or format" means the namespace is gone.
    if (ret > 0 || (ret < 0 && -ret != 0x00b)) return 0;
    if (ret == 0 && now == key_) return 0;
    // Changed (or the namespace no longer answers Identify): say what it is now. Once.
    try {
        std::string is;
        if (ret < 0) {
            is = "Identify Namespace now answers 0x00b invalid namespace or format (namespace deleted or detached?)";
        } else {
            auto id = nvme::identify(fd_, path_);
            is = id.ok() ? format_to_short(id.value.fmt) + " (LBA format " + std::to_string(id.value.lbaf_index) +
                               ", " + std::to_string(id.value.nsze) + " blocks)"
                         : "a format pifio cannot use (" + id.error.msg + ")";
        }
        snprintf(why, len,
                 "%s: namespace format changed under the job: %s (LBA format %u, %llu blocks) when probed, now %s; "
                 "the engine's commands no longer match it, restart the job on the new format",
                 path_.c_str(), fmt_at_open_.c_str(), unsigned(lbaf_), (unsigned long long)key_.nsze, is.c_str());
    } catch (...) {
        snprintf(why, len, "%s: namespace format changed under the job (was %s)", path_.c_str(), fmt_at_open_.c_str());
    }
    return EMEDIUMTYPE;
}

std::string NvmeBackend::describe() const {
    return "nvme passthrough, nsid " + std::to_string(io_.nsid) + ", " + format_to_short(io_.fmt) + " (" + source_ +
           "), " + std::to_string(geo_.nblocks) + " blocks";
}

unsigned NvmeBackend::ring_flags() const noexcept { return IORING_SETUP_SQE128 | IORING_SETUP_CQE32; }

Error NvmeBackend::reopen() {
    if (fd_ >= 0) return {};
    fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
    if (fd_ < 0) return {errno, path_ + ": open: " + strerror(errno)};
    return {};
}

void NvmeBackend::close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

int NvmeBackend::prep(io_uring_sqe* sqe, const Io& io) const noexcept {
    // liburing's common SQE fields; the NVMe command goes in the SQE's
    // 80-byte command area (SQE128).
    io_uring_prep_rw(IORING_OP_URING_CMD, sqe, io.file_index >= 0 ? io.file_index : fd_, nullptr, 0, 0);
    if (io.file_index >= 0) sqe->flags |= IOSQE_FIXED_FILE;
    sqe->cmd_op = NVME_URING_CMD_IO;
    auto* cmd = reinterpret_cast<nvme::UringCmd*>(sqe->cmd);
    switch (io.dir) {
        case Dir::flush: nvme::build_flush(*cmd, io_.nsid); return 0;
        case Dir::read:
        case Dir::write: break;
        default: return -EINVAL;
    }
    if (io.buf_index >= 0) {
        sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
        sqe->buf_index = uint16_t(io.buf_index);
    }
    nvme::RwArgs a;
    a.slba = io.lba;
    a.nlb = io.nlb;
    a.data = reinterpret_cast<uintptr_t>(io.data);
    a.data_len = io.data_len;
    a.md = reinterpret_cast<uintptr_t>(io.md);
    a.md_len = io.md_len;
    nvme::build_rw(*cmd, io.dir == Dir::read ? nvme::op_read : nvme::op_write, io_, a);
    return 0;
}

Completion NvmeBackend::complete(const io_uring_cqe* cqe, const Io&) const noexcept {
    Completion c;
    if (cqe->res < 0) {
        c.err = -cqe->res;
    } else if (cqe->res > 0) {
        const nvme::Status s = nvme::decode_status(uint32_t(cqe->res));
        c.device = true;
        c.status = s.code();
        c.info = nvme::status_info(c.status);
        c.err = c.info ? c.info->err : EIO;
    }
    return c;
}

}  // namespace pifio
