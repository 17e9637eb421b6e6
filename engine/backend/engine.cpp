// Engine set-up and teardown (see engine.hpp for the other parts).
#include "engine.hpp"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ring.hpp"

namespace pifio {
namespace {

constexpr uint32_t kRecordLimit = 1u << 16;  // mismatches / injected LBAs kept for pi_report
// Failed I/Os kept for pi_report. Smaller than kRecordLimit: the reserve is
// untouched memory until an I/O fails, and a reserve holding a whole 2 MiB
// aligned range gets collapsed into a transparent huge page by khugepaged at
// some random moment of the job (+2 MiB RSS; engine_lab_soak saw exactly that).
constexpr uint32_t kErrorRecordLimit = 4096;

// A record reserve is untouched until something is recorded; keep khugepaged
// from turning it into resident huge pages behind the job's back (see above).
template <class T>
void reserve_cold(std::vector<T>& v, size_t n) {
    v.reserve(n);
    const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
    const uintptr_t lo = (uintptr_t(v.data()) + page - 1) & ~(page - 1);
    const uintptr_t hi = (uintptr_t(v.data() + v.capacity())) & ~(page - 1);
    if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_NOHUGEPAGE);
}

// Does the SQ array decide which SQE the kernel reads, with this liburing?
// (liburing before 2.2 rewrote the array at every submit.) One NOP in the SQE
// after the tail's, named by the array entry at the tail; the CQE says which
// the kernel took. Ends with the ring as it was, one NOP further. Returns 1
// yes, 0 no, -errno when the ring cannot submit at all.
int sq_array_decides(struct io_uring* ring, unsigned sqe_shift) {
    io_uring_sq& sq = ring->sq;
    if (sq.ring_entries < 2) return 1;   // one SQE: slot and position coincide
    const unsigned a = sq.sqe_tail & sq.ring_mask, b = (a + 1) & sq.ring_mask;
    io_uring_sqe* own = &sq.sqes[size_t(a) << sqe_shift];
    io_uring_sqe* other = &sq.sqes[size_t(b) << sqe_shift];
    io_uring_prep_nop(own);
    own->user_data = 2;
    io_uring_prep_nop(other);
    other->user_data = 1;
    sq.array[a] = b;
    sq.sqe_tail++;
    const int ret = io_uring_submit_and_wait(ring, 1);
    sq.array[a] = a;   // as liburing mapped it at set-up
    if (ret < 0) return ret;
    struct io_uring_cqe* cqe = nullptr;
    if (io_uring_wait_cqe(ring, &cqe) != 0 || !cqe) return -EIO;
    const bool took_other = cqe->user_data == 1;
    io_uring_cqe_seen(ring, cqe);
    return took_other ? 1 : 0;
}

uint64_t mono_ns() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

JobShape shape_of(const pifio_job& j) {
    JobShape s;
    for (int d = 0; d < 2; d++) {
        s.min_bs[d] = j.min_bs[d];
        s.max_bs[d] = j.max_bs[d];
    }
    s.reads = j.reads;
    s.writes = j.writes;
    s.trims = j.trims;
    s.fio_verify = j.fio_verify;
    return s;
}

}  // namespace

Result<FileState*> probe_file(const EngineOptions& o, const std::string& path) {
    Result<FileState*> r;
    auto be = open_backend(path, o);
    if (!be.ok()) {
        r.error = be.error;
        return r;
    }
    auto f = std::make_unique<FileState>();
    f->be = std::move(be.value);
    f->be->close();
    f->geo = &f->be->geometry();
    // queue() turns byte offsets into blocks for every I/O: a shift, not a
    // 64-bit division, on the power-of-two strides (no metadata in the buffer).
    if (f->geo->stride && (f->geo->stride & (f->geo->stride - 1)) == 0) f->stride_shift = __builtin_ctz(f->geo->stride);
    const Format& fmt = f->geo->fmt;
    auto gen = make_context(fmt, uint16_t(o.apptag), uint16_t(o.apptag_mask), CHK_ALL);
    auto chk = make_context(fmt, uint16_t(o.apptag), uint16_t(o.apptag_mask), host_checks(o));
    if (!gen.ok() || !chk.ok()) {
        r.error = gen.ok() ? chk.error : gen.error;
        r.error.msg = path + ": " + r.error.msg;
        return r;
    }
    f->gen = gen.value;
    f->chk = chk.value;
    r.value = f.release();
    return r;
}

