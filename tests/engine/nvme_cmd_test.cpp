// NVMe command building: every field of the command for each kind of format.
#include <cerrno>
#include <gtest/gtest.h>
#include <liburing.h>

#include "backend/nvme_backend.hpp"
#include "nvme/cmd.hpp"

using namespace pifio;
using namespace pifio::nvme;

namespace {

Format fmt(const char* spec) {
    auto f = parse_format(spec);
    EXPECT_TRUE(f.ok()) << spec << ": " << f.error.msg;
    return f.value;
}

IoGeom geom(const char* spec, bool pract, uint8_t prchk) {
    IoGeom g;
    g.nsid = 3;
    g.fmt = fmt(spec);
    g.pract = pract;
    g.prchk = prchk;
    g.apptag = 0x1234;
    g.apptag_mask = 0xff0f;
    return g;
}

}  // namespace

TEST(NvmeCmd, ReadType1SeparateMetadata) {
    UringCmd c;
    memset(&c, 0xa5, sizeof c);   // build_rw must clear everything it does not set
    IoGeom g = geom("4096+8/t1", false, CHK_ALL);
    RwArgs a{0x1'2345'6789ull, 8, 0x7000'0000, 8 * 4096, 0x8000'0000, 8 * 8};
    build_rw(c, op_read, g, a);
    EXPECT_EQ(c.opcode, 0x02);
    EXPECT_EQ(c.flags, 0);
    EXPECT_EQ(c.nsid, 3u);
    EXPECT_EQ(c.cdw2, 0u);
    EXPECT_EQ(c.cdw3, 0u);
    EXPECT_EQ(c.addr, 0x7000'0000u);
    EXPECT_EQ(c.data_len, 8u * 4096);
    EXPECT_EQ(c.metadata, 0x8000'0000u);
    EXPECT_EQ(c.metadata_len, 64u);
    EXPECT_EQ(c.cdw10, 0x2345'6789u);
    EXPECT_EQ(c.cdw11, 0x1u);
    // NLB 0-based; PRCHK guard|app|ref = bits 28|27|26; no PRACT.
    EXPECT_EQ(c.cdw12, 7u | (1u << 28) | (1u << 27) | (1u << 26));
    EXPECT_EQ(c.cdw13, 0u);
    EXPECT_EQ(c.cdw14, 0x2345'6789u);          // type 1: ref tag = low 32 bits of SLBA
    EXPECT_EQ(c.cdw15, 0xff0f'1234u);          // mask << 16 | app tag
    EXPECT_EQ(c.timeout_ms, 0u);
}

TEST(NvmeCmd, WriteWithPractOnly) {
    UringCmd c;
    IoGeom g = geom("512+8/t3/first", true, 0);
    build_rw(c, op_write, g, RwArgs{100, 1, 0x1000, 512, 0, 0});
    EXPECT_EQ(c.opcode, 0x01);
    EXPECT_EQ(c.cdw12, (1u << 29));            // PRACT, NLB 0
    EXPECT_EQ(c.cdw14, 0u);                    // type 3: no reference tag
    EXPECT_EQ(c.metadata, 0u);
    EXPECT_EQ(c.metadata_len, 0u);
}

TEST(NvmeCmd, Type2InitialRefTagFromBase) {
    UringCmd c;
    IoGeom g = geom("4096+8/t2", false, CHK_REF);
    g.reftag_base = 0x1000'0000;
    build_rw(c, op_write, g, RwArgs{0x20, 2, 0x1000, 8192, 0x2000, 16});
    EXPECT_EQ(c.cdw14, 0x1000'0020u);
    EXPECT_EQ(c.cdw12, 1u | (1u << 26));
    // 32-bit wrap.
    g.reftag_base = 0xffff'fff0;
    build_rw(c, op_write, g, RwArgs{0x20, 1, 0x1000, 4096, 0x2000, 8});
    EXPECT_EQ(c.cdw14, 0x10u);
}

TEST(NvmeCmd, Guard64CarriesRefTagBits47to32InCdw3) {
    UringCmd c;
    IoGeom g = geom("4096+16/t1/g64", false, CHK_ALL);
    build_rw(c, op_read, g, RwArgs{0xabcd'1234'5678ull, 1, 0x1000, 4096, 0x2000, 16});
    EXPECT_EQ(c.cdw14, 0x1234'5678u);
    EXPECT_EQ(c.cdw3, 0xabcdu);
    EXPECT_EQ(c.cdw2, 0u);
    // Above 48 bits the LBA does not fit the tag: masked.
    build_rw(c, op_read, g, RwArgs{0x7'abcd'1234'5678ull, 1, 0x1000, 4096, 0x2000, 16});
    EXPECT_EQ(c.cdw3, 0xabcdu);
    EXPECT_EQ(c.cdw11, 0x7abcdu);
}

TEST(NvmeCmd, NoPiFormatHasNoPiFields) {
    UringCmd c;
    IoGeom g = geom("4096+0", true, 0);
    build_rw(c, op_write, g, RwArgs{5, 4, 0x1000, 16384, 0, 0});
    EXPECT_EQ(c.cdw12, 3u);
    EXPECT_EQ(c.cdw14, 0u);
    EXPECT_EQ(c.cdw15, 0u);
    EXPECT_EQ(c.cdw3, 0u);
}

TEST(NvmeCmd, ExtendedLbaHasNoMetadataPointer) {
    UringCmd c;
    IoGeom g = geom("512+8/t1/ext", false, CHK_GUARD);
    build_rw(c, op_write, g, RwArgs{7, 8, 0x1000, 8 * 520, 0, 0});
    EXPECT_EQ(c.data_len, 8u * 520);
    EXPECT_EQ(c.metadata, 0u);
    EXPECT_EQ(c.metadata_len, 0u);
    EXPECT_EQ(c.cdw12, 7u | (1u << 28));
}

TEST(NvmeCmd, Flush) {
    UringCmd c;
    memset(&c, 0xff, sizeof c);
    build_flush(c, 9);
    EXPECT_EQ(c.opcode, 0x00);
    EXPECT_EQ(c.nsid, 9u);
    EXPECT_EQ(c.cdw10, 0u);
    EXPECT_EQ(c.addr, 0u);
}

TEST(NvmeStatus, DecodeAndName) {
    // Kernel passes (status field >> 1): DNR is bit 14, More bit 13.
    Status s = decode_status(0x4282);
    EXPECT_EQ(s.sct, 2);
    EXPECT_EQ(s.sc, 0x82);
    EXPECT_TRUE(s.dnr);
    EXPECT_EQ(s.code(), 0x282);
    EXPECT_STREQ(status_name(0x282), "guard check error");
    EXPECT_STREQ(status_name(0x283), "application tag check error");
    EXPECT_STREQ(status_name(0x284), "reference tag check error");
    EXPECT_STREQ(status_name(0x181), "invalid protection information");
    EXPECT_STREQ(status_name(0x002), "invalid field in command");
    EXPECT_EQ(status_name(0x2ff), nullptr);
    EXPECT_EQ(status_errno(0x282), EILSEQ);
    EXPECT_EQ(status_errno(0x181), EILSEQ);
    EXPECT_EQ(status_errno(0x002), EIO);
}

TEST(NvmeGeometry, PractStripsTupleOnlyMetadata) {
    // PRACT with ms == tuple: nothing transferred, bs is data only.
    Geometry g = make_geometry(fmt("512+8/t1/ext"), true, 100);
    EXPECT_EQ(g.xfer_ms, 0u);
    EXPECT_EQ(g.stride, 512u);
    EXPECT_FALSE(g.host_pi());
    // PRACT with ms > tuple: metadata still travels.
    g = make_geometry(fmt("4096+64/t2/g64/first"), true, 100);
    EXPECT_EQ(g.xfer_ms, 64u);
    EXPECT_EQ(g.md_stride, 64u);
    EXPECT_TRUE(g.host_pi());
    g = make_geometry(fmt("512+8/t1/ext"), false, 100);
    EXPECT_EQ(g.stride, 520u);
    EXPECT_EQ(g.size(), 52000u);
}

TEST(NvmeStatus, TableGivesFieldAndErrno) {
    const StatusInfo* g = status_info(0x282);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->field, int8_t(pifio::Field::guard));
    EXPECT_EQ(status_info(0x283)->field, int8_t(pifio::Field::app));
    EXPECT_EQ(status_info(0x284)->field, int8_t(pifio::Field::ref));
    EXPECT_EQ(status_info(0x181)->field, -1);
    EXPECT_EQ(status_info(0x181)->err, EILSEQ);
    EXPECT_EQ(status_info(0x285)->field, -1);
    EXPECT_EQ(status_info(0x2ff), nullptr);
    EXPECT_EQ(status_errno(0x2ff), EIO);
    EXPECT_TRUE(status_is_pi_check(0x283));
    EXPECT_FALSE(status_is_pi_check(0x181));
    EXPECT_FALSE(status_is_pi_check(0x281));
}

TEST(RefSeed, OneRuleForEveryCaller) {
    const Format t1 = fmt("512+8/t1"), t2 = fmt("512+8/t2"), t3 = fmt("512+8/t3"), t2w = fmt("4096+16/t2/g64");
    EXPECT_EQ(pifio::ref_seed(t1, 0x1'2345'6789ull, 99), 0x2345'6789u);   // type 1: the LBA, 32 bits
    EXPECT_EQ(pifio::ref_seed(t2, 5, 0xffff'fffeull), 3u);                // type 2: base + LBA, wraps
    EXPECT_EQ(pifio::ref_seed(t2w, 5, 0xffff'ffff'fffeull), 3u);          // 48 bits
    EXPECT_EQ(pifio::ref_seed(t3, 0x10, 99), 0x10u);                      // type 3: written as the LBA
    IoGeom g;
    g.fmt = t3;
    EXPECT_EQ(initial_reftag(g, 0x10), 0u);   // ... but the command carries none
    g.fmt = t2;
    g.reftag_base = 0x100;
    EXPECT_EQ(initial_reftag(g, 1), pifio::ref_seed(t2, 1, 0x100));
}
