"""Guest CPU per I/O, the host side: one scenario directory's snapshots
(<job>.<rep>.cpu0/.cpu1 beside <job>.<rep>.json) -> <scenario>/cpu.json, the
one file ab, bisect, the PI cost table and the dashboard read."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

from analysis import fiojson

from ..model import cpusnap

METRIC = cpusnap.METRIC


def cpu_per_io(sc_dir: Path) -> list[dict]:
    """Per repetition in a scenario dir: guest threads' CPU time between the
    snapshots per I/O fio completed, split into fio / kworker / other."""
    out = []
    for js in sorted(sc_dir.glob("*.json")):
        parts = js.name.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        c0, c1 = sc_dir / f"{parts[0]}.{parts[1]}.cpu0", sc_dir / f"{parts[0]}.{parts[1]}.cpu1"
        if not (c0.exists() and c1.exists()):
            continue
        try:
            ios = sum(j.total_ios for j in fiojson.parse_file(str(js)).jobs)
        except Exception:  # noqa: BLE001 — a broken fio output is reported by analysis
            continue
        got = cpusnap.per_io(cpusnap.parse_snapshot(c0.read_text(errors="replace")),
                             cpusnap.parse_snapshot(c1.read_text(errors="replace")), ios)
        if got is None:
            continue
        ns, by = got
        out.append({"rep": int(parts[1]), "job": parts[0], "ios": ios, "ns_per_io": ns, "by": by})
    return out


def record(sc_dir: Path, clock: str) -> list[dict]:
    """cpu_per_io of a scenario dir, written to <sc_dir>/cpu.json; [] when there is none."""
    reps = cpu_per_io(sc_dir)
    if reps:
        (sc_dir / "cpu.json").write_text(json.dumps({"metric": METRIC, "unit": "ns", "clock": clock,
                                                     "reps": reps}, indent=2) + "\n")
    return reps


def read(sc_dir: Path, job: str | None = None) -> list[dict]:
    """The repetitions recorded in <sc_dir>/cpu.json (only `job`'s when given)."""
    try:
        reps = json.loads((sc_dir / "cpu.json").read_text()).get("reps", [])
    except (OSError, ValueError):
        return []
    return [r for r in reps if job is None or r.get("job") == job]


def median_ns(reps: list[dict]) -> float | None:
    v = [r["ns_per_io"] for r in reps]
    return statistics.median(v) if v else None
