// CRC16-T10DIF and CRC64-NVMe: public check values, every implementation
// against the bit-serial reference, chaining.
#include <cstring>

#include "test_util.hpp"

namespace pifio::test {
namespace {

class Crc : public ImplTest {};

TEST_P(Crc, CheckValues) {
    EXPECT_EQ(crc16_t10dif(0, "123456789", 9), 0xD0DB);
    EXPECT_EQ(crc64_nvme(0, "123456789", 9), 0xAE8B14860A799888ull);
    EXPECT_EQ(crc16_t10dif(0, "", 0), 0);
    EXPECT_EQ(crc64_nvme(0, "", 0), 0u);
}

// NVM Command Set specification, 64b guard examples (4096 bytes).
TEST_P(Crc, NvmeSpecVectors4K) {
    std::vector<uint8_t> b(4096);
    std::memset(b.data(), 0x00, b.size());
    EXPECT_EQ(crc64_nvme(0, b.data(), b.size()), 0x6482D367EB22B64Eull);
    std::memset(b.data(), 0xFF, b.size());
    EXPECT_EQ(crc64_nvme(0, b.data(), b.size()), 0xC0DDBA7302ECA3ACull);
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i);
    EXPECT_EQ(crc64_nvme(0, b.data(), b.size()), 0x3E729F5F6750449Cull);
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(0xFF - i);
    EXPECT_EQ(crc64_nvme(0, b.data(), b.size()), 0x9A2DF64B8E9E517Eull);
}

// Every length 0..1100 (covers all head/tail/fold boundaries), fixed seed.
TEST_P(Crc, AllShortLengthsMatchReference) {
    std::mt19937_64 rng(1);
    auto buf = random_bytes(rng, 1100 + 64);
    for (size_t len = 0; len <= 1100; ++len) {
        const size_t off = len % 61;
        ASSERT_EQ(crc16_t10dif(0, buf.data() + off, len), crc16_t10dif_ref(0, buf.data() + off, len)) << "len " << len;
        ASSERT_EQ(crc64_nvme(0, buf.data() + off, len), crc64_nvme_ref(0, buf.data() + off, len)) << "len " << len;
    }
}

// Random lengths 0..8 KiB, random alignment, random seeds.
TEST_P(Crc, RandomLengthsAlignmentsSeeds) {
    std::mt19937_64 rng(0x5eed);
    auto buf = random_bytes(rng, 8192 + 64);
    for (int iter = 0; iter < 3000; ++iter) {
        const size_t len = rng() % 8193, off = rng() % 64;
        const auto s16 = static_cast<uint16_t>(rng());
        const uint64_t s64 = rng();
        ASSERT_EQ(crc16_t10dif(s16, buf.data() + off, len), crc16_t10dif_ref(s16, buf.data() + off, len))
            << "len " << len << " off " << off << " seed " << s16;
        ASSERT_EQ(crc64_nvme(s64, buf.data() + off, len), crc64_nvme_ref(s64, buf.data() + off, len))
            << "len " << len << " off " << off << " seed " << s64;
    }
}

// Large inputs exercise the main folding loops.
TEST_P(Crc, LargeBuffers) {
    std::mt19937_64 rng(7);
    auto buf = random_bytes(rng, 300000);
    for (size_t len : {65536ul, 65537ul, 131071ul, 299999ul}) {
        EXPECT_EQ(crc16_t10dif(0, buf.data() + 1, len), crc16_t10dif_ref(0, buf.data() + 1, len)) << len;
        EXPECT_EQ(crc64_nvme(0, buf.data() + 1, len), crc64_nvme_ref(0, buf.data() + 1, len)) << len;
    }
}

// crc(crc(a), b) == crc(a||b) over random splits into up to 6 pieces.
TEST_P(Crc, ChainedRandomSplits) {
    std::mt19937_64 rng(42);
    auto buf = random_bytes(rng, 8192);
    for (int iter = 0; iter < 500; ++iter) {
        const size_t len = rng() % 8193;
        const uint16_t want16 = crc16_t10dif_ref(0, buf.data(), len);
        const uint64_t want64 = crc64_nvme_ref(0, buf.data(), len);
        uint16_t c16 = 0;
        uint64_t c64 = 0;
        size_t pos = 0;
        const int pieces = 1 + static_cast<int>(rng() % 6);
        for (int p = 0; p < pieces; ++p) {
            const size_t n = p == pieces - 1 ? len - pos : rng() % (len - pos + 1);
            c16 = crc16_t10dif(c16, buf.data() + pos, n);
            c64 = crc64_nvme(c64, buf.data() + pos, n);
            pos += n;
        }
        ASSERT_EQ(c16, want16) << "len " << len;
        ASSERT_EQ(c64, want64) << "len " << len;
    }
}

// Each implementation agrees bit for bit with the table path.
TEST_P(Crc, AgreesWithTable) {
    std::mt19937_64 rng(99);
    auto buf = random_bytes(rng, 70000);
    std::vector<std::pair<uint16_t, uint64_t>> got;
    const size_t lens[] = {0, 1, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 512, 520, 4096, 4104, 65536};
    for (size_t len : lens) got.emplace_back(crc16_t10dif(0x1234, buf.data() + 3, len), crc64_nvme(99, buf.data() + 3, len));
    ASSERT_TRUE(crc_force(CrcImpl::table));
    size_t i = 0;
    for (size_t len : lens) {
        EXPECT_EQ(got[i].first, crc16_t10dif(0x1234, buf.data() + 3, len)) << len;
        EXPECT_EQ(got[i].second, crc64_nvme(99, buf.data() + 3, len)) << len;
        ++i;
    }
}

INSTANTIATE_TEST_SUITE_P(Impl, Crc, ::testing::ValuesIn(all_impls()), impl_param_name);

TEST(CrcDispatch, TableAlwaysSupportedAndForcible) {
    EXPECT_TRUE(crc_impl_supported(CrcImpl::table));
    EXPECT_TRUE(crc_force(CrcImpl::table));
    EXPECT_EQ(crc_active(), CrcImpl::table);
    EXPECT_EQ(crc16_t10dif(0, "123456789", 9), 0xD0DB);
    EXPECT_TRUE(crc_force(CrcImpl::automatic));
    EXPECT_NE(crc_active(), CrcImpl::automatic);
}

TEST(CrcDispatch, UnsupportedForceChangesNothing) {
    ASSERT_TRUE(crc_force(CrcImpl::table));
    for (CrcImpl i : all_impls())
        if (!crc_impl_supported(i)) {
            EXPECT_FALSE(crc_force(i)) << crc_impl_name(i);
            EXPECT_EQ(crc_active(), CrcImpl::table);
        }
    crc_force(CrcImpl::automatic);
}

TEST(CrcDispatch, Names) {
    EXPECT_STREQ(crc_impl_name(CrcImpl::table), "table");
    EXPECT_STREQ(crc_impl_name(CrcImpl::pclmul), "pclmul");
    EXPECT_STREQ(crc_impl_name(CrcImpl::vpclmul_avx2), "vpclmul-avx2");
    EXPECT_STREQ(crc_impl_name(CrcImpl::vpclmul_avx512), "vpclmul-avx512");
}

}  // namespace
}  // namespace pifio::test
