// Format discovery from Identify data (no device: the structures are built here).
#include <cstring>
#include <gtest/gtest.h>
#include <libnvme.h>

#include "nvme/identify.hpp"

using namespace pifio;
using namespace pifio::nvme;

namespace {

struct nvme_id_ns ns_with(uint8_t idx, uint8_t ds, uint16_t ms, bool ext, uint8_t dps) {
    struct nvme_id_ns ns;
    memset(&ns, 0, sizeof ns);
    ns.nlbaf = 7;   // 0's based: 8 formats
    ns.flbas = uint8_t((idx & 0xf) | (ext ? NVME_NS_FLBAS_META_EXT : 0));
    ns.lbaf[idx].ds = ds;
    ns.lbaf[idx].ms = htole16(ms);
    ns.dps = dps;
    ns.nsze = htole64(1000);
    return ns;
}

}  // namespace

TEST(Identify, SeparateType1Guard16) {
    auto ns = ns_with(2, 12, 8, false, 1);
    auto f = format_from_identify(ns, nullptr);
    ASSERT_TRUE(f.ok()) << f.error.msg;
    EXPECT_EQ(format_to_short(f.value), "4096+8/t1");
}

TEST(Identify, ExtendedType3First) {
    auto ns = ns_with(1, 9, 8, true, 3 | NVME_NS_DPS_PI_FIRST);
    auto f = format_from_identify(ns, nullptr);
    ASSERT_TRUE(f.ok()) << f.error.msg;
    EXPECT_EQ(f.value.layout, Layout::ext);
    EXPECT_EQ(f.value.loc, PiLoc::first);
    EXPECT_EQ(f.value.pi_type, 3);
    EXPECT_EQ(f.value.data_size, 512u);
}

TEST(Identify, Guard64FromElbaf) {
    auto ns = ns_with(0, 12, 64, false, 2 | NVME_NS_DPS_PI_FIRST);
    uint32_t elbaf = 2u << 7;   // pif = 64b guard, sts = 0
    auto f = format_from_identify(ns, &elbaf);
    ASSERT_TRUE(f.ok()) << f.error.msg;
    EXPECT_EQ(format_to_short(f.value), "4096+64/t2/g64/first");
}

TEST(Identify, RejectsStorageTagAnd32bGuard) {
    auto ns = ns_with(0, 12, 16, false, 1);
    uint32_t elbaf = (2u << 7) | 8;   // 8-bit storage tag
    auto f = format_from_identify(ns, &elbaf);
    EXPECT_FALSE(f.ok());
    EXPECT_NE(f.error.msg.find("storage tag"), std::string::npos) << f.error.msg;
    elbaf = 1u << 7;
    f = format_from_identify(ns, &elbaf);
    EXPECT_FALSE(f.ok());
    EXPECT_NE(f.error.msg.find("32b"), std::string::npos) << f.error.msg;
}

TEST(Identify, NoMetadataMeansNoPi) {
    auto ns = ns_with(0, 12, 0, false, 1);   // dps says type 1 but ms is 0
    auto f = format_from_identify(ns, nullptr);
    ASSERT_TRUE(f.ok()) << f.error.msg;
    EXPECT_EQ(format_to_short(f.value), "4096+0");
}

TEST(Identify, FormatIndexUpperBits) {
    auto ns = ns_with(0, 12, 8, false, 1);
    ns.nlbaf = 31;
    ns.flbas = 0x2 | (1 << 5);   // index 0x12
    ns.lbaf[0x12].ds = 9;
    ns.lbaf[0x12].ms = htole16(16);
    EXPECT_EQ(lbaf_index(ns), 0x12);
    ns.nlbaf = 7;                // <= 16 formats: bits 6:5 are not part of the index
    EXPECT_EQ(lbaf_index(ns), 0x2);
}
