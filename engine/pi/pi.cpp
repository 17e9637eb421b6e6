// Generate / verify / inject over runs of blocks, both layouts, both guard
// formats. 16b vs 64b differences live in the tuple accessors (G16, G64);
// the loops are written once. Hot paths never allocate, throw or log.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "crc_internal.hpp"

namespace pifio {
namespace {

using detail::CrcKernels;
using detail::kMultiMax;
using detail::TupleCheck;

inline uint16_t ld16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t ld32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return __builtin_bswap32(v);
}
inline uint64_t ld48(const uint8_t* p) { return uint64_t{ld16(p)} << 32 | ld32(p + 2); }
inline uint64_t ld64(const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}
inline void st16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
inline void st32(uint8_t* p, uint32_t v) {
    v = __builtin_bswap32(v);
    std::memcpy(p, &v, 4);
}
inline void st48(uint8_t* p, uint64_t v) {
    st16(p, static_cast<uint16_t>(v >> 32));
    st32(p + 2, static_cast<uint32_t>(v));
}
inline void st64(uint8_t* p, uint64_t v) {
    v = __builtin_bswap64(v);
    std::memcpy(p, &v, 8);
}

// 8-byte tuple: guard CRC16 | app 16 | ref 32 (big-endian).
struct G16 {
    using guard_t = uint16_t;
    static constexpr uint32_t kSize = 8;
    static constexpr uint64_t kRefMask = 0xffffffffull;
    static constexpr uint32_t kAppOff = 2;
    static uint64_t guard(const uint8_t* t) { return ld16(t); }
    static uint16_t app(const uint8_t* t) { return ld16(t + 2); }
    static uint64_t ref(const uint8_t* t) { return ld32(t + 4); }
    static void put(uint8_t* t, uint64_t g, uint16_t a, uint64_t r) {
        st16(t, static_cast<uint16_t>(g));
        st16(t + 2, a);
        st32(t + 4, static_cast<uint32_t>(r));
    }
    static guard_t crc(const CrcKernels& k, guard_t seed, const uint8_t* p, size_t n) { return k.crc16(seed, p, n); }
    using check_fn = decltype(CrcKernels::check16);
    static check_fn checker(const CrcKernels& k) { return k.check16; }
    static decltype(CrcKernels::verify_run16) runner(const CrcKernels& k) { return k.verify_run16; }
    static void multi(const CrcKernels& k, const uint8_t* b, size_t stride, size_t len, unsigned n, guard_t* out) {
        k.crc16_multi(b, stride, len, n, out);
    }
    // Masks of the checked bits of the tuple read as one big-endian word.
    static void fast_masks(bool guard, uint16_t app_mask, bool ref, uint64_t* gmask, uint64_t* wmask) {
        *gmask = 0;
        *wmask = (guard ? 0xffffull << 48 : 0) | uint64_t{app_mask} << 32 | (ref ? kRefMask : 0);
    }
    static uint64_t app_word(uint16_t app) { return uint64_t{app} << 32; }
    // Any checked bit differs: the tuple is one 8-byte compare.
    static bool fast_bad(const uint8_t* t, guard_t g, uint64_t want_aref, uint64_t, uint64_t wmask) {
        return ((ld64(t) ^ (uint64_t{g} << 48 | want_aref)) & wmask) != 0;
    }
};

// 16-byte tuple: guard CRC64 | app 16 | storage+ref 48 (big-endian).
struct G64 {
    using guard_t = uint64_t;
    static constexpr uint32_t kSize = 16;
    static constexpr uint64_t kRefMask = 0xffffffffffffull;
    static constexpr uint32_t kAppOff = 8;
    static uint64_t guard(const uint8_t* t) { return ld64(t); }
    static uint16_t app(const uint8_t* t) { return ld16(t + 8); }
    static uint64_t ref(const uint8_t* t) { return ld48(t + 10); }
    static void put(uint8_t* t, uint64_t g, uint16_t a, uint64_t r) {
        st64(t, g);
        st16(t + 8, a);
        st48(t + 10, r);
    }
    static guard_t crc(const CrcKernels& k, guard_t seed, const uint8_t* p, size_t n) { return k.crc64(seed, p, n); }
    using check_fn = decltype(CrcKernels::check64);
    static check_fn checker(const CrcKernels& k) { return k.check64; }
    static decltype(CrcKernels::verify_run64) runner(const CrcKernels& k) { return k.verify_run64; }
    static void multi(const CrcKernels& k, const uint8_t* b, size_t stride, size_t len, unsigned n, guard_t* out) {
        k.crc64_multi(b, stride, len, n, out);
    }
    // Guard word, then app 16 | ref 48 as the second big-endian word.
    static void fast_masks(bool guard, uint16_t app_mask, bool ref, uint64_t* gmask, uint64_t* wmask) {
        *gmask = guard ? ~uint64_t{0} : 0;
        *wmask = uint64_t{app_mask} << 48 | (ref ? kRefMask : 0);
    }
    static uint64_t app_word(uint16_t app) { return uint64_t{app} << 48; }
    static bool fast_bad(const uint8_t* t, guard_t g, uint64_t want_aref, uint64_t gmask, uint64_t wmask) {
        return (((ld64(t) ^ g) & gmask) | ((ld64(t + 8) ^ want_aref) & wmask)) != 0;
    }
};

// Where a block's pieces live, for either layout.
struct Geometry {
    size_t ds;       // data stride
    size_t mstride;  // md stride (sep) or 0
    uint32_t dsize;
    uint32_t pi_off;
    size_t contig;   // guard bytes contiguous with the data (data + md prefix when ext)
    size_t chain;    // guard bytes in the separate md buffer (sep, PI last, ms > tuple)
    bool ext;

