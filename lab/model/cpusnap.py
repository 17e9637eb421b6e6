"""Guest CPU per I/O, the guest side: the snapshot script, its fio options,
its file names, and the arithmetic over two snapshots (pure; the files are
read by lab.runs.cpu).

fio runs a job with --exec_prerun/--exec_postrun pointing at SNAP_PATH, which
prints every guest thread's CFS runtime; fio leaves <job>.prerun.txt and
<job>.postrun.txt in its working directory. The guest scripts rename those to
<job>.<rep>.cpu0 / .cpu1 beside <job>.<rep>.json. The difference of the
snapshots over the I/Os fio completed is "guest CPU per I/O": fio's own time
plus the kernel workers that verify reads (kintegrityd runs in kworkers, which
fio's usr/sys misses) plus whatever else ran.

Under the lab's icount clock (lab.guest.qemu clock_args) guest CPU time is an
instruction count (shift 0: 1 ns = 1 instruction), so the figure repeats
within ~1 % across boots on a loaded host; IOPS and latencies do not.
Used by `./pifio ab` / `./pifio bisect` (lab.ab) and by the PI cost table of
`./pifio run` (lab.targets.lab).
"""
from __future__ import annotations

METRIC = "guest CPU per I/O"
SNAP_PATH = "/tmp/pifio-cpusnap"

# Shell that installs the snapshot script in the guest: uptime, the cpu line
# of /proc/stat, and every thread's CFS runtime (ns precision when
# sched_clock is the TSC, i.e. under the icount clock). Always exit 0.
INSTALL = r'''cat > /tmp/pifio-cpusnap <<'SNAP'
#!/bin/sh
cat /proc/uptime
head -n 1 /proc/stat
grep -s -H -e '#threads' -e se.sum_exec_runtime /proc/[0-9]*/task/[0-9]*/sched
# A thread that exits between the glob and grep's read makes grep exit 2, and
# fio skips a job whose exec_prerun fails without an error (rc 0, 0 I/Os).
exit 0
SNAP
chmod +x /tmp/pifio-cpusnap
'''

FIO_OPTS = f"--exec_prerun={SNAP_PATH} --exec_postrun={SNAP_PATH}"


def rename_cmd(sc: str, job: str, rep: str) -> str:
    """Guest shell: fio's <job>.prerun.txt/.postrun.txt -> <job>.<rep>.cpu0/.cpu1."""
    return (f'mv "{sc}/{job}.prerun.txt" "{sc}/{job}.{rep}.cpu0" 2>/dev/null; '
            f'mv "{sc}/{job}.postrun.txt" "{sc}/{job}.{rep}.cpu1" 2>/dev/null')


def parse_snapshot(text: str) -> dict:
    """Snapshot text -> {thread sched path: (comm, runtime ns)}."""
    comm, ns = {}, {}
    for line in text.splitlines():
        src, sep, rest = line.partition(":")
        if not sep or not src.startswith("/proc/"):
            continue
        if "#threads" in rest:
            comm[src] = rest.rsplit(" (", 1)[0].strip()
        elif rest.startswith("se.sum_exec_runtime"):
            try:
                ns[src] = float(rest.rsplit(":", 1)[1]) * 1e6      # printed in ms with ns digits
            except ValueError:
                pass
    return {k: (comm.get(k, "?"), v) for k, v in ns.items()}


def _who(comm: str) -> str:
    return "fio" if comm == "fio" else "kworker" if comm.startswith("kworker") else "other"


def per_io(before: dict, after: dict, ios: int) -> tuple[float, dict] | None:
    """(ns per I/O, {fio, kworker, other: ns per I/O}) between two parsed
    snapshots: threads alive at both count their difference, threads born in
    between all of theirs. None when there is nothing to divide."""
    if ios <= 0 or not after:
        return None
    by = {"fio": 0.0, "kworker": 0.0, "other": 0.0}
    for k, (comm, v) in after.items():
        by[_who(comm)] += max(0.0, v - before.get(k, ("", 0.0))[1])
    total = sum(by.values())
    return round(total / ios, 1), {k: round(v / ios, 1) for k, v in by.items()}
