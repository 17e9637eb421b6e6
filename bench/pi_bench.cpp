// Google Benchmark for the PI core.
//
// Per-I/O rows, as fio issues them: <op>/<impl>/<format>/<io bytes>
//   op:     generate, verify (one call per I/O of io bytes of data), crc
//           (the raw CRC of the same guard bytes, one plain call per block)
//   impl:   pifio (pifio::generate / verify), isal (the loop an application
//           writes around ISA-L's CRC, below), fio (fio's own per-I/O
//           routines fio_nvme_generate_guard / fio_nvme_pi_verify from
//           engines/nvme.c of the PIFIO_FIO_SRC tree, see fio_pi_shim.c)
//   format: the short spelling, e.g. 512+8/t1, 4096+16/t1/g64/ext
//           (op = first field, impl = second, io bytes = last, format = the rest)
//   io bytes: 4096, 32768, 131072 data bytes per I/O.
// Every row's label names the CPU model and the CRC kernel behind the impl.
//
// Single-block rows: <op>/<impl>/<bytes>.
//   op:   crc16, crc64, generate16, verify16, generate64, verify64
//   impl: pifio (this library, best CRC the CPU has), isal (ISA-L 2.30:
//         crc16_t10dif; crc64_ecma_refl, the same folding code as ISA-L's
//         NVMe variant, which 2.30 lacks), table (byte-at-a-time table, as
//         fio's built-in PI does without ISA-L), fio (fio's own
//         fio_crc_t10dif / fio_crc64_nvme compiled from the PIFIO_FIO_SRC
//         tree with its config-host.h: what engines/nvme.c really runs; with
//         ISA-L 2.30 that is ISA-L for CRC16 but a byte table for CRC64)
//   bytes: data bytes processed per iteration (512, 4096, 65536).
// CPU-path crc rows (crc16|crc64/<path>/<bytes>): the kernels a CPU without
// AVX-512 runs, on this CPU — pifio-vpclmul-avx2, pifio-pclmul (pifio's
// kernels called directly, no dispatch switch) vs isal-avx (crc16_t10dif_02)
// and isal-sse (crc16_t10dif_01, crc64_ecma_refl_by8), ISA-L 2.30's own
// exported paths that its dispatcher picks there.
// generate/verify formats (separate metadata buffer, PI last, type 1):
//   512   -> one block of 512+8/t1 (g16) or 512+16/t1/g64
//   4096  -> one block of 4096+8/t1 or 4096+16/t1/g64
//   65536 -> 16 blocks of 4096+8/t1 or 4096+16/t1/g64
// isal and table run the same generate/verify loop (below) with their CRC.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "pifio/pi.hpp"

#if PIFIO_BENCH_ISAL
#include <isa-l/crc.h>
#include <isa-l/crc64.h>
#endif

#ifndef PIFIO_BENCH_FIO_ISAL
#define PIFIO_BENCH_FIO_ISAL 0
#endif
#ifndef PIFIO_BENCH_FIO_ISAL64
#define PIFIO_BENCH_FIO_ISAL64 0
#endif

#if PIFIO_BENCH_FIO
#include "fio_pi_shim.h"
extern "C" {
unsigned short fio_crc_t10dif(unsigned short crc, const unsigned char* buffer, unsigned int len);
unsigned long long fio_crc64_nvme(unsigned long long crc, const void* p, unsigned int len);
}
#endif