    explicit Geometry(const Format& f)
        : ds(f.data_stride()),
          mstride(f.md_stride()),
          dsize(f.data_size),
          pi_off(f.pi_offset()),
          contig(f.data_size + (f.layout == Layout::ext ? f.pi_offset() : 0)),
          chain(f.layout == Layout::ext ? 0 : f.pi_offset()),
          ext(f.layout == Layout::ext) {}
    explicit Geometry(const PiFast& f)
        : ds(f.ds), mstride(f.mstride), dsize(f.dsize), pi_off(f.pi_off), contig(f.contig), chain(f.chain), ext(f.ext) {}

    template <class P>
    P* md_of(P* data, P* md, size_t block) const {
        return ext ? data + block * ds + dsize : md + block * mstride;
    }
    template <class P>
    P* tuple_of(P* data, P* md, size_t block) const {
        return md_of(data, md, block) + pi_off;
    }
};

// Guards (from seed 0) of n consecutive blocks' contiguous bytes: one
// direct kernel call for a lone block, the lockstep kernel otherwise.
template <class T>
inline void guards(const CrcKernels& k, const uint8_t* d, const Geometry& geo, unsigned n, typename T::guard_t* g) {
    if (n == 1)
        g[0] = T::crc(k, 0, d, geo.contig);
    else
        T::multi(k, d, geo.ds, geo.contig, n, g);
}

template <class T>
void generate_t(const PiContext& ctx, uint8_t* data, uint8_t* md, const Span& span) {
    const CrcKernels& k = detail::kernels();
    if (span.nblocks == 1) {
        // A lone block: the CRC call first, with little live across it.
        typename T::guard_t g = T::crc(k, 0, data, ctx.fast.contig);
        const Geometry geo(ctx.fast);
        uint8_t* m = geo.md_of(data, md, 0);
        if (geo.chain) g = T::crc(k, g, m, geo.chain);
        T::put(m + geo.pi_off, g, ctx.app_tag, span.ref & T::kRefMask);
        return;
    }
    const Geometry geo(ctx.fast);
    typename T::guard_t g[kMultiMax];
    for (uint32_t i = 0; i < span.nblocks; i += kMultiMax) {
        const unsigned n = std::min<uint32_t>(kMultiMax, span.nblocks - i);
        guards<T>(k, data + i * geo.ds, geo, n, g);
        for (unsigned j = 0; j < n; ++j) {
            uint8_t* m = geo.md_of(data, md, i + j);
            if (geo.chain) g[j] = T::crc(k, g[j], m, geo.chain);
            T::put(m + geo.pi_off, g[j], ctx.app_tag, (span.ref + i + j) & T::kRefMask);
        }
    }
}

// Out of the hot loop: block b failed at least one check. `failed` has bit
// Field set per failing field; records them in field order, re-reading the
// tuple at t.
template <class T>
__attribute__((noinline, cold)) void record_bad(VerifyStats& st, Mismatch* out, uint32_t max_out, const Span& span,
                                                uint32_t b, unsigned failed, const uint8_t* t, uint64_t guard_want,
                                                uint16_t app_want) {
    const uint64_t got[3] = {T::guard(t), T::app(t), T::ref(t)};
    const uint64_t want[3] = {guard_want, app_want, (span.ref + b) & T::kRefMask};
    for (unsigned f = 0; f < 3; ++f) {
        if (!(failed & (1u << f))) continue;
        ++st.count[f];
        if (st.recorded < max_out) out[st.recorded++] = Mismatch{b, span.lba + b, static_cast<Field>(f), got[f], want[f]};
    }
    ++st.bad_blocks;
}

// What verify compares, set up once per call: the checked bits of the
// tuple as masks over its big-endian words, the expected app tag in place.
template <class T>
struct FastCheck {
    uint64_t gmask, wmask, app_word;
    bool type3, guard;
    explicit FastCheck(const PiContext& ctx)
        : app_word(T::app_word(ctx.app_tag)), type3(ctx.fmt.pi_type == 3), guard((ctx.checks & CHK_GUARD) != 0) {
        const uint16_t app_mask = (ctx.checks & CHK_APP) ? ctx.app_mask : 0;
        T::fast_masks(guard, app_mask, (ctx.checks & CHK_REF) && !type3, &gmask, &wmask);
    }
    // As make_context() worked it out: loads, no branches.
    explicit FastCheck(const PiFast& f)
        : gmask(f.gmask), wmask(f.wmask), app_word(f.app_word), type3(f.type3), guard(f.guard) {}
};

// Out of the hot loop: some checked bit of block b differs. Works out which
// fields failed (in field order) and records them.
template <class T>
__attribute__((noinline, cold)) void classify_bad(const PiContext& ctx, VerifyStats& st, Mismatch* out,
                                                  uint32_t max_out, const Span& span, uint32_t b, const uint8_t* t,
                                                  uint64_t g) {
    unsigned failed = 0;
    if (ctx.checks & CHK_GUARD) failed |= T::guard(t) != g;
    const uint16_t app_mask = (ctx.checks & CHK_APP) ? ctx.app_mask : 0;
    failed |= (((T::app(t) ^ ctx.app_tag) & app_mask) != 0) << 1;
    if ((ctx.checks & CHK_REF) && ctx.fmt.pi_type != 3) failed |= (T::ref(t) != ((span.ref + b) & T::kRefMask)) << 2;
    record_bad<T>(st, out, max_out, span, b, failed, t, g, ctx.app_tag);
}

// Checks of one block whose guard over the contiguous bytes is g (the chain
// over the md prefix is added here). Returns true when the block is bad.
template <class T>
inline __attribute__((always_inline)) bool check_block(const PiContext& ctx, const FastCheck<T>& fc,
                                                       const Geometry& geo, const CrcKernels& k, const uint8_t* m,
                                                       typename T::guard_t g, uint32_t b, const Span& span,
                                                       VerifyStats& st, Mismatch* out, uint32_t max_out) {
    const uint8_t* t = m + geo.pi_off;
    if (__builtin_expect(T::app(t) == 0xffff, 0) && (!fc.type3 || T::ref(t) == T::kRefMask)) {
        ++st.escaped;
        return false;
    }
    if (fc.guard && geo.chain) g = T::crc(k, g, m, geo.chain);
    if (__builtin_expect(!T::fast_bad(t, g, fc.app_word | ((span.ref + b) & T::kRefMask), fc.gmask, fc.wmask), 1))
        return false;
    classify_bad<T>(ctx, st, out, max_out, span, b, t, g);
    return true;
}

template <class T>
inline __attribute__((always_inline)) bool verify_t(const PiContext& ctx, const uint8_t* data, const uint8_t* md, const Span& span, Mismatch* out,
              uint32_t max_out, VerifyStats* stats, bool stop_at_first) {
    const CrcKernels& k = detail::kernels();
    VerifyStats st;
    if (span.nblocks == 1) {
        // A lone block (the common 4 KiB I/O): the CRC call comes first, with
        // little live across it, then the checks.
        const typename T::guard_t g = ctx.fast.guard ? T::crc(k, 0, data, ctx.fast.contig) : 0;
        const Geometry geo(ctx.fast);
        const FastCheck<T> fc(ctx.fast);
        check_block<T>(ctx, fc, geo, k, geo.md_of(data, md, 0), g, 0, span, st, out, max_out);
    } else if (span.nblocks) {   // (no pointer is formed into an empty span's buffers)
        const Geometry geo(ctx.fast);
        const FastCheck<T> fc(ctx.fast);
        typename T::guard_t g[kMultiMax] = {};
        // Block i's metadata: one pointer stepped by the layout's stride.
        const size_t mstep = geo.ext ? geo.ds : geo.mstride;
        const uint8_t* m = geo.md_of(data, md, 0);
        // The kernels' vector tuple check, where the guard needs no chain
        // over md bytes: the blocks it flags (bad, or a possible escape) go
        // through check_block, the rest passed every check.
        const auto vcheck = geo.chain ? nullptr : T::checker(k);
        const TupleCheck tc{fc.gmask, fc.wmask, fc.app_word, T::kRefMask};
        const auto run = ctx.fast.run ? T::runner(k) : nullptr;   // as make_context worked it out
        if (run) {
            // CRCs and compares in one pass; the blocks it stops at (bad, a
            // possible escape, the last few) are checked one by one.
            for (uint32_t b = 0; b < span.nblocks; ++b) {
                b += run(data + b * geo.ds, geo.ds, geo.contig, span.nblocks - b, m + b * mstep + geo.pi_off, mstep,
                         tc, span.ref + b);
                if (b >= span.nblocks) break;
                const typename T::guard_t gb = T::crc(k, 0, data + b * geo.ds, geo.contig);
                if (check_block<T>(ctx, fc, geo, k, m + b * mstep, gb, b, span, st, out, max_out) && stop_at_first)
                    goto done;
            }
            goto done;
        }
        for (uint32_t i = 0; i < span.nblocks; i += kMultiMax) {
            const unsigned n = std::min<uint32_t>(kMultiMax, span.nblocks - i);
            if (fc.guard) guards<T>(k, data + i * geo.ds, geo, n, g);
            if (vcheck) {
                for (uint32_t f = vcheck(g, m + geo.pi_off, mstep, n, tc, span.ref + i); f; f &= f - 1) {
                    const unsigned j = static_cast<unsigned>(__builtin_ctz(f));
                    if (check_block<T>(ctx, fc, geo, k, m + j * mstep, g[j], i + j, span, st, out, max_out) &&
                        stop_at_first)
                        goto done;
                }
                m += n * mstep;
                continue;
            }
            for (unsigned j = 0; j < n; ++j, m += mstep)
                if (check_block<T>(ctx, fc, geo, k, m, g[j], i + j, span, st, out, max_out) && stop_at_first)
                    goto done;
        }
    }
done:
    if (stats) *stats = st;
    return st.bad_blocks == 0;
}

}  // namespace

