"""Kernel patch series (kernel-patches/<name>/: manifest.json + *.patch) and
the config fragment every lab build uses."""
from __future__ import annotations

import json
from pathlib import Path

from ..core.env import ROOT, PifioError

PATCHES = ROOT / "kernel-patches"
FRAGMENT = PATCHES / "config" / "lab.config"
SOURCES = PATCHES / "sources.json"


def series_dir(name: str) -> Path:
    d = PATCHES / name
    if not (d / "manifest.json").exists():
        known = [p.name for p in PATCHES.iterdir() if (p / "manifest.json").exists()]
        raise PifioError(f"no series {name!r} in kernel-patches/ (known: {', '.join(sorted(known))})")
    return d


def series_manifest(name: str) -> dict:
    return json.loads((series_dir(name) / "manifest.json").read_text())


def series_patches(name: str) -> list[Path]:
    m = series_manifest(name)
    if m.get("buildable") is False:
        raise PifioError(f"series {name} is a record, not buildable here: {m.get('note', '')}")
    pats = sorted(series_dir(name).glob("*.patch"))
    if not pats:
        raise PifioError(f"series {name}: no *.patch files")
    return pats


def list_series() -> list[dict]:
    out = []
    for d in sorted(PATCHES.iterdir()):
        if (d / "manifest.json").exists():
            m = json.loads((d / "manifest.json").read_text())
            out.append({"name": d.name, **m})
    return out