namespace {

// ------------------------------------------------- byte-at-a-time tables --

std::array<uint16_t, 256> make_t16() {
    std::array<uint16_t, 256> t{};
    for (unsigned i = 0; i < 256; ++i) {
        uint16_t c = static_cast<uint16_t>(i << 8);
        for (int b = 0; b < 8; ++b) c = static_cast<uint16_t>((c & 0x8000) ? (c << 1) ^ 0x8BB7 : (c << 1));
        t[i] = c;
    }
    return t;
}
std::array<uint64_t, 256> make_t64() {
    std::array<uint64_t, 256> t{};
    uint64_t refl = 0;
    for (int i = 0; i < 64; ++i)
        if ((0xAD93D23594C93659ull >> i) & 1) refl |= uint64_t{1} << (63 - i);
    for (unsigned i = 0; i < 256; ++i) {
        uint64_t c = i;
        for (int b = 0; b < 8; ++b) c = (c & 1) ? (c >> 1) ^ refl : (c >> 1);
        t[i] = c;
    }
    return t;
}
const std::array<uint16_t, 256> kT16 = make_t16();
const std::array<uint64_t, 256> kT64 = make_t64();

uint16_t table_crc16(uint16_t crc, const uint8_t* p, size_t n) {
    while (n--) crc = static_cast<uint16_t>((crc << 8) ^ kT16[(crc >> 8) ^ *p++]);
    return crc;
}
uint64_t table_crc64(uint64_t crc, const uint8_t* p, size_t n) {
    crc = ~crc;
    while (n--) crc = (crc >> 8) ^ kT64[(crc ^ *p++) & 0xff];
    return ~crc;
}

uint16_t pifio_crc16(uint16_t crc, const uint8_t* p, size_t n) { return pifio::crc16_t10dif(crc, p, n); }
uint64_t pifio_crc64(uint64_t crc, const uint8_t* p, size_t n) { return pifio::crc64_nvme(crc, p, n); }
#if PIFIO_BENCH_ISAL
uint16_t isal_crc16(uint16_t crc, const uint8_t* p, size_t n) { return crc16_t10dif(crc, p, n); }
uint64_t isal_crc64(uint64_t crc, const uint8_t* p, size_t n) { return crc64_ecma_refl(crc, p, n); }
#endif
#if PIFIO_BENCH_ISAL
// ISA-L 2.30's own CPU paths (exported beside its dispatcher): what its
// dispatch picks on a CPU without AVX-512. crc16: _02 (AVX, 128-bit) with
// AVX, _01 (SSE) without; crc64: by8 (SSE, 128-bit) on both.
extern "C" uint16_t crc16_t10dif_01(uint16_t, const unsigned char*, uint64_t);
extern "C" uint16_t crc16_t10dif_02(uint16_t, const unsigned char*, uint64_t);
extern "C" uint64_t crc64_ecma_refl_by8(uint64_t, const unsigned char*, uint64_t);
uint16_t isal_avx_crc16(uint16_t crc, const uint8_t* p, size_t n) { return crc16_t10dif_02(crc, p, n); }
uint16_t isal_sse_crc16(uint16_t crc, const uint8_t* p, size_t n) { return crc16_t10dif_01(crc, p, n); }
uint64_t isal_sse_crc64(uint64_t crc, const uint8_t* p, size_t n) { return crc64_ecma_refl_by8(crc, p, n); }
#endif
#if PIFIO_BENCH_FIO
uint16_t fio_crc16(uint16_t crc, const uint8_t* p, size_t n) { return fio_crc_t10dif(crc, p, static_cast<unsigned>(n)); }
uint64_t fio_crc64(uint64_t crc, const uint8_t* p, size_t n) { return fio_crc64_nvme(crc, p, static_cast<unsigned>(n)); }
#endif

// --------------------------------------- generate / verify with any CRC --
// The loop an application would write around a plain CRC function
// (separate metadata, PI last, type 1, tuple = whole metadata).

inline void put_be(uint8_t* p, uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
inline uint64_t get_be(const uint8_t* p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = v << 8 | p[i];
    return v;
}

template <bool G64, class Crc>
void loop_generate(Crc crc, uint8_t* data, uint8_t* md, uint32_t bs, uint32_t nb, uint64_t lba) {
    constexpr uint32_t ms = G64 ? 16 : 8;
    for (uint32_t i = 0; i < nb; ++i) {
        uint8_t* t = md + size_t{i} * ms;
        const uint64_t g = crc(0, data + size_t{i} * bs, bs);
        put_be(t, g, G64 ? 8 : 2);
        put_be(t + (G64 ? 8 : 2), 0x1234, 2);
        put_be(t + (G64 ? 10 : 4), lba + i, G64 ? 6 : 4);
    }
}

template <bool G64, class Crc>
bool loop_verify(Crc crc, const uint8_t* data, const uint8_t* md, uint32_t bs, uint32_t nb, uint64_t lba) {
    constexpr uint32_t ms = G64 ? 16 : 8;
    bool ok = true;
    for (uint32_t i = 0; i < nb; ++i) {
        const uint8_t* t = md + size_t{i} * ms;
        const uint16_t app = static_cast<uint16_t>(get_be(t + (G64 ? 8 : 2), 2));
        if (app == 0xffff) continue;
        ok &= get_be(t, G64 ? 8 : 2) == crc(0, data + size_t{i} * bs, bs);
        ok &= app == 0x1234;
        ok &= get_be(t + (G64 ? 10 : 4), G64 ? 6 : 4) == ((lba + i) & (G64 ? 0xffffffffffffull : 0xffffffffull));
    }
    return ok;
}

// ------------------------------------------------------------- benches --

struct Buf {
    std::vector<uint8_t> data, md;
    explicit Buf(size_t n) : data(n), md(n / 512 * 16 + 64) {
        std::mt19937_64 rng(n);
        for (auto& b : data) b = static_cast<uint8_t>(rng());
    }
};

template <class Crc>
void bench_crc(benchmark::State& st, Crc crc, size_t bytes) {
    Buf b(bytes);
    for (auto _ : st) {
        auto c = crc(0, b.data.data(), bytes);
        benchmark::DoNotOptimize(c);
    }
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(bytes));
}

void geometry(size_t bytes, uint32_t* bs, uint32_t* nb) {
    *bs = bytes == 512 ? 512 : 4096;
    *nb = static_cast<uint32_t>(bytes / *bs);
}

template <bool G64, class Crc>
void bench_loop(benchmark::State& st, Crc crc, size_t bytes, bool verify) {
    Buf b(bytes);
    uint32_t bs, nb;
    geometry(bytes, &bs, &nb);
    loop_generate<G64>(crc, b.data.data(), b.md.data(), bs, nb, 1000);
    if (verify && !loop_verify<G64>(crc, b.data.data(), b.md.data(), bs, nb, 1000)) {
        st.SkipWithError("verify found bad PI in freshly generated data");
        return;
    }
    for (auto _ : st) {
        if (verify) {
            bool ok = loop_verify<G64>(crc, b.data.data(), b.md.data(), bs, nb, 1000);
            benchmark::DoNotOptimize(ok);
        } else {
            loop_generate<G64>(crc, b.data.data(), b.md.data(), bs, nb, 1000);
            benchmark::ClobberMemory();
        }
    }
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(bytes));
}