// The kernels' one-pass check (CrcKernels::verify_run16/64) over the span
// straight from the context, with none of verify_t's set-up (~15 cycles a
// call: a tenth of a 4 KiB I/O of 512-byte blocks). Returns the blocks it
// passed (all of them, or up to the first it flags: bad, or a possible
// escape, which it never skips itself; or up to the last few of a group);
// d, m and span are moved past them for verify_t.
static uint32_t run_prefix(const PiContext& ctx, const uint8_t*& d, const uint8_t*& m, Span& span) {
    const PiFast& f = ctx.fast;
    if (!f.run || span.nblocks < 4) return 0;
    const CrcKernels& k = detail::kernels();
    const bool g16 = ctx.fmt.guard == Guard::g16;
    const auto run = g16 ? k.verify_run16 : k.verify_run64;
    if (!run) return 0;
    const TupleCheck tc{f.gmask, f.wmask, f.app_word, g16 ? G16::kRefMask : G64::kRefMask};
    const size_t mstep = f.ext ? f.ds : f.mstride;
    const uint32_t b = run(d, f.ds, f.contig, span.nblocks, (f.ext ? d + f.dsize : m) + f.pi_off, mstep, tc, span.ref);
    if (b == span.nblocks) return b;
    span = Span{span.lba + b, span.ref + b, span.nblocks - b};
    d += size_t{b} * f.ds;
    if (!f.ext) m += size_t{b} * f.mstride;
    return b;
}

