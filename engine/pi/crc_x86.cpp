// x86 folding CRC kernels: PCLMULQDQ (128-bit), VPCLMULQDQ on AVX2 (256-bit)
// and AVX-512 (512-bit). Each ISA is compiled with its own target pragma
// (never -march=native); crc_table.cpp picks one at run time.
//
// The folding constants are derived here at compile time from the
// polynomials (x^n mod P, floor(x^k / P)); tests check every variant against
// the bit-serial reference.
#include "crc_internal.hpp"

#if defined(__x86_64__)
#include <immintrin.h>

#include <array>

namespace pifio::detail {
namespace {

// x^n mod P for P = x^64 + p (normal bit order: bit i = x^i).
constexpr uint64_t xpow_mod(uint64_t p, unsigned n) {
    uint64_t r = 1;
    for (unsigned i = 0; i < n; ++i) r = (r << 1) ^ ((r >> 63) ? p : 0);
    return r;
}
// floor(x^(64+k) / P) for k <= 63 (fits 64 bits), or its low 64 bits for
// k == 64 (the x^64 term implied).
constexpr uint64_t xpow_div(uint64_t p, unsigned k) {
    uint64_t q = 1, r = p;  // x^64 = 1*P + p
    for (unsigned i = 0; i < k; ++i) {
        q = (q << 1) | (r >> 63);
        r = (r << 1) ^ ((r >> 63) ? p : 0);
    }
    return q;
}

constexpr uint64_t kP64 = kCrc64Poly;                     // CRC64-NVMe, normal order
constexpr uint64_t kP16x48 = uint64_t{kCrc16Poly} << 48;  // CRC16 poly * x^48

struct alignas(16) FoldK {   // loaded as one __m128i: lo in qword 0
    uint64_t lo, hi;
};
constexpr unsigned kMaxFold = 32;  // D = 128 * j, j < kMaxFold (AVX-512 merge needs 24)

// Reflected: lo qword (high half h) * x^(D+63), hi qword (g) * x^(D-1).
constexpr std::array<FoldK, kMaxFold> make_refl() {
    std::array<FoldK, kMaxFold> t{};
    for (unsigned j = 1; j < kMaxFold; ++j)
        t[j] = {reflect64(xpow_mod(kP64, 128 * j + 63)), reflect64(xpow_mod(kP64, 128 * j - 1))};
    return t;
}
// Normal: hi qword (h) * x^(D+64), lo qword (g) * x^D.
constexpr std::array<FoldK, kMaxFold> make_norm() {
    std::array<FoldK, kMaxFold> t{};
    for (unsigned j = 1; j < kMaxFold; ++j) t[j] = {xpow_mod(kP16x48, 128 * j), xpow_mod(kP16x48, 128 * j + 64)};
    return t;
}
// Reflected domain of P16 * x^48 (CRC16 over bit-reversed bytes), as make_refl.
constexpr std::array<FoldK, kMaxFold> make_r16() {
    std::array<FoldK, kMaxFold> t{};
    for (unsigned j = 1; j < kMaxFold; ++j)
        t[j] = {reflect64(xpow_mod(kP16x48, 128 * j + 63)), reflect64(xpow_mod(kP16x48, 128 * j - 1))};
    return t;
}
constexpr std::array<FoldK, kMaxFold> kFoldR16 = make_r16();
constexpr std::array<FoldK, kMaxFold> kFoldRefl = make_refl();
constexpr std::array<FoldK, kMaxFold> kFoldNorm = make_norm();

// Final fold: a 128-bit lane j lanes before the last one goes straight to
// the 128-bit value the Barrett step takes (lane * x^(128j + 64) mod P), so
// every lane of every accumulator is one independent pair of multiplies and
// no lane merge or separate 128 -> 64 step is left. Stored in descending
// distance, so that one vector load at kMaxFin - kLanes - J gives a vector's
// lanes (earliest first) at distances J + kLanes - 1 ... J.
constexpr unsigned kMaxFin = 32;
constexpr std::array<FoldK, kMaxFin> make_fin_refl() {
    std::array<FoldK, kMaxFin> t{};
    for (unsigned j = 0; j < kMaxFin; ++j)   // D = 128j + 64: lo * x^(D+63), hi * x^(D-1)
        t[kMaxFin - 1 - j] = {reflect64(xpow_mod(kP64, 128 * j + 127)), reflect64(xpow_mod(kP64, 128 * j + 63))};
    return t;
}
constexpr std::array<FoldK, kMaxFin> make_fin_norm() {
    std::array<FoldK, kMaxFin> t{};
    for (unsigned j = 0; j < kMaxFin; ++j)   // D = 128j + 64: lo * x^D, hi * x^(D+64)
        t[kMaxFin - 1 - j] = {xpow_mod(kP16x48, 128 * j + 64), xpow_mod(kP16x48, 128 * j + 128)};
    return t;
}
constexpr std::array<FoldK, kMaxFin> make_fin_r16() {
    std::array<FoldK, kMaxFin> t{};
    for (unsigned j = 0; j < kMaxFin; ++j)
        t[kMaxFin - 1 - j] = {reflect64(xpow_mod(kP16x48, 128 * j + 127)), reflect64(xpow_mod(kP16x48, 128 * j + 63))};
    return t;
}
alignas(64) constexpr std::array<FoldK, kMaxFin> kFinRefl = make_fin_refl();
alignas(64) constexpr std::array<FoldK, kMaxFin> kFinR16 = make_fin_r16();
alignas(64) constexpr std::array<FoldK, kMaxFin> kFinNorm = make_fin_norm();
// The last lane's low-degree half is only moved (x^63 reflected is 1).
static_assert(kFinRefl[kMaxFin - 1].hi == 1 && kFinRefl[kMaxFin - 1].lo == reflect64(xpow_mod(kP64, 127)));

// Final reduction constants.
constexpr uint64_t kReflX127 = reflect64(xpow_mod(kP64, 127));
constexpr uint64_t kReflMu127 = reflect64(xpow_div(kP64, 63));              // floor(x^127 / P)
constexpr uint64_t kReflPdivX = reflect64((uint64_t{1} << 63) | (kP64 >> 1));  // floor(P / x)
constexpr uint64_t kR16Mu127 = reflect64(xpow_div(kP16x48, 63));
constexpr uint64_t kR16PdivX = reflect64((uint64_t{1} << 63) | (kP16x48 >> 1));
constexpr uint64_t kNormX128 = xpow_mod(kP16x48, 128);
constexpr uint64_t kNormMu = xpow_div(kP16x48, 64);                          // floor(x^128 / P) - x^64
constexpr uint64_t kNormP = kP16x48;

// Self-checks of the derivation, by an independent route: carry-less
// products on 128 bits. x^a * x^b == x^(a+b) (mod P), and the Barrett
// quotients satisfy floor(x^k/P) * P + (x^k mod P) == x^k.
using u128 = unsigned __int128;
constexpr u128 clmul(uint64_t a, uint64_t b) {
    u128 r = 0;
    for (int i = 0; i < 64; ++i)
        if ((b >> i) & 1) r ^= u128{a} << i;
    return r;
}
constexpr uint64_t mod_p(u128 v, uint64_t p) {  // v mod (x^64 + p), v of degree < 128
    for (int i = 127; i >= 64; --i)
        if ((v >> i) & 1) v ^= (u128{1} << i) ^ (u128{p} << (i - 64));
    return static_cast<uint64_t>(v);
}
static_assert(xpow_mod(kP64, 63) == uint64_t{1} << 63);
static_assert(xpow_mod(kP64, 64) == kP64);
static_assert(mod_p(clmul(xpow_mod(kP64, 700), xpow_mod(kP64, 1100)), kP64) == xpow_mod(kP64, 1800));
static_assert(mod_p(clmul(xpow_mod(kP16x48, 900), xpow_mod(kP16x48, 333)), kP16x48) == xpow_mod(kP16x48, 1233));
// floor(x^127/P) * (x^64 + p) ^ (x^127 mod P) == x^127
static_assert(((u128{xpow_div(kP64, 63)} << 64) ^ clmul(xpow_div(kP64, 63), kP64) ^ xpow_mod(kP64, 127)) ==
              (u128{1} << 127));
// (x^64 + m) * (x^64 + p) ^ (x^128 mod P) == x^128: the x^128 terms cancel, the rest must vanish.
static_assert(((u128{kNormMu} << 64) ^ (u128{kP16x48} << 64) ^ clmul(kNormMu, kP16x48) ^ kNormX128) == 0);

// Domain of a fold (see crc_fold.inc).
enum class Dom : uint8_t { r64, n16, r16 };

constexpr uint8_t rev8(uint8_t v) {
    uint8_t r = 0;
    for (int i = 0; i < 8; ++i) r = static_cast<uint8_t>(r | (((v >> i) & 1) << (7 - i)));
    return r;
}
constexpr std::array<uint8_t, 256> make_rev8() {
    std::array<uint8_t, 256> t{};
    for (unsigned i = 0; i < 256; ++i) t[i] = rev8(static_cast<uint8_t>(i));
    return t;
}
constexpr std::array<uint8_t, 256> kRev8 = make_rev8();
// Two loads and no long chain of ALU work beside the vector code.
constexpr uint16_t rev16(uint16_t v) { return static_cast<uint16_t>(kRev8[v >> 8] | kRev8[v & 0xff] << 8); }
static_assert(rev16(0x8BB7) == 0xEDD1 && rev16(1) == 0x8000);

}  // namespace

// Bit reversal of every byte by two nibble look-ups (SSSE3 shuffles).
#pragma GCC push_options
#pragma GCC target("sse4.1")
#ifdef __clang__  // clang has no GCC target pragma: the same target as a function attribute
#pragma clang attribute push(__attribute__((target("sse4.1"))), apply_to = function)
#endif
namespace {
inline __attribute__((always_inline)) __m128i brev128_lut(__m128i x) {
    const __m128i lo = _mm_set_epi8(0x0f, 0x07, 0x0b, 0x03, 0x0d, 0x05, 0x09, 0x01, 0x0e, 0x06, 0x0a, 0x02, 0x0c,
                                    0x04, 0x08, 0x00);
    const __m128i hi = _mm_slli_epi16(lo, 4);
    const __m128i m = _mm_set1_epi8(0x0f);
    return _mm_or_si128(_mm_shuffle_epi8(hi, _mm_and_si128(x, m)),
                        _mm_shuffle_epi8(lo, _mm_and_si128(_mm_srli_epi16(x, 4), m)));
}
}  // namespace
#ifdef __clang__
#pragma clang attribute pop
#endif
#pragma GCC pop_options

// ------------------------------------------------------------ PCLMULQDQ --
#pragma GCC push_options
#pragma GCC target("sse4.1,pclmul")
#ifdef __clang__  // clang has no GCC target pragma: the same target as a function attribute
#pragma clang attribute push(__attribute__((target("sse4.1,pclmul"))), apply_to = function)
#endif
namespace isa_pclmul {
namespace {
using V = __m128i;
constexpr unsigned kVB = 16, kLanes = 1, kNacc = 8, kNB = 4;
inline __attribute__((always_inline)) V vload(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const V*>(p)); }
inline __attribute__((always_inline)) void vstore(void* p, V a) { _mm_store_si128(static_cast<V*>(p), a); }
inline __attribute__((always_inline)) V vxor(V a, V b) { return _mm_xor_si128(a, b); }
inline __attribute__((always_inline)) V vxor3(V a, V b, V c) { return vxor(vxor(a, b), c); }
inline __attribute__((always_inline)) V vclmul00(V a, V k) { return _mm_clmulepi64_si128(a, k, 0x00); }
inline __attribute__((always_inline)) V vclmul11(V a, V k) { return _mm_clmulepi64_si128(a, k, 0x11); }
inline __attribute__((always_inline)) V vrev(V a) {
    return _mm_shuffle_epi8(a, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}
inline __attribute__((always_inline)) V vbcast(__m128i x) { return x; }
inline __attribute__((always_inline)) __m128i vlane(V a, unsigned) { return a; }
inline __attribute__((always_inline)) V vfirst(__m128i x) { return x; }
inline __attribute__((always_inline)) __m128i vhxor(V a) { return a; }
inline __attribute__((always_inline)) __m128i brev128(__m128i x) { return brev128_lut(x); }
inline __attribute__((always_inline)) V vbrev(V a) { return brev128_lut(a); }
constexpr Dom kC16 = Dom::n16;
constexpr bool kBatchFin = false;  // vhxor4 needs four lanes
inline __attribute__((always_inline)) V vhxor4(V a, V, V, V) { return a; }
#include "crc_fold.inc"
}  // namespace
}  // namespace isa_pclmul
#ifdef __clang__
#pragma clang attribute pop
#endif
#pragma GCC pop_options

// ------------------------------------------------------- VPCLMULQDQ AVX2 --
#pragma GCC push_options
#pragma GCC target("sse4.1,pclmul,avx2,vpclmulqdq")
#ifdef __clang__  // clang has no GCC target pragma: the same target as a function attribute
#pragma clang attribute push(__attribute__((target("sse4.1,pclmul,avx2,vpclmulqdq"))), apply_to = function)
#endif
namespace isa_avx2 {
namespace {
using V = __m256i;
constexpr unsigned kVB = 32, kLanes = 2, kNacc = 4, kNB = 4;
inline __attribute__((always_inline)) V vload(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const V*>(p)); }
inline __attribute__((always_inline)) void vstore(void* p, V a) { _mm256_store_si256(static_cast<V*>(p), a); }
inline __attribute__((always_inline)) V vxor(V a, V b) { return _mm256_xor_si256(a, b); }
inline __attribute__((always_inline)) V vxor3(V a, V b, V c) { return vxor(vxor(a, b), c); }
inline __attribute__((always_inline)) V vclmul00(V a, V k) { return _mm256_clmulepi64_epi128(a, k, 0x00); }
inline __attribute__((always_inline)) V vclmul11(V a, V k) { return _mm256_clmulepi64_epi128(a, k, 0x11); }
inline __attribute__((always_inline)) V vrev(V a) {
    const __m128i m = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    return _mm256_shuffle_epi8(a, _mm256_broadcastsi128_si256(m));
}
inline __attribute__((always_inline)) V vbcast(__m128i x) { return _mm256_broadcastsi128_si256(x); }
inline __attribute__((always_inline)) __m128i vlane(V a, unsigned i) {
    return i == 0 ? _mm256_castsi256_si128(a) : _mm256_extracti128_si256(a, 1);
}
inline __attribute__((always_inline)) V vfirst(__m128i x) { return _mm256_zextsi128_si256(x); }
inline __attribute__((always_inline)) __m128i vhxor(V a) {
    return _mm_xor_si128(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
}
inline __attribute__((always_inline)) __m128i brev128(__m128i x) { return brev128_lut(x); }
inline __attribute__((always_inline)) V vbrev(V a) {
    return _mm256_set_m128i(brev128_lut(_mm256_extracti128_si256(a, 1)), brev128_lut(_mm256_castsi256_si128(a)));
}
constexpr Dom kC16 = Dom::n16;
constexpr bool kBatchFin = false;  // vhxor4 needs four lanes
inline __attribute__((always_inline)) V vhxor4(V a, V, V, V) { return a; }
#include "crc_fold.inc"
}  // namespace
}  // namespace isa_avx2
#ifdef __clang__
#pragma clang attribute pop
#endif
#pragma GCC pop_options

// ----------------------------------------------------- VPCLMULQDQ AVX-512 --
#pragma GCC push_options
#pragma GCC target("sse4.1,pclmul,avx2,avx512f,avx512bw,avx512vl,vpclmulqdq,gfni")
#ifdef __clang__  // clang has no GCC target pragma: the same target as a function attribute
#pragma clang attribute push(__attribute__((target("sse4.1,pclmul,avx2,avx512f,avx512bw,avx512vl,vpclmulqdq,gfni"))), apply_to = function)
#endif
// GCC 12's avx512fintrin.h trips -Wmaybe-uninitialized on its own
// _mm512_undefined_* in broadcast/extract helpers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
namespace isa_avx512 {
namespace {
using V = __m512i;
constexpr unsigned kVB = 64, kLanes = 4, kNacc = 4, kNB = 4;
inline __attribute__((always_inline)) V vload(const uint8_t* p) { return _mm512_loadu_si512(p); }
inline __attribute__((always_inline)) void vstore(void* p, V a) { _mm512_store_si512(p, a); }
inline __attribute__((always_inline)) V vxor(V a, V b) { return _mm512_xor_si512(a, b); }
// One VPTERNLOGQ, its destination tied to a (the low product, computed last
// into the accumulator's own register): no register copies in the loops.
inline __attribute__((always_inline)) V vxor3(V a, V b, V c) { return _mm512_ternarylogic_epi64(a, b, c, 0x96); }
inline __attribute__((always_inline)) V vclmul00(V a, V k) { return _mm512_clmulepi64_epi128(a, k, 0x00); }
inline __attribute__((always_inline)) V vclmul11(V a, V k) { return _mm512_clmulepi64_epi128(a, k, 0x11); }
inline __attribute__((always_inline)) V vrev(V a) {
    const __m128i m = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    return _mm512_shuffle_epi8(a, _mm512_broadcast_i32x4(m));
}
inline __attribute__((always_inline)) V vbcast(__m128i x) { return _mm512_broadcast_i32x4(x); }
inline __attribute__((always_inline)) __m128i vlane(V a, unsigned i) {
    switch (i) {
        case 0: return _mm512_castsi512_si128(a);
        case 1: return _mm512_extracti32x4_epi32(a, 1);
        case 2: return _mm512_extracti32x4_epi32(a, 2);
        default: return _mm512_extracti32x4_epi32(a, 3);
    }
}
inline __attribute__((always_inline)) V vfirst(__m128i x) { return _mm512_zextsi128_si512(x); }
inline __attribute__((always_inline)) __m128i vhxor(V a) {
    const __m256i h = _mm256_xor_si256(_mm512_castsi512_si256(a), _mm512_extracti64x4_epi64(a, 1));
    return _mm_xor_si128(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}
constexpr long long kBitRevMatrix = 0x8040201008040201ll;  // GF2P8AFFINEQB: bit i <- bit 7-i
inline __attribute__((always_inline)) __m128i brev128(__m128i x) {
    return _mm_gf2p8affine_epi64_epi8(x, _mm_set1_epi64x(kBitRevMatrix), 0);
}
inline __attribute__((always_inline)) V vbrev(V a) {
    return _mm512_gf2p8affine_epi64_epi8(a, _mm512_set1_epi64(kBitRevMatrix), 0);
}
constexpr Dom kC16 = Dom::r16;
// Lane b of the result: xor of the four lanes of the b-th argument (a
// transpose by 128-bit lane shuffles, 1.5 per block instead of 2 extracts).
constexpr bool kBatchFin = true;
inline __attribute__((always_inline)) V vhxor4(V a, V b, V c, V d) {
    const V x = _mm512_xor_si512(_mm512_shuffle_i64x2(a, b, 0x44), _mm512_shuffle_i64x2(a, b, 0xEE));
    const V y = _mm512_xor_si512(_mm512_shuffle_i64x2(c, d, 0x44), _mm512_shuffle_i64x2(c, d, 0xEE));
    return _mm512_xor_si512(_mm512_shuffle_i64x2(x, y, 0x88), _mm512_shuffle_i64x2(x, y, 0xDD));
}
#include "crc_fold.inc"
}  // namespace
}  // namespace isa_avx512
#ifdef __clang__
#pragma clang attribute pop
#endif
#pragma GCC pop_options

// ------------------------------------ 512-bit shape on AVX2 (tests only) --
// The AVX-512 kernels cannot run on a CPU without AVX-512 (the dev host, QEMU
// TCG). This compiles the same crc_fold.inc with kVB = 64 and kLanes = 4 out
// of two 256-bit halves, so every 4-lane code path (lane merge, up to three
// leftover 16-byte chunks, the fold distances of the 512-bit merge) runs and
// is checked against the reference here. Never dispatched.
#pragma GCC push_options
#pragma GCC target("sse4.1,pclmul,avx2,vpclmulqdq")
#ifdef __clang__  // clang has no GCC target pragma: the same target as a function attribute
#pragma clang attribute push(__attribute__((target("sse4.1,pclmul,avx2,vpclmulqdq"))), apply_to = function)
#endif
namespace isa_emu512 {
namespace {
struct V {
    __m256i lo, hi;
};
constexpr unsigned kVB = 64, kLanes = 4, kNacc = 4, kNB = 4;
inline __attribute__((always_inline)) V vload(const uint8_t* p) {
    return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)),
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32))};
}
inline __attribute__((always_inline)) void vstore(void* p, V a) {
    _mm256_store_si256(static_cast<__m256i*>(p), a.lo);
    _mm256_store_si256(static_cast<__m256i*>(p) + 1, a.hi);
}
inline __attribute__((always_inline)) V vxor(V a, V b) { return {_mm256_xor_si256(a.lo, b.lo), _mm256_xor_si256(a.hi, b.hi)}; }
inline __attribute__((always_inline)) V vxor3(V a, V b, V c) { return vxor(vxor(a, b), c); }
inline __attribute__((always_inline)) V vclmul00(V a, V k) {
    return {_mm256_clmulepi64_epi128(a.lo, k.lo, 0x00), _mm256_clmulepi64_epi128(a.hi, k.hi, 0x00)};
}
inline __attribute__((always_inline)) V vclmul11(V a, V k) {
    return {_mm256_clmulepi64_epi128(a.lo, k.lo, 0x11), _mm256_clmulepi64_epi128(a.hi, k.hi, 0x11)};
}
inline __attribute__((always_inline)) V vrev(V a) {
    const __m256i m = _mm256_broadcastsi128_si256(_mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    return {_mm256_shuffle_epi8(a.lo, m), _mm256_shuffle_epi8(a.hi, m)};
}
inline __attribute__((always_inline)) V vbcast(__m128i x) {
    const __m256i b = _mm256_broadcastsi128_si256(x);
    return {b, b};
}
inline __attribute__((always_inline)) __m128i vlane(V a, unsigned i) {
    const __m256i h = i < 2 ? a.lo : a.hi;
    return (i & 1) ? _mm256_extracti128_si256(h, 1) : _mm256_castsi256_si128(h);
}
inline __attribute__((always_inline)) V vfirst(__m128i x) { return {_mm256_zextsi128_si256(x), _mm256_setzero_si256()}; }
inline __attribute__((always_inline)) __m128i vhxor(V a) {
    const __m256i h = _mm256_xor_si256(a.lo, a.hi);
    return _mm_xor_si128(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}
inline __attribute__((always_inline)) __m128i brev128(__m128i x) { return brev128_lut(x); }
inline __attribute__((always_inline)) __m256i brev256(__m256i a) {
    return _mm256_set_m128i(brev128_lut(_mm256_extracti128_si256(a, 1)), brev128_lut(_mm256_castsi256_si128(a)));
}
inline __attribute__((always_inline)) V vbrev(V a) { return {brev256(a.lo), brev256(a.hi)}; }
constexpr Dom kC16 = Dom::r16;  // the AVX-512 kernels' domain, so its logic runs here too
constexpr bool kBatchFin = true;
inline __attribute__((always_inline)) V vhxor4(V a, V b, V c, V d) {
    return {_mm256_set_m128i(vhxor(b), vhxor(a)), _mm256_set_m128i(vhxor(d), vhxor(c))};
}
#include "crc_fold.inc"
}  // namespace
}  // namespace isa_emu512
#ifdef __clang__
#pragma clang attribute pop
#endif
#pragma GCC pop_options

const CrcKernels kEmu512Kernels = {CrcImpl::vpclmul_avx512, isa_emu512::crc16, isa_emu512::crc64,
                                   isa_emu512::crc16_multi, isa_emu512::crc64_multi};

const CrcKernels kPclmulKernels = {CrcImpl::pclmul, isa_pclmul::crc16, isa_pclmul::crc64, isa_pclmul::crc16_multi,
                                   isa_pclmul::crc64_multi};
const CrcKernels kAvx2Kernels = {CrcImpl::vpclmul_avx2, isa_avx2::crc16, isa_avx2::crc64, isa_avx2::crc16_multi,
                                 isa_avx2::crc64_multi};
const CrcKernels kAvx512Kernels = {CrcImpl::vpclmul_avx512, isa_avx512::crc16, isa_avx512::crc64,
                                   isa_avx512::crc16_multi, isa_avx512::crc64_multi};

}  // namespace pifio::detail
#endif
