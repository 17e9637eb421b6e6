// Identify Namespace / NVM Command Set Identify Namespace decoding from
// random pages. Input: a 4096-byte Identify Namespace page, then (optional)
// a 4096-byte NVM Command Set page; short input is zero-filled. The elbaf
// dword is taken the way identify() takes it (elbaf[lbaf_index]).
// Properties: no crash and no read outside the pages; an accepted format is
// one parse_format accepts (both spellings read back equal), with the data
// size and ms the page names; refusals carry a message.
#include <libnvme.h>

#include <cstdint>
#include <cstring>
#include <memory>

#include "fuzz_check.hpp"
#include "nvme/identify.hpp"

using namespace pifio;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static_assert(sizeof(nvme_id_ns) == 4096 && sizeof(nvme_nvm_id_ns) == 4096);
    // Heap copies of exactly one page each, so ASan sees any read past them.
    auto ns = std::make_unique<nvme_id_ns>();
    auto nvm = std::make_unique<nvme_nvm_id_ns>();
    std::memset(ns.get(), 0, sizeof *ns);
    std::memset(nvm.get(), 0, sizeof *nvm);
    std::memcpy(ns.get(), data, std::min(size, sizeof *ns));
    const bool have_nvm = size > sizeof *ns;
    if (have_nvm) std::memcpy(nvm.get(), data + sizeof *ns, std::min(size - sizeof *ns, sizeof *nvm));

    const uint8_t idx = nvme::lbaf_index(*ns);
    FUZZ_CHECK(idx < 64, "lbaf index %u", idx);
    const uint32_t elbaf = le32toh(nvm->elbaf[idx]);
    const auto r = nvme::format_from_identify(*ns, have_nvm ? &elbaf : nullptr);
    if (!r.ok()) {
        FUZZ_CHECK(r.error.err != 0 && !r.error.msg.empty(), "refusal without a message");
        return 0;
    }
    const Format& f = r.value;
    FUZZ_CHECK(idx <= ns->nlbaf, "format %u beyond nlbaf %u accepted", idx, ns->nlbaf);
    FUZZ_CHECK(f.data_size == 1u << ns->lbaf[idx].ds, "data size %u for ds %u", f.data_size, ns->lbaf[idx].ds);
    FUZZ_CHECK(f.ms == le16toh(ns->lbaf[idx].ms), "ms %u", f.ms);
    for (const std::string& s : {format_to_string(f), format_to_short(f)}) {
        const auto back = parse_format(s);
        FUZZ_CHECK(back.ok(), "Identify gives '%s', which parse_format refuses: %s", s.c_str(),
                   back.error.msg.c_str());
        FUZZ_CHECK(back.value == f, "Identify gives '%s', which parses to another format", s.c_str());
    }
    const auto ctx = make_context(f, 0, 0xffff, CHK_ALL);
    FUZZ_CHECK(ctx.ok(), "make_context refuses an Identify format: %s", ctx.error.msg.c_str());
    return 0;
}
