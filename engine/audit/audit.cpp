// pi_audit device layer: dm tables from the kernel, bottom namespaces from
// sysfs, raw PI read-back through NVMe passthrough (see audit.hpp).
#include "audit.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <linux/nvme_ioctl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace pifio::audit {
namespace {

constexpr uint32_t kChunkBytes = 128 * 1024;   // per passthrough read (well under any MDTS)

Error err(int e, std::string m) { return Error{e, std::move(m)}; }
uint64_t key(DevT d) { return uint64_t(d.major) << 32 | d.minor; }

std::string hex(uint64_t v) {
    char b[24];
    snprintf(b, sizeof b, "0x%llx", (unsigned long long)v);
    return b;
}

bool read_text(const std::string& path, std::string* out) {
    FILE* f = fopen(path.c_str(), "re");
    if (!f) return false;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    *out = buf;
    while (!out->empty() && (out->back() == '\n' || out->back() == ' ')) out->pop_back();
    return true;
}

std::string sysblk(DevT d) { return "/sys/dev/block/" + d.str(); }

// Kernel name of a block device ("nvme0n1", "dm-0", "nvme0n1p2").
std::string blk_name(DevT d) {
    char buf[PATH_MAX];
    ssize_t n = readlink(sysblk(d).c_str(), buf, sizeof buf - 1);
    if (n <= 0) return d.str();
    buf[n] = 0;
    const char* s = strrchr(buf, '/');
    return s ? s + 1 : buf;
}

Result<DevT> blk_devt(const std::string& path) {
    Result<DevT> r;
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
        r.error = err(errno, path + ": " + strerror(errno));
        return r;
    }
    if (!S_ISBLK(st.st_mode)) {
        r.error = err(ENOTBLK, path + ": not a block device");
        return r;
    }
    r.value = DevT{major(st.st_rdev), minor(st.st_rdev)};
    return r;
}

}  // namespace

void AuditStats::add(const AuditStats& o) {
    blocks += o.blocks;
    bad_blocks += o.bad_blocks;
    unwritten += o.unwritten;
    for (int i = 0; i < 3; ++i) count[i] += o.count[i];
}

// ------------------------------------------------------------ dm tables --

