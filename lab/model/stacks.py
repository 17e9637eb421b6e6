"""Block-device and device-mapper stacks for the lab, as data.

A stack is declared as data: the namespaces it is built over (format specs,
nsid 1..n), what it REQUIRES from the guest (kernel modules, tools, kernel
version), and a busybox-sh snippet that builds it in the guest over namespaces
found by nsid (PIFIO_BLK_<nsid>, never by name). Skip reasons are data too:
`skip_reason(stack, kernel)` decides on the host what it can, and a build
snippet that finds the running kernel lacking a feature writes the reason to
/results/skip.txt and exits 77.

After `stack_build` the guest shell has:
  STACK_TOP        the block device to drive (/dev/mapper/NAME or /dev/nvme0nX)
  STACK_BYTES      usable size in bytes
  STACK_AUDIT      map | scan | none — how pi_audit checks the kernel's PI
                   (map: the dm tables lead to the physical LBAs;
                    scan: the stack hides the mapping (dm-integrity), every
                          written block of the bottom namespace must verify;
                    none: no PI under the stack)
  STACK_AUDIT_NG   comma list of bottom /dev/ngXnY for pi_audit
  STACK_AUDIT_FMT  comma list of their format specs (same order)
  STACK_PI         how PI reaches the media (for reports)
dm-linear stacks also set STACK_SEG2_DM / STACK_SEG2_PHYS (byte offsets of
segment 2 on the dm device and on the namespace) for the remapping test.

The lab reads REQUIRES (through `guest_modules()`) to pack modules into a
boot. A module entry "a|b|c" means any of the names:
every one the kernel has is loaded (built-in ones are skipped); at least one
must exist or the stack is skipped on that kernel.
"""
from __future__ import annotations

from dataclasses import dataclass, field

MiB = 1 << 20

# ----------------------------------------------------------- requirements --

DM = ["dm-mod"]
# dm-crypt with aes-xts: the cipher is looked up by name in the kernel (no
# modprobe in the guest), so the algorithm modules are loaded up front.
CRYPT = DM + ["dm-crypt", "xts", "aes|aes_generic|aesni-intel", "aesni-intel?"]
INTEGRITY = DM + ["dm-integrity", "crc32c-cryptoapi|crc32c_generic|crc32c-intel", "crc32c-intel?"]
# LUKS2 with --integrity hmac-sha256: dm-crypt builds authenc(hmac(sha256),xts(aes));
# cryptsetup itself uses AF_ALG for keyslot encryption and hashing.
AEAD = INTEGRITY + ["dm-crypt", "xts", "aes|aes_generic|aesni-intel", "aesni-intel?", "authenc",
                    "hmac", "sha256|sha256_generic|sha256-ssse3", "af_alg", "algif_skcipher",
                    "algif_hash", "essiv?"]

# dm-crypt AEAD straight over NVMe metadata: authenc(hmac(sha256),xts(aes)).
CRYPT_MD = DM + ["dm-crypt", "xts", "aes|aes_generic|aesni-intel", "aesni-intel?", "authenc", "hmac",
                 "sha256|sha256_generic|sha256-ssse3"]
MD = ["md-mod"]

