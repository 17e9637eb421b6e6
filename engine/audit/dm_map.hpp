// Device-mapper tables and the mapping of a dm-level sector range down to the
// bottom devices — pure logic, no devices (the table source is an interface,
// so tests feed it strings).
//
// Table text is what the kernel reports for a device (`dmsetup table`, or the
// DM_TABLE_STATUS ioctl with DM_STATUS_TABLE_FLAG): one target per line,
// "<start> <length> <type> <args...>", sectors of 512 bytes, devices as
// "major:minor".
//
// Targets the mapper can follow (every one maps a sector to exactly one
// sector below; which of them pass integrity up does not matter here —
// auto-integrity is generated at the bottom either way):
//   linear  <dev> <offset>
//   striped <#stripes> <chunk_sectors> <dev> <offset> [<dev> <offset>]...
//   crypt   <cipher> <key> <iv_offset> <dev> <offset> [<#opt> <opt>...]
//   flakey  <dev> <offset> <up> <down> [<#feat> <feat>...]
//   delay   <dev> <offset> <delay> [...]
// Targets it cannot follow (dm-integrity interleaves tags and a journal with
// the data; zero/error have no device) are reported by name.
// md arrays come in as the table of their dm twin (audit.cpp, from sysfs):
// raid0 over equal members = striped, raid1 = linear onto mirror rd0.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pifio/pi.hpp"

namespace pifio::audit {

struct DevT {
    uint32_t major = 0;
    uint32_t minor = 0;
    bool operator==(const DevT&) const = default;
    std::string str() const { return std::to_string(major) + ":" + std::to_string(minor); }
};
// "259:3" -> DevT. Fails on anything else (paths are resolved by the caller).
Result<DevT> parse_devt(std::string_view s);

enum class TargetKind : uint8_t { linear, striped, crypt, flakey, delay, other };

struct Leg {               // one device a target maps onto
    DevT dev;
    uint64_t offset = 0;   // sector on dev where the target's data starts
};

struct DmTarget {
    uint64_t start = 0;    // first dm-level sector
    uint64_t len = 0;      // sectors
    std::string type;      // as the kernel names it
    TargetKind kind = TargetKind::other;
    std::vector<Leg> legs; // 1 for linear/crypt/flakey/delay; n for striped; 0 for other
    uint64_t chunk = 0;    // striped: chunk size in sectors
};

struct DmTable {
    std::vector<DmTarget> targets;   // sorted by start, contiguous from 0
    uint64_t sectors() const { return targets.empty() ? 0 : targets.back().start + targets.back().len; }
};

// Parse one device's table. Checks that targets are contiguous from sector 0
// and that the targets we follow have well-formed arguments.
Result<DmTable> parse_table(std::string_view text);

// Where tables come from: nullptr for a device that is not a dm device (a
// bottom device). Implemented over the DM ioctl (audit.cpp) and by tests.
class TableSource {
public:
    virtual ~TableSource() = default;
    virtual Result<const DmTable*> table(DevT dev) = 0;
};

// One contiguous piece of a mapped range.
struct Run {
    uint64_t top_sector = 0;   // dm-level sector of the top device
    DevT dev;                  // bottom device
    uint64_t sector = 0;       // sector on the bottom device
    uint64_t nsect = 0;
    bool operator==(const Run&) const = default;
};

// Map [sector, sector + nsect) of device `top` down through every dm level to
// the bottom devices, in top order; adjacent pieces that stay contiguous on
// the same bottom device are merged. A top that is not a dm device maps to
// itself. Errors name the target type and the dm-level sector.
Result<std::vector<Run>> map_range(TableSource& src, DevT top, uint64_t sector, uint64_t nsect);

// The bottom devices a whole device rests on (every leg of every level).
Result<std::vector<DevT>> bottoms(TableSource& src, DevT top);

}  // namespace pifio::audit
