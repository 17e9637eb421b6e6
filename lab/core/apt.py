"""The private apt configuration (DESIGN §4: the system's sources are never
edited) and fetching pinned source tarballs and .debs with it."""
from __future__ import annotations

import time
from pathlib import Path

from .env import CACHE, PifioError, run, sha256_file

DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# Suites the lab draws from (DESIGN §4). bookworm is the host; the others give
# fio 3.41 (sid), newer kernels (trixie, trixie-backports, sid).
APT_SUITES = ("bookworm", "trixie", "trixie-backports", "sid")


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
                         "update the pin in lab/toolchain/setup.py after checking the new tarball")
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
