#!/usr/bin/env python3
"""Bad input on block devices gives clear errors (ctest; 0 pass, 1 fail, 77 skip).

  badinput_lab.py --build-dir BUILD --kernel 6.1

One boot with a PI namespace (nsid 1) and one without (nsid 2), dm-linear over
nsid 1. Each case runs fio with the engine, must exit non-zero, and must print
the expected message:
  - pi_mode=uring-pi on a kernel without io_uring PI attributes (< 6.14);
    on newer kernels: uring-pi on a device without integrity;
  - pi_audit naming a namespace that is not under the target;
  - pi_mode=kernel on a device without integrity and no pi_audit.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

GUEST_ENGINE = "/usr/lib/pifio/libpifio-stack.so"

SCRIPT = r'''
export DM_DISABLE_UDEV=1
M=$(cat /sys/block/$(basename $PIFIO_BLK_1)/dev)
dmsetup create pflin --table "0 65536 linear $M 8192" || exit 3
fail=0
expect() {  # name, pattern, fio args...
  name=$1; pat=$2; shift 2
  fio --name=$name --ioengine=external:$PIFIO_STACK_ENGINE --rw=write --bs=64k --size=1M "$@" > /results/$name.log 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then echo "FAIL $name: fio exited 0"; fail=1; return; fi
  if grep -q "$pat" /results/$name.log; then echo "ok   $name: $(grep -m1 "$pat" /results/$name.log)"
  else echo "FAIL $name: no '$pat' in:"; tail -5 /results/$name.log; fail=1; fi
}
if [ "$URING_PI" = 0 ]; then
  expect uring-pi-old-kernel "lacks io_uring PI attributes (needs 6.14+); use pi_mode=kernel" \
    --filename=$PIFIO_BLK_1 --pi_mode=uring-pi --pi_act=0
else
  expect uring-pi-no-integrity "has no integrity profile" --filename=$PIFIO_BLK_2 --pi_mode=uring-pi --pi_act=0
fi
expect audit-not-under "is not under /dev/mapper/pflin" --filename=/dev/mapper/pflin --pi_audit=$PIFIO_NG_2
expect kernel-no-integrity "so the kernel generates no PI for it" --filename=$PIFIO_BLK_2 --pi_mode=kernel
exit $fail
'''


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", type=Path, default=ROOT / "build")
    ap.add_argument("--kernel", default="6.1")
    a = ap.parse_args(argv)
    try:
        from lab import guest, kernels
        from lab.common import PifioError
    except ImportError as e:
        print(f"SKIP: lab not importable ({e})")
        return 77
    if not guest.qemu_available():
        print("SKIP: qemu-system-x86_64 not installed")
        return 77
    eng = a.build_dir / "lib" / "libpifio.so"
    if not eng.exists():
        print(f"SKIP: {eng} not built")
        return 77
    try:
        k = kernels.resolve(a.kernel)
    except PifioError as e:
        print(f"SKIP: kernel {a.kernel}: {e}")
        return 77
    major, minor = (int(x) for x in k.release.split("-")[0].split("+")[0].split(".")[:2])
    uring_pi = 1 if (major, minor) >= (6, 14) else 0
    r = guest.boot_and_run(k, ["4096+8/t1", "4096+0"], script=SCRIPT, modules=["dm-mod"], timeout=300,
                           binaries=[(GUEST_ENGINE, eng)],
                           env={"PIFIO_STACK_ENGINE": GUEST_ENGINE, "URING_PI": str(uring_pi)})
    print(r.text("scenario.log")[-4000:])
    if r.rc != 0:
        print("FAIL: " + r.why())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
