// Portable CRCs: bit-serial references and slice-by-8 tables (built at
// compile time), plus the dispatch between implementations.
#include <array>
#include <cstring>

#include "crc_internal.hpp"

namespace pifio {
namespace detail {
namespace {

using Table16 = std::array<std::array<uint16_t, 256>, 8>;
using Table64 = std::array<std::array<uint64_t, 256>, 8>;

// CRC16 (non-reflected): T[k][x] = x * x^(16 + 8k) mod P.
constexpr Table16 make_table16() {
    Table16 t{};
    for (unsigned x = 0; x < 256; ++x) {
        uint16_t c = static_cast<uint16_t>(x << 8);
        for (int b = 0; b < 8; ++b)
            c = static_cast<uint16_t>((c & 0x8000) ? (c << 1) ^ kCrc16Poly : (c << 1));
        t[0][x] = c;
    }
    for (int k = 1; k < 8; ++k)
        for (unsigned x = 0; x < 256; ++x) {
            uint16_t p = t[k - 1][x];
            t[k][x] = static_cast<uint16_t>((p << 8) ^ t[0][p >> 8]);
        }
    return t;
}

// CRC64 (reflected): T[k][x] = CRC of byte x followed by k zero bytes.
constexpr Table64 make_table64() {
    Table64 t{};
    for (unsigned x = 0; x < 256; ++x) {
        uint64_t c = x;
        for (int b = 0; b < 8; ++b) c = (c & 1) ? (c >> 1) ^ kCrc64PolyRefl : (c >> 1);
        t[0][x] = c;
    }
    for (int k = 1; k < 8; ++k)
        for (unsigned x = 0; x < 256; ++x) {
            uint64_t p = t[k - 1][x];
            t[k][x] = (p >> 8) ^ t[0][p & 0xff];
        }
    return t;
}

constexpr Table16 kT16 = make_table16();
constexpr Table64 kT64 = make_table64();

void crc16_multi_table(const uint8_t* base, size_t stride, size_t len, unsigned n, uint16_t* out) {
    for (unsigned i = 0; i < n; ++i) out[i] = crc16_table(0, base + i * stride, len);
}
void crc64_multi_table(const uint8_t* base, size_t stride, size_t len, unsigned n, uint64_t* out) {
    for (unsigned i = 0; i < n; ++i) out[i] = crc64_table(0, base + i * stride, len);
}

}  // namespace

uint16_t crc16_table(uint16_t crc, const uint8_t* p, size_t len) {
    while (len >= 8) {
        crc = static_cast<uint16_t>(kT16[7][p[0] ^ (crc >> 8)] ^ kT16[6][p[1] ^ (crc & 0xff)] ^
                                    kT16[5][p[2]] ^ kT16[4][p[3]] ^ kT16[3][p[4]] ^ kT16[2][p[5]] ^
                                    kT16[1][p[6]] ^ kT16[0][p[7]]);
        p += 8;
        len -= 8;
    }
    while (len--) crc = static_cast<uint16_t>((crc << 8) ^ kT16[0][(crc >> 8) ^ *p++]);
    return crc;
}

uint64_t crc64_table_raw(uint64_t c, const uint8_t* p, size_t len) {
    while (len >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        c ^= w;
        c = kT64[7][c & 0xff] ^ kT64[6][(c >> 8) & 0xff] ^ kT64[5][(c >> 16) & 0xff] ^
            kT64[4][(c >> 24) & 0xff] ^ kT64[3][(c >> 32) & 0xff] ^ kT64[2][(c >> 40) & 0xff] ^
            kT64[1][(c >> 48) & 0xff] ^ kT64[0][c >> 56];
        p += 8;
        len -= 8;
    }
    while (len--) c = (c >> 8) ^ kT64[0][(c ^ *p++) & 0xff];
    return c;
}

uint64_t crc64_table(uint64_t crc, const uint8_t* p, size_t len) {
    return ~crc64_table_raw(~crc, p, len);
}

const CrcKernels kTableKernels = {CrcImpl::table, crc16_table, crc64_table, crc16_multi_table,
                                  crc64_multi_table};

#if !defined(__x86_64__)
const CrcKernels kPclmulKernels = {CrcImpl::pclmul, nullptr, nullptr, nullptr, nullptr};
const CrcKernels kAvx2Kernels = {CrcImpl::vpclmul_avx2, nullptr, nullptr, nullptr, nullptr};
const CrcKernels kAvx512Kernels = {CrcImpl::vpclmul_avx512, nullptr, nullptr, nullptr, nullptr};
#endif

// ---------------------------------------------------------------- dispatch --

namespace {

const CrcKernels* kernels_for(CrcImpl impl) {
    switch (impl) {
        case CrcImpl::table: return &kTableKernels;
        case CrcImpl::pclmul: return &kPclmulKernels;
        case CrcImpl::vpclmul_avx2: return &kAvx2Kernels;
        case CrcImpl::vpclmul_avx512: return &kAvx512Kernels;
        case CrcImpl::automatic: break;
    }
    return nullptr;
}

bool cpu_has(CrcImpl impl) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    const bool pcl = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
    switch (impl) {
        case CrcImpl::automatic:
        case CrcImpl::table: return true;
        case CrcImpl::pclmul: return pcl;
        case CrcImpl::vpclmul_avx2:
            return pcl && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("vpclmulqdq");
        case CrcImpl::vpclmul_avx512:
            return pcl && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("vpclmulqdq");
    }
    return false;
#else
    return impl == CrcImpl::table || impl == CrcImpl::automatic;
#endif
}

const CrcKernels* best() {
    // Preference order. AVX-512 first when present; AVX2 VPCLMUL next.
    for (CrcImpl i : {CrcImpl::vpclmul_avx512, CrcImpl::vpclmul_avx2, CrcImpl::pclmul}) {
        const CrcKernels* k = kernels_for(i);
        if (k && k->crc16 && cpu_has(i)) return k;
    }
    return &kTableKernels;
}

const CrcKernels* g_active = nullptr;

}  // namespace

const CrcKernels& kernels() {
    const CrcKernels* k = g_active;
    if (__builtin_expect(k == nullptr, 0)) g_active = k = best();
    return *k;
}

}  // namespace detail

