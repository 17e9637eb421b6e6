#include "identify.hpp"

#include <cerrno>
#include <cstring>
#include <libnvme.h>

namespace pifio::nvme {

uint8_t lbaf_index(const struct nvme_id_ns& ns) {
    uint8_t idx = ns.flbas & NVME_NS_FLBAS_LOWER_MASK;
    if (ns.nlbaf >= 16) idx |= ((ns.flbas & NVME_NS_FLBAS_HIGHER_MASK) >> 5) << 4;
    return idx;
}

Result<Format> format_from_identify(const struct nvme_id_ns& ns, const uint32_t* elbaf) {
    Result<Format> r;
    const uint8_t idx = lbaf_index(ns);
    if (idx > ns.nlbaf) {
        r.error = {EINVAL, "Identify Namespace: format index " + std::to_string(idx) + " in use is beyond nlbaf " +
                               std::to_string(ns.nlbaf)};
        return r;
    }
    const struct nvme_lbaf& lbaf = ns.lbaf[idx];
    if (lbaf.ds < 9 || lbaf.ds > 16) {
        r.error = {EOPNOTSUPP, "Identify Namespace: LBA data size 2^" + std::to_string(lbaf.ds) + " is not supported"};
        return r;
    }
    Format& f = r.value;
    f.data_size = 1u << lbaf.ds;
    f.ms = le16toh(lbaf.ms);
    f.layout = (ns.flbas & NVME_NS_FLBAS_META_EXT) && f.ms ? Layout::ext : Layout::sep;
    f.pi_type = f.ms ? (ns.dps & NVME_NS_DPS_PI_MASK) : 0;
    f.loc = (ns.dps & NVME_NS_DPS_PI_FIRST) ? PiLoc::first : PiLoc::last;
    f.guard = Guard::g16;
    if (f.pi_type > 3) {
        r.error = {EOPNOTSUPP, "Identify Namespace: dps reports PI type " + std::to_string(f.pi_type)};
        return r;
    }
    if (elbaf && f.pi_type) {
        const uint32_t sts = *elbaf & NVME_NVM_ELBAF_STS_MASK;
        const uint32_t pif = (*elbaf & NVME_NVM_ELBAF_PIF_MASK) >> 7;
        if (sts) {
            r.error = {EOPNOTSUPP, "namespace uses a " + std::to_string(sts) +
                                       "-bit storage tag; pifio supports STS=0 only (reformat without storage tag)"};
            return r;
        }
        if (pif == 1) {
            r.error = {EOPNOTSUPP, "namespace uses the 32b guard PI format; pifio supports 16b and 64b guards"};
            return r;
        }
        if (pif > 2) {
            r.error = {EOPNOTSUPP, "namespace reports reserved PI format " + std::to_string(pif)};
            return r;
        }
        f.guard = pif == 2 ? Guard::g64 : Guard::g16;
    }
    if (f.pi_type && f.ms < f.tuple_size()) {
        r.error = {EINVAL, "namespace has PI type " + std::to_string(f.pi_type) + " but only " + std::to_string(f.ms) +
                               " metadata bytes (tuple is " + std::to_string(f.tuple_size()) + ")"};
        return r;
    }
    if (!f.pi_type) f.loc = PiLoc::last;
    return r;
}

Result<NsInfo> identify(int fd, const std::string& name) {
    Result<NsInfo> r;
    auto fail = [&](int err, const std::string& what) {
        r.error = {err, name + ": " + what};
        return r;
    };
    __u32 nsid = 0;
    if (nvme_get_nsid(fd, &nsid) < 0)
        return fail(errno, std::string("NVME_IOCTL_ID failed (") + strerror(errno) + "); is it an NVMe namespace?");
    r.value.nsid = nsid;

    struct nvme_id_ns ns;
    int ret = nvme_identify_ns(fd, nsid, &ns);
    if (ret < 0) return fail(errno, std::string("Identify Namespace failed: ") + strerror(errno));
    if (ret > 0) return fail(EIO, "Identify Namespace failed with NVMe status 0x" + std::to_string(ret));

    struct nvme_id_ctrl ctrl;
    ret = nvme_identify_ctrl(fd, &ctrl);
    if (ret < 0) return fail(errno, std::string("Identify Controller failed: ") + strerror(errno));
    if (ret > 0) return fail(EIO, "Identify Controller failed with NVMe status 0x" + std::to_string(ret));

    const uint8_t idx = lbaf_index(ns);
    uint32_t elbaf = 0;
    bool have_elbaf = false;
    if (le32toh(ctrl.ctratt) & NVME_CTRL_CTRATT_ELBAS) {
        struct nvme_nvm_id_ns nvm;
        ret = nvme_identify_ns_csi(fd, nsid, 0, NVME_CSI_NVM, &nvm);
        if (ret < 0) return fail(errno, std::string("NVM Command Set Identify Namespace failed: ") + strerror(errno));
        if (ret > 0) return fail(EIO, "NVM Command Set Identify Namespace failed with NVMe status 0x" + std::to_string(ret));
        elbaf = le32toh(nvm.elbaf[idx]);
        have_elbaf = true;
    }
    auto f = format_from_identify(ns, have_elbaf ? &elbaf : nullptr);
    if (!f.ok()) return fail(f.error.err, f.error.msg);
    r.value.fmt = f.value;
    r.value.nsze = le64toh(ns.nsze);
    r.value.lbaf_index = idx;
    return r;
}

int format_key(int fd, uint32_t nsid, bool elbaf, FormatKey* out) noexcept {
    struct nvme_id_ns ns;
    int ret = nvme_identify_ns(fd, nsid, &ns);
    if (ret < 0) return errno ? errno : EIO;
    if (ret > 0) return -(ret & 0x7ff);
    FormatKey k;
    k.flbas = ns.flbas;
    k.dps = ns.dps;
    k.lbaf_index = lbaf_index(ns);
    k.ds = ns.lbaf[k.lbaf_index].ds;
    k.ms = le16toh(ns.lbaf[k.lbaf_index].ms);
    k.nsze = le64toh(ns.nsze);
    if (elbaf) {
        struct nvme_nvm_id_ns nvm;
        ret = nvme_identify_ns_csi(fd, nsid, 0, NVME_CSI_NVM, &nvm);
        if (ret < 0) return errno ? errno : EIO;
        if (ret > 0) return -(ret & 0x7ff);
        k.elbaf = le32toh(nvm.elbaf[k.lbaf_index]);
        k.have_elbaf = true;
    }
    *out = k;
    return 0;
}

}  // namespace pifio::nvme