REQUIRES: dict[str, dict] = {
    "plain":                {"modules": [], "binaries": ["fio"]},
    "dm-linear":            {"modules": DM, "binaries": ["dmsetup", "fio"]},
    "dm-striped":           {"modules": DM, "binaries": ["dmsetup", "fio"]},
    "dm-crypt":             {"modules": CRYPT, "binaries": ["dmsetup", "fio"]},
    "dm-integrity":         {"modules": INTEGRITY, "binaries": ["integritysetup", "dmsetup", "fio"]},
    # Inline mode (tags in the device's metadata, no journal) came in 6.11 and
    # needs an integrity profile *without* PI (csum_type NONE): a metadata-only
    # namespace. On a PI namespace the kernel refuses ("Integrity profile not
    # supported"); dm-integrity-inline-pi records that as the skip reason.
    "dm-integrity-inline":  {"modules": INTEGRITY, "binaries": ["dmsetup", "fio"], "min_kernel": (6, 11)},
    "dm-integrity-inline-pi": {"modules": INTEGRITY, "binaries": ["dmsetup", "fio"], "min_kernel": (6, 11)},
    "dm-crypt-aead":        {"modules": AEAD, "binaries": ["cryptsetup", "dmsetup", "fio"]},
    "dm-linear-aead":       {"modules": AEAD, "binaries": ["cryptsetup", "dmsetup", "fio"]},
    "dm-flakey":            {"modules": DM + ["dm-flakey"], "binaries": ["dmsetup", "fio"]},
    # A PI and a non-PI namespace concatenated: the top must not advertise
    # integrity (677e332e4885, 2025, stopped dm claiming it on such stacks).
    "dm-linear-mixed":      {"modules": DM, "binaries": ["dmsetup", "fio", "pifio-audit"]},
    # dm-crypt AEAD with its tags in the NVMe metadata, no dm-integrity below:
    # crypt_integrity_ctr takes any profile without a PI checksum (csum_type
    # NONE) whose metadata holds the tag (6a6c56130aaa; the Debian 6.1 module
    # still wants dm-integrity's "DM-DIF-EXT-TAG" profile; 6.12 and 7.3 have
    # the csum_type check).
    "dm-crypt-md":          {"modules": CRYPT_MD, "binaries": ["dmsetup", "fio", "nvme"]},
    "md-raid0":             {"modules": MD + ["raid0"], "binaries": ["mdadm", "fio", "pifio-audit"]},
    "md-raid1":             {"modules": MD + ["raid1"], "binaries": ["mdadm", "fio", "pifio-audit"]},
    # 512-byte logical blocks over a 4096+8 PI namespace: dm-ebs when the kernel
    # has it (Debian's cloud kernels do not: CONFIG_DM_EBS is not set), else a
    # loop device with --sector-size 512 (buffered: loop cannot do direct I/O
    # below the backing device's logical block size).
    "small-lbs":            {"modules": DM + ["loop", "dm-bufio?", "dm-ebs?"], "binaries": ["losetup", "dmsetup", "fio"]},
}

# ------------------------------------------------------------ guest shell --

# Helpers every stack snippet can use (busybox sh).
COMMON = r'''
export DM_DISABLE_UDEV=1
mkdir -p /run/cryptsetup
# Namespace k of this stack is guest nsid NSB+k (NSB=0 when the stack has the
# controller to itself; a shared boot gives each stack its own nsid range).
NSB=${NSB:-0}
pf_blk() { eval echo \$PIFIO_BLK_$(($1 + NSB)); }
pf_ng() { eval echo \$PIFIO_NG_$(($1 + NSB)); }
pf_fmt() { eval echo \$PIFIO_FMT_$(($1 + NSB)); }
pf_mm() { cat /sys/block/$(basename $(pf_blk $1))/dev; }
pf_sect() { cat /sys/block/$(basename $(pf_blk $1))/size; }
pf_dm_sect() { blockdev --getsz /dev/mapper/$1 2>/dev/null || cat /sys/block/dm-$(dmsetup info -c --noheadings -o minor $1)/size; }
pf_skip() { echo "$*" > ${PIFIO_SKIP_FILE:-/results/skip.txt}; echo "SKIP: $*"; exit 77; }
pf_fail() { echo "stack build failed: $*" >&2; exit 3; }
pf_has_target() { dmsetup targets | grep -q "^$1 "; }
pf_record() { { echo "# $STACK_NAME"; dmsetup table 2>/dev/null; } > /results/stack-table.txt; }
'''


@dataclass(frozen=True)
class Stack:
    name: str
    doc: str
    namespaces: tuple[str, ...]       # format specs for nsid 1..n
    build: str                        # sh: build, export STACK_*
    teardown: str = "dmsetup remove_all 2>/dev/null; true"
    ns_size: int = 64 * MiB
    audit: str = "map"                # map | scan | none
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def requires(self) -> dict:
        return REQUIRES[self.name]


