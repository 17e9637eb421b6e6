"""The one writer of results/<run-id>/meta.json (schema pifio-run/1,
shared.runschema): every run target and ./pifio ab build their metadata with
these functions, timestamps in UTC."""
from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from shared.runschema import SCHEMA, timestamp, utc_now, validate_meta

from ..core.env import BUILD, ROOT, sha256_file, write_json
from ..guest import initramfs
from ..guest.qemu import QEMU


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def host(accel: str = "tcg") -> dict:
    """The host (and its QEMU, for lab guests: accel "tcg")."""
    out = {"hostname": socket.gethostname(), "cpu": _cpu(), "accel": accel,
           "python": platform.python_version(), "nproc": os.cpu_count()}
    if accel == "tcg":
        q = shutil.which(QEMU)
        out["qemu"] = (subprocess.run([q, "--version"], stdout=subprocess.PIPE, text=True).stdout.split("\n")[0]
                       if q else "none")
    return out


def guest_fio() -> Path | None:
    """The fio build that goes into guests (and that multi-host clients run)."""
    return next((h for g, h in initramfs.default_binaries() if g == "/usr/bin/fio"), None)


def fio() -> dict:
    exe = guest_fio()
    if not exe:
        return {"version": "none"}
    r = subprocess.run([str(exe), "--version"], stdout=subprocess.PIPE, text=True)
    return {"version": r.stdout.strip(), "path": str(exe)}


def engine() -> dict:
    so = BUILD / "lib" / "libpifio.so"
    if not so.exists():
        return {"version": "none"}
    ver = "unknown"
    try:
        ver = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
    except OSError:
        pass
    return {"version": ver, "sha256": sha256_file(so)[:16], "path": str(so)}


def kernel(k, cmdline: str) -> dict:
    """A lab.kernels.Kernel as run metadata (its series: the patches it was built with)."""
    return {**{key: v for key, v in k.describe().items() if key != "bzimage"},
            "series": " ".join(k.meta.get("patches") or []), "cmdline": cmdline}


def namespaces(nss) -> list[dict]:
    return [{"nsid": n.nsid, "format": n.fmt.canonical(), "size": n.size} for n in nss]


def command() -> str:
    """How this run was asked for (./pifio run ARGS)."""
    return "./pifio run " + " ".join(sys.argv[2:] if len(sys.argv) > 2 else [])


def new(run_id: str, started, **sections) -> dict:
    """A run's metadata: schema, run_id, started (UTC) and the given sections
    (host, kernel, fio, engine, guest, scenarios, ...)."""
    return {"schema": SCHEMA, "run_id": run_id, "started": timestamp(started), **sections}


def finish(meta: dict) -> None:
    meta["finished"] = timestamp(utc_now())


def write(rdir: Path, meta: dict) -> None:
    """Check against the schema the analysis reads, then write rdir/meta.json."""
    validate_meta(meta, str(rdir / "meta.json"))
    write_json(rdir / "meta.json", meta)
