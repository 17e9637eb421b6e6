// Block-device PI path (pi_mode) as a pure function of the options and the
// probe results: every branch, and every refusal names a way out.
#include <gtest/gtest.h>

#include <cerrno>

#include "backend/block_policy.hpp"

using namespace pifio;

namespace {

// A device with a type-1 integrity profile on a kernel with io_uring PI attributes.
BlockPiFacts pi_dev() {
    BlockPiFacts f;
    f.path = "/dev/dm-0";
    f.kernel = "7.3.0";
    f.uring_pi_errno = 0;
    f.integrity = true;
    f.integrity_source = "FS_IOC_GETLBMD_CAP";
    f.pi_type = 1;
    f.format_source = "FS_IOC_GETLBMD_CAP";
    return f;
}

BlockPiFacts plain_dev() {
    BlockPiFacts f = pi_dev();
    f.integrity = false;
    f.integrity_source = "sysfs integrity/format: none";
    f.format_source = f.integrity_source;
    f.pi_type = 0;
    return f;
}

EngineOptions opts(const char* mode, bool pi_act) {
    EngineOptions o;
    o.pi_mode = mode;
    o.pi_act = pi_act;
    return o;
}

bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST(BlockPolicy, PiModeParse) {
    EXPECT_EQ(parse_pi_mode("").value, "auto");
    EXPECT_EQ(parse_pi_mode("auto").value, "auto");
    EXPECT_EQ(parse_pi_mode("uring-pi").value, "uring-pi");
    EXPECT_EQ(parse_pi_mode("kernel").value, "kernel");
    auto r = parse_pi_mode("uring_pi");
    EXPECT_EQ(r.error.err, EINVAL);
    EXPECT_TRUE(has(r.error.msg, "want auto, uring-pi or kernel")) << r.error.msg;
    EXPECT_FALSE(choose_block_pi(opts("bogus", false), pi_dev()).ok());
}

TEST(BlockPolicy, AutoHostPiTakesUringPi) {
    auto r = choose_block_pi(opts("", false), pi_dev());
    ASSERT_TRUE(r.ok()) << r.error.msg;
    EXPECT_EQ(r.value.path, BlockPi::uring_pi);
    EXPECT_EQ(r.value.why, "userspace PI via io_uring attributes");
    EXPECT_STREQ(block_pi_name(r.value.path), "uring-pi");
}

TEST(BlockPolicy, AutoFallsBackToKernelWithReason) {
    BlockPiFacts f = pi_dev();
    f.uring_pi_errno = EOPNOTSUPP;
    auto r = choose_block_pi(opts("auto", false), f);
    ASSERT_TRUE(r.ok()) << r.error.msg;
    EXPECT_EQ(r.value.path, BlockPi::kernel);
    EXPECT_EQ(r.value.why, "kernel auto-PI: kernel 7.3.0 lacks io_uring PI attributes (needs 6.14+)");
}

TEST(BlockPolicy, AutoWithPractIsKernel) {
    auto r = choose_block_pi(opts("auto", true), pi_dev());
    ASSERT_TRUE(r.ok()) << r.error.msg;
    EXPECT_EQ(r.value.path, BlockPi::kernel);
    EXPECT_EQ(r.value.why, "kernel auto-PI (pi_act=1)");
}

TEST(BlockPolicy, AutoWithoutPiIsNone) {
    for (bool act : {false, true}) {
        auto r = choose_block_pi(opts("auto", act), plain_dev());
        ASSERT_TRUE(r.ok()) << r.error.msg;
        EXPECT_EQ(r.value.path, BlockPi::none);
        EXPECT_EQ(r.value.why, "no PI on this device");
    }
    // Metadata without PI (nop profile): no PI either.
    BlockPiFacts f = pi_dev();
    f.pi_type = 0;
    auto r = choose_block_pi(opts("auto", false), f);
    ASSERT_TRUE(r.ok()) << r.error.msg;
    EXPECT_EQ(r.value.path, BlockPi::none);
}

TEST(BlockPolicy, UringPiRefusalsNameTheWayOut) {
    // No integrity profile (dm-crypt above the namespace).
    auto r = choose_block_pi(opts("uring-pi", false), plain_dev());
    EXPECT_EQ(r.error.err, EOPNOTSUPP);
    EXPECT_TRUE(has(r.error.msg, "/dev/dm-0 has no integrity profile (sysfs integrity/format: none)")) << r.error.msg;
    EXPECT_TRUE(has(r.error.msg, "; use pi_mode=kernel, or passthrough")) << r.error.msg;
    // Old kernel: the probe's errno is the error.
    BlockPiFacts f = pi_dev();
    f.uring_pi_errno = ENOSYS;
    r = choose_block_pi(opts("uring-pi", false), f);
    EXPECT_EQ(r.error.err, ENOSYS);
    EXPECT_TRUE(has(r.error.msg, "lacks io_uring PI attributes")) << r.error.msg;
    // pi_act=1 on a capable device: pi_act=0 is offered.
    r = choose_block_pi(opts("uring-pi", true), pi_dev());
    EXPECT_EQ(r.error.err, EOPNOTSUPP);
    EXPECT_TRUE(has(r.error.msg, "pi_act=1 asks for PI generated below the host")) << r.error.msg;
    EXPECT_TRUE(has(r.error.msg, "use pi_mode=kernel or pi_act=0")) << r.error.msg;
    // Metadata but no PI.
    f = pi_dev();
    f.pi_type = 0;
    f.format_source = "pi_format";
    r = choose_block_pi(opts("uring-pi", false), f);
    EXPECT_TRUE(has(r.error.msg, "carries metadata but no protection information (pi_format)")) << r.error.msg;
    // The way out works.
    EXPECT_TRUE(choose_block_pi(opts("kernel", true), pi_dev()).ok());
    EXPECT_TRUE(choose_block_pi(opts("uring-pi", false), pi_dev()).ok());
}

TEST(BlockPolicy, KernelMode) {
    auto r = choose_block_pi(opts("kernel", true), pi_dev());
    ASSERT_TRUE(r.ok()) << r.error.msg;
    EXPECT_EQ(r.value.path, BlockPi::kernel);
    EXPECT_EQ(r.value.why, "kernel auto-PI (pi_mode=kernel)");
    // pi_act=0 cannot apply: said, not refused.
    r = choose_block_pi(opts("kernel", false), pi_dev());
    ASSERT_TRUE(r.ok()) << r.error.msg;
    EXPECT_EQ(r.value.why, "kernel auto-PI (pi_mode=kernel); pi_act=0 ignored: the kernel supplies the PI");
    // No profile: refused, unless pi_audit checks the namespace below.
    r = choose_block_pi(opts("kernel", true), plain_dev());
    EXPECT_EQ(r.error.err, ENODEV);
    EXPECT_TRUE(has(r.error.msg, "pi_audit=/dev/ngXnY")) << r.error.msg;
    EngineOptions o = opts("kernel", true);
    o.pi_audit = "/dev/ng0n1";
    r = choose_block_pi(o, plain_dev());
    ASSERT_TRUE(r.ok()) << r.error.msg;
    EXPECT_EQ(r.value.path, BlockPi::kernel);
}

TEST(BlockPolicy, InjectNeedsUserspacePi) {
    EngineOptions o = opts("auto", true);
    o.inject.push_back(InjectSpec{InjectKind::guard, 0.5, 1ull << 63});
    auto r = choose_block_pi(o, pi_dev());
    EXPECT_EQ(r.error.err, EINVAL);
    EXPECT_TRUE(has(r.error.msg, "pi_inject needs userspace PI (kernel auto-PI (pi_act=1))")) << r.error.msg;
    EXPECT_TRUE(has(r.error.msg, "pi_mode=uring-pi with pi_act=0")) << r.error.msg;
    o.pi_act = false;
    r = choose_block_pi(o, pi_dev());
    ASSERT_TRUE(r.ok()) << r.error.msg;
    EXPECT_EQ(r.value.path, BlockPi::uring_pi);
}