# dm-linear over one PI namespace, two segments at different offsets: the
# first half of the dm device lives in the namespace's second half, segment 2
# starts 4 MiB in. Ref tags of segment-2 blocks must carry the physical LBA.
_LINEAR = r'''
M=$(pf_mm 1); S=$(pf_sect 1)
H=$((S / 2 / 8 * 8)); L2=$(( (S - H - 8192) / 8 * 8 ))
dmsetup create pflin --table "0 $H linear $M $H
$H $L2 linear $M 8192" || pf_fail "dmsetup create pflin"
export STACK_TOP=/dev/mapper/pflin STACK_BYTES=$(( (H + L2) * 512 ))
export STACK_SEG2_DM=$((H * 512)) STACK_SEG2_PHYS=$((8192 * 512))
export STACK_AUDIT_NG=$(pf_ng 1) STACK_AUDIT_FMT=$(pf_fmt 1)
export STACK_PI="dm-linear passes the namespace's integrity profile up; the kernel remaps ref tags"
'''

_STRIPED = r'''
M1=$(pf_mm 1); M2=$(pf_mm 2); S1=$(pf_sect 1); S2=$(pf_sect 2)
S=$S1; [ $S2 -lt $S ] && S=$S2
# 64 KiB chunks; whole chunks per stripe.
S=$(( S / 128 * 128 ))
dmsetup create pfstripe --table "0 $((2 * S)) striped 2 128 $M1 0 $M2 0" || pf_fail "dmsetup create pfstripe"
export STACK_TOP=/dev/mapper/pfstripe STACK_BYTES=$(( 2 * S * 512 ))
export STACK_AUDIT_NG=$(pf_ng 1),$(pf_ng 2) STACK_AUDIT_FMT=$(pf_fmt 1),$(pf_fmt 2)
export STACK_PI="dm-striped passes integrity up from two namespaces of one format"
'''

# Plain dm-crypt (no LUKS header) straight from dmsetup: a fixed test key.
_CRYPT_KEY = "0123456789abcdef" * 8   # 512-bit key for aes-xts (2 x 256)
_CRYPT = r'''
M=$(pf_mm 1); S=$(pf_sect 1)
dmsetup create pfcrypt --table "0 $S crypt aes-xts-plain64 %s 0 $M 0 1 sector_size:4096" \
  || dmsetup create pfcrypt --table "0 $S crypt aes-xts-plain64 %s 0 $M 0" \
  || pf_fail "dmsetup create pfcrypt (aes-xts-plain64)"
export STACK_TOP=/dev/mapper/pfcrypt STACK_BYTES=$((S * 512))
export STACK_AUDIT_NG=$(pf_ng 1) STACK_AUDIT_FMT=$(pf_fmt 1)
export STACK_PI="dm-crypt does not pass integrity up; PI is generated by the block layer at the namespace over the ciphertext"
''' % (_CRYPT_KEY, _CRYPT_KEY)

_INTEGRITY = r'''
B=$(pf_blk 1)
integritysetup format "$B" --batch-mode --integrity crc32c --sector-size 4096 --no-wipe \
  || pf_fail "integritysetup format --integrity crc32c"
integritysetup open "$B" pfinteg --integrity crc32c || pf_fail "integritysetup open"
export STACK_TOP=/dev/mapper/pfinteg STACK_BYTES=$(( $(pf_dm_sect pfinteg) * 512 ))
export STACK_AUDIT_NG= STACK_AUDIT_FMT=
export STACK_PI="none below: dm-integrity keeps crc32c tags interleaved on a namespace without PI"
'''

