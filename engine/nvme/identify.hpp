// Namespace discovery through libnvme: Identify Namespace (flbas, lbaf, dps)
// and, when the controller has extended LBA formats, the NVM command set
// Identify Namespace (elbaf -> 16b/64b guard).
#pragma once

#include <cstdint>
#include <string>

#include "pifio/pi.hpp"

struct nvme_id_ns;

namespace pifio::nvme {

struct NsInfo {
    uint32_t nsid = 0;
    uint64_t nsze = 0;       // namespace size in logical blocks
    uint8_t lbaf_index = 0;  // format in use
    Format fmt;
};

// Pure: the format a namespace is in, from its Identify Namespace data and
// the elbaf dword of the format in use (nullptr when the controller has no
// extended LBA formats: 16b guard). Rejects storage tags and the 32b guard.
Result<Format> format_from_identify(const struct nvme_id_ns& ns, const uint32_t* elbaf);
// Index of the LBA format in use (flbas bits 3:0, plus bits 6:5 when nlbaf > 16).
uint8_t lbaf_index(const struct nvme_id_ns& ns);

// Identify the namespace behind an open NVMe char/block device fd. `name` is
// used in messages only.
Result<NsInfo> identify(int fd, const std::string& name);

// The Identify fields that define a namespace's format and size, fetched
// without allocating (the engine re-checks them while a job runs: a namespace
// reformatted under the job must not be written with the old geometry).
struct FormatKey {
    uint8_t flbas = 0, dps = 0, lbaf_index = 0, ds = 0;
    uint16_t ms = 0;
    uint64_t nsze = 0;
    uint32_t elbaf = 0;       // NVM command set Identify, when have_elbaf
    bool have_elbaf = false;
    bool operator==(const FormatKey&) const = default;
};
// Fills *out; `elbaf`: also read the NVM command set Identify (when the
// controller had one at open). Returns 0, an errno, or -status (sct<<8|sc) for
// an NVMe status.
int format_key(int fd, uint32_t nsid, bool elbaf, FormatKey* out) noexcept;

}  // namespace pifio::nvme
