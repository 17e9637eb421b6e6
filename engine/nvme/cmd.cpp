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
    switch (g.fmt.pi_type) {
        case 1: return lba & ref_mask(g.fmt);
        case 2: return (g.reftag_base + lba) & ref_mask(g.fmt);
        default: return 0;
    }
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

const char* status_name(uint16_t code) {
    switch (code) {
        case 0x000: return "success";
        case 0x001: return "invalid command opcode";
        case 0x002: return "invalid field in command";
        case 0x004: return "data transfer error";
        case 0x006: return "internal error";
        case 0x007: return "command abort requested";
        case 0x00b: return "invalid namespace or format";
        case 0x00f: return "invalid SGL offset";
        case 0x080: return "LBA out of range";
        case 0x081: return "capacity exceeded";
        case 0x082: return "namespace not ready";
        case 0x180: return "conflicting attributes";
        case 0x181: return "invalid protection information";
        case 0x182: return "attempted write to read only range";
        case 0x280: return "write fault";
        case 0x281: return "unrecovered read error";
        case 0x282: return "guard check error";
        case 0x283: return "application tag check error";
        case 0x284: return "reference tag check error";
        case 0x285: return "compare failure";
        case 0x286: return "access denied";
        case 0x287: return "deallocated or unwritten logical block";
        default: return nullptr;
    }
}

int status_errno(uint16_t code) {
    if (status_is_pi_check(code) || code == 0x181) return EILSEQ;
    return EIO;
}

}  // namespace pifio::nvme
