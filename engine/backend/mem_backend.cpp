// In-memory target: "pifio-mem:<format>:<size>", e.g. pifio-mem:4096+8:64M
// (in fio, escape the colons: filename=pifio-mem\:4096+8\:64M). A store of
// <size> data bytes (K/M/G suffixes, binary) in <format>, filled at open with
// pseudo-random data and PI from pifio's own generate (app tag = apptag, ref
// tags as the engine checks them: the LBA, pi_reftag + LBA on type 2). Reads
// copy the store into the I/O's buffers, writes copy the buffers into it;
// each I/O completes through an IORING_OP_NOP, so the ring loop, the fio
// glue and the host PI checks run as on a device, without a device: what
// pi_verify costs per I/O at millions of IOPS.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <liburing.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mem_backend.hpp"

namespace pifio {

namespace {

constexpr const char kPrefix[] = "pifio-mem:";

class MemBackend final : public Backend {
public:
    ~MemBackend() override {
        close();
        if (store_) munmap(store_, store_len_);
    }
    const std::string& path() const noexcept override { return path_; }
    const Geometry& geometry() const noexcept override { return geo_; }
    std::string describe() const override {
        return "in-memory target, " + format_to_short(geo_.fmt) + ", " + std::to_string(geo_.nblocks) +
               " blocks (PI written by pifio's generate at open)";
    }
    unsigned ring_flags() const noexcept override { return 0; }
    int fd() const noexcept override { return fd_; }
    Error reopen() override {
        if (fd_ >= 0) return {};
        // fio wants a file descriptor per file; the I/O never touches it.
        fd_ = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd_ < 0) return {errno, path_ + ": open /dev/null: " + strerror(errno)};
        return {};
    }
    void close() noexcept override {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    int prep(io_uring_sqe* sqe, const Io& io) const noexcept override {
        io_uring_prep_nop(sqe);
        if (io.dir == Dir::flush) return 0;
        if (io.lba + io.nlb > geo_.nblocks) return -EINVAL;
        // A failing direction moves nothing; complete() fails it.
        if ((io.dir == Dir::read && (eio_ & 1)) || (io.dir == Dir::write && (eio_ & 2))) return 0;
        uint8_t* d = store_ + io.lba * geo_.stride;
        uint8_t* m = md_ + io.lba * geo_.md_stride;
        if (io.dir == Dir::read) {
            std::memcpy(io.data, d, io.data_len);
            if (io.md_len && io.md) std::memcpy(io.md, m, io.md_len);
        } else {
            std::memcpy(d, io.data, io.data_len);
            if (io.md_len && io.md) std::memcpy(m, io.md, io.md_len);
        }
        return 0;
    }
    Completion complete(const io_uring_cqe* cqe, const Io& io) const noexcept override {
        Completion c;
        if (cqe->res < 0) c.err = -cqe->res;
        else if ((io.dir == Dir::read && (eio_ & 1)) || (io.dir == Dir::write && (eio_ & 2))) c.err = EIO;
        return c;
    }

    std::string path_;
    Geometry geo_;
    int fd_ = -1;
    int eio_ = 0;                // bit 0: reads fail with EIO, bit 1: writes
    uint8_t* store_ = nullptr;   // data (nblocks * stride), then metadata (nblocks * md_stride)
    uint8_t* md_ = nullptr;
    size_t store_len_ = 0;
};

bool parse_size(std::string_view s, uint64_t* out) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p == s.data()) return false;
    std::string_view sfx(p, s.data() + s.size() - p);
    unsigned shift = 0;
    if (sfx == "" ) shift = 0;
    else if (sfx == "K" || sfx == "k" || sfx == "KiB") shift = 10;
    else if (sfx == "M" || sfx == "m" || sfx == "MiB") shift = 20;
    else if (sfx == "G" || sfx == "g" || sfx == "GiB") shift = 30;
    else return false;
    if (v > (UINT64_MAX >> shift)) return false;
    *out = v << shift;
    return true;
}

}  // namespace

bool is_mem_target(const std::string& path) { return path.rfind(kPrefix, 0) == 0; }

