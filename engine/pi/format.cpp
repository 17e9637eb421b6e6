// Format spec parsing: "<data>+<ms>[/t0|t1|t2|t3][/g16|g64][/first|last][/sep|ext]".
#include <cerrno>
#include <charconv>

#include "pifio/pi.hpp"

namespace pifio {
namespace {

Result<Format> fail(std::string_view spec, const std::string& what) {
    Result<Format> r;
    r.error.err = EINVAL;
    r.error.msg = "format '" + std::string(spec) + "': " + what +
                  " (spec is <data>+<ms>[/t0|t1|t2|t3][/g16|g64][/first|last][/sep|ext], e.g. 4096+8/t1)";
    return r;
}

bool parse_u32(std::string_view s, uint32_t& out) {
    if (s.empty() || s.size() > 9) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

Result<Format> parse_format(std::string_view spec) {
    Format f;
    const size_t plus = spec.find('+');
    if (plus == std::string_view::npos)
        return fail(spec, "missing '+<ms>' after the data size (write 4096+0 for no metadata)");
    const size_t slash = spec.find('/', plus);
    const std::string_view data_s = spec.substr(0, plus);
    const std::string_view ms_s =
        spec.substr(plus + 1, slash == std::string_view::npos ? std::string_view::npos : slash - plus - 1);

    if (!parse_u32(data_s, f.data_size))
        return fail(spec, "data size '" + std::string(data_s) + "' is not a number");
    if (f.data_size < 512 || f.data_size > 65536 || (f.data_size & (f.data_size - 1)))
        return fail(spec, "data size " + std::to_string(f.data_size) +
                              " must be a power of two from 512 to 65536");
    if (!parse_u32(ms_s, f.ms)) return fail(spec, "metadata size (ms) '" + std::string(ms_s) + "' is not a number");
    if (f.ms > 65535) return fail(spec, "metadata size (ms) " + std::to_string(f.ms) + " exceeds 65535");

    bool have_type = false, have_guard = false, have_loc = false, have_layout = false;
    std::string_view rest = slash == std::string_view::npos ? std::string_view{} : spec.substr(slash + 1);
    while (slash != std::string_view::npos) {
        const size_t next = rest.find('/');
        const std::string_view tok = rest.substr(0, next);
        auto dup = [](bool& seen) {
            const bool was = seen;
            seen = true;
            return was;
        };
        if (tok == "t0" || tok == "t1" || tok == "t2" || tok == "t3") {
            if (dup(have_type)) return fail(spec, "PI type given twice ('" + std::string(tok) + "')");
            f.pi_type = static_cast<uint8_t>(tok[1] - '0');
        } else if (tok == "g16" || tok == "g64") {
            if (dup(have_guard)) return fail(spec, "guard format given twice ('" + std::string(tok) + "')");
            f.guard = tok == "g16" ? Guard::g16 : Guard::g64;
        } else if (tok == "first" || tok == "last") {
            if (dup(have_loc)) return fail(spec, "PI location given twice ('" + std::string(tok) + "')");
            f.loc = tok == "first" ? PiLoc::first : PiLoc::last;
        } else if (tok == "sep" || tok == "ext") {
            if (dup(have_layout)) return fail(spec, "layout given twice ('" + std::string(tok) + "')");
            f.layout = tok == "sep" ? Layout::sep : Layout::ext;
        } else if (tok.empty()) {
            return fail(spec, "empty field between '/'");
        } else {
            return fail(spec, "unknown field '" + std::string(tok) +
                                  "' (want t0..t3 for PI type, g16|g64 guard, first|last location, sep|ext layout)");
        }
        if (next == std::string_view::npos) break;
        rest = rest.substr(next + 1);
    }

    if (!have_type) f.pi_type = f.ms >= 8 ? 1 : 0;
    const uint32_t need = f.guard == Guard::g64 ? 16 : 8;
    if (f.guard == Guard::g64 && f.ms < 16)
        return fail(spec, "guard g64 needs a 16-byte tuple but ms is " + std::to_string(f.ms) +
                              "; use ms >= 16 or g16");
    if (f.pi_type != 0 && f.ms == 0)
        return fail(spec, "PI type t" + std::to_string(f.pi_type) + " needs metadata; ms is 0 (use t0 or ms >= 8)");
    if (f.pi_type != 0 && f.ms < need)
        return fail(spec, "ms " + std::to_string(f.ms) + " is smaller than the " + std::to_string(need) +
                              "-byte PI tuple; use ms >= " + std::to_string(need) + " or t0");
    Result<Format> r;
    r.value = f;
    return r;
}

std::string format_to_string(const Format& f) {
    std::string s = std::to_string(f.data_size) + "+" + std::to_string(f.ms);
    s += "/t" + std::to_string(f.pi_type);
    s += f.guard == Guard::g64 ? "/g64" : "/g16";
    s += f.loc == PiLoc::first ? "/first" : "/last";
    s += f.layout == Layout::ext ? "/ext" : "/sep";
    return s;
}

std::string format_to_short(const Format& f) {
    std::string s = std::to_string(f.data_size) + "+" + std::to_string(f.ms);
    const uint8_t def_type = f.ms >= 8 ? 1 : 0;
    // The PI type is spelled whenever there is metadata (it is the field
    // readers look for first); other defaults are omitted.
    if (f.ms != 0 || f.pi_type != def_type) s += "/t" + std::to_string(f.pi_type);
    if (f.guard == Guard::g64) s += "/g64";
    if (f.loc == PiLoc::first) s += "/first";
    if (f.layout == Layout::ext) s += "/ext";
    return s;
}

}  // namespace pifio
