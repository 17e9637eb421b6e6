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
#include <cstddef>
#include <cstring>

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

// x^n mod (x^64 + p) by squaring (the exponents below reach ~33000).
constexpr uint64_t xpow_mod_sq(uint64_t p, uint64_t n) {
    uint64_t r = 1, b = 2;  // b = x
    for (; n; n >>= 1) {
        if (n & 1) r = mod_p(clmul(r, b), p);
        b = mod_p(clmul(b, b), p);
    }
    return r;
}
static_assert(xpow_mod_sq(kP64, 1800) == xpow_mod(kP64, 1800) && xpow_mod_sq(kP16x48, 1233) == xpow_mod(kP16x48, 1233));

// Blocks that start off a 64-byte boundary (the extended layout: 520-byte
// blocks at 8-byte steps). A load split across two cache lines costs ~36 %
// on data streamed from L2 (Emerald Rapids, CRC of 128 KiB: 2277 ns at
// offset 8, 1670 at offset 0), so such a block of n vectors is read by
// aligned loads, o8 qwords into the first: its n - 1 whole aligned vectors
// fold as usual, and its head (the first aligned vector from qword o8) and
// tail (the o8 qwords past the last) fill one vector between them. Each of
// the two goes to the Barrett input by per-qword constants, so the block
// costs the multiplies of an aligned one. In the reflected domains a qword
// whose end lies d qwords before the message's end takes x^(64d + 63)
// (kFinRefl's 128j + 63 and 128j + 127 are d = 2j and 2j + 1).
struct alignas(64) Q8 {
    uint64_t q[8];
};
// The accumulator of the whole vectors: qword j of the last one is
// 7 - j + o8 qwords from the end.
constexpr std::array<Q8, 8> make_split_acc(uint64_t p) {
    std::array<Q8, 8> t{};
    for (unsigned o8 = 0; o8 < 8; ++o8)
        for (unsigned j = 0; j < 8; ++j) t[o8].q[j] = reflect64(xpow_mod_sq(p, 64 * (7 - j + o8) + 63));
    return t;
}
// Head qwords j >= o8 (message qword j - o8), tail qwords j < o8 (message
// qword 8n + j - o8), of 8n.
constexpr std::array<Q8, 8> make_split_comb(uint64_t p, unsigned n) {
    std::array<Q8, 8> t{};
    for (unsigned o8 = 0; o8 < 8; ++o8)
        for (unsigned j = 0; j < 8; ++j)
            t[o8].q[j] = reflect64(xpow_mod_sq(p, 64 * (j >= o8 ? 8 * n - 1 - j + o8 : o8 - 1 - j) + 63));
    return t;
}
alignas(64) constexpr std::array<Q8, 8> kSplitAcc64 = make_split_acc(kP64);
alignas(64) constexpr std::array<Q8, 8> kSplitAcc16 = make_split_acc(kP16x48);
alignas(64) constexpr std::array<Q8, 8> kSplitComb64_64 = make_split_comb(kP64, 64);
alignas(64) constexpr std::array<Q8, 8> kSplitComb16_64 = make_split_comb(kP16x48, 64);
// Aligned (o8 = 0), the accumulator's constants are the last vector's of kFinRefl.
static_assert(kSplitAcc64[0].q[0] == kFinRefl[kMaxFin - 4].lo && kSplitAcc64[0].q[1] == kFinRefl[kMaxFin - 4].hi &&
              kSplitAcc64[0].q[6] == kFinRefl[kMaxFin - 1].lo && kSplitAcc64[0].q[7] == kFinRefl[kMaxFin - 1].hi &&
              kSplitAcc16[0].q[5] == kFinR16[kMaxFin - 2].hi);
// crc64's initial register (all ones) on the message's first qword adds a
// constant to the Barrett input: ~0 times that qword's constant
// x^(64 (8n - 1) + 63), the same for every o8 (and the lane it lands in
// does not matter: the lanes are xored together).
constexpr Q8 make_split_inj_fin(const Q8& comb0) {
    Q8 t{};
    const u128 v = clmul(~uint64_t{0}, comb0.q[0]);
    t.q[0] = static_cast<uint64_t>(v);
    t.q[1] = static_cast<uint64_t>(v >> 64);
    return t;
}
alignas(64) constexpr Q8 kSplitInjFin64 = make_split_inj_fin(kSplitComb64_64[0]);
static_assert(kSplitComb64_64[5].q[5] == kSplitComb64_64[0].q[0]);
// Qword masks of the head (j >= o8) and the tail (j < o8).
constexpr std::array<uint16_t, 8> make_head_masks() {
    std::array<uint16_t, 8> t{};
    for (unsigned o8 = 0; o8 < 8; ++o8) t[o8] = static_cast<uint16_t>((0xFFu << o8) & 0xFFu);
    return t;
}
constexpr std::array<uint16_t, 8> kHeadMask = make_head_masks();
// The same for 512-byte blocks (8 vectors), whose o8 is fixed at compile
// time: the head and tail are selected from two plain aligned loads by a
// vector of the head's qwords (crc64's initial register as for 4 KiB).
alignas(64) constexpr std::array<Q8, 8> kSplitComb64_8 = make_split_comb(kP64, 8);
alignas(64) constexpr std::array<Q8, 8> kSplitComb16_8 = make_split_comb(kP16x48, 8);
constexpr std::array<Q8, 8> make_head_sel() {
    std::array<Q8, 8> t{};
    for (unsigned o8 = 0; o8 < 8; ++o8)
        for (unsigned j = o8; j < 8; ++j) t[o8].q[j] = ~uint64_t{0};
    return t;
}
alignas(64) constexpr std::array<Q8, 8> kHeadSel = make_head_sel();
alignas(64) constexpr Q8 kSplitInjFin8 = make_split_inj_fin(kSplitComb64_8[0]);
static_assert(kSplitComb64_8[5].q[5] == kSplitComb64_8[0].q[0]);

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
inline __attribute__((always_inline)) V vhxor4(V a, V, V, V, Dom) { return a; }
#include "crc_fold.inc"

