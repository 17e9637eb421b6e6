// Which PI path a block device gets (pi_mode), and why: a pure function of
// the job's options and what was probed (block_backend.cpp does the probing:
// ioctl, sysfs, the io_uring feature probe).
#pragma once

#include <cstdint>
#include <string>

#include "options.hpp"

namespace pifio {

enum class BlockPi : uint8_t {
    uring_pi,   // userspace PI carried by io_uring PI attributes
    kernel,     // the block layer generates and verifies (auto-integrity)
    none,       // no PI on this device
};
const char* block_pi_name(BlockPi p);   // "uring-pi", "kernel", "none"

// What the probes found.
struct BlockPiFacts {
    std::string path;
    std::string kernel;            // release, for messages
    int uring_pi_errno = 0;        // 0: the kernel takes io_uring PI attributes (probe_uring_pi())
    bool integrity = false;        // the device has an integrity profile
    std::string integrity_source;  // how that was found ("FS_IOC_GETLBMD_CAP", "sysfs integrity/format ...")
    uint8_t pi_type = 0;           // PI type of the format in effect (discovered, or pi_format)
    std::string format_source;     // "pi_format", or integrity_source
    bool has_pi() const { return integrity && pi_type != 0; }
};

struct BlockPiChoice {
    BlockPi path = BlockPi::none;
    std::string why;   // one line for describe(): how the path was chosen
};

// pi_mode as given: "" or "auto", "uring-pi", "kernel"; anything else is refused.
Result<std::string> parse_pi_mode(const std::string& mode);

// The path for this job on this device. Refuses what cannot work (pi_mode=
// uring-pi where the kernel or device cannot, pi_mode=kernel without PI to
// generate, pi_inject without userspace PI), naming what would.
Result<BlockPiChoice> choose_block_pi(const EngineOptions& o, const BlockPiFacts& f);

}  // namespace pifio
