// pi_inject: which written blocks get a fault, and the fault itself. Pure and
// hot-path safe (no allocation): the choice is a hash of the LBA, so an LBA
// is always or never hit.
#pragma once

#include <cstdint>
#include <vector>

#include "options.hpp"

namespace pifio {

// The spec that hits block `lba` (the first whose hash falls under its
// threshold; one fault per block), nullptr when none does.
const InjectSpec* inject_choice(const std::vector<InjectSpec>& specs, uint64_t seed, uint64_t lba) noexcept;

// Corrupt block `block` of the buffers as `kind` says (data: a data byte,
// which the guard then catches).
void inject_fault(const Format& fmt, void* data, void* md, uint32_t block, InjectKind kind) noexcept;

}  // namespace pifio