// verify_run (see CrcKernels) in 128-bit registers: four blocks folded in
// lockstep, each one's Barrett step and tuple compare in its own register,
// one PTEST per group.
template <bool G64>
uint32_t verify_run_t(const uint8_t* base, size_t stride, size_t len, uint32_t nb, const uint8_t* t, size_t tstride,
                      const TupleCheck& c, uint64_t ref0) {
    constexpr Dom R = G64 ? Dom::r64 : kC16;   // crc16: the normal domain, register = crc16 << 48 in qword 0
    constexpr uint64_t reg = G64 ? ~uint64_t{0} : 0;
    const V appw = _mm_set1_epi64x(static_cast<long long>(c.app_word));
    const V rmask = _mm_set1_epi64x(static_cast<long long>(c.ref_mask));
    // G64: qword 0 the guard word, 1 app16|ref48; G16: qword 0 the tuple.
    const V w = G64 ? _mm_set_epi64x(static_cast<long long>(c.wmask), static_cast<long long>(c.gmask))
                    : _mm_set_epi64x(0, static_cast<long long>(c.wmask));
    const V app = G64 ? _mm_set_epi64x(-0x1000000000000ll, 0) : _mm_set_epi64x(0, 0xffffll << 32);
    const V appv = G64 ? _mm_set_epi64x(-0x1000000000000ll, 1) : _mm_set_epi64x(1, 0xffffll << 32);
    const V bsw = _mm_set_epi8(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    const V k1 = G64 ? _mm_set_epi64x(static_cast<long long>(kReflPdivX), static_cast<long long>(kReflMu127))
                     : _mm_set_epi64x(static_cast<long long>(kNormP), static_cast<long long>(kNormMu));
    // The expected ref tag of the next block, stepped in the register (a
    // MOVQ from a general register per block would take the port the folds
    // are bound by).
    V vref = _mm_set1_epi64x(static_cast<long long>(ref0));
    const V one = _mm_set1_epi64x(1);
    // Block j with Barrett input y: the bits that differ, or all ones in the
    // app word of a possible escape. Runs on the blocks in order (vref).
    auto bad = [&](V y, uint32_t j) __attribute__((always_inline)) -> V {
        const uint8_t* tp = t + j * tstride;
        const V ref = _mm_and_si128(vref, rmask);
        vref = _mm_add_epi64(vref, one);
        V tw, d;
        if constexpr (G64) {
            const V t1 = _mm_clmulepi64_si128(y, k1, 0x00);
            const V r = _mm_xor_si128(y, _mm_clmulepi64_si128(t1, k1, 0x10));   // register = r.q1 ^ t1.q0
            tw = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const V*>(tp)), bsw);
            const V g = _mm_xor_si128(_mm_xor_si128(tw, _mm_srli_si128(r, 8)), _mm_xor_si128(t1, _mm_set1_epi64x(-1)));
            d = _mm_blend_epi16(_mm_xor_si128(tw, _mm_or_si128(ref, appw)), g, 0x0F);
        } else {
            const V q = _mm_xor_si128(y, _mm_clmulepi64_si128(y, k1, 0x01));
            const V r = _mm_xor_si128(y, _mm_clmulepi64_si128(q, k1, 0x11));   // q0: crc16 << 48
            tw = _mm_shuffle_epi8(_mm_loadl_epi64(reinterpret_cast<const V*>(tp)), bsw);
            d = _mm_xor_si128(tw, _mm_or_si128(_mm_or_si128(r, ref), appw));
        }
        return _mm_or_si128(_mm_and_si128(d, w), _mm_cmpeq_epi64(_mm_and_si128(tw, app), appv));
    };
    uint32_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        V a[kNB];
        fold_lockstep_acc(base + i * stride, stride, len, reg, R, a);
        V e[kNB];
#pragma GCC unroll 4
        for (unsigned b = 0; b < kNB; ++b) e[b] = bad(fin_last128(a[b], R), i + b);
        const V any = _mm_or_si128(_mm_or_si128(e[0], e[1]), _mm_or_si128(e[2], e[3]));
        if (__builtin_expect(!_mm_testz_si128(any, any), 0)) {
            unsigned b = 0;
            while (_mm_testz_si128(e[b], e[b])) ++b;
            return i + b;
        }
    }
    return i;
}
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
inline __attribute__((always_inline)) V vhxor4(V a, V, V, V, Dom) { return a; }
#include "crc_fold.inc"

