// pi_audit: check the PI that the kernel (or anyone) left on the media under a
// block device or dm stack.
//
// After writes through /dev/dm-N (or /dev/nvmeXnY), the audit maps the bytes
// written down the dm tables to (bottom namespace, physical LBA), reads the
// raw data + metadata of exactly those blocks through NVMe passthrough on the
// matching /dev/ngXnY with no device checks, and verifies guard and ref tag
// (type 1/2: the *physical* LBA; type 3: not checked) with the PI core. A
// kernel that writes tags for the wrong LBA — the 2017 dm regression — shows
// up here as reftag mismatches naming both LBAs.
//
// Setup (open) returns errors with errno and a message that says what to do;
// check() allocates nothing (buffers are sized at open) and never throws.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dm_map.hpp"
#include "pifio/pi.hpp"

namespace pifio::audit {

// TableSource over the kernel: /sys/dev/block/M:m/dm tells a dm device; its
// live table comes from the DM_TABLE_STATUS ioctl on /dev/mapper/control.
class KernelTables final : public TableSource {
public:
    ~KernelTables() override;
    Result<const DmTable*> table(DevT dev) override;

private:
    int ctl_ = -1;
    std::map<uint64_t, std::unique_ptr<DmTable>> cache_;
    std::map<uint64_t, bool> is_dm_;
};

// Raw table text of one dm device via the ioctl (for messages, tools, tests).
Result<std::string> dm_table_text(DevT dev);

// How a bottom namespace's format is found: the engine passes Identify
// (engine/nvme); tools may pass a fixed format.
using FormatFn = std::function<Result<Format>(const std::string& ng_path, int fd)>;

struct AuditOptions {
    uint8_t checks = CHK_GUARD | CHK_REF;   // pifio::Check bits; ref is skipped on type 3
    uint16_t app_tag = 0;                   // expected when CHK_APP (kernel auto-PI writes 0)
    uint16_t app_mask = 0xffff;
    bool unwritten_is_error = true;         // escaped (all-0xFF) blocks were not written
    uint32_t max_records = 32;
};

struct AuditRecord {
    uint64_t top_lba = 0;      // LBA on the audited (top) device, in the bottom's block size
    uint32_t bottom = 0;       // index into Auditor::bottoms()
    uint64_t lba = 0;          // physical LBA on the bottom namespace
    bool unwritten = false;    // block reads back as never written (escape tuple)
    Field field = Field::guard;
    uint64_t got = 0;
    uint64_t want = 0;
};

struct AuditStats {
    uint64_t blocks = 0;       // blocks checked
    uint64_t bad_blocks = 0;   // blocks with a mismatch (or unwritten when that is an error)
    uint64_t unwritten = 0;
    uint64_t count[3] = {};    // per Field
    uint32_t recorded = 0;     // records filled into the caller's array
    void add(const AuditStats& o);
};

struct Bottom {
    DevT dev;                  // the namespace's block device (the parent when dm sits on a partition)
    std::string blk_name;      // "nvme0n1"
    std::string ng_path;       // "/dev/ng0n1"
    uint32_t nsid = 0;
    Format fmt;
    int fd = -1;
};

class Auditor {
public:
    // `top`: the block device written (dm or plain namespace). `ng_paths`: the
    // namespaces to read raw PI from; each must be under `top`, and every
    // bottom device of `top` must be among them.
    static Result<std::unique_ptr<Auditor>> open(const std::string& top, const std::vector<std::string>& ng_paths,
                                                 const FormatFn& format_of, const AuditOptions& opt);
    ~Auditor();

    // Check bytes [offset, offset+len) of the top device. Fills *st and up to
    // max records (may be null with max 0). Returns an error for I/O failures
    // and unmappable ranges; PI mismatches are not errors, they are stats.
    Error check(uint64_t offset, uint64_t len, AuditStats* st, AuditRecord* rec, uint32_t max);

    const std::vector<Bottom>& bottoms() const { return bottoms_; }
    const std::string& top() const { return top_; }
    std::string describe() const;
    // "pifio audit: /dev/dm-0 lba 10 -> nvme0n1 lba 2058: reftag got 0xa, want 0x80a"
    std::string format_record(const AuditRecord& r) const;

private:
    Auditor() = default;
    Error check_run(const Run& run, AuditStats* st, AuditRecord* rec, uint32_t max);

    std::string top_;
    DevT top_dev_;
    AuditOptions opt_;
    KernelTables tables_;
    std::vector<Bottom> bottoms_;
    std::map<uint64_t, std::pair<uint32_t, uint64_t>> by_dev_;   // devt -> (bottom index, partition start sector)
    uint32_t chunk_blocks_ = 0;
    void* buf_ = nullptr;      // chunk_blocks * (data_size + ms) bytes, page aligned
    size_t buf_len_ = 0;
    std::vector<Mismatch> mm_;
};

// Read `nlb` blocks at `slba` raw (no PRACT, no PRCHK) from an NVMe generic
// or block device fd with NVME_IOCTL_IO64_CMD. data gets nlb * (ds [+ ms
// when extended]) bytes; md gets nlb * ms (separate layout; may be null
// when ms == 0). Returns 0, -errno, or the NVMe status (> 0).
int read_raw(int fd, uint32_t nsid, const Format& fmt, uint64_t slba, uint32_t nlb, void* data, void* md);

}  // namespace pifio::audit
