// Pure dm table parsing and sector mapping (see dm_map.hpp).
#include "dm_map.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>

namespace pifio::audit {
namespace {

constexpr int kMaxDepth = 16;   // dm stacks deeper than this are a loop or a mistake

Error err(int e, std::string m) { return Error{e, std::move(m)}; }

bool to_u64(std::string_view s, uint64_t* v) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v, 10);
    return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string_view> split_ws(std::string_view line) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        size_t j = i;
        while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
        if (j > i) out.push_back(line.substr(i, j - i));
        i = j;
    }
    return out;
}

TargetKind kind_of(std::string_view t) {
    if (t == "linear") return TargetKind::linear;
    if (t == "striped") return TargetKind::striped;
    if (t == "crypt") return TargetKind::crypt;
    if (t == "flakey") return TargetKind::flakey;
    if (t == "delay") return TargetKind::delay;
    return TargetKind::other;
}

// Parse "<dev> <offset>" at args[i], args[i+1].
Error leg_at(const std::vector<std::string_view>& a, size_t i, const std::string& where, Leg* leg) {
    if (i + 1 >= a.size()) return err(EINVAL, where + ": missing <dev> <offset>");
    auto d = parse_devt(a[i]);
    if (!d.ok()) return err(EINVAL, where + ": " + d.error.msg);
    if (!to_u64(a[i + 1], &leg->offset))
        return err(EINVAL, where + ": offset '" + std::string(a[i + 1]) + "' is not a sector number");
    leg->dev = d.value;
    return {};
}

}  // namespace

Result<DevT> parse_devt(std::string_view s) {
    Result<DevT> r;
    auto colon = s.find(':');
    uint64_t ma = 0, mi = 0;
    if (colon == std::string_view::npos || !to_u64(s.substr(0, colon), &ma) || !to_u64(s.substr(colon + 1), &mi) ||
        ma > 0xfff || mi > 0xfffff) {
        r.error = err(EINVAL, "device '" + std::string(s) + "' is not major:minor");
        return r;
    }
    r.value = DevT{uint32_t(ma), uint32_t(mi)};
    return r;
}

Result<DmTable> parse_table(std::string_view text) {
    Result<DmTable> r;
    size_t lineno = 0;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++lineno;
        auto f = split_ws(line);
        if (f.empty()) continue;
        const std::string where = "table line " + std::to_string(lineno);
        DmTarget t;
        if (f.size() < 3 || !to_u64(f[0], &t.start) || !to_u64(f[1], &t.len) || t.len == 0) {
            r.error = err(EINVAL, where + ": want '<start> <length> <target> <args...>', got '" + std::string(line) + "'");
            return r;
        }
        if (t.len > UINT64_MAX - t.start) {
            r.error = err(EINVAL, where + ": target " + std::string(f[0]) + "+" + std::string(f[1]) +
                                      " ends beyond sector 2^64");
            return r;
        }
        t.type = std::string(f[2]);
        t.kind = kind_of(f[2]);
        std::vector<std::string_view> a(f.begin() + 3, f.end());
        const std::string tw = where + " (" + t.type + ")";
        Error e;
        switch (t.kind) {
        case TargetKind::linear:
        case TargetKind::flakey:
        case TargetKind::delay: {
            Leg leg;
            e = leg_at(a, 0, tw, &leg);
            t.legs.push_back(leg);
            break;
        }
        case TargetKind::crypt: {
            Leg leg;
            e = leg_at(a, 3, tw, &leg);   // cipher key iv_offset dev offset
            t.legs.push_back(leg);
            break;
        }
        case TargetKind::striped: {
            uint64_t n = 0;
            if (a.size() < 2 || !to_u64(a[0], &n) || n == 0 || !to_u64(a[1], &t.chunk) || t.chunk == 0) {
                e = err(EINVAL, tw + ": want '<#stripes> <chunk_sectors> <dev> <offset>...'");
                break;
            }
            if (a.size() < 2 + 2 * n) {
                e = err(EINVAL, tw + ": " + std::to_string(n) + " stripes need " + std::to_string(2 * n) +
                                    " device/offset arguments, got " + std::to_string(a.size() - 2));
                break;
            }
            if (t.len % n != 0 || (t.len / n) % t.chunk != 0) {
                e = err(EINVAL, tw + ": length " + std::to_string(t.len) + " is not a whole number of " +
                                    std::to_string(n) + " x " + std::to_string(t.chunk) + "-sector chunks");
                break;
            }
            for (uint64_t i = 0; i < n && !e; ++i) {
                Leg leg;
                e = leg_at(a, 2 + 2 * i, tw, &leg);
                t.legs.push_back(leg);
            }
            break;
        }
        case TargetKind::other:
            break;
        }
        if (e) {
            r.error = e;
            return r;
        }
        const uint64_t expect = r.value.sectors();
        if (t.start != expect) {
            r.error = err(EINVAL, where + ": target starts at sector " + std::to_string(t.start) + ", want " +
                                      std::to_string(expect) + " (targets must be contiguous from 0)");
            return r;
        }
        r.value.targets.push_back(std::move(t));
    }
    return r;
}