// verify_run (see CrcKernels) in 256-bit registers: the blocks of a group
// of four folded in lockstep, two blocks' Barrett steps per vector, the
// tuples loaded to sit beside their registers, one test per pair.
template <bool G64>
uint32_t verify_run_t(const uint8_t* base, size_t stride, size_t len, uint32_t nb, const uint8_t* t, size_t tstride,
                      const TupleCheck& c, uint64_t ref0) {
    constexpr Dom R = G64 ? Dom::r64 : kC16;   // crc16: the normal domain (n16), register = crc16 << 48 in qword 0
    constexpr uint64_t reg = G64 ? ~uint64_t{0} : 0;
    const bool contiguous = tstride == (G64 ? 16u : 8u);
    const V appw = _mm256_set1_epi64x(static_cast<long long>(c.app_word));
    const V rmask = _mm256_set1_epi64x(static_cast<long long>(c.ref_mask));
    // G64: qword 2b the guard word, 2b + 1 app16|ref48; G16: qword 2b the
    // whole tuple (its odd qwords hold nothing to compare).
    const V w = G64 ? _mm256_set_epi64x(static_cast<long long>(c.wmask), static_cast<long long>(c.gmask),
                                        static_cast<long long>(c.wmask), static_cast<long long>(c.gmask))
                    : _mm256_set_epi64x(0, static_cast<long long>(c.wmask), 0, static_cast<long long>(c.wmask));
    const V app = G64 ? _mm256_set_epi64x(-0x1000000000000ll, 0, -0x1000000000000ll, 0)
                      : _mm256_set_epi64x(0, 0xffffll << 32, 0, 0xffffll << 32);
    const V appv = G64 ? _mm256_set_epi64x(-0x1000000000000ll, 1, -0x1000000000000ll, 1)
                       : _mm256_set_epi64x(1, 0xffffll << 32, 1, 0xffffll << 32);
    const V lane = G64 ? _mm256_set_epi64x(1, 1, 0, 0) : _mm256_set_epi64x(0, 1, 0, 0);
    const V bsw = _mm256_broadcastsi128_si256(_mm_set_epi8(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
    const V kf = kvfin(R, 0);
    const V k1 = G64 ? vbcast(_mm_set_epi64x(static_cast<long long>(kReflPdivX), static_cast<long long>(kReflMu127)))
                     : vbcast(_mm_set_epi64x(static_cast<long long>(kNormP), static_cast<long long>(kNormMu)));
    // The expected ref tags of the next pair, stepped in the register (a
    // broadcast from a general register per pair takes the folds' port).
    V vref = _mm256_add_epi64(_mm256_set1_epi64x(static_cast<long long>(ref0)), lane);
    const V two = _mm256_set1_epi64x(2);
    // Blocks j, j+1 with Barrett inputs y (lane 0, 1): true when both pass
    // every check and neither is a possible escape. Runs on the pairs in
    // order (vref).
    auto pair_ok = [&](V y, uint32_t j) __attribute__((always_inline)) -> bool {
        const uint8_t* tp = t + j * tstride;
        const V ref = _mm256_and_si256(vref, rmask);
        vref = _mm256_add_epi64(vref, two);
        V tw, d;
        if constexpr (G64) {
            const V t1 = _mm256_clmulepi64_epi128(y, k1, 0x00);
            const V r = _mm256_xor_si256(y, _mm256_clmulepi64_epi128(t1, k1, 0x10));   // register = r.q(2b+1) ^ t1.q(2b)
            const V raw = contiguous ? vload(tp)
                                     : _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tp + tstride)),
                                                        _mm_loadu_si128(reinterpret_cast<const __m128i*>(tp)));
            tw = _mm256_shuffle_epi8(raw, bsw);
            const V g = _mm256_xor_si256(_mm256_xor_si256(tw, _mm256_bsrli_epi128(r, 8)), _mm256_xor_si256(t1, _mm256_set1_epi64x(-1)));
            d = _mm256_blend_epi32(_mm256_xor_si256(tw, _mm256_or_si256(ref, appw)), g, 0x33);
        } else {
            // q = v ^ hi64(v*m); register = lo64(v ^ q*p) = crc16 << 48.
            const V q = _mm256_xor_si256(y, _mm256_clmulepi64_epi128(y, k1, 0x01));
            const V r = _mm256_xor_si256(y, _mm256_clmulepi64_epi128(q, k1, 0x11));
            uint64_t t0, t1v;
            std::memcpy(&t0, tp, 8);
            std::memcpy(&t1v, tp + tstride, 8);
            tw = _mm256_shuffle_epi8(_mm256_set_epi64x(0, static_cast<long long>(t1v), 0, static_cast<long long>(t0)), bsw);
            d = _mm256_xor_si256(tw, _mm256_or_si256(_mm256_or_si256(r, ref), appw));
        }
        const V esc = _mm256_cmpeq_epi64(_mm256_and_si256(tw, app), appv);
        return _mm256_testz_si256(_mm256_or_si256(_mm256_and_si256(d, w), esc), _mm256_set1_epi64x(-1));
    };
    uint32_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        V a[kNB];
        fold_lockstep_acc(base + i * stride, stride, len, reg, R, a);
        __m128i s[kNB];
#pragma GCC unroll 4
        for (unsigned b = 0; b < kNB; ++b) s[b] = vhxor(vfold(a[b], kf));
        const bool ok0 = pair_ok(_mm256_set_m128i(s[1], s[0]), i), ok1 = pair_ok(_mm256_set_m128i(s[3], s[2]), i + 2);
        if (__builtin_expect(!(ok0 && ok1), 0)) return i + (ok0 ? 2 : 0);
    }
    return i;
}
}  // namespace
}  // namespace isa_avx2
#ifdef __clang__
#pragma clang attribute pop
#endif
#pragma GCC pop_options

