// CRC16-T10DIF and CRC64-NVMe: public check values, every implementation
// against the bit-serial reference, chaining.
#include <cstring>

#include "crc_internal.hpp"
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

// crc_functions(impl): that impl's own kernels, whatever is dispatched;
// nulls for a path the CPU cannot run.
TEST(CrcDispatch, FunctionsOfEachImpl) {
    ASSERT_TRUE(crc_force(CrcImpl::table));
    std::vector<uint8_t> b(4104);
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 131 + 7);
    for (CrcImpl i : all_impls()) {
        const CrcFunctions f = crc_functions(i);
        if (!crc_impl_supported(i)) {
            EXPECT_EQ(f.crc16, nullptr) << crc_impl_name(i);
            EXPECT_EQ(f.crc64, nullptr) << crc_impl_name(i);
            continue;
        }
        ASSERT_NE(f.crc16, nullptr) << crc_impl_name(i);
        ASSERT_NE(f.crc64, nullptr) << crc_impl_name(i);
        for (size_t n : {0, 15, 16, 512, 520, 4104}) {
            EXPECT_EQ(f.crc16(0x1234, b.data(), n), crc16_t10dif_ref(0x1234, b.data(), n)) << crc_impl_name(i) << " " << n;
            EXPECT_EQ(f.crc64(0, b.data(), n), crc64_nvme_ref(0, b.data(), n)) << crc_impl_name(i) << " " << n;
        }
        if (i != CrcImpl::automatic && i != CrcImpl::table) {
            EXPECT_NE(reinterpret_cast<void*>(f.crc16), reinterpret_cast<void*>(crc_functions(CrcImpl::table).crc16))
                << crc_impl_name(i) << ": the forced table kernels leaked into another impl's functions";
        }
    }
    EXPECT_EQ(crc_active(), CrcImpl::table);   // asking changes nothing
    crc_force(CrcImpl::automatic);
}

TEST(CrcDispatch, Names) {
    EXPECT_STREQ(crc_impl_name(CrcImpl::table), "table");
    EXPECT_STREQ(crc_impl_name(CrcImpl::pclmul), "pclmul");
    EXPECT_STREQ(crc_impl_name(CrcImpl::vpclmul_avx2), "vpclmul-avx2");
    EXPECT_STREQ(crc_impl_name(CrcImpl::vpclmul_avx512), "vpclmul-avx512");
}


// ------------------------------------------ dispatch self-test (fallback) --
// select_kernels() is the probe behind automatic dispatch; these inject
// candidates whose kernels are wrong in one place and check that the probe
// skips them, falls back to the next one and says why.
namespace broken {
using detail::kTableKernels;
uint16_t crc16_bad_seed(uint16_t crc, const uint8_t* p, size_t n) {
    return static_cast<uint16_t>(kTableKernels.crc16(crc, p, n) ^ (crc ? 0x0100 : 0));
}
uint64_t crc64_bad_255(uint64_t crc, const uint8_t* p, size_t n) {
    return kTableKernels.crc64(crc, p, n) ^ (n == 255 ? 1 : 0);
}
void crc64_multi_bad_last(const uint8_t* base, size_t stride, size_t len, unsigned n, uint64_t* out) {
    kTableKernels.crc64_multi(base, stride, len, n, out);
    if (n == detail::kMultiMax) out[n - 1] ^= uint64_t{1} << 40;
}
int g_calls = 0;
uint16_t crc16_counted(uint16_t crc, const uint8_t* p, size_t n) {
    ++g_calls;
    return kTableKernels.crc16(crc, p, n);
}
}  // namespace broken

detail::CrcKernels with_impl(CrcImpl impl) {
    detail::CrcKernels k = detail::kTableKernels;
    k.impl = impl;
    return k;
}

