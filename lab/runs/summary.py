"""The terminal summary of a run: format × engine × job (IOPS, p50/p99, PI
errors), the PI cost table (guest CPU per I/O per PI path), and the per-host
table of a multi-host run."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

from analysis import fiojson
from analysis.meta import parse_pi_report

from ..model.scenarios import PI_COST_MODES, Scenario, pi_cost_workloads
from . import cpu


def _row(sdir: Path, job: str):
    """(iops, p50 us, p99 us, errors, note) of one job's fio JSON; for a job
    run in repetitions (<job>.<i>.json) the medians and the summed errors."""
    reps = sorted(sdir.glob(f"{job}.[0-9]*.json"), key=lambda q: q.name)
    reps = [q for q in reps if q.name.count(".") == 2]
    if (sdir / f"{job}.json").exists() or not reps:
        return _row_file(sdir, job, f"{job}.json")
    rows = [_row_file(sdir, job, q.name) for q in reps]

    def med(i):
        v = [r[i] for r in rows if isinstance(r[i], (int, float))]
        return statistics.median(v) if v else None
    errs = [r[3] for r in rows if r[3] is not None]
    err = sum(e for e in errs if isinstance(e, int)) if all(isinstance(e, int) for e in errs) and errs else \
        (next((e for e in errs if not isinstance(e, int)), None))
    notes = sorted({r[4] for r in rows if r[4]})
    return med(0), med(1), med(2), err, "; ".join(notes) + (f" (median of {len(rows)})" if len(rows) > 1 else "")


def _row_file(sdir: Path, job: str, name: str):
    p = sdir / name
    rc = (sdir / f"{job}.rc").read_text().strip() if (sdir / f"{job}.rc").exists() else "?"
    if not p.exists():
        return None, None, None, None, f"no output (rc {rc})"
    try:
        out = fiojson.parse_file(str(p))
    except fiojson.FioParseError as e:
        tail = (sdir / f"{job}.log").read_text(errors="replace").strip().splitlines()[-1:] \
            if (sdir / f"{job}.log").exists() else []
        return None, None, None, None, f"rc {rc}: {(tail or [str(e)])[0][:60]}"
    jobs = [j for j in out.jobs if not j.aggregate]
    if not jobs:
        return None, None, None, None, f"rc {rc}: no jobs"
    j = jobs[0]
    d = next(iter(j.dirs.values()), None)
    err = j.error
    pi = sdir / (name[:-len(".json")] + ".pi.json")
    pierr = None
    if pi.exists():
        try:
            pierr = parse_pi_report(str(pi))["total"]
        except Exception as e:   # a malformed report is shown, not fatal
            pierr = f"bad report: {e}"
    if d is None:
        return None, None, None, pierr if pierr is not None else err, f"rc {rc}, no I/O"
    p50 = d.percentiles.get("50.000000")
    p99 = d.percentiles.get("99.000000")
    return (d.iops, p50 / 1000 if p50 else None, p99 / 1000 if p99 else None,
            pierr if pierr is not None else err, "" if rc == "0" else f"rc {rc}")


def summary(rdir: Path, scs: list[Scenario]) -> str:
    head = f"{'format / stack':<24} {'engine':<8} {'job':<14} {'IOPS':>8} {'p50 us':>9} {'p99 us':>9} {'PI err':>6}  note"
    lines = [f"results: {rdir}", head, "-" * len(head)]
    for s in scs:
        label = s.stack if s.on_stack else (f"cost:{s.cost}" if s.cost else s.fmt.short())
        if s.skipped:
            lines.append(f"{label:<24} {s.engine:<8} {'-':<14} {'':>8} {'':>9} {'':>9} {'':>6}  skip: {s.skipped}")
            continue
        for j in s.job_names():
            iops, p50, p99, err, note = _row(rdir / s.name, j)
            f = lambda v, spec: (format(v, spec) if isinstance(v, (int, float)) else ("-" if v is None else str(v)))  # noqa: E731
            lines.append(f"{label:<24} {s.engine:<8} {j:<14} {f(iops, '8.0f'):>8} {f(p50, '9.1f'):>9} "
                         f"{f(p99, '9.1f'):>9} {f(err, 'd'):>6}  {note}")
    return "\n".join(lines)


def pi_cost_table(rdir: Path, scs: list[Scenario]) -> str:
    """Rows: PI path; columns: workloads; cells: guest CPU per I/O, ours (fio built-in)."""
    cost = [s for s in scs if s.cost]
    if not cost:
        return ""
    jobs = [w.name for w in pi_cost_workloads()]
    clock = ""
    try:
        clock = json.loads((rdir / "meta.json").read_text()).get("cost_guest", {}).get("clock", "")
    except (OSError, ValueError):
        pass
    head = f"{'PI path (4 KiB)':<40}" + "".join(f"{j:>22}" for j in jobs)
    out = ["", f"PI cost table: {cpu.METRIC} in us, pifio (fio built-in); guest clock {clock or '?'}",
           "(icount shift 0: 1 us = 1000 guest instructions, repeatable across hosts and load; median of the "
           "repetitions; TCG IOPS in the rows above are not comparable)", head, "-" * len(head)]
    for mode, d in PI_COST_MODES.items():
        row = f"{d['label']:<40}"
        by = {s.engine: s for s in cost if s.cost == mode}
        skip = next((s.skipped for s in by.values() if s.skipped), None)
        if skip and all(s.skipped for s in by.values()):
            out.append(row + f"  skip: {skip}")
            continue
        for j in jobs:
            vals = []
            for eng in ("pifio", "builtin"):
                s = by.get(eng)
                if s is None or s.skipped:
                    vals.append("-")
                    continue
                rc = rdir / s.name / f"{j}.rc"
                bad = (rc.exists() and rc.read_text().strip() != "0") or _row(rdir / s.name, j)[3] not in (None, 0)
                ns = cpu.median_ns(cpu.read(rdir / s.name, j))
                vals.append("-" if ns is None else f"{ns / 1000:.1f}{'!' if bad else ''}")
            row += f"{vals[0] + ' (' + vals[1] + ')':>22}"
        out.append(row)
    out.append("('!' = the job reported errors or a non-zero exit; see the rows above)")
    return "\n".join(out)


def hosts_summary(rdir: Path, scs) -> str:
    """format × engine × job × host: IOPS, p50/p99 completion latency (from the client JSON)."""
    head = f"{'format':<20} {'engine':<8} {'job':<14} {'host':<17} {'IOPS':>8} {'p50 us':>9} {'p99 us':>9}  note"
    lines = [f"results: {rdir}", head, "-" * len(head)]
    for s in scs:
        if s.skipped:
            lines.append(f"{s.fmt.short():<20} {s.engine:<8} {'-':<14} {'':<17} {'':>8} {'':>9} {'':>9}  "
                         f"skip: {s.skipped}")
            continue
        for j in s.job_names():
            p = rdir / s.name / f"{j}.json"
            rc = (rdir / s.name / f"{j}.rc").read_text().strip() if (rdir / s.name / f"{j}.rc").exists() else "?"
            try:
                jobs = fiojson.parse_file(str(p)).jobs if p.exists() and p.stat().st_size else []
            except fiojson.FioParseError as e:
                jobs = []
                rc = f"{rc}: {str(e)[:50]}"
            if not jobs:
                lines.append(f"{s.fmt.short():<20} {s.engine:<8} {j:<14} {'-':<17} {'-':>8} {'-':>9} {'-':>9}  "
                             f"no output (rc {rc})")
            for jb in sorted(jobs, key=lambda x: (x.aggregate, x.host)):
                for d in jb.dirs.values():
                    p50, p99 = d.percentiles.get("50.000000"), d.percentiles.get("99.000000")
                    f = lambda v: f"{v / 1000:9.1f}" if v else f"{'-':>9}"  # noqa: E731
                    note = ("" if rc == "0" else f"rc {rc}") + (f" error {jb.error}" if jb.error else "")
                    lines.append(f"{s.fmt.short():<20} {s.engine:<8} {j:<14} "
                                 f"{('all' if jb.aggregate else jb.host):<17} {d.iops:8.0f} {f(p50)} {f(p99)}  "
                                 f"{note}")
    return "\n".join(lines)