// ----------------------------------------------------- VPCLMULQDQ AVX-512 --
#pragma GCC push_options
#pragma GCC target("sse4.1,pclmul,avx2,avx512f,avx512bw,avx512vl,avx512vbmi2,vpclmulqdq,gfni")
#ifdef __clang__  // clang has no GCC target pragma: the same target as a function attribute
#pragma clang attribute push(__attribute__((target("sse4.1,pclmul,avx2,avx512f,avx512bw,avx512vl,avx512vbmi2,vpclmulqdq,gfni"))), apply_to = function)
#endif
// GCC 12's avx512fintrin.h trips -Wmaybe-uninitialized on its own
// _mm512_undefined_* in broadcast/extract helpers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
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
constexpr bool kBatchFin = true;
// Lane b of the result: xor of the four lanes of the b-th argument. Two
// ways, by which port is short. Six 128-bit lane shuffles (1.5 per block)
// where the GF2P8AFFINEQB bit reversals of the crc16 domain already fill
// the other vector port; three shuffles and three blends (which can run
// beside VPCLMULQDQ) for crc64, whose folds leave that port idle.
inline __attribute__((always_inline)) V vhxor4_6(V a, V b, V c, V d) {
    const V x = _mm512_xor_si512(_mm512_shuffle_i64x2(a, b, 0x44), _mm512_shuffle_i64x2(a, b, 0xEE));
    const V y = _mm512_xor_si512(_mm512_shuffle_i64x2(c, d, 0x44), _mm512_shuffle_i64x2(c, d, 0xEE));
    return _mm512_xor_si512(_mm512_shuffle_i64x2(x, y, 0x88), _mm512_shuffle_i64x2(x, y, 0xDD));
}
// m ? b : a, bit by bit: a blend by a vector of ones (one VPTERNLOGQ),
// not by a mask register, which the compiler rebuilds inside every loop by
// KMOVW from a general register, on the port the folds are bound by.
inline __attribute__((always_inline)) V vsel(V m, V a, V b) { return _mm512_ternarylogic_epi64(m, b, a, 0xCA); }
// (p0^p2, p1^p3, q2^q0, q3^q1): p's halves in lanes 0-1, q's in 2-3.
inline __attribute__((always_inline)) V vhalves(V p, V q) {
    return _mm512_xor_si512(vsel(_mm512_set_epi64(-1, -1, -1, -1, 0, 0, 0, 0), p, q), _mm512_shuffle_i64x2(p, q, 0x4E));
}
inline __attribute__((always_inline)) V vhxor4_3(V a, V b, V c, V d) {
    const V x = vhalves(a, c), y = vhalves(b, d);
    // (x0^x1, y1^y0, x2^x3, y3^y2) = (a, b, c, d)
    const V perm = _mm512_permutex2var_epi64(x, _mm512_set_epi64(13, 12, 7, 6, 9, 8, 3, 2), y);
    return _mm512_xor_si512(vsel(_mm512_set_epi64(-1, -1, 0, 0, -1, -1, 0, 0), x, y), perm);
}
inline __attribute__((always_inline)) V vhxor4(V a, V b, V c, V d, Dom R) {
    return R == Dom::r64 ? vhxor4_3(a, b, c, d) : vhxor4_6(a, b, c, d);
}
#include "crc_fold.inc"

// Tuple checks of up to 8 blocks in two or three vector compares (see
// CrcKernels::check16): the tuples byte-swapped into native words, the
// expected words built from the guards, the app word and the ref tags.
// (No vector constants at namespace scope: their initializers would run at
// start-up on CPUs without AVX-512.)
inline __attribute__((always_inline)) __m512i iota8() { return _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0); }
inline __attribute__((always_inline)) __m512i bswap64(__m512i x) {
    const __m128i m = _mm_set_epi8(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    return _mm512_shuffle_epi8(x, _mm512_broadcast_i32x4(m));
}
// Qwords at t + off[i] for the set bits of k (a plain load when contiguous).
inline __attribute__((always_inline)) __m512i tuples(const uint8_t* t, bool contiguous, __mmask8 k, __m512i off) {
    if (contiguous) return _mm512_maskz_loadu_epi64(k, t);
    return _mm512_mask_i64gather_epi64(_mm512_setzero_si512(), k, off, t, 1);
}

uint32_t check16(const uint16_t* g, const uint8_t* t, size_t tstride, unsigned n, const TupleCheck& c, uint64_t ref0) {
    const __mmask8 live = static_cast<__mmask8>((1u << n) - 1);
    const __m512i off = _mm512_mul_epu32(iota8(), _mm512_set1_epi64(static_cast<long long>(tstride)));
    const __m512i tw = bswap64(tuples(t, tstride == 8, live, off));
    const __m512i guard = _mm512_slli_epi64(_mm512_cvtepu16_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g))), 48);
    const __m512i ref = _mm512_and_si512(_mm512_add_epi64(_mm512_set1_epi64(static_cast<long long>(ref0)), iota8()),
                                         _mm512_set1_epi64(static_cast<long long>(c.ref_mask)));
    // want = guard << 48 | app << 32 | ref
    const __m512i want = _mm512_ternarylogic_epi64(guard, ref, _mm512_set1_epi64(static_cast<long long>(c.app_word)), 0xFE);
    const __m512i app = _mm512_set1_epi64(0xffffll << 32);
    const __mmask8 bad = _mm512_mask_test_epi64_mask(live, _mm512_xor_si512(tw, want),
                                                     _mm512_set1_epi64(static_cast<long long>(c.wmask)));
    const __mmask8 esc = _mm512_mask_cmpeq_epi64_mask(live, _mm512_and_si512(tw, app), app);
    return static_cast<uint32_t>(bad | esc);
}

