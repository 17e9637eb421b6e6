"""The bottom of the lab: paths, the content-keyed cache outside the clone,
the error type that ends a command, logging and running commands, hashes,
JSON files.

Cache layout (PIFIO_CACHE, default ~/.cache/pifio):
  apt/            private apt state (sources, lists, archives) — never the system's
  src/<file>      downloaded source tarballs and .debs, verified by sha256
  fio/<ver>-<sha12>/   extracted, configured (--disable-native) and built fio trees
  kernels/<pkgver>/    unpacked Debian kernel packages (vmlinuz, modules)
  versions.json   what setup used last (written by lab.toolchain.setup)
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("PIFIO_CACHE") or Path.home() / ".cache" / "pifio")
BUILD = ROOT / "build"
RESULTS = ROOT / "results"


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
