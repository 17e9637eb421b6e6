#include "report.hpp"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <tuple>

namespace pifio {
namespace {

using Json = nlohmann::ordered_json;

std::string hex(uint64_t v) {
    char b[24];
    snprintf(b, sizeof b, "0x%" PRIx64, v);
    return b;
}

// Device PI check statuses of one file, by field.
void device_pi(const Report& r, uint64_t by_field[3], uint64_t* total) {
    for (uint32_t i = 0; i < r.nstatus; i++)
        if (r.status[i].field >= 0) {
            by_field[r.status[i].field] += r.status[i].count;
            *total += r.status[i].count;
        }
}

Json file_json(const Report& r) {
    Json status = Json::object();
    for (uint32_t k = 0; k < r.nstatus; k++) {
        char code[8];
        snprintf(code, sizeof code, "0x%03x", r.status[k].code);
        const char* name = r.status[k].name;
        status[std::string(code) + (name ? std::string(" ") + name : "")] = r.status[k].count;
    }
    Json j{
        {"file", r.path},
        {"target", r.desc},
        {"reads", r.reads},
        {"writes", r.writes},
        {"blocks_verified", r.blocks_verified},
        {"blocks_escaped", r.blocks_escaped},
        {"bad_blocks", r.bad_blocks},
        {"mismatches", {{"guard", r.mismatches[0]}, {"apptag", r.mismatches[1]}, {"reftag", r.mismatches[2]}}},
        {"audit_bad_blocks", r.audit_bad},
        {"io_errors", r.io_errors},
        {"read_ios", r.read_ios},
        {"write_ios", r.write_ios},
        {"device_status", status},
        {"injected", r.injected},
        {"format_changed", std::string(r.changed)},
    };
    if (r.verify_timed || r.verify_interrupted)   // pi_verify_time: what each read's PI check took
        j["verify_time"] = {{"reads", r.verify_timed}, {"ticks", r.verify_ticks}, {"ns", r.verify_ns},
                            {"ns_per_read", r.verify_timed ? r.verify_ns / double(r.verify_timed) : 0.0},
                            {"median_ns", r.verify_median_ns}, {"empty_window_ns", r.verify_empty_ns},
                            {"interrupted", r.verify_interrupted}};
    if (r.crc_timed || r.crc_interrupted)   // pi_verify_time=2: the raw CRC of the other reads' bytes
        j["verify_time"]["crc"] = {{"reads", r.crc_timed}, {"ticks", r.crc_ticks}, {"ns", r.crc_ns},
                                   {"ns_per_read", r.crc_timed ? r.crc_ns / double(r.crc_timed) : 0.0},
                                   {"median_ns", r.crc_median_ns}, {"interrupted", r.crc_interrupted}};
    if (r.crc_only_reads) j["crc_only_reads"] = r.crc_only_reads;   // nothing was checked on these reads
    return j;
}

}  // namespace

uint64_t pi_errors(const std::vector<Report>& files) {
    uint64_t bad = 0;
    for (const Report& r : files) {
        uint64_t dev[3] = {}, dev_total = 0;
        device_pi(r, dev, &dev_total);
        bad += r.mismatches[0] + r.mismatches[1] + r.mismatches[2] + r.audit_bad + dev_total;
    }
    return bad;
}

CheckVerdict check_verdict(const std::vector<Report>& files, const std::vector<uint8_t>& asked, bool writes,
                           const std::string& job) {
    CheckVerdict v;
    uint64_t verified = 0, escaped = 0, ios = 0, ok = 0, dev_ok = 0, crc_only = 0;
    bool any = false, host = false;
    for (size_t i = 0; i < files.size() && i < asked.size(); i++) {
        const Report& r = files[i];
        if (!asked[i]) continue;
        any = true;
        ios += r.read_ios + r.write_ios;
        ok += r.reads + r.writes;
        if (asked[i] & kAskedHost) {
            host = true;
            verified += r.blocks_verified;
            escaped += r.blocks_escaped;
            crc_only += r.crc_only_reads;
        }
        if (asked[i] & kAskedDevice) dev_ok += r.reads + r.writes;
    }
    if (!any) return v;
    const std::string who = "pifio: " + (job.empty() ? std::string("job") : job);
    // Nothing checked: every I/O failed, or a job that only reads read nothing.
    // (A job that wrote with host checks only has its checks on the reads to come.)
    if (verified == 0 && dev_ok == 0 && ((ios > 0 && ok == 0) || (ios == 0 && host && !writes))) {
        v.fail = true;
        v.msg = who + ": checks were asked (pi_chk, or pi_host_chk with pi_verify=1) but no block was checked: " +
                (ios ? std::to_string(ios) + " I/O(s), every one failed (see the errors above)"
                     : std::string("the job read nothing")) +
                "; fix the device or the job and run again";
    } else if (host && verified > 0 && verified == escaped) {
        v.note = true;
        v.msg = who + ": no field was checked on the host: all " + std::to_string(verified) +
                " blocks read were escaped (app tag 0xffff on type 1/2, or 0xffff/0xffffffff on type 3: " +
                "written so, or never written), which fio's PI rules skip";
    } else if (crc_only) {
        // The timing diagnostics: what they did not check is said, never "ok".
        v.unchecked = true;
        v.msg = who + ": " + std::to_string(crc_only) +
                " read(s) ran the raw guard CRC instead of the PI checks and were NOT checked (pi_verify_crc_only, "
                "pi_verify_time=2: timing diagnostics)";
    }
    return v;
}

std::string report_json(const ReportInput& in) {
    const EngineOptions& o = *in.opts;
    // Totals over every file, by field: userspace mismatches plus the device's
    // PI check statuses of that field; "other": every other failed I/O and bad
    // blocks found by pi_audit. analysis/meta.py reads "counts" (and
    // "first_mismatches").
    uint64_t cnt[3] = {}, other = 0;
    Json files = Json::array();
    for (const Report& r : *in.files) {
        uint64_t dev_total = 0;
        for (int k = 0; k < 3; k++) cnt[k] += r.mismatches[k];
        device_pi(r, cnt, &dev_total);
        other += r.io_errors - std::min(r.io_errors, dev_total) + r.audit_bad;
        files.push_back(file_json(r));
    }
    Json mm = Json::array(), first = Json::array();
    for (const MismatchRecord& m : *in.mismatches) {
        mm.push_back({{"file", m.fileno}, {"lba", m.m.lba}, {"field", field_name(m.m.field)}, {"got", m.m.got},
                      {"want", m.m.want}});
        // The first records again in the analysis schema (hex strings).
        if (first.size() < 64)
            first.push_back(
                {{"lba", m.m.lba}, {"field", field_name(m.m.field)}, {"got", hex(m.m.got)}, {"want", hex(m.m.want)}});
    }
    // Injected LBAs: sorted, one entry per (file, lba, kind).
    std::vector<InjectRecord> inj = *in.injected;
    auto key = [](const InjectRecord& r) { return std::tie(r.fileno, r.lba, r.kind); };
    std::sort(inj.begin(), inj.end(), [&](const InjectRecord& a, const InjectRecord& b) { return key(a) < key(b); });
    inj.erase(std::unique(inj.begin(), inj.end(),
                          [&](const InjectRecord& a, const InjectRecord& b) { return key(a) == key(b); }),
              inj.end());
    Json injected = Json::array();
    for (const InjectRecord& r : inj)
        injected.push_back({{"file", r.fileno}, {"lba", r.lba}, {"field", inject_kind_name(r.kind)}});

    Json errs = Json::array();
    if (in.io_errors)
        for (const IoErrorRecord& e : *in.io_errors) {
            static const char* const ops[] = {"read", "write", "flush"};
            Json j{{"file", e.fileno}, {"op", ops[e.dir < 3 ? e.dir : 0]}, {"lba", e.lba}, {"nlb", e.nlb},
                   {"errno", e.err}, {"error", strerrorname_np(e.err) ? strerrorname_np(e.err) : "?"}};
            if (e.status >= 0) {
                j["nvme_status"] = hex(uint64_t(e.status));
                j["status_name"] = e.name ? e.name : "unknown status";
            }
            errs.push_back(j);
        }
    Json checks = Json::object();
    if (in.verdict)
        checks = {{"verdict", in.verdict->fail        ? "fail: nothing checked"
                              : in.verdict->note      ? "all escaped"
                              : in.verdict->unchecked ? "diagnostic: reads not checked"
                                                      : "ok"},
                  {"message", in.verdict->msg}};
    const Json doc{
        {"engine", "pifio"},
        {"job", in.job},
        {"counts",
         {{"guard", cnt[0]}, {"apptag", cnt[1]}, {"reftag", cnt[2]}, {"other", other},
          {"total", cnt[0] + cnt[1] + cnt[2] + other}}},
        {"options",
         {{"pi_act", int(o.pi_act)},
          {"pi_chk", pi_chk_to_string(o.pi_chk)},
          {"pi_verify", int(o.pi_verify)},
          {"host_checks", pi_chk_to_string(host_checks(o))},
          {"apptag", o.apptag},
          {"apptag_mask", o.apptag_mask},
          {"pi_reftag", o.pi_reftag}}},
        {"files", files},
        {"mismatch_records", mm},
        {"mismatch_records_dropped", in.mismatches_dropped},
        {"first_mismatches", first},
        {"injected", injected},
        {"injected_records_dropped", in.injected_dropped},
        {"io_error_records", errs},
        {"io_error_records_dropped", in.io_errors_dropped},
        {"checks", checks},
        {"teardown", {{"inflight", in.teardown.inflight}, {"open_fds", in.teardown.open_fds}}},
    };
    // Strings the job gave (paths, the job name) need not be UTF-8: replace
    // what is not rather than throw.
    return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Error write_report(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    errno = 0;
    FILE* fp = fopen(tmp.c_str(), "w");
    bool ok = fp && fwrite(text.data(), 1, text.size(), fp) == text.size();
    if (fp && fclose(fp) != 0) ok = false;
    if (ok && rename(tmp.c_str(), path.c_str()) != 0) ok = false;
    if (ok) return {};
    const int e = errno ? errno : EIO;
    return {e, "pi_report=" + path + ": " + strerror(e)};
}

std::string report_path(const std::string& path, unsigned subjob, unsigned numjobs) {
    // fio gives clones numjobs=1 and subjob_number 1..n-1; the first job keeps
    // numjobs=n, subjob 0. The analysis store pairs <job>.<n>.pi.json with
    // <job>.json and sums them.
    if (path.empty() || (numjobs <= 1 && subjob == 0)) return path;
    std::string p = path;
    const std::string sfx = "." + std::to_string(subjob);
    const std::string pi = ".pi.json";
    if (p.size() > pi.size() && p.compare(p.size() - pi.size(), pi.size(), pi) == 0)
        p.insert(p.size() - pi.size(), sfx);
    else
        p += sfx;
    return p;
}

}  // namespace pifio