Result<std::unique_ptr<Engine>> Engine::create(const EngineOptions& o, const pifio_job& j, FileState* const* files,
                                               unsigned nfiles) {
    Result<std::unique_ptr<Engine>> r;
    std::unique_ptr<Engine> e(new Engine);
    e->o_ = o;
    e->o_.pi_report = report_path(o.pi_report, j.subjob, j.numjobs);
    e->shape_ = shape_of(j);
    e->job_name_ = j.name ? j.name : "";
    e->log_ = j.log;
    e->info_ = j.info ? j.info : j.log;
    e->depth_ = j.iodepth ? j.iodepth : 1;
    if (o.pi_verify_crc_only) {
        e->crc_only_ = e->diag_ = true;
        e->log("pifio: pi_verify_crc_only=1: reads run the guard CRC only, NO PI is checked (a timing reference)");
    }
    if (o.pi_verify_time > 2) {
        r.error = {EINVAL, "pi_verify_time=" + std::to_string(o.pi_verify_time) +
                               ": want 0 (off), 1 (time each read's check) or 2 (every other read the raw CRC instead, timed apart)"};
        return r;
    }
    if (o.pi_verify_time == 2) {
        e->paired_ = true;
        e->log("pifio: pi_verify_time=2: every other read runs the raw guard CRC instead of the checks (NOT checked), timed apart");
    }
    if (o.pi_verify_time) {
        e->time_verify_ = e->diag_ = true;
        e->ns0_ = mono_ns();
        e->ticks0_ = verify_ticks();
        // The counter's rate, roughly (1 ms), for the preemption bound only;
        // finish() converts with the rate over the whole job.
        uint64_t ns = e->ns0_;
        while (ns - e->ns0_ < 1000000) ns = mono_ns();
        const uint64_t per_ns = std::max<uint64_t>(1, (verify_ticks() - e->ticks0_ + (ns - e->ns0_) / 2) / (ns - e->ns0_));
        e->ticks_per_byte_ = per_ns;
        e->limit_ticks_ = 20000 * per_ns;
        uint64_t least = UINT64_MAX;
        for (int i = 0; i < 256; i++) {
            const uint64_t a = verify_ticks();
            least = std::min(least, verify_ticks() - a);
        }
        e->timer_ticks_ = least;
    }

    // The report is written at the end; find out now that it cannot be,
    // before the job writes anything.
    if (!e->o_.pi_report.empty()) {
        const std::string& p = e->o_.pi_report;
        const size_t slash = p.rfind('/');
        const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : p.substr(0, slash);
        if (access(dir.c_str(), W_OK | X_OK) != 0) {
            r.error = {errno, "pi_report=" + p + ": cannot write in " + dir + " (" + strerror(errno) +
                                  "); give a path in an existing, writable directory"};
            return r;
        }
    }

    // Geometry of every target, checked before anything is submitted.
    unsigned flags = 0;
    e->reports_.resize(nfiles);
    e->files_.reserve(nfiles);   // adopt() of these cannot throw
    for (unsigned i = 0; i < nfiles; i++) {
        FileState* f = files[i];
        uint32_t md = 0;
        if (Error err = check_geometry(f->be->path(), f->be->geometry(), o, e->shape_, &md)) {
            r.error = err;
            return r;
        }
        e->md_per_io_ = std::max(e->md_per_io_, md);
        flags |= f->be->ring_flags();
        const Format& fmt = f->be->geometry().fmt;
        // Remarks, not errors: fio's info log (its "note:" lines), never stderr, where
        // fio's own test scripts count any output as a failure.
        void (*info)(const char*) = j.info ? j.info : j.log;
        if (i == 0 && info)
            for (const std::string& n : o.notes) info(n.c_str());
        if ((fmt.pi_type == 1 || fmt.pi_type == 2) && o.apptag == 0xffff && j.writes && info)
            info(("pifio: " + f->be->path() + ": apptag=0xffff: blocks written with it are escaped (type " +
                  std::to_string(fmt.pi_type) + " skips every check of a block whose app tag is 0xffff)")
                     .c_str());
        if (e->time_verify_) e->reports_[i].verify_hist.assign(kVerifyHistBuckets, 0);
        if (e->paired_) e->reports_[i].crc_hist.assign(kVerifyHistBuckets, 0);
        e->reports_[i].path = f->be->path();
        e->reports_[i].desc = f->be->describe();
        if (o.hipri && info) {
            const std::string note = hipri_note(f->be->path());
            if (!note.empty()) info(note.c_str());
        }
    }

    if (Error err = ring_setup(&e->ring_, e->depth_, flags, o, &e->ring_flags_)) {
        r.error = err;
        return r;
    }
    e->ring_ok_ = true;

    if (o.registerfiles) {
        std::vector<int> fds(nfiles ? nfiles : 1, -1);
        int ret = io_uring_register_files(&e->ring_, fds.data(), unsigned(fds.size()));
        if (ret < 0) {
            r.error = {-ret, std::string("registerfiles: io_uring_register_files: ") + strerror(-ret) +
                                 "; drop registerfiles"};
            return r;
        }
        e->files_registered_ = true;
    }

    // Per-slot metadata buffers, page aligned, touched now (not on the hot path).
    e->slots_.resize(e->depth_);
    e->cqe_shift_ = (e->ring_flags_ & IORING_SETUP_CQE32) ? 1 : 0;
    e->sqe_shift_ = (e->ring_flags_ & IORING_SETUP_SQE128) ? 1 : 0;
    // A NOP cannot complete on an IOPOLL ring of older kernels: keep
    // liburing's SQE order there.
    if (!(e->ring_flags_ & IORING_SETUP_IOPOLL)) {
        const int by_slot = sq_array_decides(&e->ring_, e->sqe_shift_);
        if (by_slot < 0) {
            r.error = {-by_slot, std::string("io_uring: a NOP does not complete (") + strerror(-by_slot) +
                                     "); the kernel's io_uring is unusable here"};
            return r;
        }
        e->by_slot_ = by_slot == 1;
    }
    if (e->md_per_io_) {
        // pi_md_offset places each buffer that many bytes past its 64-byte
        // aligned slot start (unaligned metadata buffers: the kernel bounces them).
        const size_t per = (size_t(e->md_per_io_) + o.pi_md_offset + 63) & ~size_t(63);
        e->md_pool_len_ = (per * e->depth_ + 4095) & ~size_t(4095);
        void* m = mmap(nullptr, e->md_pool_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                       -1, 0);
        if (m == MAP_FAILED) {
            r.error = {errno, std::string("metadata buffers (") + std::to_string(e->md_pool_len_) +
                                  " bytes): " + strerror(errno)};
            return r;
        }
        e->md_pool_ = static_cast<uint8_t*>(m);
        for (unsigned i = 0; i < e->depth_; i++) e->slots_[i].io.md = e->md_pool_ + per * i + o.pi_md_offset;
    }
    if (!o.pi_report.empty()) {
        reserve_cold(e->mm_, kRecordLimit);
        reserve_cold(e->errs_, kErrorRecordLimit);
        if (!o.inject.empty()) reserve_cold(e->inj_, kRecordLimit);
    }
    r.value = std::move(e);
    return r;
}

