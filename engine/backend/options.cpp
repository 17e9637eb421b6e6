#include "options.hpp"

#include "../fio/glue_api.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace pifio {

namespace {

std::string lower(std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = char(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Split on ',' (also ':' is kept inside items).
std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (start <= s.size()) {
        size_t end = s.find(sep, start);
        if (end == std::string_view::npos) end = s.size();
        out.push_back(trim(s.substr(start, end - start)));
        start = end + 1;
    }
    return out;
}

std::string hex(uint64_t v) {
    char b[24];
    snprintf(b, sizeof b, "0x%llx", (unsigned long long)v);
    return b;
}

}  // namespace

const char* inject_kind_name(InjectKind k) {
    switch (k) {
        case InjectKind::guard: return "guard";
        case InjectKind::app: return "apptag";
        case InjectKind::ref: return "reftag";
        case InjectKind::data: return "data";
    }
    return "?";
}

Result<uint8_t> parse_pi_chk(std::string_view s, std::string* note) {
    Result<uint8_t> r;
    if (note) note->clear();
    // fio refuses an empty option value, so "NONE" spells "no checks" in job files.
    if (trim(s).empty() || lower(trim(s)) == "none") return r;
    bool not_upper = false;
    for (auto item : split(s, ',')) {
        // fio matches GUARD/REFTAG/APPTAG anywhere in the string, so empty items
        // ("APPTAG,GUARD," — fio's own t/nvmept_pi.py drops REFTAG for type 3
        // that way) mean nothing.
        if (item.empty()) continue;
        const std::string w = lower(item);
        if (w == "guard") r.value |= CHK_GUARD;
        else if (w == "reftag") r.value |= CHK_REF;
        else if (w == "apptag") r.value |= CHK_APP;
        else {
            r.error = {EINVAL, "pi_chk: unknown check '" + std::string(item) +
                                   "'; use a comma list of GUARD, REFTAG, APPTAG (e.g. pi_chk=GUARD,REFTAG,APPTAG), or NONE"};
            return r;
        }
        for (char c : item)
            if (c >= 'a' && c <= 'z') not_upper = true;
    }
    if (not_upper && note)
        *note = "pi_chk=" + std::string(trim(s)) + ": read as " + pi_chk_to_string(r.value) +
                "; fio's built-in engines match GUARD, REFTAG and APPTAG in upper case only and would check "
                "nothing that is not spelt so";
    return r;
}

std::string pi_chk_to_string(uint8_t chk) {
    std::string s;
    auto add = [&](const char* w) { s += s.empty() ? w : std::string(",") + w; };
    if (chk & CHK_GUARD) add("GUARD");
    if (chk & CHK_REF) add("REFTAG");
    if (chk & CHK_APP) add("APPTAG");
    return s;
}

Result<std::vector<InjectSpec>> parse_pi_inject(std::string_view s) {
    Result<std::vector<InjectSpec>> r;
    const char* usage = "; use FIELD:FRACTION[,FIELD:FRACTION...] with FIELD guard, apptag, reftag or data and "
                        "0 < FRACTION <= 1 (e.g. pi_inject=guard:0.01)";
    if (trim(s).empty()) return r;
    bool seen[4] = {};
    for (auto item : split(s, ',')) {
        const size_t colon = item.find(':');
        if (colon == std::string_view::npos) {
            r.error = {EINVAL, "pi_inject: '" + std::string(item) + "' has no ':FRACTION'" + usage};
            return r;
        }
        const std::string field = lower(trim(item.substr(0, colon)));
        const std::string frac(trim(item.substr(colon + 1)));
        InjectSpec spec;
        if (field == "guard") spec.kind = InjectKind::guard;
        else if (field == "apptag" || field == "app") spec.kind = InjectKind::app;
        else if (field == "reftag" || field == "ref") spec.kind = InjectKind::ref;
        else if (field == "data") spec.kind = InjectKind::data;
        else {
            r.error = {EINVAL, "pi_inject: unknown field '" + field + "'" + usage};
            return r;
        }
        char* end = nullptr;
        errno = 0;
        const double f = frac.empty() ? NAN : std::strtod(frac.c_str(), &end);
        if (frac.empty() || errno || *end || !(f > 0) || f > 1) {
            r.error = {EINVAL, "pi_inject: fraction '" + frac + "' for " + field + " is not in (0, 1]" + usage};
            return r;
        }
        if (seen[int(spec.kind)]) {
            r.error = {EINVAL, "pi_inject: field " + field + " given twice" + usage};
            return r;
        }
        seen[int(spec.kind)] = true;
        spec.fraction = f;
        spec.threshold = f >= 1 ? UINT64_MAX : uint64_t(std::ldexp(f, 64));
        if (spec.threshold == 0) {
            r.error = {EINVAL, "pi_inject: fraction '" + frac + "' for " + field +
                                   " is below 2^-64 and would corrupt no block" + usage};
            return r;
        }
        r.value.push_back(spec);
    }
    return r;
}

Geometry make_geometry(const Format& fmt, bool pract, uint64_t nblocks) {
    Geometry g;
    g.fmt = fmt;
    g.pract = pract && fmt.pi_type != 0;
    g.xfer_ms = (g.pract && fmt.ms == fmt.tuple_size()) ? 0 : fmt.ms;
    g.stride = fmt.layout == Layout::ext ? fmt.data_size + g.xfer_ms : fmt.data_size;
    g.md_stride = fmt.layout == Layout::sep ? g.xfer_ms : 0;
    g.nblocks = nblocks;
    return g;
}

Error check_geometry(const std::string& dev, const Geometry& g, const EngineOptions& o, const JobShape& j,
                     uint32_t* md_per_io) {
    const Format& f = g.fmt;
    const std::string fs = format_to_short(f);
    auto err = [&](const std::string& m) { return Error{EINVAL, dev + " (" + fs + "): " + m}; };
    *md_per_io = 0;

    if (j.trims) return err("trim is not supported by pifio; use rw=read, write, randread, randwrite, rw or randrw");

    // Block size: a multiple of the block as it sits in the data buffer.
    const char* ddir_name[2] = {"read", "write"};
    const bool active[2] = {j.reads, j.writes};
    uint64_t max_bs = 0;
    for (int d = 0; d < 2; d++) {
        if (!active[d]) continue;
        for (uint64_t bs : {j.min_bs[d], j.max_bs[d]}) {
            if (bs && bs % g.stride == 0) continue;
            std::string m = "block size " + std::to_string(bs) + " (" + ddir_name[d] + ") is not a multiple of " +
                            std::to_string(g.stride);
            if (f.layout == Layout::ext && g.xfer_ms) {
                m += " (" + std::to_string(f.data_size) + " data + " + std::to_string(g.xfer_ms) +
                     " metadata bytes, extended LBA)";
                const uint64_t blocks = bs / f.data_size ? bs / f.data_size : 1;
                m += "; use bs=" + std::to_string(blocks * g.stride);
            } else {
                const uint64_t blocks = (bs + g.stride - 1) / g.stride;
                m += " (LBA data size); use bs=" + std::to_string(blocks ? blocks * g.stride : g.stride);
            }
            return err(m);
        }
        if (j.max_bs[d] > max_bs) max_bs = j.max_bs[d];
    }

    if (o.md_per_io_size && f.ms == 0)
        return err("md_per_io_size=" + std::to_string(o.md_per_io_size) +
                   " asks for a metadata buffer, but this format has no metadata; drop md_per_io_size");

    // Options that need PI on the namespace.
    if (o.apptag > 0xffff) return err("apptag=" + hex(o.apptag) + " does not fit 16 bits; use 0..0xffff");
    if (o.apptag_mask > 0xffff)
        return err("apptag_mask=" + hex(o.apptag_mask) + " does not fit 16 bits; use 0..0xffff");
    if (f.pi_type == 0) {
        if (o.pi_chk)
            return err("pi_chk=" + pi_chk_to_string(o.pi_chk) +
                       " needs a namespace with protection information; drop pi_chk (this format has none)");
        if (o.pi_host_chk_set && o.pi_host_chk)
            return err("pi_host_chk=" + pi_chk_to_string(o.pi_host_chk) +
                       " needs a namespace with protection information; drop pi_host_chk (this format has none)");
        if (!o.inject.empty()) return err("pi_inject needs a namespace with protection information; drop pi_inject");
        if (o.pi_reftag_set) return err("pi_reftag applies to PI type 2 only; drop it");
    } else {
        if (f.pi_type == 3 && (o.pi_chk & CHK_REF))
            return err("pi_chk=" + pi_chk_to_string(o.pi_chk) +
                       " asks the device to check reference tags, which type 3 does not have (the device answers "
                       "'invalid protection information'); use pi_chk=" +
                       (pi_chk_to_string(o.pi_chk & ~CHK_REF).empty() ? std::string("GUARD,APPTAG")
                                                                          : pi_chk_to_string(o.pi_chk & ~CHK_REF)));
        if (o.pi_reftag_set && f.pi_type != 2)
            return err("pi_reftag applies to PI type 2 only (type " + std::to_string(f.pi_type) +
                       (f.pi_type == 1 ? " reference tags are the LBA)" : " has no reference tag check)") +
                       "; drop pi_reftag");
        if (o.pi_reftag_set && (o.pi_reftag & ~ref_mask(f)))
            return err("pi_reftag=" + hex(o.pi_reftag) + " does not fit the " +
                       (f.guard == Guard::g16 ? "32" : "48") + "-bit reference tag");
        if (f.pi_type == 3 && o.pi_host_chk_set && (o.pi_host_chk & CHK_REF))
            return err("pi_host_chk=" + pi_chk_to_string(o.pi_host_chk) +
                       " asks to check reference tags, which type 3 does not have; use pi_host_chk=" +
                       (pi_chk_to_string(o.pi_host_chk & ~CHK_REF).empty() ? std::string("GUARD,APPTAG")
                                                                             : pi_chk_to_string(o.pi_host_chk & ~CHK_REF)));
        if (!o.inject.empty()) {
            if (o.pi_act)
                return err("pi_inject needs pi_act=0: with PRACT the device generates the PI, so there is nothing "
                           "to corrupt before submission");
            if (!j.writes) return err("pi_inject corrupts written blocks; the job has no writes (use rw=write or randrw)");
            for (const auto& s : o.inject)
                if (s.kind == InjectKind::ref && f.pi_type == 3)
                    return err("pi_inject=reftag on type 3: its reference tag is never checked; inject guard, "
                               "apptag or data");
        }
    }

    if (o.pi_md_offset > 4095)
        return err("pi_md_offset=" + std::to_string(o.pi_md_offset) + " is past the page; use 0..4095");
    if (o.pi_seed_set) {
        if (!g.seedable)
            return err("pi_seed applies to block devices on the io_uring PI path (pi_mode=uring-pi, pi_act=0), "
                       "where the kernel remaps reference tags from the seed; drop pi_seed" +
                       std::string(f.pi_type == 2 ? " (type 2 passthrough: use pi_reftag)" : ""));
        if (f.pi_type == 2) return err("pi_seed on type 2: the initial reference tag is pi_reftag; use pi_reftag");
        if (o.pi_seed & ~ref_mask(f))
            return err("pi_seed=" + hex(o.pi_seed) + " does not fit the " + (f.guard == Guard::g16 ? "32" : "48") +
                       "-bit reference tag");
    }

    // Extended LBA with host PI: fio's own verify would overwrite the tuples.
    if (f.layout == Layout::ext && g.host_pi() && j.fio_verify && !o.pi_act)
        return err("fio's verify= cannot be used on an extended-LBA format with host PI (the tuples live in the "
                   "data buffer); use verify=0 and let pi_verify check the tuples, or pi_act=1");

    // Separate metadata buffer size.
    if (g.md_stride && (j.reads || j.writes)) {
        const uint64_t need64 = max_bs / f.data_size * g.md_stride;
        if (need64 > UINT32_MAX) return err("metadata per I/O would exceed 4 GiB; use a smaller bs");
        const uint32_t need = uint32_t(need64);
        if (o.md_per_io_size && o.md_per_io_size < need)
            return err("md_per_io_size=" + std::to_string(o.md_per_io_size) + " is too small for bs=" +
                       std::to_string(max_bs) + " (" + std::to_string(max_bs / f.data_size) + " blocks x " +
                       std::to_string(g.md_stride) + " metadata bytes); use md_per_io_size=" + std::to_string(need));
        *md_per_io = o.md_per_io_size ? o.md_per_io_size : need;
    }
    return {};
}

Error parse_option_pi_chk(const char* v, EngineOptions& o) {
    std::string note;
    auto chk = parse_pi_chk(v, &note);
    if (!chk.ok()) return chk.error;
    o.pi_chk = chk.value;
    if (!note.empty()) o.notes.push_back("pifio: " + note);
    return {};
}

Error parse_option_pi_host_chk(const char* v, EngineOptions& o) {
    auto chk = parse_pi_chk(v);
    if (!chk.ok()) {
        chk.error.msg.replace(0, 6, "pi_host_chk");
        return chk.error;
    }
    o.pi_host_chk = chk.value;
    o.pi_host_chk_set = true;
    return {};
}

Error parse_option_pi_inject(const char* v, EngineOptions& o) {
    auto inj = parse_pi_inject(v);
    if (!inj.ok()) return inj.error;
    o.inject = inj.value;
    return {};
}

Result<EngineOptions> options_from_c(const pifio_opts& c) {
    Result<EngineOptions> r;
    EngineOptions& o = r.value;
#define PIFIO_CONV_UINT(n) o.n = c.n;
#define PIFIO_CONV_BOOL(n) o.n = c.n != 0;
#define PIFIO_CONV_FLAG(n) o.n = c.n != 0;
#define PIFIO_CONV_STR(n) \
    if (c.n) o.n = c.n;
#define PIFIO_CONV_PARSED(n)                                  \
    if (c.n)                                                  \
        if (Error e = parse_option_##n(c.n, o)) {             \
            r.error = e;                                      \
            return r;                                         \
        }
#define PIFIO_CONV_UINT_SET(n) \
    o.n = c.n;                 \
    o.n##_set = c.n##_set != 0;
#define PIFIO_CONV_ULL_SET(n) PIFIO_CONV_UINT_SET(n)
#define PIFIO_OPT(name, kind, def, lname, help) PIFIO_CONV_##kind(name)
#include "../fio/options.def"
#undef PIFIO_OPT
#undef PIFIO_CONV_UINT
#undef PIFIO_CONV_BOOL
#undef PIFIO_CONV_FLAG
#undef PIFIO_CONV_STR
#undef PIFIO_CONV_PARSED
#undef PIFIO_CONV_UINT_SET
#undef PIFIO_CONV_ULL_SET
    return r;
}

}  // namespace pifio
