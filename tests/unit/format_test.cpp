// Format spec parsing: defaults, every field, round trips, errors that name the field.
#include "test_util.hpp"

namespace pifio::test {
namespace {

Format parse_ok(std::string_view s) {
    auto r = parse_format(s);
    EXPECT_TRUE(r.ok()) << s << ": " << r.error.msg;
    return r.value;
}

TEST(Format, Defaults) {
    Format f = parse_ok("4096+8");
    EXPECT_EQ(f.data_size, 4096u);
    EXPECT_EQ(f.ms, 8u);
    EXPECT_EQ(f.pi_type, 1);
    EXPECT_EQ(f.guard, Guard::g16);
    EXPECT_EQ(f.loc, PiLoc::last);
    EXPECT_EQ(f.layout, Layout::sep);
    EXPECT_EQ(parse_ok("4096+0").pi_type, 0);
    EXPECT_EQ(parse_ok("512+4").pi_type, 0);
}

TEST(Format, IssueExamples) {
    Format f = parse_ok("512+8/t3/first");
    EXPECT_EQ(f.pi_type, 3);
    EXPECT_EQ(f.loc, PiLoc::first);
    EXPECT_EQ(f.pi_offset(), 0u);
    f = parse_ok("4096+16/t1/g64");
    EXPECT_EQ(f.guard, Guard::g64);
    EXPECT_EQ(f.tuple_size(), 16u);
    f = parse_ok("4096+64/t2/g64/first");
    EXPECT_EQ(f.pi_type, 2);
    EXPECT_EQ(f.ms, 64u);
    EXPECT_EQ(f.pi_offset(), 0u);
    f = parse_ok("512+8/t1/ext");
    EXPECT_EQ(f.layout, Layout::ext);
    EXPECT_EQ(f.data_stride(), 520u);
    EXPECT_EQ(f.md_stride(), 0u);
    f = parse_ok("4096+64/t1");
    EXPECT_EQ(f.pi_offset(), 56u);
    EXPECT_EQ(f.md_stride(), 64u);
}

TEST(Format, FieldsInAnyOrder) {
    EXPECT_EQ(parse_ok("4096+16/ext/first/g64/t2"), parse_ok("4096+16/t2/g64/first/ext"));
}

TEST(Format, RoundTripEveryCombination) {
    for (uint32_t ds : {512u, 4096u, 65536u})
        for (uint32_t ms : {0u, 8u, 16u, 64u})
            for (int t = 0; t <= 3; ++t)
                for (Guard g : {Guard::g16, Guard::g64})
                    for (PiLoc l : {PiLoc::last, PiLoc::first})
                        for (Layout lay : {Layout::sep, Layout::ext}) {
                            Format f{ds, ms, static_cast<uint8_t>(t), g, l, lay};
                            const bool valid = (t == 0 || ms >= f.tuple_size()) && (t == 0 || ms > 0) &&
                                               !(g == Guard::g64 && ms < 16);
                            auto r = parse_format(format_to_string(f));
                            ASSERT_EQ(r.ok(), valid) << format_to_string(f) << ": " << r.error.msg;
                            if (!valid) continue;
                            EXPECT_EQ(r.value, f) << format_to_string(f);
                            auto s = parse_format(format_to_short(f));
                            ASSERT_TRUE(s.ok()) << format_to_short(f) << ": " << s.error.msg;
                            EXPECT_EQ(s.value, f) << format_to_short(f);
                        }
}

TEST(Format, Spellings) {
    EXPECT_EQ(format_to_string(parse_ok("4096+8")), "4096+8/t1/g16/last/sep");
    EXPECT_EQ(format_to_short(parse_ok("4096+8")), "4096+8/t1");
    EXPECT_EQ(format_to_short(parse_ok("4096+0")), "4096+0");
    EXPECT_EQ(format_to_short(parse_ok("4096+16/g64/first/ext/t2")), "4096+16/t2/g64/first/ext");
}

struct Bad {
    const char* spec;
    const char* must_mention;
};

TEST(Format, BadSpecsNameTheField) {
    const Bad bad[] = {
        {"4096", "+<ms>"},
        {"", "+<ms>"},
        {"abc+8", "data size"},
        {"4000+8", "power of two"},
        {"256+8", "power of two"},
        {"131072+8", "power of two"},
        {"4096+", "ms"},
        {"4096+x", "ms"},
        {"4096+4/t1", "ms 4"},
        {"4096+0/t1", "needs metadata"},
        {"512+8/g64", "g64"},
        {"512+8/t1/g64", "g64"},
        {"4096+8/t4", "unknown field 't4'"},
        {"4096+8/t1/t2", "PI type given twice"},
        {"4096+16/g16/g64", "guard format given twice"},
        {"4096+8/first/last", "location given twice"},
        {"4096+8/sep/ext", "layout given twice"},
        {"4096+8//t1", "empty field"},
        {"4096+8/t1/", "empty field"},
        {"4096+8/dix", "unknown field 'dix'"},
        {"4096+70000", "65535"},
    };
    for (const Bad& b : bad) {
        auto r = parse_format(b.spec);
        EXPECT_FALSE(r.ok()) << b.spec;
        EXPECT_EQ(r.error.err, EINVAL) << b.spec;
        EXPECT_NE(r.error.msg.find(b.must_mention), std::string::npos) << b.spec << " -> " << r.error.msg;
        EXPECT_NE(r.error.msg.find(std::string("'") + b.spec + "'"), std::string::npos) << r.error.msg;
    }
}

TEST(Format, ContextRejectsInvalidHandBuiltFormat) {
    Format f{4096, 4, 1, Guard::g16, PiLoc::last, Layout::sep};
    auto r = make_context(f, 0, 0xffff, CHK_ALL);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error.err, EINVAL);
    f = Format{4096, 8, 5, Guard::g16, PiLoc::last, Layout::sep};
    EXPECT_FALSE(make_context(f, 0, 0xffff, CHK_ALL).ok());
    f = Format{4096, 8, 1, Guard::g16, PiLoc::last, Layout::sep};
    EXPECT_FALSE(make_context(f, 0, 0xffff, 8).ok());
    EXPECT_TRUE(make_context(f, 0, 0xffff, CHK_ALL).ok());
}

}  // namespace
}  // namespace pifio::test