# Inline mode through dmsetup (integritysetup learned --integrity-inline only
# in cryptsetup 2.8). Formatting: load one block on a zeroed superblock,
# read provided_data_sectors from the status, load the full size.
_INLINE = r'''
pf_has_target integrity || pf_fail "no integrity target"
M=$(pf_mm 1)
V=$(dmsetup targets | sed -n 's/^integrity *v\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
set -- $V
[ "${1:-0}" -gt 1 ] || [ "${2:-0}" -ge 12 ] || pf_skip "dm-integrity v${1}.${2} on $(uname -r) has no inline mode (needs v1.12, Linux 6.11+)"
OPTS="2 internal_hash:crc32c block_size:4096"
dd if=/dev/zero of=$(pf_blk 1) bs=4096 count=8 conv=fsync 2>/dev/null
# The probe table is one 4 KiB block long: a 1-sector table on a 4096-byte
# namespace is refused by dm core (length not aligned to the logical block
# size), which hid the real answer behind a bare EINVAL.
if ! dmsetup create pfinl --table "0 8 integrity $M 0 4 I $OPTS" 2>/tmp/inl.err; then
  msg=$(dmesg | grep -i "device-mapper: table:" | tail -1 | sed 's/^\[[^]]*\] //')
  why=""
  case "$msg" in *"Integrity profile not supported"*)
    why="; dm_integrity_ctr takes inline mode only over an integrity profile without a PI checksum (csum_type NONE: metadata without PI, e.g. 4096+8/t0)" ;; esac
  pf_skip "dm-integrity inline mode refused on $(pf_fmt 1) ($(uname -r)): ${msg:-$(cat /tmp/inl.err)}$why"
fi
P=$(dmsetup status pfinl | awk '{print $5}')
dmsetup remove pfinl
[ -n "$P" ] && [ "$P" -gt 0 ] || pf_fail "dm-integrity inline: no provided_data_sectors in status"
dmsetup create pfinl --table "0 $P integrity $M 0 4 I $OPTS" || pf_fail "dmsetup create pfinl"
export STACK_TOP=/dev/mapper/pfinl STACK_BYTES=$((P * 512))
export STACK_AUDIT_NG= STACK_AUDIT_FMT=
# Tamper target: inline data starts after the 4 KiB superblock (SB_SECTORS).
export STACK_TAMPER_NS=$(pf_ng 1) STACK_TAMPER_MS=$(pf_fmt 1 | sed 's/^[0-9]*+\([0-9]*\).*/\1/') STACK_TAMPER_SHIFTS=1
export STACK_PI="dm-integrity inline: crc32c tags in the namespace's metadata (no PI)"
'''

# LUKS2 with authenticated encryption (hmac-sha256 tags kept by a dm-integrity
# device underneath dm-crypt) — the 2017 regression's stack. pbkdf2 with 1000
# iterations and a small header so that TCG does not spend minutes on it.
_AEAD = r'''
B=$(pf_blk 1)
# A fixed test key: the corruption test opens the same LUKS device again in a
# second boot (STACK_REOPEN=1 then opens it without formatting).
printf 'pifio-lab-test-key-0123456789abcdef-0123456789abcdef-0123456789' > /tmp/pfkey
[ -n "${STACK_REOPEN:-}" ] || cryptsetup luksFormat "$B" --type luks2 --cipher aes-xts-plain64 --integrity hmac-sha256 \
  --integrity-no-wipe --sector-size 4096 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
  --luks2-metadata-size 16k --luks2-keyslots-size 1m \
  --key-file /tmp/pfkey --batch-mode || pf_fail "cryptsetup luksFormat --integrity hmac-sha256"
cryptsetup open "$B" pfaead --key-file /tmp/pfkey --integrity-no-journal || pf_fail "cryptsetup open"
export STACK_AEAD=/dev/mapper/pfaead
export STACK_TOP=/dev/mapper/pfaead STACK_BYTES=$(( $(pf_dm_sect pfaead) * 512 ))
export STACK_AUDIT_NG=$(pf_ng 1) STACK_AUDIT_FMT=$(pf_fmt 1)
export STACK_PI="dm-crypt AEAD over dm-integrity (hmac-sha256 tags); T10 PI generated at the namespace below"
'''

_LINEAR_AEAD = _AEAD + r'''
S=$(pf_dm_sect pfaead); H=$((S / 2 / 8 * 8)); L2=$(( (S - H - 2048) / 8 * 8 ))
AM=$(dmsetup info -c --noheadings -o major,minor pfaead | tr -d ' ')
dmsetup create pflinaead --table "0 $H linear $AM $H
$H $L2 linear $AM 2048" || pf_fail "dmsetup create pflinaead"
export STACK_TOP=/dev/mapper/pflinaead STACK_BYTES=$(( (H + L2) * 512 ))
export STACK_PI="dm-linear over dm-crypt AEAD over dm-integrity; T10 PI generated at the namespace"
'''

