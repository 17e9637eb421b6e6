// Option parsing and the geometry check done at open: every error names a
// value that works, and that value passes.
#include <gtest/gtest.h>

#include "backend/options.hpp"
#include "fio/glue_api.h"

using namespace pifio;

namespace {

Geometry geo(const char* spec, bool pract = false) {
    auto f = parse_format(spec);
    EXPECT_TRUE(f.ok()) << f.error.msg;
    return make_geometry(f.value, pract, 1 << 20);
}

JobShape shape(uint64_t bs, bool reads = true, bool writes = true) {
    JobShape j;
    j.min_bs[0] = j.max_bs[0] = j.min_bs[1] = j.max_bs[1] = bs;
    j.reads = reads;
    j.writes = writes;
    return j;
}

EngineOptions host_pi() {
    EngineOptions o;
    o.pi_act = false;
    return o;
}

}  // namespace

TEST(PiChk, Parse) {
    EXPECT_EQ(parse_pi_chk("GUARD,REFTAG,APPTAG").value, CHK_ALL);
    EXPECT_EQ(parse_pi_chk("guard").value, CHK_GUARD);
    EXPECT_EQ(parse_pi_chk(" APPTAG , GUARD ").value, CHK_APP | CHK_GUARD);
    EXPECT_EQ(parse_pi_chk("").value, 0);
    EXPECT_TRUE(parse_pi_chk("NONE").ok());
    EXPECT_EQ(parse_pi_chk("NONE").value, 0);
    EXPECT_FALSE(parse_pi_chk("NONE,GUARD").ok());
    // fio matches the words anywhere in the string: empty items mean nothing
    // (its t/nvmept_pi.py writes "APPTAG,GUARD," for type 3).
    EXPECT_EQ(parse_pi_chk("APPTAG,GUARD,").value, CHK_APP | CHK_GUARD);
    EXPECT_EQ(parse_pi_chk(",REFTAG,,").value, CHK_REF);
    EXPECT_TRUE(parse_pi_chk(",,").ok());
    EXPECT_EQ(parse_pi_chk(",,").value, 0);
    // Any case is read; a word not in upper case gets a note (fio would ignore it).
    std::string note;
    EXPECT_EQ(parse_pi_chk("GUARD,apptag", &note).value, CHK_GUARD | CHK_APP);
    EXPECT_NE(note.find("upper case"), std::string::npos) << note;
    EXPECT_EQ(parse_pi_chk("GUARD,APPTAG", &note).value, CHK_GUARD | CHK_APP);
    EXPECT_TRUE(note.empty()) << note;
    auto r = parse_pi_chk("GUARD,CRC");
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.error.msg.find("'CRC'"), std::string::npos) << r.error.msg;
    EXPECT_EQ(pi_chk_to_string(CHK_ALL), "GUARD,REFTAG,APPTAG");
}

TEST(PiInject, Parse) {
    auto r = parse_pi_inject("guard:0.01");
    ASSERT_TRUE(r.ok()) << r.error.msg;
    ASSERT_EQ(r.value.size(), 1u);
    EXPECT_EQ(r.value[0].kind, InjectKind::guard);
    EXPECT_DOUBLE_EQ(r.value[0].fraction, 0.01);
    r = parse_pi_inject("reftag:1,apptag:0.5,data:0.25");
    ASSERT_TRUE(r.ok()) << r.error.msg;
    EXPECT_EQ(r.value[0].threshold, UINT64_MAX);
    EXPECT_EQ(r.value[1].kind, InjectKind::app);
    EXPECT_EQ(r.value[1].threshold, 1ull << 63);
    EXPECT_EQ(r.value[2].kind, InjectKind::data);
    for (const char* bad : {"guard", "guard:0", "guard:1.5", "guard:x", "crc:0.1", "guard:0.1,guard:0.2", "guard:",
                            "ref:1e-32"}) {   // below 2^-64: would corrupt no block
        auto b = parse_pi_inject(bad);
        EXPECT_FALSE(b.ok()) << bad;
        EXPECT_NE(b.error.msg.find("pi_inject"), std::string::npos) << b.error.msg;
    }
}

TEST(Geometry, GoodJobsPass) {
    uint32_t md = 0;
    EXPECT_FALSE(check_geometry("ng", geo("4096+8/t1"), host_pi(), shape(4096), &md));
    EXPECT_EQ(md, 8u);
    EXPECT_FALSE(check_geometry("ng", geo("4096+8/t1"), host_pi(), shape(128 << 10), &md));
    EXPECT_EQ(md, 32u * 8);
    EXPECT_FALSE(check_geometry("ng", geo("512+8/t1/ext"), host_pi(), shape(520 * 8), &md));
    EXPECT_EQ(md, 0u);
    EXPECT_FALSE(check_geometry("ng", geo("4096+0"), EngineOptions{}, shape(8192), &md));
    EXPECT_EQ(md, 0u);
    // PRACT on a tuple-only format: no metadata buffer at all.
    EXPECT_FALSE(check_geometry("ng", geo("4096+8/t1", true), EngineOptions{}, shape(4096), &md));
    EXPECT_EQ(md, 0u);
}

