#!/usr/bin/env python3
"""One stack x one kernel in a QEMU guest (ctest; exit 0 pass, 1 fail, 77 skip).

  stack_lab.py --build-dir BUILD --kernel 7.3 --stack dm-linear [--mib 32]

In one boot: build the stack (lab/stacks.py), write >= 32 MiB through it with
the pifio engine (block backend, the kernel's PI path) and read-verify it
with fio's verify, then audit the PI the kernel left on the media:
  map   pi_audit in the engine (blocks written -> physical LBAs, guard + ref)
        and pifio-audit check over the same range;
  scan  pifio-audit scan of the bottom namespace (every written block verifies);
  none  no PI under the stack (dm-integrity on a namespace without PI).
dm-linear stacks also run the remapping check: blocks written through
segment 2 are found by a raw scan of the namespace at the physical LBAs of
segment 2 (found independently of the dm mapper), with their ref tags.
A skip (kernel lacks a module or feature) prints its reason and exits 77.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lab import stacks  # noqa: E402

GUEST_ENGINE = "/usr/lib/pifio/libpifio-stack.so"

CHECKS = r'''
set -u
stack_build || exit $?
echo "stack: $STACK_NAME top=$STACK_TOP bytes=$STACK_BYTES audit=$STACK_AUDIT pi: $STACK_PI"
ENG=$PIFIO_STACK_ENGINE
SZ=$((MIB * 1048576)); [ $SZ -gt $((STACK_BYTES / 2 * 2)) ] && SZ=$((STACK_BYTES / 1048576 / 2 * 1048576))
AUD=""; [ "$STACK_AUDIT" = map ] && AUD="--pi_audit=$STACK_AUDIT_NG"
fail=0
fio --name=rw --filename=$STACK_TOP --ioengine=external:$ENG --rw=write --bs=1M --size=$SZ --iodepth=4 \
    --verify=crc32c --do_verify=1 --verify_fatal=1 $AUD --pi_report=/results/pi-report.json \
    --output-format=json --output=/results/fio-rw.json > /results/fio-rw.log 2>&1
rc=$?; cat /results/fio-rw.log | grep -v "^$" | tail -8
grep -h '"err"' /results/fio-rw.json | head -2
[ $rc -eq 0 ] || { echo "FAIL: write + read-verify through $STACK_NAME exited $rc"; fail=1; }
grep -q "pi_audit.* 0 bad" /results/fio-rw.log || [ "$STACK_AUDIT" != map ] || { echo "FAIL: engine pi_audit not clean"; fail=1; }
case $STACK_AUDIT in
map)
  pifio-audit check --top $STACK_TOP --ng $STACK_AUDIT_NG --format $STACK_AUDIT_FMT --range 0:$SZ --max 8 \
    || { echo "FAIL: pifio-audit check"; fail=1; } ;;
scan)
  pifio-audit scan --ng $STACK_AUDIT_NG --format $STACK_AUDIT_FMT --max 8 > /results/scan.txt; rc=$?
  cat /results/scan.txt | tail -3
  [ $rc -eq 0 ] || { echo "FAIL: pifio-audit scan"; fail=1; }
  # The scan must have seen our writes (not only unwritten blocks).
  w=$(sed -n 's/.*blocks=\([0-9]*\).*unwritten=\([0-9]*\).*/\1 \2/p' /results/scan.txt)
  set -- $w; [ $(( $1 - $2 )) -ge $((SZ / 4096)) ] || { echo "FAIL: scan found $(( $1 - $2 )) written blocks, want >= $((SZ / 4096))"; fail=1; } ;;
none) echo "audit: n/a (no PI under $STACK_NAME)" ;;
esac
if [ -n "${STACK_SEG2_DM:-}" ]; then
  fio --name=seg2 --filename=$STACK_TOP --ioengine=external:$ENG --rw=write --bs=256k --offset=$STACK_SEG2_DM \
      --size=4M --iodepth=2 > /results/fio-seg2.log 2>&1 || { echo "FAIL: write to segment 2"; fail=1; }
  L=$((STACK_SEG2_PHYS / 4096))
  echo "remap: dm offset $STACK_SEG2_DM -> physical LBA $L (from the table we built, not from the mapper)"
  pifio-audit scan --ng $STACK_AUDIT_NG --format $STACK_AUDIT_FMT --lba $L --count 1024 --max 4 | tee /results/remap.txt
  grep -q "blocks=1024 bad=0 unwritten=0 " /results/remap.txt || { echo "FAIL: segment-2 blocks not at their physical LBAs with ref tags = physical LBA"; fail=1; }
  pifio-audit map --top $STACK_TOP --range $STACK_SEG2_DM:4096 | tee -a /results/remap.txt
fi
stack_teardown
exit $fail
'''


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", type=Path, default=ROOT / "build")
    ap.add_argument("--kernel", default="7.3")
    ap.add_argument("--stack", required=True)
    ap.add_argument("--mib", type=int, default=32)
    ap.add_argument("--timeout", type=float, default=420)
    a = ap.parse_args(argv)

    try:
        from lab import guest, kernels
        from lab.common import PifioError
    except ImportError as e:
        print(f"SKIP: lab not importable ({e})")
        return 77
    if not guest.qemu_available():
        print("SKIP: qemu-system-x86_64 not installed (./pifio setup)")
        return 77
    eng = a.build_dir / "lib" / "libpifio.so"
    aud = a.build_dir / "bin" / "pifio-audit"
    for p in (eng, aud):
        if not p.exists():
            print(f"SKIP: {p} not built")
            return 77
    st = stacks.get(a.stack)
    try:
        k = kernels.resolve(a.kernel)
    except PifioError as e:
        print(f"SKIP: kernel {a.kernel}: {e}")
        return 77
    why = stacks.skip_reason(st, k)
    if why:
        print(f"SKIP: {why}")
        return 77
    mods, _ = stacks.guest_modules(st, k)
    script = stacks.script(st) + f"MIB={a.mib}\n" + CHECKS
    r = guest.boot_and_run(k, [guest.Namespace(f, size=st.ns_size) for f in st.namespaces], script=script,
                           modules=mods, timeout=a.timeout,
                           binaries=[(GUEST_ENGINE, eng), ("/usr/bin/pifio-audit", aud)],
                           env={"PIFIO_STACK_ENGINE": GUEST_ENGINE})
    print(r.text("scenario.log")[-6000:])
    print(f"[{a.stack} on {k.release}: rc={r.rc} wall={r.wall_s:.0f}s results={r.results_dir}]")
    if r.rc == 77:
        skip = r.results_dir / "skip.txt"
        print("SKIP: " + (skip.read_text().strip() if skip.exists() else "guest skipped"))
        return 77
    if r.rc != 0:
        print("FAIL: " + r.why())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
