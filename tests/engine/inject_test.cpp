// pi_inject: the choice of blocks is a fixed function of the LBA, one fault
// per block (the first spec that hits), and each fault is caught by verify.
#include <gtest/gtest.h>

#include <vector>

#include "backend/inject.hpp"

using namespace pifio;

namespace {

std::vector<InjectSpec> specs(const char* s) {
    auto r = parse_pi_inject(s);
    EXPECT_TRUE(r.ok()) << r.error.msg;
    return r.value;
}

}  // namespace

TEST(Inject, ChoiceIsAFunctionOfTheLba) {
    const auto half = specs("guard:0.5");
    const uint64_t seed = EngineOptions{}.inject_seed;
    uint32_t hit = 0;
    for (uint64_t lba = 0; lba < 4096; lba++) {
        const InjectSpec* a = inject_choice(half, seed, lba);
        EXPECT_EQ(a, inject_choice(half, seed, lba));   // always or never
        hit += a != nullptr;
    }
    EXPECT_GT(hit, 4096u * 4 / 10);
    EXPECT_LT(hit, 4096u * 6 / 10);
    // Fraction 1: every block; the first spec wins when several hit.
    const auto all = specs("reftag:1,guard:1");
    for (uint64_t lba = 0; lba < 64; lba++) {
        const InjectSpec* s = inject_choice(all, seed, lba);
        ASSERT_NE(s, nullptr);
        EXPECT_EQ(s->kind, InjectKind::ref);
    }
    EXPECT_EQ(inject_choice({}, seed, 1), nullptr);
}

TEST(Inject, EachFaultIsCaughtByItsField) {
    auto f = parse_format("512+8/t1");
    ASSERT_TRUE(f.ok());
    auto ctx = make_context(f.value, 0x1234, 0xffff, CHK_ALL);
    ASSERT_TRUE(ctx.ok());
    const struct {
        InjectKind kind;
        Field field;
    } cases[] = {{InjectKind::guard, Field::guard},
                 {InjectKind::app, Field::app},
                 {InjectKind::ref, Field::ref},
                 {InjectKind::data, Field::guard}};
    for (const auto& c : cases) {
        std::vector<uint8_t> data(2 * 512, 0x5a), md(2 * 8);
        const Span sp{100, 100, 2};
        generate(ctx.value, data.data(), md.data(), sp);
        inject_fault(f.value, data.data(), md.data(), 1, c.kind);
        Mismatch mm[4];
        VerifyStats st;
        EXPECT_FALSE(verify(ctx.value, data.data(), md.data(), sp, mm, 4, &st)) << inject_kind_name(c.kind);
        ASSERT_EQ(st.recorded, 1u) << inject_kind_name(c.kind);
        EXPECT_EQ(mm[0].lba, 101u);
        EXPECT_EQ(mm[0].field, c.field) << inject_kind_name(c.kind);
    }
}