# dm-flakey: built healthy (a linear-like up interval); pf_flakey switches the
# live table between ok | error | error_writes | drop_writes.
_FLAKEY = r'''
M=$(pf_mm 1); S=$(pf_sect 1)
dmsetup create pfflakey --table "0 $S flakey $M 0 3600 0" 2>/dev/null \
  || dmsetup create pfflakey --table "0 $S flakey $M 0 3600 1" || pf_fail "dmsetup create pfflakey"
pf_flakey() {
  case $1 in
    ok) t="0 $S linear $M 0" ;;
    error) t="0 $S flakey $M 0 0 3600" ;;
    *) t="0 $S flakey $M 0 0 3600 1 $1" ;;
  esac
  dmsetup suspend --noflush pfflakey && dmsetup load pfflakey --table "$t" && dmsetup resume pfflakey
}
export STACK_TOP=/dev/mapper/pfflakey STACK_BYTES=$((S * 512))
export STACK_AUDIT_NG=$(pf_ng 1) STACK_AUDIT_FMT=$(pf_fmt 1)
export STACK_PI="dm-flakey passes integrity up like dm-linear"
'''

_PLAIN = r'''
export STACK_TOP=$(pf_blk 1) STACK_BYTES=$(( $(pf_sect 1) * 512 ))
export STACK_AUDIT_NG=$(pf_ng 1) STACK_AUDIT_FMT=$(pf_fmt 1)
export STACK_PI="the namespace's own integrity profile"
'''

# Mixed capability: segment 1 = the whole PI namespace (dm byte 0 = its LBA 0),
# segment 2 = the whole non-PI namespace.
_MIXED = r'''
M1=$(pf_mm 1); S1=$(pf_sect 1); M2=$(pf_mm 2); S2=$(pf_sect 2)
dmsetup create pfmixed --table "0 $S1 linear $M1 0
$S1 $S2 linear $M2 0" || pf_fail "dmsetup create pfmixed"
export STACK_TOP=/dev/mapper/pfmixed STACK_BYTES=$(( (S1 + S2) * 512 ))
export STACK_SEG2_DM=$((S1 * 512))
export STACK_AUDIT_NG=$(pf_ng 1) STACK_AUDIT_FMT=$(pf_fmt 1)
export STACK_PI="dm-linear over a PI and a non-PI namespace: no integrity at the top; the PI namespace's auto-PI protects segment 1"
'''

# dm-crypt AEAD, tags in the namespace metadata (64 bytes, no PI): a 32-byte
# hmac-sha256 tag per 4 KiB sector, IV from the sector number (plain64, so no
# IV is stored). Key: 64 bytes xts(aes) + 32 bytes hmac. Before building, the
# same table is tried on a PI namespace (nsid 2): the kernel must refuse it.
_CRYPT_MD_KEY = "00112233445566778899aabbccddeeff" * 6    # 96 bytes
_CRYPT_MD = r'''
pf_crypt_md_table() {  # sectors major:minor
  echo "0 $1 crypt capi:authenc(hmac(sha256),xts(aes))-plain64 %s 0 $2 0 2 integrity:32:aead sector_size:4096"
}
if dmsetup create pfcmdpi --table "$(pf_crypt_md_table $(pf_sect 2) $(pf_mm 2))" 2>/tmp/cmdpi.err; then
  dmsetup remove pfcmdpi
  export STACK_CRYPT_MD_PI="accepted on $(pf_fmt 2)"
else
  export STACK_CRYPT_MD_PI="refused on $(pf_fmt 2): $(dmesg | grep "device-mapper: table:" | tail -1 | sed 's/^\[[^]]*\] //')"
fi
M=$(pf_mm 1); S=$(pf_sect 1)
if ! dmsetup create pfcmd --table "$(pf_crypt_md_table $S $M)" 2>/tmp/cmd.err; then
  msg=$(dmesg | grep "device-mapper: table:" | tail -1 | sed 's/^\[[^]]*\] //')
  case "$msg" in *"Integrity profile"*)
    pf_skip "dm-crypt on $(uname -r) keeps AEAD tags only in dm-integrity's profile, not in NVMe metadata ($(pf_fmt 1)): $msg (6a6c56130aaa)" ;; esac
  pf_fail "dmsetup create pfcmd: ${msg:-$(cat /tmp/cmd.err)}"
fi
export STACK_TOP=/dev/mapper/pfcmd STACK_BYTES=$((S * 512))
export STACK_AUDIT_NG= STACK_AUDIT_FMT=
# Tamper target (NVMe passthrough on the generic node: nvme-cli opens a
# block device exclusively, which the dm device holds): dm block B is namespace LBA B (table offset 0), 64 metadata bytes.
export STACK_TAMPER_NS=$(pf_ng 1) STACK_TAMPER_MS=64 STACK_TAMPER_SHIFTS=0
export STACK_PI="dm-crypt AEAD: hmac-sha256 tags (32 of 64 bytes) in the namespace metadata, no dm-integrity, no PI"
''' % _CRYPT_MD_KEY