Result<std::unique_ptr<Backend>> open_mem_backend(const std::string& path, const EngineOptions& o) {
    Result<std::unique_ptr<Backend>> r;
    const std::string usage = " (want pifio-mem:<format>:<size>[:eio=read|write|all], e.g. pifio-mem:4096+8:64M; in fio escape the "
                              "colons: filename=pifio-mem\\:4096+8\\:64M)";
    std::string_view rest = std::string_view(path).substr(sizeof kPrefix - 1);
    // Optional last field eio=read|write|all: a target whose reads (writes, all
    // I/O) fail with EIO, for tests of what a job that checked nothing reports.
    int eio = 0;
    if (const size_t c = rest.rfind(':'); c != std::string_view::npos && rest.substr(c + 1).rfind("eio=", 0) == 0) {
        const std::string_view w = rest.substr(c + 5);
        eio = w == "read" ? 1 : w == "write" ? 2 : w == "all" ? 3 : -1;
        if (eio < 0) {
            r.error = {EINVAL, path + ": eio=" + std::string(w) + ": want eio=read, eio=write or eio=all" + usage};
            return r;
        }
        rest = rest.substr(0, c);
    }
    const size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
        r.error = {EINVAL, path + ": no size" + usage};
        return r;
    }
    auto pf = parse_format(rest.substr(0, colon));
    if (!pf.ok()) {
        r.error = {pf.error.err, path + ": " + pf.error.msg};
        return r;
    }
    uint64_t bytes = 0;
    if (!parse_size(rest.substr(colon + 1), &bytes) || bytes < pf.value.data_size) {
        r.error = {EINVAL, path + ": size '" + std::string(rest.substr(colon + 1)) + "' is not a byte count of at least one " +
                               std::to_string(pf.value.data_size) + "-byte block" + usage};
        return r;
    }
    if (!o.pi_format.empty()) {
        auto of = parse_format(o.pi_format);
        if (!of.ok() || !(of.value == pf.value)) {
            r.error = {EINVAL, path + ": pi_format=" + o.pi_format + " differs from the target's format " +
                                   format_to_short(pf.value) + "; drop pi_format (the target names its format)"};
            return r;
        }
    }
    std::unique_ptr<MemBackend> b(new MemBackend);
    b->path_ = path;
    b->eio_ = eio;
    b->geo_ = make_geometry(pf.value, o.pi_act, bytes / pf.value.data_size);
    const Geometry& g = b->geo_;
    const size_t data_len = g.nblocks * g.stride, md_len = g.nblocks * g.md_stride;
    b->store_len_ = (data_len + md_len + 4095) & ~size_t(4095);
    void* m = mmap(nullptr, b->store_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (m == MAP_FAILED) {
        r.error = {errno, path + ": " + std::to_string(b->store_len_) + " bytes of memory: " + strerror(errno) +
                              "; give a smaller size"};
        return r;
    }
    b->store_ = static_cast<uint8_t*>(m);
    b->md_ = b->store_ + data_len;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i + 8 <= data_len + md_len; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::memcpy(b->store_ + i, &x, 8);
    }
    // With PRACT on a format whose metadata is only the tuple nothing is
    // transferred (the controller would insert and strip the PI): no host PI.
    if (g.host_pi()) {
        auto ctx = make_context(g.fmt, uint16_t(o.apptag), uint16_t(o.apptag_mask), CHK_ALL);
        if (!ctx.ok()) {
            r.error = {ctx.error.err, path + ": " + ctx.error.msg};
            return r;
        }
        // The same ref tags the engine generates and checks (engine.cpp queue()).
        Span s;
        for (uint64_t lba = 0; lba < g.nblocks;) {
            const uint32_t n = uint32_t(std::min<uint64_t>(g.nblocks - lba, 1u << 20));
            s.lba = lba;
            s.ref = ((g.fmt.pi_type == 2 ? o.pi_reftag : 0) + lba) & ref_mask(g.fmt);
            s.nblocks = n;
            generate(ctx.value, b->store_ + lba * g.stride, b->md_ + lba * g.md_stride, s);
            lba += n;
        }
    }
    r.value = std::move(b);
    return r;
}

}  // namespace pifio
