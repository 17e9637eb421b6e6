// The hot path: queue, commit, reap, verify, accounting (see engine.hpp).
#include <cerrno>
#include <cstddef>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <time.h>

#include "../nvme/cmd.hpp"
#include "engine.hpp"

namespace pifio {
namespace {

constexpr uint32_t kLogLimit = 32;      // mismatch/status lines per job
constexpr uint32_t kVerifyBatch = 64;   // mismatch records per verify() call
constexpr uint64_t kRecheckNs = 1000000000ull;   // format re-check period while I/O flows
// The clock is read once per this many queued I/Os, not per I/O (bench_ring_callgrind
// counts the difference): the period is 1 s or this many I/Os, whichever is longer.
constexpr uint32_t kRecheckEvery = 64;

// Slot::ok_count points at Report::reads or ::writes; the I/O counters sit
// as far behind them, in the same order.
static_assert(offsetof(Report, writes) == offsetof(Report, reads) + sizeof(uint64_t) &&
              offsetof(Report, write_ios) == offsetof(Report, read_ios) + sizeof(uint64_t));
constexpr ptrdiff_t kIosOff = (offsetof(Report, read_ios) - offsetof(Report, reads)) / sizeof(uint64_t);

uint64_t coarse_now_ns() noexcept {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

const char* errno_name(int e) noexcept {
    const char* n = strerrorname_np(e);
    return n ? n : "?";
}

}  // namespace

bool Engine::recheck(FileState& f, bool quiet) noexcept {
    char why[sizeof f.rep->changed];
    why[0] = 0;
    const int err = f.be->recheck(why, sizeof why);
    f.next_check_ns = coarse_now_ns() + kRecheckNs;
    if (!err) return false;
    f.changed = true;
    if (f.rep) snprintf(f.rep->changed, sizeof f.rep->changed, "%s", why);
    // Always logged (once per file), whatever the error-line budget.
    // Names the error the job will end with (which of it and a failing
    // in-flight I/O's error fio reports first depends on timing).
    if (!quiet) log("pifio: %s; no further I/O is issued to it (later I/O fails with EMEDIUMTYPE)", why);
    return true;
}

void Engine::log(const char* fmt, ...) noexcept {
    if (!log_) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_(line);
}

inline io_uring_sqe* Engine::sqe_of(unsigned slot) noexcept {
    if (!by_slot_) return io_uring_get_sqe(&ring_);
    io_uring_sq& sq = ring_.sq;
    const unsigned head = (ring_flags_ & IORING_SETUP_SQPOLL) ? io_uring_smp_load_acquire(sq.khead) : *sq.khead;
    if (sq.sqe_tail - head >= sq.ring_entries) return nullptr;
    return &sq.sqes[size_t(slot) << sqe_shift_];
}

inline void Engine::publish(unsigned slot) noexcept {
    if (!by_slot_) return;   // io_uring_get_sqe() advanced the tail
    io_uring_sq& sq = ring_.sq;
    sq.array[sq.sqe_tail & sq.ring_mask] = slot;
    sq.sqe_tail++;   // the kernel sees it at commit() (liburing writes the tail it reads)
}

// io_uring_get_sqe() only advanced the local tail; the kernel sees nothing
// before commit(). By slot, nothing was taken.
inline void Engine::unget() noexcept {
    if (!by_slot_) ring_.sq.sqe_tail--;
}

__attribute__((noinline)) void Engine::plain_template(io_uring_sqe* sqe, unsigned slot) noexcept {
    memset(static_cast<void*>(sqe), 0, 64);
    sqe->user_data = slot;
    if (bufs_registered_) sqe->buf_index = uint16_t(slot);
    slots_[slot].sqe_plain = true;
}

// The checks queue() makes about once per kRecheckEvery I/Os (and on a
// target whose format changed): out of line, so the common path saves nothing.
__attribute__((noinline)) int Engine::queue_due(FileState& f) noexcept {
    // A target reformatted under the job gets no I/O built for the old format.
    if (f.changed) return -EMEDIUMTYPE;
    f.check_countdown = kRecheckEvery;
    if ((f.next_check_ns == 0 || coarse_now_ns() >= f.next_check_ns) && recheck(f)) return -EMEDIUMTYPE;
    return 0;
}

int Engine::queue(FileState& f, unsigned slot_index, int ddir, uint64_t offset, void* buf, uint64_t len,
                  void* cookie) noexcept {
    if (slot_index >= slots_.size()) return -EINVAL;
    if (__builtin_expect(f.check_countdown == 0 || f.changed, 0))
        if (const int r = queue_due(f)) return r;
    --f.check_countdown;
    if (unsigned(ddir) > PIFIO_WRITE || !(f.plain_dirs >> ddir & 1)) return queue_full(f, slot_index, ddir, offset, buf, len, cookie);

    // A plain read/write (Backend::plain_rw_flags): the engine fills the SQE,
    // no call into the backend. Power-of-two stride (FileState::plain_dirs).
    const unsigned sh = unsigned(f.stride_shift);
    if (((offset | len) & ((uint64_t(1) << sh) - 1)) != 0 || len - 1 >= UINT32_MAX) return -EINVAL;
    // The slot's own SQE (FileState::plain_dirs is 0 unless by_slot_). No
    // SQ-full check: at most iodepth slots are queued or in flight, the SQ
    // has at least that many entries, and an entry is consumed before its
    // slot can complete and be queued again.
    Slot& s = slots_[slot_index];
    struct io_uring_sqe* sqe = &ring_.sq.sqes[size_t(slot_index) << sqe_shift_];
    // The fields that are the same for every plain I/O of the slot, once.
    // Every field of the first 64 bytes is written (what io_uring_prep_rw
    // writes after its memset); with 128-byte SQEs the second half is only
    // read by IORING_OP_URING_CMD, which this is not.
    if (__builtin_expect(!s.sqe_plain, 0)) plain_template(sqe, slot_index);
    const bool wr = ddir == PIFIO_WRITE;
    sqe->opcode = rw_op_[wr];
    sqe->flags = f.sqe_flags;
    sqe->fd = f.sqe_fd;
    sqe->off = offset;
    sqe->addr = reinterpret_cast<uintptr_t>(buf);
    sqe->len = uint32_t(len);
    io_uring_sq& sq = ring_.sq;
    sq.array[sq.sqe_tail & sq.ring_mask] = slot_index;
    sq.sqe_tail++;   // the kernel sees it at commit() (liburing writes the tail it reads)
    // What the completion path reads (a failed I/O's note, a read's verify);
    // md_len, buf_index and file_index are prep()'s, which this I/O skips.
    Io& io = s.io;
    io.dir = wr ? Dir::write : Dir::read;
    io.lba = offset >> sh;
    io.nlb = uint32_t(len >> sh);
    io.data = buf;
    io.data_len = uint32_t(len);
    s.ok_res = int64_t(len) | f.ok_or[wr];
    s.ok_count = &f.rep->reads + wr;   // Report::reads or ::writes
    s.f = &f;
    s.cookie = cookie;
    queued_++;
    inflight_++;
    return 0;
}

// Every I/O the backend preps itself (and flushes, and writes that get PI).
__attribute__((noinline)) int Engine::queue_full(FileState& f, unsigned slot_index, int ddir, uint64_t offset,
                                                 void* buf, uint64_t len, void* cookie) noexcept {
    Slot& s = slots_[slot_index];
    const Geometry& g = *f.geo;
    Io& io = s.io;
    io.buf_index = -1;
    io.file_index = f.reg_index;
    if (ddir == PIFIO_FLUSH) {
        io.dir = Dir::flush;
        io.nlb = 0;
        io.data = nullptr;
        io.data_len = 0;
        io.md_len = 0;
    } else {
        uint64_t lba, nlb;
        if (f.stride_shift >= 0) {
            const unsigned sh = unsigned(f.stride_shift);
            if (((offset | len) & ((uint64_t(1) << sh) - 1)) != 0) return -EINVAL;
            lba = offset >> sh;
            nlb = len >> sh;
        } else {
            lba = offset / g.stride;
            nlb = len / g.stride;
            if (offset != lba * g.stride || len != nlb * g.stride) return -EINVAL;
        }
        if (len == 0 || len > UINT32_MAX) return -EINVAL;
        io.dir = ddir == PIFIO_WRITE ? Dir::write : Dir::read;
        io.lba = lba;
        io.nlb = uint32_t(nlb);
        io.data = buf;
        io.data_len = uint32_t(len);
        io.md_len = io.nlb * g.md_stride;
        if (bufs_registered_) io.buf_index = int(slot_index);
        if (io.dir == Dir::write && g.host_pi() && !g.pract) {
            generate(f.gen, io.data, io.md, Span{io.lba, ref_seed(g.fmt, io.lba, o_.pi_reftag, g.ref_offset), io.nlb});
            if (!o_.inject.empty()) inject(f, io);
        }
    }
    struct io_uring_sqe* sqe = sqe_of(slot_index);
    if (!sqe) return 1;
    // Constant sizes: a few vector stores, not a variable-length rep stos.
    if (ring_flags_ & IORING_SETUP_SQE128) memset(static_cast<void*>(sqe), 0, 128);
    else memset(static_cast<void*>(sqe), 0, 64);
    s.sqe_plain = false;
    s.ok_res = -1;
    int ret = f.be->prep(sqe, io);
    if (ret < 0) {
        // Nothing reaches the kernel: every CQE is a slot's (event() relies on it).
        unget();
        return ret;
    }
    sqe->user_data = slot_index;
    publish(slot_index);
    s.f = &f;
    s.cookie = cookie;
    queued_++;
    inflight_++;
    return 0;
}

int Engine::commit() noexcept {
    if (!queued_) return 0;
    // Submit with IORING_ENTER_GETEVENTS as fio's io_uring engine does: on a
    // DEFER_TASKRUN ring that same system call runs the completions' task
    // work, so the next getevents() finds CQEs posted instead of entering the
    // kernel again to wait. SQPOLL: the kernel thread submits; enter only to
    // wake it (io_uring_submit decides).
    const bool sqpoll = ring_flags_ & IORING_SETUP_SQPOLL;
    int ret;
    do {
        ret = sqpoll ? io_uring_submit(&ring_) : io_uring_submit_and_get_events(&ring_);
    } while (ret == -EINTR);
    if (ret < 0) return ret;
    unsigned n = queued_;
    queued_ = 0;
    return int(n);
}

void Engine::note_status(FileState& f, const Slot& s, const Completion& c) noexcept {
    Report& r = *f.rep;
    r.io_errors++;
    if (s.io.dir == Dir::read) r.read_ios++;
    else if (s.io.dir == Dir::write) r.write_ios++;
    const char* op = s.io.dir == Dir::read ? "read" : s.io.dir == Dir::write ? "write" : "flush";
    if (errs_.size() < errs_.capacity())
        errs_.push_back({f.fileno, uint8_t(s.io.dir == Dir::read ? 0 : s.io.dir == Dir::write ? 1 : 2), s.io.lba,
                         s.io.nlb, c.err, c.device ? int(c.status) : -1, c.info ? c.info->name : nullptr});
    else
        errs_dropped_++;
    // The format may be why (a reformat under the job): look again at the next I/O.
    f.next_check_ns = 0;
    f.check_countdown = 0;
    if (c.device) {
        const char* name = c.info ? c.info->name : nullptr;
        bool found = false;
        for (uint32_t i = 0; i < r.nstatus; i++)
            if (r.status[i].code == c.status) {
                r.status[i].count++;
                found = true;
            }
        if (!found && r.nstatus < 16) r.status[r.nstatus++] = {c.status, 1, name, c.info ? c.info->field : int8_t(-1)};
        if (logged_++ < kLogLimit)
            log("pifio: %s lba %" PRIu64 " (+%u): %s failed: %s (NVMe status 0x%03x, %s)", r.path.c_str(),
                s.io.lba, s.io.nlb, op, name ? name : "unknown status", c.status, errno_name(c.err));
    } else if (logged_++ < kLogLimit) {
        log("pifio: %s lba %" PRIu64 " (+%u): %s failed: %s (%s)", r.path.c_str(), s.io.lba, s.io.nlb, op,
            strerror(c.err), errno_name(c.err));
    }
    if (logged_ == kLogLimit) log("pifio: further errors are counted but not logged (see pi_report)");
}

void Engine::note_mismatch(FileState& f, const Mismatch& m) noexcept {
    Report& r = *f.rep;
    r.mismatches[int(m.field)]++;
    if (mm_.size() < mm_.capacity()) mm_.push_back({f.fileno, m});
    else mm_dropped_++;
    if (logged_++ < kLogLimit) {
        const int w = m.field == Field::app ? 4 : (m.field == Field::guard ? (f.be->geometry().fmt.guard == Guard::g16 ? 4 : 16)
                                                                             : (f.be->geometry().fmt.guard == Guard::g16 ? 8 : 12));
        log("pifio: %s lba %" PRIu64 ": %s got 0x%0*" PRIx64 ", want 0x%0*" PRIx64, r.path.c_str(), m.lba,
            field_name(m.field), w, m.got, w, m.want);
        if (logged_ == kLogLimit) log("pifio: further errors are counted but not logged (see pi_report)");
    }
}

// Inlined into complete_slow(): the backend's completion, the counters and
// the clean PI check; a failed check's records are a call (check_read_bad).
__attribute__((always_inline)) inline int Engine::on_complete(Slot& s, const io_uring_cqe* cqe) noexcept {
    FileState& f = *s.f;
    const Completion c = f.be->complete(cqe, s.io);
    if (c.err) {
        note_status(f, s, c);
        return c.err;
    }
    if (s.io.dir == Dir::write) {
        f.rep->writes++;
        f.rep->write_ios++;
        return 0;
    }
    if (s.io.dir != Dir::read) return 0;
    f.rep->reads++;
    f.rep->read_ios++;
    const Geometry& g = *f.geo;
    if (!g.host_pi() || !f.chk.checks) return 0;
    return check_read(f, s);
}

// Inlined into on_complete() (itself out of event()'s fast path): the clean
// read is the verify_quick() call and two counters.
__attribute__((always_inline)) inline int Engine::check_read(FileState& f, const Slot& s) noexcept {
    const Geometry& g = *f.geo;
    const Span sp{s.io.lba, ref_seed(g.fmt, s.io.lba, o_.pi_reftag, g.ref_offset), s.io.nlb};
    // pi_verify_time, pi_verify_crc_only: out of line.
    if (__builtin_expect(diag_, 0)) return check_read_diag(f, s, sp);
    // The clean case is the CRC and the compares (verify_quick); records and
    // the per-field counts only for a read that failed.
    const uint32_t escaped = verify_quick(f.chk, s.io.data, s.io.md, sp);
    if (__builtin_expect(escaped == kVerifyBad, 0)) return check_read_bad(f, s, sp);
    f.rep->blocks_verified += s.io.nlb;
    f.rep->blocks_escaped += escaped;
    return 0;
}

namespace {

// pi_verify_crc_only: the guard CRC of each block, one plain call per block
// (the loop pi_bench's crc/<impl>/<format>/<io> rows time), compared with
// nothing: what the raw CRC of a read's bytes costs where the engine finds
// them.
uint64_t guard_crcs(const PiContext& c, const void* data, const void* md, uint32_t nlb) noexcept {
    const PiFast& g = c.fast;
    const auto* d = static_cast<const uint8_t*>(data);
    const auto* m = static_cast<const uint8_t*>(md);
    uint64_t x = 0;
    for (uint32_t i = 0; i < nlb; i++) {
        const uint8_t* b = d + size_t(i) * g.ds;
        const uint8_t* mb = g.ext ? b + g.dsize : m + size_t(i) * g.mstride;
        if (c.fmt.guard == Guard::g16) {
            uint16_t v = crc16_t10dif(0, b, g.contig);
            if (g.chain) v = crc16_t10dif(v, mb, g.chain);
            x ^= v;
        } else {
            uint64_t v = crc64_nvme(0, b, g.contig);
            if (g.chain) v = crc64_nvme(v, mb, g.chain);
            x ^= v;
        }
    }
    return x;
}

}  // namespace

// pi_verify_time: the time-stamp counter around the check (or around the raw
// CRC that replaces it: pi_verify_crc_only, and every other read with
// pi_verify_time=2), less an empty window; a window long enough to have been
// preempted is counted apart.
__attribute__((noinline)) int Engine::check_read_diag(FileState& f, const Slot& s, const Span& sp) noexcept {
    const bool crc = crc_only_ || (paired_ && (paired_next_ = !paired_next_));
    uint32_t escaped = 0;
    uint64_t t0 = 0;
    if (time_verify_) t0 = verify_ticks();
    if (crc) {
        const uint64_t x = guard_crcs(f.chk, s.io.data, s.io.md, s.io.nlb);
        asm volatile("" ::"r"(x));
    } else {
        escaped = verify_quick(f.chk, s.io.data, s.io.md, sp);
    }
    if (time_verify_) {
        const uint64_t dt = verify_ticks() - t0;   // the empty window is taken off at finish()
        Report& r = *f.rep;
        // The empty window again every 256 timed reads, its least kept: taken
        // only at create, one slow spell there (this VM's counter read once
        // cost 120-310 ns for a while, ~26 ns otherwise) zeroed every median.
        if (__builtin_expect((++timed_seq_ & 255) == 0, 0)) {
            const uint64_t a = verify_ticks();
            const uint64_t e = verify_ticks() - a;
            if (e < timer_ticks_) timer_ticks_ = e;
        }
        if (dt <= limit_ticks_ + ticks_per_byte_ * s.io.data_len) {
            if (crc && paired_) {
                r.crc_ticks += dt;
                r.crc_timed++;
                r.crc_hist[verify_hist_bucket(dt)]++;
            } else {
                r.verify_ticks += dt;
                r.verify_timed++;
                r.verify_hist[verify_hist_bucket(dt)]++;
            }
        } else {
            (crc && paired_ ? r.crc_interrupted : r.verify_interrupted)++;
        }
    }
    if (crc) {
        f.rep->crc_only_reads++;
        return 0;
    }
    if (__builtin_expect(escaped == kVerifyBad, 0)) return check_read_bad(f, s, sp);
    f.rep->blocks_verified += s.io.nlb;
    f.rep->blocks_escaped += escaped;
    return 0;
}

__attribute__((noinline, cold)) int Engine::check_read_bad(FileState& f, const Slot& s, const Span& sp) noexcept {
    Mismatch batch[kVerifyBatch];
    VerifyStats st;
    const bool ok = verify(f.chk, s.io.data, s.io.md, sp, batch, kVerifyBatch, &st);
    f.rep->blocks_verified += s.io.nlb;
    f.rep->blocks_escaped += st.escaped;
    if (ok) return 0;
    f.rep->bad_blocks += st.bad_blocks;
    for (uint32_t i = 0; i < st.recorded; i++) note_mismatch(f, batch[i]);
    // Mismatches beyond the batch are counted, not recorded.
    for (int k = 0; k < 3; k++) {
        uint32_t rec = 0;
        for (uint32_t i = 0; i < st.recorded; i++) rec += int(batch[i].field) == k;
        f.rep->mismatches[k] += st.count[k] - rec;
    }
    return EILSEQ;
}

// As fio's io_uring engine: getevents() only counts ready CQEs and event()
// reads the i-th in place (no copy into a side array, no per-CQE head
// update). The CQEs handed out stay unreleased until the next getevents():
// the kernel cannot reuse them while fio completes them, and the CQ (twice
// the SQ, so at least 2 x iodepth) holds them plus every I/O still in flight.
int Engine::getevents(unsigned min, unsigned max, const struct timespec* t) noexcept {
    if (cq_unseen_) {
        io_uring_cq_advance(&ring_, cq_unseen_);
        cq_unseen_ = 0;
    }
    unsigned ready = io_uring_cq_ready(&ring_);
    // Enough ready (fio's usual case at depth): no call, nothing to save.
    if (__builtin_expect(ready < min || ready == 0, 0)) {
        const int r = int(wait_events(min, t));
        if (r < 0) return r;
        ready = unsigned(r);
    }
    if (ready > max) ready = max;
    cq_head_ = *ring_.cq.khead;
    cq_unseen_ = ready;
    return int(ready);
}

__attribute__((noinline)) unsigned Engine::wait_events(unsigned min, const struct timespec* t) noexcept {
    unsigned ready = io_uring_cq_ready(&ring_);
    if (ready == 0 && min == 0 && (ring_flags_ & IORING_SETUP_DEFER_TASKRUN)) {
        // Deferred completions post only when we enter the kernel to get events.
        io_uring_get_events(&ring_);
        ready = io_uring_cq_ready(&ring_);
    }
    while (ready < min) {
        // IOPOLL: the kernel does not poll while the CQ holds entries (it
        // returns at once, and this loop would spin): hand out what is there,
        // fio asks again for the rest.
        if (ready && (ring_flags_ & IORING_SETUP_IOPOLL)) break;
        struct io_uring_cqe* cqe = nullptr;
        int ret;
        if (t) {
            struct __kernel_timespec ts;
            ts.tv_sec = t->tv_sec;
            ts.tv_nsec = t->tv_nsec;
            ret = io_uring_wait_cqes(&ring_, &cqe, min, &ts, nullptr);
            if (ret == -ETIME) return io_uring_cq_ready(&ring_);
        } else {
            ret = io_uring_wait_cqe_nr(&ring_, &cqe, min);
        }
        if (ret < 0 && ret != -EINTR && ret != -EAGAIN) return unsigned(ret);
        ready = io_uring_cq_ready(&ring_);
    }
    return ready;
}

void* Engine::event(int i, int* err) noexcept {
    const io_uring_cqe* cqe = &ring_.cq.cqes[((cq_head_ + unsigned(i)) & ring_.cq.ring_mask) << cqe_shift_];
    Slot& s = slots_[cqe->user_data];
    inflight_--;
    // A plain read/write that moved every byte, with no PI to check: count it
    // here, no call (the common case without host PI).
    if (cqe->res == s.ok_res) {
        s.ok_count[0]++;          // Report::reads or ::writes
        s.ok_count[kIosOff]++;    // ... and ::read_ios or ::write_ios
        *err = 0;
        return s.cookie;
    }
    *err = complete_slow(s, cqe);
    return s.cookie;
}

__attribute__((noinline)) int Engine::complete_slow(Slot& s, const io_uring_cqe* cqe) noexcept {
    return on_complete(s, cqe);
}

}  // namespace pifio