template <bool G64>
void bench_pifio(benchmark::State& st, size_t bytes, bool verify) {
    Buf b(bytes);
    uint32_t bs, nb;
    geometry(bytes, &bs, &nb);
    const std::string spec = std::to_string(bs) + (G64 ? "+16/t1/g64" : "+8/t1");
    auto f = pifio::parse_format(spec);
    auto ctx = pifio::make_context(f.value, 0x1234, 0xffff, pifio::CHK_ALL);
    if (!ctx.ok()) {
        st.SkipWithError(ctx.error.msg.c_str());
        return;
    }
    const pifio::Span span{1000, 1000, nb};
    pifio::generate(ctx.value, b.data.data(), b.md.data(), span);
    pifio::VerifyStats vs;
    if (!pifio::verify(ctx.value, b.data.data(), b.md.data(), span, nullptr, 0, &vs)) {
        st.SkipWithError("verify found bad PI in freshly generated data");
        return;
    }
    for (auto _ : st) {
        if (verify) {
            bool ok = pifio::verify(ctx.value, b.data.data(), b.md.data(), span, nullptr, 0, &vs);
            benchmark::DoNotOptimize(ok);
        } else {
            pifio::generate(ctx.value, b.data.data(), b.md.data(), span);
            benchmark::ClobberMemory();
        }
    }
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(bytes));
}

// ---------------------------------------------------- per-I/O benches --

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            const size_t c = line.find(':');
            return c == std::string::npos ? line : line.substr(line.find_first_not_of(' ', c + 1));
        }
    return "unknown CPU";
}

const std::string& cpu_label() {
    static const std::string s = cpu_model();
    return s;
}

// What computes the CRCs of an impl's rows (the row label says it).
std::string crc_label(const char* impl, bool g64) {
    const std::string me = pifio::crc_impl_name(pifio::crc_active());
    if (std::strcmp(impl, "pifio") == 0) return me;
    if (std::strcmp(impl, "isal") == 0) return "isa-l dispatch";
    if (std::strncmp(impl, "pifio-", 6) == 0) return impl + 6;   // one forced path: vpclmul-avx2, pclmul
    if (std::strcmp(impl, "isal-avx") == 0) return g64 ? "isa-l crc64_ecma_refl_by8 (sse)" : "isa-l crc16_t10dif_02 (avx)";
    if (std::strcmp(impl, "isal-sse") == 0) return g64 ? "isa-l crc64_ecma_refl_by8 (sse)" : "isa-l crc16_t10dif_01 (sse)";
    if (std::strcmp(impl, "fio") == 0) {
        if (g64) return PIFIO_BENCH_FIO_ISAL64 ? "fio->isa-l" : "fio byte table";
        return PIFIO_BENCH_FIO_ISAL ? "fio->isa-l dispatch" : "fio byte table";
    }
    return "byte table";
}

