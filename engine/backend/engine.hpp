// The engine of one fio thread: one io_uring shared by every target of the
// job whatever its backend. queue() generates PI (and injects faults) and
// fills an SQE; commit() submits; getevents() waits for completions and
// event() completes each one as fio asks for it: verifies read PI and
// records results. Nothing on that path allocates, throws or logs, except
// the bounded mismatch/status log lines.
//
//   engine.cpp   set-up: file state, geometry checks, buffers, open/close
//   ring.cpp     the io_uring and its fallbacks
//   io.cpp       queue, commit, reap, verify, accounting
//   inject.cpp   pi_inject
//   report.cpp   pi_report
//   c_api.cpp    the C API glue.c calls (engine/fio/glue_api.h)
#pragma once

#include <liburing.h>
#include <memory>
#include <string>
#include <vector>

#include "../fio/glue_api.h"
#include "backend.hpp"
#include "options.hpp"
#include "pifio/pi.hpp"
#include "report.hpp"

namespace pifio {

// The CPU's time-stamp counter, fenced so that the work between two reads
// stays between them (pi_verify_time); CLOCK_MONOTONIC ns elsewhere.
inline uint64_t verify_ticks() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_lfence();
    const uint64_t t = __builtin_ia32_rdtsc();
    __builtin_ia32_lfence();
    return t;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
#endif
}

// Per-target state: fio's f->engine_data. Probed once (Identify, sysfs,
// probes), kept across fio's close/reopen of the file.
struct FileState {
    std::unique_ptr<Backend> be;
    const Geometry* geo = nullptr;   // be->geometry(), fixed once the backend is open
    int stride_shift = -1;           // log2(geo->stride) when a power of two, else -1
    PiContext gen;          // generate: app tag, all fields
    PiContext chk;          // verify: host_checks()
    int reg_index = -1;     // registered file slot
    uint32_t fileno = 0;
    Report* rep = nullptr;  // engine's record for this file
    uint64_t next_check_ns = 0;   // when to re-check the target's format (CLOCK_MONOTONIC_COARSE)
    uint32_t check_countdown = 0; // I/Os until the clock is read again (0: look at the next I/O)
    bool changed = false;         // the format changed under the job: no more I/O to it
    // Set at open from be->plain_rw_flags(): the engine fills read/write SQEs
    // itself (fd or registered index, flags) and reads their CQEs.
    uint8_t plain_dirs = 0;          // plain and power-of-two stride: bit 0 reads, bit 1 writes without PI to generate
    int64_t ok_or[2] = {-1, -1};     // [read, write]: 0 when a plain one is done at its CQE (no PI to verify), else -1
    uint8_t sqe_flags = 0;
    int sqe_fd = -1;
};

// Open `path` with its backend and derive the PI contexts; the fd is closed
// again (Engine::open reopens it in the thread that does I/O).
Result<FileState*> probe_file(const EngineOptions& o, const std::string& path);

class Engine {
public:
    static Result<std::unique_ptr<Engine>> create(const EngineOptions& o, const pifio_job& j, FileState* const* files,
                                                  unsigned nfiles);
    ~Engine();

    // The engine frees the file states it adopted (at most once each).
    void adopt(FileState* f);
    Error open(FileState& f, unsigned fileno, int* fd);
    void close(FileState& f);
    Error register_buffers(const struct iovec* iov, unsigned n);