TEST(CrcSelfTest, EverySupportedImplPasses) {
    for (CrcImpl i : all_impls()) {
        if (!crc_impl_supported(i)) continue;
        const detail::CrcKernels* k = i == CrcImpl::table     ? &detail::kTableKernels
                                      : i == CrcImpl::pclmul ? &detail::kPclmulKernels
                                      : i == CrcImpl::vpclmul_avx2 ? &detail::kAvx2Kernels
                                                                   : &detail::kAvx512Kernels;
        char why[160] = "";
        EXPECT_TRUE(detail::crc_selftest(*k, why, sizeof why)) << crc_impl_name(i) << ": " << why;
    }
}

TEST(CrcSelfTest, DetectsEachInjectedFault) {
    char why[160];
    auto k = with_impl(CrcImpl::vpclmul_avx512);
    k.crc64 = broken::crc64_bad_255;
    EXPECT_FALSE(detail::crc_selftest(k, why, sizeof why));
    EXPECT_NE(std::string(why).find("crc64"), std::string::npos) << why;
    EXPECT_NE(std::string(why).find("len 255"), std::string::npos) << why;

    k = with_impl(CrcImpl::vpclmul_avx512);
    k.crc16 = broken::crc16_bad_seed;
    EXPECT_FALSE(detail::crc_selftest(k, why, sizeof why));
    EXPECT_NE(std::string(why).find("crc16"), std::string::npos) << why;
    EXPECT_NE(std::string(why).find("seed 0xa5c3"), std::string::npos) << why;

    k = with_impl(CrcImpl::vpclmul_avx512);
    k.crc64_multi = broken::crc64_multi_bad_last;
    EXPECT_FALSE(detail::crc_selftest(k, why, sizeof why));
    EXPECT_NE(std::string(why).find("multi"), std::string::npos) << why;

    k = with_impl(CrcImpl::vpclmul_avx512);
    k.crc16_multi = nullptr;
    EXPECT_FALSE(detail::crc_selftest(k, why, sizeof why));
}

TEST(CrcSelfTest, FailingCandidateFallsBackToNextAndSaysWhy) {
    auto bad = with_impl(CrcImpl::vpclmul_avx512);
    bad.crc64 = broken::crc64_bad_255;
    const auto good = with_impl(CrcImpl::vpclmul_avx2);
    const detail::DispatchCandidate c[] = {{&bad, true}, {&good, true}};
    char note[512];
    EXPECT_EQ(detail::select_kernels(c, 2, note, sizeof note), &good);
    const std::string n = note;
    EXPECT_NE(n.find("vpclmul-avx512: SELF-TEST FAILED (crc64 len 255"), std::string::npos) << n;
    EXPECT_NE(n.find("vpclmul-avx2: self-test passed"), std::string::npos) << n;
}

TEST(CrcSelfTest, UnsupportedCandidateIsNeverRun) {
    auto counted = with_impl(CrcImpl::vpclmul_avx512);
    counted.crc16 = broken::crc16_counted;
    const auto good = with_impl(CrcImpl::pclmul);
    const detail::DispatchCandidate c[] = {{&counted, false}, {&good, true}};
    char note[512];
    broken::g_calls = 0;
    EXPECT_EQ(detail::select_kernels(c, 2, note, sizeof note), &good);
    EXPECT_EQ(broken::g_calls, 0);
    EXPECT_NE(std::string(note).find("vpclmul-avx512: not supported by this CPU"), std::string::npos) << note;
}

