#include "ring.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

namespace pifio {

Error ring_setup(struct io_uring* ring, unsigned depth, unsigned backend_flags, const EngineOptions& o,
                 unsigned* flags) {
    unsigned entries = 1;
    while (entries < depth) entries <<= 1;
    struct io_uring_params p {};
    p.flags = backend_flags;
    if (o.hipri) p.flags |= IORING_SETUP_IOPOLL;
    if (o.sqthread_poll) {
        p.flags |= IORING_SETUP_SQPOLL;
        if (o.sqthread_poll_cpu_set) {
            p.flags |= IORING_SETUP_SQ_AFF;
            p.sq_thread_cpu = o.sqthread_poll_cpu;
        }
    }
    // As fio's io_uring engine: one task submits and reaps, so completions
    // need no IPI (COOP_TASKRUN) and their task work runs when we reap
    // (DEFER_TASKRUN) instead of interrupting the submitter. Not with SQPOLL
    // (EINVAL); dropped on kernels that lack them (< 5.19 / 6.1).
    const unsigned base_flags = p.flags;
    if (!o.sqthread_poll)
        p.flags |= IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int ret = io_uring_queue_init_params(entries, ring, &p);
    // Fallbacks (only without SQPOLL): COOP_TASKRUN alone, then none.
    for (unsigned fallback : {base_flags | IORING_SETUP_COOP_TASKRUN, base_flags}) {
        if (ret != -EINVAL || p.flags == base_flags) break;
        p = io_uring_params{};
        p.flags = fallback;
        ret = io_uring_queue_init_params(entries, ring, &p);
    }
    if (ret < 0) {
        std::string hint;
        if (ret == -EINVAL && (backend_flags & IORING_SETUP_SQE128))
            hint = "; NVMe passthrough needs IORING_SETUP_SQE128/CQE32 (Linux 5.19+)";
        if (ret == -EINVAL && o.hipri) hint += "; or drop hipri";
        if (ret == -EINVAL && o.sqthread_poll && o.sqthread_poll_cpu_set)
            hint += "; sqthread_poll_cpu=" + std::to_string(o.sqthread_poll_cpu) +
                    " must name an online CPU (0.." + std::to_string(sysconf(_SC_NPROCESSORS_ONLN) - 1) + ")";
        if (ret == -EINVAL && o.sqthread_poll) hint += "; or drop sqthread_poll";
        if (ret == -EPERM && o.sqthread_poll) hint = "; sqthread_poll needs CAP_SYS_NICE on this kernel";
        if (ret == -ENOSYS) hint = "; the kernel has no io_uring (or it is disabled: kernel.io_uring_disabled)";
        char fl[16];
        snprintf(fl, sizeof fl, "%x", p.flags);
        return {-ret, "io_uring_queue_init(" + std::to_string(entries) + " entries, flags 0x" + fl +
                          "): " + strerror(-ret) + hint};
    }
    *flags = p.flags;
    return {};
}

std::string hipri_note(const std::string& path) {
    unsigned c = 0, n = 0;
    char tail = 0;
    if (sscanf(path.c_str(), "/dev/ng%un%u%c", &c, &n, &tail) != 2) return "";
    char sys[96];
    snprintf(sys, sizeof sys, "/sys/block/nvme%un%u/queue/io_poll", c, n);
    FILE* fp = fopen(sys, "r");
    if (!fp) return "";
    int v = -1;
    if (fscanf(fp, "%d", &v) != 1) v = -1;
    fclose(fp);
    if (v != 0) return "";
    return "pifio: " + path + ": hipri: the NVMe driver has no poll queues (" + sys +
           " is 0), so completions are interrupt driven, not polled; boot with nvme.poll_queues=N "
           "(or load nvme with poll_queues=N) to poll";
}

}  // namespace pifio
