"""Run target "lab": per kernel one boot with every scenario's namespaces
(and, with the PI cost table, a second boot of its own on the icount clock);
results/<run-id>/ + the summary tables.

Layout (analysis/ ingests it): results/<run-id>/meta.json (schema pifio-run/1),
results/<run-id>/<scenario>/<job>.json (fio JSON+), <job>.pi.json (engine
report), <job>.fio / .log / .rc; results/<run-id>/guest/ (console, dmesg,
namespaces.tsv). Scenario = <format-slug>.<stack>.<engine>[.<pi cost mode>].
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from analysis.verdict import evaluate, render_text
from shared.progress import Progress
from shared.runschema import utc_now

from .. import kernels
from ..core.env import PifioError, log
from ..guest import BASE_CMDLINE, GuestResult, boot_and_run, qemu_available
from ..guest.console import parse_line
from ..model import stacks
from ..model.scenarios import Scenario, cost_prelude
from ..runs import cpu, meta
from ..runs.plan import RunPlan, facts, plan_boot, plan_pi_cost
from ..runs.summary import pi_cost_table
from . import Outcome

# The PI cost boot runs on QEMU's icount clock (lab.guest.qemu clock_args; its
# table is guest CPU per I/O, lab.runs.cpu).
COST_CLOCK = "icount"


def _boot(k, label: str, runnable: list[Scenario], nss, rdir: Path, gdir: str, p: RunPlan,
          clock: str = "realtime", prelude: str = "") -> GuestResult:
    """One boot running `runnable`; scenario outputs -> rdir/<scenario>/, guest logs -> rdir/<gdir>/."""
    files: dict = {}
    script = ["set +e", prelude]
    for s in runnable:
        files.update(s.files())
        script.append(s.guest_script())
    mods: list[str] = []
    for s in runnable:
        if s.on_stack:
            mods += [m for m in stacks.guest_modules(s.stack, k)[0] if m not in mods]
    njobs = sum(len(s.job_names()) for s in runnable)
    est = 60 + sum(len(s.job_names()) * ((p.runtime if not s.cost else 20) + 30) for s in runnable)
    timeout = p.timeout or est

    prog = Progress(total=njobs, what=label)
    prog.start("booting")

    def on_line(m):
        job = m.job() if m is not None else None
        if job and job[2] == "start":
            prog.start(f"{job[0]} {job[1]}")
        elif job and job[2] == "rc":
            prog.done("" if job[3] == "0" else f"rc {job[3]}")

    log(f"{label}: {len(runnable)} scenarios, {njobs} jobs on {k.release}; guest clock {clock}; "
        f"boot timeout {timeout} s")
    try:
        r = boot_and_run(k, nss, script="\n".join(script), files=files, timeout=timeout, smp=p.smp, mem=p.mem,
                         run_dir=rdir / gdir, on_line=lambda line: on_line(parse_line(line)), modules=mods,
                         clock=clock)
    finally:
        prog.close()
    for s in runnable:
        src = r.results_dir / s.name
        if src.exists():
            shutil.move(str(src), rdir / s.name)
        for j in s.job_names():
            f = s.files().get(f"/pifio/jobs/{s.name}/{j}.fio")
            if f is not None and (rdir / s.name).exists():
                (rdir / s.name / f"{j}.fio").write_text(f if isinstance(f, str) else Path(f).read_text())
    return r


def run_kernel(kname: str, p: RunPlan) -> tuple[Path, list[Scenario], list[GuestResult]]:
    k = kernels.resolve(kname, p.modules)
    host = facts()
    scs, nss = plan_boot(k, p.specs, p.engines, p.stacks, p.workloads(), p.jobs, p.ns_size, host)
    scs = [s for s in scs if s.workloads or s.user_jobs]      # --no-default-jobs without --jobs
    cost, cost_nss = plan_pi_cost(k, p.engines, p.cost_ios, p.cost_reps, host) if p.pi_cost else ([], [])
    stamp = utc_now()
    run_id = p.run_id_for(kname, stamp)
    rdir = p.results / run_id
    if rdir.exists():
        raise PifioError(f"{rdir} exists; pick another --run-id")
    rdir.mkdir(parents=True)
    runnable = [s for s in scs if not s.skipped]
    cost_runnable = [s for s in cost if not s.skipped]
    m = meta.new(run_id, stamp, host=meta.host(), kernel=meta.kernel(k, BASE_CMDLINE), fio=meta.fio(),
                 engine=meta.engine(), guest={"smp": p.smp, "mem": p.mem, "namespaces": meta.namespaces(nss)},
                 command=meta.command(), scenarios={s.name: s.meta() for s in scs + cost})
    if cost:
        m["cost_guest"] = {"smp": p.smp, "mem": p.mem, "namespaces": meta.namespaces(cost_nss)}
    meta.write(rdir, m)
    for s in scs + cost:
        if s.skipped:
            log(f"skip {s.name}: {s.skipped}")
    if not runnable and not cost_runnable:
        log(f"{run_id}: nothing to run")
        return rdir, scs + cost, []

    results = []
    for key, label, rn, ns_, gdir, clock, prelude in (
            ("guest", f"lab {kname}", runnable, nss, "guest", "realtime", ""),
            ("cost_guest", f"lab {kname} PI cost", cost_runnable, cost_nss, "guest-cost", COST_CLOCK,
             cost_prelude())):
        if not rn:
            continue
        r = _boot(k, label, rn, ns_, rdir, gdir, p, clock, prelude)
        results.append(r)
        m[key].update({"boot_s": r.boot_s, "wall_s": round(r.wall_s, 1), "rc": r.rc, "clock": r.clock,
                       "cmdline": r.cmdline, "timed_out": r.timed_out, "namespaces_seen": r.namespaces})
        if key == "cost_guest":
            for s in rn:
                if (rdir / s.name).is_dir():
                    cpu.record(rdir / s.name, r.clock)
    meta.finish(m)
    for s in runnable + cost_runnable:
        d = rdir / s.name
        if not d.exists():
            m["scenarios"][s.name]["failed"] = "no results came back from the guest (see guest/console.log)"
        elif (d / "skip.txt").exists():      # the running kernel could not build the stack
            s.skipped = (d / "skip.txt").read_text().strip()
            m["scenarios"][s.name]["skipped"] = s.skipped
        elif (d / "stack.rc").exists():
            m["scenarios"][s.name]["failed"] = (f"stack build/teardown exited {(d / 'stack.rc').read_text().strip()}"
                                                f" (see {s.name}/stack.log)")
    meta.write(rdir, m)
    return rdir, scs + cost, results


def run(p: RunPlan) -> Outcome:
    if not qemu_available():
        raise PifioError("qemu-system-x86_64 not found; run ./pifio setup")
    out = Outcome(0)
    for kname in p.kernels:
        try:
            rdir, scs, rs = run_kernel(kname, p)
        except PifioError as e:
            print(f"pifio run: {e}", file=sys.stderr)
            out.status = 1
            return out
        out.run_dirs.append(rdir)
        # Verdict first (analysis.verdict reads the run dir), then the PI cost
        # table (guest CPU per I/O; TCG IOPS of icount runs are left out).
        verdict = evaluate(str(rdir))
        print(render_text(verdict))
        if any(s.cost for s in scs):
            print(pi_cost_table(rdir, scs))
        if not verdict.ok:
            out.status = 1
        for r in rs:
            if not r.ok:
                out.status = 1
                print(f"guest failed: {r.why()}", file=sys.stderr)
        bad = [s.name for s in scs if not s.skipped and any(
            (rdir / s.name / f"{j}.rc").exists() and (rdir / s.name / f"{j}.rc").read_text().strip() != "0"
            for j in s.job_names())]
        if bad:
            out.status = 1
            print(f"failed jobs in: {', '.join(bad)}", file=sys.stderr)
    return out
