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

struct ReportInput {
    std::string job;
    const EngineOptions* opts = nullptr;
    const std::vector<Report>* files = nullptr;
    const std::vector<MismatchRecord>* mismatches = nullptr;
    uint64_t mismatches_dropped = 0;
    const std::vector<InjectRecord>* injected = nullptr;
    uint64_t injected_dropped = 0;
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
