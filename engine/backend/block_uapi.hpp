// Kernel ABI the block backend needs that bookworm's headers (liburing 2.3,
// linux-libc-dev 6.1) do not have.
//
// Choice: define these few bits locally, byte-exact with the kernel's
// include/uapi/linux/{io_uring,fs}.h (checked against the 7.3 tree), rather
// than building liburing 2.15 from Debian source in setup. Why: we need two
// structs, a handful of constants and two SQE fields that liburing 2.3 already
// exposes under their old names (addr3 / __pad2[0]); everything else (ring
// setup, submission) works unchanged with 2.3. A second liburing would have to
// be shipped into every guest initramfs and kept in step with fio's, for no
// gain. Whether a *running* kernel has the feature is probed at run time
// (IORING_FEAT_RW_ATTR, FS_IOC_GETLBMD_CAP on named errnos), never assumed
// from headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <liburing.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

namespace pifio::uapi {

// ---- io_uring read/write attributes (Linux 6.14+) -------------------------
// include/uapi/linux/io_uring.h: in struct io_uring_sqe the union at offset 48
// that liburing 2.3 calls { __u64 addr3; __u64 __pad2[1]; } is, for
// IORING_OP_READ*/WRITE*, { __u64 attr_ptr; __u64 attr_type_mask; }.
constexpr uint64_t IORING_RW_ATTR_FLAG_PI = 1u << 0;   // sqe->attr_type_mask bit
constexpr uint32_t IORING_FEAT_RW_ATTR = 1u << 16;     // io_uring_params.features

struct io_uring_attr_pi {
    uint16_t flags;     // IO_INTEGRITY_CHK_*
    uint16_t app_tag;
    uint32_t len;       // bytes of PI/metadata at addr
    uint64_t addr;      // metadata buffer (one interval's metadata per block)
    uint64_t seed;      // reference tag of the first block
    uint64_t rsvd;      // must be 0 (EINVAL otherwise)
};
static_assert(sizeof(io_uring_attr_pi) == 32, "struct io_uring_attr_pi is 32 bytes in the kernel ABI");
static_assert(offsetof(io_uring_attr_pi, addr) == 8 && offsetof(io_uring_attr_pi, seed) == 16, "io_uring_attr_pi layout");
static_assert(offsetof(struct io_uring_sqe, addr3) == 48, "attr_ptr lives at SQE offset 48");
static_assert(offsetof(struct io_uring_sqe, __pad2) == 56, "attr_type_mask lives at SQE offset 56");

inline void sqe_set_pi_attr(struct io_uring_sqe* sqe, const io_uring_attr_pi* pi) {
    sqe->addr3 = reinterpret_cast<uintptr_t>(pi);    // attr_ptr
    sqe->__pad2[0] = IORING_RW_ATTR_FLAG_PI;           // attr_type_mask
}

// include/uapi/linux/fs.h: io_uring_attr_pi.flags.
constexpr uint16_t IO_INTEGRITY_CHK_GUARD = 1u << 0;
constexpr uint16_t IO_INTEGRITY_CHK_REFTAG = 1u << 1;
constexpr uint16_t IO_INTEGRITY_CHK_APPTAG = 1u << 2;

// ---- FS_IOC_GETLBMD_CAP (Linux 6.17+) --------------------------------------
constexpr uint32_t LBMD_PI_CAP_INTEGRITY = 1u << 0;
constexpr uint32_t LBMD_PI_CAP_REFTAG = 1u << 1;
constexpr uint8_t LBMD_PI_CSUM_NONE = 0;
constexpr uint8_t LBMD_PI_CSUM_IP = 1;
constexpr uint8_t LBMD_PI_CSUM_CRC16_T10DIF = 2;
constexpr uint8_t LBMD_PI_CSUM_CRC64_NVME = 4;

struct logical_block_metadata_cap {
    uint32_t lbmd_flags;
    uint16_t lbmd_interval;          // data bytes per metadata unit
    uint8_t lbmd_size;               // metadata bytes per interval
    uint8_t lbmd_opaque_size;
    uint8_t lbmd_opaque_offset;
    uint8_t lbmd_pi_size;            // 0 when no PI
    uint8_t lbmd_pi_offset;          // tuple offset in the metadata
    uint8_t lbmd_guard_tag_type;     // LBMD_PI_CSUM_*
    uint8_t lbmd_app_tag_size;
    uint8_t lbmd_ref_tag_size;
    uint8_t lbmd_storage_tag_size;
    uint8_t pad;
};
static_assert(sizeof(logical_block_metadata_cap) == 16, "LBMD_SIZE_VER0");
// _IOWR(0x15, 2, struct logical_block_metadata_cap)
constexpr unsigned long FS_IOC_GETLBMD_CAP = _IOWR(0x15, 2, logical_block_metadata_cap);

}  // namespace pifio::uapi
