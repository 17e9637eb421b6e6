// pi_report: the JSON schema analysis/meta.py reads, the totals by field
// (userspace mismatches + device PI statuses via the status table), and the
// per-clone file names.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "backend/report.hpp"
#include "nvme/cmd.hpp"

using namespace pifio;
using nlohmann::json;

namespace {

Report::StatusCount status(uint16_t code, uint64_t n) {
    const nvme::StatusInfo* s = nvme::status_info(code);
    return {code, n, s ? s->name : nullptr, s ? s->field : int8_t(-1)};
}

struct Fixture {
    EngineOptions o;
    std::vector<Report> files;
    std::vector<MismatchRecord> mm;
    std::vector<InjectRecord> inj;
    ReportInput in() const {
        ReportInput r;
        r.job = "read \"verify\"\n";
        r.opts = &o;
        r.files = &files;
        r.mismatches = &mm;
        r.mismatches_dropped = 3;
        r.injected = &inj;
        r.injected_dropped = 0;
        return r;
    }
};

Fixture sample() {
    Fixture f;
    f.o.pi_act = false;
    f.o.pi_chk = CHK_GUARD | CHK_REF;
    f.o.pi_reftag = 0x10;
    Report a;
    a.path = "/dev/ng0n1";
    a.desc = "nvme passthrough, nsid 1";
    a.reads = 10;
    a.writes = 4;
    a.blocks_verified = 80;
    a.blocks_escaped = 2;
    a.bad_blocks = 1;
    a.mismatches[0] = 1;
    a.io_errors = 3;
    a.status[0] = status(0x283, 2);   // app tag check error: counts as apptag
    a.status[1] = status(0x002, 1);   // not PI: "other"
    a.nstatus = 2;
    a.injected = 2;
    Report b;
    b.path = "/dev/dm-0";
    b.audit_bad = 4;
    b.mismatches[2] = 5;
    f.files = {a, b};
    f.mm = {{0, Mismatch{0, 7, Field::guard, 0xabcd, 0x1234}}, {1, Mismatch{1, 9, Field::ref, 1ull << 40, 9}}};
    f.inj = {{0, InjectKind::data, 9}, {0, InjectKind::guard, 3}, {0, InjectKind::data, 9}};
    return f;
}

}  // namespace

TEST(PiReport, SchemaAndCounts) {
    const Fixture f = sample();
    const json j = json::parse(report_json(f.in()));
    EXPECT_EQ(j["engine"], "pifio");
    EXPECT_EQ(j["job"], "read \"verify\"\n");
    // guard: 1 mismatch; apptag: the device's 0x283 x2; reftag: 5 mismatches;
    // other: 3 io_errors - 2 PI statuses + 4 audit bad blocks.
    EXPECT_EQ(j["counts"], json::parse(R"({"guard": 1, "apptag": 2, "reftag": 5, "other": 5, "total": 13})"));
    EXPECT_EQ(j["options"], json::parse(R"({"pi_act": 0, "pi_chk": "GUARD,REFTAG", "pi_verify": 1,
        "host_checks": "GUARD,REFTAG", "apptag": 4660, "apptag_mask": 65535, "pi_reftag": 16})"));
    ASSERT_EQ(j["files"].size(), 2u);
    const json& a = j["files"][0];
    EXPECT_EQ(a["file"], "/dev/ng0n1");
    EXPECT_EQ(a["target"], "nvme passthrough, nsid 1");
    EXPECT_EQ(a["reads"], 10);
    EXPECT_EQ(a["writes"], 4);
    EXPECT_EQ(a["blocks_verified"], 80);
    EXPECT_EQ(a["blocks_escaped"], 2);
    EXPECT_EQ(a["bad_blocks"], 1);
    EXPECT_EQ(a["mismatches"], json::parse(R"({"guard": 1, "apptag": 0, "reftag": 0})"));
    EXPECT_EQ(a["audit_bad_blocks"], 0);
    EXPECT_EQ(a["io_errors"], 3);
    EXPECT_EQ(a["device_status"],
              json::parse(R"({"0x283 application tag check error": 2, "0x002 invalid field in command": 1})"));
    EXPECT_EQ(a["injected"], 2);
    EXPECT_EQ(j["files"][1]["device_status"], json::object());
    EXPECT_EQ(j["files"][1]["audit_bad_blocks"], 4);
    // Records: numbers in mismatch_records, hex strings in first_mismatches.
    EXPECT_EQ(j["mismatch_records"][1],
              json::parse(R"({"file": 1, "lba": 9, "field": "reftag", "got": 1099511627776, "want": 9})"));
    EXPECT_EQ(j["mismatch_records_dropped"], 3);
    EXPECT_EQ(j["first_mismatches"][0],
              json::parse(R"({"lba": 7, "field": "guard", "got": "0xabcd", "want": "0x1234"})"));
    // Injected: sorted by (file, lba, kind), duplicates once.
    EXPECT_EQ(j["injected"], json::parse(R"([{"file": 0, "lba": 3, "field": "guard"},
                                             {"file": 0, "lba": 9, "field": "data"}])"));
    EXPECT_EQ(j["injected_records_dropped"], 0);
    // Key order as written before the JSON library (diffs of old reports stay readable).
    const auto oj = nlohmann::ordered_json::parse(report_json(f.in()));
    std::vector<std::string> keys;
    for (auto it = oj.begin(); it != oj.end(); ++it) keys.push_back(it.key());
    std::vector<std::string> sorted = keys;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_NE(keys, sorted);
    EXPECT_EQ(keys.front(), "engine");
    EXPECT_EQ(keys.back(), "teardown");   // the keys added since come after the old ones
    EXPECT_EQ(j["teardown"], json::parse(R"({"inflight": 0, "open_fds": 0})"));
    EXPECT_EQ(j["io_error_records"], json::array());
}

