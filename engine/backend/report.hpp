// What a job saw, per file, and the pi_report JSON written from it at the end
// of the job. The counters are bumped on the hot path (no allocation); the
// JSON is built once, at finish.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "options.hpp"
#include "pifio/pi.hpp"

namespace pifio {

// pi_verify_time's histogram: ticks 0..15 one bucket each, then 16 buckets
// per power of two (bucket width 1/16 of its octave: medians within ~3 %).
constexpr unsigned kVerifyHistSub = 16, kVerifyHistBuckets = 1024;
inline unsigned verify_hist_bucket(uint64_t v) {
    if (v < kVerifyHistSub) return unsigned(v);
    const unsigned e = 63u - unsigned(__builtin_clzll(v));   // >= 4
    return (e - 3) * kVerifyHistSub + unsigned((v >> (e - 4)) & (kVerifyHistSub - 1));
}
// The middle of bucket i, in ticks.
inline double verify_hist_mid(unsigned i) {
    if (i < kVerifyHistSub) return i;
    const unsigned e = i / kVerifyHistSub + 3, sub = i % kVerifyHistSub;
    return double((uint64_t(kVerifyHistSub + sub) << (e - 4))) + double(uint64_t(1) << (e - 4)) / 2;
}

struct Report {
    std::string path, desc;
    uint64_t reads = 0, writes = 0, blocks_verified = 0, blocks_escaped = 0, bad_blocks = 0;
    uint64_t mismatches[3] = {};   // by Field
    uint64_t injected = 0;
    uint64_t io_errors = 0;
    uint64_t read_ios = 0, write_ios = 0;   // I/Os completed, failed ones included
    char changed[640] = {};        // the target's format changed under the job (recheck), else empty
    uint64_t audit_bad = 0;        // bad blocks found by the backend's finish_audit (pi_audit)
    // pi_verify_time: reads whose PI check was timed, its time-stamp-counter
    // ticks, and those in ns (Engine::finish, from the TSC rate over the job);
    // checks that took too long to be only the check (preempted) apart.
    uint64_t verify_timed = 0, verify_ticks = 0, verify_interrupted = 0;
    double verify_ns = 0;
    std::vector<uint32_t> verify_hist;   // timed checks by ticks, kVerifyHistSub buckets per power of two
    double verify_median_ns = 0;         // from verify_hist (finish())
    double verify_empty_ns = 0;          // what an empty timed window read (subtracted from each)
    uint64_t crc_only_reads = 0;         // pi_verify_crc_only: reads whose guard CRC ran, nothing checked
    // pi_verify_time=2: the same for the reads that ran the raw guard CRC
    // instead of the checks (every other read).
    uint64_t crc_timed = 0, crc_ticks = 0, crc_interrupted = 0;
    double crc_ns = 0, crc_median_ns = 0;
    std::vector<uint32_t> crc_hist;
    struct StatusCount {
        uint16_t code;
        uint64_t count;
        const char* name;   // static string from the status table, may be null
        int8_t field;       // Field whose device check failed, -1: none
    } status[16] = {};   // distinct statuses beyond 16 count in io_errors only
    uint32_t nstatus = 0;
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

// A failed I/O, for pi_report's io_error_records (first kErrorRecordLimit).
struct IoErrorRecord {
    uint32_t fileno;
    uint8_t dir;            // 0 read, 1 write, 2 flush
    uint64_t lba;
    uint32_t nlb;
    int err;                // errno given to fio
    int status;             // NVMe status (sct<<8|sc), -1: none (an errno from the kernel)
    const char* name;       // status name from the table, may be null
};

// What the engine holds at the end of the job: all zero after a clean teardown.
struct Teardown {
    uint64_t inflight = 0;      // I/Os submitted and never reaped
    uint64_t open_fds = 0;      // target fds still open at finish (fio closes them first)
};

// The end-of-job verdict on the checks (see engine/fio/README.md "Verified nothing").
struct CheckVerdict {
    bool fail = false;          // checks were asked and no block was checked
    bool note = false;          // nothing checked, every block read was escaped (fio's rule: not an error)
    bool unchecked = false;     // reads ran the raw CRC instead of the checks (pi_verify_crc_only, pi_verify_time=2)
    std::string msg;
};
// asked[fileno]: kAskedHost when the host checks reads of that file (pi_verify
// with pi_chk/pi_host_chk naming a field, tuples reaching the host);
// kAskedDevice when pi_chk asks the device to check (a PI format). writes:
// the job writes. Fails a job that asked for checks and had none done: every
// I/O failed, or a job that only reads read nothing. Notes (not a failure,
// fio's contract) a job whose every block read was escaped.
constexpr uint8_t kAskedHost = 1, kAskedDevice = 2;
CheckVerdict check_verdict(const std::vector<Report>& files, const std::vector<uint8_t>& asked, bool writes,
                           const std::string& job);

struct ReportInput {
    std::string job;
    const EngineOptions* opts = nullptr;
    const std::vector<Report>* files = nullptr;
    const std::vector<MismatchRecord>* mismatches = nullptr;
    uint64_t mismatches_dropped = 0;
    const std::vector<InjectRecord>* injected = nullptr;
    uint64_t injected_dropped = 0;
    const std::vector<IoErrorRecord>* io_errors = nullptr;
    uint64_t io_errors_dropped = 0;
    Teardown teardown;
    const CheckVerdict* verdict = nullptr;
};

// PI errors over every file: userspace mismatches, device PI check statuses
// and pi_audit bad blocks (fio exits non-zero when there are any).
uint64_t pi_errors(const std::vector<Report>& files);

// The pi_report document (schema in engine/fio/README.md; analysis/meta.py
// parse_pi_report reads "counts").
std::string report_json(const ReportInput& in);

// Write `text` to `path` atomically (path.tmp, then rename).
Error write_report(const std::string& path, const std::string& text);

// Where a job's report goes: with numjobs > 1 every clone writes its own,
// x.pi.json -> x.<subjob>.pi.json, any other name gets .<subjob> appended.
std::string report_path(const std::string& path, unsigned subjob, unsigned numjobs);

}  // namespace pifio
