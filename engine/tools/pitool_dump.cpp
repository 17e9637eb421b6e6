// pitool dump DEV --lba N --count M [--format SPEC] [--apptag X] [--apptag-mask X] [--reftag-base B]
//
// Reads a range of blocks from an NVMe namespace through passthrough
// (NVME_IOCTL_IO64_CMD on /dev/ngXnY or /dev/nvmeXnY, PRACT=0, no device
// checks, so the tuples come back as stored), decodes each block's PI and
// checks it the way the engine does. Exit 0 clean, 1 mismatches, 2 usage or
// I/O error.
#include <cerrno>
#include <cinttypes>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/nvme_ioctl.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <vector>

#include "nvme/cmd.hpp"
#include "nvme/identify.hpp"
#include "pifio/pi.hpp"
#include "pitool.hpp"

namespace {

constexpr const char* kCmd = "dump";
constexpr uint32_t kChunk = 64;   // blocks per command

struct Args {
    const char* dev = nullptr;
    uint64_t lba = 0;
    uint64_t count = 1;
    const char* format = nullptr;
    uint64_t apptag = 0x1234;
    uint64_t apptag_mask = 0xffff;
    uint64_t reftag_base = 0;
};

int parse(int argc, char** argv, Args* a) {
    for (int i = 1; i < argc; i++) {
        const std::string k = argv[i];
        auto val = [&](uint64_t max, uint64_t* out) {
            if (i + 1 >= argc) return pitool::fail(kCmd, k + " needs a value") == 0;
            if (!pitool::parse_u64(argv[++i], max, out))
                return pitool::fail(kCmd, k + ": '" + argv[i] + "' is not a number <= " + std::to_string(max)) == 0;
            return true;
        };
        if (k == "--lba") {
            if (!val(UINT64_MAX, &a->lba)) return pitool::kExitUsage;
        } else if (k == "--count") {
            if (!val(1u << 24, &a->count)) return pitool::kExitUsage;
            if (a->count == 0) return pitool::fail(kCmd, "--count must be at least 1");
        } else if (k == "--format") {
            if (i + 1 >= argc) return pitool::fail(kCmd, "--format needs a spec, e.g. 4096+8/t1");
            a->format = argv[++i];
        } else if (k == "--apptag") {
            if (!val(0xffff, &a->apptag)) return pitool::kExitUsage;
        } else if (k == "--apptag-mask") {
            if (!val(0xffff, &a->apptag_mask)) return pitool::kExitUsage;
        } else if (k == "--reftag-base") {
            if (!val(0xffffffffffffull, &a->reftag_base)) return pitool::kExitUsage;
        } else if (k.rfind("--", 0) == 0 || a->dev) {
            return pitool::fail(kCmd, "unexpected argument '" + k + "'");
        } else {
            a->dev = argv[i];
        }
    }
    if (!a->dev) return pitool::fail(kCmd, "missing DEV (an NVMe namespace, e.g. /dev/ng0n1)");
    return 0;
}

}  // namespace