TEST(PiReport, FirstMismatchesCappedAt64) {
    Fixture f = sample();
    f.mm.clear();
    for (uint32_t i = 0; i < 100; i++) f.mm.push_back({0, Mismatch{i, i, Field::app, 1, 2}});
    const json j = json::parse(report_json(f.in()));
    EXPECT_EQ(j["mismatch_records"].size(), 100u);
    EXPECT_EQ(j["first_mismatches"].size(), 64u);
}

TEST(PiReport, NotUtf8JobNameStillWrites) {
    Fixture f = sample();
    ReportInput in = f.in();
    in.job = "job\xff";
    const json j = json::parse(report_json(in));
    EXPECT_EQ(j["job"], "job\xef\xbf\xbd");
}

TEST(PiReport, ErrorsCountPiOnly) {
    const Fixture f = sample();
    // 1 + 5 mismatches, 2 device PI statuses, 4 audit: not the 0x002 status.
    EXPECT_EQ(pi_errors(f.files), 12u);
    EXPECT_EQ(pi_errors({}), 0u);
    Report r;
    r.status[0] = status(0x181, 1);   // invalid PI: an error for fio, not a field check
    r.nstatus = 1;
    r.io_errors = 1;
    EXPECT_EQ(pi_errors({r}), 0u);
}

TEST(PiReport, WriteAndPaths) {
    char dir[] = "/tmp/pifio-report-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string p = std::string(dir) + "/x.pi.json";
    EXPECT_FALSE(write_report(p, "{}\n"));
    std::ifstream in(p);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, "{}\n");
    EXPECT_NE(access((p + ".tmp").c_str(), F_OK), 0);
    Error e = write_report(std::string(dir) + "/no/such/dir/r.json", "{}");
    EXPECT_EQ(e.err, ENOENT);
    EXPECT_NE(e.msg.find("pi_report="), std::string::npos) << e.msg;
    unlink(p.c_str());
    rmdir(dir);

    EXPECT_EQ(report_path("x.pi.json", 0, 1), "x.pi.json");
    EXPECT_EQ(report_path("x.pi.json", 0, 4), "x.0.pi.json");
    EXPECT_EQ(report_path("x.pi.json", 3, 1), "x.3.pi.json");
    EXPECT_EQ(report_path("r.json", 2, 1), "r.json.2");
    EXPECT_EQ(report_path(".pi.json", 1, 1), ".pi.json.1");
    EXPECT_EQ(report_path("", 1, 4), "");
}

