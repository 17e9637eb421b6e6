"""The registry of lab kernels: names -> pinned Debian packages, paths -> bzImages.

Names in lab/kernels.json (6.1, 6.12, 7.3) are Debian cloud kernels, pinned
by package version and sha256, fetched with the private apt configuration and
unpacked into CACHE/kernels/<name>-<pkgver>/:

    vmlinuz                    the bzImage
    lib/modules/<release>/     modules as shipped (.ko or .ko.xz) + modules.dep (depmod -b)
    kernel.json                name, release, packages — goes into every result's meta

Anything else is a path: a bzImage file, or a directory holding bzImage (or
vmlinuz, or arch/x86/boot/bzImage) and optionally lib/modules/<release>/ —
what `./pifio kernel build` produces. Modules are decompressed when an
initramfs is packed (lab.guest.initramfs), not here.
"""
from __future__ import annotations

import gzip
import json
import lzma
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..core.apt import fetch_deb
from ..core.env import CACHE, PifioError, log, read_json, run, write_json

MANIFEST = Path(__file__).resolve().parent / "kernels.json"
KDIR = CACHE / "kernels"
DEFAULT = "7.3"


@dataclass
class Kernel:
    name: str                 # "7.3", or the path it came from
    release: str              # uname -r
    bzimage: Path
    modules: Path | None      # lib/modules/<release> with modules.dep, or None (no modules)
    meta: dict = field(default_factory=dict)   # packages, versions, patch series …

    # ------------------------------------------------------------ modules
    def _dep(self) -> dict[str, list[str]]:
        if getattr(self, "_depcache", None) is None:
            dep: dict[str, list[str]] = {}
            if self.modules and (self.modules / "modules.dep").exists():
                for line in (self.modules / "modules.dep").read_text().splitlines():
                    if ":" not in line:
                        continue
                    mod, deps = line.split(":", 1)
                    dep[mod.strip()] = deps.split()
            self._depcache = dep
            self._byname = {_modname(p): p for p in dep}
            builtin = set()
            if self.modules and (self.modules / "modules.builtin").exists():
                builtin = {_modname(p) for p in (self.modules / "modules.builtin").read_text().split()}
            self._builtin = builtin
        return self._depcache

    def has_module(self, name: str) -> bool:
        self._dep()
        n = _norm(name)
        return n in self._byname or n in self._builtin

    def is_builtin(self, name: str) -> bool:
        self._dep()
        return _norm(name) in self._builtin

    def module_order(self, names) -> list[str]:
        """Relative paths (as in modules.dep) of the named modules and their
        dependencies, in load order. Built-in modules are skipped; an unknown
        module is an error naming the kernel."""
        dep = self._dep()
        out: list[str] = []
        seen: set[str] = set()

        def visit(path: str, stack: tuple) -> None:
            if path in seen:
                return
            if path in stack:
                raise PifioError(f"module dependency cycle at {path}")
            for d in dep.get(path, []):
                visit(d, stack + (path,))
            seen.add(path)
            out.append(path)

        for name in names:
            n = _norm(name)
            if n in self._builtin:
                continue
            if n not in self._byname:
                raise PifioError(f"kernel {self.name} ({self.release}) has no module {name!r}"
                                 + ("" if self.modules else " (no modules directory given)"))
            visit(self._byname[n], ())
        return out

    def describe(self) -> dict:
        return {"name": self.name, "release": self.release, "bzimage": str(self.bzimage), **self.meta}


def _norm(name: str) -> str:
    return name.replace("-", "_")


def _modname(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    for suf in (".ko.xz", ".ko.zst", ".ko.gz", ".ko"):
        if base.endswith(suf):
            base = base[: -len(suf)]
            break
    return _norm(base)


def read_module(path: Path) -> bytes:
    """A module file's bytes, decompressed (xz / zst / gz) for busybox insmod."""
    s = str(path)
    if s.endswith(".xz"):
        return lzma.decompress(path.read_bytes())
    if s.endswith(".zst"):
        return subprocess.run(["zstd", "-dc", s], check=True, stdout=subprocess.PIPE).stdout
    if s.endswith(".gz"):
        return gzip.decompress(path.read_bytes())
    return path.read_bytes()


# ------------------------------------------------------------- manifest ---

def manifest() -> dict:
    m = json.loads(MANIFEST.read_text())
    return {k: v for k, v in m.items() if not k.startswith("_")}


def names() -> list[str]:
    return list(manifest())


def _dir_for(name: str, entry: dict) -> Path:
    return KDIR / f"{name}-{entry['packages'][0]['version']}"


def is_fetched(name: str) -> bool:
    entry = manifest().get(name)
    return bool(entry) and (_dir_for(name, entry) / "kernel.json").exists()


def fetch(name: str) -> Path:
    """Download (pinned, verified) and unpack a manifest kernel; idempotent."""
    entry = manifest().get(name)
    if entry is None:
        raise PifioError(f"unknown kernel {name!r}: known {', '.join(names())}, or give a bzImage path")
    dest = _dir_for(name, entry)
    if (dest / "kernel.json").exists():
        return dest
    try:
        debs = [fetch_deb(p["name"], p["version"], p["sha256"]) for p in entry["packages"]]
    except PifioError as e:
        raise PifioError(f"kernel {name}: {e}\nThe archive may have dropped the pinned version: check "
                         f"`apt-cache policy` for the packages in {MANIFEST.name} and update the pins") from None
    rel = entry["release"]
    KDIR.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=KDIR))
    try:
        raw = tmp / "raw"
        for deb in debs:
            run(["dpkg-deb", "-x", deb, raw], quiet=True)
        out = tmp / "out"
        (out / "lib" / "modules").mkdir(parents=True)
        vmlinuz = next((p for p in [raw / "boot" / f"vmlinuz-{rel}",
                                    raw / "usr/lib/modules" / rel / "vmlinuz",
                                    raw / "usr/lib/modules" / rel / "vmlinuz.unsigned"] if p.exists()), None)
        if vmlinuz is None:
            raise PifioError(f"kernel {name}: no vmlinuz for {rel} in {', '.join(d.name for d in debs)}")
        shutil.copy2(vmlinuz, out / "vmlinuz")
        moddir = next((p for p in [raw / "lib/modules" / rel, raw / "usr/lib/modules" / rel] if p.exists()), None)
        if moddir is None:
            raise PifioError(f"kernel {name}: no lib/modules/{rel} in the packages")
        shutil.move(str(moddir), out / "lib" / "modules" / rel)
        for p in (out / "lib/modules" / rel).glob("vmlinuz*"):
            p.unlink()
        cfg = raw / "boot" / f"config-{rel}"
        if cfg.exists() and not (out / "lib/modules" / rel / "config").exists():
            shutil.copy2(cfg, out / "lib/modules" / rel / "config")
        # Debian generates modules.dep at install time (postinst); do it here.
        run(["depmod", "-b", out, rel], quiet=True)
        write_json(out / "kernel.json", {"name": name, "release": rel, "suite": entry["suite"],
                                         "upstream": entry.get("upstream"),
                                         "packages": entry["packages"], "patches": []})
        if dest.exists():
            shutil.rmtree(dest)
        shutil.move(str(out), dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"kernel {name} ({rel}) unpacked in {dest}")
    return dest


