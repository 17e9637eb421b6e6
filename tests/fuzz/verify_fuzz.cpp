// verify() over random buffers, formats, spans, check masks and CRC kernels
// against a slow model (its own byte-table CRCs, one block at a time, fields
// read byte by byte). Buffers are exactly as long as the span needs and the
// record array exactly max_out long, so ASan catches any access outside
// them. Properties: the stats (bad blocks, per-field counts, escaped,
// recorded) and every record equal the model's; stop_at_first stops after
// the first bad block; the return value is bad_blocks == 0; what generate()
// wrote verifies clean unless corrupted afterwards.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_check.hpp"
#include "pifio/pi.hpp"

using namespace pifio;

namespace {

// The model's CRCs: byte-at-a-time tables built here from the definitions
// (CRC16-T10DIF: poly 0x8BB7, MSB first, init 0; CRC64-NVMe: reflected poly
// 0x9A6C9329AC4BC9B5, init and xorout all ones), checked once against the
// bit-serial references. Independent of every kernel verify() can run.
struct ModelCrc {
    uint16_t t16[256];
    uint64_t t64[256];
    ModelCrc() {
        for (unsigned i = 0; i < 256; ++i) {
            uint16_t c = uint16_t(i << 8);
            for (int k = 0; k < 8; ++k) c = uint16_t(c & 0x8000 ? (c << 1) ^ 0x8BB7 : c << 1);
            t16[i] = c;
            uint64_t r = i;
            for (int k = 0; k < 8; ++k) r = r & 1 ? (r >> 1) ^ 0x9A6C9329AC4BC9B5ull : r >> 1;
            t64[i] = r;
        }
        const char* s = "123456789";
        FUZZ_CHECK(crc16(0, s, 9) == 0xD0DB && crc16(0, s, 9) == crc16_t10dif_ref(0, s, 9), "model crc16");
        FUZZ_CHECK(crc64(0, s, 9) == 0xAE8B14860A799888ull && crc64(0, s, 9) == crc64_nvme_ref(0, s, 9), "model crc64");
        FUZZ_CHECK(crc64(crc64(0, s, 4), s + 4, 5) == crc64(0, s, 9), "model crc64 chaining");
    }
    uint16_t crc16(uint16_t c, const void* p, size_t n) const {
        const auto* b = static_cast<const uint8_t*>(p);
        for (size_t i = 0; i < n; ++i) c = uint16_t((c << 8) ^ t16[((c >> 8) ^ b[i]) & 0xff]);
        return c;
    }
    uint64_t crc64(uint64_t c, const void* p, size_t n) const {
        const auto* b = static_cast<const uint8_t*>(p);
        c = ~c;
        for (size_t i = 0; i < n; ++i) c = t64[(c ^ b[i]) & 0xff] ^ (c >> 8);
        return ~c;
    }
};
const ModelCrc g_crc;

uint64_t be(const uint8_t* p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = v << 8 | p[i];
    return v;
}

struct Model {
    VerifyStats st;
    std::vector<Mismatch> rec;
};

Model model(const PiContext& c, const uint8_t* data, const uint8_t* md, const Span& sp, uint32_t max_out,
            bool stop) {
    Model m;
    const Format& f = c.fmt;
    const bool g64 = f.guard == Guard::g64;
    const uint32_t stride = f.layout == Layout::ext ? f.data_size + f.ms : f.data_size;
    const uint32_t off = f.loc == PiLoc::first ? 0 : f.ms - (g64 ? 16 : 8);
    const uint64_t rmask = g64 ? 0xffffffffffffull : 0xffffffffull;
    for (uint32_t b = 0; b < sp.nblocks; ++b) {
        const uint8_t* d = data + uint64_t(b) * stride;
        const uint8_t* meta = f.layout == Layout::ext ? d + f.data_size : md + uint64_t(b) * f.ms;
        const uint8_t* t = meta + off;
        const uint64_t guard = be(t, g64 ? 8 : 2);
        const uint16_t app = uint16_t(be(t + (g64 ? 8 : 2), 2));
        const uint64_t ref = be(t + (g64 ? 10 : 4), g64 ? 6 : 4);
        if (app == 0xffff && (f.pi_type != 3 || ref == rmask)) {
            ++m.st.escaped;
            continue;
        }
        uint64_t want_g;
        if (g64) {
            want_g = g_crc.crc64(g_crc.crc64(0, d, f.data_size), meta, off);
        } else {
            want_g = g_crc.crc16(g_crc.crc16(0, d, f.data_size), meta, off);
        }
        const uint64_t want_r = (sp.ref + b) & rmask;
        const bool bad[3] = {(c.checks & CHK_GUARD) && guard != want_g,
                             (c.checks & CHK_APP) && ((app ^ c.app_tag) & c.app_mask) != 0,
                             (c.checks & CHK_REF) && f.pi_type != 3 && ref != want_r};
        const uint64_t got[3] = {guard, app, ref}, want[3] = {want_g, c.app_tag, want_r};
        if (!bad[0] && !bad[1] && !bad[2]) continue;
        for (int k = 0; k < 3; ++k) {
            if (!bad[k]) continue;
            ++m.st.count[k];
            if (m.rec.size() < max_out) m.rec.push_back(Mismatch{b, sp.lba + b, Field(k), got[k], want[k]});
        }
        ++m.st.bad_blocks;
        if (stop) break;
    }
    m.st.recorded = uint32_t(m.rec.size());
    return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* in_data, size_t size) {
    FuzzedDataProvider in(in_data, size);
    static const CrcImpl impls[] = {CrcImpl::table, CrcImpl::pclmul, CrcImpl::vpclmul_avx2, CrcImpl::vpclmul_avx512};
    const CrcImpl impl = impls[in.ConsumeIntegralInRange(0, 3)];
    if (!crc_force(crc_impl_supported(impl) ? impl : CrcImpl::table)) return 0;

    Format f;
    f.data_size = 512u << in.ConsumeIntegralInRange(0, 3);
    f.ms = in.ConsumeBool() ? in.PickValueInArray({0u, 8u, 16u, 32u, 64u}) : in.ConsumeIntegralInRange(0u, 128u);
    f.pi_type = in.ConsumeIntegralInRange(0, 3);
    f.guard = in.ConsumeBool() ? Guard::g64 : Guard::g16;
    f.loc = in.ConsumeBool() ? PiLoc::first : PiLoc::last;
    f.layout = in.ConsumeBool() ? Layout::ext : Layout::sep;
    const uint16_t app = in.ConsumeIntegral<uint16_t>(), mask = in.ConsumeIntegral<uint16_t>();
    const uint8_t checks = in.ConsumeIntegral<uint8_t>() & CHK_ALL;
    auto ctx = make_context(f, app, mask, checks);
    if (!ctx.ok() || f.pi_type == 0) return 0;
    const PiContext& c = ctx.value;

    Span sp;
    sp.nblocks = in.ConsumeIntegralInRange<uint32_t>(0, (16384 / f.data_size) + 3);
    sp.lba = in.ConsumeIntegral<uint64_t>();
    sp.ref = in.ConsumeBool() ? sp.lba : in.ConsumeIntegral<uint64_t>();
    const uint32_t max_out = in.ConsumeIntegralInRange<uint32_t>(0, 3 * sp.nblocks + 1);
    const bool stop = in.ConsumeBool();
    const bool gen = in.ConsumeBool();

    std::vector<uint8_t> data(size_t(sp.nblocks) * f.data_stride());
    std::vector<uint8_t> md(size_t(sp.nblocks) * f.md_stride());
    // Fill: fuzz bytes (cycled), then optionally generate() over them and
    // flip a few fuzzed bytes.
    const std::vector<uint8_t> fill = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 4096));
    if (!fill.empty()) {
        for (size_t i = 0; i < data.size(); ++i) data[i] = fill[i % fill.size()];
        for (size_t i = 0; i < md.size(); ++i) md[i] = fill[(i * 7 + 3) % fill.size()];
    }
    bool clean = false;
    if (gen) {
        const uint16_t gen_app = in.ConsumeBool() ? app : in.ConsumeIntegral<uint16_t>();
        auto gctx = make_context(f, gen_app, 0xffff, CHK_ALL);
        FUZZ_CHECK(gctx.ok(), "make_context");
        generate(gctx.value, data.data(), md.data(), sp);
        clean = gen_app == app;
        const int flips = in.ConsumeIntegralInRange(0, 4);
        for (int i = 0; i < flips && (data.size() || md.size()); ++i) {
            const bool in_md = !md.empty() && (data.empty() || in.ConsumeBool());
            std::vector<uint8_t>& v = in_md ? md : data;
            v[in.ConsumeIntegralInRange<size_t>(0, v.size() - 1)] ^= uint8_t(1u << in.ConsumeIntegralInRange(0, 7));
            clean = false;
        }
    }

    std::vector<Mismatch> out(max_out);
    VerifyStats st;
    const bool ok = verify(c, data.data(), md.empty() ? nullptr : md.data(), sp, max_out ? out.data() : nullptr,
                           max_out, &st, stop);
    const Model m = model(c, data.data(), md.data(), sp, max_out, stop);
    FUZZ_CHECK(ok == (st.bad_blocks == 0), "return %d with %u bad blocks", ok, st.bad_blocks);
    FUZZ_CHECK(st.bad_blocks == m.st.bad_blocks, "bad blocks %u, model %u", st.bad_blocks, m.st.bad_blocks);
    for (int k = 0; k < 3; ++k)
        FUZZ_CHECK(st.count[k] == m.st.count[k], "%s count %u, model %u", field_name(Field(k)), st.count[k],
                   m.st.count[k]);
    FUZZ_CHECK(st.escaped == m.st.escaped, "escaped %u, model %u", st.escaped, m.st.escaped);
    FUZZ_CHECK(st.recorded == m.st.recorded, "recorded %u, model %u", st.recorded, m.st.recorded);
    for (uint32_t i = 0; i < st.recorded; ++i) {
        const Mismatch &a = out[i], &b = m.rec[i];
        FUZZ_CHECK(a.block == b.block && a.lba == b.lba && a.field == b.field && a.got == b.got && a.want == b.want,
                   "record %u: block %u %s got 0x%llx want 0x%llx; model block %u %s got 0x%llx want 0x%llx", i,
                   a.block, field_name(a.field), (unsigned long long)a.got, (unsigned long long)a.want, b.block,
                   field_name(b.field), (unsigned long long)b.got, (unsigned long long)b.want);
    }
    if (clean) FUZZ_CHECK(ok, "generate() output fails verify: %u bad blocks", st.bad_blocks);
    return 0;
}
