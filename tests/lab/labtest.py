"""Shared bits of the lab tests: skip (exit 77) with a reason, check helpers.

Each test is a small script run by Debian's /usr/bin/python3 from ctest; it
prints what it checks and exits 0 (pass), 1 (fail) or 77 (skip, reason printed).
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lab import guest, kernels  # noqa: E402
from lab.core.env import PifioError  # noqa: E402

SKIP = 77
_failures: list[str] = []


def skip(reason: str):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def need_qemu():
    if not guest.qemu_available():
        skip("qemu-system-x86_64 not installed (./pifio setup installs qemu-system-x86)")


def need_kernel(name: str):
    try:
        return kernels.resolve(name, fetch_missing=False)
    except PifioError as e:
        skip(str(e))


def need_fio_in_guest():
    from lab.guest import initramfs
    if not any(g == "/usr/bin/fio" for g, _ in initramfs.default_binaries()):
        skip("no fio 3.41 build (build/bin/fio or the setup cache); run ./pifio setup")


def check(cond: bool, what: str) -> bool:
    print(f"{'ok  ' if cond else 'FAIL'} {what}")
    if not cond:
        _failures.append(what)
    return cond


def finish() -> int:
    if _failures:
        print(f"{len(_failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0