namespace {

// One level down: the (leg device, sector, length) pieces of [s, s+n) within
// target t, n > 0, [s, s+n) inside t.
template <class F>
void pieces(const DmTarget& t, uint64_t s, uint64_t n, F&& emit) {
    const uint64_t off = s - t.start;
    if (t.kind != TargetKind::striped) {
        emit(t.legs[0].dev, t.legs[0].offset + off, n, s);
        return;
    }
    const uint64_t cs = t.chunk, ns = t.legs.size();
    uint64_t o = off, left = n;
    while (left) {
        const uint64_t chunk = o / cs, in = o % cs;
        const uint64_t stripe = chunk % ns, row = chunk / ns;
        const uint64_t take = std::min(left, cs - in);
        emit(t.legs[stripe].dev, t.legs[stripe].offset + row * cs + in, take, t.start + o);
        o += take;
        left -= take;
    }
}

Error map_rec(TableSource& src, DevT dev, uint64_t sector, uint64_t nsect, uint64_t top_sector, int depth,
              std::vector<Run>& out) {
    if (depth > kMaxDepth)
        return err(ELOOP, "dm stack deeper than " + std::to_string(kMaxDepth) + " levels at " + dev.str());
    auto tr = src.table(dev);
    if (!tr.ok()) return tr.error;
    if (!tr.value) {   // bottom device
        if (!out.empty()) {
            Run& b = out.back();
            if (b.dev == dev && b.sector + b.nsect == sector && b.top_sector + b.nsect == top_sector) {
                b.nsect += nsect;
                return {};
            }
        }
        out.push_back(Run{top_sector, dev, sector, nsect});
        return {};
    }
    const DmTable& tab = *tr.value;
    if (nsect > tab.sectors() || sector > tab.sectors() - nsect)
        return err(ERANGE, "sectors " + std::to_string(sector) + "+" + std::to_string(nsect) + " lie beyond the end of dm device " +
                               dev.str() + " (" + std::to_string(tab.sectors()) + " sectors)");
    // First target containing `sector` (targets are sorted and contiguous).
    auto it = std::upper_bound(tab.targets.begin(), tab.targets.end(), sector,
                               [](uint64_t s, const DmTarget& t) { return s < t.start; });
    --it;
    uint64_t s = sector, left = nsect;
    for (; left && it != tab.targets.end(); ++it) {
        const DmTarget& t = *it;
        const uint64_t take = std::min(left, t.start + t.len - s);
        if (t.kind == TargetKind::other)
            return err(EOPNOTSUPP, "dm device " + dev.str() + " sector " + std::to_string(s) + " is mapped by a '" + t.type +
                                       "' target, which the audit cannot follow (only linear, striped, crypt, flakey, "
                                       "delay); audit the device below it instead");
        Error e;
        pieces(t, s, take, [&](DevT d, uint64_t ps, uint64_t pn, uint64_t at) {
            if (!e) e = map_rec(src, d, ps, pn, top_sector + (at - sector), depth + 1, out);
        });
        if (e) return e;
        s += take;
        left -= take;
    }
    return {};
}

// `done`: dm devices already expanded, so a device that is a leg many times
// (segments of one disk, levels of stripes over the same devices) is walked
// once, not once per path to it.
Error bottoms_rec(TableSource& src, DevT dev, int depth, std::vector<DevT>& out, std::vector<DevT>& done) {
    if (depth > kMaxDepth) return err(ELOOP, "dm stack deeper than " + std::to_string(kMaxDepth) + " levels at " + dev.str());
    if (std::find(done.begin(), done.end(), dev) != done.end()) return {};
    auto tr = src.table(dev);
    if (!tr.ok()) return tr.error;
    if (!tr.value) {
        if (std::find(out.begin(), out.end(), dev) == out.end()) out.push_back(dev);
        return {};
    }
    for (const auto& t : tr.value->targets)
        for (const auto& l : t.legs)
            if (Error e = bottoms_rec(src, l.dev, depth + 1, out, done)) return e;
    done.push_back(dev);
    return {};
}

}  // namespace

Result<std::vector<Run>> map_range(TableSource& src, DevT top, uint64_t sector, uint64_t nsect) {
    Result<std::vector<Run>> r;
    if (nsect == 0) return r;
    r.error = map_rec(src, top, sector, nsect, sector, 0, r.value);
    return r;
}

Result<std::vector<DevT>> bottoms(TableSource& src, DevT top) {
    Result<std::vector<DevT>> r;
    std::vector<DevT> done;
    r.error = bottoms_rec(src, top, 0, r.value, done);
    return r;
}

}  // namespace pifio::audit