void label_row(benchmark::State& st, const char* impl, bool g64) {
    st.SetLabel("cpu=" + cpu_label() + "; crc=" + crc_label(impl, g64));
}

// Page-aligned data and metadata buffers of one I/O, random data.
struct IoBufs {
    struct Free {
        void operator()(uint8_t* p) const { std::free(p); }
    };
    std::unique_ptr<uint8_t, Free> data, md;
    size_t data_bytes = 0, md_bytes = 0;
    IoBufs(const pifio::Format& f, uint32_t nb) {
        data_bytes = size_t{nb} * f.data_stride();
        md_bytes = std::max<size_t>(size_t{nb} * f.md_stride(), 64);
        data.reset(static_cast<uint8_t*>(std::aligned_alloc(4096, (data_bytes + 4095) / 4096 * 4096)));
        md.reset(static_cast<uint8_t*>(std::aligned_alloc(4096, (md_bytes + 4095) / 4096 * 4096)));
        std::mt19937_64 rng(data_bytes);
        for (size_t i = 0; i < data_bytes; ++i) data.get()[i] = static_cast<uint8_t>(rng());
        for (size_t i = 0; i < md_bytes; ++i) md.get()[i] = static_cast<uint8_t>(rng());
    }
};

// Where one block's pieces are, for the plain loops.
struct LoopGeo {
    size_t ds, mstride;
    uint32_t dsize, pi_off, contig, chain;
    bool ext;
    explicit LoopGeo(const pifio::Format& f)
        : ds(f.data_stride()),
          mstride(f.md_stride()),
          dsize(f.data_size),
          pi_off(f.pi_offset()),
          contig(f.data_size + (f.layout == pifio::Layout::ext ? f.pi_offset() : 0)),
          chain(f.layout == pifio::Layout::ext ? 0 : f.pi_offset()),
          ext(f.layout == pifio::Layout::ext) {}
    uint8_t* md_of(uint8_t* d, uint8_t* m, uint32_t i) const { return ext ? d + i * ds + dsize : m + i * mstride; }
};

// The loop an application writes around a plain CRC (type 1, app tag
// 0x1234 checked with mask 0xffff, ref = LBA), any layout and PI location.
template <bool G64, class Crc>
void io_loop_generate(Crc crc, const LoopGeo& g, uint8_t* data, uint8_t* md, uint32_t nb, uint64_t lba) {
    for (uint32_t i = 0; i < nb; ++i) {
        uint8_t* m = g.md_of(data, md, i);
        uint64_t guard = crc(0, data + i * g.ds, g.contig);
        if (g.chain) guard = crc(static_cast<decltype(crc(0, data, 0))>(guard), m, g.chain);
        uint8_t* t = m + g.pi_off;
        put_be(t, guard, G64 ? 8 : 2);
        put_be(t + (G64 ? 8 : 2), 0x1234, 2);
        put_be(t + (G64 ? 10 : 4), lba + i, G64 ? 6 : 4);
    }
}

template <bool G64, class Crc>
bool io_loop_verify(Crc crc, const LoopGeo& g, uint8_t* data, uint8_t* md, uint32_t nb, uint64_t lba) {
    bool ok = true;
    for (uint32_t i = 0; i < nb; ++i) {
        uint8_t* m = g.md_of(data, md, i);
        const uint8_t* t = m + g.pi_off;
        const uint16_t app = static_cast<uint16_t>(get_be(t + (G64 ? 8 : 2), 2));
        if (app == 0xffff) continue;
        uint64_t guard = crc(0, data + i * g.ds, g.contig);
        if (g.chain) guard = crc(static_cast<decltype(crc(0, data, 0))>(guard), m, g.chain);
        ok &= get_be(t, G64 ? 8 : 2) == guard;
        ok &= app == 0x1234;
        ok &= get_be(t + (G64 ? 10 : 4), G64 ? 6 : 4) == ((lba + i) & (G64 ? 0xffffffffffffull : 0xffffffffull));
    }
    return ok;
}

enum class IoOp { generate, verify, crc };

struct IoCase {
    pifio::Format fmt;
    size_t io_bytes;
    uint32_t nb() const { return static_cast<uint32_t>(io_bytes / fmt.data_size); }
};

constexpr uint64_t kIoLba = 123456;