Engine::~Engine() {
    if (ring_ok_) io_uring_queue_exit(&ring_);
    if (md_pool_) munmap(md_pool_, md_pool_len_);
}

void Engine::adopt(FileState* f) {
    if (!f) return;
    for (const auto& owned : files_)
        if (owned.get() == f) return;
    files_.emplace_back(f);
}

Error Engine::open(FileState& f, unsigned fileno, int* fd) {
    if (fileno >= reports_.size()) return {EINVAL, f.be->path() + ": file number beyond the job's files"};
    uint32_t md = 0;
    if (Error e = check_geometry(f.be->path(), f.be->geometry(), o_, shape_, &md)) return e;
    if (md > md_per_io_)
        return {EINVAL, f.be->path() + ": needs " + std::to_string(md) + " metadata bytes per I/O, engine has " +
                            std::to_string(md_per_io_) + "; set md_per_io_size=" + std::to_string(md)};
    if (Error e = f.be->reopen()) return e;
    f.fileno = fileno;
    f.rep = &reports_[fileno];
    // The namespace may have been reformatted since the probe (fio runs
    // exec_prerun, other jobs... between its init and the first open).
    if (f.changed || recheck(f, true)) {
        Error e{EMEDIUMTYPE, std::string(f.rep->changed) + "; refused at open, nothing was written"};
        f.be->close();
        return e;
    }
    f.next_check_ns = 0;   // and again at the first I/O
    f.check_countdown = 0;
    if (files_registered_) {
        int nfd = f.be->fd();
        int ret = io_uring_register_files_update(&ring_, fileno, &nfd, 1);
        if (ret < 0) return {-ret, f.be->path() + ": registerfiles: " + strerror(-ret) + "; drop registerfiles"};
        f.reg_index = int(fileno);
    }
    const int plain_flags = f.be->plain_rw_flags();
    const bool plain = plain_flags >= 0;
    f.ok_or[0] = plain && !(f.geo->host_pi() && f.chk.checks) ? 0 : -1;
    f.ok_or[1] = plain ? 0 : -1;
    f.plain_dirs = 0;
    // The short queue() path fills the slots' own SQEs (by_slot_); without
    // them, the backend's prep() does it.
    if (plain && by_slot_ && f.stride_shift >= 0) {
        static_assert(PIFIO_READ == 0 && PIFIO_WRITE == 1);
        f.plain_dirs = 1u << PIFIO_READ;
        if (!(f.geo->host_pi() && !f.geo->pract)) f.plain_dirs |= 1u << PIFIO_WRITE;
    }
    f.sqe_flags = uint8_t(plain ? plain_flags : 0) | (f.reg_index >= 0 ? IOSQE_FIXED_FILE : 0);
    f.sqe_fd = f.reg_index >= 0 ? f.reg_index : f.be->fd();
    *fd = f.be->fd();
    return {};
}

