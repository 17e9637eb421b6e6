// pitool: command-line access to the pifio PI core.
//   pitool crc16 [FILE|-]      pitool crc64 [FILE|-]
//   pitool gen FORMAT [--lba N] [--ref N] [--apptag X] [--md FILE]
//   pitool check FORMAT [--lba N] [--ref N] [--apptag X] [--appmask X] [--md FILE]
// Subcommands are small functions in a table (see pitool.hpp).
#include "pitool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "pifio/pi.hpp"

namespace pitool {

namespace {
constexpr size_t kMaxCommands = 32;
Command g_commands[kMaxCommands];
size_t g_ncommands = 0;
}  // namespace

bool register_command(const Command& c) {
    if (g_ncommands == kMaxCommands) return false;
    g_commands[g_ncommands++] = c;
    return true;
}

int fail(const char* cmd, const std::string& msg) {
    std::fprintf(stderr, "pitool %s: %s\n", cmd, msg.c_str());
    return kExitUsage;
}

bool parse_u64(const char* s, uint64_t max, uint64_t* out) {
    if (!s || !*s || *s == '-' || *s == '+') return false;
    errno = 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s, &end, 0);
    if (errno || *end || v > max) return false;
    *out = v;
    return true;
}

long long read_full(int fd, void* buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        const ssize_t r = ::read(fd, static_cast<char*>(buf) + got, n - got);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        got += static_cast<size_t>(r);
    }
    return static_cast<long long>(got);
}