// The raw CRC of an I/O's guard bytes, one plain call per block (the crc rows).
template <class Crc>
inline void crc_blocks(Crc crc, const LoopGeo& g, uint8_t* d, uint8_t* m, uint32_t nb) {
    for (uint32_t i = 0; i < nb; ++i) {
        auto x = crc(0, d + i * g.ds, g.contig);
        if (g.chain) x = crc(x, g.md_of(d, m, i), g.chain);
        benchmark::DoNotOptimize(x);
    }
}

// One benchmark of op over one I/O with a plain CRC function (isal, table).
template <bool G64, class Crc>
void bench_io_loop(benchmark::State& st, const char* impl, Crc crc, IoCase c, IoOp op) {
    IoBufs b(c.fmt, c.nb());
    const LoopGeo g(c.fmt);
    uint8_t* d = b.data.get();
    uint8_t* m = b.md.get();
    io_loop_generate<G64>(crc, g, d, m, c.nb(), kIoLba);
    if (!io_loop_verify<G64>(crc, g, d, m, c.nb(), kIoLba)) {
        st.SkipWithError("verify found bad PI in freshly generated data");
        return;
    }
    for (auto _ : st) {
        if (op == IoOp::verify) {
            bool ok = io_loop_verify<G64>(crc, g, d, m, c.nb(), kIoLba);
            benchmark::DoNotOptimize(ok);
        } else if (op == IoOp::generate) {
            io_loop_generate<G64>(crc, g, d, m, c.nb(), kIoLba);
            benchmark::ClobberMemory();
        } else {
            crc_blocks(crc, g, d, m, c.nb());
        }
    }
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(c.io_bytes));
    label_row(st, impl, G64);
}

// The CRC loop of bench_io_loop, each iteration over the next of kRing I/O
// buffers (32 x 4 KiB: more than L1d, well inside L2), as the in-memory
// target's verify finds its data: copied into fio's buffer at submission,
// checked iodepth I/Os later. The fair reference for what pi_verify adds
// there (bench/mem_verify_cost.py); the plain crc rows run hot in L1.
constexpr unsigned kRing = 32;
template <bool G64, class Crc>
void bench_io_crc_ring(benchmark::State& st, const char* impl, Crc crc, IoCase c) {
    std::vector<IoBufs> ring;
    ring.reserve(kRing);
    for (unsigned i = 0; i < kRing; ++i) ring.emplace_back(c.fmt, c.nb());
    const LoopGeo g(c.fmt);
    unsigned k = 0;
    for (auto _ : st) {
        uint8_t* d = ring[k].data.get();
        uint8_t* m = ring[k].md.get();
        k = (k + 1) % kRing;
        crc_blocks(crc, g, d, m, c.nb());
    }
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(c.io_bytes));
    label_row(st, impl, G64);
}

void bench_io_pifio(benchmark::State& st, IoCase c, IoOp op) {
    IoBufs b(c.fmt, c.nb());
    auto ctx = pifio::make_context(c.fmt, 0x1234, 0xffff, pifio::CHK_ALL);
    if (!ctx.ok()) {
        st.SkipWithError(ctx.error.msg.c_str());
        return;
    }
    const pifio::Span span{kIoLba, kIoLba, c.nb()};
    uint8_t* d = b.data.get();
    uint8_t* m = b.md.get();
    pifio::generate(ctx.value, d, m, span);
    pifio::VerifyStats vs;
    if (!pifio::verify(ctx.value, d, m, span, nullptr, 0, &vs)) {
        st.SkipWithError("verify found bad PI in freshly generated data");
        return;
    }
    for (auto _ : st) {
        if (op == IoOp::verify) {
            bool ok = pifio::verify(ctx.value, d, m, span, nullptr, 0, &vs);
            benchmark::DoNotOptimize(ok);
        } else {
            pifio::generate(ctx.value, d, m, span);
            benchmark::ClobberMemory();
        }
    }
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(c.io_bytes));
    label_row(st, "pifio", c.fmt.guard == pifio::Guard::g64);
}

