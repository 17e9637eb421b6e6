// The job's io_uring: set up once per fio thread with the flags the backends
// and the queue options ask for, dropping the optional ones the kernel lacks.
#pragma once

#include <liburing.h>
#include <string>

#include "options.hpp"

namespace pifio {

// Set up `ring` for `depth` in-flight I/Os. `backend_flags`: what the targets
// need (IORING_SETUP_SQE128 | _CQE32 for passthrough); hipri, sqthread_poll and
// sqthread_poll_cpu come from `o`. On success *flags gets the flags in effect.
// The error names what the kernel lacks or which option to drop.
Error ring_setup(struct io_uring* ring, unsigned depth, unsigned backend_flags, const EngineOptions& o,
                 unsigned* flags);

// hipri on /dev/ngXnY: the IOPOLL ring works without NVMe poll queues too,
// but completions then arrive by interrupt. A one-line note saying so, ""
// when polling is available or nothing can be told (not an ng device, no sysfs).
std::string hipri_note(const std::string& path);

}  // namespace pifio
