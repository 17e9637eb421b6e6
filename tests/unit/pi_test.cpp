// generate / verify / inject: round trips on every format and every CRC
// implementation, corruption of each field, escapes, app tag mask, checks.
#include <algorithm>
#include <cstring>

#include "crc_internal.hpp"
#include "test_util.hpp"

namespace pifio::test {
namespace {

std::vector<Format> all_formats() {
    std::vector<Format> v;
    for (uint32_t ds : {512u, 4096u})
        for (uint32_t ms : {8u, 16u, 24u, 64u})
            for (uint8_t t : {1, 2, 3})
                for (Guard g : {Guard::g16, Guard::g64})
                    for (PiLoc l : {PiLoc::last, PiLoc::first})
                        for (Layout lay : {Layout::sep, Layout::ext}) {
                            Format f{ds, ms, t, g, l, lay};
                            if (parse_format(format_to_string(f)).ok()) v.push_back(f);
                        }
    return v;
}

// A run of blocks in either layout, with an independent reference guard.
struct Buffers {
    Format f;
    uint32_t n;
    std::vector<uint8_t> data, md;
    Buffers(const Format& fmt, uint32_t nblocks, std::mt19937_64& rng)
        : f(fmt), n(nblocks), data(random_bytes(rng, size_t{nblocks} * fmt.data_stride())),
          md(random_bytes(rng, size_t{nblocks} * fmt.md_stride())) {}
    uint8_t* d() { return data.data(); }
    uint8_t* m() { return md.empty() ? nullptr : md.data(); }
    uint8_t* md_of(uint32_t b) {
        return f.layout == Layout::ext ? d() + size_t{b} * f.data_stride() + f.data_size : m() + size_t{b} * f.ms;
    }
    // Bit-serial guard over data then the metadata bytes before the tuple.
    uint64_t ref_guard(uint32_t b) {
        const uint8_t* blk = d() + size_t{b} * f.data_stride();
        if (f.guard == Guard::g16)
            return crc16_t10dif_ref(crc16_t10dif_ref(0, blk, f.data_size), md_of(b), f.pi_offset());
        return crc64_nvme_ref(crc64_nvme_ref(0, blk, f.data_size), md_of(b), f.pi_offset());
    }
};

PiContext ctx_of(const Format& f, uint16_t app = 0x1234, uint16_t mask = 0xffff, uint8_t checks = CHK_ALL) {
    auto r = make_context(f, app, mask, checks);
    EXPECT_TRUE(r.ok()) << r.error.msg;
    return r.value;
}

class Pi : public ImplTest {};

TEST_P(Pi, RoundTripEveryFormat) {
    std::mt19937_64 rng(2024);
    for (const Format& f : all_formats()) {
        SCOPED_TRACE(format_to_string(f));
        for (uint32_t n : {1u, 7u, 8u, 9u, 19u}) {
            Buffers b(f, n, rng);
            const std::vector<uint8_t> md0 = b.md;
            const std::vector<uint8_t> data0 = b.data;
            const PiContext c = ctx_of(f, 0x4321);
            const Span s{1000, 0xfffffffe, n};   // 32-bit ref tag wraps inside the run
            generate(c, b.d(), b.m(), s);
            VerifyStats st;
            Mismatch mm[4];
            ASSERT_TRUE(verify(c, b.d(), b.m(), s, mm, 4, &st)) << "block " << mm[0].block << " " << field_name(mm[0].field);
            EXPECT_EQ(st.total(), 0u);
            for (uint32_t i = 0; i < n; ++i) {
                Tuple t = read_tuple(f, b.d(), b.m(), i);
                ASSERT_EQ(t.guard, b.ref_guard(i)) << "block " << i;
                EXPECT_EQ(t.guard, compute_guard(f, b.d(), b.m(), i));
                EXPECT_EQ(t.app, 0x4321);
                EXPECT_EQ(t.ref, (0xfffffffeull + i) & ref_mask(f));
                // Nothing outside the tuple changed.
                const uint8_t* m = b.md_of(i);
                const uint8_t* m0 = f.layout == Layout::ext
                                        ? data0.data() + size_t{i} * f.data_stride() + f.data_size
                                        : md0.data() + size_t{i} * f.ms;
                for (uint32_t k = 0; k < f.ms; ++k) {
                    if (k < f.pi_offset() || k >= f.pi_offset() + f.tuple_size()) {
                        ASSERT_EQ(m[k], m0[k]) << k;
                    }
                }
                ASSERT_EQ(0, std::memcmp(b.d() + size_t{i} * f.data_stride(), data0.data() + size_t{i} * f.data_stride(),
                                         f.data_size));
            }
        }
    }
}

TEST_P(Pi, EachFieldCorruptionAtTheRightBlock) {
    std::mt19937_64 rng(77);
    for (const Format& f : all_formats()) {
        SCOPED_TRACE(format_to_string(f));
        const uint32_t n = 13;
        Buffers b(f, n, rng);
        const PiContext c = ctx_of(f, 0x0a0b);
        const Span s{5000, f.pi_type == 2 ? 0x777u : 5000u, n};
        generate(c, b.d(), b.m(), s);
        const std::vector<uint8_t> clean_d = b.data, clean_m = b.md;
        for (int fi = 0; fi < 4; ++fi) {
            b.data = clean_d;
            b.md = clean_m;
            const uint32_t blk = static_cast<uint32_t>(rng() % n);
            const Field field = fi == 3 ? Field::guard : static_cast<Field>(fi);
            const bool flip_data = fi == 3;
            const Tuple before = read_tuple(f, b.d(), b.m(), blk);
            inject(f, b.d(), b.m(), blk, field, flip_data);
            Mismatch mm[4];
            VerifyStats st;
            const bool ok = verify(c, b.d(), b.m(), s, mm, 4, &st);
            if (field == Field::ref && f.pi_type == 3) {  // type 3: ref tag never checked
                EXPECT_TRUE(ok);
                continue;
            }
            ASSERT_FALSE(ok) << field_name(field);
            ASSERT_EQ(st.bad_blocks, 1u);
            ASSERT_EQ(st.recorded, 1u);
            EXPECT_EQ(st.count[static_cast<int>(field)], 1u);
            EXPECT_EQ(mm[0].block, blk);
            EXPECT_EQ(mm[0].lba, 5000u + blk);
            EXPECT_EQ(mm[0].field, field);
            const Tuple after = read_tuple(f, b.d(), b.m(), blk);
            switch (field) {
                case Field::guard:
                    EXPECT_EQ(mm[0].got, after.guard);
                    EXPECT_EQ(mm[0].want, b.ref_guard(blk));
                    EXPECT_EQ(mm[0].got, flip_data ? before.guard : before.guard ^ 1);
                    break;
                case Field::app:
                    EXPECT_EQ(mm[0].got, 0x0a0bu ^ 1);
                    EXPECT_EQ(mm[0].want, 0x0a0bu);
                    break;
                case Field::ref:
                    EXPECT_EQ(mm[0].want, (s.ref + blk) & ref_mask(f));
                    EXPECT_EQ(mm[0].got, mm[0].want ^ 1);
                    break;
            }
        }
    }
}

// Random formats, run lengths (lone blocks, partial and whole lockstep
// groups, many groups), ref seeds near the wrap and app tags: every guard
// against the bit-serial reference, then one random bit of one random tuple
// flipped and found at that block and field (or ignored where unchecked).
TEST_P(Pi, RandomRunsAgainstReference) {
    std::mt19937_64 rng(0xb10c);
    const std::vector<Format> fmts = all_formats();
    for (int iter = 0; iter < 300; ++iter) {
        const Format& f = fmts[rng() % fmts.size()];
        const uint32_t n = 1 + static_cast<uint32_t>(rng() % 40);
        SCOPED_TRACE(format_to_string(f) + " n=" + std::to_string(n));
        Buffers b(f, n, rng);
        const auto app = static_cast<uint16_t>(rng() % 0xffff);  // never the 0xFFFF escape
        const PiContext c = ctx_of(f, app);
        const uint64_t ref = (rng() & 1) ? ref_mask(f) - rng() % 8 : rng() & ref_mask(f);
        const Span s{ref, ref, n};
        generate(c, b.d(), b.m(), s);
        for (uint32_t i = 0; i < n; ++i) ASSERT_EQ(read_tuple(f, b.d(), b.m(), i).guard, b.ref_guard(i)) << i;
        VerifyStats st;
        ASSERT_TRUE(verify(c, b.d(), b.m(), s, nullptr, 0, &st));
        const uint32_t blk = static_cast<uint32_t>(rng() % n);
        const unsigned bit = static_cast<unsigned>(rng() % (f.tuple_size() * 8));
        b.md_of(blk)[f.pi_offset() + bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        const Tuple t = read_tuple(f, b.d(), b.m(), blk);
        const unsigned gbits = f.guard == Guard::g16 ? 16 : 64;
        const Field field = bit < gbits ? Field::guard : bit < gbits + 16 ? Field::app : Field::ref;
        Mismatch mm[2];
        const bool ok = verify(c, b.d(), b.m(), s, mm, 2, &st);
        if (t.app == 0xffff || (field == Field::ref && f.pi_type == 3)) continue;  // escape / unchecked
        ASSERT_FALSE(ok);
        ASSERT_EQ(st.bad_blocks, 1u);
        ASSERT_EQ(st.recorded, 1u);
        EXPECT_EQ(mm[0].block, blk);
        EXPECT_EQ(mm[0].field, field);
    }
}

// verify_quick() is verify() without records: the same verdict and, when
// clean, the same escape count, on every format, corrupted or not, with
// escaped blocks mixed in.
TEST_P(Pi, QuickAgreesWithVerify) {
    std::mt19937_64 rng(0x9c1c);
    const std::vector<Format> fmts = all_formats();
    int bad_seen = 0, escaped_seen = 0;
    for (int iter = 0; iter < 400; ++iter) {
        const Format& f = fmts[rng() % fmts.size()];
        const uint32_t n = 1 + static_cast<uint32_t>(rng() % 20);
        SCOPED_TRACE(format_to_string(f) + " n=" + std::to_string(n) + " iter=" + std::to_string(iter));
        Buffers b(f, n, rng);
        const PiContext c = ctx_of(f, static_cast<uint16_t>(rng() % 0xffff), 0xffff, uint8_t(1 + rng() % 7));
        const uint64_t ref = rng() & ref_mask(f);
        const Span s{ref, ref, n};
        generate(c, b.d(), b.m(), s);
        if (rng() % 3 == 0) {   // an escaped block (app 0xFFFF, ref all ones: every type)
            const uint32_t e = static_cast<uint32_t>(rng() % n);
            write_tuple(f, b.d(), b.m(), e, Tuple{0xbad, 0xffff, ref_mask(f)});
        }
        if (rng() % 2 == 0) {   // a flipped bit in some block's tuple or data
            const uint32_t blk = static_cast<uint32_t>(rng() % n);
            if (rng() % 2) b.md_of(blk)[f.pi_offset() + rng() % f.tuple_size()] ^= uint8_t(1u << (rng() % 8));
            else b.d()[size_t{blk} * f.data_stride() + rng() % f.data_size] ^= uint8_t(1u << (rng() % 8));
        }
        VerifyStats st;
        const bool ok = verify(c, b.d(), b.m(), s, nullptr, 0, &st);
        const uint32_t q = verify_quick(c, b.d(), b.m(), s);
        if (ok) {
            EXPECT_EQ(q, st.escaped);
            escaped_seen += st.escaped != 0;
        } else {
            EXPECT_EQ(q, kVerifyBad);
            ++bad_seen;
        }
    }
    EXPECT_GT(bad_seen, 50);       // both outcomes were exercised
    EXPECT_GT(escaped_seen, 50);
}

TEST_P(Pi, StopAtFirstMaxOutAndCounts) {
    std::mt19937_64 rng(5);
    const Format f = parse_format("512+8/t1").value;
    Buffers b(f, 20, rng);
    const PiContext c = ctx_of(f);
    const Span s{0, 0, 20};
    generate(c, b.d(), b.m(), s);
    inject(f, b.d(), b.m(), 3, Field::guard);
    inject(f, b.d(), b.m(), 3, Field::app);
    inject(f, b.d(), b.m(), 9, Field::ref);
    inject(f, b.d(), b.m(), 15, Field::guard, true);
    VerifyStats st;
    Mismatch mm[8];
    EXPECT_FALSE(verify(c, b.d(), b.m(), s, mm, 8, &st));
    EXPECT_EQ(st.bad_blocks, 3u);
    EXPECT_EQ(st.count[0], 2u);
    EXPECT_EQ(st.count[1], 1u);
    EXPECT_EQ(st.count[2], 1u);
    EXPECT_EQ(st.recorded, 4u);
    EXPECT_EQ(mm[0].block, 3u);
    EXPECT_EQ(mm[1].block, 3u);
    EXPECT_EQ(mm[2].block, 9u);
    EXPECT_EQ(mm[3].block, 15u);
    // Records capped at max_out, counting goes on.
    EXPECT_FALSE(verify(c, b.d(), b.m(), s, mm, 1, &st));
    EXPECT_EQ(st.recorded, 1u);
    EXPECT_EQ(st.total(), 4u);
    EXPECT_FALSE(verify(c, b.d(), b.m(), s, nullptr, 0, &st));
    EXPECT_EQ(st.recorded, 0u);
    EXPECT_EQ(st.bad_blocks, 3u);
    // Stop at the first bad block.
    EXPECT_FALSE(verify(c, b.d(), b.m(), s, mm, 8, &st, true));
    EXPECT_EQ(st.bad_blocks, 1u);
    EXPECT_EQ(st.recorded, 2u);
    EXPECT_EQ(mm[0].block, 3u);
}

TEST_P(Pi, ChecksSelectFields) {
    std::mt19937_64 rng(6);
    const Format f = parse_format("4096+16/t1/g64/ext").value;
    Buffers b(f, 4, rng);
    generate(ctx_of(f), b.d(), b.m(), {0, 0, 4});
    inject(f, b.d(), b.m(), 0, Field::guard);
    inject(f, b.d(), b.m(), 1, Field::app);
    inject(f, b.d(), b.m(), 2, Field::ref);
    VerifyStats st;
    for (uint8_t chk : {CHK_GUARD, CHK_APP, CHK_REF}) {
        EXPECT_FALSE(verify(ctx_of(f, 0x1234, 0xffff, chk), b.d(), b.m(), {0, 0, 4}, nullptr, 0, &st));
        EXPECT_EQ(st.bad_blocks, 1u);
        EXPECT_EQ(st.total(), 1u);
    }
    EXPECT_TRUE(verify(ctx_of(f, 0x1234, 0xffff, 0), b.d(), b.m(), {0, 0, 4}, nullptr, 0, &st));
}

TEST_P(Pi, AppTagMask) {
    std::mt19937_64 rng(8);
    for (const char* spec : {"512+8/t1", "4096+16/t2/g64"}) {
        const Format f = parse_format(spec).value;
        Buffers b(f, 2, rng);
        generate(ctx_of(f, 0x12ab), b.d(), b.m(), {0, 0, 2});
        VerifyStats st;
        // Low byte differs: ignored under mask 0xff00, caught under 0xffff.
        EXPECT_TRUE(verify(ctx_of(f, 0x12cd, 0xff00), b.d(), b.m(), {0, 0, 2}, nullptr, 0, &st)) << spec;
        EXPECT_FALSE(verify(ctx_of(f, 0x12cd, 0xffff), b.d(), b.m(), {0, 0, 2}, nullptr, 0, &st)) << spec;
        EXPECT_EQ(st.count[1], 2u);
        // High byte differs: caught under 0xff00, ignored under 0x00ff and 0.
        EXPECT_FALSE(verify(ctx_of(f, 0x34ab, 0xff00), b.d(), b.m(), {0, 0, 2}, nullptr, 0, &st)) << spec;
        EXPECT_TRUE(verify(ctx_of(f, 0x34ab, 0x00ff), b.d(), b.m(), {0, 0, 2}, nullptr, 0, &st)) << spec;
        EXPECT_TRUE(verify(ctx_of(f, 0x34ab, 0x0000), b.d(), b.m(), {0, 0, 2}, nullptr, 0, &st)) << spec;
    }
}

// Type 1/2: app tag 0xFFFF disables every check of the block. Type 3: only
// app 0xFFFF together with an all-ones ref tag does.
// Runs long enough for the multi-block paths (groups of 4 and 8 blocks, a
// remainder): every bit of the tuple and a data bit of blocks at a group's
// edges, one at a time, must fail exactly that block in exactly that field.
// Runs whose blocks start off 64-byte boundaries (the extended layout, or a
// buffer at any 8-byte offset): the kernels read them by aligned loads and
// put each block's head and tail together. Every offset of the buffer, and
// a flip of each block's first and last data byte and of the byte at each
// of its 64-byte boundaries must be found at that block.
TEST_P(Pi, RunsAtEveryBufferOffset) {
    std::mt19937_64 rng(77);
    for (const char* spec : {"512+8/t1/ext", "512+16/t1/g64/ext", "4096+8/t1/ext", "4096+16/t1/g64/ext", "512+8/t1",
                             "512+16/t1/g64"}) {
        const Format f = parse_format(spec).value;
        SCOPED_TRACE(spec);
        const uint32_t n = 13;   // a group of eight, one of four, one block left
        const size_t dbytes = size_t{n} * f.data_stride();
        std::vector<uint8_t> store(dbytes + 128), mstore(size_t{n} * f.md_stride() + 64);
        const PiContext c = ctx_of(f, 0x0f0f);
        const Span s{5, 5, n};
        for (size_t off = 0; off < 64; off += 8) {
            SCOPED_TRACE("offset " + std::to_string(off));
            uint8_t* base = store.data() + ((64 - reinterpret_cast<uintptr_t>(store.data()) % 64) % 64) + off;
            uint8_t* md = f.layout == Layout::ext ? nullptr : mstore.data();
            for (size_t i = 0; i < dbytes; ++i) base[i] = static_cast<uint8_t>(rng());
            generate(c, base, md, s);
            ASSERT_EQ(verify_quick(c, base, md, s), 0u);
            // The kernels' one pass itself: verify falls back to the scalar
            // checks at any block it flags, so a run that flags good blocks
            // would only be slow there; here it must pass every whole group
            // of a clean run and stop at the bad block (or its pair).
            const detail::CrcKernels& k = detail::kernels();
            const auto run = f.guard == Guard::g16 ? k.verify_run16 : k.verify_run64;
            const detail::TupleCheck tc{c.fast.gmask, c.fast.wmask, c.fast.app_word, ref_mask(f)};
            const bool ext = f.layout == Layout::ext;
            const uint8_t* tp = (ext ? base + f.data_size : md) + f.pi_offset();
            const size_t ts = ext ? f.data_stride() : f.md_stride();
            if (run) {
                ASSERT_TRUE(c.fast.run);
                ASSERT_EQ(run(base, f.data_stride(), f.data_size, n, tp, ts, tc, s.ref), n / 4 * 4);
            }
            for (uint32_t blk = 0; blk < n; ++blk) {
                uint8_t* d0 = base + size_t{blk} * f.data_stride();
                std::vector<size_t> at = {0, f.data_size - 1};
                for (size_t q = 64 - reinterpret_cast<uintptr_t>(d0) % 64; q < f.data_size; q += 64) at.push_back(q);
                for (size_t a : at) {
                    d0[a] ^= 0x10;
                    Mismatch mm[2];
                    VerifyStats st;
                    ASSERT_FALSE(verify(c, base, md, s, mm, 2, &st)) << "block " << blk << " byte " << a;
                    ASSERT_EQ(st.bad_blocks, 1u);
                    ASSERT_EQ(mm[0].block, blk);
                    ASSERT_EQ(mm[0].field, Field::guard);
                    ASSERT_EQ(verify_quick(c, base, md, s), kVerifyBad);
                    if (run && blk < n / 4 * 4) {   // at the block, or at the start of its pair (AVX2)
                        const uint32_t r = run(base, f.data_stride(), f.data_size, n, tp, ts, tc, s.ref);
                        ASSERT_LE(r, blk) << "byte " << a;
                        ASSERT_LT(blk - r, 2u) << "byte " << a;
                    }
                    d0[a] ^= 0x10;
                }
            }
            ASSERT_EQ(verify_quick(c, base, md, s), 0u);
        }
    }
}

TEST_P(Pi, EveryTupleBitOfBlocksInARun) {
    std::mt19937_64 rng(31);
    for (const Format& f : all_formats()) {
        if (f.ms > 16 && f.data_size == 512) continue;   // the 512-byte shapes the kernels fold in groups
        SCOPED_TRACE(format_to_string(f));
        const uint32_t n = 13;
        Buffers b(f, n, rng);
        const PiContext c = ctx_of(f, 0x5a5a);
        const Span s{700, 700, n};
        generate(c, b.d(), b.m(), s);
        const std::vector<uint8_t> clean_d = b.data, clean_m = b.md;
        for (uint32_t blk : {0u, 3u, 4u, 9u, 12u}) {
            uint8_t* t = b.md_of(blk) + f.pi_offset();
            for (uint32_t bit = 0; bit <= 8 * f.tuple_size(); ++bit) {
                b.data = clean_d;
                b.md = clean_m;
                t = b.md_of(blk) + f.pi_offset();
                Field want;
                if (bit == 8 * f.tuple_size()) {   // a data bit
                    b.d()[size_t{blk} * f.data_stride() + (rng() % f.data_size)] ^= uint8_t(1u << (rng() % 8));
                    want = Field::guard;
                } else {
                    t[bit / 8] ^= uint8_t(0x80u >> (bit % 8));
                    const uint32_t gb = f.guard == Guard::g64 ? 8 : 2;   // guard, then app (2), then ref
                    want = bit / 8 < gb ? Field::guard : bit / 8 < gb + 2 ? Field::app : Field::ref;
                }
                SCOPED_TRACE("block " + std::to_string(blk) + " bit " + std::to_string(bit));
                Mismatch mm[4];
                VerifyStats st;
                const bool ok = verify(c, b.d(), b.m(), s, mm, 4, &st);
                if (want == Field::ref && f.pi_type == 3) {
                    ASSERT_TRUE(ok);
                    continue;
                }
                ASSERT_FALSE(ok);
                ASSERT_EQ(st.bad_blocks, 1u);
                ASSERT_EQ(mm[0].block, blk);
                ASSERT_EQ(mm[0].field, want);
                ASSERT_EQ(verify_quick(c, b.d(), b.m(), s), kVerifyBad);
            }
        }
        // Escapes inside groups: app 0xFFFF (type 3: and ref all ones) on
        // blocks 1 and 6, the rest clean.
        b.data = clean_d;
        b.md = clean_m;
        for (uint32_t blk : {1u, 6u}) {
            Tuple tu = read_tuple(f, b.d(), b.m(), blk);
            write_tuple(f, b.d(), b.m(), blk, Tuple{tu.guard ^ 1, 0xffff, ref_mask(f)});
        }
        VerifyStats st;
        ASSERT_TRUE(verify(c, b.d(), b.m(), s, nullptr, 0, &st));
        EXPECT_EQ(st.escaped, 2u);
        EXPECT_EQ(verify_quick(c, b.d(), b.m(), s), 2u);
        // An escape that no check would catch (guard and ref right, the app
        // tag not checked) still counts as one.
        b.data = clean_d;
        b.md = clean_m;
        for (uint32_t blk : {1u, 6u}) {
            Tuple tu = read_tuple(f, b.d(), b.m(), blk);
            write_tuple(f, b.d(), b.m(), blk, Tuple{tu.guard, 0xffff, f.pi_type == 3 ? ref_mask(f) : tu.ref});
        }
        const PiContext c0 = ctx_of(f, 0x5a5a, 0);
        ASSERT_TRUE(verify(c0, b.d(), b.m(), s, nullptr, 0, &st));
        EXPECT_EQ(st.escaped, 2u);
        EXPECT_EQ(verify_quick(c0, b.d(), b.m(), s), 2u);
    }
}

TEST_P(Pi, Escapes) {
    std::mt19937_64 rng(9);
    for (const char* g : {"", "/g64"}) {
        for (int t = 1; t <= 3; ++t) {
            const std::string spec = "512+16/t" + std::to_string(t) + g;
            SCOPED_TRACE(spec);
            const Format f = parse_format(spec).value;
            const uint64_t ones = ref_mask(f);
            Buffers b(f, 3, rng);
            const PiContext c = ctx_of(f, 0x0001);
            generate(c, b.d(), b.m(), {0, 10, 3});
            // Block 1: app 0xFFFF, bad guard, bad (not all ones) ref.
            write_tuple(f, b.d(), b.m(), 1, Tuple{0xbad, 0xffff, 12345});
            VerifyStats st;
            Mismatch mm[4];
            const bool ok = verify(c, b.d(), b.m(), {0, 10, 3}, mm, 4, &st);
            if (t == 3) {
                EXPECT_FALSE(ok);
                EXPECT_EQ(st.escaped, 0u);
                EXPECT_EQ(mm[0].block, 1u);
            } else {
                EXPECT_TRUE(ok);
                EXPECT_EQ(st.escaped, 1u);
            }
            // app 0xFFFF and ref all ones: escaped for every type.
            write_tuple(f, b.d(), b.m(), 1, Tuple{0xbad, 0xffff, ones});
            EXPECT_TRUE(verify(c, b.d(), b.m(), {0, 10, 3}, mm, 4, &st));
            EXPECT_EQ(st.escaped, 1u);
            // ref all ones but app not 0xFFFF: checked.
            write_tuple(f, b.d(), b.m(), 1, Tuple{0xbad, 0xfffe, ones});
            EXPECT_FALSE(verify(c, b.d(), b.m(), {0, 10, 3}, mm, 4, &st));
            EXPECT_EQ(st.escaped, 0u);
            // Unwritten blocks (all 0xFF, as QEMU reads them back) pass.
            std::fill(b.data.begin(), b.data.end(), 0xff);
            std::fill(b.md.begin(), b.md.end(), 0xff);
            EXPECT_TRUE(verify(c, b.d(), b.m(), {0, 10, 3}, mm, 4, &st));
            EXPECT_EQ(st.escaped, 3u);
        }
    }
}

TEST_P(Pi, Type0IsNoOp) {
    const Format f = parse_format("512+8/t0").value;
    std::vector<uint8_t> d(512 * 2, 0xab), m(16, 0xcd);
    const PiContext c = ctx_of(f);
    generate(c, d.data(), m.data(), {0, 0, 2});
    EXPECT_TRUE(std::all_of(m.begin(), m.end(), [](uint8_t x) { return x == 0xcd; }));
    VerifyStats st;
    EXPECT_TRUE(verify(c, d.data(), m.data(), {0, 0, 2}, nullptr, 0, &st));
}

TEST_P(Pi, Type3RefCheckDropped) {
    const Format f = parse_format("512+8/t3").value;
    auto c = make_context(f, 0, 0xffff, CHK_ALL);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c.value.checks, CHK_GUARD | CHK_APP);
}

TEST_P(Pi, Ref48Bits) {
    std::mt19937_64 rng(10);
    const Format f = parse_format("4096+16/t1/g64").value;
    Buffers b(f, 3, rng);
    const Span s{0xfffffffffffeull, 0xfffffffffffeull, 3};
    generate(ctx_of(f), b.d(), b.m(), s);
    EXPECT_EQ(read_tuple(f, b.d(), b.m(), 0).ref, 0xfffffffffffeull);
    EXPECT_EQ(read_tuple(f, b.d(), b.m(), 1).ref, 0xffffffffffffull);
    EXPECT_EQ(read_tuple(f, b.d(), b.m(), 2).ref, 0u);
    EXPECT_TRUE(verify(ctx_of(f), b.d(), b.m(), s, nullptr, 0, nullptr));
    // Big-endian on the wire: bytes 10..15 of the tuple.
    const uint8_t* t = b.m() + 16 * 0;
    EXPECT_EQ(t[10], 0xff);
    EXPECT_EQ(t[15], 0xfe);
}

TEST_P(Pi, WireLayout16) {
    const Format f = parse_format("512+8/t1").value;
    std::vector<uint8_t> d(512, 0), m(8, 0);
    std::memcpy(d.data(), "123456789", 9);
    generate(ctx_of(f, 0xa1b2), d.data(), m.data(), {0, 0x01020304, 1});
    const uint16_t g = crc16_t10dif_ref(0, d.data(), 512);
    const uint8_t want[8] = {static_cast<uint8_t>(g >> 8), static_cast<uint8_t>(g), 0xa1, 0xb2, 1, 2, 3, 4};
    EXPECT_EQ(0, std::memcmp(m.data(), want, 8));
}

INSTANTIATE_TEST_SUITE_P(Impl, Pi, ::testing::ValuesIn(all_impls()), impl_param_name);

}  // namespace
}  // namespace pifio::test