TEST(Geometry, BlockSizeNotMultipleSuggestsExtendedSize) {
    uint32_t md = 0;
    Error e = check_geometry("/dev/ng0n5", geo("512+8/t1/ext"), host_pi(), shape(4096), &md);
    ASSERT_TRUE(e);
    EXPECT_EQ(e.err, EINVAL);
    EXPECT_NE(e.msg.find("/dev/ng0n5"), std::string::npos) << e.msg;
    EXPECT_NE(e.msg.find("use bs=4160"), std::string::npos) << e.msg;   // 8 x 520
    EXPECT_FALSE(check_geometry("/dev/ng0n5", geo("512+8/t1/ext"), host_pi(), shape(4160), &md));
}

TEST(Geometry, BlockSizeBelowLbaSize) {
    uint32_t md = 0;
    Error e = check_geometry("ng", geo("4096+8/t1"), host_pi(), shape(512), &md);
    ASSERT_TRUE(e);
    EXPECT_NE(e.msg.find("use bs=4096"), std::string::npos) << e.msg;
}

TEST(Geometry, MetadataBufferTooSmall) {
    uint32_t md = 0;
    EngineOptions o = host_pi();
    o.md_per_io_size = 8;
    Error e = check_geometry("ng", geo("4096+16/t1/g64"), o, shape(16384), &md);
    ASSERT_TRUE(e);
    EXPECT_NE(e.msg.find("use md_per_io_size=64"), std::string::npos) << e.msg;
    o.md_per_io_size = 64;
    EXPECT_FALSE(check_geometry("ng", geo("4096+16/t1/g64"), o, shape(16384), &md));
    EXPECT_EQ(md, 64u);
}

TEST(Geometry, MetadataBufferOnAFormatWithoutMetadata) {
    uint32_t md = 0;
    EngineOptions o;
    o.md_per_io_size = 4096;
    Error e = check_geometry("/dev/loop0", geo("512+0"), o, shape(4096), &md);
    ASSERT_TRUE(e);
    EXPECT_NE(e.msg.find("md_per_io_size=4096"), std::string::npos) << e.msg;
    EXPECT_NE(e.msg.find("drop md_per_io_size"), std::string::npos) << e.msg;
    // With metadata that PRACT strips (nothing moves), it stays accepted, as fio's.
    o = EngineOptions{};
    o.md_per_io_size = 8;
    EXPECT_FALSE(check_geometry("ng", geo("4096+8/t1"), o, shape(4096), &md));
}

TEST(Geometry, OptionsInconsistentWithFormat) {
    uint32_t md = 0;
    EngineOptions o = host_pi();
    o.pi_chk = CHK_GUARD;
    Error e = check_geometry("ng", geo("4096+0"), o, shape(4096), &md);
    ASSERT_TRUE(e);
    EXPECT_NE(e.msg.find("drop pi_chk"), std::string::npos) << e.msg;

    o.pi_chk = CHK_ALL;
    e = check_geometry("ng", geo("512+8/t3"), o, shape(4096), &md);
    ASSERT_TRUE(e);
    EXPECT_NE(e.msg.find("use pi_chk=GUARD,APPTAG"), std::string::npos) << e.msg;

    o = host_pi();
    o.pi_reftag_set = true;
    o.pi_reftag = 5;
    e = check_geometry("ng", geo("4096+8/t1"), o, shape(4096), &md);
    ASSERT_TRUE(e);
    EXPECT_NE(e.msg.find("type 2 only"), std::string::npos) << e.msg;
    EXPECT_FALSE(check_geometry("ng", geo("4096+8/t2"), o, shape(4096), &md));
    o.pi_reftag = 1ull << 32;
    EXPECT_TRUE(check_geometry("ng", geo("4096+8/t2"), o, shape(4096), &md));
    EXPECT_FALSE(check_geometry("ng", geo("4096+16/t2/g64"), o, shape(4096), &md));

    // apptag=0xffff is fio's way to write escaped blocks (t/nvmept_pi.py tests
    // 315-317): accepted, as fio accepts it.
    o = host_pi();
    o.apptag = 0xffff;
    EXPECT_FALSE(check_geometry("ng", geo("4096+8/t1"), o, shape(4096), &md));
    EXPECT_FALSE(check_geometry("ng", geo("512+8/t2"), o, shape(4096), &md));
    o.apptag = 0x10000;
    EXPECT_TRUE(check_geometry("ng", geo("4096+8/t1"), o, shape(4096), &md));
}

