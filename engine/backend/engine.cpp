// The ring loop: one io_uring per fio thread, shared by every target of the
// job whatever its backend. queue() generates PI (and injects faults) and
// fills an SQE; commit() submits; getevents() reaps, verifies read PI and
// records results. Nothing on that path allocates, throws or logs, except
// the bounded mismatch/status log lines.
#include <algorithm>
#include <cstdarg>
#include <tuple>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <liburing.h>
#include <memory>
#include <new>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

#include "../fio/glue_api.h"
#include "backend.hpp"
#include "options.hpp"
#include "pifio/pi.hpp"

namespace pifio {
namespace {

constexpr uint32_t kLogLimit = 32;           // mismatch/status lines per job
constexpr uint32_t kRecordLimit = 1u << 16;  // mismatches / injected LBAs kept for pi_report
constexpr uint32_t kVerifyBatch = 64;        // mismatch records per verify() call

void copy_err(const Error& e, char* err, size_t errlen) {
    if (err && errlen) snprintf(err, errlen, "%s", e.msg.c_str());
}

// Options as fio parsed them -> EngineOptions (validated).
Result<EngineOptions> convert(const pifio_opts& c) {
    Result<EngineOptions> r;
    EngineOptions& o = r.value;
    o.md_per_io_size = c.md_per_io_size;
    o.pi_act = c.pi_act != 0;
    o.apptag = c.apptag;
    o.apptag_mask = c.apptag_mask;
    if (c.pi_chk) {
        std::string note;
        auto chk = parse_pi_chk(c.pi_chk, &note);
        if (!chk.ok()) {
            r.error = chk.error;
            return r;
        }
        o.pi_chk = chk.value;
        if (!note.empty()) o.notes.push_back("pifio: " + note);
    }
    if (c.pi_host_chk) {
        auto chk = parse_pi_chk(c.pi_host_chk);
        if (!chk.ok()) {
            r.error = chk.error;
            r.error.msg.replace(0, 6, "pi_host_chk");
            return r;
        }
        o.pi_host_chk = chk.value;
        o.pi_host_chk_set = true;
    }
    if (c.pi_format) o.pi_format = c.pi_format;
    o.pi_verify = c.pi_verify != 0;
    if (c.pi_inject) {
        auto inj = parse_pi_inject(c.pi_inject);
        if (!inj.ok()) {
            r.error = inj.error;
            return r;
        }
        o.inject = inj.value;
    }
    if (c.pi_report) o.pi_report = c.pi_report;
    o.pi_reftag = c.pi_reftag;
    o.pi_reftag_set = c.pi_reftag_set != 0;
    if (c.pi_mode) o.pi_mode = c.pi_mode;
    if (c.pi_audit) o.pi_audit = c.pi_audit;
    o.fixedbufs = c.fixedbufs;
    o.registerfiles = c.registerfiles;
    o.sqthread_poll = c.sqthread_poll;
    o.sqthread_poll_cpu = c.sqthread_poll_cpu;
    o.hipri = c.hipri;
    return r;
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

uint64_t mix64(uint64_t x) {   // splitmix64 finalizer
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

std::string json_str(const std::string& s) {
    std::string r = "\"";
    for (char ch : s) {
        const unsigned char c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            r += '\\';
            r += ch;
        } else if (c < 0x20) {
            char b[8];
            snprintf(b, sizeof b, "\\u%04x", c);
            r += b;
        } else {
            r += ch;
        }
    }
    return r + "\"";
}

// hipri on /dev/ngXnY: the IOPOLL ring works without NVMe poll queues too,
// but completions then arrive by interrupt. Say so once at set-up; "" when
// polling is available or nothing can be told (not an ng device, no sysfs).
std::string hipri_note(const std::string& path) {
    unsigned c = 0, n = 0;
    char tail = 0;
    if (sscanf(path.c_str(), "/dev/ng%un%u%c", &c, &n, &tail) != 2) return "";
    char sys[96];
    snprintf(sys, sizeof sys, "/sys/block/nvme%un%u/queue/io_poll", c, n);
    FILE* fp = fopen(sys, "r");
    if (!fp) return "";
    int v = -1;
    if (fscanf(fp, "%d", &v) != 1) v = -1;
    fclose(fp);
    if (v != 0) return "";
    return "pifio: " + path + ": hipri: the NVMe driver has no poll queues (" + sys +
           " is 0), so completions are interrupt driven, not polled; boot with nvme.poll_queues=N "
           "(or load nvme with poll_queues=N) to poll";
}

}  // namespace

// Per-target state: fio's f->engine_data.
struct FileState {
    std::unique_ptr<Backend> be;
    EngineOptions opts;     // options it was probed with
    PiContext gen;          // generate: app tag, all fields
    PiContext chk;          // verify: pi_verify checks
    int reg_index = -1;     // registered file slot
    uint32_t fileno = 0;
    struct Report* rep = nullptr;   // engine's record for this file
};

struct Report {
    std::string path, desc;
    uint64_t reads = 0, writes = 0, blocks_verified = 0, blocks_escaped = 0, bad_blocks = 0;
    uint64_t mismatches[3] = {};   // by Field
    uint64_t injected = 0;
    uint64_t io_errors = 0;
    uint64_t audit_bad = 0;        // bad blocks found by the backend's finish_audit (pi_audit)
    struct StatusCount {
        uint16_t code;
        uint64_t count;
        const char* name;   // static string from the backend, may be null
    } status[16] = {};
    uint32_t nstatus = 0;
    uint64_t status_other = 0;
};

struct MismatchRecord {
    uint32_t fileno;
    Mismatch m;
};
struct InjectRecord {
    uint32_t fileno;
    InjectKind kind;
    uint64_t lba;
};

struct Slot {
    FileState* f = nullptr;
    void* cookie = nullptr;
    Io io;
};
struct Done {
    void* cookie;
    int err;
};

class Engine {
public:
    static Result<std::unique_ptr<Engine>> create(const EngineOptions& o, const pifio_job& j, FileState* const* files,
                                                  unsigned nfiles);
    ~Engine();