void Engine::close(FileState& f) {
    // A reformat after the last I/O still makes the job fail (finish()).
    if (f.rep && !f.changed && f.be->fd() >= 0) recheck(f);
    if (f.rep) f.rep->audit_bad += f.be->finish_audit(log_);
    if (files_registered_ && f.reg_index >= 0) {
        int nfd = -1;
        io_uring_register_files_update(&ring_, unsigned(f.reg_index), &nfd, 1);
        f.reg_index = -1;
    }
    f.plain_dirs = 0;   // no SQE with the closed fd (the number may be reused)
    f.sqe_fd = -1;
    f.be->close();
}

Error Engine::register_buffers(const struct iovec* iov, unsigned n) {
    if (!o_.fixedbufs) return {};
    int ret = io_uring_register_buffers(&ring_, iov, n);
    if (ret < 0)
        return {-ret, std::string("fixedbufs: io_uring_register_buffers: ") + strerror(-ret) +
                          (ret == -ENOMEM ? "; raise RLIMIT_MEMLOCK (ulimit -l) or drop fixedbufs" : "; drop fixedbufs")};
    bufs_registered_ = true;
    for (Slot& s : slots_) s.sqe_plain = false;   // their template gets buf_index
    rw_op_[0] = IORING_OP_READ_FIXED;
    rw_op_[1] = IORING_OP_WRITE_FIXED;
    return {};
}

