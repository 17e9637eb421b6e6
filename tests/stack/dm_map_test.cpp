// dm table parsing and dm-level -> physical sector mapping (no devices).
#include <gtest/gtest.h>

#include <map>

#include "dm_map.hpp"

using namespace pifio::audit;
using Runs = std::vector<pifio::audit::Run>;

namespace {

class FakeTables : public TableSource {
public:
    void add(DevT d, const std::string& text) {
        auto t = parse_table(text);
        ASSERT_TRUE(t.ok()) << t.error.msg;
        tabs_[d.str()] = t.value;
    }
    pifio::Result<const DmTable*> table(DevT d) override {
        pifio::Result<const DmTable*> r;
        auto it = tabs_.find(d.str());
        r.value = it == tabs_.end() ? nullptr : &it->second;
        return r;
    }

private:
    std::map<std::string, DmTable> tabs_;
};

const DevT kNs1{259, 1}, kNs2{259, 2}, kDm0{254, 0}, kDm1{254, 1}, kDm2{254, 2};

Runs map(TableSource& s, DevT top, uint64_t sec, uint64_t n) {
    auto r = map_range(s, top, sec, n);
    EXPECT_TRUE(r.ok()) << r.error.msg;
    return r.value;
}

}  // namespace

TEST(DmTable, ParsesLinearStripedCrypt) {
    auto t = parse_table(
        "0 2048 linear 259:1 4096\n"
        "2048 4096 striped 2 128 259:1 0 259:2 64\n"
        "6144 1024 crypt aes-xts-plain64 :64:logon:cryptsetup:x 0 254:1 32 1 allow_discards\n"
        "7168 8 flakey 259:2 0 10 5 1 drop_writes\n");
    ASSERT_TRUE(t.ok()) << t.error.msg;
    ASSERT_EQ(t.value.targets.size(), 4u);
    EXPECT_EQ(t.value.targets[0].kind, TargetKind::linear);
    EXPECT_EQ(t.value.targets[0].legs[0].offset, 4096u);
    EXPECT_EQ(t.value.targets[1].legs.size(), 2u);
    EXPECT_EQ(t.value.targets[1].chunk, 128u);
    EXPECT_EQ(t.value.targets[1].legs[1].dev, kNs2);
    EXPECT_EQ(t.value.targets[2].legs[0].dev, kDm1);
    EXPECT_EQ(t.value.targets[2].legs[0].offset, 32u);
    EXPECT_EQ(t.value.targets[3].kind, TargetKind::flakey);
    EXPECT_EQ(t.value.sectors(), 7176u);
}

TEST(DmTable, RejectsMalformed) {
    EXPECT_FALSE(parse_table("0 100 linear 259:1\n").ok());                 // no offset
    EXPECT_FALSE(parse_table("0 100 linear /dev/nvme0n1 0\n").ok());        // path, not major:minor
    EXPECT_FALSE(parse_table("0 100 linear 259:1 0\n200 10 linear 259:1 0\n").ok());   // gap
    EXPECT_FALSE(parse_table("0 100 striped 2 128 259:1 0\n").ok());        // one leg missing
    EXPECT_FALSE(parse_table("0 300 striped 2 128 259:1 0 259:2 0\n").ok());// not whole chunks
    EXPECT_FALSE(parse_table("x 100 linear 259:1 0\n").ok());
    auto e = parse_table("0 100 linear 259:1 0\n100 10 linear 259:1\n");
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error.msg.find("line 2"), std::string::npos) << e.error.msg;
    // Unknown targets parse (they are reported when a range runs into them).
    EXPECT_TRUE(parse_table("0 100 integrity 259:1 0 32 J 0\n").ok());
}

TEST(DmMap, LinearTwoSegmentsRemap) {
    FakeTables t;
    // Two segments at different offsets, the second before the first on disk.
    t.add(kDm0, "0 8192 linear 259:1 65536\n8192 8192 linear 259:1 16384\n");
    EXPECT_EQ(map(t, kDm0, 0, 8), (Runs{{0, kNs1, 65536, 8}}));
    EXPECT_EQ(map(t, kDm0, 8192, 16), (Runs{{8192, kNs1, 16384, 16}}));
    // Across the boundary: two runs, top order.
    EXPECT_EQ(map(t, kDm0, 8184, 16), (Runs{{8184, kNs1, 65536 + 8184, 8}, {8192, kNs1, 16384, 8}}));
}

TEST(DmMap, AdjacentPiecesMerge) {
    FakeTables t;
    t.add(kDm0, "0 100 linear 259:1 1000\n100 100 linear 259:1 1100\n");
    EXPECT_EQ(map(t, kDm0, 50, 100), (Runs{{50, kNs1, 1050, 100}}));
}

