// Shared helpers for the pi core unit tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "pifio/pi.hpp"

namespace pifio {
// Readable parameter names in gtest output and ctest names.
inline void PrintTo(CrcImpl impl, std::ostream* os) { *os << crc_impl_name(impl); }
}  // namespace pifio

namespace pifio::test {

inline const std::vector<CrcImpl>& all_impls() {
    static const std::vector<CrcImpl> v = {CrcImpl::table, CrcImpl::pclmul, CrcImpl::vpclmul_avx2,
                                           CrcImpl::vpclmul_avx512};
    return v;
}

inline std::string impl_param_name(const ::testing::TestParamInfo<CrcImpl>& info) {
    std::string s = crc_impl_name(info.param);
    for (char& c : s)
        if (c == '-') c = '_';
    return s;
}

// Fixture parameterised by CRC implementation: forces it for the test and
// restores automatic dispatch after. Unsupported CPUs skip with the reason.
class ImplTest : public ::testing::TestWithParam<CrcImpl> {
protected:
    void SetUp() override {
        if (!crc_impl_supported(GetParam()))
            GTEST_SKIP() << "CPU cannot run " << crc_impl_name(GetParam()) << " (or it is not built for this arch)";
        ASSERT_TRUE(crc_force(GetParam()));
        ASSERT_EQ(crc_active(), GetParam());
    }
    void TearDown() override { crc_force(CrcImpl::automatic); }
};

inline std::vector<uint8_t> random_bytes(std::mt19937_64& rng, size_t n) {
    std::vector<uint8_t> v(n);
    for (auto& b : v) b = static_cast<uint8_t>(rng());
    return v;
}

}  // namespace pifio::test