int Engine::finish(Error* e) {
    if (time_verify_) {
        // Ticks per ns over the job (invariant TSC); 1 where ticks are ns.
        const uint64_t dt = verify_ticks() - ticks0_, dns = mono_ns() - ns0_;
        const double per_ns = dns ? double(dt) / double(dns) : 1.0;
        // The histograms and sums hold whole windows; the least empty window
        // seen over the job comes off here.
        const double empty = double(timer_ticks_);
        const auto median = [&](const std::vector<uint32_t>& h, uint64_t n) {
            uint64_t seen = 0;
            for (unsigned i = 0; i < h.size() && n; i++)
                if ((seen += h[i]) * 2 >= n) return std::max(0.0, verify_hist_mid(i) - empty) / (per_ns > 0 ? per_ns : 1);
            return 0.0;
        };
        for (Report& r : reports_) {
            r.verify_ticks -= std::min(r.verify_ticks, r.verify_timed * timer_ticks_);
            r.crc_ticks -= std::min(r.crc_ticks, r.crc_timed * timer_ticks_);
            r.verify_ns = per_ns > 0 ? double(r.verify_ticks) / per_ns : 0;
            r.verify_median_ns = median(r.verify_hist, r.verify_timed);
            r.verify_empty_ns = per_ns > 0 ? double(timer_ticks_) / per_ns : 0;
            r.crc_ns = per_ns > 0 ? double(r.crc_ticks) / per_ns : 0;
            r.crc_median_ns = median(r.crc_hist, r.crc_timed);
        }
    }
    const uint64_t bad = pi_errors(reports_);
    std::vector<uint8_t> asked(reports_.size(), 0);
    Teardown td;
    td.inflight = inflight_;
    for (const auto& f : files_) {
        if (f->be->fd() >= 0) td.open_fds++;
        if (f->rep && f->fileno < asked.size())
            asked[f->fileno] = uint8_t((host_checks(o_) && f->be->geometry().host_pi() ? kAskedHost : 0) |
                                       (o_.pi_chk && f->be->geometry().fmt.pi_type ? kAskedDevice : 0));
    }
    const CheckVerdict v = check_verdict(reports_, asked, shape_.writes, job_name_);
    if ((v.note || v.unchecked) && info_) info_(v.msg.c_str());
    if (td.inflight || td.open_fds)
        log("pifio: %s: teardown: %" PRIu64 " I/O(s) still in flight, %" PRIu64 " target fd(s) open", job_name_.c_str(),
            td.inflight, td.open_fds);

    // The verdict: every reason this job fails, one line each; the errno of the first.
    int ret = 0;
    std::string why;
    auto add = [&](int err, const std::string& line) {
        if (!ret) ret = err;
        why += (why.empty() ? "" : "\n") + line;
    };
    for (const Report& r : reports_)
        if (r.changed[0]) add(EMEDIUMTYPE, std::string("pifio: ") + r.changed);
    if (bad) add(EILSEQ, "pifio: " + job_name_ + ": protection information errors were found");
    if (v.fail) add(ENODATA, v.msg);

    if (!o_.pi_report.empty()) {
        ReportInput in;
        in.job = job_name_;
        in.opts = &o_;
        in.files = &reports_;
        in.mismatches = &mm_;
        in.mismatches_dropped = mm_dropped_;
        in.injected = &inj_;
        in.injected_dropped = inj_dropped_;
        in.io_errors = &errs_;
        in.io_errors_dropped = errs_dropped_;
        in.teardown = td;
        in.verdict = &v;
        if (Error err = write_report(o_.pi_report, report_json(in))) {
            *e = err;
            return -e->err;
        }
    }
    if (ret) *e = Error{ret, why};
    return ret;
}

}  // namespace pifio