const char* field_name(Field f) {
    switch (f) {
        case Field::guard: return "guard";
        case Field::app: return "apptag";
        case Field::ref: return "reftag";
    }
    return "?";
}

Result<PiContext> make_context(const Format& fmt, uint16_t app_tag, uint16_t app_mask, uint8_t checks) {
    Result<PiContext> r;
    // Validate a hand-built Format with the parser's rules (one place).
    Result<Format> pf = parse_format(format_to_string(fmt));
    if (fmt.pi_type > 3) {
        r.error = {EINVAL, "PI type " + std::to_string(fmt.pi_type) + " is not 0..3"};
        return r;
    }
    if (!pf.ok()) {
        r.error = pf.error;
        return r;
    }
    if (checks & ~CHK_ALL) {
        r.error = {EINVAL, "checks 0x" + std::to_string(checks) + " has bits outside CHK_ALL (guard|app|ref = 7)"};
        return r;
    }
    r.value.fmt = fmt;
    r.value.app_tag = app_tag;
    r.value.app_mask = app_mask;
    // Type 3 has no reference tag check (NVMe rejects PRCHK ref on type 3).
    r.value.checks = fmt.pi_type == 3 ? static_cast<uint8_t>(checks & ~CHK_REF) : checks;
    const Geometry geo(fmt);
    PiFast& f = r.value.fast;
    f.ds = uint32_t(geo.ds);
    f.mstride = uint32_t(geo.mstride);
    f.dsize = geo.dsize;
    f.pi_off = geo.pi_off;
    f.contig = uint32_t(geo.contig);
    f.chain = uint32_t(geo.chain);
    f.ext = geo.ext;
    auto masks = [&](auto fc) {
        f.gmask = fc.gmask;
        f.wmask = fc.wmask;
        f.app_word = fc.app_word;
        f.type3 = fc.type3;
        f.guard = fc.guard;
    };
    if (fmt.guard == Guard::g16) masks(FastCheck<G16>(r.value));
    else masks(FastCheck<G64>(r.value));
    f.run = f.guard && f.chain == 0 && f.contig % 64 == 0;
    return r;
}