def ensure_all() -> dict:
    """For ./pifio setup (lab.toolchain.setup): fetch every manifest kernel;
    returns {name: {release, dir, packages}} for versions.json."""
    out = {}
    for n in names():
        d = fetch(n)
        meta = read_json(d / "kernel.json")
        out[n] = {"release": meta["release"], "dir": str(d),
                  "packages": {p["name"]: p["version"] for p in meta["packages"]}}
    return out


# --------------------------------------------------------------- resolve --

def bzimage_release(path: Path) -> str:
    """uname -r of a bzImage, from its setup header (kernel_version field)."""
    with open(path, "rb") as f:
        hdr = f.read(0x1000)
        if hdr[0x202:0x206] != b"HdrS":
            raise PifioError(f"{path} is not a bzImage (no HdrS setup header)")
        ptr = int.from_bytes(hdr[0x20E:0x210], "little")
        f.seek(ptr + 0x200)
        s = f.read(256).split(b"\0", 1)[0].decode(errors="replace")
    return s.split()[0] if s else "unknown"


def resolve(spec: str | Path | Kernel, modules: Path | None = None, *, fetch_missing: bool = True) -> Kernel:
    """A Kernel from a manifest name, a bzImage path, or a build directory.

    fetch_missing=False raises PifioError (instead of downloading) when a
    manifest kernel is not unpacked yet — tests use it to skip.
    """
    if isinstance(spec, Kernel):
        return spec
    s = str(spec)
    if s in manifest():
        if not is_fetched(s):
            if not fetch_missing:
                raise PifioError(f"kernel {s} not fetched; run ./pifio setup")
            fetch(s)
        d = _dir_for(s, manifest()[s])
        meta = read_json(d / "kernel.json")
        rel = meta["release"]
        return Kernel(name=s, release=rel, bzimage=d / "vmlinuz", modules=d / "lib/modules" / rel, meta=meta)
    p = Path(s).expanduser()
    if not p.exists():
        raise PifioError(f"kernel {s!r}: not a known name ({', '.join(names())}) and no such file")
    meta: dict = {}
    if p.is_dir():
        d = p
        cand = [d / "bzImage", d / "vmlinuz", d / "arch/x86/boot/bzImage"]
        img = next((c for c in cand if c.exists()), None)
        if img is None:
            raise PifioError(f"kernel dir {d}: no bzImage, vmlinuz or arch/x86/boot/bzImage in it")
        meta = read_json(d / "kernel.json", {}) or {}
    else:
        img, d = p, p.parent
    rel = bzimage_release(img)
    if modules is None:
        cand = d / "lib" / "modules" / rel
        modules = cand if cand.exists() else None
    if modules is not None and not (Path(modules) / "modules.dep").exists():
        if any(Path(modules).rglob("*.ko*")):
            run(["depmod", "-b", Path(modules).parent.parent, rel], quiet=True)
    meta.setdefault("release", rel)
    meta.setdefault("patches", [])
    return Kernel(name=str(p), release=rel, bzimage=img, modules=Path(modules) if modules else None, meta=meta)


def main(argv) -> int:
    """python -m lab.kernels [fetch [NAME…] | list]"""
    if not argv or argv[0] == "list":
        for n, e in manifest().items():
            state = "fetched" if is_fetched(n) else "not fetched"
            print(f"{n:6} {e['release']:32} {state}")
        return 0
    if argv[0] == "fetch":
        for n in argv[1:] or names():
            print(fetch(n))
        return 0
    print("usage: python -m lab.kernels [list | fetch [NAME…]]")
    return 2