// The end-of-job verdict on the checks (engine/fio/README.md "Verified nothing").
TEST(CheckVerdict, FailsOnlyWhenChecksWereAskedAndNoneWasDone) {
    auto file = [](uint64_t reads, uint64_t read_ios, uint64_t writes, uint64_t write_ios, uint64_t verified,
                   uint64_t escaped) {
        Report r;
        r.reads = reads;
        r.read_ios = read_ios;
        r.writes = writes;
        r.write_ios = write_ios;
        r.blocks_verified = verified;
        r.blocks_escaped = escaped;
        return r;
    };
    const uint8_t host = kAskedHost, dev = kAskedDevice, both = kAskedHost | kAskedDevice;
    // Every read failed (continue_on_error): host and device checks asked, none done.
    auto v = check_verdict({file(0, 40, 0, 0, 0, 0)}, {both}, false, "j");
    EXPECT_TRUE(v.fail);
    EXPECT_NE(v.msg.find("40 I/O(s), every one failed"), std::string::npos) << v.msg;
    // A read-only job that read nothing.
    v = check_verdict({file(0, 0, 0, 0, 0, 0)}, {host}, false, "j");
    EXPECT_TRUE(v.fail);
    EXPECT_NE(v.msg.find("read nothing"), std::string::npos);
    // Every write failed with device checks asked.
    EXPECT_TRUE(check_verdict({file(0, 0, 0, 9, 0, 0)}, {dev}, true, "j").fail);
    // A write-only job whose writes the device checked: fine (fio's write tests).
    EXPECT_FALSE(check_verdict({file(0, 0, 9, 9, 0, 0)}, {both}, true, "j").fail);
    // A write job that issued no read and whose writes all failed without device checks
    // asked (pi_chk=NONE, pi_host_chk=...): the host checks were asked and nothing was checked.
    EXPECT_TRUE(check_verdict({file(0, 0, 0, 5, 0, 0)}, {host}, true, "j").fail);
    // Host checks asked, a mixed job that happened to read nothing, writes unchecked by the
    // device (pi_chk=NONE): no I/O failed and the job writes: not failed.
    EXPECT_FALSE(check_verdict({file(0, 0, 7, 7, 0, 0)}, {host}, true, "j").fail);
    // fio's tests 316/317: every block read escaped: a note, never a failure.
    v = check_verdict({file(10, 10, 0, 0, 80, 80)}, {both}, false, "j");
    EXPECT_FALSE(v.fail);
    EXPECT_TRUE(v.note);
    EXPECT_NE(v.msg.find("all 80 blocks read were escaped"), std::string::npos);
    // One block checked: neither.
    v = check_verdict({file(10, 12, 0, 0, 80, 79)}, {both}, false, "j");
    EXPECT_FALSE(v.fail || v.note);
    // Nothing asked (no PI, or pi_verify=0 and pi_chk=NONE): never a verdict.
    v = check_verdict({file(0, 40, 0, 0, 0, 0)}, {0}, false, "j");
    EXPECT_FALSE(v.fail || v.note);
    // A second file that verified makes the job fine.
    EXPECT_FALSE(check_verdict({file(0, 4, 0, 0, 0, 0), file(2, 2, 0, 0, 16, 0)}, {both, both}, false, "j").fail);
    // The timing diagnostics (pi_verify_crc_only, pi_verify_time=2): reads that ran
    // the raw CRC instead of the checks are said, never an unqualified ok.
    Report c = file(10, 10, 0, 0, 40, 0);
    c.crc_only_reads = 5;
    v = check_verdict({c}, {both}, false, "j");
    EXPECT_TRUE(v.unchecked && !v.fail && !v.note);
    EXPECT_NE(v.msg.find("5 read(s) ran the raw guard CRC"), std::string::npos) << v.msg;
    EXPECT_FALSE(check_verdict({file(10, 10, 0, 0, 40, 0)}, {both}, false, "j").unchecked);
}

// pi_verify_time's histogram: every tick count lands in the bucket whose
// middle maps back to it, buckets are ordered, and a bucket is at most 1/16
// of its value wide (the median's precision).
TEST(VerifyHist, BucketsRoundTripAndAreNarrow) {
    unsigned last = 0;
    for (uint64_t v : {0ull, 1ull, 15ull, 16ull, 17ull, 31ull, 32ull, 100ull, 255ull, 256ull, 1000ull, 123456ull,
                       (1ull << 40) + 5, ~0ull}) {
        const unsigned b = pifio::verify_hist_bucket(v);
        ASSERT_LT(b, pifio::kVerifyHistBuckets) << v;
        EXPECT_GE(b, last) << v;
        last = b;
        EXPECT_EQ(pifio::verify_hist_bucket(uint64_t(pifio::verify_hist_mid(b))), b) << v;
        if (v >= 16) {
            EXPECT_LE(std::abs(pifio::verify_hist_mid(b) - double(v)), double(v) / 16) << v;
        }
    }
    for (uint64_t v = 0; v < 5000; v++) EXPECT_LE(pifio::verify_hist_bucket(v), pifio::verify_hist_bucket(v + 1));
}