void generate(const PiContext& ctx, void* data, void* md, const Span& span) {
    if (ctx.fmt.pi_type == 0) return;
    auto* d = static_cast<uint8_t*>(data);
    auto* m = static_cast<uint8_t*>(md);
    if (ctx.fmt.guard == Guard::g16)
        generate_t<G16>(ctx, d, m, span);
    else
        generate_t<G64>(ctx, d, m, span);
}

bool verify(const PiContext& ctx, const void* data, const void* md, const Span& span, Mismatch* out,
            uint32_t max_out, VerifyStats* stats, bool stop_at_first) {
    if (ctx.fmt.pi_type == 0) {
        if (stats) *stats = VerifyStats{};
        return true;
    }
    const auto* d = static_cast<const uint8_t*>(data);
    const auto* m = static_cast<const uint8_t*>(md);
    Span rest = span;
    const uint32_t b = run_prefix(ctx, d, m, rest);
    if (b == span.nblocks) {
        if (stats) *stats = VerifyStats{};
        return true;
    }
    VerifyStats st;
    const bool ok = ctx.fmt.guard == Guard::g16 ? verify_t<G16>(ctx, d, m, rest, out, max_out, &st, stop_at_first)
                                                : verify_t<G64>(ctx, d, m, rest, out, max_out, &st, stop_at_first);
    for (uint32_t i = 0; i < st.recorded; ++i) out[i].block += b;   // indices within the caller's span
    if (stats) *stats = st;
    return ok;
}

