// Block backend (see block_backend.hpp).
#include "block_backend.hpp"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../audit/audit.hpp"
#include "../nvme/identify.hpp"
#include "block_policy.hpp"
#include "block_uapi.hpp"

namespace pifio {
namespace {

std::string hex16(uint32_t v) {
    char b[12];
    snprintf(b, sizeof b, "0x%04x", v);
    return b;
}

std::string kernel_release() {
    struct utsname u;
    return uname(&u) == 0 ? u.release : "this kernel";
}

bool read_text(const std::string& path, std::string* out) {
    FILE* f = fopen(path.c_str(), "re");
    if (!f) return false;
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    *out = buf;
    while (!out->empty() && (out->back() == '\n' || out->back() == ' ')) out->pop_back();
    return true;
}

// What the device's integrity profile says, as a pifio Format.
struct Integrity {
    bool present = false;   // the block device has an integrity profile
    Format fmt;             // data_size = interval; ms = 0 when !present
    std::string source;     // "FS_IOC_GETLBMD_CAP", "sysfs T10-DIF-TYPE1-CRC", ...
};

// Probed once per process: does FS_IOC_GETLBMD_CAP exist? (-1 unknown, 0 no, 1 yes)
int g_lbmd = -1;

Result<Integrity> discover(int fd, dev_t rdev, uint32_t lbs, const std::string& path) {
    Result<Integrity> r;
    Integrity& in = r.value;
    in.fmt.data_size = lbs;
    if (g_lbmd != 0) {
        uapi::logical_block_metadata_cap cap{};
        if (ioctl(fd, uapi::FS_IOC_GETLBMD_CAP, &cap) == 0) {
            g_lbmd = 1;
            in.source = "FS_IOC_GETLBMD_CAP";
            if (cap.lbmd_size == 0) return r;   // no metadata
            in.present = true;
            if (cap.lbmd_interval != lbs) {
                r.error = {EOPNOTSUPP, path + ": protection interval " + std::to_string(cap.lbmd_interval) +
                                           " bytes differs from the logical block size " + std::to_string(lbs) +
                                           "; pifio needs one PI tuple per logical block"};
                return r;
            }
            in.fmt.ms = cap.lbmd_size;
            if (cap.lbmd_pi_size) {
                if (cap.lbmd_guard_tag_type == uapi::LBMD_PI_CSUM_CRC16_T10DIF) in.fmt.guard = Guard::g16;
                else if (cap.lbmd_guard_tag_type == uapi::LBMD_PI_CSUM_CRC64_NVME) in.fmt.guard = Guard::g64;
                else {
                    r.error = {EOPNOTSUPP, path + ": guard type " + std::to_string(cap.lbmd_guard_tag_type) +
                                               " (IP checksum?) is not supported; pifio knows CRC16-T10DIF and CRC64-NVMe"};
                    return r;
                }
                in.fmt.pi_type = (cap.lbmd_flags & uapi::LBMD_PI_CAP_REFTAG) ? 1 : 3;
                in.fmt.loc = (cap.lbmd_pi_offset == 0 && cap.lbmd_size > cap.lbmd_pi_size) ? PiLoc::first : PiLoc::last;
            }
            return r;
        }
        if (errno == ENOTTY || errno == EINVAL || errno == EOPNOTSUPP) g_lbmd = 0;   // kernel < 6.17
        else {
            r.error = {errno, path + ": FS_IOC_GETLBMD_CAP: " + strerror(errno)};
            return r;
        }
    }
    // sysfs: the profile name; the metadata size is not exposed, assume the tuple.
    std::string fmt;
    const std::string sys = "/sys/dev/block/" + std::to_string(major(rdev)) + ":" + std::to_string(minor(rdev));
    if (!read_text(sys + "/integrity/format", &fmt) || fmt == "none" || fmt.empty()) {
        in.source = "sysfs integrity/format: none";
        return r;
    }
    in.present = true;
    in.source = "sysfs integrity/format " + fmt;
    if (fmt == "nop") {
        std::string ts;
        read_text(sys + "/integrity/tag_size", &ts);
        in.fmt.ms = uint32_t(strtoul(ts.c_str(), nullptr, 10));
        return r;
    }
    const bool t3 = fmt.find("TYPE3") != std::string::npos;
    if (fmt.find("CRC64") != std::string::npos) in.fmt.guard = Guard::g64;
    else if (fmt.find("-CRC") == std::string::npos) {
        r.error = {EOPNOTSUPP, path + ": integrity profile " + fmt + " is not supported (IP checksum); pifio knows "
                                      "T10-DIF-TYPE*-CRC and EXT-DIF-TYPE*-CRC64"};
        return r;
    }
    in.fmt.pi_type = t3 ? 3 : 1;
    in.fmt.ms = in.fmt.tuple_size();
    in.source += " (metadata size assumed = tuple; set pi_format when larger)";
    return r;
}

// Does this kernel leak -EAGAIN for a NOWAIT direct I/O that dm splits at a
// target boundary? Seen on Linux 6.1 (Debian 6.1.176): a 1 MiB io_uring write
// or read crossing a dm-linear segment boundary completes with -EAGAIN (the
// piece below the boundary is split again at the NVMe limit, a REQ_NOWAIT bio
// must not be split, and io_uring only reissues -EAGAIN that comes back in task
// context); fio's own io_uring engine fails the same way, psync and IOSQE_ASYNC
// do not. Probed once per device at open with one read across the first target
// boundary of the top-level table; returns a reason string when I/O must be
// issued with IOSQE_ASYNC, empty when not (or when there is no boundary).
std::string probe_split_eagain(int fd, dev_t rdev, uint32_t lbs, uint64_t bytes) {
    audit::KernelTables tables;
    auto t = tables.table(audit::DevT{major(rdev), minor(rdev)});
    if (!t.ok() || !t.value || t.value->targets.size() < 2) return {};
    const uint64_t boundary = t.value->targets[1].start * 512;   // bytes
    const uint64_t span = 1u << 20;
    if (boundary % lbs || bytes < span) return {};
    // All but one block below the boundary: that piece is larger than the
    // device's transfer limit (QEMU: 512 KiB), the case that fails.
    if (boundary < span) return {};
    uint64_t off = boundary - span + lbs;
    off -= off % lbs;
    if (off + span > bytes) off = (bytes - span) / lbs * lbs;
    void* buf = nullptr;
    if (posix_memalign(&buf, 4096, span) != 0) return {};
    struct io_uring ring;
    std::string why;
    if (io_uring_queue_init(2, &ring, 0) == 0) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        io_uring_prep_read(sqe, fd, buf, span, off);
        io_uring_cqe* cqe = nullptr;
        if (io_uring_submit(&ring) == 1 && io_uring_wait_cqe(&ring, &cqe) == 0) {
            if (cqe->res == -EAGAIN)
                why = "I/O issued async (IOSQE_ASYNC): kernel " + kernel_release() +
                      " returns EAGAIN for a NOWAIT I/O that dm splits at a target boundary (probed at byte " +
                      std::to_string(boundary) + ")";
            io_uring_cqe_seen(&ring, cqe);
        }
        io_uring_queue_exit(&ring);
    }
    free(buf);
    return why;
}

}  // namespace