// As fio: the host checks the fields pi_chk names; pi_host_chk (ours) names
// another set; pi_verify=0 checks nothing.
TEST(HostChecks, FollowPiChk) {
    EngineOptions o;
    EXPECT_EQ(host_checks(o), 0);
    o.pi_chk = CHK_GUARD | CHK_REF;
    EXPECT_EQ(host_checks(o), CHK_GUARD | CHK_REF);
    o.pi_host_chk = CHK_ALL;
    o.pi_host_chk_set = true;
    EXPECT_EQ(host_checks(o), CHK_ALL);
    o.pi_host_chk = 0;
    EXPECT_EQ(host_checks(o), 0);
    o.pi_verify = false;
    o.pi_host_chk = CHK_ALL;
    EXPECT_EQ(host_checks(o), 0);

    uint32_t md = 0;
    EngineOptions t3 = host_pi();
    t3.pi_chk = CHK_GUARD;
    t3.pi_host_chk = CHK_ALL;
    t3.pi_host_chk_set = true;
    Error e = check_geometry("ng", geo("512+8/t3"), t3, shape(4096), &md);
    ASSERT_TRUE(e);
    EXPECT_NE(e.msg.find("use pi_host_chk=GUARD,APPTAG"), std::string::npos) << e.msg;
    t3.pi_chk = 0;
    e = check_geometry("ng", geo("4096+0"), t3, shape(4096), &md);
    ASSERT_TRUE(e);
    EXPECT_NE(e.msg.find("drop pi_host_chk"), std::string::npos) << e.msg;
}

TEST(Geometry, InjectNeedsHostPiAndWrites) {
    uint32_t md = 0;
    EngineOptions o;
    o.inject = parse_pi_inject("guard:0.1").value;
    o.pi_act = true;
    Error e = check_geometry("ng", geo("4096+8/t1"), o, shape(4096), &md);
    ASSERT_TRUE(e);
    EXPECT_NE(e.msg.find("pi_act=0"), std::string::npos) << e.msg;
    o.pi_act = false;
    e = check_geometry("ng", geo("4096+8/t1"), o, shape(4096, true, false), &md);
    ASSERT_TRUE(e);
    EXPECT_NE(e.msg.find("no writes"), std::string::npos) << e.msg;
    EXPECT_FALSE(check_geometry("ng", geo("4096+8/t1"), o, shape(4096), &md));
    o.inject = parse_pi_inject("reftag:0.1").value;
    EXPECT_TRUE(check_geometry("ng", geo("4096+8/t3"), o, shape(4096), &md));
}

TEST(Geometry, FioVerifyOnExtendedLbaWithHostPi) {
    uint32_t md = 0;
    JobShape j = shape(520);
    j.fio_verify = true;
    Error e = check_geometry("ng", geo("512+8/t1/ext"), host_pi(), j, &md);
    ASSERT_TRUE(e);
    EXPECT_NE(e.msg.find("verify=0"), std::string::npos) << e.msg;
    // Separate metadata: fio's verify and ours coexist.
    EXPECT_FALSE(check_geometry("ng", geo("512+8/t1"), host_pi(), shape(512), &md));
}

TEST(Geometry, TrimRejected) {
    uint32_t md = 0;
    JobShape j = shape(4096);
    j.trims = true;
    EXPECT_TRUE(check_geometry("ng", geo("4096+8/t1"), host_pi(), j, &md));
}