uint32_t check64(const uint64_t* g, const uint8_t* t, size_t tstride, unsigned n, const TupleCheck& c, uint64_t ref0) {
    // Four blocks per vector: qword 2i the guard word, 2i + 1 app16|ref48.
    const __m512i pair = _mm512_set_epi64(3, 3, 2, 2, 1, 1, 0, 0);
    const __m512i off = _mm512_add_epi64(_mm512_mul_epu32(pair, _mm512_set1_epi64(static_cast<long long>(tstride))),
                                         _mm512_set_epi64(8, 0, 8, 0, 8, 0, 8, 0));
    const __m512i w = _mm512_mask_blend_epi64(0x55, _mm512_set1_epi64(static_cast<long long>(c.wmask)),
                                              _mm512_set1_epi64(static_cast<long long>(c.gmask)));
    const __m512i app = _mm512_set1_epi64(static_cast<long long>(0xffffull << 48));
    const __m512i appw = _mm512_set1_epi64(static_cast<long long>(c.app_word));
    const __m512i rmask = _mm512_set1_epi64(static_cast<long long>(c.ref_mask));
    uint32_t flags = 0;
    for (unsigned h = 0; h < 2 && 4 * h < n; ++h) {
        const unsigned m = n - 4 * h < 4 ? n - 4 * h : 4;
        const __mmask8 live = static_cast<__mmask8>((1u << (2 * m)) - 1);
        const __m512i tw = bswap64(tuples(t + 4 * h * tstride, tstride == 16, live, off));
        const __m512i ref = _mm512_and_si512(_mm512_add_epi64(_mm512_set1_epi64(static_cast<long long>(ref0 + 4 * h)), pair), rmask);
        const __m512i want = _mm512_mask_expandloadu_epi64(_mm512_or_si512(ref, appw), 0x55, g + 4 * h);
        const __mmask8 bad = _mm512_mask_test_epi64_mask(live, _mm512_xor_si512(tw, want), w);
        const __mmask8 esc = _mm512_mask_cmpeq_epi64_mask(live & 0xAA, _mm512_and_si512(tw, app), app);
        // qword bits 2i, 2i+1 -> block bit i
        uint32_t k = static_cast<uint32_t>(bad | esc);
        k = (k | k >> 1) & 0x55;
        k = (k | k >> 1) & 0x33;
        k = (k | k >> 2) & 0x0f;
        flags |= k << (4 * h);
    }
    return flags;
}

// A word broadcast to every qword, or a mask, read from memory: one load,
// off port 5, which VPBROADCASTQ and KMOVW from a general register would
// take (in asm: the compiler turns the plain intrinsics back into those).
inline __attribute__((always_inline)) __m512i set1_m(uint64_t v) {
    __m512i r;
    __asm__("vpbroadcastq %1, %0" : "=v"(r) : "m"(v));
    return r;
}
inline __attribute__((always_inline)) __mmask8 mask_m(uint16_t v) {
    __mmask16 k;
    __asm__("kmovw %1, %0" : "=k"(k) : "m"(v));
    return static_cast<__mmask8>(k);
}

// Block bits from qword bits: block i <- qword bits 2i, 2i+1.
inline __attribute__((always_inline)) uint32_t pair_bits(uint32_t k) {
    k = (k | k >> 1) & 0x55;
    k = (k | k >> 1) & 0x33;
    return (k | k >> 2) & 0x0f;
}

// fold4_fin for blocks of 64 N bytes at 8-byte (not 64-byte) boundaries,
// read by aligned loads (see kSplitAcc64). R: r64 or r16; N: 64.
template <unsigned N>
inline __attribute__((always_inline)) V fold4_fin_split(const uint8_t* base, size_t stride, Dom R) {
    static_assert(N == 64, "kSplitComb*_64 only");
    const bool r64 = R == Dom::r64;
    const uint8_t* a[kNB];
    unsigned o8[kNB];
#pragma GCC unroll 4
    for (unsigned b = 0; b < kNB; ++b) {
        const uint8_t* p = base + b * stride;
        o8[b] = static_cast<unsigned>(reinterpret_cast<uintptr_t>(p) >> 3) & 7;
        a[b] = p - 8 * o8[b];
    }
    V acc[kNB];
#pragma GCC unroll 4
    for (unsigned b = 0; b < kNB; ++b) acc[b] = ld(a[b] + kVB, R);
    const V k1 = kvj(R, kLanes);
    for (unsigned v = 2; v < N; ++v) {
#pragma GCC unroll 4
        for (unsigned b = 0; b < kNB; ++b) acc[b] = vfold_xor(acc[b], k1, ld(a[b] + v * kVB, R));
    }
    const Q8* kacc = r64 ? kSplitAcc64.data() : kSplitAcc16.data();
    const Q8* kcomb = r64 ? kSplitComb64_64.data() : kSplitComb16_64.data();   // N == 64 only (see verify_run_t)
    V fin[kNB];
#pragma GCC unroll 4
    for (unsigned b = 0; b < kNB; ++b) {
        __mmask16 head;
        __asm__("kmovw %1, %0" : "=k"(head) : "m"(kHeadMask[o8[b]]));   // a load, not a GPR move on port 5
        const V h = _mm512_maskz_loadu_epi64(static_cast<__mmask8>(head), a[b]);
        const V t = _mm512_maskz_loadu_epi64(static_cast<__mmask8>(~head), a[b] + N * kVB);
        const V comb = r64 ? _mm512_or_si512(h, t) : vbrev(_mm512_or_si512(h, t));
        const V ka = _mm512_load_si512(kacc[o8[b]].q), kc = _mm512_load_si512(kcomb[o8[b]].q);
        fin[b] = r64 ? vfold_xor(comb, kc, vfold_xor(acc[b], ka, _mm512_load_si512(kSplitInjFin64.q)))
                     : vxor(vfold(acc[b], ka), vfold(comb, kc));
    }
    return vhxor4(fin[0], fin[1], fin[2], fin[3], R);
}

