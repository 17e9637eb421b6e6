"""Guest CPU per I/O: what a fast path costs, measured inside the guest.

fio runs a job with --exec_prerun/--exec_postrun pointing at SNAP_PATH, which
prints every guest thread's CFS runtime; fio leaves <job>.prerun.txt and
<job>.postrun.txt in its working directory. The guest scripts rename those to
<job>.<rep>.cpu0 / .cpu1 beside <job>.<rep>.json. The difference of the
snapshots over the I/Os fio completed is "guest CPU per I/O": fio's own time
plus the kernel workers that verify reads (kintegrityd runs in kworkers, which
fio's usr/sys misses) plus whatever else ran.

Under the lab's icount clock (lab/guest.py clock_args) guest CPU time is an
instruction count (shift 0: 1 ns = 1 instruction), so the figure repeats
within ~1 % across boots on a loaded host; IOPS and latencies do not.
Used by `./pifio ab` / `./pifio bisect` (lab/kernel_ab.py) and by the PI cost
table of `./pifio run` (lab/run.py).
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

METRIC = "guest CPU per I/O"
SNAP_PATH = "/tmp/pifio-cpusnap"

# Shell that installs the snapshot script in the guest: uptime, the cpu line
# of /proc/stat, and every thread's CFS runtime (ns precision when
# sched_clock is the TSC, i.e. under the icount clock).
INSTALL = r'''cat > /tmp/pifio-cpusnap <<'SNAP'
#!/bin/sh
cat /proc/uptime
head -n 1 /proc/stat
grep -H -e '#threads' -e se.sum_exec_runtime /proc/[0-9]*/task/[0-9]*/sched 2>/dev/null
SNAP
chmod +x /tmp/pifio-cpusnap
'''

FIO_OPTS = f"--exec_prerun={SNAP_PATH} --exec_postrun={SNAP_PATH}"


def rename_cmd(sc: str, job: str, rep: str) -> str:
    """Guest shell: fio's <job>.prerun.txt/.postrun.txt -> <job>.<rep>.cpu0/.cpu1."""
    return (f'mv "{sc}/{job}.prerun.txt" "{sc}/{job}.{rep}.cpu0" 2>/dev/null; '
            f'mv "{sc}/{job}.postrun.txt" "{sc}/{job}.{rep}.cpu1" 2>/dev/null')


def parse_snapshot(path: Path) -> dict:
    """Snapshot file -> {thread sched path: (comm, runtime ns)}."""
    comm, ns = {}, {}
    for line in path.read_text(errors="replace").splitlines():
        src, sep, text = line.partition(":")
        if not sep or not src.startswith("/proc/"):
            continue
        if "#threads" in text:
            comm[src] = text.rsplit(" (", 1)[0].strip()
        elif text.startswith("se.sum_exec_runtime"):
            try:
                ns[src] = float(text.rsplit(":", 1)[1]) * 1e6      # printed in ms with ns digits
            except ValueError:
                pass
    return {k: (comm.get(k, "?"), v) for k, v in ns.items()}


def _who(comm: str) -> str:
    return "fio" if comm == "fio" else "kworker" if comm.startswith("kworker") else "other"


def cpu_per_io(sc_dir: Path) -> list[dict]:
    """Per repetition (<job>.<rep>.json with .cpu0/.cpu1) in a scenario dir:
    guest threads' CPU time between the snapshots per I/O fio completed.
    Threads alive at both count their difference, threads born in between all
    of theirs. Split into fio / kworker / other."""
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    from analysis import fiojson
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
        a, b = parse_snapshot(c0), parse_snapshot(c1)
        if ios <= 0 or not b:
            continue
        by = {"fio": 0.0, "kworker": 0.0, "other": 0.0}
        for k, (comm, v) in b.items():
            by[_who(comm)] += max(0.0, v - a.get(k, ("", 0.0))[1])
        total = sum(by.values())
        out.append({"rep": int(parts[1]), "job": parts[0], "ios": ios, "ns_per_io": round(total / ios, 1),
                    "by": {k: round(v / ios, 1) for k, v in by.items()}})
    return out


def record(sc_dir: Path, clock: str) -> list[dict]:
    """cpu_per_io of a scenario dir, written to <sc_dir>/cpu.json (what ab,
    bisect, the PI cost table and the dashboard read); [] when there is none."""
    import json
    reps = cpu_per_io(sc_dir)
    if reps:
        (sc_dir / "cpu.json").write_text(json.dumps({"metric": METRIC, "unit": "ns", "clock": clock,
                                                     "reps": reps}, indent=2) + "\n")
    return reps


def read(sc_dir: Path, job: str | None = None) -> list[dict]:
    """The repetitions recorded in <sc_dir>/cpu.json (only `job`'s when given)."""
    import json
    try:
        reps = json.loads((sc_dir / "cpu.json").read_text()).get("reps", [])
    except (OSError, ValueError):
        return []
    return [r for r in reps if job is None or r.get("job") == job]


def median_ns(reps: list[dict]) -> float | None:
    v = [r["ns_per_io"] for r in reps]
    return statistics.median(v) if v else None