// verify and the raw per-block CRC of one I/O on another CPU path (the
// kernels a CPU without AVX-512 runs, on this one): the path is forced for
// the row's duration (pi_bench runs its rows one at a time) and put back.
void bench_io_path(benchmark::State& st, IoCase c, IoOp op, pifio::CrcImpl impl, const char* label) {
    const pifio::CrcImpl prev = pifio::crc_active();
    if (!pifio::crc_force(impl)) {
        st.SkipWithError("this CPU cannot run the path");
        return;
    }
    const bool g64 = c.fmt.guard == pifio::Guard::g64;
    if (op == IoOp::crc) {
        const pifio::CrcFunctions f = pifio::crc_functions(impl);
        IoBufs b(c.fmt, c.nb());
        const LoopGeo g(c.fmt);
        for (auto _ : st) {
            if (g64)
                crc_blocks(f.crc64, g, b.data.get(), b.md.get(), c.nb());
            else
                crc_blocks(f.crc16, g, b.data.get(), b.md.get(), c.nb());
        }
        st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(c.io_bytes));
        label_row(st, label, g64);
    } else {
        bench_io_pifio(st, c, op);
        label_row(st, label, g64);
    }
    pifio::crc_force(prev);
}

#if PIFIO_BENCH_FIO
void bench_io_fio(benchmark::State& st, IoCase c, IoOp op) {
    IoBufs b(c.fmt, c.nb());
    const bool g64 = c.fmt.guard == pifio::Guard::g64;
    std::unique_ptr<fio_pi_io, void (*)(fio_pi_io*)> io(
        fio_pi_io_new(c.fmt.data_size, c.fmt.ms, c.fmt.layout == pifio::Layout::ext, c.fmt.loc == pifio::PiLoc::first,
                      g64, c.fmt.pi_type, 0x1234),
        fio_pi_io_free);
    if (!io) {
        st.SkipWithError("out of memory");
        return;
    }
    uint8_t* d = b.data.get();
    uint8_t* m = c.fmt.layout == pifio::Layout::ext ? nullptr : b.md.get();
    const unsigned long long len = b.data_bytes;
    fio_pi_io_generate(io.get(), d, m, len, kIoLba);
    // fio's tuples must be the ones pifio checks, or the rows compare different work.
    auto ctx = pifio::make_context(c.fmt, 0x1234, 0xffff, pifio::CHK_ALL);
    pifio::VerifyStats vs;
    if (!ctx.ok() || fio_pi_io_verify(io.get(), d, m, len, kIoLba) != 0 ||
        !pifio::verify(ctx.value, d, b.md.get(), pifio::Span{kIoLba, kIoLba, c.nb()}, nullptr, 0, &vs)) {
        st.SkipWithError("fio's generate and verify disagree with pifio's on this format");
        return;
    }
    for (auto _ : st) {
        if (op == IoOp::verify) {
            int r = fio_pi_io_verify(io.get(), d, m, len, kIoLba);
            benchmark::DoNotOptimize(r);
        } else {
            fio_pi_io_generate(io.get(), d, m, len, kIoLba);
            benchmark::ClobberMemory();
        }
    }
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(c.io_bytes));
    label_row(st, "fio", g64);
}
#endif

void register_io() {
    const char* specs[] = {"512+8", "512+16/g64", "4096+8", "4096+16/g64", "4096+64/first"};
    const size_t ios[] = {4096, 32768, 131072};
    for (const char* layout : {"", "/ext"})
        for (const char* sp : specs) {
            auto f = pifio::parse_format(std::string(sp) + layout);
            if (!f.ok()) {
                std::fprintf(stderr, "pi_bench: %s\n", f.error.msg.c_str());
                std::exit(1);
            }
            const std::string fs = pifio::format_to_short(f.value);
            const bool g64 = f.value.guard == pifio::Guard::g64;
            for (size_t io : ios) {
                const IoCase c{f.value, io};
                auto name = [&](const char* op, const char* impl) {
                    return std::string(op) + "/" + impl + "/" + fs + "/" + std::to_string(io);
                };
                // The L2-resident reference of the in-memory target's 4 KiB reads.
                if (io == 4096 && !layout[0] && (fs == "4096+8/t1" || fs == "512+8/t1"))
                    benchmark::RegisterBenchmark((name("crc", "pifio") + "/ring32").c_str(),
                                                 [=](benchmark::State& s) {
                                                     bench_io_crc_ring<false>(s, "pifio", pifio_crc16, c);
                                                 });
                for (IoOp op : {IoOp::generate, IoOp::verify, IoOp::crc}) {
                    const char* on = op == IoOp::generate ? "generate" : op == IoOp::verify ? "verify" : "crc";
                    if (op == IoOp::crc)
                        benchmark::RegisterBenchmark(name(on, "pifio").c_str(), [=](benchmark::State& s) {
                            if (g64)
                                bench_io_loop<true>(s, "pifio", pifio_crc64, c, op);
                            else
                                bench_io_loop<false>(s, "pifio", pifio_crc16, c, op);
                        });
                    else
                        benchmark::RegisterBenchmark(name(on, "pifio").c_str(),
                                                     [=](benchmark::State& s) { bench_io_pifio(s, c, op); });
#if PIFIO_BENCH_ISAL
                    benchmark::RegisterBenchmark(name(on, "isal").c_str(), [=](benchmark::State& s) {
                        if (g64)
                            bench_io_loop<true>(s, "isal", isal_crc64, c, op);
                        else
                            bench_io_loop<false>(s, "isal", isal_crc16, c, op);
                    });
#endif
#if PIFIO_BENCH_FIO
                    if (op != IoOp::crc)
                        benchmark::RegisterBenchmark(name(on, "fio").c_str(),
                                                     [=](benchmark::State& s) { bench_io_fio(s, c, op); });
#endif
                }
            }
        }
}