static int dump_main(int argc, char** argv) {
    Args a;
    if (int r = parse(argc, argv, &a)) return r;

    int fd = open(a.dev, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return pitool::fail(kCmd, std::string(a.dev) + ": " + strerror(errno));
    auto id = pifio::nvme::identify(fd, a.dev);
    pifio::Format fmt;
    if (a.format) {
        auto f = pifio::parse_format(a.format);
        if (!f.ok()) return pitool::fail(kCmd, std::string("--format ") + a.format + ": " + f.error.msg);
        fmt = f.value;
        if (id.value.nsid == 0) return pitool::fail(kCmd, id.error.msg);
    } else {
        if (!id.ok()) return pitool::fail(kCmd, id.error.msg + " (or give --format)");
        fmt = id.value.fmt;
    }
    if (id.ok() && a.lba + a.count > id.value.nsze)
        return pitool::fail(kCmd, "range " + std::to_string(a.lba) + "+" + std::to_string(a.count) +
                                      " is beyond the namespace (" + std::to_string(id.value.nsze) + " blocks)");
    auto ctx = pifio::make_context(fmt, uint16_t(a.apptag), uint16_t(a.apptag_mask), pifio::CHK_ALL);
    if (!ctx.ok()) return pitool::fail(kCmd, ctx.error.msg);

    pifio::nvme::IoGeom g;
    g.nsid = id.value.nsid;
    g.fmt = fmt;
    g.apptag = uint16_t(a.apptag);
    g.apptag_mask = uint16_t(a.apptag_mask);
    g.reftag_base = a.reftag_base;

    const uint32_t stride = fmt.data_stride(), mstride = fmt.md_stride();
    std::vector<uint8_t> data(size_t(kChunk) * stride), md(size_t(kChunk) * (mstride ? mstride : 1));
    printf("%s: nsid %u, %s%s, lba %" PRIu64 " +%" PRIu64 "\n", a.dev, g.nsid,
           pifio::format_to_short(fmt).c_str(), a.format ? " (--format)" : " (Identify)", a.lba, a.count);
    if (fmt.pi_type == 0) {
        printf("no protection information in this format\n");
        close(fd);
        return pitool::kExitOk;
    }
    const int gw = fmt.guard == pifio::Guard::g16 ? 4 : 16, rw = fmt.guard == pifio::Guard::g16 ? 8 : 12;
    uint64_t bad = 0, escaped = 0;
    for (uint64_t done = 0; done < a.count;) {
        const uint32_t n = uint32_t(std::min<uint64_t>(kChunk, a.count - done));
        const uint64_t slba = a.lba + done;
        pifio::nvme::UringCmd u;
        pifio::nvme::build_rw(u, pifio::nvme::op_read, g,
                              {slba, n, uintptr_t(data.data()), n * stride, mstride ? uintptr_t(md.data()) : 0,
                               n * mstride});
        struct nvme_passthru_cmd64 c;
        memset(&c, 0, sizeof c);
        c.opcode = u.opcode;
        c.nsid = u.nsid;
        c.cdw2 = u.cdw2;
        c.cdw3 = u.cdw3;
        c.metadata = u.metadata;
        c.addr = u.addr;
        c.metadata_len = u.metadata_len;
        c.data_len = u.data_len;
        c.cdw10 = u.cdw10;
        c.cdw11 = u.cdw11;
        c.cdw12 = u.cdw12;
        c.cdw13 = u.cdw13;
        c.cdw14 = u.cdw14;
        c.cdw15 = u.cdw15;
        int ret = ioctl(fd, NVME_IOCTL_IO64_CMD, &c);
        if (ret < 0) {
            close(fd);
            return pitool::fail(kCmd, std::string("read at lba ") + std::to_string(slba) + ": " + strerror(errno));
        }
        if (ret > 0) {
            const char* name = pifio::nvme::status_name(uint16_t(ret & 0x7ff));
            close(fd);
            char b[96];
            snprintf(b, sizeof b, "read at lba %" PRIu64 ": NVMe status 0x%03x (%s)", slba, ret & 0x7ff,
                     name ? name : "unknown");
            return pitool::fail(kCmd, b);
        }
        for (uint32_t i = 0; i < n; i++) {
            const uint64_t lba = slba + i;
            const pifio::Tuple t = pifio::read_tuple(fmt, data.data(), md.data(), i);
            pifio::Span sp;
            sp.lba = lba;
            sp.ref = pifio::ref_seed(fmt, lba, g.reftag_base);
            sp.nblocks = 1;
            // verify() works on the span from its first block: point it at block i.
            const uint8_t* d = data.data() + size_t(i) * stride;
            const uint8_t* m = mstride ? md.data() + size_t(i) * mstride : nullptr;
            pifio::Mismatch mm[3];
            pifio::VerifyStats st;
            const bool ok = pifio::verify(ctx.value, d, m, sp, mm, 3, &st);
            printf("lba %" PRIu64 ": guard 0x%0*" PRIx64 " app 0x%04x ref 0x%0*" PRIx64, lba, gw, t.guard, t.app, rw,
                   t.ref);
            if (st.escaped) {
                escaped++;
                printf("  escaped (app tag 0xffff%s: not checked)\n", fmt.pi_type == 3 ? ", ref all ones" : "");
            } else if (ok) {
                printf("  ok\n");
            } else {
                bad++;
                for (uint32_t k = 0; k < st.recorded; k++)
                    printf("  %s got 0x%" PRIx64 ", want 0x%" PRIx64, pifio::field_name(mm[k].field), mm[k].got,
                           mm[k].want);
                printf("\n");
            }
        }
        done += n;
    }
    close(fd);
    printf("%" PRIu64 " blocks: %" PRIu64 " ok, %" PRIu64 " bad, %" PRIu64 " escaped\n", a.count,
           a.count - bad - escaped, bad, escaped);
    return bad ? pitool::kExitBad : pitool::kExitOk;
}

PITOOL_COMMAND("dump", "DEV --lba N --count M [--format SPEC] [--apptag X] [--apptag-mask X] [--reftag-base B]",
               "read blocks of an NVMe namespace by passthrough, decode and check their PI", dump_main);
