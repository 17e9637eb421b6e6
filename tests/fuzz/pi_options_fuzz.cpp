// The engine's option parsers and the open-time check on arbitrary input:
// parse_pi_chk, parse_pi_inject, and check_geometry over fuzzed formats,
// apptag / apptag_mask / pi_reftag values, inject lists and job shapes.
// Never a crash; every refusal is EINVAL with a message; what is accepted
// obeys the rules the engine relies on afterwards.
#include <fuzzer/FuzzedDataProvider.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "backend/options.hpp"
#include "fuzz_check.hpp"

using namespace pifio;

namespace {

void chk(const std::string& s) {
    std::string note;
    const auto r = parse_pi_chk(s, &note);
    if (!r.ok()) {
        FUZZ_CHECK(r.error.err == EINVAL && !r.error.msg.empty(), "pi_chk '%s': err %d", s.c_str(), r.error.err);
        FUZZ_CHECK(r.error.msg.rfind("pi_chk: ", 0) == 0, "pi_chk message: %s", r.error.msg.c_str());
        return;
    }
    FUZZ_CHECK((r.value & ~CHK_ALL) == 0, "pi_chk '%s' -> 0x%x", s.c_str(), r.value);
    // The canonical spelling reads back to the same checks, without a note.
    const std::string canon = r.value ? pi_chk_to_string(r.value) : "NONE";
    std::string note2;
    const auto back = parse_pi_chk(canon, &note2);
    FUZZ_CHECK(back.ok() && back.value == r.value && note2.empty(), "'%s' -> '%s' does not read back", s.c_str(),
               canon.c_str());
    // Without a note pointer it gives the same answer.
    const auto plain = parse_pi_chk(s);
    FUZZ_CHECK(plain.ok() && plain.value == r.value, "note pointer changes the result of '%s'", s.c_str());
}

std::vector<InjectSpec> inject(const std::string& s) {
    const auto r = parse_pi_inject(s);
    if (!r.ok()) {
        FUZZ_CHECK(r.error.err == EINVAL && r.error.msg.rfind("pi_inject: ", 0) == 0, "pi_inject '%s': %d %s",
                   s.c_str(), r.error.err, r.error.msg.c_str());
        return {};
    }
    FUZZ_CHECK(r.value.size() <= 4, "pi_inject '%s': %zu specs", s.c_str(), r.value.size());
    bool seen[4] = {};
    for (const auto& sp : r.value) {
        FUZZ_CHECK(int(sp.kind) < 4 && !seen[int(sp.kind)], "pi_inject '%s': kind twice", s.c_str());
        seen[int(sp.kind)] = true;
        FUZZ_CHECK(sp.fraction > 0 && sp.fraction <= 1, "pi_inject '%s': fraction %g", s.c_str(), sp.fraction);
        FUZZ_CHECK(sp.threshold > 0, "pi_inject '%s': fraction %g hits nothing", s.c_str(), sp.fraction);
        FUZZ_CHECK(sp.fraction < 1 || sp.threshold == UINT64_MAX, "pi_inject '%s': 1 is not every block",
                   s.c_str());
    }
    return r.value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    const std::string chk_s = in.ConsumeRandomLengthString(64);
    const std::string inj_s = in.ConsumeRandomLengthString(96);
    chk(chk_s);
    const auto inj = inject(inj_s);

    // check_geometry over a fuzzed (valid) format and options.
    const std::string fmt_s = in.ConsumeRandomLengthString(32);
    auto f = parse_format(fmt_s);
    if (!f.ok()) return 0;
    EngineOptions o;
    auto c = parse_pi_chk(chk_s);
    o.pi_chk = c.ok() ? c.value : in.ConsumeIntegral<uint8_t>() & CHK_ALL;
    o.inject = inj;
    o.pi_act = in.ConsumeBool();
    o.pi_verify = in.ConsumeBool();
    o.pi_host_chk_set = in.ConsumeBool();
    o.pi_host_chk = in.ConsumeIntegral<uint8_t>() & CHK_ALL;
    o.apptag = in.ConsumeBool() ? in.ConsumeIntegral<uint32_t>() : in.ConsumeIntegralInRange<uint32_t>(0, 0x1ffff);
    o.apptag_mask = in.ConsumeBool() ? in.ConsumeIntegral<uint32_t>() : in.ConsumeIntegralInRange<uint32_t>(0, 0x1ffff);
    o.pi_reftag_set = in.ConsumeBool();
    o.pi_reftag = in.ConsumeIntegral<uint64_t>() >> in.ConsumeIntegralInRange(0, 63);
    o.md_per_io_size = in.ConsumeBool() ? 0 : in.ConsumeIntegral<uint32_t>();
    JobShape j;
    for (int d = 0; d < 2; ++d) {
        j.min_bs[d] = in.ConsumeIntegral<uint64_t>() >> in.ConsumeIntegralInRange(0, 63);
        j.max_bs[d] = in.ConsumeBool() ? j.min_bs[d] : in.ConsumeIntegral<uint64_t>() >> in.ConsumeIntegralInRange(0, 63);
    }
    j.reads = in.ConsumeBool();
    j.writes = in.ConsumeBool();
    j.trims = in.ConsumeBool();
    j.fio_verify = in.ConsumeBool();
    const Geometry g = make_geometry(f.value, o.pi_act, in.ConsumeIntegral<uint64_t>());
    uint32_t md = 12345;
    const Error e = check_geometry("/dev/fuzz", g, o, j, &md);
    if (e) {
        FUZZ_CHECK(e.err == EINVAL && e.msg.rfind("/dev/fuzz (", 0) == 0, "check_geometry: %d %s", e.err, e.msg.c_str());
        return 0;
    }
    // What the engine relies on after an accepted open.
    FUZZ_CHECK(!j.trims, "trims accepted");
    FUZZ_CHECK(o.apptag <= 0xffff && o.apptag_mask <= 0xffff, "apptag 0x%x mask 0x%x accepted", o.apptag,
               o.apptag_mask);
    for (int d = 0; d < 2; ++d)
        if (d ? j.writes : j.reads)
            FUZZ_CHECK(j.min_bs[d] && j.min_bs[d] % g.stride == 0 && j.max_bs[d] % g.stride == 0,
                       "bs %llu..%llu accepted, stride %u", (unsigned long long)j.min_bs[d],
                       (unsigned long long)j.max_bs[d], g.stride);
    if (f.value.pi_type == 0)
        FUZZ_CHECK(!o.pi_chk && o.inject.empty() && !o.pi_reftag_set, "PI options accepted on a format without PI");
    if (f.value.pi_type == 3) FUZZ_CHECK(!(o.pi_chk & CHK_REF), "PRCHK ref accepted on type 3");
    if (o.pi_reftag_set) FUZZ_CHECK(f.value.pi_type == 2 && !(o.pi_reftag & ~ref_mask(f.value)), "pi_reftag accepted");
    if (!o.inject.empty()) FUZZ_CHECK(!o.pi_act && j.writes, "pi_inject accepted with pi_act=1 or no writes");
    if (g.md_stride && (j.reads || j.writes)) {
        uint64_t max_bs = 0;
        for (int d = 0; d < 2; ++d)
            if ((d ? j.writes : j.reads) && j.max_bs[d] > max_bs) max_bs = j.max_bs[d];
        FUZZ_CHECK(uint64_t(md) >= max_bs / f.value.data_size * g.md_stride, "md_per_io %u too small", md);
    } else {
        FUZZ_CHECK(md == 0, "md_per_io %u without a metadata buffer", md);
    }
    return 0;
}