// verify/pifio-<path>/<format>/<io> and crc/pifio-<path>/<format>/<io>:
// issue 12's verify targets on the paths of CPUs without AVX-512 (rows only
// for paths this CPU runs; a few formats and sizes, the rest is the same code).
void register_io_paths() {
    const struct {
        pifio::CrcImpl impl;
        const char* name;
    } paths[] = {{pifio::CrcImpl::vpclmul_avx2, "pifio-vpclmul-avx2"}, {pifio::CrcImpl::pclmul, "pifio-pclmul"}};
    for (const auto& p : paths) {
        if (!pifio::crc_impl_supported(p.impl)) continue;
        for (const char* sp : {"512+8", "512+16/g64", "4096+8", "4096+16/g64"}) {
            const pifio::Format f = pifio::parse_format(sp).value;
            const std::string fs = pifio::format_to_short(f);
            for (size_t io : {size_t{4096}, size_t{131072}}) {
                const IoCase c{f, io};
                for (IoOp op : {IoOp::verify, IoOp::crc}) {
                    const std::string n = std::string(op == IoOp::verify ? "verify" : "crc") + "/" + p.name + "/" + fs +
                                          "/" + std::to_string(io);
                    const pifio::CrcImpl impl = p.impl;
                    const char* label = p.name;
                    benchmark::RegisterBenchmark(n.c_str(), [=](benchmark::State& s) { bench_io_path(s, c, op, impl, label); });
                }
            }
        }
    }
}