// Block b's accumulator of its 7 whole aligned vectors and its head and
// tail (at a[b], a[b] + 512) to its Barrett input. Masked: the tail line
// is read only up to the block's end (the run's last block: the rest of
// the line may lie past the buffer).
template <unsigned o8, bool Masked = false>
inline __attribute__((always_inline)) V fin_ext512(V acc, const uint8_t* a, Dom R) {
    const bool r64 = R == Dom::r64;
    const V head = ld(a, R);
    V tail = head;
    if constexpr (o8 != 0) {
        if constexpr (Masked) {
            const V t = _mm512_maskz_loadu_epi64(static_cast<__mmask8>((1u << o8) - 1), a + 8 * kVB);
            tail = r64 ? t : vbrev(t);
        } else {
            tail = ld(a + 8 * kVB, R);
        }
    }
    const V comb = o8 == 0 ? head : vsel(_mm512_load_si512(kHeadSel[o8].q), tail, head);
    const V ka = _mm512_load_si512((r64 ? kSplitAcc64 : kSplitAcc16)[o8].q);
    const V kc = _mm512_load_si512((r64 ? kSplitComb64_8 : kSplitComb16_8)[o8].q);
    if (r64) return vfold_xor(comb, kc, vfold_xor(acc, ka, _mm512_load_si512(kSplitInjFin8.q)));
    return vfold_xor(comb, kc, vfold(acc, ka));
}
// fold4_fin for four 512-byte blocks of an extended layout, a stride of
// 512 + 8 S8 bytes, the first O qwords past a 64-byte boundary (p - 8 O is
// aligned), so block b starts o8 = (O + S8 b) % 8 qwords into its first
// line. As fold4_fin_split, with every offset, mask and constant fixed at
// compile time: a block's tail line is the next block's head line (one
// load for both), and the two are merged by one select. Last: these are
// the run's last four blocks, and the fourth one's tail line is read
// masked (the only masked load).
template <unsigned S8, unsigned O, bool Last = false>
inline __attribute__((always_inline)) V fold4_fin_ext512(const uint8_t* p, Dom R) {
    constexpr size_t kStride = 512 + 8 * S8;
    constexpr auto line = [](unsigned b) { return 64 * ((8 * O + b * kStride) / 64); };
    constexpr auto off8 = [](unsigned b) { return static_cast<unsigned>((8 * O + b * kStride) % 64 / 8); };
    const uint8_t* pa = p - 8 * O;
    const uint8_t* a[kNB] = {pa + line(0), pa + line(1), pa + line(2), pa + line(3)};
    // The four chains side by side, a vector of each in turn (written
    // block after block, the first chain's waiting multiplies fill the
    // scheduler and the others start late: 32 blocks from L1 287 -> 360 ns).
    V acc[kNB];
#pragma GCC unroll 4
    for (unsigned b = 0; b < kNB; ++b) acc[b] = ld(a[b] + kVB, R);
    const V k1 = kvj(R, kLanes);
#pragma GCC unroll 8
    for (unsigned v = 2; v < 8; ++v) {
#pragma GCC unroll 4
        for (unsigned b = 0; b < kNB; ++b) acc[b] = vfold_xor(acc[b], k1, ld(a[b] + v * kVB, R));
    }
    return vhxor4(fin_ext512<off8(0)>(acc[0], a[0], R), fin_ext512<off8(1)>(acc[1], a[1], R),
                  fin_ext512<off8(2)>(acc[2], a[2], R), fin_ext512<off8(3), Last>(acc[3], a[3], R), R);
}