    Error open(FileState& f, unsigned fileno, int* fd);
    void close(FileState& f);
    Error register_buffers(const struct iovec* iov, unsigned n);

    int queue(FileState& f, unsigned slot, int ddir, uint64_t offset, void* buf, uint64_t len, void* cookie) noexcept;
    int commit() noexcept;
    int getevents(unsigned min, unsigned max, const struct timespec* t) noexcept;
    void* event(int i, int* err) const noexcept {
        *err = done_[i].err;
        return done_[i].cookie;
    }
    int finish(Error* e);

private:
    Engine() = default;
    unsigned reap(unsigned n, unsigned max) noexcept;   // fills done_[n..max)
    int on_complete(Slot& s, const io_uring_cqe* cqe) noexcept;
    void note_status(FileState& f, const Slot& s, const Completion& c) noexcept;
    void note_mismatch(FileState& f, const Mismatch& m) noexcept;
    void inject(FileState& f, const Io& io) noexcept;
    void log(const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));

    EngineOptions o_;
    JobShape shape_;
    std::string job_name_;
    void (*log_)(const char*) = nullptr;
    struct io_uring ring_ {};
    bool ring_ok_ = false;
    unsigned ring_flags_ = 0;
    unsigned depth_ = 0;
    uint32_t md_per_io_ = 0;
    uint8_t* md_pool_ = nullptr;
    size_t md_pool_len_ = 0;
    std::vector<Slot> slots_;
    std::vector<Done> done_;
    std::vector<Report> reports_;
    std::vector<MismatchRecord> mm_;    // reserved kRecordLimit when pi_report is set
    std::vector<InjectRecord> inj_;
    uint64_t mm_dropped_ = 0, inj_dropped_ = 0;
    uint32_t logged_ = 0;
    bool files_registered_ = false;
    bool bufs_registered_ = false;
    unsigned queued_ = 0;
};

// ------------------------------------------------------------------ setup --

Result<FileState*> probe(const EngineOptions& o, const std::string& path) {
    Result<FileState*> r;
    auto be = open_backend(path, o);
    if (!be.ok()) {
        r.error = be.error;
        return r;
    }
    auto f = std::make_unique<FileState>();
    f->be = std::move(be.value);
    f->be->close();   // opened again by Engine::open (in the thread that does I/O)
    f->opts = o;
    const Format& fmt = f->be->geometry().fmt;
    const uint8_t checks = host_checks(o);
    auto gen = make_context(fmt, uint16_t(o.apptag), uint16_t(o.apptag_mask), CHK_ALL);
    auto chk = make_context(fmt, uint16_t(o.apptag), uint16_t(o.apptag_mask), checks);
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
    e->shape_ = shape_of(j);
    e->job_name_ = j.name ? j.name : "";
    e->log_ = j.log;
    e->depth_ = j.iodepth ? j.iodepth : 1;
    // numjobs > 1: every clone writes its own report (fio gives clones numjobs=1,
    // subjob_number 1..n-1; the first job keeps numjobs=n, subjob 0), <name>.<subjob>.pi.json
    // (the analysis store pairs <job>.<n>.pi.json with <job>.json and sums them).
    if (!o.pi_report.empty() && (j.numjobs > 1 || j.subjob > 0)) {
        std::string& p = e->o_.pi_report;
        const std::string sfx = "." + std::to_string(j.subjob);
        const std::string pi = ".pi.json";
        if (p.size() > pi.size() && p.compare(p.size() - pi.size(), pi.size(), pi) == 0)
            p.insert(p.size() - pi.size(), sfx);
        else
            p += sfx;
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
        if (i == 0 && e->log_)
            for (const std::string& n : o.notes) e->log_(n.c_str());
        if ((fmt.pi_type == 1 || fmt.pi_type == 2) && o.apptag == 0xffff && j.writes && e->log_)
            e->log_(("pifio: " + f->be->path() + ": apptag=0xffff: blocks written with it are escaped (type " +
                     std::to_string(fmt.pi_type) + " skips every check of a block whose app tag is 0xffff)")
                        .c_str());
        e->reports_[i].path = f->be->path();
        e->reports_[i].desc = f->be->describe();
        if (o.hipri && e->log_) {
            const std::string note = hipri_note(f->be->path());
            if (!note.empty()) e->log_(note.c_str());
        }
    }

    // The ring. Probe once, name what the kernel lacks.
    unsigned entries = 1;
    while (entries < e->depth_) entries <<= 1;
    struct io_uring_params p {};
    p.flags = flags;
    if (o.hipri) p.flags |= IORING_SETUP_IOPOLL;
    if (o.sqthread_poll) {
        p.flags |= IORING_SETUP_SQPOLL;
        if (o.sqthread_poll_cpu >= 0) {
            p.flags |= IORING_SETUP_SQ_AFF;
            p.sq_thread_cpu = unsigned(o.sqthread_poll_cpu);
        }
    }
    // As fio's io_uring engine: one task submits and reaps, so completions
    // need no IPI (COOP_TASKRUN) and their task work runs when we reap
    // (DEFER_TASKRUN) instead of interrupting the submitter. Not with SQPOLL
    // (EINVAL); dropped on kernels that lack them (< 5.19 / 6.1).
    const unsigned base_flags = p.flags;
    if (!o.sqthread_poll)
        p.flags |= IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int ret = io_uring_queue_init_params(entries, &e->ring_, &p);
    if (ret == -EINVAL && p.flags != base_flags) {
        p = io_uring_params{};
        p.flags = base_flags | IORING_SETUP_COOP_TASKRUN;
        ret = io_uring_queue_init_params(entries, &e->ring_, &p);
        if (ret == -EINVAL) {
            p = io_uring_params{};
            p.flags = base_flags;
            ret = io_uring_queue_init_params(entries, &e->ring_, &p);
        }
    }
    if (ret < 0) {
        std::string hint;
        if (ret == -EINVAL && (flags & IORING_SETUP_SQE128))
            hint = "; NVMe passthrough needs IORING_SETUP_SQE128/CQE32 (Linux 5.19+)";
        if (ret == -EINVAL && o.hipri) hint += "; or drop hipri";
        if (ret == -EINVAL && o.sqthread_poll && o.sqthread_poll_cpu >= 0)
            hint += "; sqthread_poll_cpu=" + std::to_string(o.sqthread_poll_cpu) +
                    " must name an online CPU (0.." + std::to_string(sysconf(_SC_NPROCESSORS_ONLN) - 1) + ")";
        if (ret == -EINVAL && o.sqthread_poll) hint += "; or drop sqthread_poll";
        if (ret == -EPERM && o.sqthread_poll) hint = "; sqthread_poll needs CAP_SYS_NICE on this kernel";
        if (ret == -ENOSYS) hint = "; the kernel has no io_uring (or it is disabled: kernel.io_uring_disabled)";
        r.error = {-ret, std::string("io_uring_queue_init(") + std::to_string(entries) + " entries, flags 0x" +
                             [&] { char b[16]; snprintf(b, sizeof b, "%x", p.flags); return std::string(b); }() +
                             "): " + strerror(-ret) + hint};
        return r;
    }
    e->ring_ok_ = true;
    e->ring_flags_ = p.flags;

    if (o.registerfiles) {
        std::vector<int> fds(nfiles ? nfiles : 1, -1);
        ret = io_uring_register_files(&e->ring_, fds.data(), unsigned(fds.size()));
        if (ret < 0) {
            r.error = {-ret, std::string("registerfiles: io_uring_register_files: ") + strerror(-ret) +
                                 "; drop registerfiles"};
            return r;
        }
        e->files_registered_ = true;
    }

    // Per-slot metadata buffers, page aligned, touched now (not on the hot path).
    e->slots_.resize(e->depth_);
    e->done_.resize(e->depth_ * 2 + 8);
    if (e->md_per_io_) {
        const size_t per = (size_t(e->md_per_io_) + 63) & ~size_t(63);
        e->md_pool_len_ = (per * e->depth_ + 4095) & ~size_t(4095);
        void* m = mmap(nullptr, e->md_pool_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                       -1, 0);
        if (m == MAP_FAILED) {
            r.error = {errno, std::string("metadata buffers (") + std::to_string(e->md_pool_len_) +
                                  " bytes): " + strerror(errno)};
            return r;
        }
        e->md_pool_ = static_cast<uint8_t*>(m);
        for (unsigned i = 0; i < e->depth_; i++) e->slots_[i].io.md = e->md_pool_ + per * i;
    }
    if (!o.pi_report.empty()) {
        e->mm_.reserve(kRecordLimit);
        if (!o.inject.empty()) e->inj_.reserve(kRecordLimit);
    }
    r.value = std::move(e);
    return r;
}

Engine::~Engine() {
    if (ring_ok_) io_uring_queue_exit(&ring_);
    if (md_pool_) munmap(md_pool_, md_pool_len_);
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
    if (files_registered_) {
        int nfd = f.be->fd();
        int ret = io_uring_register_files_update(&ring_, fileno, &nfd, 1);
        if (ret < 0) return {-ret, f.be->path() + ": registerfiles: " + strerror(-ret) + "; drop registerfiles"};
        f.reg_index = int(fileno);
    }
    *fd = f.be->fd();
    return {};
}

void Engine::close(FileState& f) {
    if (f.rep) f.rep->audit_bad += f.be->finish_audit(log_);
    if (files_registered_ && f.reg_index >= 0) {
        int nfd = -1;
        io_uring_register_files_update(&ring_, unsigned(f.reg_index), &nfd, 1);
        f.reg_index = -1;
    }
    f.be->close();
}

Error Engine::register_buffers(const struct iovec* iov, unsigned n) {
    if (!o_.fixedbufs) return {};
    int ret = io_uring_register_buffers(&ring_, iov, n);
    if (ret < 0)
        return {-ret, std::string("fixedbufs: io_uring_register_buffers: ") + strerror(-ret) +
                          (ret == -ENOMEM ? "; raise RLIMIT_MEMLOCK (ulimit -l) or drop fixedbufs" : "; drop fixedbufs")};
    bufs_registered_ = true;
    return {};
}

// --------------------------------------------------------------- hot path --

void Engine::log(const char* fmt, ...) noexcept {
    if (!log_) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_(line);
}

void Engine::inject(FileState& f, const Io& io) noexcept {
    const Format& fmt = f.be->geometry().fmt;
    for (uint32_t b = 0; b < io.nlb; b++) {
        const uint64_t lba = io.lba + b;
        for (const InjectSpec& s : o_.inject) {
            const uint64_t h = mix64(lba ^ o_.inject_seed ^ (uint64_t(s.kind) + 1) * 0x9e3779b97f4a7c15ull);
            if (h >= s.threshold) continue;
            switch (s.kind) {
                case InjectKind::guard: pifio::inject(fmt, io.data, io.md, b, Field::guard); break;
                case InjectKind::app: pifio::inject(fmt, io.data, io.md, b, Field::app); break;
                case InjectKind::ref: pifio::inject(fmt, io.data, io.md, b, Field::ref); break;
                case InjectKind::data: pifio::inject(fmt, io.data, io.md, b, Field::guard, true); break;
            }
            f.rep->injected++;
            if (inj_.size() < inj_.capacity()) inj_.push_back({f.fileno, s.kind, lba});
            else inj_dropped_++;
            break;   // one fault per block
        }
    }
}

int Engine::queue(FileState& f, unsigned slot_index, int ddir, uint64_t offset, void* buf, uint64_t len,
                  void* cookie) noexcept {
    if (slot_index >= slots_.size()) return -EINVAL;
    Slot& s = slots_[slot_index];
    const Geometry& g = f.be->geometry();
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
        if (offset % g.stride || len % g.stride || len == 0 || len / g.stride > UINT32_MAX) return -EINVAL;
        io.dir = ddir == PIFIO_WRITE ? Dir::write : Dir::read;
        io.lba = offset / g.stride;
        io.nlb = uint32_t(len / g.stride);
        io.data = buf;
        io.data_len = uint32_t(len);
        io.md_len = io.nlb * g.md_stride;
        if (bufs_registered_) io.buf_index = int(slot_index);
        if (io.dir == Dir::write && g.host_pi() && !g.pract) {
            Span sp;
            sp.lba = io.lba;
            sp.ref = g.fmt.pi_type == 2 ? (o_.pi_reftag + io.lba) & ref_mask(g.fmt) : io.lba & ref_mask(g.fmt);
            sp.nblocks = io.nlb;
            generate(f.gen, io.data, io.md, sp);
            if (!o_.inject.empty()) inject(f, io);
        }
    }
    struct io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) return 1;
    const size_t sqe_size = (ring_flags_ & IORING_SETUP_SQE128) ? 128 : 64;
    memset(static_cast<void*>(sqe), 0, sqe_size);
    int ret = f.be->prep(sqe, io);
    if (ret < 0) {
        // Give the SQE back as a no-op so the ring stays consistent.
        io_uring_prep_nop(sqe);
        sqe->user_data = UINT64_MAX;
        return ret;
    }
    sqe->user_data = slot_index;
    s.f = &f;
    s.cookie = cookie;
    queued_++;
    return 0;
}