    int queue(FileState& f, unsigned slot, int ddir, uint64_t offset, void* buf, uint64_t len, void* cookie) noexcept;
    int commit() noexcept;
    // At least `min` (and at most `max`) completions are ready: returns how
    // many. event(i), i < that count, then reads the i-th and completes it
    // (backend completion, accounting, PI verify of a read); fio calls it for
    // each before it calls getevents() again, which releases their CQEs.
    int getevents(unsigned min, unsigned max, const struct timespec* t) noexcept;
    void* event(int i, int* err) noexcept;
    // End of job: writes pi_report. 0 when clean; a positive errno when the job
    // must fail (e->msg: one "pifio: ..." line each: the format changed under
    // it, PI errors, nothing verified); -errno when the report cannot be written.
    int finish(Error* e);

private:
    struct Slot {
        FileState* f = nullptr;
        void* cookie = nullptr;
        // A plain read/write with nothing to check after it (set by queue()):
        // a CQE with res == ok_res is a success event() counts into ok_count
        // (Report::reads or ::writes) with no further look. -1: never.
        int64_t ok_res = -1;
        uint64_t* ok_count = nullptr;
        // by_slot_: this slot's SQE holds the plain template (user_data = the
        // slot, buf_index, zeros); a backend's prep() clears it.
        bool sqe_plain = false;
        Io io;
    };
    Engine() = default;
    int on_complete(Slot& s, const io_uring_cqe* cqe) noexcept;
    int queue_due(FileState& f) noexcept;
    io_uring_sqe* sqe_of(unsigned slot) noexcept;   // the SQE `slot` fills; null: the SQ is full
    void publish(unsigned slot) noexcept;           // hand it to the ring (submitted at commit())
    void unget() noexcept;                          // sqe_of() taken, not used
    void plain_template(io_uring_sqe* sqe, unsigned slot) noexcept;
    int queue_full(FileState& f, unsigned slot, int ddir, uint64_t offset, void* buf, uint64_t len, void* cookie) noexcept;
    unsigned wait_events(unsigned min, const struct timespec* t) noexcept;   // the waiting half of getevents()
    int complete_slow(Slot& s, const io_uring_cqe* cqe) noexcept;            // event() beyond the plain case
    int check_read(FileState& f, const Slot& s) noexcept;   // verify read PI, record mismatches
    int check_read_bad(FileState& f, const Slot& s, const Span& sp) noexcept;   // ... of a read that failed
    int check_read_diag(FileState& f, const Slot& s, const Span& sp) noexcept;  // ... timed, or the raw CRC only
    void note_status(FileState& f, const Slot& s, const Completion& c) noexcept;
    void note_mismatch(FileState& f, const Mismatch& m) noexcept;
    void inject(FileState& f, const Io& io) noexcept;
    // True when the format changed; logged once unless `quiet` (the caller reports it).
    bool recheck(FileState& f, bool quiet = false) noexcept;
    void log(const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));

    EngineOptions o_;
    JobShape shape_;
    std::string job_name_;
    void (*log_)(const char*) = nullptr;
    void (*info_)(const char*) = nullptr;
    struct io_uring ring_ {};
    bool ring_ok_ = false;
    unsigned ring_flags_ = 0;
    unsigned depth_ = 0;
    uint32_t md_per_io_ = 0;
    uint8_t* md_pool_ = nullptr;
    size_t md_pool_len_ = 0;
    std::vector<Slot> slots_;
    unsigned cq_head_ = 0;      // CQ head at the last getevents(): event(i) reads CQE cq_head_ + i
    unsigned cq_unseen_ = 0;    // CQEs handed out by the last getevents(), released at the next
    unsigned cqe_shift_ = 0;    // 1 with 32-byte CQEs
    unsigned sqe_shift_ = 0;    // 1 with 128-byte SQEs
    // SQEs indexed by slot, as fio's io_uring engine does: slot i always fills
    // SQE i and queue() puts i into the SQ array, so the fields a plain I/O
    // does not change are written once. Off (liburing's io_uring_get_sqe()
    // order) when the set-up self-test cannot run (IOPOLL) or fails.
    bool by_slot_ = false;
    uint8_t rw_op_[2] = {IORING_OP_READ, IORING_OP_WRITE};   // _FIXED once buffers are registered
    std::vector<Report> reports_;
    std::vector<MismatchRecord> mm_;    // reserved kRecordLimit when pi_report is set
    std::vector<InjectRecord> inj_;
    std::vector<IoErrorRecord> errs_;   // reserved kErrorRecordLimit when pi_report is set
    uint64_t mm_dropped_ = 0, inj_dropped_ = 0, errs_dropped_ = 0;
    uint64_t inflight_ = 0;             // submitted, not yet reaped
    uint32_t logged_ = 0;
    bool files_registered_ = false;
    // pi_verify_time: time-stamp counter and CLOCK_MONOTONIC at create, for
    // the counter's rate over the job (finish()).
    bool time_verify_ = false;
    bool crc_only_ = false;   // pi_verify_crc_only: reads run the raw guard CRC, no check
    bool diag_ = false;       // time_verify_ || crc_only_: check_read() takes check_read_diag()
    bool paired_ = false;     // pi_verify_time=2: every other read runs the raw CRC instead, timed apart
    bool paired_next_ = false;   // the next read is the raw-CRC one
    uint64_t ticks0_ = 0, ns0_ = 0;
    // A timed check longer than this many ticks plus ticks_per_byte_ per data
    // byte (20 us + 1 ns/byte: slower than 1 GB/s) was preempted or
    // interrupted: counted apart, not in the time (a shared host).
    uint64_t limit_ticks_ = 0, ticks_per_byte_ = 1;
    uint64_t timer_ticks_ = 0;   // what an empty timed window reads (the least seen: 256 at create, one per 256 timed reads)
    uint64_t timed_seq_ = 0;     // timed reads so far (when to look at the empty window again)
    bool bufs_registered_ = false;
    unsigned queued_ = 0;
    std::vector<std::unique_ptr<FileState>> files_;   // adopted
};

}  // namespace pifio