bool write_full(int fd, const void* buf, size_t n) {
    size_t done = 0;
    while (done < n) {
        const ssize_t r = ::write(fd, static_cast<const char*>(buf) + done, n - done);
        if (r < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        done += static_cast<size_t>(r);
    }
    return true;
}

namespace {

// ------------------------------------------------------------ crc16/crc64 --

template <class F>
int run_crc(int argc, char** argv, F&& feed) {
    const char* cmd = argv[0];
    if (argc > 2) return fail(cmd, "too many arguments; usage: pitool " + std::string(cmd) + " [FILE|-]");
    int fd = 0;
    if (argc == 2 && std::strcmp(argv[1], "-") != 0) {
        fd = ::open(argv[1], O_RDONLY | O_CLOEXEC);
        if (fd < 0) return fail(cmd, std::string("cannot open '") + argv[1] + "': " + std::strerror(errno));
    }
    std::vector<unsigned char> buf(1 << 20);
    for (;;) {
        const long long n = read_full(fd, buf.data(), buf.size());
        if (n < 0) return fail(cmd, std::string("read error: ") + std::strerror(errno));
        feed(buf.data(), static_cast<size_t>(n));
        if (static_cast<size_t>(n) < buf.size()) break;
    }
    if (fd > 0) ::close(fd);
    return kExitOk;
}

int cmd_crc16(int argc, char** argv) {
    uint16_t c = 0;
    const int rc = run_crc(argc, argv, [&](const void* p, size_t n) { c = pifio::crc16_t10dif(c, p, n); });
    if (rc == kExitOk) std::printf("0x%04x\n", c);
    return rc;
}

int cmd_crc64(int argc, char** argv) {
    uint64_t c = 0;
    const int rc = run_crc(argc, argv, [&](const void* p, size_t n) { c = pifio::crc64_nvme(c, p, n); });
    if (rc == kExitOk) std::printf("0x%016" PRIx64 "\n", c);
    return rc;
}

// -------------------------------------------------------------- gen/check --

struct PiArgs {
    pifio::Format fmt;
    uint64_t lba = 0;
    uint64_t ref = 0;
    bool have_ref = false;
    uint16_t app = 0;
    uint16_t mask = 0xffff;
    const char* md_path = nullptr;
};

// Parses FORMAT and the options; returns kExitOk or prints the error.
int parse_pi_args(int argc, char** argv, bool check, PiArgs* a) {
    const char* cmd = argv[0];
    const std::string usage = std::string("usage: pitool ") + cmd +
                              " FORMAT [--lba N] [--ref N] [--apptag X]" + (check ? " [--appmask X]" : "") +
                              " [--md FILE]";
    if (argc < 2) return fail(cmd, "missing FORMAT (e.g. 4096+8/t1, 512+8/t1/ext); " + usage);
    auto f = pifio::parse_format(argv[1]);
    if (!f.ok()) return fail(cmd, f.error.msg);
    a->fmt = f.value;
    for (int i = 2; i < argc; ++i) {
        const std::string opt = argv[i];
        if (i + 1 >= argc) return fail(cmd, "option " + opt + " needs a value; " + usage);
        const char* val = argv[++i];
        uint64_t v = 0;
        if (opt == "--lba") {
            if (!parse_u64(val, UINT64_MAX, &v)) return fail(cmd, "--lba '" + std::string(val) + "' is not a number");
            a->lba = v;
        } else if (opt == "--ref") {
            if (!parse_u64(val, pifio::ref_mask(a->fmt), &v))
                return fail(cmd, "--ref '" + std::string(val) + "' is not a number that fits the " +
                                     (a->fmt.guard == pifio::Guard::g16 ? "32" : "48") + "-bit reference tag");
            a->ref = v;
            a->have_ref = true;
        } else if (opt == "--apptag") {
            if (!parse_u64(val, 0xffff, &v)) return fail(cmd, "--apptag '" + std::string(val) + "' is not 0..0xffff");
            a->app = static_cast<uint16_t>(v);
        } else if (check && opt == "--appmask") {
            if (!parse_u64(val, 0xffff, &v)) return fail(cmd, "--appmask '" + std::string(val) + "' is not 0..0xffff");
            a->mask = static_cast<uint16_t>(v);
        } else if (opt == "--md") {
            a->md_path = val;
        } else {
            return fail(cmd, "unknown option '" + opt + "'; " + usage);
        }
    }
    if (!a->have_ref) a->ref = pifio::ref_seed(a->fmt, a->lba);
    if (a->fmt.layout == pifio::Layout::sep && a->fmt.ms > 0 && !a->md_path)
        return fail(cmd, "format " + pifio::format_to_short(a->fmt) +
                             " keeps metadata in a separate buffer: give --md FILE (or use /ext for interleaved)");
    if ((a->fmt.layout == pifio::Layout::ext || a->fmt.ms == 0) && a->md_path)
        return fail(cmd, "--md given but format " + pifio::format_to_short(a->fmt) + " has no separate metadata");
    return kExitOk;
}

constexpr uint32_t kChunkBlocks = 256;

// Closes the --md file on every return (the error paths too: pitool's
// commands also run in process, under the fuzz target).
struct FdGuard {
    int fd = -1;
    ~FdGuard() {
        if (fd >= 0) ::close(fd);
    }
};

int cmd_gen(int argc, char** argv) {
    const char* cmd = argv[0];
    PiArgs a;
    if (int rc = parse_pi_args(argc, argv, false, &a)) return rc;
    const pifio::Format& f = a.fmt;
    auto ctx = pifio::make_context(f, a.app, 0xffff, pifio::CHK_ALL);
    if (!ctx.ok()) return fail(cmd, ctx.error.msg);
    FdGuard guard;
    int& mdfd = guard.fd;
    if (a.md_path) {
        mdfd = ::open(a.md_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (mdfd < 0) return fail(cmd, std::string("cannot create --md '") + a.md_path + "': " + std::strerror(errno));
    }
    std::vector<unsigned char> data(size_t{kChunkBlocks} * f.data_stride()), md(size_t{kChunkBlocks} * f.md_stride());
    std::vector<unsigned char> raw(size_t{kChunkBlocks} * f.data_size);
    uint64_t block = 0;
    for (;;) {
        const long long n = read_full(0, raw.data(), raw.size());
        if (n < 0) return fail(cmd, std::string("read error on stdin: ") + std::strerror(errno));
        const uint32_t nb = static_cast<uint32_t>(static_cast<size_t>(n) / f.data_size);
        const size_t partial = static_cast<size_t>(n) % f.data_size;
        if (partial)
            return fail(cmd, "input ends " + std::to_string(partial) + " bytes into block " +
                                 std::to_string(block + nb) + " (lba " + std::to_string(a.lba + block + nb) +
                                 "); blocks are " + std::to_string(f.data_size) + " bytes");
        if (nb == 0) break;
        if (!md.empty()) std::memset(md.data(), 0, md.size());
        for (uint32_t i = 0; i < nb; ++i) {
            unsigned char* d = data.data() + size_t{i} * f.data_stride();
            std::memcpy(d, raw.data() + size_t{i} * f.data_size, f.data_size);
            if (f.layout == pifio::Layout::ext) std::memset(d + f.data_size, 0, f.ms);
        }
        pifio::generate(ctx.value, data.data(), md.data(), {a.lba + block, a.ref + block, nb});
        if (!write_full(1, data.data(), size_t{nb} * f.data_stride()))
            return fail(cmd, std::string("write error on stdout: ") + std::strerror(errno));
        if (mdfd >= 0 && !write_full(mdfd, md.data(), size_t{nb} * f.md_stride()))
            return fail(cmd, std::string("write error on --md '") + a.md_path + "': " + std::strerror(errno));
        block += nb;
        if (static_cast<size_t>(n) < raw.size()) break;
    }
    if (mdfd >= 0 && ::close(std::exchange(mdfd, -1)) != 0)
        return fail(cmd, std::string("close --md '") + a.md_path + "': " + std::strerror(errno));
    return kExitOk;
}

std::string hex(uint64_t v, int digits) {
    char b[24];
    std::snprintf(b, sizeof b, "0x%0*" PRIx64, digits, v);
    return b;
}

int cmd_check(int argc, char** argv) {
    const char* cmd = argv[0];
    PiArgs a;
    if (int rc = parse_pi_args(argc, argv, true, &a)) return rc;
    const pifio::Format& f = a.fmt;
    auto ctx = pifio::make_context(f, a.app, a.mask, pifio::CHK_ALL);
    if (!ctx.ok()) return fail(cmd, ctx.error.msg);
    FdGuard guard;
    int& mdfd = guard.fd;
    if (a.md_path) {
        mdfd = ::open(a.md_path, O_RDONLY | O_CLOEXEC);
        if (mdfd < 0) return fail(cmd, std::string("cannot open --md '") + a.md_path + "': " + std::strerror(errno));
    }
    const bool g64 = f.guard == pifio::Guard::g64;
    const int gd = g64 ? 16 : 4, rd = g64 ? 12 : 8;
    std::vector<unsigned char> data(size_t{kChunkBlocks} * f.data_stride()), md(size_t{kChunkBlocks} * f.md_stride());
    std::vector<pifio::Mismatch> mm(size_t{kChunkBlocks} * 3);
    uint64_t block = 0, bad = 0, escaped = 0, counts[3] = {};
    for (;;) {
        const long long n = read_full(0, data.data(), data.size());
        if (n < 0) return fail(cmd, std::string("read error on stdin: ") + std::strerror(errno));
        const uint32_t nb = static_cast<uint32_t>(static_cast<size_t>(n) / f.data_stride());
        const size_t partial = static_cast<size_t>(n) % f.data_stride();
        if (partial)
            return fail(cmd, "truncated input: stdin ends " + std::to_string(partial) + " bytes into block " +
                                 std::to_string(block + nb) + " (lba " + std::to_string(a.lba + block + nb) +
                                 "); blocks are " + std::to_string(f.data_stride()) + " bytes");
        if (mdfd >= 0) {
            const size_t want = size_t{nb} * f.md_stride();
            const long long m = read_full(mdfd, md.data(), want);
            if (m < 0) return fail(cmd, std::string("read error on --md: ") + std::strerror(errno));
            if (static_cast<size_t>(m) < want)
                return fail(cmd, "truncated metadata: --md '" + std::string(a.md_path) + "' ends in block " +
                                     std::to_string(block + static_cast<size_t>(m) / f.md_stride()) + " (lba " +
                                     std::to_string(a.lba + block + static_cast<size_t>(m) / f.md_stride()) +
                                     "); it needs " + std::to_string(f.ms) + " bytes per block");
        }
        if (nb > 0) {
            pifio::VerifyStats st;
            pifio::verify(ctx.value, data.data(), md.data(), {a.lba + block, a.ref + block, nb}, mm.data(),
                          static_cast<uint32_t>(mm.size()), &st);
            for (uint32_t i = 0; i < st.recorded;) {
                std::string line = "lba " + std::to_string(mm[i].lba) + ":";
                const uint32_t b = mm[i].block;
                for (bool first = true; i < st.recorded && mm[i].block == b; ++i, first = false) {
                    const pifio::Mismatch& x = mm[i];
                    const int d = x.field == pifio::Field::guard ? gd : x.field == pifio::Field::app ? 4 : rd;
                    line += std::string(first ? " " : "; ") + pifio::field_name(x.field) + " got " + hex(x.got, d) +
                            ", want " + hex(x.want, d);
                }
                std::printf("%s\n", line.c_str());
            }
            bad += st.bad_blocks;
            escaped += st.escaped;
            for (int k = 0; k < 3; ++k) counts[k] += st.count[k];
            block += nb;
        }
        if (static_cast<size_t>(n) < data.size()) break;
    }
    if (mdfd >= 0) {
        unsigned char extra;
        if (read_full(mdfd, &extra, 1) == 1)
            return fail(cmd, "--md '" + std::string(a.md_path) + "' is longer than " + std::to_string(block) +
                                 " blocks of metadata; data and metadata do not match");
        ::close(std::exchange(mdfd, -1));
    }
    std::fflush(stdout);
    std::fprintf(stderr, "pitool check: %s: %" PRIu64 " blocks, %" PRIu64 " bad (guard %" PRIu64 ", apptag %" PRIu64
                         ", reftag %" PRIu64 "), %" PRIu64 " escaped\n",
                 pifio::format_to_short(f).c_str(), block, bad, counts[0], counts[1], counts[2], escaped);
    return bad ? kExitBad : kExitOk;
}

PITOOL_COMMAND("crc16", "[FILE|-]", "CRC16-T10DIF of the whole input", cmd_crc16);
PITOOL_COMMAND("crc64", "[FILE|-]", "CRC64-NVMe of the whole input", cmd_crc64);
PITOOL_COMMAND("gen", "FORMAT [--lba N] [--ref N] [--apptag X] [--md FILE]",
               "add PI to raw blocks on stdin (ext: interleaved on stdout; sep: metadata to --md)", cmd_gen);
PITOOL_COMMAND("check", "FORMAT [--lba N] [--ref N] [--apptag X] [--appmask X] [--md FILE]",
               "check PI of blocks on stdin; one line per bad block; exit 1 if any bad", cmd_check);

void usage(FILE* out) {
    std::fprintf(out, "usage: pitool COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < g_ncommands; ++i)
        std::fprintf(out, "  %s %s\n      %s\n", g_commands[i].name, g_commands[i].usage, g_commands[i].summary);
    std::fprintf(out,
                 "\nFORMAT: <data>+<ms>[/t0|t1|t2|t3][/g16|g64][/first|last][/sep|ext], e.g. 4096+8/t1, 512+8/t1/ext\n"
                 "--lba: LBA of the first block (default 0); --ref: its reference tag (default: the LBA)\n"
                 "exit: 0 ok, 1 bad PI found, 2 usage error or unusable input\n");
}

}  // namespace
}  // namespace pitool

int main(int argc, char** argv) {
    using namespace pitool;
    if (argc < 2) {
        usage(stderr);
        return kExitUsage;
    }
    const std::string name = argv[1];
    if (name == "-h" || name == "--help" || name == "help") {
        usage(stdout);
        return kExitOk;
    }
    for (size_t i = 0; i < g_ncommands; ++i)
        if (name == g_commands[i].name) return g_commands[i].run(argc - 1, argv + 1);
    std::fprintf(stderr, "pitool: unknown command '%s'\n", name.c_str());
    usage(stderr);
    return kExitUsage;
}
