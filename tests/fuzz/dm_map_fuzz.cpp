// dm table parsing and sector mapping on arbitrary text, against a slow
// sector-by-sector model.
//
// Input: a first line "<sector> <nsect>" (the range to map on the top
// device), then tables, each introduced by a line "@<major>:<minor>"; the
// first table's device is the top. Devices without a table are bottom
// devices. Properties: no crash; a parsed table is contiguous from 0 with
// the targets' legs present; map_range's runs cover the range in order and
// send every sector exactly where the model does; map_range refuses exactly
// when the model does (beyond the end, a target it cannot follow, too deep).
#include <charconv>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dm_map.hpp"
#include "fuzz_check.hpp"

using namespace pifio;
using namespace pifio::audit;

namespace {

struct Src : TableSource {
    std::map<std::pair<uint32_t, uint32_t>, DmTable> tabs;
    Result<const DmTable*> table(DevT d) override {
        Result<const DmTable*> r;
        auto it = tabs.find({d.major, d.minor});
        r.value = it == tabs.end() ? nullptr : &it->second;
        return r;
    }
};

bool num(std::string_view s, uint64_t* v) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
    return ec == std::errc() && p == s.data() + s.size();
}

// The model: where one dm-level sector of `dev` lands, following one target
// at a time by linear search. false: refused (beyond the end, an 'other'
// target, deeper than the mapper's limit).
bool model(Src& src, DevT dev, uint64_t s, int depth, DevT* out_dev, uint64_t* out_s) {
    for (;;) {
        if (depth > 16) return false;
        auto it = src.tabs.find({dev.major, dev.minor});
        if (it == src.tabs.end()) {
            *out_dev = dev;
            *out_s = s;
            return true;
        }
        const DmTarget* t = nullptr;
        for (const auto& x : it->second.targets)
            if (s >= x.start && s - x.start < x.len) t = &x;
        if (!t || t->kind == TargetKind::other) return false;
        const uint64_t off = s - t->start;
        if (t->kind == TargetKind::striped) {
            const uint64_t n = t->legs.size(), chunk = off / t->chunk;
            const Leg& l = t->legs[chunk % n];
            s = l.offset + (chunk / n) * t->chunk + off % t->chunk;
            dev = l.dev;
        } else {
            s = t->legs[0].offset + off;
            dev = t->legs[0].dev;
        }
        ++depth;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    const size_t nl = text.find('\n');
    std::string_view q = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    const size_t sp = q.find(' ');
    uint64_t sector = 0, nsect = 0;
    if (sp == std::string_view::npos || !num(q.substr(0, sp), &sector) || !num(q.substr(sp + 1), &nsect)) return 0;
    // map_range's work grows with the pieces of the range (a 1-sector stripe
    // chunk splits it per sector): keep ranges to what an I/O maps.
    if (nsect > (1u << 16)) return 0;

    Src src;
    DevT top{};
    bool have_top = false;
    // Split into "@maj:min" sections.
    while (!text.empty()) {
        if (text[0] != '@') {
            const size_t n = text.find("\n@");
            text = n == std::string_view::npos ? std::string_view{} : text.substr(n + 1);
            continue;
        }
        const size_t eol = text.find('\n');
        const std::string_view head = text.substr(1, eol == std::string_view::npos ? std::string_view::npos : eol - 1);
        std::string_view rest = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        const size_t next = rest.find("\n@");
        const std::string_view body = rest.substr(0, next == std::string_view::npos ? rest.size() : next + 1);
        text = next == std::string_view::npos ? std::string_view{} : rest.substr(next + 1);
        auto d = parse_devt(head);
        if (!d.ok()) {
            FUZZ_CHECK(!d.error.msg.empty(), "parse_devt error without a message");
            continue;
        }
        FUZZ_CHECK(d.value.major <= 0xfff && d.value.minor <= 0xfffff, "devt %s", d.value.str().c_str());
        FUZZ_CHECK(parse_devt(d.value.str()).value == d.value, "devt %s does not read back", d.value.str().c_str());
        auto t = parse_table(body);
        if (!t.ok()) {
            FUZZ_CHECK(t.error.err != 0 && !t.error.msg.empty(), "parse_table error without a message");
            continue;
        }
        uint64_t at = 0;
        for (const auto& x : t.value.targets) {
            FUZZ_CHECK(x.start == at && x.len > 0, "targets not contiguous");
            FUZZ_CHECK(x.start + x.len > x.start, "target %llu+%llu wraps past 2^64 sectors",
                       (unsigned long long)x.start, (unsigned long long)x.len);
            at += x.len;
            if (x.kind == TargetKind::striped) {
                FUZZ_CHECK(!x.legs.empty() && x.chunk > 0 && x.len % x.legs.size() == 0 &&
                               (x.len / x.legs.size()) % x.chunk == 0,
                           "striped target badly formed");
            } else if (x.kind != TargetKind::other) {
                FUZZ_CHECK(x.legs.size() == 1, "target with %zu legs", x.legs.size());
            }
        }
        FUZZ_CHECK(t.value.sectors() == at, "sectors() %llu, sum %llu", (unsigned long long)t.value.sectors(),
                   (unsigned long long)at);
        if (!have_top) top = d.value, have_top = true;
        src.tabs[{d.value.major, d.value.minor}] = std::move(t.value);
    }
    if (!have_top) return 0;

    (void)bottoms(src, top);
    auto r = map_range(src, top, sector, nsect);
    // The model, sector by sector, on ranges small enough to walk.
    if (nsect > 4096) {
        if (r.ok()) {
            uint64_t covered = 0;
            for (const auto& run : r.value) covered += run.nsect;
            FUZZ_CHECK(covered == nsect, "runs cover %llu of %llu sectors", (unsigned long long)covered,
                       (unsigned long long)nsect);
        }
        return 0;
    }
    bool model_ok = sector + nsect >= sector;
    std::vector<std::pair<DevT, uint64_t>> want;
    for (uint64_t i = 0; model_ok && i < nsect; ++i) {
        DevT d;
        uint64_t s;
        model_ok = model(src, top, sector + i, 0, &d, &s);
        want.push_back({d, s});
    }
    if (!r.ok()) {
        FUZZ_CHECK(!model_ok, "map_range refuses %llu+%llu (%s), the model maps it", (unsigned long long)sector,
                   (unsigned long long)nsect, r.error.msg.c_str());
        FUZZ_CHECK(!r.error.msg.empty(), "error without a message");
        return 0;
    }
    FUZZ_CHECK(model_ok, "map_range maps %llu+%llu, the model refuses it", (unsigned long long)sector,
               (unsigned long long)nsect);
    uint64_t i = 0;
    for (const auto& run : r.value) {
        FUZZ_CHECK(run.nsect > 0 && run.top_sector == sector + i, "run at top %llu, want %llu",
                   (unsigned long long)run.top_sector, (unsigned long long)(sector + i));
        for (uint64_t k = 0; k < run.nsect; ++k, ++i) {
            FUZZ_CHECK(i < nsect, "runs cover more than %llu sectors", (unsigned long long)nsect);
            FUZZ_CHECK(want[i].first == run.dev && want[i].second == run.sector + k,
                       "sector %llu: mapped to %s:%llu, model says %s:%llu", (unsigned long long)(sector + i),
                       run.dev.str().c_str(), (unsigned long long)(run.sector + k), want[i].first.str().c_str(),
                       (unsigned long long)want[i].second);
        }
    }
    FUZZ_CHECK(i == nsect, "runs cover %llu of %llu sectors", (unsigned long long)i, (unsigned long long)nsect);
    return 0;
}
