// Private to the pi core: CRC kernel tables and the dispatch record.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "pifio/pi.hpp"

namespace pifio::detail {

// Largest group of independent blocks a *_multi kernel takes at once.
inline constexpr unsigned kMultiMax = 8;

// What verify compares, as masks over a tuple's big-endian words (see
// PiFast): guard word (G64) and the app|ref word (G16: the whole tuple).
struct TupleCheck {
    uint64_t gmask, wmask, app_word, ref_mask;
};

// One implementation of both CRCs. Semantics as the public functions:
// crc16 seed/result plain; crc64 seed/result are finished CRCs.
// *_multi: CRC (from seed 0) of n <= kMultiMax blocks of len bytes each,
// block i at base + i*stride; results in out[0..n).
struct CrcKernels {
    CrcImpl impl;
    uint16_t (*crc16)(uint16_t crc, const uint8_t* p, size_t len);
    uint64_t (*crc64)(uint64_t crc, const uint8_t* p, size_t len);
    void (*crc16_multi)(const uint8_t* base, size_t stride, size_t len, unsigned n, uint16_t* out);
    void (*crc64_multi)(const uint8_t* base, size_t stride, size_t len, unsigned n, uint64_t* out);
    // Tuple checks of n <= kMultiMax blocks at once, or null (verify then
    // checks block by block): g[0..kMultiMax) the blocks' guards (read in
    // full; entries past n ignored), tuple i at t + i*tstride, block i's
    // expected ref tag (ref0 + i) & c.ref_mask. Bit i of the result is set
    // when block i has a checked bit that differs or app tag 0xffff (a
    // possible escape): verify looks at those blocks one by one, so a clear
    // bit means the block passes every check and is not an escape.
    uint32_t (*check16)(const uint16_t* g, const uint8_t* t, size_t tstride, unsigned n, const TupleCheck& c,
                        uint64_t ref0);
    uint32_t (*check64)(const uint64_t* g, const uint8_t* t, size_t tstride, unsigned n, const TupleCheck& c,
                        uint64_t ref0);
    // CRC and tuple checks of nb blocks in one pass, or null: block i's
    // guard bytes are len (a multiple of 64) at base + i*stride, with no
    // chain over md bytes; tuple i and ref tags as check16. Returns the
    // first block to look at one by one (flagged as by check16, or one of
    // the fewer than 4 blocks it leaves at the end); nb when every block
    // passed and none is an escape.
    uint32_t (*verify_run16)(const uint8_t* base, size_t stride, size_t len, uint32_t nb, const uint8_t* t,
                             size_t tstride, const TupleCheck& c, uint64_t ref0);
    uint32_t (*verify_run64)(const uint8_t* base, size_t stride, size_t len, uint32_t nb, const uint8_t* t,
                             size_t tstride, const TupleCheck& c, uint64_t ref0);
};

extern const CrcKernels kTableKernels;
// x86 variants; null kernels (all pointers null) when not built for x86.
extern const CrcKernels kPclmulKernels;
extern const CrcKernels kAvx2Kernels;
extern const CrcKernels kAvx512Kernels;
// Tests only: crc_fold.inc in the AVX-512 shape (64-byte vectors, 4 lanes)
// built from AVX2 halves, so that shape's logic runs on CPUs without AVX-512.
// Needs AVX2 + VPCLMULQDQ (the vpclmul_avx2 requirements); null off x86.
extern const CrcKernels kEmu512Kernels;

// Active kernels (probed on first use; the hot path is one load).
extern std::atomic<const CrcKernels*> g_active;
const CrcKernels& kernels_probe();
inline const CrcKernels& kernels() {
    const CrcKernels* k = g_active.load(std::memory_order_acquire);
    return __builtin_expect(k != nullptr, 1) ? *k : kernels_probe();
}

// Known-answer self-test of k against the table code on fixed inputs
// (lengths 0..4096, seeds, a 512+8 chain, unaligned starts, the *_multi
// kernels). True when every case agrees; otherwise writes the first
// disagreement ("crc64 len 255 seed 0x0 off 1: got 0x.., want 0x..") to why.
bool crc_selftest(const CrcKernels& k, char* why, size_t cap);

// One candidate of the automatic dispatch, in preference order.
struct DispatchCandidate {
    const CrcKernels* k;   // null or null pointers: not built for this arch
    bool cpu_ok;           // the CPU has the instructions
};
// The first candidate the CPU can run that passes crc_selftest, else the
// table kernels. Writes what happened to each candidate into note
// ("vpclmul-avx512: not supported by this CPU; vpclmul-avx2: self-test
// passed"). The probe behind kernels() is this with the real CPU; tests call
// it with injected candidates.
const CrcKernels* select_kernels(const DispatchCandidate* c, size_t n, char* note, size_t cap);

// Table code, callable by SIMD variants for heads/tails.
uint16_t crc16_table(uint16_t crc, const uint8_t* p, size_t len);
uint64_t crc64_table(uint64_t crc, const uint8_t* p, size_t len);
// crc64 on the raw register (init/xorout not applied).
uint64_t crc64_table_raw(uint64_t reg, const uint8_t* p, size_t len);

// Polynomials.
inline constexpr uint16_t kCrc16Poly = 0x8BB7;                     // x^16 implied
inline constexpr uint64_t kCrc64Poly = 0xAD93D23594C93659ull;      // x^64 implied, normal order

constexpr uint64_t reflect64(uint64_t v) {
    uint64_t r = 0;
    for (int i = 0; i < 64; ++i) {
        r = (r << 1) | (v & 1);
        v >>= 1;
    }
    return r;
}
inline constexpr uint64_t kCrc64PolyRefl = reflect64(kCrc64Poly);

}  // namespace pifio::detail
