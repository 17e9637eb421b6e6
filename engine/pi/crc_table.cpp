// Portable CRCs: bit-serial references and slice-by-8 tables (built at
// compile time), plus the dispatch between implementations.
#include <array>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

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
                                  crc64_multi_table, nullptr, nullptr, nullptr, nullptr};

#if !defined(__x86_64__)
const CrcKernels kPclmulKernels = {CrcImpl::pclmul, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
const CrcKernels kAvx2Kernels = {CrcImpl::vpclmul_avx2, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
const CrcKernels kAvx512Kernels = {CrcImpl::vpclmul_avx512, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
const CrcKernels kEmu512Kernels = {CrcImpl::vpclmul_avx512, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
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
                   __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vbmi2") &&
                   __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("gfni");
    }
    return false;
#else
    return impl == CrcImpl::table || impl == CrcImpl::automatic;
#endif
}

const CrcKernels* best();

std::mutex g_probe_mu;
char g_note[512] = "not probed yet";

void note_append(char* note, size_t cap, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
void note_append(char* note, size_t cap, const char* fmt, ...) {
    const size_t used = std::strlen(note);
    if (used + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(note + used, cap - used, fmt, ap);
    va_end(ap);
}

// Fixed pseudo-random test bytes: 8 blocks of 520 (512 + 8 of metadata) plus
// slack, enough for a 4096-byte run from an odd offset.
constexpr size_t kSelfBytes = 8 * 520 + 64;
struct SelfBuf {
    uint8_t b[kSelfBytes];
    SelfBuf() {
        uint64_t x = 0x9E3779B97F4A7C15ull;
        for (uint8_t& v : b) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v = static_cast<uint8_t>(x >> 24);
        }
    }
};

}  // namespace

bool crc_selftest(const CrcKernels& k, char* why, size_t cap) {
    if (!k.crc16 || !k.crc64 || !k.crc16_multi || !k.crc64_multi) {
        std::snprintf(why, cap, "kernels not built for this architecture");
        return false;
    }
    const SelfBuf buf;
    const uint8_t* p = buf.b;
    auto bad16 = [&](const char* what, size_t len, uint16_t seed, size_t off, uint16_t got, uint16_t want) {
        std::snprintf(why, cap, "crc16%s len %zu seed 0x%x off %zu: got 0x%04x, want 0x%04x", what, len, seed, off,
                      got, want);
        return false;
    };
    auto bad64 = [&](const char* what, size_t len, uint64_t seed, size_t off, uint64_t got, uint64_t want) {
        std::snprintf(why, cap, "crc64%s len %zu seed 0x%llx off %zu: got 0x%016llx, want 0x%016llx", what, len,
                      static_cast<unsigned long long>(seed), off, static_cast<unsigned long long>(got),
                      static_cast<unsigned long long>(want));
        return false;
    };
    // Single buffers: every fold-stage boundary class, two seeds, aligned and not.
    const size_t lens[] = {0, 1, 15, 16, 17, 31, 32, 63, 64, 127, 128, 255, 256, 512, 520, 1024, 4096};
    const uint16_t seeds16[] = {0, 0xA5C3};
    const uint64_t seeds64[] = {0, 0x0123456789ABCDEFull};
    for (size_t off : {size_t{0}, size_t{1}})
        for (size_t len : lens)
            for (unsigned s = 0; s < 2; ++s) {
                const uint16_t g16 = k.crc16(seeds16[s], p + off, len), w16 = crc16_table(seeds16[s], p + off, len);
                if (g16 != w16) return bad16("", len, seeds16[s], off, g16, w16);
                const uint64_t g64 = k.crc64(seeds64[s], p + off, len), w64 = crc64_table(seeds64[s], p + off, len);
                if (g64 != w64) return bad64("", len, seeds64[s], off, g64, w64);
            }
    // A guard chained over data then metadata: 512 + 8.
    {
        const uint16_t g16 = k.crc16(k.crc16(0, p, 512), p + 512, 8), w16 = crc16_table(0, p, 520);
        if (g16 != w16) return bad16(" chained 512+8", 520, 0, 0, g16, w16);
        const uint64_t g64 = k.crc64(k.crc64(0, p, 512), p + 512, 8), w64 = crc64_table(0, p, 520);
        if (g64 != w64) return bad64(" chained 512+8", 520, 0, 0, g64, w64);
    }
    // Lockstep multi-block kernels: full groups, a partial group, odd lengths.
    struct Multi {
        size_t stride, len;
        unsigned n;
    };
    const Multi multis[] = {{520, 512, kMultiMax}, {520, 520, 5}, {512, 512, 4}, {520, 200, 7}, {4096, 4096, 1}};
    for (const Multi& m : multis) {
        uint16_t o16[kMultiMax];
        uint64_t o64[kMultiMax];
        k.crc16_multi(p, m.stride, m.len, m.n, o16);
        k.crc64_multi(p, m.stride, m.len, m.n, o64);
        for (unsigned i = 0; i < m.n; ++i) {
            const uint16_t w16 = crc16_table(0, p + i * m.stride, m.len);
            if (o16[i] != w16) return bad16(" multi", m.len, 0, i * m.stride, o16[i], w16);
            const uint64_t w64 = crc64_table(0, p + i * m.stride, m.len);
            if (o64[i] != w64) return bad64(" multi", m.len, 0, i * m.stride, o64[i], w64);
        }
    }
    return true;
}

const CrcKernels* select_kernels(const DispatchCandidate* c, size_t n, char* note, size_t cap) {
    if (cap) note[0] = 0;
    for (size_t i = 0; i < n; ++i) {
        const CrcKernels* k = c[i].k;
        const char* name = crc_impl_name(k ? k->impl : CrcImpl::automatic);
        if (!k || !k->crc16) {
            note_append(note, cap, "%s: not built for this architecture; ", name);
            continue;
        }
        if (!c[i].cpu_ok) {
            note_append(note, cap, "%s: not supported by this CPU; ", name);
            continue;
        }
        char why[160];
        if (!crc_selftest(*k, why, sizeof why)) {
            note_append(note, cap, "%s: SELF-TEST FAILED (%s), not used; ", name, why);
            continue;
        }
        note_append(note, cap, "%s: self-test passed", name);
        return k;
    }
    note_append(note, cap, "table: portable fallback");
    return &kTableKernels;
}

namespace {

const CrcKernels* best() {
    // Preference order. AVX-512 first when present; AVX2 VPCLMUL next.
    DispatchCandidate c[3];
    size_t n = 0;
    for (CrcImpl i : {CrcImpl::vpclmul_avx512, CrcImpl::vpclmul_avx2, CrcImpl::pclmul})
        c[n++] = {kernels_for(i), cpu_has(i)};
    std::lock_guard<std::mutex> lock(g_probe_mu);
    return select_kernels(c, n, g_note, sizeof g_note);
}

}  // namespace

std::atomic<const CrcKernels*> g_active{nullptr};

const CrcKernels& kernels_probe() {
    const CrcKernels* k = best();
    const CrcKernels* expected = nullptr;
    if (!g_active.compare_exchange_strong(expected, k, std::memory_order_acq_rel)) k = expected;
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
    if (impl == CrcImpl::automatic) {
        detail::g_active.store(detail::best(), std::memory_order_release);
    } else {
        std::lock_guard<std::mutex> lock(detail::g_probe_mu);
        std::snprintf(detail::g_note, sizeof detail::g_note, "%s: forced (no self-test)", crc_impl_name(impl));
        detail::g_active.store(detail::kernels_for(impl), std::memory_order_release);
    }
    return true;
}

const char* crc_dispatch_note() {
    detail::kernels();  // probe first
    return detail::g_note;
}

CrcImpl crc_active() { return detail::kernels().impl; }

CrcFunctions crc_functions(CrcImpl impl) {
    if (impl == CrcImpl::automatic) return {detail::kernels().crc16, detail::kernels().crc64};
    if (!crc_impl_supported(impl)) return {nullptr, nullptr};
    const detail::CrcKernels* k = detail::kernels_for(impl);
    return {k->crc16, k->crc64};
}

}  // namespace pifio
