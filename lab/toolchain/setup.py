"""./pifio setup — everything a fresh Debian bookworm machine needs, idempotent.

1. Debian packages (apt-get install, only what is missing).
2. fio sources through the private apt configuration (never the system's
   sources), pinned by sha256, built with --disable-native (the binary also
   runs in TCG guests without AVX-512) in the cache, keyed by content.
3. The lab's kernels (lab.kernels).
4. versions.json in the cache and in build/ recording what was used.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from .. import kernels as lab_kernels
from ..core import apt
from ..core.env import CACHE, PifioError, hash_strings, log, run, write_json

# Debian (bookworm) packages and why.
PACKAGES = {
    # build
    "build-essential": "compilers", "cmake": "build", "ninja-build": "build", "pkg-config": "build",
    "libgtest-dev": "unit tests", "libbenchmark-dev": "benchmarks",
    "clang-14": "fuzz targets (libFuzzer)", "libclang-rt-14-dev": "libFuzzer + sanitizer runtimes",
    "liburing-dev": "io_uring", "libnvme-dev": "NVMe Identify", "nlohmann-json3-dev": "engine pi_report JSON", "libisal-dev": "ISA-L CRC comparison",
    "zlib1g-dev": "fio build", "dpkg-dev": "apt-get source",
    # lab kernel builds (./pifio kernel build): kconfig, objtool, timeconst, series in git
    "flex": "kernel build", "bison": "kernel build", "libelf-dev": "kernel build (objtool)",
    "bc": "kernel build", "libssl-dev": "kernel build (certs tooling)", "git": "kernel series and bisect",
    # lab
    "qemu-system-x86": "lab guests", "qemu-utils": "lab images", "busybox-static": "guest userland",
    "nvme-cli": "guest + host NVMe tool", "cryptsetup-bin": "dm-crypt/dm-integrity stacks",
    "dmsetup": "dm stacks", "mdadm": "md raid stacks (guest)", "cpio": "initramfs", "xz-utils": "kernel modules", "zstd": "kernel packages",
    "kmod": "modules", "file": "binary checks",
    # analysis
    "python3-matplotlib": "plots", "python3-numpy": "statistics", "python3-pytest": "python tests",
    "python3-hypothesis": "property tests of the parsers",
    "chromium": "dashboard screenshot test",
}

# fio sources (DESIGN §4). 3.41 (sid) is the fio the engine is built for;
# 3.33 (bookworm) is the distro fio, for the compat build of the engine.
FIO_SOURCES = {
    "3.41": ("fio", "3.41-2", "fio_3.41.orig.tar.gz",
             "a40b45112005e30a67bab6be4860b198c35104a628b6ec4d15720d62b5d1bab9"),
    "3.33": ("fio", "3.33-3", "fio_3.33.orig.tar.gz",
             "d2410e13e0f379d061d077cc5ae325835bb7c6186aa7bafc1df954cbc9b014fc"),
}
FIO_CONFIGURE = ["--disable-native"]


def missing_packages() -> list[str]:
    r = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n", *PACKAGES],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    installed = {line.split()[0] for line in r.stdout.splitlines() if len(line.split()) > 1 and line.split()[1] == "ii"}
    return [p for p in PACKAGES if p not in installed]


def install_packages() -> None:
    missing = missing_packages()
    if not missing:
        return
    if os.geteuid() != 0:
        raise PifioError(f"missing Debian packages {' '.join(missing)}: run ./pifio setup as root "
                         f"(or apt-get install them)")
    log(f"installing {len(missing)} Debian packages: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "-q", "-o", "DPkg::Lock::Timeout=900", "update"], env=env, quiet=True)
    run(["apt-get", "-q", "-y", "-o", "DPkg::Lock::Timeout=900", "install", "--no-install-recommends", *missing], env=env, quiet=True)
    still = missing_packages()
    if still:
        raise PifioError(f"apt-get could not install: {' '.join(still)}")


def fio_tree(version: str) -> Path:
    """Cache path of the built fio tree for a version (content-keyed)."""
    _, _, _, sha = FIO_SOURCES[version]
    key = hash_strings(sha, *FIO_CONFIGURE)[:8]
    return CACHE / "fio" / f"{version}-{sha[:12]}-{key}"


def ensure_fio(version: str) -> Path:
    pkg, ver, fname, sha = FIO_SOURCES[version]
    tree = fio_tree(version)
    stamp = tree / ".pifio-built"
    if stamp.exists() and (tree / "fio").exists():
        return tree
    tarball = apt.fetch_source_tarball(pkg, ver, fname, sha)
    tmp = tree.with_name(tree.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with tarfile.open(tarball) as t:
        top = t.getnames()[0].split("/")[0]
        t.extractall(tmp)
    src = tmp / top
    log(f"building fio {version} (--disable-native) in {tree}")
    run(["./configure", *FIO_CONFIGURE], cwd=src, quiet=True)
    run(["make", f"-j{os.cpu_count() or 2}"], cwd=src, quiet=True)
    shutil.rmtree(tree, ignore_errors=True)
    src.rename(tree)
    shutil.rmtree(tmp, ignore_errors=True)
    stamp.write_text(f"{fname} {sha} {' '.join(FIO_CONFIGURE)}\n")
    return tree


def versions(trees: dict[str, Path], kernels: dict) -> dict:
    def pkgver(p):
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", p], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
        return r.stdout.strip() or None
    return {
        "fio": {v: {"tree": str(t), "tarball": FIO_SOURCES[v][2], "sha256": FIO_SOURCES[v][3],
                    "configure": FIO_CONFIGURE} for v, t in trees.items()},
        "packages": {p: pkgver(p) for p in ("liburing-dev", "libnvme-dev", "libisal-dev", "libbenchmark-dev",
                                            "libgtest-dev", "qemu-system-x86", "nvme-cli", "cryptsetup-bin",
                                            "python3-matplotlib")},
        "kernels": kernels,
    }


def setup(with_kernels: bool = True) -> dict:
    install_packages()
    trees = {v: ensure_fio(v) for v in FIO_SOURCES}
    kernels = lab_kernels.ensure_all() if with_kernels else {}
    info = versions(trees, kernels)
    write_json(CACHE / "versions.json", info)
    return info