# md raid over two PI namespaces (metadata 1.0: superblock at the end, data
# from sector 0 unless sysfs says otherwise); nsid 3 (no PI) is for the
# incompatible-profile attempt. --assume-clean: no resync under TCG.
_MD = r'''
mkdir -p /run/mdadm /dev/md
MDCHUNK=; [ %s = 0 ] && MDCHUNK=--chunk=64
mdadm --create /dev/md0 --run --assume-clean --metadata=1.0 --level=%s $MDCHUNK --raid-devices=2 \
  $(pf_blk 1) $(pf_blk 2) > /tmp/md.log 2>&1 || { cat /tmp/md.log; pf_fail "mdadm --create --level=%s"; }
export STACK_TOP=/dev/md0 STACK_BYTES=$(( $(cat /sys/block/md0/size) * 512 ))
export STACK_AUDIT_NG=$(pf_ng 1),$(pf_ng 2) STACK_AUDIT_FMT=$(pf_fmt 1),$(pf_fmt 2)
# The audit maps md like dm (raid0 = striped, raid1 = linear onto mirror rd0,
# the first member): raid1 audits that mirror; MDCHK checks both.
[ %s = 1 ] && export STACK_AUDIT_NG=$(pf_ng 1) STACK_AUDIT_FMT=$(pf_fmt 1)
export STACK_MD_LEVEL=%s STACK_MD_BAD=$(pf_blk 3)
export STACK_PI="md raid%s stacks the members' integrity profile; the kernel generates PI at each member"
'''
_MD_TEARDOWN = "mdadm --stop /dev/md0 2>/dev/null; mdadm --stop /dev/md1 2>/dev/null; true"

# 512-byte logical blocks over the 4096+8 PI namespace.
_SMALL = r'''
B=$(pf_blk 1)
if pf_has_target ebs; then
  export STACK_EBS="dm-ebs present"
else
  export STACK_EBS="no dm-ebs target on $(uname -r) (Debian's cloud kernels: CONFIG_DM_EBS is not set)"
fi
L=$(/usr/bin/losetup --sector-size 512 --direct-io=off -f --show $B) || pf_fail "losetup --sector-size 512 $B"
export STACK_TOP=$L STACK_BYTES=$(( $(pf_sect 1) * 512 ))
export STACK_AUDIT_NG=$(pf_ng 1) STACK_AUDIT_FMT=$(pf_fmt 1)
export STACK_SYNC="sync; blockdev --flushbufs $B"
export STACK_PI="loop --sector-size 512 (buffered) over a 4096+8 PI namespace: no integrity at the top; auto-PI at the namespace on writeback"
'''