int probe_uring_pi() {
    static int cached = -1;
    if (cached >= 0) return cached;
    struct io_uring ring;
    struct io_uring_params p {};
    int ret = io_uring_queue_init_params(2, &ring, &p);
    if (ret < 0) return cached = -ret;
    io_uring_queue_exit(&ring);
    return cached = (p.features & uapi::IORING_FEAT_RW_ATTR) ? 0 : EOPNOTSUPP;
}

namespace {

// The format in effect: what discovery found, or pi_format when given (which
// must fit the device). *source says which.
Result<Format> format_in_effect(const std::string& path, uint32_t lbs, const Integrity& in, const std::string& pi_format,
                                std::string* source) {
    Result<Format> r;
    r.value = in.fmt;
    *source = in.source;
    if (pi_format.empty()) return r;
    auto pf = parse_format(pi_format);
    if (!pf.ok()) {
        r.error = {pf.error.err, path + ": pi_format=" + pi_format + ": " + pf.error.msg};
    } else if (pf.value.data_size != lbs || pf.value.layout != Layout::sep) {
        r.error = {EINVAL, path + ": pi_format=" + pi_format + " does not fit a block device with " +
                               std::to_string(lbs) + "-byte logical blocks (separate metadata only); use pi_format=" +
                               format_to_short(in.fmt)};
    } else if (!in.present && (pf.value.ms || pf.value.pi_type)) {
        r.error = {ENODEV, path + ": pi_format=" + pi_format + " names metadata, but the device has no " +
                               "integrity profile (" + in.source + "), so nothing would carry or check PI; " +
                               "use a PI namespace (or a dm-linear/striped stack over one), or drop pi_format " +
                               "to run without PI"};
    } else {
        r.value = pf.value;
        *source = "pi_format";
    }
    return r;
}

// Kernel auto-PI or none: the engine moves data only, no metadata crosses the ring.
Geometry data_only_geometry(const Integrity& in, const Format& fmt, bool has_pi, uint32_t lbs, uint64_t nblocks) {
    Geometry g;
    g.fmt = in.present ? fmt : Format{lbs, 0, 0, Guard::g16, PiLoc::last, Layout::sep};
    g.pract = has_pi;
    g.xfer_ms = 0;
    g.stride = lbs;
    g.md_stride = 0;
    g.nblocks = nblocks;
    return g;
}

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    for (size_t i = 0; i <= s.size();) {
        size_t j = s.find(',', i);
        if (j == std::string::npos) j = s.size();
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

}  // namespace

Result<std::unique_ptr<Backend>> BlockBackend::open(const std::string& path, const EngineOptions& o) {
    Result<std::unique_ptr<Backend>> r;
    auto fail = [&](const Error& e) {
        r.error = e;
        return std::move(r);
    };
    std::unique_ptr<BlockBackend> b(new BlockBackend);
    b->path_ = path;
    if (Error e = b->reopen()) return fail(e);
    struct stat st;
    uint64_t bytes = 0;
    int lbs = 0;
    if (fstat(b->fd_, &st) != 0 || ioctl(b->fd_, BLKGETSIZE64, &bytes) != 0 || ioctl(b->fd_, BLKSSZGET, &lbs) != 0)
        return fail({errno, path + ": cannot size the block device: " + strerror(errno)});
    if (lbs <= 0) return fail({EINVAL, path + ": logical block size " + std::to_string(lbs)});
    if (auto mode = parse_pi_mode(o.pi_mode); !mode.ok()) return fail(mode.error);

    // Probes: the device's integrity profile, the format, the kernel's io_uring PI.
    auto in = discover(b->fd_, st.st_rdev, uint32_t(lbs), path);
    if (!in.ok()) return fail(in.error);
    BlockPiFacts facts;
    auto fmt = format_in_effect(path, uint32_t(lbs), in.value, o.pi_format, &facts.format_source);
    if (!fmt.ok()) return fail(fmt.error);
    facts.path = path;
    facts.kernel = kernel_release();
    facts.uring_pi_errno = probe_uring_pi();
    facts.integrity = in.value.present;
    facts.integrity_source = in.value.source;
    facts.pi_type = fmt.value.pi_type;

    // Policy.
    auto choice = choose_block_pi(o, facts);
    if (!choice.ok()) return fail(choice.error);
    b->uring_pi_ = choice.value.path == BlockPi::uring_pi;
    b->why_ = choice.value.why;

    const uint64_t nblocks = bytes / uint32_t(lbs);
    if (b->uring_pi_) {
        // The io_uring PI attribute carries an app tag and no mask: the kernel has the
        // device compare all 16 bits. fio's io_uring engine refuses any other mask.
        if ((o.pi_chk & CHK_APP) && o.apptag_mask != 0xffff)
            return fail({EINVAL, path + ": apptag_mask=" + hex16(o.apptag_mask) + " with pi_chk=" +
                                     pi_chk_to_string(o.pi_chk) +
                                     ": io_uring PI attributes carry no app tag mask (the device checks all 16 bits); "
                                     "use apptag_mask=0xffff, or passthrough on the namespace's /dev/ngXnY"});
        b->geo_ = make_geometry(fmt.value, false, nblocks);
        if (o.pi_chk & CHK_GUARD) b->chk_flags_ |= uapi::IO_INTEGRITY_CHK_GUARD;
        if (o.pi_chk & CHK_REF) b->chk_flags_ |= uapi::IO_INTEGRITY_CHK_REFTAG;
        if (o.pi_chk & CHK_APP) b->chk_flags_ |= uapi::IO_INTEGRITY_CHK_APPTAG;
        b->apptag_ = uint16_t(o.apptag);
        b->reftag_base_ = o.pi_reftag;
        b->geo_.seedable = true;
        if (o.pi_seed_set) b->geo_.ref_offset = o.pi_seed;
    } else {
        b->geo_ = data_only_geometry(in.value, fmt.value, facts.has_pi(), uint32_t(lbs), nblocks);
    }

    if (!o.pi_audit.empty()) {
        audit::AuditOptions ao;
        ao.checks = CHK_GUARD | CHK_REF;
        // The app tag is ours only on the uring-pi path, and checked only when the
        // job asks for it (pi_chk names APPTAG, or pi_host_chk does), as fio would.
        if (b->uring_pi_ && ((o.pi_host_chk_set ? o.pi_host_chk : o.pi_chk) & CHK_APP)) {
            ao.checks |= CHK_APP;
            ao.app_tag = uint16_t(o.apptag);
            ao.app_mask = uint16_t(o.apptag_mask);
        }
        audit::FormatFn fmt_of = [](const std::string& ng, int fd) {
            Result<Format> fr;
            auto id = nvme::identify(fd, ng);
            if (!id.ok()) fr.error = id.error;
            else fr.value = id.value.fmt;
            return fr;
        };
        auto a = audit::Auditor::open(path, split_list(o.pi_audit), fmt_of, ao);
        if (!a.ok()) return fail(a.error);
        b->auditor_ = std::move(a.value);
        b->written_store_.assign(b->geo_.nblocks / 64 + 1, 0);
        b->written_ = b->written_store_.data();
        b->why_ += "; " + b->auditor_->describe();
    }
    b->sysfs_ = "/sys/dev/block/" + std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
    if (!b->fingerprint(b->print_, sizeof b->print_, nullptr))
        return fail({errno, path + ": cannot read the device's geometry back: " + strerror(errno)});
    const std::string eagain = probe_split_eagain(b->fd_, st.st_rdev, uint32_t(lbs), bytes);
    if (!eagain.empty()) {
        b->async_ = true;
        b->why_ += "; " + eagain;
    }
    r.value = std::move(b);
    return r;
}

BlockBackend::~BlockBackend() { close(); }

namespace {

// Up to len-1 bytes of a sysfs file, trailing newline dropped; no allocation.
void read_sysfs(const std::string& dir, const char* leaf, char* out, size_t len) noexcept {
    char p[128];
    out[0] = 0;
    if (snprintf(p, sizeof p, "%s/%s", dir.c_str(), leaf) >= int(sizeof p)) return;
    const int fd = ::open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    const ssize_t n = ::read(fd, out, len - 1);
    ::close(fd);
    out[n > 0 ? n : 0] = 0;
    for (ssize_t i = n - 1; i >= 0 && (out[i] == '\n' || out[i] == ' '); --i) out[i] = 0;
}

}  // namespace

bool BlockBackend::fingerprint(char* out, size_t len, unsigned long long* bytes_out) const noexcept {
    // Capacity in 512-byte sectors (BLKGETSIZE): BLKGETSIZE64 is the open-time
    // probe, which engine_fio_host counts to show the probe runs once per file.
    unsigned long sectors = 0;
    int lbs = 0;
    if (fd_ < 0 || ioctl(fd_, BLKGETSIZE, &sectors) != 0 || ioctl(fd_, BLKSSZGET, &lbs) != 0) return false;
    const unsigned long long bytes = (unsigned long long)sectors * 512;
    if (bytes_out) *bytes_out = bytes;
    char integ[128];
    uapi::logical_block_metadata_cap cap{};
    if (g_lbmd == 1 && ioctl(fd_, uapi::FS_IOC_GETLBMD_CAP, &cap) == 0) {
        snprintf(integ, sizeof integ, "metadata %u bytes per %u, PI %u bytes at %u, guard type %u, flags 0x%x",
                 cap.lbmd_size, cap.lbmd_interval, cap.lbmd_pi_size, cap.lbmd_pi_offset, cap.lbmd_guard_tag_type,
                 cap.lbmd_flags);
    } else {
        char f[32], t[16];
        read_sysfs(sysfs_, "integrity/format", f, sizeof f);
        read_sysfs(sysfs_, "integrity/tag_size", t, sizeof t);
        snprintf(integ, sizeof integ, "integrity %s, tag size %s", f[0] ? f : "none", t[0] ? t : "0");
    }
    snprintf(out, len, "%d-byte blocks, %llu bytes, %s", lbs, bytes, integ);
    return true;
}

int BlockBackend::recheck(char* why, size_t len) noexcept {
    if (fd_ < 0 || !print_[0]) return 0;
    char now[sizeof print_];
    unsigned long long bytes = 0;
    if (!fingerprint(now, sizeof now, &bytes)) {
        const int e = errno ? errno : EIO;
        if (e == EINTR || e == EAGAIN) return 0;
        snprintf(why, len, "%s: the device no longer answers for its geometry (%s); it went away under the job",
                 path_.c_str(), strerror(e));
        return EMEDIUMTYPE;
    }
    if (strcmp(now, print_) == 0) return 0;
    if (bytes == 0) {
        // The kernel sets a removed disk's capacity (or one in a format it cannot use) to 0.
        snprintf(why, len, "%s: the device went away under the job (capacity now 0: removed, or reformatted to a "
                 "format the kernel cannot use; was %s)", path_.c_str(), print_);
        return EMEDIUMTYPE;
    }
    snprintf(why, len,
             "%s: device format changed under the job: %s when probed, now %s; the engine's I/O no longer matches it, "
             "restart the job on the new format",
             path_.c_str(), print_, now);
    return EMEDIUMTYPE;
}

std::string BlockBackend::describe() const {
    return "block " + path_ + ", " + format_to_short(geo_.fmt) + ", " + std::to_string(geo_.nblocks) + " blocks, " + why_;
}

Error BlockBackend::reopen() {
    if (fd_ >= 0) return {};
    fd_ = ::open(path_.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
    if (fd_ < 0) return {errno, path_ + ": open O_DIRECT: " + strerror(errno)};
    return {};
}

void BlockBackend::close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

int BlockBackend::prep(io_uring_sqe* sqe, const Io& io) const noexcept {
    const int fd = io.file_index >= 0 ? io.file_index : fd_;
    const uint64_t off = io.lba * geo_.stride;
    switch (io.dir) {
        case Dir::flush: io_uring_prep_fsync(sqe, fd, 0); break;
        case Dir::read:
            if (io.buf_index >= 0) io_uring_prep_read_fixed(sqe, fd, io.data, io.data_len, off, io.buf_index);
            else io_uring_prep_read(sqe, fd, io.data, io.data_len, off);
            break;
        case Dir::write:
            if (io.buf_index >= 0) io_uring_prep_write_fixed(sqe, fd, io.data, io.data_len, off, io.buf_index);
            else io_uring_prep_write(sqe, fd, io.data, io.data_len, off);
            break;
        default: return -EINVAL;
    }
    // The helpers clear sqe->flags: set ours after them.
    if (io.file_index >= 0) sqe->flags |= IOSQE_FIXED_FILE;
    if (async_) sqe->flags |= IOSQE_ASYNC;
    if (io.dir == Dir::flush) return 0;
    if (uring_pi_) {
        // The attribute lives in the I/O's scratch space until the kernel
        // copies it at submission.
        static_assert(sizeof(io.scratch) >= sizeof(uapi::io_uring_attr_pi), "Io::scratch too small");
        auto* pi = reinterpret_cast<uapi::io_uring_attr_pi*>(io.scratch);
        pi->flags = chk_flags_;
        pi->app_tag = apptag_;
        pi->len = io.md_len;
        pi->addr = reinterpret_cast<uintptr_t>(io.md);
        pi->seed = ref_seed(geo_.fmt, io.lba, reftag_base_, geo_.ref_offset);
        pi->rsvd = 0;
        uapi::sqe_set_pi_attr(sqe, pi);
    }
    return 0;
}

// Plain unless the I/O carries a PI attribute (uring-pi) or its completion
// records the blocks written (pi_audit).
int BlockBackend::plain_rw_flags() const noexcept {
    if (uring_pi_ || written_) return -1;
    return async_ ? IOSQE_ASYNC : 0;
}

Completion BlockBackend::complete(const io_uring_cqe* cqe, const Io& io) const noexcept {
    Completion c;
    if (cqe->res < 0) {
        c.err = -cqe->res;   // EILSEQ: the kernel's (or device's) PI check failed
    } else if (uint32_t(cqe->res) != io.data_len && io.dir != Dir::flush) {
        c.err = EIO;         // short transfer at the end of the device
    } else if (written_ && io.dir == Dir::write) {
        for (uint64_t b = io.lba, e = io.lba + io.nlb; b < e; ++b) written_[b >> 6] |= 1ull << (b & 63);
    }
    return c;
}

uint64_t BlockBackend::finish_audit(void (*log)(const char*)) noexcept {
    if (!auditor_) return 0;
    char line[512];
    auto say = [&](const std::string& s) {
        if (log) log(s.c_str());
    };
    uint64_t bad = 0, checked = 0;
    audit::AuditRecord rec[16];
    uint32_t shown = 0;
    const uint64_t n = geo_.nblocks, bs = geo_.stride;
    audit::AuditStats total;
    for (uint64_t b = 0; b < n;) {
        if (!(written_[b >> 6] >> (b & 63) & 1)) {
            ++b;
            continue;
        }
        uint64_t e = b;
        while (e < n && (written_[e >> 6] >> (e & 63) & 1) && e - b < 4096) ++e;
        audit::AuditStats st;
        Error err = auditor_->check(b * bs, (e - b) * bs, &st, rec, shown < 16 ? 16 - shown : 0);
        if (err) {
            say("pifio: " + err.msg);
            // The state outlives the close: what was checked (or failed) is not checked again.
            std::fill(written_store_.begin(), written_store_.end(), 0);
            return bad + (e - b);
        }
        for (uint32_t i = 0; i < st.recorded; ++i) say(auditor_->format_record(rec[i]));
        shown += st.recorded;
        total.add(st);
        bad += st.bad_blocks;
        checked += st.blocks;
        b = e;
    }
    // fio closes the file after the write phase and again after a verify
    // read phase: a close with nothing written since the last audit says nothing.
    if (checked == 0 && bad == 0) return 0;
    snprintf(line, sizeof line,
             "pifio: pi_audit %s: %" PRIu64 " blocks written and checked, %" PRIu64 " bad (guard %" PRIu64
             ", apptag %" PRIu64 ", reftag %" PRIu64 ", unwritten %" PRIu64 ")",
             path_.c_str(), checked, bad, total.count[0], total.count[1], total.count[2], total.unwritten);
    say(line);
    std::fill(written_store_.begin(), written_store_.end(), 0);
    return bad;
}

}  // namespace pifio
