// Engine options as the job gives them, their parsers, and the geometry
// check done at open. No fio headers: the option table is
// engine/fio/options.def, and options_from_c() converts the C API's struct.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pifio/pi.hpp"

struct pifio_opts;

namespace pifio {

// What pi_inject corrupts in a written block: one of the tuple's fields, or a
// data byte (which the guard then catches).
enum class InjectKind : uint8_t { guard, app, ref, data };
const char* inject_kind_name(InjectKind k);   // "guard", "apptag", "reftag", "data"

struct InjectSpec {
    InjectKind kind = InjectKind::guard;
    double fraction = 0;       // of written blocks, 0 < fraction <= 1
    uint64_t threshold = 0;    // fraction scaled to 2^64 (a block is hit when hash < threshold)
};

// The job's engine options. The members of every row of engine/fio/options.def
// are generated (same names, defaults from the table); PARSED rows declare
// theirs below and fill them in parse_option_<name>().
#define PIFIO_CXX_UINT(n, d) uint32_t n = d;
#define PIFIO_CXX_BOOL(n, d) bool n = d;
#define PIFIO_CXX_FLAG(n, d) bool n = false;
#define PIFIO_CXX_STR(n, d) std::string n;
#define PIFIO_CXX_PARSED(n, d)
#define PIFIO_CXX_UINT_SET(n, d) uint32_t n = d; bool n##_set = false;
#define PIFIO_CXX_ULL_SET(n, d) uint64_t n = d; bool n##_set = false;
struct EngineOptions {
#define PIFIO_OPT(name, kind, def, lname, help) PIFIO_CXX_##kind(name, def)
#include "../fio/options.def"
#undef PIFIO_OPT
    // PARSED rows.
    uint8_t pi_chk = 0;               // CHK_* bits the device checks (PRCHK)
    uint8_t pi_host_chk = 0;          // fields the host checks instead of pi_chk's
    bool pi_host_chk_set = false;
    std::vector<InjectSpec> inject;   // pi_inject
    // Not options.
    uint64_t inject_seed = 0x9e3779b97f4a7c15ull;
    std::vector<std::string> notes;   // one-line remarks for the job log (set-up only)
};
#undef PIFIO_CXX_UINT
#undef PIFIO_CXX_BOOL
#undef PIFIO_CXX_FLAG
#undef PIFIO_CXX_STR
#undef PIFIO_CXX_PARSED
#undef PIFIO_CXX_UINT_SET
#undef PIFIO_CXX_ULL_SET

// The parsers of the PARSED rows: fill o's members from the option's text.
Error parse_option_pi_chk(const char* v, EngineOptions& o);
Error parse_option_pi_host_chk(const char* v, EngineOptions& o);
Error parse_option_pi_inject(const char* v, EngineOptions& o);

// Options as fio parsed them (the C API's struct) -> EngineOptions, parsed.
Result<EngineOptions> options_from_c(const pifio_opts& c);

// Fields the host checks on reads. As fio: exactly what pi_chk names (the
// fields the device is asked to check), when pi_verify=1. pi_host_chk (ours)
// names another set, e.g. every field while the device checks none.
inline uint8_t host_checks(const EngineOptions& o) {
    if (!o.pi_verify) return 0;
    return o.pi_host_chk_set ? o.pi_host_chk : o.pi_chk;
}

// pi_chk as fio reads it: "GUARD,REFTAG,APPTAG" in any order and subset,
// empty items ignored ("APPTAG,GUARD,"), "NONE" or empty -> 0. Any case is
// accepted; when a word is not in upper case (fio's engines match upper case
// only) *note, if given, gets a one-line remark. Unknown words are refused.
Result<uint8_t> parse_pi_chk(std::string_view s, std::string* note = nullptr);
std::string pi_chk_to_string(uint8_t chk);
// "guard:0.01" or a comma list "guard:0.01,reftag:0.001"; kinds guard,
// apptag (app), reftag (ref), data.
Result<std::vector<InjectSpec>> parse_pi_inject(std::string_view s);

// What the job does, as far as geometry is concerned.
struct JobShape {
    uint64_t min_bs[2] = {4096, 4096};   // [read, write]
    uint64_t max_bs[2] = {4096, 4096};
    bool reads = true;
    bool writes = false;
    bool trims = false;
    bool fio_verify = false;             // verify= other than none
};

// The geometry a target presents to the engine (see Backend::geometry()).
struct Geometry {
    Format fmt;                // the target's format (Identify, or pi_format)
    bool pract = false;        // PRACT in effect (pi_act=1 on a PI format)
    uint32_t xfer_ms = 0;      // metadata bytes per block moved with each I/O
    uint32_t stride = 512;     // bytes per block in the data buffer
    uint32_t md_stride = 0;    // bytes per block in the separate metadata buffer
    uint64_t nblocks = 0;      // capacity in blocks
    bool seedable = false;     // the kernel remaps ref tags from any seed (block, io_uring PI attributes)
    uint64_t ref_offset = 0;   // pi_seed: added to the LBA for type 1/3 ref tags (seedable only)
    bool host_pi() const { return fmt.pi_type != 0 && xfer_ms != 0; }
    uint64_t size() const { return nblocks * stride; }
};
// Geometry of `fmt` driven with PRACT on/off (PRACT with ms == tuple size:
// the controller inserts/strips the PI, nothing is transferred).
Geometry make_geometry(const Format& fmt, bool pract, uint64_t nblocks);

// Check the job against the target at open. On success *md_per_io gets the
// metadata buffer bytes each I/O needs (0 when none). Each error names the
// device, the offending value and a value that would work.
Error check_geometry(const std::string& dev, const Geometry& g, const EngineOptions& o, const JobShape& j,
                     uint32_t* md_per_io);

}  // namespace pifio
