"""./pifio bisect: `git bisect run ./pifio bisect --scenario X` in a kernel
tree: build the checked-out commit with lab.config (incremental, one object
dir per tree), run X (lab.ab.ab.run_suite), exit 0 good / 1 bad / 125 skip."""
from __future__ import annotations

import statistics
import time
from pathlib import Path

from analysis import fiojson

from ..core.env import CACHE, PifioError, log
from ..kernels import build as kbuild
from ..runs import cpu
from . import suite as S
from .ab import resolve_aliases, run_suite


def run(scenario: str, metric: str | None = None, threshold: float | None = None, runs: int = 1,
        tree: str = ".", cmdline: str = "") -> int:
    tree = Path(tree).resolve()
    if not (tree / "Makefile").exists() or not (tree / "block").is_dir():
        log(f"bisect: {tree} is not a kernel tree")
        return 125
    scen = S.select(resolve_aliases([scenario]))
    if not scen:
        log(f"bisect: no scenario matches {scenario!r}; known: {', '.join(s.name for s in S.CASES)}")
        return 125
    if metric and threshold is None:
        log("bisect: --metric needs --threshold")
        return 125
    try:
        kd = kbuild.build_tree(tree)
    except PifioError as e:
        log(f"bisect: build failed, skipping this commit: {str(e)[:600]}")
        return 125
    verdicts = []
    values = []
    for i in range(runs):
        rid = time.strftime("bisect-%Y%m%d-%H%M%S-") + kd.name[:8] + f"-{i + 1}"
        try:
            st = run_suite(kd, scen, rid, cmdline, results=CACHE / "bisect-results")
        except PifioError as e:
            log(f"bisect: lab failed: {e}")
            return 125
        for sc in scen:
            s = st.get(sc.name, {"status": "skip", "why": "not run"})
            log(f"bisect: {kd.name[:8]} {sc.name}: {s['status']} {s['why']}")
            verdicts.append(s["status"])
            if metric and s["status"] == "pass":
                v = _metric_value(CACHE / "bisect-results" / rid / sc.name, metric)
                if v is not None:
                    values.append(v)
    if "fail" in verdicts:
        return 1
    if all(v == "skip" for v in verdicts):
        return 125
    if metric:
        if not values:
            return 125
        med = statistics.median(values)
        bad = med > threshold if metric in ("lat", "cpu") else med < threshold
        log(f"bisect: {metric} median {med:.1f} vs threshold {threshold} -> {'bad' if bad else 'good'}")
        return 1 if bad else 0
    return 0


def _metric_value(d: Path, metric: str):
    if metric == "cpu":
        return cpu.median_ns(cpu.read(d))
    vals = []
    for p in sorted(d.glob("*.json")):
        try:
            out = fiojson.parse_file(str(p))
        except Exception:  # noqa: BLE001
            continue
        for j in out.jobs:
            for dd in j.dirs.values():
                if metric == "iops" and dd.iops:
                    vals.append(dd.iops)
                elif metric == "bw" and dd.bw_bytes:
                    vals.append(dd.bw_bytes / 1048576)
                elif metric == "lat" and dd.clat_mean_ns:
                    vals.append(dd.clat_mean_ns / 1000)
    return vals[0] if vals else None
