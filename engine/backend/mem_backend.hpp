// In-memory target with PI written once by pifio's generate (mem_backend.cpp).
#pragma once

#include "backend.hpp"

namespace pifio {

// "pifio-mem:<format>:<size>", e.g. pifio-mem:4096+8:64M.
bool is_mem_target(const std::string& path);
Result<std::unique_ptr<Backend>> open_mem_backend(const std::string& path, const EngineOptions& o);

}  // namespace pifio