TEST(CrcSelfTest, AllCandidatesBadMeansTable) {
    auto b1 = with_impl(CrcImpl::vpclmul_avx2);
    b1.crc16 = broken::crc16_bad_seed;
    auto b2 = with_impl(CrcImpl::pclmul);
    b2.crc64_multi = broken::crc64_multi_bad_last;
    const detail::CrcKernels none{CrcImpl::vpclmul_avx512, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
    const detail::DispatchCandidate c[] = {{&none, true}, {&b1, true}, {&b2, true}};
    char note[512];
    EXPECT_EQ(detail::select_kernels(c, 3, note, sizeof note), &detail::kTableKernels);
    const std::string n = note;
    EXPECT_NE(n.find("vpclmul-avx512: not built"), std::string::npos) << n;
    EXPECT_NE(n.find("vpclmul-avx2: SELF-TEST FAILED"), std::string::npos) << n;
    EXPECT_NE(n.find("pclmul: SELF-TEST FAILED"), std::string::npos) << n;
    EXPECT_NE(n.find("table: portable fallback"), std::string::npos) << n;
    // A tiny note buffer truncates, never overflows.
    char tiny[8];
    EXPECT_EQ(detail::select_kernels(c, 3, tiny, sizeof tiny), &detail::kTableKernels);
    EXPECT_LT(std::strlen(tiny), sizeof tiny);
}

TEST(CrcSelfTest, NoteNamesTheActiveImpl) {
    ASSERT_TRUE(crc_force(CrcImpl::automatic));
    const std::string n = crc_dispatch_note();
    const std::string active = crc_impl_name(crc_active());
    EXPECT_NE(n.find(active + ": self-test passed"), std::string::npos) << n;
    EXPECT_EQ(n.find("FAILED"), std::string::npos) << n;  // this CPU's kernels are right
    ASSERT_TRUE(crc_force(CrcImpl::table));
    EXPECT_NE(std::string(crc_dispatch_note()).find("table: forced"), std::string::npos);
    crc_force(CrcImpl::automatic);
}

}  // namespace
}  // namespace pifio::test

namespace pifio::test {
namespace {

// The AVX-512 kernels cannot run on the dev host; their 4-lane shape can, as
// kEmu512Kernels (same crc_fold.inc, 512-bit vectors made of two AVX2 halves).
TEST(CrcEmu512Shape, MatchesReferenceEverywhere) {
    if (!crc_impl_supported(CrcImpl::vpclmul_avx2) || !detail::kEmu512Kernels.crc16)
        GTEST_SKIP() << "needs AVX2 + VPCLMULQDQ";
    const detail::CrcKernels& k = detail::kEmu512Kernels;
    char why[160] = "";
    EXPECT_TRUE(detail::crc_selftest(k, why, sizeof why)) << why;
    std::mt19937_64 rng(512);
    auto buf = random_bytes(rng, 9 * 4104 + 64);
    for (size_t len = 0; len <= 1100; ++len) {
        const size_t off = len % 61;
        const auto s16 = static_cast<uint16_t>(rng());
        const uint64_t s64 = rng();
        ASSERT_EQ(k.crc16(s16, buf.data() + off, len), crc16_t10dif_ref(s16, buf.data() + off, len)) << "len " << len;
        ASSERT_EQ(k.crc64(s64, buf.data() + off, len), crc64_nvme_ref(s64, buf.data() + off, len)) << "len " << len;
    }
    for (int iter = 0; iter < 500; ++iter) {
        const size_t len = rng() % 8193, off = rng() % 64;
        ASSERT_EQ(k.crc16(0, buf.data() + off, len), crc16_t10dif_ref(0, buf.data() + off, len)) << "len " << len;
        ASSERT_EQ(k.crc64(0, buf.data() + off, len), crc64_nvme_ref(0, buf.data() + off, len)) << "len " << len;
    }
    // Lockstep groups and leftovers, lengths around the 4-lane boundaries.
    for (size_t len : {64ul, 80ul, 96ul, 112ul, 127ul, 512ul, 520ul, 560ul, 4096ul, 4104ul}) {
        for (unsigned n : {1u, 4u, 7u, 8u}) {
            const size_t stride = len + 8;
            uint16_t o16[detail::kMultiMax];
            uint64_t o64[detail::kMultiMax];
            k.crc16_multi(buf.data() + 3, stride, len, n, o16);
            k.crc64_multi(buf.data() + 3, stride, len, n, o64);
            for (unsigned i = 0; i < n; ++i) {
                ASSERT_EQ(o16[i], crc16_t10dif_ref(0, buf.data() + 3 + i * stride, len)) << len << " " << n << " " << i;
                ASSERT_EQ(o64[i], crc64_nvme_ref(0, buf.data() + 3 + i * stride, len)) << len << " " << n << " " << i;
            }
        }
    }
}

}  // namespace
}  // namespace pifio::test
