#!/usr/bin/env python3
"""The stack matrix of one kernel in ONE QEMU boot (ctest; see CMakeLists.txt).

  stack_lab.py --build-dir BUILD --kernel 7.3 [--cases a,b] [--mib 32] --out RES.json
      boot once with every case's namespaces on one controller (each case gets
      its own nsid range), run the cases one after the other in the guest, each
      under its own timeout, and write per-case results to RES.json:
      {"kernel": ..., "cases": {name: {"status": pass|fail|skip, "reason", "lines", "rc", "wall_s"}}}.
      Exit 0 when the guest came back with a result for every case (whatever
      the cases' verdicts), 1 when the boot itself failed, 77 when the lab
      cannot run here.
  stack_lab.py --result RES.json --case dm-linear
      one case's verdict from that file: exit 0 pass, 1 fail, 77 skip (reason
      printed) — one ctest per kernel x case, fed by one boot.
  stack_lab.py --build-dir BUILD --kernel 7.3 --cases dm-linear
      boot and print every verdict; exit 1 if any case failed (by hand).

Cases (CASES): every stack of lab/model/stacks.py — build it, write then read-verify
>= 32 MiB through it with the pifio engine (block backend, kernel auto-PI,
1 MiB blocks to keep TCG time down), then audit the PI the kernel left on the
media (map: engine pi_audit + pifio-audit check; scan: every written block of
the bottom namespace verifies; none: no PI below). dm-linear also checks the
remapping (blocks written through segment 2 found at their physical LBAs with
ref tag = physical LBA); dm-flakey runs error and drop_writes windows. Extra
cases: uring-pi / uring-pi-dm-linear (userspace PI through io_uring
attributes, Linux 6.14+), the 2025-2026 integrity paths (dm-linear-mixed,
dm-crypt-md and dm-integrity-inline-tamper with a tampered-tag read, md-raid0 /
md-raid1, uring-pi-sweep over metadata-buffer offsets x ref-tag seeds,
small-lbs; tests/stack/README.md), badinput (clear errors for wrong use), zeropage
(kernel canary, last: passthrough reads into never-written buffers must not
write the shared zero page — Debian 6.12.117 does; ctest expects that failure
there: WILL_FAIL).
Each check prints "ok   <check>: ...", "FAIL <check>: ..." or "skip <check>: ...".
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lab.model import stacks  # noqa: E402

GUEST_ENGINE = "/usr/lib/pifio/libpifio-stack.so"

# ------------------------------------------------------------ guest checks --

# Common prelude of every case (after the stack's own script).
PRELUDE = r'''
set -u
R=$PWD
ENG=$PIFIO_STACK_ENGINE
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }
# fio with the engine; $1 = name (log/json under $R), rest = fio options.
pfio() {
  n=$1; shift
  fio --name=$n --ioengine=external:$ENG "$@" --output-format=json --output=$R/$n.json > $R/$n.log 2>&1
  rc=$?
  grep -h "^pifio\|fio: \|verify:" $R/$n.log | head -6 | sed 's/^/    /'
  return $rc
}
# The engine's pi_audit lines in $R/$1.log: at least one, every one clean,
# and together they checked at least SZ/4096 blocks.
audit_ok() {
  n=$(grep -c "pifio: pi_audit .* blocks written and checked" $R/$1.log)
  b=$(grep -h "pifio: pi_audit" $R/$1.log | grep -vc " 0 bad")
  c=$(grep -h "pifio: pi_audit" $R/$1.log | sed -n 's/.*: \([0-9]*\) blocks written and checked.*/\1/p' | awk '{s+=$1} END {print s+0}')
  if [ $n -ge 1 ] && [ $b -eq 0 ] && [ $c -ge ${2:-$((SZ / 4096))} ]; then ok "$1 engine pi_audit: $c blocks checked at their physical LBAs, 0 bad"
  else bad "$1 engine pi_audit: $n line(s), $b not clean, $c blocks checked:"; grep -h "pifio: pi_audit\|^pifio: .*lba" $R/$1.log | head -8 | sed 's/^/    /'; fi
}
# The integrity profile the top advertises ("none" when it has none).
top_integrity() {
  d=$(basename $(readlink -f $STACK_TOP))
  f=$(cat /sys/block/$d/integrity/format 2>/dev/null); echo ${f:-none}
}
# fio's error for a failed read, by errno name.
err_name() {
  if grep -q "err=84\|Invalid or incomplete multibyte\|EILSEQ" $1; then echo EILSEQ
  elif grep -q "err=74\|Bad message\|EBADMSG" $1; then echo EBADMSG
  elif grep -q "err= *5\b\|Input/output error\|EIO" $1; then echo EIO
  else echo "no error"; fi
}
stack_build || exit $?
echo "stack: $STACK_NAME top=$STACK_TOP bytes=$STACK_BYTES audit=$STACK_AUDIT pi: $STACK_PI"
SZ=$((MIB * 1048576)); [ $SZ -gt $((STACK_BYTES / 2 * 2)) ] && SZ=$((STACK_BYTES / 1048576 / 2 * 1048576))
AUD=""; [ "$STACK_AUDIT" = map ] && AUD="--pi_audit=$STACK_AUDIT_NG"
'''

# Write + read-verify SZ bytes through the stack, then audit the media.
DATA = r'''
if pfio rw --filename=$STACK_TOP --rw=write --bs=1M --size=$SZ --iodepth=4 \
     --verify=crc32c --do_verify=1 --verify_fatal=1 $AUD --pi_report=$R/pi-report.json; then
  ok "write+verify: $((SZ >> 20)) MiB through $STACK_NAME, zero mismatches"
  a=$(grep -o 'I/O issued async[^;"]*' $R/pi-report.json | head -1)
  [ -z "$a" ] || echo "note engine: $a"
else
  bad "write+verify: fio exited $rc through $STACK_NAME"
fi
if [ "$STACK_AUDIT" = map ]; then
  audit_ok rw
fi
[ -z "${STACK_SYNC:-}" ] || eval "$STACK_SYNC"
case $STACK_AUDIT in
map)
  if pifio-audit check --top $STACK_TOP --ng $STACK_AUDIT_NG --format $STACK_AUDIT_FMT --range 0:$SZ --max 8 > $R/check.txt 2>&1
  then ok "pifio-audit check: $(tail -1 $R/check.txt)"
  else bad "pifio-audit check:"; tail -10 $R/check.txt | sed 's/^/    /'; fi ;;
scan)
  # Every bottom namespace (comma list); together they hold >= SZ of written blocks.
  : > $R/scan.txt; src=0; tw=0; i=1
  for ng in $(echo $STACK_AUDIT_NG | tr , ' '); do
    f=$(echo $STACK_AUDIT_FMT | cut -d, -f$i); i=$((i + 1))
    pifio-audit scan --ng $ng --format $f --max 8 > $R/scan1.txt 2>&1 || src=1
    cat $R/scan1.txt >> $R/scan.txt
    w=$(sed -n 's/.*blocks=\([0-9]*\).*unwritten=\([0-9]*\).*/\1 \2/p' $R/scan1.txt | tail -1)
    set -- ${w:-0 0}; tw=$((tw + $1 - $2))
  done
  if [ $src -ne 0 ]; then bad "pifio-audit scan:"; tail -10 $R/scan.txt | sed 's/^/    /'
  elif [ $tw -lt $((SZ / 4096)) ]; then bad "pifio-audit scan saw $tw written blocks, want >= $((SZ / 4096))"
  else ok "pifio-audit scan: $tw written blocks verify on $STACK_AUDIT_NG: $(grep -h "blocks=" $R/scan.txt | tr '\n' ' ')"; fi ;;
none) echo "note audit: no PI under $STACK_NAME" ;;
esac
'''

# dm-linear: blocks written through segment 2 land at the physical LBAs of
# segment 2 (known from the table we built, not from the mapper) with ref tag
# = physical LBA.
REMAP = r'''
if pfio seg2 --filename=$STACK_TOP --rw=write --bs=256k --offset=$STACK_SEG2_DM --size=4M --iodepth=2; then
  L=$((STACK_SEG2_PHYS / 4096))
  pifio-audit scan --ng $STACK_AUDIT_NG --format $STACK_AUDIT_FMT --lba $L --count 1024 --max 4 > $R/remap.txt 2>&1
  pifio-audit map --top $STACK_TOP --range $STACK_SEG2_DM:4096 >> $R/remap.txt 2>&1
  if grep -q "blocks=1024 bad=0 unwritten=0 " $R/remap.txt
  then ok "remap: dm byte $STACK_SEG2_DM -> physical LBA $L..$((L + 1023)), ref tags = physical LBAs"
  else bad "remap: segment-2 blocks not at physical LBA $L.. with ref tag = LBA:"; sed 's/^/    /' $R/remap.txt; fi
else bad "remap: write to segment 2 exited $rc"; fi
'''

# dm-flakey: error window (every I/O fails) and drop_writes window (writes
# "succeed" but never reach the media), then healthy again.
FLAKEY = r'''
W=$((4 << 20)); OFF=$SZ   # a 4 MiB region never written before
pf_flakey error || bad "flakey: cannot load the error table"
t0=$(date +%s)
if pfio ferr --filename=$STACK_TOP --rw=randwrite --bs=64k --offset=$OFF --size=$W --iodepth=4 $AUD; then
  bad "flakey error window: fio exited 0"
else
  n=$(grep -c "^pifio: .* failed" $R/ferr.log)
  if grep -q "Input/output error\|error=" $R/ferr.log && [ $rc -ne 0 ]; then
    ok "flakey error window: fio exited $rc after $(( $(date +%s) - t0 )) s, $n per-I/O error line(s): $(grep -m1 "^pifio: .* failed" $R/ferr.log)"
  else bad "flakey error window: no I/O error reported (rc=$rc)"; tail -5 $R/ferr.log | sed 's/^/    /'; fi
fi
pf_flakey drop_writes || bad "flakey: cannot load the drop_writes table"
# Writes are acknowledged but dropped: the read-back must fail verification.
if pfio fdrop --filename=$STACK_TOP --rw=write --bs=64k --offset=$OFF --size=$W --iodepth=4 \
     --verify=crc32c --do_verify=1 --verify_fatal=1; then
  bad "flakey drop_writes window: fio exited 0 (dropped writes not detected)"
else
  ok "flakey drop_writes window: fio exited $rc, $(grep -m1 -o "verify: bad [a-z_ ]*\|bad magic[^,]*\|verify type mismatch[^,]*" $R/fdrop.log || echo "verify failed")"
fi
pf_flakey ok || bad "flakey: cannot restore the healthy table"
if pfio fok --filename=$STACK_TOP --rw=write --bs=64k --offset=$OFF --size=$W --iodepth=4 \
     --verify=crc32c --do_verify=1 --verify_fatal=1 $AUD \
   && pfio fold --filename=$STACK_TOP --rw=write --bs=1M --size=$SZ --iodepth=4 \
     --verify=crc32c --verify_only=1 --verify_fatal=1; then
  ok "flakey after the fault window: new writes verify, the $((SZ >> 20)) MiB written before read back clean"
else bad "flakey after the fault window: verification failed (rc=$rc)"; fi
'''

# Userspace PI through io_uring attributes (pi_mode=uring-pi, pi_act=0): the
# engine generates guard/app/ref per block with the dm-level LBA as seed; the
# kernel remaps ref tags below dm-linear; QEMU checks them; the engine checks
# them again on read; pi_audit reads the media tuples at the physical LBAs.
URING = r'''
if pfio upi --filename=$STACK_TOP --rw=write --bs=256k --size=$SZ --iodepth=4 --pi_mode=uring-pi --pi_act=0 \
     --pi_chk=GUARD,REFTAG,APPTAG --apptag=0x5a5a --verify=crc32c --do_verify=1 --verify_fatal=1 $AUD \
     --pi_report=$R/upi.pi.json; then
  # The engine's report names the path it took and counts the blocks whose
  # PI it verified in userspace on the read-back.
  v=$(sed -n 's/.*"blocks_verified": \([0-9]*\).*/\1/p' $R/upi.pi.json | head -1)
  if grep -q '"target": "[^"]*userspace PI via io_uring attributes' $R/upi.pi.json && [ "${v:-0}" -ge $((SZ / 4096)) ]
  then ok "uring-pi write+verify: $((SZ >> 20)) MiB, userspace PI via io_uring attributes, $v blocks' PI verified by the engine"
  else bad "uring-pi: the engine did not take the io_uring PI path or verified ${v:-0} blocks:"; grep -o '"target": "[^"]*"' $R/upi.pi.json | sed 's/^/    /'; fi
  [ -z "$AUD" ] || audit_ok upi
else bad "uring-pi write+verify exited $rc"; fi
# A wrong app tag on read must be caught (by the kernel/device or the engine).
if pfio upibad --filename=$STACK_TOP --rw=read --bs=256k --size=1M --iodepth=1 --pi_mode=uring-pi --pi_act=0 \
     --pi_chk=GUARD,REFTAG,APPTAG --apptag=0x1111; then
  bad "uring-pi read with the wrong app tag exited 0"
else ok "uring-pi read with the wrong app tag fails: $(grep -m1 "^pifio" $R/upibad.log)"; fi
'''

# Mixed capability: the top advertises no integrity (677e332e4885); I/O
# across both segments works; auto-PI protected segment 1 (the PI namespace:
# dm byte 0 = its LBA 0, so the blocks written there verify at LBA 0.. with
# ref tag = LBA, and the non-PI segment takes I/O too).
MIXED = r'''
t=$(top_integrity)
if [ "$t" = none ]; then ok "mixed: $STACK_TOP advertises no integrity (integrity/format none) over $(pf_fmt 1) + $(pf_fmt 2)"
else bad "mixed: $STACK_TOP advertises integrity '$t' though segment 2 ($(pf_fmt 2)) has none (fixed upstream by 677e332e4885)"; fi
X=$((STACK_SEG2_DM - (4 << 20)))
if pfio across --filename=$STACK_TOP --rw=write --bs=256k --offset=$X --size=8M --iodepth=2 \
     --verify=crc32c --do_verify=1 --verify_fatal=1; then
  ok "mixed: 8 MiB write+verify across the PI/non-PI boundary (dm byte $X..)"
else bad "mixed: write+verify across the segment boundary exited $rc"; fi
[ -z "${STACK_SYNC:-}" ] || eval "$STACK_SYNC"
N=$((SZ / 4096))
pifio-audit scan --ng $(pf_ng 1) --format $(pf_fmt 1) --lba 0 --count $N --max 4 > $R/mixseg.txt 2>&1
if grep -q "blocks=$N bad=0 unwritten=0 " $R/mixseg.txt
then ok "mixed: segment 1 = $(pf_ng 1) LBA 0..$((N - 1)): every block written through the top carries valid PI (ref = LBA)"
else bad "mixed: segment 1's PI:"; sed 's/^/    /' $R/mixseg.txt; fi
'''

# Tampered tag: flip the first 4 metadata bytes of one written block below
# the dm device (NVMe passthrough read + write of data and metadata); a read
# of that block through the stack must fail (EILSEQ/EIO/EBADMSG, by name),
# a neighbour must still read clean. The physical LBA is dm block B + shift,
# the shift found by comparing data when the stack stores plaintext.
TAMPER = r'''
TB=16; NS=$STACK_TAMPER_NS; MS=$STACK_TAMPER_MS; P=""
pfio tw --filename=$STACK_TOP --rw=write --bs=64k --size=256k --iodepth=1 || bad "tamper: cannot write blocks 0..63 (rc=$rc)"
dd if=$STACK_TOP of=$R/top.blk bs=4096 skip=$TB count=1 iflag=direct 2>/dev/null
for sh in $STACK_TAMPER_SHIFTS; do
  nvme read $NS --start-block=$((TB + sh)) --block-count=0 --data-size=4096 --metadata-size=$MS \
    --data=$R/t.data --metadata=$R/t.md > $R/tread.log 2>&1 || continue
  if [ "$STACK_TAMPER_SHIFTS" = 0 ] || cmp -s $R/t.data $R/top.blk; then P=$((TB + sh)); break; fi
done
if [ -z "$P" ]; then bad "tamper: dm block $TB not found on $NS (shifts $STACK_TAMPER_SHIFTS):"; sed 's/^/    /' $R/tread.log
else
  cp $R/t.md $R/t.md.orig
  o=$(dd if=$R/t.md bs=1 count=4 2>/dev/null | od -An -tx1 | tr -d ' ')
  pat='\336\255\276\357'; [ "$o" = deadbeef ] && pat='\001\002\003\004'
  printf "$pat" | dd of=$R/t.md bs=1 count=4 conv=notrunc 2>/dev/null
  if nvme write $NS --start-block=$P --block-count=0 --data-size=4096 --metadata-size=$MS \
       --data=$R/t.data --metadata=$R/t.md > $R/twrite.log 2>&1; then
    pfio tbad --filename=$STACK_TOP --rw=read --bs=4k --offset=$((TB * 4096)) --size=4k --iodepth=1
    e=$(err_name $R/tbad.log)
    if [ $rc -ne 0 ] && [ "$e" != "no error" ]; then ok "tamper: metadata of LBA $P flipped ($o -> $(od -An -tx1 -N4 $R/t.md | tr -d ' ')): read of dm block $TB fails with $e"
    else bad "tamper: read of the tampered block exited $rc ($e)"; tail -4 $R/tbad.log | sed 's/^/    /'; fi
    if pfio tgood --filename=$STACK_TOP --rw=read --bs=4k --offset=$(((TB + 1) * 4096)) --size=4k --iodepth=1
    then ok "tamper: the neighbouring block $((TB + 1)) still reads clean"
    else bad "tamper: the untouched neighbour $((TB + 1)) fails too (rc=$rc)"; fi
    nvme write $NS --start-block=$P --block-count=0 --data-size=4096 --metadata-size=$MS \
      --data=$R/t.data --metadata=$R/t.md.orig > /dev/null 2>&1
    if pfio tback --filename=$STACK_TOP --rw=read --bs=4k --offset=$((TB * 4096)) --size=4k --iodepth=1
    then ok "tamper: the original metadata written back: block $TB reads again"
    else bad "tamper: block $TB still fails with the original metadata restored (rc=$rc)"; fi
  else bad "tamper: nvme write of LBA $P failed:"; sed 's/^/    /' $R/twrite.log; fi
fi
'''

# dm-crypt over NVMe metadata: what the kernel did with the same table on a
# PI namespace (refused: csum_type must be NONE), and the top's profile.
CRYPTMD = r'''
case "$STACK_CRYPT_MD_PI" in
  refused*"Integrity profile not supported"*) ok "crypt-md: the table on a PI namespace is $STACK_CRYPT_MD_PI" ;;
  *) bad "crypt-md: the table on a PI namespace: $STACK_CRYPT_MD_PI (want refused: integrity profile with a PI checksum)" ;;
esac
echo "note crypt-md: $STACK_TOP integrity/format: $(top_integrity); $(dmsetup table $(basename $STACK_TOP) | awk '{print $4, $NF, $(NF-1)}')"
'''

# md: the profile at the top; writes through md land where the raid
# geometry says (raid0 chunk k -> member k%2 at (k/2)*chunk + data offset;
# raid1 both members, same offset) with ref tag = the member's LBA; and an
# array of a PI and a non-PI member is refused or carries no integrity.
MDCHK = r'''
t=$(top_integrity); m1=$(pf_fmt 1)
case "$t" in T10-DIF-TYPE1-CRC*) ok "md: /dev/md0 integrity/format $t (members $m1)" ;;
  *) bad "md: /dev/md0 integrity/format '$t', want the members' T10-DIF-TYPE1-CRC" ;; esac
CH=65536; K=$(( (SZ + CH - 1) / CH + 1 ))     # a chunk index never written before (odd for raid0)
[ $((K % 2)) = 1 ] || K=$((K + 1))
if pfio mdmap --filename=/dev/md0 --rw=write --bs=64k --offset=$((K * CH)) --size=$CH --iodepth=1; then
  for r in 0 1; do
    d=$(basename $(readlink -f /sys/block/md0/md/rd$r/block)); eval "DEV$r=$d"
    eval "OFF$r=$(cat /sys/block/md0/md/rd$r/offset)"
  done
  if [ $STACK_MD_LEVEL = 0 ]; then want="rd1"; mo=$(( (K / 2) * CH )); else want="rd0 rd1"; mo=$((K * CH)); fi
  good=1; msg=""
  for r in 0 1; do
    eval d=\$DEV$r; eval o=\$OFF$r
    L=$(( (o * 512 + mo) / 4096 ))
    pifio-audit scan --ng /dev/$(echo $d | sed 's/nvme/ng/') --format $m1 --lba $L --count 16 --max 2 > $R/md$r.txt 2>&1
    case " $want " in *" rd$r "*) exp="blocks=16 bad=0 unwritten=0 " ;; *) exp="blocks=16 bad=0 unwritten=16 " ;; esac
    grep -q "$exp" $R/md$r.txt || { good=0; sed 's/^/    /' $R/md$r.txt; }
    msg="$msg rd$r=$d@LBA$L:$(grep -o 'unwritten=[0-9]*' $R/md$r.txt)"
  done
  if [ $good = 1 ]; then ok "md map: md chunk $K written with ref tags = member LBAs where raid$STACK_MD_LEVEL puts it ($msg)"
  else bad "md map: chunk $K not where raid$STACK_MD_LEVEL puts it ($msg)"; fi
else bad "md map: write of chunk $K exited $rc"; fi
# Incompatible profiles: a PI and a non-PI member (md0 stopped first: its members are busy).
# Debian 6.1.176 (raid0 and raid1): the pair is refused ("pers->run() failed")
# and md_run's error path then frees the personality's conf a second time
# (kernel BUG at mm/slub.c:419 in raid0_free / raid1_free: the guest panics),
# so the attempt is skipped there, with that reason.
md_incompat() {
mdadm --stop /dev/md0 > /dev/null 2>&1
mdadm --zero-superblock $(pf_blk 1) > /dev/null 2>&1
dmesg -c > /dev/null 2>&1
mdadm --create /dev/md1 --run --assume-clean --metadata=1.0 --level=$STACK_MD_LEVEL $MDCHUNK --raid-devices=2 \
  $(pf_blk 1) $STACK_MD_BAD > $R/mdbad.log 2>&1; mrc=$?
kmsg=$(dmesg | grep -i "integrity\|md1" | grep -v "^$" | tail -2 | sed 's/^\[[^]]*\] //' | tr '\n' ';')
if [ $mrc -ne 0 ] || [ ! -e /sys/block/md1/md/array_state ] || [ "$(cat /sys/block/md1/md/array_state 2>/dev/null)" = inactive ]; then
  ok "md incompatible: raid$STACK_MD_LEVEL of $(pf_fmt 1) + $(pf_fmt 3) refused (mdadm exit $mrc: $(grep -m1 "mdadm:" $R/mdbad.log)); kernel: $kmsg"
else
  t=$(cat /sys/block/md1/integrity/format 2>/dev/null); t=${t:-none}
  if [ "$t" = none ]; then ok "md incompatible: raid$STACK_MD_LEVEL of $(pf_fmt 1) + $(pf_fmt 3) assembled with integrity dropped (format none); kernel: $kmsg"
  else bad "md incompatible: raid$STACK_MD_LEVEL of $(pf_fmt 1) + $(pf_fmt 3) advertises integrity '$t'"; fi
  if pfio mdbad --filename=/dev/md1 --rw=write --bs=64k --size=1M --iodepth=1 --verify=crc32c --do_verify=1 --verify_fatal=1
  then ok "md incompatible: I/O through the profile-less array works"
  else bad "md incompatible: write+verify through /dev/md1 exited $rc"; fi
fi
mdadm --stop /dev/md1 > /dev/null 2>&1
}
case "$STACK_MD_LEVEL:$(uname -r)" in
*:6.1.*) echo "skip md incompatible: raid$STACK_MD_LEVEL of PI + non-PI members on $(uname -r) panics the kernel (kernel BUG at mm/slub.c:419: double free in raid${STACK_MD_LEVEL}_free from md_run after the array is refused; found by this case)" ;;
*) md_incompat ;;
esac
'''

# 512-byte logical blocks over a 4 KiB PI namespace.
SMALL = r'''
d=$(basename $(readlink -f $STACK_TOP))
lbs=$(cat /sys/block/$d/queue/logical_block_size); t=$(top_integrity)
echo "note small-lbs: $STACK_EBS"
if [ "$lbs" = 512 ]; then ok "small-lbs: $STACK_TOP logical_block_size 512 over $(pf_fmt 1); integrity/format $t"
else bad "small-lbs: $STACK_TOP logical_block_size $lbs, want 512"; fi
[ "$t" = none ] || bad "small-lbs: $STACK_TOP advertises integrity '$t' over 512-byte blocks of a 4096-byte PI format"
OFF=$((SZ + (1 << 20)))
if pfio s512 --filename=$STACK_TOP --rw=randwrite --bs=512 --offset=$OFF --size=256k --iodepth=4 \
     --verify=crc32c --do_verify=1 --verify_fatal=1; then
  eval "$STACK_SYNC"
  L=$((OFF / 4096)); N=$((256 * 1024 / 4096))
  pifio-audit scan --ng $(pf_ng 1) --format $(pf_fmt 1) --lba $L --count $N --max 4 > $R/s512.txt 2>&1
  if grep -q "blocks=$N bad=0 unwritten=0 " $R/s512.txt
  then ok "small-lbs: 512-byte random writes verify; the $N 4 KiB blocks below carry valid PI after writeback (read-modify-write in the page cache)"
  else bad "small-lbs: PI below the 512-byte writes:"; sed 's/^/    /' $R/s512.txt; fi
else bad "small-lbs: 512-byte write+verify exited $rc"; fi
'''

# io_uring PI attributes with metadata buffers at unaligned offsets (the
# kernel bounces what the queue's dma alignment cannot map) x ref-tag seeds
# (the kernel remaps seed + i to the LBA on write and back on read): every
# combination writes + read-verifies in userspace, the media carries ref =
# LBA (pi_audit), and a seed past 2^32 - 256 wraps. Canary: a corrupted ref
# tag from an unaligned buffer must be caught.
SWEEP = r'''
OFFS="0 1 7 8 63 511"; SEEDS="0 1 0x12345678 0xffffff80"
ngood=0; nbad=0; i=0
for o in $OFFS; do
  for sd in $SEEDS; do
    i=$((i + 1)); off=$((i * (1 << 20)))
    if pfio sw$i --filename=$STACK_TOP --rw=write --bs=128k --offset=$off --size=512k --iodepth=2 --pi_mode=uring-pi \
         --pi_act=0 --pi_chk=GUARD,REFTAG,APPTAG --pi_md_offset=$o --pi_seed=$sd --verify=crc32c --do_verify=1 \
         --verify_fatal=1 --pi_audit=$STACK_AUDIT_NG --pi_report=$R/sw$i.json \
       && [ "$(sed -n 's/.*"blocks_verified": \([0-9]*\).*/\1/p' $R/sw$i.json | head -1)" -ge 128 ] \
       && grep -q "pifio: pi_audit .* 128 blocks written and checked.* 0 bad" $R/sw$i.log; then ngood=$((ngood + 1))
    else nbad=$((nbad + 1)); echo "FAIL sweep: md offset $o seed $sd (rc=$rc):"; fail=1; tail -4 $R/sw$i.log | sed 's/^/    /'; fi
  done
done
[ $nbad = 0 ] && ok "sweep: $ngood combinations (md offsets $OFFS x seeds $SEEDS): 512 KiB write+verify each, PI verified by the engine, media ref = LBA"
# The seed is virtual: written with one, read back with another.
if pfio swx --filename=$STACK_TOP --rw=read --bs=128k --offset=$((1 << 20)) --size=512k --iodepth=2 --pi_mode=uring-pi \
     --pi_act=0 --pi_chk=GUARD,REFTAG,APPTAG --pi_seed=0x777 --pi_md_offset=7
then ok "sweep: blocks written with seed 0 read back under seed 0x777 (the kernel remaps both ways)"
else bad "sweep: read under another seed exited $rc"; fi
# Canary: wrong ref tags from an unaligned (bounced) buffer.
if pfio swbad --filename=$STACK_TOP --rw=write --bs=128k --offset=$(((i + 2) << 20)) --size=256k --iodepth=1 \
     --pi_mode=uring-pi --pi_act=0 --pi_chk=GUARD,REFTAG,APPTAG --pi_md_offset=7 --pi_seed=0x1000 --pi_inject=reftag:1
then bad "sweep canary: writes with corrupted ref tags (md offset 7) succeeded"
else ok "sweep canary: corrupted ref tags from a bounced metadata buffer are refused ($(err_name $R/swbad.log))"; fi
'''

BADINPUT = r'''
set -u
R=$PWD
export DM_DISABLE_UDEV=1
fail=0
B1=$(eval echo \$PIFIO_BLK_$((NSB + 1))); B2=$(eval echo \$PIFIO_BLK_$((NSB + 2))); N2=$(eval echo \$PIFIO_NG_$((NSB + 2)))
M=$(cat /sys/block/$(basename $B1)/dev)
dmsetup create pfbad --table "0 65536 linear $M 8192" || exit 3
expect() {  # name, pattern, fio args...
  name=$1; pat=$2; shift 2
  fio --name=$name --ioengine=external:$PIFIO_STACK_ENGINE --rw=write --bs=64k --size=1M "$@" > $R/$name.log 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then echo "FAIL $name: fio exited 0"; fail=1; return; fi
  if grep -q "$pat" $R/$name.log; then echo "ok   $name: $(grep -m1 "$pat" $R/$name.log)"
  else echo "FAIL $name: no '$pat' in:"; tail -5 $R/$name.log | sed 's/^/    /'; fail=1; fi
}
if [ "$URING_PI" = 0 ]; then
  expect uring-pi-old-kernel "lacks io_uring PI attributes (needs 6.14+); use pi_mode=kernel" \
    --filename=$B1 --pi_mode=uring-pi --pi_act=0
else
  expect uring-pi-no-integrity "has no integrity profile" --filename=$B2 --pi_mode=uring-pi --pi_act=0
fi
expect audit-not-under "is not under /dev/mapper/pfbad" --filename=/dev/mapper/pfbad --pi_audit=$N2
expect kernel-no-integrity "so the kernel generates no PI for it" --filename=$B2 --pi_mode=kernel
expect bad-pi-mode "pi_mode=fast: want auto, uring-pi or kernel" --filename=$B1 --pi_mode=fast
dmsetup remove pfbad
exit $fail
'''

# Kernel canary, run LAST in the boot (on an affected kernel it poisons the
# zero page for every later process): passthrough reads into never-written
# buffers must not write the shared zero page (Debian 6.12.117 does).
ZEROPAGE = r'''
N=$(eval echo \$PIFIO_NG_$((NSB + 1))); B=$(eval echo \$PIFIO_BLK_$((NSB + 1)))
fio --name=zw --filename=$B --ioengine=io_uring --direct=1 --rw=write --bs=1M --size=8M > zw.log 2>&1 \
  || { echo "FAIL zeropage: could not write the namespace"; exit 1; }
if pifio-audit zeropage --ng $N --format $(eval echo \$PIFIO_FMT_$((NSB + 1))) --count 300 > zp.txt 2>&1
then echo "ok   $(cat zp.txt)"; exit 0
else echo "FAIL $(cat zp.txt)"; exit 1; fi
'''

FINISH = "\nstack_teardown\nexit $fail\n"


@dataclass(frozen=True)
class Case:
    name: str
    stack: str | None               # lab/model/stacks.py stack, None: own namespaces + script
    checks: tuple[str, ...] = ("DATA",)
    namespaces: tuple[str, ...] = ()
    needs_uring_pi: bool = False    # Linux 6.14+
    script: str = ""                # own script (stack None): BADINPUT, ZEROPAGE
    timeout: int = 300              # guest seconds for this case


_CHECKS = {"DATA": DATA, "REMAP": REMAP, "FLAKEY": FLAKEY, "URING": URING, "MIXED": MIXED, "TAMPER": TAMPER,
           "CRYPTMD": CRYPTMD, "MDCHK": MDCHK, "SMALL": SMALL, "SWEEP": SWEEP}

CASES: dict[str, Case] = {c.name: c for c in [
    Case("plain", "plain"),
    Case("dm-linear", "dm-linear", ("DATA", "REMAP")),
    Case("dm-striped", "dm-striped"),
    Case("dm-crypt", "dm-crypt"),
    Case("dm-integrity", "dm-integrity"),
    Case("dm-integrity-inline", "dm-integrity-inline"),
    Case("dm-integrity-inline-pi", "dm-integrity-inline-pi"),
    Case("dm-crypt-aead", "dm-crypt-aead", timeout=420),
    Case("dm-linear-aead", "dm-linear-aead", timeout=420),
    Case("dm-flakey", "dm-flakey", ("DATA", "FLAKEY")),
    Case("uring-pi", "plain", ("URING",), needs_uring_pi=True),
    Case("uring-pi-dm-linear", "dm-linear", ("URING",), needs_uring_pi=True),
    Case("dm-linear-mixed", "dm-linear-mixed", ("DATA", "MIXED")),
    Case("dm-crypt-md", "dm-crypt-md", ("DATA", "CRYPTMD", "TAMPER")),
    Case("dm-integrity-inline-tamper", "dm-integrity-inline", ("TAMPER",)),
    Case("md-raid0", "md-raid0", ("DATA", "MDCHK")),
    Case("md-raid1", "md-raid1", ("DATA", "MDCHK")),
    Case("uring-pi-sweep", "plain", ("SWEEP",), needs_uring_pi=True),
    Case("small-lbs", "small-lbs", ("DATA", "SMALL")),
    Case("badinput", None, namespaces=("4096+8/t1", "4096+0"), timeout=120, script=BADINPUT),
    Case("zeropage", None, namespaces=("4096+8/t1",), timeout=120, script=ZEROPAGE),   # keep last
]}


def kernel_version(release: str) -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", release)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def case_namespaces(c: Case) -> list[tuple[str, int]]:
    if c.stack:
        st = stacks.get(c.stack)
        return [(f, st.ns_size) for f in st.namespaces]
    return [(f, 64 << 20) for f in c.namespaces]


def case_script(c: Case, nsb: int, mib: int, uring_pi: int) -> str:
    head = f"NSB={nsb}\nMIB={mib}\nURING_PI={uring_pi}\nexport PIFIO_SKIP_FILE=$PWD/skip.txt\n"
    if c.stack is None:
        return head + c.script
    return head + stacks.script(c.stack) + PRELUDE + "".join(_CHECKS[k] for k in c.checks) + FINISH


# Guest tools some stacks need beyond the base archive's (guest path, host path).
EXTRA_TOOLS = {"mdadm": ("/usr/bin/mdadm", Path("/usr/sbin/mdadm")),
               "losetup": ("/usr/bin/losetup", Path("/usr/sbin/losetup"))}


def case_tools(c: Case) -> list[str]:
    return [b for b in stacks.get(c.stack).requires.get("binaries", []) if b in EXTRA_TOOLS] if c.stack else []


def host_skip(c: Case, k) -> str | None:
    for t in case_tools(c):
        if not EXTRA_TOOLS[t][1].exists():
            return f"{EXTRA_TOOLS[t][1]} is not installed on the host (./pifio setup installs Debian's {t})"
    if c.needs_uring_pi and kernel_version(k.release) < (6, 14):
        return f"kernel {k.release} has no io_uring PI attributes (IORING_RW_ATTR_FLAG_PI, Linux 6.14+)"
    if c.stack:
        return stacks.skip_reason(c.stack, k)
    return None


# Guest driver: one case after the other, each under its own timeout, each
# leaving log + rc (+ skip.txt) in /results/<case>/.
DRIVER = r'''
export DM_DISABLE_UDEV=1
mkdir -p /run/cryptsetup
for c in $PF_CASES; do
  mkdir -p /results/$c; cd /results/$c
  eval t=\$PF_TIMEOUT_$(echo $c | tr - _)
  echo "PIFIO-JOB stack $c start"
  s=$(date +%s)
  timeout -s KILL $t sh /pifio/cases/$c.sh > log 2>&1
  rc=$?
  echo $rc > rc; echo $(( $(date +%s) - s )) > wall
  [ $rc -eq 137 ] && echo "FAIL timeout: case killed after ${t} s" >> log
  grep "^ok \|^FAIL\|^skip \|^SKIP\|^stack:\|^stack build" log | sed "s/^/[$c] /"
  echo "PIFIO-JOB stack $c rc=$rc"
  # Whatever the case left behind must not disturb the next one.
  for d in $(dmsetup ls 2>/dev/null | awk '{print $1}'); do
    cryptsetup close $d 2>/dev/null || dmsetup remove --force $d 2>/dev/null
  done
  dmsetup remove_all --force 2>/dev/null
  for m in /dev/md*; do [ -b $m ] && mdadm --stop $m > /dev/null 2>&1; done
  [ -x /usr/bin/losetup ] && /usr/bin/losetup -D 2>/dev/null
  cd /results
done
'''


def verdict(case_dir: Path) -> dict:
    log = (case_dir / "log").read_text(errors="replace") if (case_dir / "log").exists() else ""
    rc_s = (case_dir / "rc").read_text().strip() if (case_dir / "rc").exists() else ""
    rc = int(rc_s) if rc_s.lstrip("-").isdigit() else None
    wall = (case_dir / "wall").read_text().strip() if (case_dir / "wall").exists() else ""
    lines = [ln for ln in log.splitlines() if re.match(r"(ok |FAIL|skip |SKIP|stack:|stack build|note )", ln)]
    out = {"rc": rc, "lines": lines, "wall_s": float(wall) if wall.isdigit() else None,
           "log_tail": log.splitlines()[-40:]}
    if rc is None:
        out.update(status="fail", reason="no result from the guest (case never finished)")
    elif rc == 77:
        skip = case_dir / "skip.txt"
        out.update(status="skip", reason=skip.read_text().strip() if skip.exists() else "guest skipped")
    elif rc == 0 and not any(ln.startswith("FAIL") for ln in lines):
        out.update(status="pass", reason="")
    else:
        fails = [ln for ln in lines if ln.startswith("FAIL") or ln.startswith("stack build")]
        out.update(status="fail", reason="; ".join(fails) or f"exit {rc}")
    return out


def run_kernel(build_dir: Path, kernel: str, names: list[str], mib: int, out: Path | None,
               timeout: float | None = None) -> tuple[int, dict]:
    try:
        from lab import guest, kernels
        from lab.core.env import PifioError
    except ImportError as e:
        print(f"SKIP: lab not importable ({e})")
        return 77, {}
    if not guest.qemu_available():
        print("SKIP: qemu-system-x86_64 not installed (./pifio setup)")
        return 77, {}
    eng = build_dir / "lib" / "libpifio.so"
    aud = build_dir / "bin" / "pifio-audit"
    for p in (eng, aud):
        if not p.exists():
            print(f"SKIP: {p} not built")
            return 77, {}
    try:
        k = kernels.resolve(kernel)
    except PifioError as e:
        print(f"SKIP: kernel {kernel}: {e}")
        return 77, {}
    uring_pi = int(kernel_version(k.release) >= (6, 14))

    results: dict[str, dict] = {}
    run: list[Case] = []
    names = sorted(names, key=lambda n: n == "zeropage")    # the canary runs last
    for n in names:
        c = CASES[n]
        why = host_skip(c, k)
        if why:
            results[n] = {"status": "skip", "reason": why, "lines": [], "rc": 77}
        else:
            run.append(c)

    namespaces, files, mods, env = [], {}, [], {"PIFIO_STACK_ENGINE": GUEST_ENGINE}
    tools = sorted({EXTRA_TOOLS[t] for c in run for t in case_tools(c)})
    for c in run:
        nsb = len(namespaces)
        for spec, size in case_namespaces(c):
            namespaces.append(guest.Namespace(spec, size=size))
        files[f"/pifio/cases/{c.name}.sh"] = case_script(c, nsb, mib, uring_pi)
        env[f"PF_TIMEOUT_{c.name.replace('-', '_')}"] = str(c.timeout)
        if c.stack:
            m, _ = stacks.guest_modules(c.stack, k)
            mods += [x for x in m if x not in mods]
    if "dm-mod" not in mods and any(c.stack is None for c in run):
        mods.append("dm-mod")
    env["PF_CASES"] = " ".join(c.name for c in run)

    t0 = time.time()
    r = None
    if run:
        budget = timeout or (120 + sum(c.timeout for c in run))
        r = guest.boot_and_run(k, namespaces, script=DRIVER, files=files, modules=mods, timeout=budget,
                               binaries=[(GUEST_ENGINE, eng), ("/usr/bin/pifio-audit", aud)] + tools, env=env,
                               on_line=lambda ln: print(ln, flush=True) if "PIFIO-JOB stack" in ln else None)
        for c in run:
            results[c.name] = verdict(r.results_dir / c.name)
    doc = {"kernel": kernel, "release": k.release, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
           "wall_s": round(time.time() - t0, 1), "namespaces": len(namespaces),
           "guest": {"rc": r.rc if r else None, "timed_out": r.timed_out if r else False,
                     "results_dir": str(r.results_dir) if r else None,
                     "boot_s": r.boot_s if r else None},
           "cases": results}
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=1))
    print(f"\nkernel {k.release}: {len(namespaces)} namespaces, one boot, {doc['wall_s']:.0f} s"
          + (f", results {r.results_dir}" if r else ""))
    for n in names:
        v = results[n]
        print(f"  {n:24} {v['status'].upper():5} {v['reason']}")
        for ln in v.get("lines", []):
            print(f"      {ln}")
    if r is not None and (r.rc is None or r.timed_out):
        print("FAIL: guest did not finish: " + r.why())
        return 1, results
    return 0, results


def show_result(path: Path, case: str) -> int:
    if not path.exists():
        print(f"FAIL: no results file {path} (the boot test stack.<kernel>.boot did not run or died)")
        return 1
    doc = json.loads(path.read_text())
    v = doc["cases"].get(case)
    if v is None:
        print(f"FAIL: {path} has no case {case}")
        return 1
    print(f"{case} on {doc['release']} (boot at {doc['time']}, {doc['guest'].get('results_dir')}):")
    for ln in v.get("lines", []):
        print("  " + ln)
    if v["status"] == "fail":
        print("  --- log tail ---")
        for ln in v.get("log_tail", []):
            print("  " + ln)
        print(f"FAIL: {v['reason']}")
        return 1
    if v["status"] == "skip":
        print(f"SKIP: {v['reason']}")
        return 77
    print("PASS")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", type=Path, default=ROOT / "build")
    ap.add_argument("--kernel", default="7.3")
    ap.add_argument("--cases", default=",".join(CASES), help="comma list (default: all): " + ", ".join(CASES))
    ap.add_argument("--mib", type=int, default=32)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--timeout", type=float)
    ap.add_argument("--result", type=Path, help="read a results file instead of booting")
    ap.add_argument("--case")
    a = ap.parse_args(argv)
    if a.result:
        return show_result(a.result, a.case)
    names = [n for n in a.cases.split(",") if n]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        ap.error(f"unknown cases {unknown}; known: {', '.join(CASES)}")
    if a.out and a.out.exists():
        a.out.unlink()
    rc, results = run_kernel(a.build_dir, a.kernel, names, a.mib, a.out, a.timeout)
    if rc == 0 and not a.out and any(v["status"] == "fail" for v in results.values()):
        return 1    # by hand: any failed case fails the run
    return rc


if __name__ == "__main__":
    sys.exit(main())