// The option table (engine/fio/options.def) expanded three ways: the C struct
// fio fills, EngineOptions, and the conversion between them.
TEST(OptionTable, DefaultsAndConversion) {
    const EngineOptions d;
    EXPECT_EQ(d.md_per_io_size, 0u);
    EXPECT_TRUE(d.pi_act);
    EXPECT_EQ(d.apptag, 0x1234u);
    EXPECT_EQ(d.apptag_mask, 0xffffu);
    EXPECT_TRUE(d.pi_verify);
    EXPECT_FALSE(d.pi_reftag_set);
    EXPECT_FALSE(d.sqthread_poll_cpu_set);

    pifio_opts c{};
    c.apptag = 0x42;
    c.pi_act = 1;
    c.pi_format = "4096+8/t1";
    c.pi_chk = "GUARD,apptag";
    c.pi_host_chk = "NONE";
    c.pi_inject = "reftag:0.5";
    c.pi_reftag = 7;
    c.pi_reftag_set = 1;
    c.sqthread_poll_cpu = 1;
    c.sqthread_poll_cpu_set = 1;
    c.hipri = 1;
    auto r = options_from_c(c);
    ASSERT_TRUE(r.ok()) << r.error.msg;
    const EngineOptions& o = r.value;
    EXPECT_EQ(o.apptag, 0x42u);
    EXPECT_TRUE(o.pi_act);
    EXPECT_FALSE(o.pi_verify);   // the C struct says 0; fio fills in the table's default
    EXPECT_EQ(o.pi_format, "4096+8/t1");
    EXPECT_EQ(o.pi_chk, CHK_GUARD | CHK_APP);
    ASSERT_EQ(o.notes.size(), 1u);
    EXPECT_NE(o.notes[0].find("upper case"), std::string::npos) << o.notes[0];
    EXPECT_TRUE(o.pi_host_chk_set);
    EXPECT_EQ(o.pi_host_chk, 0);
    ASSERT_EQ(o.inject.size(), 1u);
    EXPECT_EQ(o.inject[0].kind, InjectKind::ref);
    EXPECT_EQ(o.pi_reftag, 7u);
    EXPECT_TRUE(o.pi_reftag_set);
    EXPECT_EQ(o.sqthread_poll_cpu, 1u);
    EXPECT_TRUE(o.sqthread_poll_cpu_set);
    EXPECT_TRUE(o.hipri);
    EXPECT_FALSE(o.fixedbufs);
    EXPECT_TRUE(o.pi_report.empty());
    EXPECT_TRUE(o.pi_mode.empty());

    // A parser's error is the conversion's, named after its option.
    c.pi_host_chk = "GUARD,CRC";
    r = options_from_c(c);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error.msg.rfind("pi_host_chk: unknown check 'CRC'", 0), 0u) << r.error.msg;
    c.pi_host_chk = nullptr;
    c.pi_chk = "CRC";
    r = options_from_c(c);
    EXPECT_EQ(r.error.msg.rfind("pi_chk: unknown check 'CRC'", 0), 0u) << r.error.msg;
    c.pi_chk = nullptr;
    c.pi_inject = "guard:2";
    EXPECT_FALSE(options_from_c(c).ok());
}

// pi_seed (io_uring PI ref-tag seed) and pi_md_offset (unaligned metadata
// buffers): where they apply, and the errors elsewhere.
TEST(Geometry, SeedAndMetadataOffset) {
    uint32_t md = 0;
    EngineOptions o = host_pi();
    o.pi_seed_set = true;
    o.pi_seed = 0x12345678;
    Error e = check_geometry("/dev/ng0n1", geo("4096+8/t1"), o, shape(4096), &md);
    ASSERT_TRUE(e);   // passthrough: the device checks ref = LBA, nobody remaps
    EXPECT_NE(e.msg.find("pi_mode=uring-pi"), std::string::npos) << e.msg;
    EXPECT_NE(e.msg.find("drop pi_seed"), std::string::npos) << e.msg;
    Geometry g = geo("4096+8/t1");
    g.seedable = true;
    EXPECT_FALSE(check_geometry("/dev/nvme0n1", g, o, shape(4096), &md));
    o.pi_seed = 1ull << 32;   // past the 32-bit ref tag of a 16b guard
    e = check_geometry("/dev/nvme0n1", g, o, shape(4096), &md);
    ASSERT_TRUE(e);
    EXPECT_NE(e.msg.find("32-bit reference tag"), std::string::npos) << e.msg;
    Geometry g2 = geo("4096+8/t2");
    g2.seedable = true;
    o.pi_seed = 1;
    e = check_geometry("/dev/nvme0n1", g2, o, shape(4096), &md);
    ASSERT_TRUE(e);
    EXPECT_NE(e.msg.find("use pi_reftag"), std::string::npos) << e.msg;

    o = host_pi();
    o.pi_md_offset = 511;
    EXPECT_FALSE(check_geometry("ng", geo("4096+8/t1"), o, shape(4096), &md));
    o.pi_md_offset = 4096;
    e = check_geometry("ng", geo("4096+8/t1"), o, shape(4096), &md);
    ASSERT_TRUE(e);
    EXPECT_NE(e.msg.find("use 0..4095"), std::string::npos) << e.msg;
}

TEST(Geometry, RefSeedOffset) {
    auto f1 = parse_format("4096+8/t1");
    ASSERT_TRUE(f1.ok());
    EXPECT_EQ(ref_seed(f1.value, 10, 0, 0xffffff80), 0xffffff8aull);
    EXPECT_EQ(ref_seed(f1.value, 0x90, 0, 0xffffff80), 0x10ull);   // wraps at 32 bits
    auto f2 = parse_format("4096+8/t2");
    ASSERT_TRUE(f2.ok());
    EXPECT_EQ(ref_seed(f2.value, 10, 100, 0xffffff80), 110ull);   // type 2: pi_reftag, not the offset
}
