// pifio-audit: the pi_audit checks as a command, for the lab and for people.
//
//   pifio-audit check --top /dev/dm-0 --ng /dev/ng0n1[,/dev/ng0n2] --format SPEC[,SPEC]
//               --range OFF:LEN[,OFF:LEN...] [--app-tag N] [--allow-unwritten]
//       map the byte ranges written to --top down the dm tables, read the raw
//       PI of exactly those blocks and verify guard + ref (physical LBA).
//   pifio-audit scan --ng /dev/ng0n1 --format SPEC [--lba A --count N]
//       verify every *written* block of a namespace (unwritten blocks, which
//       read back as escape tuples, are counted, not errors) — for stacks the
//       mapper cannot follow (dm-integrity).
//   pifio-audit map --top /dev/dm-0 --range OFF:LEN
//       print "<top_sector> <bottom> <sector> <nsect>" per run.
//   pifio-audit table --top /dev/dm-0
//       print the live table of a dm device (what the mapper parses).
//
// Exit: 0 clean, 1 PI mismatches found, 2 usage or set-up error.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/nvme_ioctl.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <vector>

#include "audit.hpp"

using namespace pifio;
using namespace pifio::audit;

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i <= s.size()) {
        size_t j = s.find(sep, i);
        if (j == std::string::npos) j = s.size();
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

uint64_t num(const std::string& s) {
    char* end = nullptr;
    uint64_t v = strtoull(s.c_str(), &end, 0);
    uint64_t mul = 1;
    if (end && *end) {
        switch (*end) {
        case 'k': case 'K': mul = 1ull << 10; break;
        case 'm': case 'M': mul = 1ull << 20; break;
        case 'g': case 'G': mul = 1ull << 30; break;
        default: fprintf(stderr, "pifio-audit: '%s' is not a number\n", s.c_str()); exit(2);
        }
    }
    return v * mul;
}

int usage() {
    fprintf(stderr,
            "usage: pifio-audit check --top DEV --ng NG[,NG] --format SPEC[,SPEC] --range OFF:LEN[,...]\n"
            "                         [--app-tag N] [--allow-unwritten] [--max N]\n"
            "       pifio-audit scan --ng NG --format SPEC [--lba A --count N]\n"
            "       pifio-audit map --top DEV --range OFF:LEN[,...]\n"
            "       pifio-audit table --top DEV\n"
            "       pifio-audit zeropage --ng NG --format SPEC [--count READS]\n");
    return 2;
}

const char* fields[3] = {"guard", "apptag", "reftag"};

void summary(const char* what, const AuditStats& s) {
    printf("%s: blocks=%llu bad=%llu unwritten=%llu guard=%llu apptag=%llu reftag=%llu\n", what,
           (unsigned long long)s.blocks, (unsigned long long)s.bad_blocks, (unsigned long long)s.unwritten,
           (unsigned long long)s.count[0], (unsigned long long)s.count[1], (unsigned long long)s.count[2]);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage();
    std::string cmd = argv[1], top, ng, format, ranges;
    uint64_t lba = 0, count = 0;
    uint32_t max = 64;
    AuditOptions opt;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) {
                fprintf(stderr, "pifio-audit: %s needs a value\n", a.c_str());
                exit(2);
            }
            return argv[++i];
        };
        if (a == "--top") top = val();
        else if (a == "--ng") ng = val();
        else if (a == "--format") format = val();
        else if (a == "--range") ranges = val();
        else if (a == "--lba") lba = num(val());
        else if (a == "--count") count = num(val());
        else if (a == "--max") max = uint32_t(num(val()));
        else if (a == "--app-tag") {
            opt.app_tag = uint16_t(num(val()));
            opt.checks |= CHK_APP;
        } else if (a == "--allow-unwritten") opt.unwritten_is_error = false;
        else return usage();
    }
    std::vector<Format> fmts;
    for (auto& f : split(format, ',')) {
        auto r = parse_format(f);
        if (!r.ok()) {
            fprintf(stderr, "pifio-audit: --format %s: %s\n", f.c_str(), r.error.msg.c_str());
            return 2;
        }
        fmts.push_back(r.value);
    }
    auto ngs = split(ng, ',');
    std::vector<std::pair<uint64_t, uint64_t>> rs;
    for (auto& r : split(ranges, ',')) {
        auto p = r.find(':');
        if (p == std::string::npos) return usage();
        rs.push_back({num(r.substr(0, p)), num(r.substr(p + 1))});
    }

    if (cmd == "table" || cmd == "map") {
        struct stat st;
        if (top.empty() || stat(top.c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) {
            fprintf(stderr, "pifio-audit: --top %s is not a block device\n", top.c_str());
            return 2;
        }
        DevT d{major(st.st_rdev), minor(st.st_rdev)};
        if (cmd == "table") {
            auto t = dm_table_text(d);
            if (!t.ok()) {
                fprintf(stderr, "pifio-audit: %s\n", t.error.msg.c_str());
                return 2;
            }
            fputs(t.value.c_str(), stdout);
            return 0;
        }
        KernelTables kt;
        for (auto& [off, len] : rs) {
            auto m = map_range(kt, d, off / 512, len / 512);
            if (!m.ok()) {
                fprintf(stderr, "pifio-audit: %s\n", m.error.msg.c_str());
                return 2;
            }
            for (auto& run : m.value)
                printf("%llu %s %llu %llu\n", (unsigned long long)run.top_sector, run.dev.str().c_str(),
                       (unsigned long long)run.sector, (unsigned long long)run.nsect);
        }
        return 0;
    }

    // Kernel canary: passthrough reads of the first blocks into buffers that
    // were never written (fresh anonymous memory maps the shared zero page),
    // then a fresh anonymous page must still read as zeros. Debian 6.12.117
    // fails it (the device's metadata lands in the zero page).
    if (cmd == "zeropage") {
        if (ngs.size() != 1 || fmts.size() != 1 || fmts[0].layout != Layout::sep || !fmts[0].ms) return usage();
        int fd = open(ngs[0].c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "pifio-audit: %s: %s\n", ngs[0].c_str(), strerror(errno));
            return 2;
        }
        const Format& f = fmts[0];
        const int nsid = ioctl(fd, NVME_IOCTL_ID);
        const uint32_t nlb = 32;
        const size_t len = size_t(nlb) * f.data_size + 4096;
        const uint64_t reads = count ? count : 300;
        for (uint64_t i = 0; i < reads; ++i) {
            void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED) return 2;
            auto* data = static_cast<uint8_t*>(m);
            int rc = read_raw(fd, uint32_t(nsid), f, (i * nlb) % 4096, nlb, data, data + size_t(nlb) * f.data_size);
            munmap(m, len);
            if (rc != 0) {
                fprintf(stderr, "pifio-audit: raw read %llu: %s\n", (unsigned long long)i, rc < 0 ? strerror(-rc) : "NVMe error");
                return 2;
            }
        }
        auto* z = static_cast<const volatile uint8_t*>(
            mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        if (z == MAP_FAILED) return 2;
        unsigned nz = 0, first = 4096;
        for (unsigned i = 0; i < 4096; ++i)
            if (z[i]) {
                ++nz;
                if (first == 4096) first = i;
            }
        if (nz) {
            printf("zeropage: after %llu passthrough reads into untouched buffers a fresh anonymous page has %u "
                   "nonzero bytes (first at %u: 0x%02x): the kernel wrote into the shared zero page\n",
                   (unsigned long long)reads, nz, first, z[first]);
            return 1;
        }
        printf("zeropage: %llu passthrough reads into untouched buffers, the zero page is still zero\n",
               (unsigned long long)reads);
        return 0;
    }

    if (cmd == "scan") {
        if (ngs.size() != 1 || fmts.size() != 1) return usage();
        int fd = open(ngs[0].c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "pifio-audit: %s: %s\n", ngs[0].c_str(), strerror(errno));
            return 2;
        }
        int nsid = ioctl(fd, NVME_IOCTL_ID);
        const Format& f = fmts[0];
        if (count == 0) {
            uint64_t bytes = 0;
            std::string blk = "/sys/block/nvme" + ngs[0].substr(ngs[0].rfind("ng") + 2) + "/size";
            FILE* s = fopen(blk.c_str(), "re");
            if (s && fscanf(s, "%llu", (unsigned long long*)&bytes) == 1) count = bytes * 512 / f.data_size - lba;
            if (s) fclose(s);
            if (count == 0) {
                fprintf(stderr, "pifio-audit: cannot size %s (%s); give --count\n", ngs[0].c_str(), blk.c_str());
                return 2;
            }
        }
        auto ctx = make_context(f, 0, 0xffff, CHK_GUARD | CHK_REF);
        const uint32_t chunk = 32;
        std::vector<uint8_t> buf(size_t(chunk) * (f.data_size + f.ms));
        std::vector<Mismatch> mm(max ? max : 1);
        AuditStats st;
        for (uint64_t done = 0; done < count;) {
            uint32_t n = uint32_t(std::min<uint64_t>(chunk, count - done));
            uint8_t* md = buf.data() + size_t(n) * f.data_stride();
            int rc = read_raw(fd, uint32_t(nsid), f, lba + done, n, buf.data(), md);
            if (rc != 0) {
                fprintf(stderr, "pifio-audit: raw read lba %llu: %s\n", (unsigned long long)(lba + done),
                        rc < 0 ? strerror(-rc) : "NVMe error status");
                return 2;
            }
            VerifyStats vs;
            verify(ctx.value, buf.data(), md, Span{lba + done, ref_seed(f, lba + done), n}, mm.data(),
                   uint32_t(mm.size()), &vs);
            st.blocks += n;
            st.bad_blocks += vs.bad_blocks;
            st.unwritten += vs.escaped;
            for (int k = 0; k < 3; ++k) st.count[k] += vs.count[k];
            for (uint32_t k = 0; k < vs.recorded && st.recorded < max; ++k, ++st.recorded)
                printf("pifio audit: %s lba %llu: %s got 0x%llx, want 0x%llx\n", ngs[0].c_str(),
                       (unsigned long long)mm[k].lba, fields[int(mm[k].field)], (unsigned long long)mm[k].got,
                       (unsigned long long)mm[k].want);
            done += n;
        }
        summary("scan", st);
        return st.bad_blocks ? 1 : 0;
    }

    if (cmd != "check" || top.empty() || ngs.empty() || rs.empty()) return usage();
    if (fmts.size() != 1 && fmts.size() != ngs.size()) {
        fprintf(stderr, "pifio-audit: give one --format, or one per --ng\n");
        return 2;
    }
    FormatFn fmt_of = [&](const std::string& path, int) {
        Result<Format> r;
        for (size_t i = 0; i < ngs.size(); ++i)
            if (ngs[i] == path) r.value = fmts.size() == 1 ? fmts[0] : fmts[i];
        return r;
    };
    auto a = Auditor::open(top, ngs, fmt_of, opt);
    if (!a.ok()) {
        fprintf(stderr, "pifio-audit: %s\n", a.error.msg.c_str());
        return 2;
    }
    printf("%s\n", a.value->describe().c_str());
    std::vector<AuditRecord> rec(max);
    AuditStats total;
    uint32_t shown = 0;
    for (auto& [off, len] : rs) {
        AuditStats st;
        if (Error e = a.value->check(off, len, &st, rec.data(), max - shown)) {
            fprintf(stderr, "%s\n", e.msg.c_str());
            return 2;
        }
        for (uint32_t i = 0; i < st.recorded; ++i) printf("%s\n", a.value->format_record(rec[i]).c_str());
        shown += st.recorded;
        total.add(st);
    }
    summary("audit", total);
    return total.bad_blocks ? 1 : 0;
}