namespace {

int dm_control() {
    int fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

Result<std::string> table_via(int ctl, DevT dev) {
    Result<std::string> r;
    std::vector<uint64_t> mem;   // u64 for alignment of dm_target_spec
    for (size_t size = 16 * 1024; size <= (16u << 20); size *= 4) {
        mem.assign(size / 8, 0);
        auto* io = reinterpret_cast<struct dm_ioctl*>(mem.data());
        io->version[0] = DM_VERSION_MAJOR;
        io->version[1] = 0;
        io->version[2] = 0;
        io->data_size = uint32_t(size);
        io->data_start = sizeof(struct dm_ioctl);
        io->flags = DM_STATUS_TABLE_FLAG;
        io->dev = makedev(dev.major, dev.minor);
        if (ioctl(ctl, DM_TABLE_STATUS, io) != 0) {
            int e = errno;
            r.error = err(e, "DM_TABLE_STATUS " + dev.str() + ": " + strerror(e));
            return r;
        }
        if (io->flags & DM_BUFFER_FULL_FLAG) continue;
        const char* base = reinterpret_cast<const char*>(io) + io->data_start;
        const char* end = reinterpret_cast<const char*>(io) + io->data_size;
        uint32_t off = 0;
        for (uint32_t i = 0; i < io->target_count; ++i) {
            auto* spec = reinterpret_cast<const struct dm_target_spec*>(base + off);
            if (base + off + sizeof *spec > end) break;
            const char* params = reinterpret_cast<const char*>(spec + 1);
            char type[DM_MAX_TYPE_NAME + 1] = {};
            memcpy(type, spec->target_type, DM_MAX_TYPE_NAME);
            r.value += std::to_string(spec->sector_start) + " " + std::to_string(spec->length) + " " + type;
            if (*params) r.value += std::string(" ") + params;
            r.value += "\n";
            off = spec->next;
        }
        return r;
    }
    r.error = err(E2BIG, "DM_TABLE_STATUS " + dev.str() + ": table larger than 16 MiB");
    return r;
}

}  // namespace

// An md array as the table of the dm target that maps it the same way (sysfs
// md/: level, chunk_size, raid_disks, rdN/{block,offset,size}): raid0 over
// equal members = striped (one zone), raid1 = linear onto mirror rd0 (the
// audit checks that mirror; the others hold the same LBAs). Anything else —
// other levels, raid0 with unequal members (several zones) — is named.
Result<std::string> md_table_text(DevT dev) {
    Result<std::string> r;
    const std::string md = sysblk(dev) + "/md/";
    std::string level, chunk, disks, size;
    if (!read_text(md + "level", &level) || !read_text(md + "raid_disks", &disks) ||
        !read_text(sysblk(dev) + "/size", &size)) {
        r.error = err(ENODEV, blk_name(dev) + ": cannot read its md/ attributes in sysfs");
        return r;
    }
    const unsigned n = unsigned(strtoul(disks.c_str(), nullptr, 10));
    std::string legs, first_size;
    for (unsigned i = 0; i < n; i++) {
        const std::string rd = md + "rd" + std::to_string(i) + "/";
        std::string ddev, off, rsize;
        if (!read_text(rd + "block/dev", &ddev) || !read_text(rd + "offset", &off) || !read_text(rd + "size", &rsize)) {
            r.error = err(ENODEV, blk_name(dev) + ": member rd" + std::to_string(i) + " missing in sysfs (degraded array?)");
            return r;
        }
        if (i == 0) first_size = rsize;
        if (level == "raid0" && rsize != first_size) {
            r.error = err(EOPNOTSUPP, blk_name(dev) + ": raid0 with members of different sizes (several zones), "
                                      "which the audit cannot follow");
            return r;
        }
        legs += " " + ddev + " " + off;
        if (level == "raid1") break;   // mirror rd0
    }
    if (level == "raid0") {
        if (!read_text(md + "chunk_size", &chunk)) {
            r.error = err(ENODEV, blk_name(dev) + ": no md/chunk_size");
            return r;
        }
        r.value = "0 " + size + " striped " + std::to_string(n) + " " +
                  std::to_string(strtoull(chunk.c_str(), nullptr, 10) / 512) + legs + "\n";
    } else if (level == "raid1") {
        r.value = "0 " + size + " linear" + legs + "\n";
    } else {
        r.error = err(EOPNOTSUPP, blk_name(dev) + ": md " + level +
                                  ", which the audit cannot follow (raid0 and raid1 only; use pifio-audit scan)");
    }
    return r;
}

KernelTables::~KernelTables() {
    if (ctl_ >= 0) ::close(ctl_);
}

Result<const DmTable*> KernelTables::table(DevT dev) {
    Result<const DmTable*> r;
    auto k = key(dev);
    auto hit = cache_.find(k);
    if (hit != cache_.end()) {
        r.value = hit->second.get();
        return r;
    }
    struct stat st;
    if (stat((sysblk(dev) + "/md").c_str(), &st) == 0) {   // md raid0/raid1: as its dm twin
        auto text = md_table_text(dev);
        if (!text.ok()) {
            r.error = text.error;
            return r;
        }
        auto t = parse_table(text.value);
        if (!t.ok()) {
            r.error = err(t.error.err, blk_name(dev) + " (" + dev.str() + ") md as '" + text.value + "': " + t.error.msg);
            return r;
        }
        auto& slot = cache_[k];
        slot = std::make_unique<DmTable>(std::move(t.value));
        r.value = slot.get();
        return r;
    }
    if (stat((sysblk(dev) + "/dm").c_str(), &st) != 0) {   // not a dm device: a bottom
        r.value = nullptr;
        return r;
    }
    if (ctl_ < 0) {
        ctl_ = dm_control();
        if (ctl_ < 0) {
            r.error = err(-ctl_, "/dev/mapper/control: " + std::string(strerror(-ctl_)) +
                                     " (needed to read the table of " + blk_name(dev) + "; load dm-mod, mount devtmpfs)");
            return r;
        }
    }
    auto text = table_via(ctl_, dev);
    if (!text.ok()) {
        r.error = text.error;
        return r;
    }
    auto t = parse_table(text.value);
    if (!t.ok()) {
        r.error = err(t.error.err, blk_name(dev) + " (" + dev.str() + ") " + t.error.msg);
        return r;
    }
    auto& slot = cache_[k];
    slot = std::make_unique<DmTable>(std::move(t.value));
    r.value = slot.get();
    return r;
}

Result<std::string> dm_table_text(DevT dev) {
    Result<std::string> r;
    int ctl = dm_control();
    if (ctl < 0) {
        r.error = err(-ctl, std::string("/dev/mapper/control: ") + strerror(-ctl));
        return r;
    }
    r = table_via(ctl, dev);
    ::close(ctl);
    return r;
}

// ------------------------------------------------------------- raw read --

int read_raw(int fd, uint32_t nsid, const Format& fmt, uint64_t slba, uint32_t nlb, void* data, void* md) {
    struct nvme_passthru_cmd64 c;
    memset(&c, 0, sizeof c);
    c.opcode = 0x02;   // Read; PRINFO 0: no PRACT, no checks — the media as it is
    c.nsid = nsid;
    c.addr = reinterpret_cast<uintptr_t>(data);
    c.data_len = nlb * (fmt.layout == Layout::ext ? fmt.data_size + fmt.ms : fmt.data_size);
    if (fmt.layout == Layout::sep && fmt.ms) {
        c.metadata = reinterpret_cast<uintptr_t>(md);
        c.metadata_len = nlb * fmt.ms;
    }
    c.cdw10 = uint32_t(slba);
    c.cdw11 = uint32_t(slba >> 32);
    c.cdw12 = nlb - 1;
    int rc = ioctl(fd, NVME_IOCTL_IO64_CMD, &c);
    return rc < 0 ? -errno : rc;
}

// ---------------------------------------------------------------- Auditor --

Auditor::~Auditor() {
    for (auto& b : bottoms_)
        if (b.fd >= 0) ::close(b.fd);
    free(buf_);
}

Result<std::unique_ptr<Auditor>> Auditor::open(const std::string& top, const std::vector<std::string>& ng_paths,
                                               const FormatFn& format_of, const AuditOptions& opt) {
    Result<std::unique_ptr<Auditor>> r;
    std::unique_ptr<Auditor> a(new Auditor);
    a->top_ = top;
    a->opt_ = opt;
    auto td = blk_devt(top);
    if (!td.ok()) {
        r.error = err(td.error.err, "pi_audit: " + td.error.msg + " (the audit checks writes to a block device)");
        return r;
    }
    a->top_dev_ = td.value;

    // The devices the stack rests on; a partition counts as its disk.
    auto bs = audit::bottoms(a->tables_, a->top_dev_);
    if (!bs.ok()) {
        r.error = err(bs.error.err, "pi_audit: " + top + ": " + bs.error.msg);
        return r;
    }
    struct Under {
        DevT dev;        // as the table names it
        DevT disk;       // whole disk
        uint64_t start;  // partition start sector
    };
    std::vector<Under> under;
    for (DevT d : bs.value) {
        Under u{d, d, 0};
        std::string part, start;
        if (read_text(sysblk(d) + "/partition", &part) && read_text(sysblk(d) + "/start", &start)) {
            std::string parent;
            if (read_text(sysblk(d) + "/../dev", &parent)) {
                auto pd = parse_devt(parent);
                if (pd.ok()) u.disk = pd.value;
            }
            u.start = strtoull(start.c_str(), nullptr, 10);
        }
        under.push_back(u);
    }
    auto names = [&] {
        std::string s;
        for (auto& u : under) s += (s.empty() ? "" : ", ") + blk_name(u.dev) + " (" + u.dev.str() + ")";
        return s;
    };
    auto suggest = [&] {
        std::string s;
        for (auto& u : under) {
            std::string n = blk_name(u.disk);
            if (n.rfind("nvme", 0) == 0) s += (s.empty() ? "" : ",") + ("/dev/ng" + n.substr(4));
        }
        return s.empty() ? std::string("none of them is an NVMe namespace") : "use pi_audit=" + s;
    };

    // Match each given namespace to a bottom device.
    for (const auto& ng : ng_paths) {
        char real[PATH_MAX];
        std::string rp = realpath(ng.c_str(), real) ? real : ng;
        std::string base = rp.substr(rp.rfind('/') + 1);
        if (base.rfind("ng", 0) != 0) {
            r.error = err(EINVAL, "pi_audit: " + ng + " is not an NVMe generic device (/dev/ngXnY); " + suggest());
            return r;
        }
        Bottom b;
        b.blk_name = "nvme" + base.substr(2);
        b.ng_path = ng;
        std::string devs;
        if (!read_text("/sys/block/" + b.blk_name + "/dev", &devs) || !parse_devt(devs).ok()) {
            r.error = err(ENODEV, "pi_audit: " + ng + ": no block device " + b.blk_name + " in /sys/block");
            return r;
        }
        b.dev = parse_devt(devs).value;
        bool found = false;
        for (auto& u : under)
            if (u.disk == b.dev) {
                a->by_dev_[key(u.dev)] = {uint32_t(a->bottoms_.size()), u.start};
                found = true;
            }
        if (!found) {
            r.error = err(EINVAL, "pi_audit: " + ng + " (" + b.blk_name + ", " + b.dev.str() + ") is not under " + top +
                                      ", which rests on " + names() + "; " + suggest());
            return r;
        }
        b.fd = ::open(ng.c_str(), O_RDONLY | O_CLOEXEC);
        if (b.fd < 0) {
            int e = errno;
            r.error = err(e, "pi_audit: " + ng + ": " + strerror(e));
            return r;
        }
        int nsid = ioctl(b.fd, NVME_IOCTL_ID);
        if (nsid <= 0) {
            int e = errno;
            ::close(b.fd);
            r.error = err(e ? e : ENOTTY, "pi_audit: " + ng + ": NVME_IOCTL_ID failed: " + strerror(e));
            return r;
        }
        b.nsid = uint32_t(nsid);
        auto f = format_of(ng, b.fd);
        if (!f.ok()) {
            ::close(b.fd);
            r.error = err(f.error.err, "pi_audit: " + ng + ": " + f.error.msg);
            return r;
        }
        b.fmt = f.value;
        if (b.fmt.pi_type == 0) {
            ::close(b.fd);
            r.error = err(EINVAL, "pi_audit: " + ng + " (" + format_to_short(b.fmt) +
                                      ") carries no protection information; there is nothing to audit");
            return r;
        }
        a->bottoms_.push_back(std::move(b));
    }
    for (auto& u : under)
        if (!a->by_dev_.count(key(u.dev))) {
            r.error = err(EINVAL, "pi_audit: " + top + " rests on " + blk_name(u.dev) + " (" + u.dev.str() +
                                      ") too, which no pi_audit entry names; " + suggest());
            return r;
        }

    uint32_t max_ds = 0, max_bs = 0;
    for (auto& b : a->bottoms_) {
        max_ds = std::max(max_ds, b.fmt.data_size);
        max_bs = std::max(max_bs, b.fmt.data_size + b.fmt.ms);
    }
    a->chunk_blocks_ = std::max<uint32_t>(1, kChunkBytes / max_ds);
    a->buf_len_ = size_t(a->chunk_blocks_) * max_bs;
    if (posix_memalign(&a->buf_, 4096, a->buf_len_) != 0) {
        r.error = err(ENOMEM, "pi_audit: cannot allocate the read-back buffer");
        return r;
    }
    // Touch every page before the first passthrough read. Untouched anonymous
    // memory maps the shared zero page; Debian 6.12.117 maps a passthrough
    // read's metadata buffer such that the device's metadata then lands in
    // the zero page, and every process on the machine sees garbage where it
    // expects zeros (found in the lab: cryptsetup, integritysetup and fio
    // crashed with general protection faults after one pifio-audit check;
    // a pre-faulted buffer, as pifio-audit scan had, never did; 6.1 and 7.3
    // are not affected).
    memset(a->buf_, 0, a->buf_len_);
    a->mm_.resize(std::max<uint32_t>(opt.max_records, 1) + 1);
    r.value = std::move(a);
    return r;
}

std::string Auditor::describe() const {
    std::string s = "pi_audit " + top_ + " ->";
    for (auto& b : bottoms_) s += " " + b.ng_path + " (nsid " + std::to_string(b.nsid) + ", " + format_to_short(b.fmt) + ")";
    return s;
}

std::string Auditor::format_record(const AuditRecord& r) const {
    const Bottom& b = bottoms_[r.bottom];
    std::string s = "pifio audit: " + top_ + " lba " + std::to_string(r.top_lba) + " -> " + b.blk_name + " lba " +
                    std::to_string(r.lba) + ": ";
    if (r.unwritten) return s + "unwritten (escape tuple: app tag 0xffff), want PI for a written block";
    return s + field_name(r.field) + " got " + hex(r.got) + ", want " + hex(r.want);
}

Error Auditor::check(uint64_t offset, uint64_t len, AuditStats* st, AuditRecord* rec, uint32_t max) {
    *st = AuditStats{};
    if (offset % 512 || len % 512)
        return err(EINVAL, "pi_audit: range " + std::to_string(offset) + "+" + std::to_string(len) + " is not sector aligned");
    auto runs = map_range(tables_, top_dev_, offset / 512, len / 512);
    if (!runs.ok()) return err(runs.error.err, "pi_audit: " + top_ + ": " + runs.error.msg);
    for (const Run& run : runs.value) {
        uint32_t room = max > st->recorded ? max - st->recorded : 0;
        AuditStats s;
        if (Error e = check_run(run, &s, rec ? rec + st->recorded : nullptr, room)) return e;
        st->add(s);
        st->recorded += s.recorded;
    }
    return {};
}

Error Auditor::check_run(const Run& run, AuditStats* st, AuditRecord* rec, uint32_t max) {
    auto it = by_dev_.find(key(run.dev));
    if (it == by_dev_.end()) return err(EINVAL, "pi_audit: " + run.dev.str() + " is under " + top_ + " but not audited");
    const uint32_t bi = it->second.first;
    const Bottom& b = bottoms_[bi];
    const uint32_t ds = b.fmt.data_size;
    const uint64_t byte = (run.sector + it->second.second) * 512, nbytes = run.nsect * 512;
    if (byte % ds || nbytes % ds || (run.top_sector * 512) % ds)
        return err(EINVAL, "pi_audit: " + top_ + " sector " + std::to_string(run.top_sector) + " maps to " + b.blk_name +
                               " sector " + std::to_string(run.sector) + "+" + std::to_string(run.nsect) +
                               ", not aligned to its " + std::to_string(ds) + "-byte blocks");
    auto ctx = make_context(b.fmt, opt_.app_tag, opt_.app_mask, opt_.checks);
    if (!ctx.ok()) return ctx.error;
    const uint64_t lba0 = byte / ds, top0 = run.top_sector * 512 / ds;
    uint64_t n = nbytes / ds;
    auto* data = static_cast<uint8_t*>(buf_);
    for (uint64_t done = 0; done < n;) {
        const uint32_t nlb = uint32_t(std::min<uint64_t>(chunk_blocks_, n - done));
        uint8_t* md = data + size_t(nlb) * b.fmt.data_stride();
        int rc = read_raw(b.fd, b.nsid, b.fmt, lba0 + done, nlb, data, md);
        if (rc != 0)
            return err(rc < 0 ? -rc : EIO, "pi_audit: raw read of " + b.ng_path + " lba " + std::to_string(lba0 + done) + "+" +
                                               std::to_string(nlb) + " failed: " +
                                               (rc < 0 ? std::string(strerror(-rc)) : "NVMe status " + hex(uint32_t(rc))));
        Span span{lba0 + done, ref_seed(b.fmt, lba0 + done), nlb};
        VerifyStats vs;
        const uint32_t cap = uint32_t(mm_.size());
        verify(ctx.value, data, md, span, mm_.data(), cap, &vs);
        st->blocks += nlb;
        st->bad_blocks += vs.bad_blocks;
        for (int f = 0; f < 3; ++f) st->count[f] += vs.count[f];
        for (uint32_t i = 0; i < vs.recorded && st->recorded < max; ++i) {
            const Mismatch& m = mm_[i];
            rec[st->recorded++] = AuditRecord{top0 + done + m.block, bi, m.lba, false, m.field, m.got, m.want};
        }
        if (vs.escaped) {
            // Which blocks escaped: look at their app tags (rare path).
            for (uint32_t i = 0; i < nlb; ++i) {
                Tuple t = read_tuple(b.fmt, data, md, i);
                if (t.app != 0xffff) continue;
                if (b.fmt.pi_type == 3 && t.ref != ref_mask(b.fmt)) continue;
                ++st->unwritten;
                if (opt_.unwritten_is_error) {
                    ++st->bad_blocks;
                    if (st->recorded < max)
                        rec[st->recorded++] = AuditRecord{top0 + done + i, bi, lba0 + done + i, true, Field::app, t.app, 0};
                }
            }
        }
        done += nlb;
    }
    return {};
}

}  // namespace pifio::audit
