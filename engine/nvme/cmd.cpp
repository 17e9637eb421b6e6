#include "cmd.hpp"

#include <cerrno>
#include <cstring>

namespace pifio::nvme {

uint32_t prinfo(const IoGeom& g) {
    if (g.fmt.pi_type == 0) return 0;
    uint32_t v = g.pract ? kPrinfoPract : 0;
    if (g.prchk & CHK_GUARD) v |= kPrchkGuard;
    if (g.prchk & CHK_APP) v |= kPrchkApp;
    if (g.prchk & CHK_REF) v |= kPrchkRef;
    return v;
}

uint64_t initial_reftag(const IoGeom& g, uint64_t lba) {
    if (g.fmt.pi_type != 1 && g.fmt.pi_type != 2) return 0;
    return ref_seed(g.fmt, lba, g.reftag_base);
}

void build_rw(UringCmd& c, Opcode op, const IoGeom& g, const RwArgs& a) {
    std::memset(&c, 0, sizeof c);
    c.opcode = op;
    c.nsid = g.nsid;
    c.addr = a.data;
    c.data_len = a.data_len;
    if (a.md_len) {
        c.metadata = a.md;
        c.metadata_len = a.md_len;
    }
    c.cdw10 = uint32_t(a.slba);
    c.cdw11 = uint32_t(a.slba >> 32);
    c.cdw12 = (a.nlb - 1) | prinfo(g);   // NLB is 0's based
    if (g.fmt.pi_type != 0) {
        const uint64_t ref = initial_reftag(g, a.slba);
        c.cdw14 = uint32_t(ref);
        // 64b guard: the 48-bit reference tag's upper 16 bits go in CDW3
        // (CDW2/CDW3 hold the upper part of the storage + reference tag field;
        // we have no storage tag).
        if (g.fmt.guard == Guard::g64) c.cdw3 = uint32_t(ref >> 32) & 0xffff;
        c.cdw15 = uint32_t(g.apptag_mask) << 16 | g.apptag;
    }
}

void build_flush(UringCmd& c, uint32_t nsid) {
    std::memset(&c, 0, sizeof c);
    c.opcode = op_flush;
    c.nsid = nsid;
}

namespace {

constexpr int8_t kGuard = int8_t(Field::guard), kApp = int8_t(Field::app), kRef = int8_t(Field::ref), kNone = -1;

// Every status pifio names: its errno for fio, and the PI field it reports a
// check failure of (the end-to-end checks, 0x282..0x284).
constexpr StatusInfo kStatuses[] = {
    {0x000, "success", EIO, kNone},   // with res > 0 other status bits are set: not a success
    {0x001, "invalid command opcode", EIO, kNone},
    {0x002, "invalid field in command", EIO, kNone},
    {0x004, "data transfer error", EIO, kNone},
    {0x006, "internal error", EIO, kNone},
    {0x007, "command abort requested", EIO, kNone},
    {0x008, "command aborted due to SQ deletion", EIO, kNone},
    {0x00b, "invalid namespace or format", EIO, kNone},
    {0x00f, "invalid SGL offset", EIO, kNone},
    {0x080, "LBA out of range", EIO, kNone},
    {0x081, "capacity exceeded", EIO, kNone},
    {0x082, "namespace not ready", EIO, kNone},
    {0x180, "conflicting attributes", EIO, kNone},
    {0x181, "invalid protection information", EILSEQ, kNone},
    {0x182, "attempted write to read only range", EIO, kNone},
    {0x280, "write fault", EIO, kNone},
    {0x281, "unrecovered read error", EIO, kNone},
    {0x282, "guard check error", EILSEQ, kGuard},
    {0x283, "application tag check error", EILSEQ, kApp},
    {0x284, "reference tag check error", EILSEQ, kRef},
    {0x285, "compare failure", EIO, kNone},
    {0x286, "access denied", EIO, kNone},
    {0x287, "deallocated or unwritten logical block", EIO, kNone},
    // Set by the host's driver, not the controller (Linux: a reset or a lost path).
    {0x370, "host path error", EIO, kNone},
    {0x371, "host aborted command", EIO, kNone},
};

}  // namespace

const StatusInfo* status_info(uint16_t code) {
    for (const StatusInfo& s : kStatuses)
        if (s.code == code) return &s;
    return nullptr;
}

const char* status_name(uint16_t code) {
    const StatusInfo* s = status_info(code);
    return s ? s->name : nullptr;
}

bool status_is_pi_check(uint16_t code) {
    const StatusInfo* s = status_info(code);
    return s && s->field >= 0;
}

int status_errno(uint16_t code) {
    const StatusInfo* s = status_info(code);
    return s ? s->err : EIO;
}

}  // namespace pifio::nvme