TEST(DmMap, StripedFollowsKernelArithmetic) {
    FakeTables t;
    // 2 stripes, 8-sector chunks; stripe 1 starts at 64 on its device.
    t.add(kDm0, "0 64 striped 2 8 259:1 0 259:2 64\n");
    EXPECT_EQ(map(t, kDm0, 0, 8), (Runs{{0, kNs1, 0, 8}}));
    EXPECT_EQ(map(t, kDm0, 8, 8), (Runs{{8, kNs2, 64, 8}}));
    EXPECT_EQ(map(t, kDm0, 16, 8), (Runs{{16, kNs1, 8, 8}}));
    EXPECT_EQ(map(t, kDm0, 27, 2), (Runs{{27, kNs2, 64 + 8 + 3, 2}}));
    // A range over 3 chunks splits per chunk.
    EXPECT_EQ(map(t, kDm0, 4, 16),
              (Runs{{4, kNs1, 4, 4}, {8, kNs2, 64, 8}, {16, kNs1, 8, 4}}));
    // Brute force: every sector lands where the kernel's stripe_map_sector puts it.
    for (uint64_t s = 0; s < 64; ++s) {
        auto r = map(t, kDm0, s, 1);
        ASSERT_EQ(r.size(), 1u);
        uint64_t chunk = s / 8, stripe = chunk % 2, row = chunk / 2;
        EXPECT_EQ(r[0].dev, stripe ? kNs2 : kNs1);
        EXPECT_EQ(r[0].sector, (stripe ? 64 : 0) + row * 8 + s % 8);
    }
}

TEST(DmMap, NestedStack) {
    FakeTables t;
    // dm-2 (linear) over dm-1 (crypt) over dm-0 (striped) over two namespaces.
    t.add(kDm0, "0 1024 striped 2 16 259:1 2048 259:2 0\n");
    t.add(kDm1, "0 1000 crypt aes-xts-plain64 0000 0 254:0 24\n");
    t.add(kDm2, "0 100 linear 254:1 500\n100 100 linear 254:1 0\n");
    // dm-2 sector 100 -> dm-1 0 -> dm-0 24 -> chunk 1 (stripe 1, row 0) + 8 -> ns2 8.
    EXPECT_EQ(map(t, kDm2, 100, 4), (Runs{{100, kNs2, 8, 4}}));
    // dm-2 sector 0 -> dm-1 500 -> dm-0 524 -> chunk 32 (stripe 0, row 16) + 12 -> ns1 2048+256+12.
    EXPECT_EQ(map(t, kDm2, 0, 2), (Runs{{0, kNs1, 2048 + 256 + 12, 2}}));
    // Crossing a chunk boundary below keeps the top sectors right.
    auto r = map(t, kDm2, 102, 10);   // dm-0 26..35: 26..31 in chunk 1, 32..35 in chunk 2
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0], (pifio::audit::Run{102, kNs2, 10, 6}));
    EXPECT_EQ(r[1], (pifio::audit::Run{108, kNs1, 2048 + 16, 4}));
    auto b = bottoms(t, kDm2);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b.value, (std::vector<DevT>{kNs1, kNs2}));
}

TEST(DmMap, PlainDeviceMapsToItself) {
    FakeTables t;
    EXPECT_EQ(map(t, kNs1, 40, 8), (Runs{{40, kNs1, 40, 8}}));
}

TEST(DmMap, ErrorsNameTheTarget) {
    FakeTables t;
    t.add(kDm0, "0 100 linear 259:1 0\n100 100 integrity 259:2 0 32 J 0\n");
    auto r = map_range(t, kDm0, 90, 20);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error.msg.find("'integrity'"), std::string::npos) << r.error.msg;
    EXPECT_NE(r.error.msg.find("sector 100"), std::string::npos) << r.error.msg;
    auto beyond = map_range(t, kDm0, 190, 20);
    ASSERT_FALSE(beyond.ok());
    EXPECT_NE(beyond.error.msg.find("beyond the end"), std::string::npos) << beyond.error.msg;
}

TEST(DmMap, LoopIsDetected) {
    FakeTables t;
    t.add(kDm0, "0 10 linear 254:1 0\n");
    t.add(kDm1, "0 10 linear 254:0 0\n");
    auto r = map_range(t, kDm0, 0, 1);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error.err, ELOOP);
}

TEST(DmMap, SectorArithmeticNearTwoToThe64) {
    // A table whose targets run past sector 2^64 is refused (its end wraps).
    auto t = parse_table("0 18446744073709551615 linear 259:1 0\n18446744073709551615 1 linear 259:2 0\n");
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error.msg.find("beyond sector 2^64"), std::string::npos) << t.error.msg;
    // A range whose end wraps is beyond the device, not mapped from sector 0 on.
    FakeTables s;
    s.add(kDm0, "0 8 linear 259:1 0\n");
    s.add(kDm1, "");
    for (DevT d : {kDm0, kDm1}) {
        auto r = map_range(s, d, UINT64_MAX, 2);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error.err, ERANGE) << r.error.msg;
    }
}

TEST(DmMap, SharedLowerDevicesAreWalkedOnce) {
    // 16 levels of 8 stripes over the same device: 8^16 paths, one device each level.
    FakeTables t;
    for (uint32_t lvl = 0; lvl < 16; ++lvl) {
        std::string legs;
        for (int i = 0; i < 8; ++i) legs += " 254:" + std::to_string(lvl + 1) + " 0";
        t.add(DevT{254, lvl}, "0 64 striped 8 8" + legs + "\n");
    }
    auto b = bottoms(t, kDm0);
    ASSERT_TRUE(b.ok()) << b.error.msg;
    EXPECT_EQ(b.value, (std::vector<DevT>{DevT{254, 16}}));
}
