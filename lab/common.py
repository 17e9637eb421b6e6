"""Shared plumbing: paths, the content-keyed cache outside the clone, the
private apt configuration, logging of commands.

Cache layout (PIFIO_CACHE, default ~/.cache/pifio):
  apt/            private apt state (sources, lists, archives) — never the system's
  src/<file>      downloaded source tarballs and .debs, verified by sha256
  fio/<ver>-<sha12>/   extracted, configured (--disable-native) and built fio trees
  kernels/<pkgver>/    unpacked Debian kernel packages (vmlinuz, modules)
  versions.json   what setup used last (written by lab.setup)
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("PIFIO_CACHE") or Path.home() / ".cache" / "pifio")
BUILD = ROOT / "build"
RESULTS = ROOT / "results"

DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# Suites the lab draws from (DESIGN §4). bookworm is the host; the others give
# fio 3.41 (sid), newer kernels (trixie, trixie-backports, sid).
APT_SUITES = ("bookworm", "trixie", "trixie-backports", "sid")


class PifioError(Exception):
    """An error that ends a command with a message saying what to do."""


def log(msg: str) -> None:
    print(f"pifio: {msg}", file=sys.stderr, flush=True)


def run(cmd, *, cwd=None, env=None, check=True, capture=False, quiet=False, timeout=None):
    """Run a command; on failure raise PifioError with its tail of output."""
    if not quiet:
        log("$ " + " ".join(str(c) for c in cmd))
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, timeout=timeout,
                       stdout=subprocess.PIPE if capture or quiet else None,
                       stderr=subprocess.STDOUT if quiet and not capture else (subprocess.PIPE if capture else None),
                       text=True)
    if check and r.returncode != 0:
        tail = ""
        if r.stdout:
            tail += "\n" + "\n".join(r.stdout.splitlines()[-20:])
        if capture and r.stderr:
            tail += "\n" + "\n".join(r.stderr.splitlines()[-20:])
        raise PifioError(f"command failed (exit {r.returncode}): {' '.join(map(str, cmd))}{tail}")
    return r


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def hash_strings(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()


def hash_tree(paths) -> str:
    """Content hash over files (sorted by path) — for cache keys of configs/series."""
    h = hashlib.sha256()
    for p in sorted(Path(x) for x in paths):
        h.update(str(p.name).encode() + b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()


# ------------------------------------------------------------------ apt ----

def _debian_uri() -> str:
    """The archive URI the system already uses (DESIGN §4: reuse it, never edit it)."""
    src = Path("/etc/apt/sources.list.d/debian.sources")
    if src.exists():
        for line in src.read_text().splitlines():
            if line.startswith("URIs:"):
                uri = line.split(":", 1)[1].split()[0]
                if "security" not in uri:
                    return uri
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and "security" not in parts[1]:
                return parts[1] if not parts[1].startswith("[") else parts[2]
    raise PifioError("cannot find the Debian archive URI in /etc/apt/sources.list.d/debian.sources; "
                     "pifio reuses the system's archive for its private apt configuration")


def apt_dir() -> Path:
    d = CACHE / "apt"
    for sub in ("lists/partial", "cache/archives/partial", "etc"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    sl = d / "etc" / "sources.list"
    uri = _debian_uri()
    want = "".join(f"deb [signed-by={DEBIAN_KEYRING}] {uri} {s} main\n"
                   f"deb-src [signed-by={DEBIAN_KEYRING}] {uri} {s} main\n" for s in APT_SUITES)
    if not sl.exists() or sl.read_text() != want:
        sl.write_text(want)
    return d


def apt_opts() -> list[str]:
    d = apt_dir()
    return ["-o", f"Dir::Etc::SourceList={d}/etc/sources.list",
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={d}/lists",
            "-o", f"Dir::Cache={d}/cache",
            "-o", "APT::Sandbox::User=root",
            "-o", "Acquire::Retries=3"]


def apt_update(max_age_s: int = 24 * 3600) -> None:
    """Refresh the private lists when older than max_age_s (once a day)."""
    stamp = apt_dir() / "updated"
    if stamp.exists() and time.time() - stamp.stat().st_mtime < max_age_s:
        return
    run(["apt-get", *apt_opts(), "-q", "update"], quiet=True)
    stamp.touch()


def apt_cache(*args: str) -> str:
    return run(["apt-cache", *apt_opts(), *args], capture=True, quiet=True).stdout


def src_dir() -> Path:
    d = CACHE / "src"
    d.mkdir(parents=True, exist_ok=True)
    return d


def fetch_source_tarball(package: str, version: str, filename: str, sha256: str) -> Path:
    """Fetch an upstream tarball of a source package with the private apt config.

    The archive here may serve the orig tarball but 404 the .dsc/.asc/debian
    tarball (DESIGN §4), so success is judged by the tarball and its sha256,
    not by apt's exit status.
    """
    dest = src_dir() / filename
    if dest.exists() and sha256_file(dest) == sha256:
        return dest
    apt_update()
    run(["apt-get", *apt_opts(), "-q", "source", "--download-only", f"{package}={version}"],
        cwd=src_dir(), check=False, quiet=True)
    if not dest.exists():
        apt_update(max_age_s=0)
        run(["apt-get", *apt_opts(), "-q", "source", "--download-only", f"{package}={version}"],
            cwd=src_dir(), check=False, quiet=True)
    if not dest.exists():
        raise PifioError(f"apt did not fetch {filename} (source {package}={version}); "
                         f"check `apt-cache showsrc {package}` with the private config in {apt_dir()}")
    got = sha256_file(dest)
    if got != sha256:
        dest.unlink()
        raise PifioError(f"{filename}: sha256 got {got}, want {sha256}; the archive changed — "
                         "update the pin in lab/setup.py after checking the new tarball")
    return dest


def fetch_deb(package: str, version: str, sha256: str | None = None) -> Path:
    """`apt-get download` a binary package (any suite of the private config)."""
    d = src_dir()
    existing = sorted(d.glob(f"{package}_{version.replace(':', '%3a')}_*.deb"))
    if existing and (sha256 is None or sha256_file(existing[0]) == sha256):
        return existing[0]
    apt_update()
    run(["apt-get", *apt_opts(), "-q", "download", f"{package}={version}"], cwd=d, quiet=True)
    existing = sorted(d.glob(f"{package}_{version.replace(':', '%3a')}_*.deb"))
    if not existing:
        raise PifioError(f"apt-get download {package}={version} left no .deb in {d}")
    if sha256 is not None:
        got = sha256_file(existing[0])
        if got != sha256:
            existing[0].unlink()
            raise PifioError(f"{existing[0].name}: sha256 got {got}, want {sha256}")
    return existing[0]


def read_json(path: Path, default=None):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return default


def write_json(path: Path, obj) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def which_or_fail(tool: str, package: str) -> str:
    p = shutil.which(tool)
    if not p:
        raise PifioError(f"{tool} not found; run ./pifio setup (installs Debian package {package})")
    return p
