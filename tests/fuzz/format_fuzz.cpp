// parse_format on arbitrary text: never crashes; an accepted spec is a valid
// format that both spellings parse back to; a refusal is EINVAL with a
// message that quotes the spec.
#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "pifio/pi.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string spec(reinterpret_cast<const char*>(data), size);
    const auto r = pifio::parse_format(spec);
    if (!r.ok()) {
        FUZZ_CHECK(r.error.err == EINVAL, "err %d", r.error.err);
        FUZZ_CHECK(r.error.msg.find("format '" + spec + "'") == 0, "message does not quote the spec: %s",
                   r.error.msg.c_str());
        return 0;
    }
    const pifio::Format& f = r.value;
    FUZZ_CHECK(f.data_size >= 512 && f.data_size <= 65536 && (f.data_size & (f.data_size - 1)) == 0, "data %u",
               f.data_size);
    FUZZ_CHECK(f.ms <= 65535, "ms %u", f.ms);
    FUZZ_CHECK(f.pi_type <= 3, "type %u", f.pi_type);
    FUZZ_CHECK(f.pi_type == 0 || f.ms >= f.tuple_size(), "ms %u < tuple %u", f.ms, f.tuple_size());
    FUZZ_CHECK(f.pi_offset() + f.tuple_size() <= f.ms || f.pi_type == 0, "tuple outside metadata");
    for (const std::string& s : {pifio::format_to_string(f), pifio::format_to_short(f)}) {
        const auto back = pifio::parse_format(s);
        FUZZ_CHECK(back.ok(), "'%s' (from '%s') does not parse: %s", s.c_str(), spec.c_str(),
                   back.error.msg.c_str());
        FUZZ_CHECK(back.value == f, "'%s' parses to another format than '%s'", s.c_str(), spec.c_str());
    }
    // A hand-built context from an accepted format is accepted too.
    const auto ctx = pifio::make_context(f, 0x1234, 0xffff, pifio::CHK_ALL);
    FUZZ_CHECK(ctx.ok(), "make_context refuses '%s': %s", spec.c_str(), ctx.error.msg.c_str());
    return 0;
}