// CRC and tuple checks of a run of blocks, four at a time, with no guard
// leaving the vector registers (CrcKernels::verify_run16/64). Lane b of the
// Barrett step is block b; the tuples are loaded to match it. S: how the
// blocks are read (see verify_run_t): plain, or by aligned loads for 4 KiB
// blocks off 64-byte boundaries (split: fold4_fin_split) and 512-byte ones
// at 520- and 528-byte strides (ext1, ext2: fold4_fin_ext512).
// Each shape is its own function: in one loop with a branch, the plain
// shape's registers were allocated around the other's and 512-byte blocks
// got 10 % slower.
enum class Shape { plain, split, ext1, ext2 };
template <bool G64, Shape S>
__attribute__((noinline)) uint32_t verify_run_body(const uint8_t* base, size_t stride, size_t len, uint32_t nb,
                                                   const uint8_t* t, size_t tstride, const TupleCheck& c, uint64_t ref0) {
    constexpr Dom R = G64 ? Dom::r64 : Dom::r16;
    constexpr uint64_t reg = G64 ? ~uint64_t{0} : 0;
    const bool contiguous = tstride == (G64 ? 16u : 8u);
    // Every run-time word is broadcast from memory (set1_m): a load, where
    // VPBROADCASTQ or KMOVW from a general register would take the port the
    // folds are bound by, ~8 cycles per call (a 4 KiB I/O of 512-byte
    // blocks is ~150 cycles).
    const __m512i appw = G64 ? _mm512_set1_epi64(static_cast<long long>(c.app_word)) : set1_m(c.app_word >> 16);
    const __m512i rmask = _mm512_set1_epi64(static_cast<long long>(c.ref_mask));
    const uint64_t r_mu = G64 ? kReflMu127 : kR16Mu127, r_pd = G64 ? kReflPdivX : kR16PdivX;
    const V mu = vbcast(_mm_set_epi64x(0, static_cast<long long>(r_mu)));
    const V pd = vbcast(_mm_set_epi64x(0, static_cast<long long>(r_pd)));
    // G64: qword 2b the guard word, 2b + 1 app16|ref48 (as in memory).
    // G16: odd qword 2b + 1 block b's tuple, beside the lane's register.
    const __m512i lane = G64 ? _mm512_set_epi64(3, 3, 2, 2, 1, 1, 0, 0) : _mm512_set_epi64(3, 0, 2, 0, 1, 0, 0, 0);
    const __m512i w = G64 ? _mm512_broadcast_i32x4(_mm_set_epi64x(static_cast<long long>(c.wmask),
                                                                  static_cast<long long>(c.gmask)))
                          : set1_m(((c.wmask >> 32) & 0xffff) << 16 | ((c.wmask & 0xffffffffu) ? 0xffffffffull << 32 : 0));
    const __m512i gm = G64 ? _mm512_setzero_si512() : set1_m((c.wmask >> 48) ? 0xffff : 0);
    // A possible escape: app tag 0xffff (odd qwords; the G64 guard words
    // compare 0 with 1, never equal).
    __m512i app = G64 ? _mm512_set_epi64(-0x1000000000000ll, 0, -0x1000000000000ll, 0, -0x1000000000000ll, 0,
                                               -0x1000000000000ll, 0)
                            : set1_m(0xffffull << 16);
    __m512i appv = G64 ? _mm512_set_epi64(-0x1000000000000ll, 1, -0x1000000000000ll, 1, -0x1000000000000ll, 1,
                                                -0x1000000000000ll, 1)
                             : app;
    constexpr __mmask8 kAll = G64 ? 0xFF : 0xAA;   // the qwords that hold a compare
    // Loop constants the compiler would otherwise rebuild every group from
    // a general register (KMOVW and VPBROADCASTQ from a GPR run on the port
    // the folds need): made opaque, so they stay in their registers.
    __mmask8 odd = mask_m(0xAA);
    // Tuples apart (the extended layouts): tuple b at tp + b tstride into
    // qword 2b + 1 (G16) or qwords 2b, 2b + 1 (G64) by four masked loads,
    // which no byte outside the tuple reaches. A gather there cost 6-9 % of
    // a 128 KiB run of the 512-byte ext layouts (Emerald Rapids).
    const __mmask8 kq0 = mask_m(G64 ? 0x03 : 0x02), kq1 = mask_m(G64 ? 0x0C : 0x08), kq2 = mask_m(G64 ? 0x30 : 0x20),
                   kq3 = mask_m(G64 ? 0xC0 : 0x80);
    const ptrdiff_t tstep = static_cast<ptrdiff_t>(tstride) - 16;   // below 0 for tuples 8..15 bytes apart
    auto apart = [&](const uint8_t* tp) __attribute__((always_inline)) {
        const uint8_t* p0 = tp - (G64 ? 0 : 8);
        const uint8_t* p1 = p0 + tstep;
        __m512i r = _mm512_maskz_loadu_epi64(kq0, p0);
        r = _mm512_mask_loadu_epi64(r, kq1, p1);
        r = _mm512_mask_loadu_epi64(r, kq2, p0 + 2 * tstep);
        return _mm512_mask_loadu_epi64(r, kq3, p1 + 2 * tstep);
    };
    __asm__("" : "+v"(app));
    if constexpr (!G64) appv = app;
    // The expected ref tags of the next four blocks, stepped by 4 per group
    // (G16: in the high dword, by 32-bit adds, which wrap as the tag does).
    __m512i vref = G64 ? _mm512_add_epi64(set1_m(ref0), lane)
                       : _mm512_add_epi32(set1_m(ref0 << 32), _mm512_slli_epi64(lane, 32));
    const __m512i four = set1_m(G64 ? 4 : uint64_t{4} << 32);
    // Blocks j..j+3 whose Barrett inputs are x: the qwords that passed
    // every check (kAll when all four blocks did); a chain of masked tests.
    auto good = [&](V x, uint32_t j) __attribute__((always_inline)) -> __mmask8 {
        const __m512i ref = G64 ? _mm512_and_si512(vref, rmask) : vref;
        vref = G64 ? _mm512_add_epi64(vref, four) : _mm512_add_epi32(vref, four);
        const V t1 = vclmul00(x, mu);
        const uint8_t* tp = t + j * tstride;
        __mmask8 k;
        __m512i tw;
        if constexpr (G64) {
            const V r = vxor(x, vclmul00(t1, pd));   // register = r.q(2b+1) ^ t1.q(2b)
            {
                // Byte swap of each qword by three rotates (off the shuffle port).
                const __m512i raw = contiguous ? _mm512_loadu_si512(tp) : apart(tp);
                tw = _mm512_rol_epi64(_mm512_rol_epi32(_mm512_shldi_epi16(raw, raw, 8), 16), 32);
            }
            // guard: ~register == tuple guard  <=>  ~(tw ^ r.q(2b+1) ^ t1.q(2b)) == 0
            const __m512i gd = _mm512_ternarylogic_epi64(tw, _mm512_bsrli_epi128(r, 8), t1, 0x69);
            const __m512i d = vsel(_mm512_set_epi64(0, -1, 0, -1, 0, -1, 0, -1), _mm512_xor_si512(tw, _mm512_or_si512(ref, appw)), gd);
            k = _mm512_testn_epi64_mask(d, w);
        } else {
            // q(2b+1) low 16 bits: the reflected register; its bits reversed
            // in each byte are the tuple's guard bytes as they lie in memory.
            const V r = vbrev(vxor(x, vclmul00(t1, pd)));
            const __m512i raw = contiguous ? _mm512_maskz_expandloadu_epi64(odd, tp) : apart(tp);
            // The bytes of each 16-bit word swapped (a funnel shift, off the
            // shuffle port): guard | app << 16 | ref's high half << 32 | its
            // low half << 48; the expected ref's halves swapped to match.
            tw = _mm512_shldi_epi16(raw, raw, 8);
            k = _mm512_mask_testn_epi64_mask(
                odd, _mm512_ternarylogic_epi64(tw, _mm512_rol_epi32(ref, 16), appw, 0x1E), w);
            k = _mm512_mask_testn_epi64_mask(k, _mm512_xor_si512(raw, r), gm);
        }
        return _mm512_mask_cmpneq_epi64_mask(k, _mm512_and_si512(tw, app), appv);
    };
    // Qword bits that failed -> the first block to look at.
    auto first = [&](uint32_t bad) { return static_cast<uint32_t>(__builtin_ctz(pair_bits(bad))); };
    uint32_t i = 0;
    if constexpr (S == Shape::ext1) {
        // Eight blocks are 65 lines: the first four start 0..3 qwords into
        // a line, the next four 4..7.
        constexpr size_t kStride = 520;
        for (; i + 8 <= nb; i += 8) {
            const uint8_t* b0 = base + i * kStride;
            const __mmask8 g0 = good(fold4_fin_ext512<1, 0>(b0, R), i);
            if (__builtin_expect(g0 != kAll, 0)) return i + first(kAll & ~g0);
            const __mmask8 g1 = good(fold4_fin_ext512<1, 4>(b0 + 4 * kStride, R), i + 4);
            if (__builtin_expect(g1 != kAll, 0)) return i + 4 + first(kAll & ~g1);
        }
        // The fourth block's tail line reaches 32 bytes into the next
        // block, which may not be there. (Past an eight-block group, and
        // with the 528-byte stride, a group's tail line ends with its last
        // block's tuple.)
        if (i + 4 <= nb) {
            const __mmask8 g = good(fold4_fin_ext512<1, 0, true>(base + i * kStride, R), i);
            if (__builtin_expect(g != kAll, 0)) return i + first(kAll & ~g);
            i += 4;
        }
        return i;
    }
    for (; i + 4 <= nb; i += 4) {
        const uint8_t* b0 = base + i * stride;
        V x;
        if constexpr (S == Shape::split) x = fold4_fin_split<64>(b0, stride, R);
        else if constexpr (S == Shape::ext2) x = fold4_fin_ext512<2, 0>(b0, R);   // four blocks are 33 lines
        else x = fold4_fin(b0, stride, len, reg, R);
        const __mmask8 g = good(x, i);
        if (__builtin_expect(g != kAll, 0)) return i + first(kAll & ~g);
    }
    return i;
}