uint32_t verify_quick(const PiContext& ctx, const void* data, const void* md, const Span& span) {
    if (ctx.fmt.pi_type == 0) return 0;
    const auto* d = static_cast<const uint8_t*>(data);
    const auto* m = static_cast<const uint8_t*>(md);
    Span rest = span;
    if (run_prefix(ctx, d, m, rest) == span.nblocks) return 0;
    VerifyStats st;
    // verify_t inlined with no records and a stop at the first bad block:
    // what is left is the CRC and the tuple compares.
    if (ctx.fmt.guard == Guard::g16) verify_t<G16>(ctx, d, m, rest, nullptr, 0, &st, true);
    else verify_t<G64>(ctx, d, m, rest, nullptr, 0, &st, true);
    return st.bad_blocks ? kVerifyBad : st.escaped;
}

void inject(const Format& fmt, void* data, void* md, uint32_t block, Field field, bool flip_data) {
    if (fmt.pi_type == 0) return;
    const Geometry geo(fmt);
    auto* d = static_cast<uint8_t*>(data);
    auto* m = static_cast<uint8_t*>(md);
    if (field == Field::guard && flip_data) {
        d[block * geo.ds] ^= 1;
        return;
    }
    uint8_t* t = geo.tuple_of(d, m, block);
    const bool g64 = fmt.guard == Guard::g64;
    size_t last = 0;
    switch (field) {
        case Field::guard: last = g64 ? 7 : 1; break;
        case Field::app: last = g64 ? 9 : 3; break;
        case Field::ref: last = g64 ? 15 : 7; break;
    }
    t[last] ^= 1;
}

Tuple read_tuple(const Format& fmt, const void* data, const void* md, uint32_t block) {
    if (fmt.pi_type == 0) return Tuple{0, 0, 0};
    const Geometry geo(fmt);
    const uint8_t* t = geo.tuple_of(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(md), block);
    if (fmt.guard == Guard::g16) return Tuple{G16::guard(t), G16::app(t), G16::ref(t)};
    return Tuple{G64::guard(t), G64::app(t), G64::ref(t)};
}

void write_tuple(const Format& fmt, void* data, void* md, uint32_t block, const Tuple& tu) {
    if (fmt.pi_type == 0) return;
    const Geometry geo(fmt);
    uint8_t* t = geo.tuple_of(static_cast<uint8_t*>(data), static_cast<uint8_t*>(md), block);
    if (fmt.guard == Guard::g16)
        G16::put(t, tu.guard, tu.app, tu.ref);
    else
        G64::put(t, tu.guard, tu.app, tu.ref);
}

uint64_t compute_guard(const Format& fmt, const void* data, const void* md, uint32_t block) {
    const Geometry geo(fmt);
    const auto* d = static_cast<const uint8_t*>(data) + block * geo.ds;
    const uint8_t* m = geo.md_of(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(md), block);
    if (fmt.guard == Guard::g16) {
        uint16_t g = crc16_t10dif(0, d, geo.contig);
        return geo.chain ? crc16_t10dif(g, m, geo.chain) : g;
    }
    uint64_t g = crc64_nvme(0, d, geo.contig);
    return geo.chain ? crc64_nvme(g, m, geo.chain) : g;
}

}  // namespace pifio
