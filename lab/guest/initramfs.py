"""Guest initramfs: newc cpio archives, written in Python (no cpio tool needed).

A boot's initrd is the concatenation of (the kernel unpacks each in turn):
  base   busybox-static + /init + host binaries and their shared libraries
         (fio, libpifio.so, pitool, nvme-cli, dmsetup, cryptsetup, …);
         cached in CACHE/initramfs/base-<hash>.cpio, hash over every file's content
  mods   the modules a boot needs and their dependencies, decompressed,
         with /pifio/modules.list in load order; cached per kernel + module set
  run    the scenario script, its files, the namespace list (per boot, small)
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

from ..core.env import BUILD, CACHE, PifioError, hash_strings, log
from ..kernels.registry import Kernel, read_module

IDIR = CACHE / "initramfs"
INIT = Path(__file__).resolve().parent / "init.sh"
GUEST_ENGINE = "/usr/lib/pifio/libpifio.so"

# Host tools that go into every guest, when present: (guest path, host path candidates, Debian package).
# fio prefers our build, then the fio tree built by ./pifio setup.
def _fio_candidates() -> list[Path]:
    c = [BUILD / "bin" / "fio"]
    c += sorted((CACHE / "fio").glob("3.41-*/fio"))
    return c


def default_binaries() -> list[tuple[str, Path]]:
    """(guest path, host path) of every tool the guest gets; missing optional
    ones are left out (the scenario's requirements decide whether that matters)."""
    out: list[tuple[str, Path]] = []
    fio = next((p for p in _fio_candidates() if p.exists()), None)
    if fio:
        out.append(("/usr/bin/fio", fio))
    for guest, host in [(GUEST_ENGINE, BUILD / "lib" / "libpifio.so"),
                        ("/usr/bin/pitool", BUILD / "bin" / "pitool")]:
        if host.exists():
            out.append((guest, host))
    for tool in ["/usr/sbin/nvme", "/usr/sbin/dmsetup", "/usr/sbin/cryptsetup",
                 "/usr/sbin/integritysetup", "/usr/sbin/veritysetup", "/usr/sbin/blkdiscard"]:
        p = Path(tool)
        if p.exists():
            out.append((f"/usr/bin/{p.name}", p))
    return out


# ---------------------------------------------------------------- cpio ---

class Cpio:
    """Minimal newc writer. Directories are created implicitly for every path."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1000
        self.dirs: set[str] = set()

    def _hdr(self, name: str, mode: int, size: int, nlink: int = 1, rdev=(0, 0)) -> None:
        name_b = name.encode() + b"\0"
        self.ino += 1
        fields = [self.ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev[0], rdev[1], len(name_b), 0]
        self.buf.write(b"070701" + b"".join(b"%08X" % f for f in fields))
        self.buf.write(name_b)
        self._pad()

    def _pad(self) -> None:
        pad = (-self.buf.tell()) % 4
        if pad:
            self.buf.write(b"\0" * pad)

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        path = path.strip("/")
        if not path or path in self.dirs:
            return
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        if parent:
            self.mkdir(parent)
        self.dirs.add(path)
        self._hdr(path, stat.S_IFDIR | mode, 0, nlink=2)

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        path = path.strip("/")
        if "/" in path:
            self.mkdir(path.rsplit("/", 1)[0])
        self._hdr(path, stat.S_IFREG | mode, len(data))
        self.buf.write(data)
        self._pad()

    def symlink(self, path: str, target: str) -> None:
        path = path.strip("/")
        if "/" in path:
            self.mkdir(path.rsplit("/", 1)[0])
        t = target.encode()
        self._hdr(path, stat.S_IFLNK | 0o777, len(t))
        self.buf.write(t)
        self._pad()

    def chardev(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        path = path.strip("/")
        if "/" in path:
            self.mkdir(path.rsplit("/", 1)[0])
        self._hdr(path, stat.S_IFCHR | mode, 0, rdev=(major, minor))

    def bytes(self) -> bytes:
        self._hdr("TRAILER!!!", 0, 0)
        b = self.buf.getvalue()
        return b + b"\0" * ((-len(b)) % 512)

    def save(self, out: Path) -> Path:
        """Write the finished archive to `out` atomically (a cache entry is
        either complete or absent, also when two runs build it at once)."""
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(self.bytes())
        tmp.replace(out)
        return out


# ------------------------------------------------------------ libraries --

_LDD_RE = re.compile(r"^\s*(?:\S+\s+=>\s+)?(/\S+)\s+\(0x")


def shared_libs(path: Path) -> list[Path]:
    """Absolute paths of the shared libraries (and loader) a binary needs (ldd)."""
    r = subprocess.run(["ldd", str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if "not a dynamic executable" in r.stdout or "statically linked" in r.stdout:
        return []
    libs = []
    for line in r.stdout.splitlines():
        if "not found" in line:
            raise PifioError(f"{path}: shared library missing on the host: {line.strip()} — run ./pifio setup")
        m = _LDD_RE.match(line)
        if m:
            libs.append(Path(m.group(1)))
    return libs


def _busybox() -> Path:
    p = Path("/bin/busybox")
    r = subprocess.run(["ldd", str(p)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) \
        if p.exists() else None
    if r is None or ("not a dynamic" not in r.stdout and "statically" not in r.stdout):
        raise PifioError("static busybox not found at /bin/busybox; run ./pifio setup "
                         "(installs Debian package busybox-static)")
    return p


# ------------------------------------------------------------------ base --

def base(extra_binaries: list[tuple[str, Path]] | None = None) -> Path:
    """The base archive (busybox, /init, tools + libraries), cached by content."""
    bins = default_binaries() + list(extra_binaries or [])
    busybox = _busybox()
    files: dict[str, Path] = {"/bin/busybox": busybox}
    for guest, host in bins:
        files[guest] = host
        for lib in shared_libs(host):
            files.setdefault(str(lib), lib.resolve())
    # glibc dlopens libgcc_s for pthread_cancel/unwinding; ldd does not list it.
    for extra in ["/lib/x86_64-linux-gnu/libgcc_s.so.1"]:
        if Path(extra).exists():
            files.setdefault(extra, Path(extra).resolve())
    h = hashlib.sha256(INIT.read_bytes())
    for guest in sorted(files):
        h.update(f"{guest}\0".encode())
        h.update(hashlib.sha256(files[guest].read_bytes()).digest())
    key = h.hexdigest()[:16]
    out = IDIR / f"base-{key}.cpio"
    if out.exists():
        return out
    c = Cpio()
    for d in ["bin", "sbin", "usr/bin", "usr/sbin", "lib", "lib64", "proc", "sys", "dev", "tmp",
              "run", "results", "etc", "mnt", "var", "root", "pifio"]:
        c.mkdir(d)
    c.chardev("dev/console", 5, 1)
    c.chardev("dev/null", 1, 3, 0o666)
    c.file("init", INIT.read_bytes(), 0o755)
    c.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    c.file("etc/group", b"root:x:0:\n")
    for guest, host in sorted(files.items()):
        c.file(guest, host.read_bytes(), 0o755)
    c.symlink("bin/sh", "busybox")
    c.file("pifio/binaries.txt", "".join(f"{g}\t{h}\n" for g, h in sorted(files.items())).encode())
    c.save(out)
    log(f"initramfs base {out.name}: {len(files)} files, {out.stat().st_size >> 20} MiB")
    return out


# --------------------------------------------------------------- modules --

BASE_MODULES = ["virtio_pci", "virtio_blk"]   # the results disk

# CPU-feature modules that udev loads at boot on a real system (their
# modaliases match CPU flags the lab's `-cpu max` has): the guest must not
# measure a kernel slower than it runs on hardware. Above all crct10dif-pclmul:
# Debian 6.1 / 6.12 build the T10-DIF CRC's accelerated version as a module
# (7.x has it built into lib/crc); without it the kernel's PI generation and
# verification run the generic table CRC (~3x the guest CPU of no PI per 4 KiB
# I/O in the PI cost table, against ~1.25x with it). Loaded when the kernel
# has them as modules; skipped when built in or absent.
CPU_MODULES = ["crct10dif-pclmul", "crc32c-intel", "crc32-pclmul"]


def modules(kernel: Kernel, names: list[str]) -> tuple[Path, list[str]]:
    """Archive of the modules (with dependencies, decompressed) and their load order."""
    cpu = [m for m in CPU_MODULES if kernel.modules is not None and kernel.has_module(m) and not kernel.is_builtin(m)]
    want = list(dict.fromkeys(BASE_MODULES + cpu + list(names)))
    if kernel.modules is None:
        # A kernel without modules (e.g. a tiny build with everything built in): nothing to load.
        return _empty_modules(), []
    order = kernel.module_order(want)
    key = hash_strings(str(kernel.bzimage.resolve()), kernel.release, *order,
                       str((kernel.modules / "modules.dep").stat().st_mtime_ns))[:16]
    out = IDIR / f"mods-{key}.cpio"
    guest_names = [f"/lib/modules/{kernel.release}/{_plain(p)}" for p in order]
    if out.exists():
        return out, guest_names
    c = Cpio()
    for rel, guest in zip(order, guest_names):
        c.file(guest, read_module(kernel.modules / rel))
    c.file("pifio/modules.list", "".join(g + "\n" for g in guest_names).encode())
    c.save(out)
    return out, guest_names


def _plain(rel: str) -> str:
    for suf in (".xz", ".zst", ".gz"):
        if rel.endswith(suf):
            return rel[: -len(suf)]
    return rel


def _empty_modules() -> Path:
    out = IDIR / "mods-none.cpio"
    if not out.exists():
        IDIR.mkdir(parents=True, exist_ok=True)
        c = Cpio()
        c.file("pifio/modules.list", b"")
        c.save(out)     # atomic: parallel ctest boots may build it at once
    return out


# ------------------------------------------------------------------- run --

def run_archive(script: str, files: dict[str, bytes | str | Path], env: dict[str, str]) -> bytes:
    c = Cpio()
    c.file("pifio/scenario.sh", script.encode(), 0o755)
    c.file("pifio/env.sh", "".join(f"export {k}={_shq(v)}\n" for k, v in env.items()).encode())
    for guest, src in files.items():
        if isinstance(src, Path):
            data = src.read_bytes()
            mode = 0o755 if os.access(src, os.X_OK) else 0o644
        else:
            data = src.encode() if isinstance(src, str) else bytes(src)
            mode = 0o644
        c.file(guest, data, mode)
    return c.bytes()


def _shq(v: str) -> str:
    return "'" + str(v).replace("'", "'\\''") + "'"


def assemble(dest: Path, parts: list[Path], run_bytes: bytes) -> Path:
    """Concatenate archives into one initrd file for QEMU -initrd."""
    with open(dest, "wb") as out:
        for p in parts:
            with open(p, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
        out.write(run_bytes)
    return dest
