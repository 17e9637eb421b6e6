"""Shared bits of the kernel tests: import path, skips with reasons."""
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def skip(why: str):
    print(f"SKIP: {why}")
    sys.exit(77)


def need_build_tools():
    for tool, pkg in [("make", "make"), ("gcc", "gcc"), ("flex", "flex"), ("bison", "bison"),
                      ("bc", "bc"), ("git", "git")]:
        if not shutil.which(tool):
            skip(f"{tool} missing (Debian package {pkg}); ./pifio setup installs kernel build dependencies")
    if not Path("/usr/include/libelf.h").exists():
        skip("libelf-dev missing (objtool needs it for the lab kernel)")


def need_lab(dm=True):
    if not shutil.which("qemu-system-x86_64"):
        skip("qemu-system-x86_64 missing (./pifio setup)")
    if os.environ.get("PIFIO_NO_LAB"):
        skip("PIFIO_NO_LAB is set")
    try:
        from lab.guest import initramfs  # noqa: F401
    except ImportError as e:
        skip(f"lab runtime (lab.guest) not available: {e}")
    tools = {g for g, _ in initramfs.default_binaries()}
    if "/usr/bin/fio" not in tools:
        skip("no fio 3.41 build for the guest (./pifio setup)")
    if dm and "/usr/bin/dmsetup" not in tools:
        skip("dmsetup missing on the host (Debian package dmsetup)")