// 4 KiB blocks off 64-byte boundaries (extended layouts), 8-byte aligned, go
// by aligned loads: 128 KiB of 4096+8/ext 2030 -> 1641 ns, 4096+16/g64/ext
// 1810 -> 1578 (Emerald Rapids, CPU 1, 5 alternating rounds, min). Not
// 512-byte blocks: there the fixed work per block (offsets, masks, masked
// loads, constants) cost more than the split loads it saves (512+8/ext
// 2143 -> 2454 ns). Those go by fold4_fin_ext512 instead, from a buffer on
// a 64-byte boundary (fio's are page-aligned): 128 KiB of 512+8/ext 2122 ->
// 1962 ns (pi_bench, 5 alternating rounds, min; 32 blocks from L1
// unchanged), 512+16/g64/ext 1-2 % (as one harness, interleaved).
template <bool G64>
uint32_t verify_run_t(const uint8_t* base, size_t stride, size_t len, uint32_t nb, const uint8_t* t, size_t tstride,
                      const TupleCheck& c, uint64_t ref0) {
    const uintptr_t al = reinterpret_cast<uintptr_t>(base) | stride;
    if ((al & 63) && !(al & 7) && len == 4096)
        return verify_run_body<G64, Shape::split>(base, stride, len, nb, t, tstride, c, ref0);
    if (len == 512 && !(reinterpret_cast<uintptr_t>(base) & 63)) {
        if (stride == 520) return verify_run_body<G64, Shape::ext1>(base, stride, len, nb, t, tstride, c, ref0);
        if (stride == 528) return verify_run_body<G64, Shape::ext2>(base, stride, len, nb, t, tstride, c, ref0);
    }
    return verify_run_body<G64, Shape::plain>(base, stride, len, nb, t, tstride, c, ref0);
}
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
inline __attribute__((always_inline)) V vhxor4(V a, V b, V c, V d, Dom) {
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
                                   isa_emu512::crc16_multi, isa_emu512::crc64_multi, nullptr, nullptr, nullptr, nullptr};

const CrcKernels kPclmulKernels = {CrcImpl::pclmul, isa_pclmul::crc16, isa_pclmul::crc64, isa_pclmul::crc16_multi,
                                   isa_pclmul::crc64_multi, nullptr, nullptr, isa_pclmul::verify_run_t<false>,
                                   isa_pclmul::verify_run_t<true>};
const CrcKernels kAvx2Kernels = {CrcImpl::vpclmul_avx2, isa_avx2::crc16, isa_avx2::crc64, isa_avx2::crc16_multi,
                                 isa_avx2::crc64_multi, nullptr, nullptr, isa_avx2::verify_run_t<false>,
                                 isa_avx2::verify_run_t<true>};
const CrcKernels kAvx512Kernels = {CrcImpl::vpclmul_avx512, isa_avx512::crc16, isa_avx512::crc64,
                                   isa_avx512::crc16_multi, isa_avx512::crc64_multi, isa_avx512::check16,
                                   isa_avx512::check64, isa_avx512::verify_run_t<false>, isa_avx512::verify_run_t<true>};

}  // namespace pifio::detail
#endif