STACKS: dict[str, Stack] = {s.name: s for s in [
    Stack("plain", "the PI namespace's block device, no dm", ("4096+8/t1",), _PLAIN, teardown="true"),
    Stack("dm-linear", "dm-linear, 2 segments at different offsets over one PI namespace",
          ("4096+8/t1",), _LINEAR, tags=("default",)),
    Stack("dm-striped", "dm-striped (64 KiB chunks) over two PI namespaces",
          ("4096+8/t1", "4096+8/t1"), _STRIPED),
    Stack("dm-crypt", "plain dm-crypt aes-xts-plain64 over a PI namespace", ("4096+8/t1",), _CRYPT),
    Stack("dm-integrity", "standalone dm-integrity (crc32c, journal) on a namespace without PI",
          ("4096+0",), _INTEGRITY, audit="none"),
    Stack("dm-integrity-inline", "dm-integrity inline mode: crc32c tags in namespace metadata (no PI)",
          ("4096+8/t0",), _INLINE, audit="none"),
    Stack("dm-integrity-inline-pi", "dm-integrity inline mode attempted on a PI namespace",
          ("4096+8/t1",), _INLINE, audit="none"),
    Stack("dm-crypt-aead", "LUKS2 aes-xts + hmac-sha256 (dm-crypt over dm-integrity) over a PI namespace",
          ("4096+8/t1",), _AEAD, ns_size=96 * MiB, audit="scan", tags=("default",)),
    Stack("dm-linear-aead", "dm-linear (2 segments) over dm-crypt AEAD over dm-integrity over a PI namespace",
          ("4096+8/t1",), _LINEAR_AEAD, ns_size=96 * MiB, audit="scan"),
    Stack("dm-flakey", "dm-flakey over a PI namespace (error / drop_writes windows)", ("4096+8/t1",), _FLAKEY),
    Stack("dm-linear-mixed", "dm-linear over a PI and a non-PI namespace (mixed integrity capability)",
          ("4096+8/t1", "4096+0"), _MIXED, audit="scan"),
    Stack("dm-crypt-md", "dm-crypt AEAD with hmac-sha256 tags in 64-byte NVMe metadata (no dm-integrity)",
          ("4096+64/t0", "4096+64/t1"), _CRYPT_MD, audit="none"),
    Stack("md-raid0", "md raid0 (64 KiB chunks) over two PI namespaces", ("4096+8/t1", "4096+8/t1", "4096+0"),
          _MD % ((0,) * 6), teardown=_MD_TEARDOWN),
    Stack("md-raid1", "md raid1 over two PI namespaces", ("4096+8/t1", "4096+8/t1", "4096+0"),
          _MD % ((1,) * 6), teardown=_MD_TEARDOWN),
    Stack("small-lbs", "512-byte logical blocks over a 4096+8 PI namespace (dm-ebs, or loop --sector-size 512)",
          ("4096+8/t1",), _SMALL, teardown="/usr/bin/losetup -D 2>/dev/null; dmsetup remove_all 2>/dev/null; true",
          audit="scan"),
]}

DEFAULT = [s.name for s in STACKS.values() if "default" in s.tags]


def get(name: str) -> Stack:
    if name not in STACKS:
        raise KeyError(f"unknown stack {name!r}; known: {', '.join(STACKS)}")
    return STACKS[name]


# ------------------------------------------------------- for the lab side --

def guest_modules(stack: Stack | str, kernel) -> tuple[list[str], str | None]:
    """Module names to pass to boot_and_run for this kernel, and a skip reason
    when a required module (group) is missing. `kernel` is a lab.kernels.Kernel."""
    st = get(stack) if isinstance(stack, str) else stack
    out: list[str] = []
    for entry in st.requires["modules"]:
        optional = entry.endswith("?")
        names = entry.rstrip("?").split("|")
        have = [n for n in names if kernel.has_module(n)]
        if not have and not optional:
            return [], f"kernel {kernel.release} has none of the modules {entry}"
        out += [n for n in have if not kernel.is_builtin(n) and n not in out]
    return out, None


def _version(release: str) -> tuple[int, int]:
    parts = release.split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (IndexError, ValueError):
        return (0, 0)


def skip_reason(stack: Stack | str, kernel) -> str | None:
    """What the host can tell before booting: modules and kernel version."""
    st = get(stack) if isinstance(stack, str) else stack
    _, why = guest_modules(st, kernel)
    if why:
        return why
    mk = st.requires.get("min_kernel")
    if mk and _version(kernel.release) < tuple(mk):
        return f"{st.name} needs Linux {mk[0]}.{mk[1]}+ (kernel {kernel.release})"
    return None


def script(stack: Stack | str) -> str:
    """Guest shell that defines STACK_NAME, the helpers, and stack_build / stack_teardown."""
    st = get(stack) if isinstance(stack, str) else stack
    return (f"STACK_NAME={st.name}\nexport STACK_AUDIT={st.audit}\n" + COMMON +
            "stack_build() {\n" + st.build + "\npf_record || true   # no dm table to record (md, loop) is not a failure\n}\n" +
            "stack_teardown() {\n" + st.teardown + "\n}\n")