// ------------------------------------------------------------- public API --

uint16_t crc16_t10dif(uint16_t crc, const void* buf, size_t len) {
    return detail::kernels().crc16(crc, static_cast<const uint8_t*>(buf), len);
}

uint64_t crc64_nvme(uint64_t crc, const void* buf, size_t len) {
    return detail::kernels().crc64(crc, static_cast<const uint8_t*>(buf), len);
}

uint16_t crc16_t10dif_ref(uint16_t crc, const void* buf, size_t len) {
    const auto* p = static_cast<const uint8_t*>(buf);
    for (size_t i = 0; i < len; ++i) {
        crc = static_cast<uint16_t>(crc ^ (p[i] << 8));
        for (int b = 0; b < 8; ++b)
            crc = static_cast<uint16_t>((crc & 0x8000) ? (crc << 1) ^ detail::kCrc16Poly : (crc << 1));
    }
    return crc;
}

uint64_t crc64_nvme_ref(uint64_t crc, const void* buf, size_t len) {
    const auto* p = static_cast<const uint8_t*>(buf);
    uint64_t c = ~crc;
    for (size_t i = 0; i < len; ++i) {
        c ^= p[i];
        for (int b = 0; b < 8; ++b) c = (c & 1) ? (c >> 1) ^ detail::kCrc64PolyRefl : (c >> 1);
    }
    return ~c;
}

const char* crc_impl_name(CrcImpl impl) {
    switch (impl) {
        case CrcImpl::automatic: return "auto";
        case CrcImpl::table: return "table";
        case CrcImpl::pclmul: return "pclmul";
        case CrcImpl::vpclmul_avx2: return "vpclmul-avx2";
        case CrcImpl::vpclmul_avx512: return "vpclmul-avx512";
    }
    return "?";
}

bool crc_impl_supported(CrcImpl impl) {
    if (impl == CrcImpl::automatic) return true;
    const detail::CrcKernels* k = detail::kernels_for(impl);
    return k && k->crc16 && detail::cpu_has(impl);
}

bool crc_force(CrcImpl impl) {
    if (!crc_impl_supported(impl)) return false;
    detail::g_active = impl == CrcImpl::automatic ? detail::best() : detail::kernels_for(impl);
    return true;
}

CrcImpl crc_active() { return detail::kernels().impl; }

}  // namespace pifio