int Engine::commit() noexcept {
    if (!queued_) return 0;
    int ret;
    do {
        ret = io_uring_submit(&ring_);
    } while (ret == -EINTR);
    if (ret < 0) return ret;
    unsigned n = queued_;
    queued_ = 0;
    return int(n);
}

void Engine::note_status(FileState& f, const Slot& s, const Completion& c) noexcept {
    Report& r = *f.rep;
    r.io_errors++;
    const char* op = s.io.dir == Dir::read ? "read" : s.io.dir == Dir::write ? "write" : "flush";
    if (c.device) {
        bool found = false;
        for (uint32_t i = 0; i < r.nstatus; i++)
            if (r.status[i].code == c.status) {
                r.status[i].count++;
                found = true;
            }
        if (!found) {
            if (r.nstatus < 16) r.status[r.nstatus++] = {c.status, 1, f.be->status_name(c.status)};
            else r.status_other++;
        }
        const char* name = f.be->status_name(c.status);
        if (logged_++ < kLogLimit)
            log("pifio: %s lba %" PRIu64 " (+%u): %s failed: %s (NVMe status 0x%03x)", r.path.c_str(), s.io.lba,
                s.io.nlb, op, name ? name : "unknown status", c.status);
    } else if (logged_++ < kLogLimit) {
        log("pifio: %s lba %" PRIu64 " (+%u): %s failed: %s", r.path.c_str(), s.io.lba, s.io.nlb, op,
            strerror(c.err));
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

int Engine::on_complete(Slot& s, const io_uring_cqe* cqe) noexcept {
    FileState& f = *s.f;
    const Completion c = f.be->complete(cqe, s.io);
    if (c.err) {
        note_status(f, s, c);
        return c.err;
    }
    if (s.io.dir == Dir::write) {
        f.rep->writes++;
        return 0;
    }
    if (s.io.dir != Dir::read) return 0;
    f.rep->reads++;
    const Geometry& g = f.be->geometry();
    if (!g.host_pi() || !f.chk.checks) return 0;
    Span sp;
    sp.lba = s.io.lba;
    sp.ref = g.fmt.pi_type == 2 ? (o_.pi_reftag + s.io.lba) & ref_mask(g.fmt) : s.io.lba & ref_mask(g.fmt);
    sp.nblocks = s.io.nlb;
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

unsigned Engine::reap(unsigned n, unsigned max) noexcept {
    struct io_uring_cqe* cqe;
    while (n < max && io_uring_peek_cqe(&ring_, &cqe) == 0) {
        const uint64_t ud = cqe->user_data;
        if (ud < slots_.size()) {
            Slot& s = slots_[ud];
            done_[n].cookie = s.cookie;
            done_[n].err = on_complete(s, cqe);
            n++;
        }
        io_uring_cqe_seen(&ring_, cqe);
    }
    return n;
}

int Engine::getevents(unsigned min, unsigned max, const struct timespec* t) noexcept {
    if (max > done_.size()) max = unsigned(done_.size());
    unsigned n = reap(0, max);
    if (n == 0 && min == 0 && (ring_flags_ & IORING_SETUP_DEFER_TASKRUN)) {
        // Deferred completions post only when we enter the kernel to get events.
        io_uring_get_events(&ring_);
        n = reap(0, max);
    }
    while (n < min) {
        struct io_uring_cqe* cqe = nullptr;
        int ret;
        if (t) {
            struct __kernel_timespec ts;
            ts.tv_sec = t->tv_sec;
            ts.tv_nsec = t->tv_nsec;
            ret = io_uring_wait_cqes(&ring_, &cqe, min - n, &ts, nullptr);
            if (ret == -ETIME) break;
        } else {
            ret = io_uring_wait_cqe_nr(&ring_, &cqe, min - n);
        }
        if (ret < 0 && ret != -EINTR && ret != -EAGAIN) return ret;
        n = reap(n, max);
    }
    return int(n);
}

// --------------------------------------------------------------- report --

int Engine::finish(Error* e) {
    uint64_t bad = 0;
    for (const Report& r : reports_) {
        bad += r.mismatches[0] + r.mismatches[1] + r.mismatches[2] + r.audit_bad;
        for (uint32_t i = 0; i < r.nstatus; i++)
            if (r.status[i].code >= 0x282 && r.status[i].code <= 0x284) bad += r.status[i].count;
    }
    if (o_.pi_report.empty()) return bad ? 1 : 0;

    // Totals over every file, by field: userspace mismatches plus the device's
    // PI check statuses (0x282 guard, 0x283 app, 0x284 ref); "other": every
    // other failed I/O and bad blocks found by pi_audit. analysis/meta.py reads
    // "counts" (and "first_mismatches").
    uint64_t cnt[3] = {}, other = 0;
    for (const Report& r : reports_) {
        uint64_t dev_pi = 0;
        for (int k = 0; k < 3; k++) cnt[k] += r.mismatches[k];
        for (uint32_t i = 0; i < r.nstatus; i++)
            if (r.status[i].code >= 0x282 && r.status[i].code <= 0x284) {
                cnt[r.status[i].code - 0x282] += r.status[i].count;
                dev_pi += r.status[i].count;
            }
        other += r.io_errors - std::min(r.io_errors, dev_pi) + r.audit_bad;
    }
    std::string js = "{\n  \"engine\": \"pifio\",\n  \"job\": " + json_str(job_name_) + ",\n";
    js += "  \"counts\": {\"guard\": " + std::to_string(cnt[0]) + ", \"apptag\": " + std::to_string(cnt[1]) +
          ", \"reftag\": " + std::to_string(cnt[2]) + ", \"other\": " + std::to_string(other) +
          ", \"total\": " + std::to_string(cnt[0] + cnt[1] + cnt[2] + other) + "},\n";
    js += "  \"options\": {\"pi_act\": " + std::to_string(o_.pi_act) + ", \"pi_chk\": " +
          json_str(pi_chk_to_string(o_.pi_chk)) + ", \"pi_verify\": " + std::to_string(o_.pi_verify) +
          ", \"host_checks\": " + json_str(pi_chk_to_string(host_checks(o_))) +
          ", \"apptag\": " + std::to_string(o_.apptag) + ", \"apptag_mask\": " + std::to_string(o_.apptag_mask) +
          ", \"pi_reftag\": " + std::to_string(o_.pi_reftag) + "},\n";
    js += "  \"files\": [";
    for (size_t i = 0; i < reports_.size(); i++) {
        const Report& r = reports_[i];
        js += i ? ",\n    {" : "\n    {";
        js += "\"file\": " + json_str(r.path) + ", \"target\": " + json_str(r.desc);
        js += ", \"reads\": " + std::to_string(r.reads) + ", \"writes\": " + std::to_string(r.writes);
        js += ", \"blocks_verified\": " + std::to_string(r.blocks_verified);
        js += ", \"blocks_escaped\": " + std::to_string(r.blocks_escaped);
        js += ", \"bad_blocks\": " + std::to_string(r.bad_blocks);
        js += ", \"mismatches\": {\"guard\": " + std::to_string(r.mismatches[0]) +
              ", \"apptag\": " + std::to_string(r.mismatches[1]) + ", \"reftag\": " + std::to_string(r.mismatches[2]) +
              "}";
        js += ", \"audit_bad_blocks\": " + std::to_string(r.audit_bad);
        js += ", \"io_errors\": " + std::to_string(r.io_errors) + ", \"device_status\": {";
        for (uint32_t k = 0; k < r.nstatus; k++) {
            char code[8];
            snprintf(code, sizeof code, "0x%03x", r.status[k].code);
            const char* name = r.status[k].name;
            js += (k ? ", " : "") + json_str(std::string(code) + (name ? std::string(" ") + name : "")) + ": " +
                  std::to_string(r.status[k].count);
        }
        js += "}, \"injected\": " + std::to_string(r.injected) + "}";
    }
    js += "\n  ],\n  \"mismatch_records\": [";
    for (size_t i = 0; i < mm_.size(); i++) {
        const auto& m = mm_[i];
        char b[256];
        snprintf(b, sizeof b, "%s\n    {\"file\": %u, \"lba\": %" PRIu64 ", \"field\": \"%s\", \"got\": %" PRIu64
                              ", \"want\": %" PRIu64 "}",
                 i ? "," : "", m.fileno, m.m.lba, field_name(m.m.field), m.m.got, m.m.want);
        js += b;
    }
    js += "\n  ],\n  \"mismatch_records_dropped\": " + std::to_string(mm_dropped_) + ",\n";
    // The first records again in the analysis schema (hex strings, field names guard/apptag/reftag).
    js += "  \"first_mismatches\": [";
    for (size_t i = 0; i < mm_.size() && i < 64; i++) {
        const auto& m = mm_[i];
        char b[200];
        snprintf(b, sizeof b, "%s\n    {\"lba\": %" PRIu64 ", \"field\": \"%s\", \"got\": \"0x%" PRIx64
                              "\", \"want\": \"0x%" PRIx64 "\"}",
                 i ? "," : "", m.m.lba, field_name(m.m.field), m.m.got, m.m.want);
        js += b;
    }
    js += "\n  ],\n";
    // Injected LBAs: sorted, one entry per (file, lba, kind).
    std::vector<InjectRecord> inj = inj_;
    std::sort(inj.begin(), inj.end(), [](const InjectRecord& a, const InjectRecord& b) {
        return std::tie(a.fileno, a.lba, a.kind) < std::tie(b.fileno, b.lba, b.kind);
    });
    inj.erase(std::unique(inj.begin(), inj.end(),
                          [](const InjectRecord& a, const InjectRecord& b) {
                              return a.fileno == b.fileno && a.lba == b.lba && a.kind == b.kind;
                          }),
              inj.end());
    js += "  \"injected\": [";
    for (size_t i = 0; i < inj.size(); i++) {
        char b[160];
        snprintf(b, sizeof b, "%s\n    {\"file\": %u, \"lba\": %" PRIu64 ", \"field\": \"%s\"}", i ? "," : "",
                 inj[i].fileno, inj[i].lba, inject_kind_name(inj[i].kind));
        js += b;
    }
    js += "\n  ],\n  \"injected_records_dropped\": " + std::to_string(inj_dropped_) + "\n}\n";

    const std::string tmp = o_.pi_report + ".tmp";
    FILE* fp = fopen(tmp.c_str(), "w");
    if (!fp || fwrite(js.data(), 1, js.size(), fp) != js.size() || fclose(fp) != 0 ||
        rename(tmp.c_str(), o_.pi_report.c_str()) != 0) {
        *e = {errno ? errno : EIO, "pi_report=" + o_.pi_report + ": " + strerror(errno ? errno : EIO)};
        return -e->err;
    }
    return bad ? 1 : 0;
}

}  // namespace pifio

// ------------------------------------------------------------------- C API --

using pifio::Engine;
using pifio::Error;
using pifio::FileState;

extern "C" {

void* pifio_file_probe(const struct pifio_opts* co, const char* path, unsigned long long* size, int* errnum,
                       char* err, size_t errlen) {
    *errnum = EINVAL;
    try {
        auto o = pifio::convert(*co);
        if (!o.ok()) {
            pifio::copy_err(o.error, err, errlen);
            return nullptr;
        }
        auto f = pifio::probe(o.value, path);
        if (!f.ok()) {
            *errnum = f.error.err;
            pifio::copy_err(f.error, err, errlen);
            return nullptr;
        }
        if (size) *size = f.value->be->geometry().size();
        return f.value;
    } catch (const std::exception& ex) {
        pifio::copy_err(Error{ENOMEM, std::string(path) + ": " + ex.what()}, err, errlen);
        return nullptr;
    }
}

void pifio_file_free(void* file) { delete static_cast<FileState*>(file); }

void* pifio_engine_new(const struct pifio_opts* co, const struct pifio_job* j, void* const* files, unsigned nfiles,
                       char* err, size_t errlen) {
    try {
        auto o = pifio::convert(*co);
        if (!o.ok()) {
            pifio::copy_err(o.error, err, errlen);
            return nullptr;
        }
        auto e = Engine::create(o.value, *j, reinterpret_cast<FileState* const*>(files), nfiles);
        if (!e.ok()) {
            pifio::copy_err(e.error, err, errlen);
            return nullptr;
        }
        return e.value.release();
    } catch (const std::exception& ex) {
        pifio::copy_err(Error{ENOMEM, ex.what()}, err, errlen);
        return nullptr;
    }
}

int pifio_engine_open(void* eng, void* file, unsigned fileno, int* fd, char* err, size_t errlen) {
    try {
        if (Error e = static_cast<Engine*>(eng)->open(*static_cast<FileState*>(file), fileno, fd)) {
            pifio::copy_err(e, err, errlen);
            return -e.err;
        }
        return 0;
    } catch (const std::exception& ex) {
        pifio::copy_err(Error{ENOMEM, ex.what()}, err, errlen);
        return -ENOMEM;
    }
}

void pifio_engine_close(void* eng, void* file) { static_cast<Engine*>(eng)->close(*static_cast<FileState*>(file)); }

int pifio_engine_register_buffers(void* eng, const struct iovec* iov, unsigned n, char* err, size_t errlen) {
    if (Error e = static_cast<Engine*>(eng)->register_buffers(iov, n)) {
        pifio::copy_err(e, err, errlen);
        return -e.err;
    }
    return 0;
}

int pifio_engine_queue(void* eng, void* file, unsigned slot, int ddir, unsigned long long offset, void* buf,
                       unsigned long long len, void* cookie) {
    return static_cast<Engine*>(eng)->queue(*static_cast<FileState*>(file), slot, ddir, offset, buf, len, cookie);
}

int pifio_engine_commit(void* eng) { return static_cast<Engine*>(eng)->commit(); }

int pifio_engine_getevents(void* eng, unsigned min, unsigned max, const struct timespec* t) {
    return static_cast<Engine*>(eng)->getevents(min, max, t);
}

void* pifio_engine_event(void* eng, int i, int* err) { return static_cast<Engine*>(eng)->event(i, err); }

int pifio_engine_finish(void* eng, char* err, size_t errlen) {
    try {
        Error e;
        int ret = static_cast<Engine*>(eng)->finish(&e);
        if (ret < 0) pifio::copy_err(e, err, errlen);
        return ret;
    } catch (const std::exception& ex) {
        pifio::copy_err(Error{ENOMEM, ex.what()}, err, errlen);
        return -ENOMEM;
    }
}

void pifio_engine_free(void* eng) { delete static_cast<Engine*>(eng); }

}  // extern "C"