void register_all() {
    const size_t sizes[] = {512, 4096, 65536};
    // One buffer of an I/O's size (the target for verify of many small blocks).
    const size_t crc_sizes[] = {512, 4096, 32768, 65536, 131072};
    struct Impl16 {
        const char* name;
        uint16_t (*crc)(uint16_t, const uint8_t*, size_t);
    };
    struct Impl64 {
        const char* name;
        uint64_t (*crc)(uint64_t, const uint8_t*, size_t);
    };
    std::vector<Impl16> i16 = {{"pifio", pifio_crc16}, {"table", table_crc16}};
    std::vector<Impl64> i64 = {{"pifio", pifio_crc64}, {"table", table_crc64}};
#if PIFIO_BENCH_ISAL
    i16.insert(i16.begin() + 1, {"isal", isal_crc16});
    i64.insert(i64.begin() + 1, {"isal", isal_crc64});
#endif
#if PIFIO_BENCH_FIO
    i16.push_back({"fio", fio_crc16});
    i64.push_back({"fio", fio_crc64});
#endif
    // The paths a CPU without AVX-512 takes, side by side on this one (the
    // same core runs each; a CPU the path was written for may differ):
    // pifio's vpclmul-avx2 and pclmul kernels against the ISA-L paths its
    // dispatch would pick there. Rows only for paths this CPU can run.
    const pifio::CrcFunctions avx2 = pifio::crc_functions(pifio::CrcImpl::vpclmul_avx2);
    const pifio::CrcFunctions pcl = pifio::crc_functions(pifio::CrcImpl::pclmul);
    // crc rows only (generate/verify rows stay on the dispatched kernels).
    std::vector<Impl16> p16;
    std::vector<Impl64> p64;
    if (avx2.crc16) {
        p16.push_back({"pifio-vpclmul-avx2", avx2.crc16});
        p64.push_back({"pifio-vpclmul-avx2", avx2.crc64});
    }
    if (pcl.crc16) {
        p16.push_back({"pifio-pclmul", pcl.crc16});
        p64.push_back({"pifio-pclmul", pcl.crc64});
    }
#if PIFIO_BENCH_ISAL
    p16.push_back({"isal-avx", isal_avx_crc16});
    p16.push_back({"isal-sse", isal_sse_crc16});
    p64.push_back({"isal-sse", isal_sse_crc64});
#endif
    auto name = [](const char* op, const char* impl, size_t n) {
        return std::string(op) + "/" + impl + "/" + std::to_string(n);
    };
    {
        // Each path must compute the CRC the row claims (ISA-L's crc64 rows
        // are ECMA-182, the same folding on another polynomial: not checked).
        Buf b(4096 + 8);
        const uint8_t* p = b.data.data();
        for (const auto& im : p16)
            if (im.crc(im.crc(0, p, 4096), p + 4096, 8) != pifio::crc16_t10dif_ref(0, p, 4104)) {
                std::fprintf(stderr, "pi_bench: crc16 path %s disagrees with the reference; not benchmarking\n", im.name);
                std::exit(1);
            }
        for (const auto& im : p64)
            if (std::strncmp(im.name, "pifio-", 6) == 0 &&
                im.crc(im.crc(0, p, 4096), p + 4096, 8) != pifio::crc64_nvme_ref(0, p, 4104)) {
                std::fprintf(stderr, "pi_bench: crc64 path %s disagrees with the reference; not benchmarking\n", im.name);
                std::exit(1);
            }
    }
    std::vector<Impl16> c16 = i16;
    std::vector<Impl64> c64 = i64;
    c16.insert(c16.end(), p16.begin(), p16.end());
    c64.insert(c64.end(), p64.begin(), p64.end());
    for (const auto& im : c16)
        for (size_t n : crc_sizes)
            benchmark::RegisterBenchmark(name("crc16", im.name, n).c_str(), [=](benchmark::State& s) {
                bench_crc(s, im.crc, n);
                label_row(s, im.name, false);
            });
    for (const auto& im : c64)
        for (size_t n : crc_sizes)
            benchmark::RegisterBenchmark(name("crc64", im.name, n).c_str(), [=](benchmark::State& s) {
                bench_crc(s, im.crc, n);
                label_row(s, im.name, true);
            });
    for (bool verify : {false, true}) {
        for (const auto& im : i16)
            for (size_t n : sizes) {
                const char* op = verify ? "verify16" : "generate16";
                if (std::strcmp(im.name, "pifio") == 0)
                    benchmark::RegisterBenchmark(name(op, im.name, n).c_str(), [=](benchmark::State& s) {
                        bench_pifio<false>(s, n, verify);
                        label_row(s, im.name, false);
                    });
                else
                    benchmark::RegisterBenchmark(name(op, im.name, n).c_str(), [=](benchmark::State& s) {
                        bench_loop<false>(s, im.crc, n, verify);
                        label_row(s, im.name, false);
                    });
            }
        for (const auto& im : i64)
            for (size_t n : sizes) {
                const char* op = verify ? "verify64" : "generate64";
                if (std::strcmp(im.name, "pifio") == 0)
                    benchmark::RegisterBenchmark(name(op, im.name, n).c_str(), [=](benchmark::State& s) {
                        bench_pifio<true>(s, n, verify);
                        label_row(s, im.name, true);
                    });
                else
                    benchmark::RegisterBenchmark(name(op, im.name, n).c_str(), [=](benchmark::State& s) {
                        bench_loop<true>(s, im.crc, n, verify);
                        label_row(s, im.name, true);
                    });
            }
    }
    register_io();
    register_io_paths();
}

}  // namespace

int main(int argc, char** argv) {
#if PIFIO_BENCH_FIO
    {
        // fio's routines must compute the same guards, or the comparison is void.
        Buf b(4096 + 8);
        const uint8_t* p = b.data.data();
        if (fio_crc16(fio_crc16(0, p, 4096), p + 4096, 8) != pifio::crc16_t10dif(0, p, 4104) ||
            fio_crc64(fio_crc64(0, p, 4096), p + 4096, 8) != pifio::crc64_nvme(0, p, 4104)) {
            std::fprintf(stderr, "pi_bench: fio's CRCs (PIFIO_FIO_SRC) disagree with pifio's; not benchmarking\n");
            return 1;
        }
    }
#endif
    register_all();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::AddCustomContext("pifio_crc_impl", pifio::crc_impl_name(pifio::crc_active()));
    benchmark::AddCustomContext("pifio_crc_dispatch", pifio::crc_dispatch_note());
    benchmark::AddCustomContext("cpu_model", cpu_label());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
