"""./pifio run — boot the lab and run scenarios; results/<run-id>/ + a summary.

    ./pifio run                                 newest kernel (7.3), default formats, both engines,
                                                 + stacks dm-linear, dm-crypt-aead + the PI cost table
    ./pifio run --stack dm-linear [--stack S]   dm stacks from lab/stacks.py (kernel auto-PI, pi_audit)
    ./pifio run --matrix                        every stack on 6.1, 6.12 and 7.3 (+ PI cost table)
    ./pifio run --kernel 6.12 --pi-cost --no-default-jobs   only the PI cost table
    ./pifio run --kernel 6.1 --ns 4096+8/t1 --ns 512+8/t3/first
    ./pifio run --kernel 6.1 --kernel 7.3       one run (one run-id) per kernel
    ./pifio run --engine builtin --runtime 10 --size 16M
    ./pifio run --jobs jobs/foo.fio             extra job files, run on every namespace
                                                 (env: PIFIO_DEV PIFIO_FORMAT PIFIO_BS PIFIO_MD
                                                  PIFIO_PI_CHK PIFIO_ENGINE)

Layout (analysis/ ingests it): results/<run-id>/meta.json (schema pifio-run/1),
results/<run-id>/<scenario>/<job>.json (fio JSON+), <job>.pi.json (engine
report), <job>.fio / .log / .rc; results/<run-id>/guest/ (console, dmesg,
namespaces.tsv). Scenario = <format-slug>.<stack>.<engine>[.<pi cost mode>].
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from . import formats, guest, initramfs, kernels
from .common import BUILD, RESULTS, PifioError, log, sha256_file, write_json
from .scenarios import DEFAULT_FORMATS, ENGINES, Scenario, default_workloads


def _parse(argv):
    ap = argparse.ArgumentParser(prog="./pifio run", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernel", action="append", help=f"kernel name ({', '.join(kernels.names())}) or "
                    f"bzImage path / build dir; repeatable (default {kernels.DEFAULT})")
    ap.add_argument("--modules", help="modules dir for a bzImage path kernel")
    ap.add_argument("--ns", action="append", metavar="SPEC", help="namespace format, repeatable "
                    f"(default {' '.join(DEFAULT_FORMATS)})")
    ap.add_argument("--engine", action="append", choices=ENGINES, help="default: both")
    ap.add_argument("--stack", action="append", metavar="S", help="dm stack from lab/stacks.py (repeatable; "
                    "'none' = namespaces only); default: the --ns formats plus the default stacks "
                    "(dm-linear, dm-crypt-aead)")
    ap.add_argument("--matrix", action="store_true", help="every stack of lab/stacks.py on kernels 6.1, 6.12 "
                    "and 7.3 (one boot per kernel)")
    ap.add_argument("--pi-cost", action=argparse.BooleanOptionalAction, default=None,
                    help="per-kernel PI fast-path table (no PI, kernel auto-PI, io_uring PI attrs, passthrough, "
                    "PRACT; 4 KiB randread/randwrite QD1/QD32) on two extra namespaces; default: on for a "
                    "plain `./pifio run` and --matrix")
    ap.add_argument("--cost-ios", type=int, default=None, help="PI cost table: I/Os per job (default "
                    "lab/scenarios.py COST_IOS)")
    ap.add_argument("--cost-reps", type=int, default=None, help="PI cost table: repetitions per job (default "
                    "COST_REPS)")
    ap.add_argument("--jobs", action="append", type=Path, help="extra fio job file(s)")
    ap.add_argument("--no-default-jobs", action="store_true", help="only the --jobs files")
    ap.add_argument("--size", default="8M", help="bytes per sequential job (default 8M)")
    ap.add_argument("--runtime", type=int, default=5, help="seconds per random-read job (default 5)")
    ap.add_argument("--ns-size", default="256M", help="backing size per namespace (default 256M)")
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--mem", default="1G")
    ap.add_argument("--timeout", type=int, help="seconds per boot (default: estimated from the jobs)")
    ap.add_argument("--results", type=Path, default=RESULTS, help="results root (default results/)")
    ap.add_argument("--run-id", help="default: <UTC time>-<kernel>")
    ap.add_argument("--hosts", type=int, metavar="N", help="N guests running fio --server, one fio "
                    "--client run per job over all of them (lab/multihost.py)")
    ap.add_argument("--host-dev", action="append", metavar="/dev/ngXnY[=SPEC]",
                    help="run the jobs on this host's real NVMe namespace instead of the lab (lab/hostrun.py); "
                    "destroys its data, so needs --destroy-data")
    ap.add_argument("--no-build", action="store_true", help="do not run set-up and build first (use build/ as it is)")
    ap.add_argument("--destroy-data", action="store_true", help="confirm that --host-dev namespaces may be overwritten")
    return ap.parse_args(argv)


def _size(s: str) -> int:
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    s = s.strip().upper().rstrip("B").rstrip("I")
    return int(s[:-1]) * mult[s[-1]] if s and s[-1] in mult else int(s)


def _fio_version() -> str:
    fio = next((h for g, h in initramfs.default_binaries() if g == "/usr/bin/fio"), None)
    if not fio:
        return "none"
    r = subprocess.run([str(fio), "--version"], stdout=subprocess.PIPE, text=True)
    return r.stdout.strip()


def _engine_meta() -> dict:
    so = BUILD / "lib" / "libpifio.so"
    if not so.exists():
        return {"version": "none"}
    ver = "unknown"
    try:
        from .common import ROOT
        ver = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
    except OSError:
        pass
    return {"version": ver, "sha256": sha256_file(so)[:16], "path": str(so)}


def _host_meta() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    q = shutil.which(guest.QEMU)
    qv = subprocess.run([q, "--version"], stdout=subprocess.PIPE, text=True).stdout.split("\n")[0] if q else "none"
    return {"hostname": socket.gethostname(), "cpu": cpu, "accel": "tcg", "qemu": qv,
            "python": platform.python_version(), "nproc": os.cpu_count()}


def plan(kernel: kernels.Kernel, specs: list[str], engines, stack, workloads, user_jobs) -> list[Scenario]:
    """Namespace-only scenarios (lab.multihost): the --ns formats, nsid 1..n."""
    return plan_boot(kernel, specs, engines, ["none"], workloads, user_jobs)[0]


def plan_boot(kernel: kernels.Kernel, specs: list[str], engines, stack_names, workloads, user_jobs,
              ns_size: int = 256 << 20) -> tuple[list[Scenario], list[guest.Namespace]]:
    """Scenarios and the namespaces of the one boot: the --ns formats (nsid
    1..n, stack 'none') then, per stack, its own namespaces (lab/stacks.py)."""
    from . import stacks
    out, nss = [], []
    if "none" in stack_names:
        for nsid, spec in enumerate(specs, 1):
            nss.append(guest.Namespace(spec, size=ns_size, nsid=nsid))
            for eng in engines:
                sc = Scenario(fmt=formats.parse(spec), nsid=nsid, engine=eng, workloads=list(workloads),
                              user_jobs=list(user_jobs))
                sc.skipped = sc.requirements(kernel)
                out.append(sc)
    for name in stack_names:
        if name == "none":
            continue
        st = stacks.get(name)
        base = len(nss)
        for i, spec in enumerate(st.namespaces, 1):
            nss.append(guest.Namespace(spec, size=max(st.ns_size, 96 << 20), nsid=base + i))
        for eng in engines:
            sc = Scenario(fmt=formats.parse(st.namespaces[0]), nsid=base + 1, engine=eng, stack=name,
                          workloads=list(workloads), user_jobs=list(user_jobs), ns_base=base)
            sc.skipped = sc.requirements(kernel)
            out.append(sc)
    return out, nss


def plan_pi_cost(kernel, engines, ios=None, reps=None) -> tuple[list[Scenario], list[guest.Namespace]]:
    """PI cost scenarios and the two namespaces of their own boot (nsid 1: PI, 2: no PI)."""
    from .scenarios import COST_IOS, COST_REPS, PI_COST_FORMAT, PI_COST_NOPI, pi_cost_scenarios
    nss = [guest.Namespace(PI_COST_FORMAT, size=256 << 20, nsid=1),
           guest.Namespace(PI_COST_NOPI, size=256 << 20, nsid=2)]
    return pi_cost_scenarios(kernel, 1, 2, engines, ios or COST_IOS, reps or COST_REPS), nss


# The PI cost boot runs on QEMU's icount clock (lab/guest.py clock_args; its
# table is guest CPU per I/O, lab/cpusnap.py). Prefill: every mode reads the
# same region of written blocks (unwritten ones carry escape tags nobody checks).
COST_CLOCK = "icount"


def _cost_prelude() -> str:
    from . import cpusnap
    from .scenarios import COST_SIZE
    return (cpusnap.INSTALL +
            "for n in 1 2; do eval B=\\$PIFIO_BLK_$n; fio --name=prefill --filename=$B --rw=write --bs=128k "
            f"--direct=1 --ioengine=psync --size={COST_SIZE.lower()} --output-format=terse > /dev/null 2>&1 "
            "|| echo \"PIFIO-JOB prefill $B failed\"; done\n")


def _boot(k, label: str, runnable: list[Scenario], nss, rdir: Path, gdir: str, a, clock: str = "realtime",
          prelude: str = "") -> guest.GuestResult:
    """One boot running `runnable`; scenario outputs -> rdir/<scenario>/, guest logs -> rdir/<gdir>/."""
    files: dict = {}
    script = ["set +e", prelude]
    for s in runnable:
        files.update(s.files())
        script.append(s.guest_script())
    from . import stacks
    mods: list[str] = []
    for s in runnable:
        if s.on_stack:
            mods += [m for m in stacks.guest_modules(s.stack, k)[0] if m not in mods]
    njobs = sum(len(s.job_names()) for s in runnable)
    est = 60 + sum(len(s.job_names()) * ((a.runtime if not s.cost else 20) + 30) for s in runnable)
    timeout = a.timeout or est

    from analysis.progress import Progress
    prog = Progress(total=njobs, what=label)
    prog.start("booting")

    def on_line(line: str):
        if line.startswith("PIFIO-JOB "):
            parts = line.split()
            if len(parts) >= 4 and parts[3] == "start":
                prog.start(f"{parts[1]} {parts[2]}")
            elif len(parts) >= 5 and parts[3] == "rc":
                prog.done("" if parts[4] == "0" else f"rc {parts[4]}")

    log(f"{label}: {len(runnable)} scenarios, {njobs} jobs on {k.release}; guest clock {clock}; "
        f"boot timeout {timeout} s")
    try:
        r = guest.boot_and_run(k, nss, script="\n".join(script), files=files, timeout=timeout,
                               smp=a.smp, mem=a.mem, run_dir=rdir / gdir, on_line=on_line, modules=mods,
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
                (rdir / s.name / f"{j}.fio").write_text(f if isinstance(f, str) else f.decode())
    return r


def run_kernel(kname: str, a, specs: list[str], engines) -> tuple[Path, list[Scenario], list[guest.GuestResult]]:
    k = kernels.resolve(kname, Path(a.modules) if a.modules else None)
    workloads = [] if a.no_default_jobs else default_workloads(a.size, a.runtime)
    nsz = _size(a.ns_size)
    scs, nss = plan_boot(k, specs, engines, a.stack, workloads, a.jobs or [], nsz)
    scs = [s for s in scs if s.workloads or s.user_jobs]      # --no-default-jobs without --jobs
    cost, cost_nss = plan_pi_cost(k, engines, a.cost_ios, a.cost_reps) if a.pi_cost else ([], [])
    stamp = dt.datetime.now(dt.timezone.utc)
    run_id = a.run_id or f"{stamp.strftime('%Y%m%d-%H%M%S')}-{Path(kname).name}"
    if a.run_id and len(a.kernel or []) > 1:
        run_id = f"{a.run_id}-{Path(kname).name}"
    rdir = a.results / run_id
    if rdir.exists():
        raise PifioError(f"{rdir} exists; pick another --run-id")
    rdir.mkdir(parents=True)
    runnable = [s for s in scs if not s.skipped]
    cost_runnable = [s for s in cost if not s.skipped]
    meta = {"schema": "pifio-run/1", "run_id": run_id, "started": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "host": _host_meta(),
            "kernel": {**{k_: v for k_, v in k.describe().items() if k_ != "bzimage"},
                       "series": " ".join(k.meta.get("patches") or []), "cmdline": guest.BASE_CMDLINE},
            "fio": {"version": _fio_version()}, "engine": _engine_meta(),
            "guest": {"smp": a.smp, "mem": a.mem, "namespaces": [{"nsid": n.nsid, "format": n.fmt.canonical(),
                                                                  "size": n.size} for n in nss]},
            "command": "./pifio run " + " ".join(sys.argv[2:] if len(sys.argv) > 2 else []),
            "scenarios": {s.name: s.meta() for s in scs + cost}}
    if cost:
        meta["cost_guest"] = {"smp": a.smp, "mem": a.mem, "namespaces": [
            {"nsid": n.nsid, "format": n.fmt.canonical(), "size": n.size} for n in cost_nss]}
    write_json(rdir / "meta.json", meta)
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
             _cost_prelude())):
        if not rn:
            continue
        r = _boot(k, label, rn, ns_, rdir, gdir, a, clock, prelude)
        results.append(r)
        meta[key].update({"boot_s": r.boot_s, "wall_s": round(r.wall_s, 1), "rc": r.rc, "clock": r.clock,
                          "cmdline": r.cmdline, "timed_out": r.timed_out, "namespaces_seen": r.namespaces})
        if key == "cost_guest":
            from . import cpusnap
            for s in rn:
                if (rdir / s.name).is_dir():
                    cpusnap.record(rdir / s.name, r.clock)
    meta["finished"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for s in runnable + cost_runnable:
        d = rdir / s.name
        if not d.exists():
            meta["scenarios"][s.name]["failed"] = "no results came back from the guest (see guest/console.log)"
        elif (d / "skip.txt").exists():      # the running kernel could not build the stack
            s.skipped = (d / "skip.txt").read_text().strip()
            meta["scenarios"][s.name]["skipped"] = s.skipped
        elif (d / "stack.rc").exists():
            meta["scenarios"][s.name]["failed"] = (f"stack build/teardown exited {(d / 'stack.rc').read_text().strip()}"
                                                   f" (see {s.name}/stack.log)")
    write_json(rdir / "meta.json", meta)
    return rdir, scs + cost, results


# ---------------------------------------------------------------- summary --

def _row(sdir: Path, job: str):
    """(iops, p50 us, p99 us, errors, note) of one job's fio JSON; for a job
    run in repetitions (<job>.<i>.json) the medians and the summed errors."""
    import statistics
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
    from analysis import fiojson
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
            from analysis.meta import parse_pi_report
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
    from . import cpusnap
    from .scenarios import PI_COST_MODES, pi_cost_workloads
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
    out = ["", f"PI cost table: {cpusnap.METRIC} in us, pifio (fio built-in); guest clock {clock or '?'}",
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
                ns = cpusnap.median_ns(cpusnap.read(rdir / s.name, j))
                vals.append("-" if ns is None else f"{ns / 1000:.1f}{'!' if bad else ''}")
            row += f"{vals[0] + ' (' + vals[1] + ')':>22}"
        out.append(row)
    out.append("('!' = the job reported errors or a non-zero exit; see the rows above)")
    return "\n".join(out)


def main(argv) -> int:
    a = _parse(argv)
    if not a.no_build:
        # The main job sets up and builds whatever is missing (cheap when warm).
        from . import build
        try:
            build.configure_and_build()
        except PifioError as e:
            print(f"pifio run: set-up/build failed: {e}", file=sys.stderr)
            return 1
    if a.host_dev:
        from . import hostrun
        return hostrun.main(a)
    if a.hosts:
        from . import multihost
        return multihost.main(a)
    specs = a.ns or DEFAULT_FORMATS
    for s in specs:
        formats.parse(s)
    engines = a.engine or list(ENGINES)
    plain = not (a.ns or a.stack or a.matrix or a.jobs)
    if a.pi_cost is None:
        a.pi_cost = plain or a.matrix
    if a.matrix:
        from . import stacks
        a.stack = a.stack or (["none"] + list(stacks.STACKS))
        a.kernel = a.kernel or ["6.1", "6.12", "7.3"]
    elif not a.stack:
        from . import stacks
        a.stack = ["none"] + (stacks.DEFAULT if plain else [])
    if a.ns and "none" not in a.stack:
        a.stack = ["none"] + a.stack       # --ns formats asked for: run them too
    if not guest.qemu_available():
        raise PifioError("qemu-system-x86_64 not found; run ./pifio setup")
    status = 0
    for kname in a.kernel or [kernels.DEFAULT]:
        try:
            rdir, scs, rs = run_kernel(kname, a, specs, engines)
        except PifioError as e:
            print(f"pifio run: {e}", file=sys.stderr)
            return 1
        print(summary(rdir, scs))
        print(pi_cost_table(rdir, scs))
        for r in rs:
            print(f"guest: {r.kernel['release']} (clock {r.clock}), boot to /init {r.boot_s} s, "
                  f"wall {r.wall_s:.0f} s, rc {r.rc}{' TIMED OUT' if r.timed_out else ''}")
            if not r.ok:
                status = 1
                print(f"guest failed: {r.why()}", file=sys.stderr)
        bad = [s.name for s in scs if not s.skipped and any(
            (rdir / s.name / f"{j}.rc").exists() and (rdir / s.name / f"{j}.rc").read_text().strip() != "0"
            for j in s.job_names())]
        if bad:
            status = 1
            print(f"failed jobs in: {', '.join(bad)}", file=sys.stderr)
    return status
