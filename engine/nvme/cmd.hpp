// NVMe I/O command building for io_uring passthrough (NVME_URING_CMD_IO).
//
// Pure functions: they fill a struct nvme_uring_cmd and touch nothing else
// (no ring, no fd), so every bit can be checked by unit tests on a host
// without an NVMe device.
#pragma once

#include <cstdint>
#include <linux/nvme_ioctl.h>

#include "pifio/pi.hpp"

namespace pifio::nvme {

using UringCmd = struct nvme_uring_cmd;
static_assert(sizeof(UringCmd) == 72, "struct nvme_uring_cmd must be 72 bytes (it lives in a 128-byte SQE)");

enum Opcode : uint8_t { op_flush = 0x00, op_write = 0x01, op_read = 0x02 };

// CDW12 PRINFO bits (NVM Command Set, Read/Write).
constexpr uint32_t kPrinfoPract = 1u << 29;
constexpr uint32_t kPrchkGuard = 1u << 28;
constexpr uint32_t kPrchkApp = 1u << 27;
constexpr uint32_t kPrchkRef = 1u << 26;

// How one namespace is driven: its format and the PI options of the job.
struct IoGeom {
    uint32_t nsid = 0;
    Format fmt;                 // namespace format (as Identify reports it, or pi_format)
    bool pract = false;         // PRACT: the controller inserts/strips PI
    uint8_t prchk = 0;          // pifio::Check bits the device checks (CHK_GUARD|CHK_APP|CHK_REF)
    uint16_t apptag = 0;        // written app tag / expected app tag
    uint16_t apptag_mask = 0xffff;
    uint64_t reftag_base = 0;   // type 2: ref tag of LBA 0 (block L carries base + L)
};

// CDW12 PRINFO field for this namespace/job (0 on a namespace without PI).
uint32_t prinfo(const IoGeom& g);

// Reference tag of block `lba` as the device expects it (what CDW14/CDW3
// carry for a command starting there): type 1 -> LBA, type 2 -> base + LBA,
// type 3 -> 0 (not checked); masked to 32 bits (16b guard) or 48 bits (64b).
uint64_t initial_reftag(const IoGeom& g, uint64_t lba);

struct RwArgs {
    uint64_t slba = 0;
    uint32_t nlb = 0;           // number of blocks (>= 1)
    uint64_t data = 0;          // user address of the data buffer
    uint32_t data_len = 0;      // nlb * stride
    uint64_t md = 0;            // user address of the metadata buffer (separate layout)
    uint32_t md_len = 0;        // nlb * md_stride
};

// Fill a read or write. Every field not named here is zero.
void build_rw(UringCmd& c, Opcode op, const IoGeom& g, const RwArgs& a);
// Fill a flush.
void build_flush(UringCmd& c, uint32_t nsid);

// -------------------------------------------------------------- status --

// A completion's NVMe status as the kernel reports it in cqe->res for
// passthrough (> 0): (sct << 8 | sc), possibly with CRD/More/DNR bits above.
struct Status {
    uint8_t sct;
    uint8_t sc;
    bool dnr;
    uint16_t code() const { return uint16_t(sct) << 8 | sc; }
};
inline Status decode_status(uint32_t res) {
    return Status{uint8_t((res >> 8) & 0x7), uint8_t(res & 0xff), (res & 0x4000) != 0};
}
// One NVMe status pifio knows: its name, the errno fio gets for it, and the
// PI field whose end-to-end check it reports (0x282 guard, 0x283 app tag,
// 0x284 ref tag), -1 for none.
struct StatusInfo {
    uint16_t code;
    const char* name;   // "guard check error", "invalid protection information", ...
    int err;            // EILSEQ for PI check failures and invalid PI, EIO otherwise
    int8_t field;       // pifio::Field, or -1
};
// The table row of `code`, nullptr when it is not one we name.
const StatusInfo* status_info(uint16_t code);
// The row's name, nullptr when the code is not one we name.
const char* status_name(uint16_t code);
// True for the end-to-end check failures.
bool status_is_pi_check(uint16_t code);
// The row's errno; EIO for a status not in the table.
int status_errno(uint16_t code);

}  // namespace pifio::nvme
