#include "block_policy.hpp"

#include <cerrno>

namespace pifio {

const char* block_pi_name(BlockPi p) {
    switch (p) {
        case BlockPi::uring_pi: return "uring-pi";
        case BlockPi::kernel: return "kernel";
        case BlockPi::none: return "none";
    }
    return "?";
}

Result<std::string> parse_pi_mode(const std::string& mode) {
    Result<std::string> r;
    r.value = mode.empty() ? "auto" : mode;
    if (r.value != "auto" && r.value != "uring-pi" && r.value != "kernel")
        r.error = {EINVAL, "pi_mode=" + r.value + ": want auto, uring-pi or kernel"};
    return r;
}

Result<BlockPiChoice> choose_block_pi(const EngineOptions& o, const BlockPiFacts& f) {
    Result<BlockPiChoice> r;
    auto mode = parse_pi_mode(o.pi_mode);
    if (!mode.ok()) {
        r.error = mode.error;
        return r;
    }
    const std::string& m = mode.value;
    BlockPiChoice& c = r.value;
    const bool has_pi = f.has_pi();
    c.path = has_pi ? BlockPi::kernel : BlockPi::none;

    if (m == "uring-pi" || (m == "auto" && !o.pi_act && has_pi)) {
        std::string no;
        if (f.uring_pi_errno != 0)
            no = "kernel " + f.kernel + " lacks io_uring PI attributes (needs 6.14+)";
        else if (!f.integrity)
            no = f.path + " has no integrity profile (" + f.integrity_source +
                 "): the device or the dm stack above it does not pass PI up (dm-crypt and dm-integrity do not)";
        else if (f.pi_type == 0)
            no = f.path + " carries metadata but no protection information (" + f.format_source + ")";
        else if (o.pi_act)
            no = "pi_act=1 asks for PI generated below the host";
        if (no.empty()) {
            c.path = BlockPi::uring_pi;
            c.why = "userspace PI via io_uring attributes";
            return r;
        }
        if (m == "uring-pi") {
            r.error = {f.uring_pi_errno ? f.uring_pi_errno : EOPNOTSUPP,
                       "pi_mode=uring-pi: " + no + "; use pi_mode=kernel" +
                           (o.pi_act && f.uring_pi_errno == 0 && has_pi ? " or pi_act=0" : "") +
                           ", or passthrough on the namespace's /dev/ngXnY"};
            return r;
        }
        c.why = "kernel auto-PI: " + no;
    } else if (m == "kernel") {
        if (!f.integrity && o.pi_audit.empty()) {
            r.error = {ENODEV, "pi_mode=kernel: " + f.path + " has no integrity profile (" + f.integrity_source +
                                   "), so the kernel generates no PI for it; use a PI namespace, a dm-linear/striped "
                                   "stack over one, or pi_audit=/dev/ngXnY to check the namespace below"};
            return r;
        }
        c.path = BlockPi::kernel;
        c.why = "kernel auto-PI (pi_mode=kernel)";
    } else {
        c.why = has_pi ? (o.pi_act ? "kernel auto-PI (pi_act=1)" : "kernel auto-PI") : "no PI on this device";
    }

    if (!o.inject.empty()) {
        r.error = {EINVAL, "pi_inject needs userspace PI (" + c.why +
                               "); on a block device use pi_mode=uring-pi with pi_act=0 (Linux 6.14+), or "
                               "passthrough on /dev/ngXnY"};
        return r;
    }
    if (!o.pi_act && has_pi && m == "kernel") c.why += "; pi_act=0 ignored: the kernel supplies the PI";
    return r;
}

}  // namespace pifio
