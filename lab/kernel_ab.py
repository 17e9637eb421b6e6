"""./pifio ab and ./pifio bisect: run the kernel scenarios on lab kernels.

ab:     build A (base) and B (base + series) from the same tree and config,
        boot each `--runs` times interleaved A B A B …, one results/<run-id>/
        per boot, compare with analysis (Mann-Whitney/bootstrap, min effect),
        check the series manifest's expectations, write the report.
        Guests run on QEMU's icount clock (host.clock in meta.json) and speed
        is judged by guest CPU per I/O (lab/cpusnap.py): under TCG on a shared
        host, IOPS follow host load and do not repeat; guest instruction
        counts do (kernel-patches/README.md, "How ab measures speed").
bisect: `git bisect run ./pifio bisect --scenario X` in a kernel tree: build
        the checked-out commit with lab.config (incremental, one object dir
        per tree), run X, exit 0 good / 1 bad / 125 skip.
"""
from __future__ import annotations

import argparse
import fnmatch
import shutil
import socket
import statistics
import sys
import time
from pathlib import Path

from . import cpusnap
from . import kernel as K
from . import kernel_scenarios as S
from .common import CACHE, RESULTS, PifioError, log, read_json, run, write_json

BOOT_TIMEOUT = 600
# The guest clock of ab and bisect runs: icount makes guest CPU time an
# instruction count (lab/guest.py clock_args), so "guest CPU per I/O"
# repeats across boots on a loaded host. Lab figures are in icount time.
CLOCK = "icount"
ICOUNT_SHIFT = 0
RUNS = 2        # boots per side; x SPEED_REPS fio runs each = samples per side
CPU_METRIC = cpusnap.METRIC
ALIASES = {"dm-linear-read": "dm-linear/*/read-verify",
           "kernel-pi": "kernel-pi/*", "passthrough": "passthrough/*"}


# ------------------------------------------------------------ one boot ---

def _host_meta() -> dict:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    q = shutil.which("qemu-system-x86_64")
    qv = run([q, "--version"], capture=True, quiet=True, check=False).stdout.splitlines()[0] if q else ""
    return {"hostname": socket.gethostname(), "cpu": cpu, "accel": "tcg", "qemu": qv}


def _fio_meta() -> dict:
    from . import initramfs
    for guest, host in initramfs.default_binaries():
        if guest == "/usr/bin/fio":
            v = run([host, "--version"], capture=True, quiet=True, check=False).stdout.strip()
            return {"version": v, "path": str(host)}
    return {"version": "none"}


def run_suite(kernel_dir, scenarios: list[S.Scenario], run_id: str, cmdline_extra: str = "",
              results: Path = RESULTS, modules=(), clock: str = CLOCK, icount_shift: int = ICOUNT_SHIFT) -> dict:
    """Boot kernel_dir once, run the scenarios, store results/<run_id>/. Returns
    {scenario: {"status": pass|fail|skip, "why": ...}} plus "_boot" info.
    clock: the guest clock (lab.guest.clock_args); recorded as host.clock in
    meta.json, a field analysis refuses to mix."""
    from . import guest
    nss = [guest.Namespace(format=f, size=S.NS_SIZE, nsid=n) for n, f in S.NAMESPACES.items()]
    t0 = time.monotonic()
    r = guest.boot_and_run(str(kernel_dir), nss, S.suite_script(scenarios), timeout=BOOT_TIMEOUT,
                           cmdline_extra=cmdline_extra, modules=list(modules), clock=clock,
                           icount_shift=icount_shift)
    wall = time.monotonic() - t0
    out = results / run_id
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    status: dict = {}
    km = (read_json(Path(kernel_dir) / "meta.json", {}) or {}) if Path(str(kernel_dir)).is_dir() else {}
    meta = {"schema": "pifio-run/1", "run_id": run_id, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "host": dict(_host_meta(), clock=r.clock), "fio": _fio_meta(), "engine": {"version": "none (fio built-in engines)"},
            "kernel": {"release": r.kernel.get("release"), "series": ",".join(km.get("series", [])) or "none",
                       "cmdline": r.cmdline, "base": km.get("base"), "key": km.get("key"),
                       "source": km.get("source")},
            "guest": {"rc": r.rc, "timed_out": r.timed_out, "boot_s": r.boot_s, "wall_s": round(wall, 1),
                      "console": str(r.console_log)},
            "scenarios": {}}
    for sc in scenarios:
        src = r.results_dir / sc.name
        st = (src / "status").read_text().strip() if (src / "status").exists() else ""
        if src.exists():
            shutil.copytree(src, out / sc.name)
        if not st:
            st = "fail guest did not finish the scenario" + (" (timed out)" if r.timed_out else "")
            if r.rc is None and not (r.results_dir / "rc").exists():
                st = "skip guest did not boot or did not return results: " + r.why().splitlines()[0]
        word, _, why = st.partition(" ")
        stack, fmt = sc.name.split("/")[:2]
        sm = {"stack": stack, "format": fmt, "engine": "io_uring_cmd" if stack == "passthrough" else "io_uring",
              "pi_mode": {"kernel-pi": "kernel", "dm-linear": "kernel", "passthrough": "none",
                          "nopi": "none"}.get(stack, "?"), "kind": sc.kind, "status": word}
        if word == "skip":
            sm["skipped"] = why
        if word == "fail":
            sm["why"] = why
        if sc.kind == "speed" and (out / sc.name).is_dir():
            cpu = cpusnap.record(out / sc.name, r.clock)
            if cpu:
                sm["cpu_ns_per_io"] = [c["ns_per_io"] for c in cpu]
        meta["scenarios"][sc.name] = sm
        status[sc.name] = {"status": word, "why": why}
    for extra in ("dmesg.txt", "scenario.log", "namespaces.tsv"):
        if (r.results_dir / extra).exists():
            shutil.copy2(r.results_dir / extra, out / ("guest-" + extra))
    write_json(out / "meta.json", meta)
    status["_boot"] = {"rc": r.rc, "timed_out": r.timed_out, "wall_s": round(wall, 1), "dir": str(out)}
    return status


def _resolve(patterns: list[str]) -> list[str]:
    return [ALIASES.get(p, p) for p in patterns]


# ------------------------------------------------- guest CPU per I/O ---

def cpu_rows(a_dirs: list[Path], b_dirs: list[Path], threshold: float) -> list[dict]:
    """analysis-style comparison rows for guest CPU per I/O (lower is better)."""
    sys.path.insert(0, str(K.ROOT))
    from analysis import stats

    def collect(dirs):
        vals: dict = {}
        for d in dirs:
            for p in sorted(d.glob("**/cpu.json")):
                sc = str(p.parent.relative_to(d))
                for rep in cpusnap.read(p.parent):
                    vals.setdefault(f"{sc}/{rep['job']}", []).append(rep["ns_per_io"])
        return vals
    va, vb = collect(a_dirs), collect(b_dirs)
    rows = []
    for key in sorted(set(va) & set(vb)):
        v = stats.compare_samples(va[key], vb[key], "arithmetic", higher_is_better=False,
                                  threshold_pct=threshold)
        rows.append({"scenario": key, "metric": CPU_METRIC, "unit": "ns", "n_a": len(va[key]),
                     "n_b": len(vb[key]), "a": v.mean_a, "b": v.mean_b, "change_pct": v.change_pct,
                     "p_value": v.p_value, "test": v.test, "ci_lo": v.ci_lo, "ci_hi": v.ci_hi,
                     "verdict": v.verdict, "note": v.note, "higher_is_better": False,
                     "a_values": va[key], "b_values": vb[key]})
    return rows


def render_cpu_rows(rows: list[dict], clock: str) -> str:
    if not rows:
        return ""
    unit = "ns = instructions" if clock.startswith("icount shift=0") else "ns"
    lines = [f"{CPU_METRIC} ({unit}; guest clock: {clock}): all guest threads between fio's "
             "prerun and postrun, / I/Os",
             f"{'scenario':48s} {'n':>7s} {'A':>10s} {'B':>10s} {'change':>9s} {'95% CI':>18s} {'p':>8s}  verdict"]
    for r in rows:
        ci = f"[{r['ci_lo']:+.1f},{r['ci_hi']:+.1f}]%" if r["ci_lo"] == r["ci_lo"] else ""
        lines.append(f"{r['scenario']:48s} {r['n_a']:>3d}/{r['n_b']:<3d} {r['a']:>10.0f} {r['b']:>10.0f} "
                     f"{r['change_pct']:>+8.2f}% {ci:>18s} {r['p_value']:>8.4f}  {r['verdict']}"
                     + (f"  ({r['note']})" if r.get("note") else ""))
    return "\n".join(lines)


# ------------------------------------------------------------------ ab ---

def _match(name: str, pats) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in pats)


def evaluate(expect: dict, status_a: list[dict], status_b: list[dict], res: dict | None) -> list[dict]:
    """Check a manifest's expectations. Returns [{check, ok, detail}]."""
    checks = []
    names = sorted({k for s in status_a + status_b for k in s if not k.startswith("_")})
    must_fail = expect.get("must_fail", [])
    for n in names:
        a = [s[n]["status"] for s in status_a if n in s]
        b = [s[n]["status"] for s in status_b if n in s]
        kind = next((sc.kind for sc in S.SCENARIOS if sc.name == n), "")
        if kind != "correctness":
            continue
        if "skip" in a + b:
            checks.append({"check": f"{n}: correctness", "ok": None,
                           "detail": "skipped: " + next(s[n]["why"] for s in status_a + status_b
                                                        if n in s and s[n]["status"] == "skip")})
            continue
        why_b = next((s[n]["why"] for s in status_b if n in s and s[n]["status"] == "fail"), "")
        if _match(n, must_fail):
            ok = all(x == "pass" for x in a) and all(x == "fail" for x in b)
            checks.append({"check": f"{n}: must fail on B, pass on A", "ok": ok,
                           "detail": f"A {a}, B {b}; B: {why_b}"})
        else:
            ok = not (all(x == "pass" for x in a) and any(x == "fail" for x in b))
            checks.append({"check": f"{n}: no new failure on B", "ok": ok, "detail": f"A {a}, B {b} {why_b}"})
    if res is None:
        return checks
    rows = res.get("rows", [])

    def metric_rows(pat, metric):
        want = {"iops": "IOPS", "bw": "BW", "lat": "clat mean", "cpu": CPU_METRIC}.get(metric, metric)
        return [r for r in rows if fnmatch.fnmatch(r["scenario"], pat) and r["metric"].endswith(want)]

    for reg in ([expect["must_regress"]] if isinstance(expect.get("must_regress"), dict)
                else expect.get("must_regress", [])):
        for r in metric_rows(reg["scenario"], reg.get("metric", "iops")):
            ok = r["verdict"] == "regressed" and abs(r["change_pct"]) >= reg.get("min_pct", 0)
            checks.append({"check": f"{r['scenario']} {r['metric']}: regresses >= {reg.get('min_pct', 0)}%",
                           "ok": ok, "detail": f"{r['a']:.0f} -> {r['b']:.0f} ({r['change_pct']:+.1f}%), "
                                               f"p={r['p_value']:.3g}, {r['verdict']}"})
    nc = expect.get("no_change", [])
    for item in ([nc] if isinstance(nc, (str, dict)) else nc):
        pat, metric = (item, "iops") if isinstance(item, str) else (item["scenario"], item.get("metric", "iops"))
        for r in metric_rows(pat, metric):
            ok = r["verdict"] in ("within noise",)
            checks.append({"check": f"{r['scenario']} {r['metric']}: no change", "ok": ok,
                           "detail": f"{r['a']:.0f} -> {r['b']:.0f} ({r['change_pct']:+.1f}%), "
                                     f"p={r['p_value']:.3g}, {r['verdict']}"})
    return checks


def compare_runs(a_dirs: list[Path], b_dirs: list[Path], threshold: float, vary=()) -> dict:
    """analysis compare of the two sides; `vary`: fixed run fields allowed to
    differ besides kernel release/series (kernel.cmdline with --cmdline-b)."""
    sys.path.insert(0, str(K.ROOT))
    from analysis import compare as cmp
    from analysis.meta import DEFAULT_VARY
    from analysis.store import Store
    store = Store(":memory:")
    a = cmp.load_side(store, ",".join(map(str, a_dirs)), str(RESULTS))
    b = cmp.load_side(store, ",".join(map(str, b_dirs)), str(RESULTS))
    res = cmp.compare(store, a, b, threshold, vary=tuple(DEFAULT_VARY) + tuple(vary))
    res["text"] = cmp.render_text(res)
    return res


def main(argv) -> int:
    ap = argparse.ArgumentParser(prog="pifio ab", description="patched (B) vs unpatched (A) lab kernel")
    ap.add_argument("--base", default="7.3")
    ap.add_argument("--series", required=True)
    ap.add_argument("--runs", type=int, default=RUNS,
                    help=f"boots per side, interleaved A B A B (default {RUNS}); each boot runs every speed "
                         f"scenario {S.SPEED_REPS} times")
    ap.add_argument("--clock", choices=["icount", "realtime"], default=CLOCK,
                    help="guest clock (default icount: guest CPU time = instruction count, repeatable on a "
                         "loaded host; realtime: QEMU follows the host clock)")
    ap.add_argument("--icount-shift", type=int, default=ICOUNT_SHIFT,
                    help="icount: 2**N ns per guest instruction (default 0)")
    ap.add_argument("--scenario", action="append", help="glob(s) of scenarios (default: all)")
    ap.add_argument("--threshold", type=float, default=2.0, help="minimum effect in %% (default 2)")
    ap.add_argument("--cmdline-b", default="", help="extra kernel command line for B (e.g. t10_pi.delay_ns=500)")
    ap.add_argument("--cmdline", default="", help="extra kernel command line for both")
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    t_start = time.monotonic()
    try:
        man = K.series_manifest(a.series)
        ta = time.monotonic()
        kd_a = K.build(a.base)
        tb = time.monotonic()
        kd_b = K.build(a.base, a.series)
        t_built = time.monotonic()
        scen = S.select(_resolve(a.scenario) if a.scenario else man.get("scenarios"))
        if not scen:
            raise PifioError(f"no scenario matches {a.scenario}")
        abid = time.strftime("ab-%Y%m%d-%H%M%S-") + a.series
        sa, sb, da, db = [], [], [], []
        for i in range(a.runs):
            for side, kd, acc, dirs, extra in (("A", kd_a, sa, da, a.cmdline),
                                               ("B", kd_b, sb, db, f"{a.cmdline} {a.cmdline_b}".strip())):
                rid = f"{abid}-{side}{i + 1}"
                log(f"ab {a.series}: run {i + 1}/{a.runs} side {side} ({time.monotonic() - t_start:.0f} s)")
                st = run_suite(kd, scen, rid, extra, clock=a.clock, icount_shift=a.icount_shift)
                acc.append(st)
                dirs.append(RESULTS / rid)
                brief = ", ".join(f"{k.split('/')[0]}/{k.split('/')[2]}:{v['status']}"
                                  for k, v in st.items() if not k.startswith("_"))
                log(f"ab {a.series}: {side}{i + 1}: {brief} ({st['_boot']['wall_s']} s)")
        res = compare_runs(da, db, a.threshold, vary=("kernel.cmdline",) if a.cmdline_b else ())
        clock = (read_json(da[0] / "meta.json", {}) or {}).get("host", {}).get("clock", a.clock)
        crow = [] if res.get("refused") else cpu_rows(da, db, a.threshold)
        res["rows"] = list(res.get("rows", [])) + crow
        checks = evaluate(man.get("expect", {}), sa, sb, res)
        total = time.monotonic() - t_start
        rep = {"series": a.series, "base": a.base, "runs": a.runs, "reps_per_run": S.SPEED_REPS,
               "clock": clock, "a": str(kd_a), "b": str(kd_b),
               "a_runs": [d.name for d in da], "b_runs": [d.name for d in db],
               "build_seconds": {"A": round(tb - ta, 1), "B": round(t_built - tb, 1)},
               "total_seconds": round(total, 1), "expect": man.get("expect", {}), "checks": checks,
               "compare": {k: v for k, v in res.items() if k not in ("text", "curves")}}
        outd = RESULTS / abid
        outd.mkdir(parents=True, exist_ok=True)
        write_json(outd / "report.json", rep)
        lines = [f"pifio ab: {a.base} vs {a.base}+{a.series}, {a.runs} boots per side, interleaved, "
                 f"{S.SPEED_REPS} fio runs per speed scenario per boot; guest clock: {clock}",
                 f"A: {kd_a}  B: {kd_b}" + (f"  B cmdline: {a.cmdline_b}" if a.cmdline_b else ""),
                 f"builds: A {rep['build_seconds']['A']} s, B {rep['build_seconds']['B']} s; total {total:.0f} s",
                 "", res["text"], "", render_cpu_rows(crow, clock), "",
                 "expectations (kernel-patches/%s/manifest.json):" % a.series]
        for c in checks:
            mark = {True: "OK  ", False: "FAIL", None: "SKIP"}[c["ok"]]
            lines.append(f"  {mark} {c['check']}: {c['detail']}")
        text = "\n".join(lines) + "\n"
        (outd / "report.txt").write_text(text)
        sys.stdout.write(text)
        try:   # the dashboard page (analysis); optional
            from analysis import cli as acli
            acli.report(["--results", str(RESULTS), "--compare", ",".join(map(str, da)), ",".join(map(str, db))])
        except Exception as e:  # noqa: BLE001 — the report above is the product; the page is a bonus
            log(f"ab: dashboard not written ({e})")
        log(f"ab: report {outd / 'report.txt'}")
        if any(c["ok"] is False for c in checks):
            return 1
        return 0 if checks else res.get("exit", 0)
    except PifioError as e:
        log(f"ab: {e}")
        return 2


# -------------------------------------------------------------- bisect ---

def bisect_main(argv) -> int:
    ap = argparse.ArgumentParser(prog="pifio bisect",
                                 description="git bisect run helper: build the kernel tree in cwd with "
                                             "kernel-patches/config/lab.config, run a scenario; exit 0 good, "
                                             "1 bad, 125 skip")
    ap.add_argument("--scenario", required=True, help="scenario name/glob or alias (dm-linear-read, kernel-pi)")
    ap.add_argument("--metric", choices=["iops", "bw", "lat", "cpu"],
                    help="judge a speed scenario by this metric (cpu: guest CPU ns per I/O, the repeatable one "
                         "under the icount clock)")
    ap.add_argument("--threshold", type=float, help="bad when iops/bw below (lat/cpu above) this value")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--tree", default=".", help="kernel tree (default cwd)")
    ap.add_argument("--cmdline", default="")
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return 125 if e.code else 0
    tree = Path(a.tree).resolve()
    if not (tree / "Makefile").exists() or not (tree / "block").is_dir():
        log(f"bisect: {tree} is not a kernel tree")
        return 125
    scen = S.select(_resolve([a.scenario]))
    if not scen:
        log(f"bisect: no scenario matches {a.scenario!r}; known: {', '.join(s.name for s in S.SCENARIOS)}")
        return 125
    if a.metric and a.threshold is None:
        log("bisect: --metric needs --threshold")
        return 125
    try:
        kd = build_tree(tree)
    except PifioError as e:
        log(f"bisect: build failed, skipping this commit: {str(e)[:600]}")
        return 125
    verdicts = []
    values = []
    for i in range(a.runs):
        rid = time.strftime("bisect-%Y%m%d-%H%M%S-") + kd.name[:8] + f"-{i + 1}"
        try:
            st = run_suite(kd, scen, rid, a.cmdline, results=CACHE / "bisect-results")
        except PifioError as e:
            log(f"bisect: lab failed: {e}")
            return 125
        for sc in scen:
            s = st.get(sc.name, {"status": "skip", "why": "not run"})
            log(f"bisect: {kd.name[:8]} {sc.name}: {s['status']} {s['why']}")
            verdicts.append(s["status"])
            if a.metric and s["status"] == "pass":
                v = _metric_value(CACHE / "bisect-results" / rid / sc.name, a.metric)
                if v is not None:
                    values.append(v)
    if "fail" in verdicts:
        return 1
    if all(v == "skip" for v in verdicts):
        return 125
    if a.metric:
        if not values:
            return 125
        med = statistics.median(values)
        bad = med > a.threshold if a.metric in ("lat", "cpu") else med < a.threshold
        log(f"bisect: {a.metric} median {med:.1f} vs threshold {a.threshold} -> {'bad' if bad else 'good'}")
        return 1 if bad else 0
    return 0


def _metric_value(d: Path, metric: str):
    if metric == "cpu":
        return cpusnap.median_ns(cpusnap.read(d))
    sys.path.insert(0, str(K.ROOT))
    from analysis import fiojson
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


def build_tree(tree: Path) -> Path:
    """Build whatever is checked out in `tree` (a git tree) with lab.config.

    The object dir is per tree, so successive bisect steps are incremental;
    when the tree is pifio's cached Debian source (made by `kernel gitify`),
    the object dir of the base build is reused and the first step is
    incremental too. Cached by the git tree hash (+ uncommitted diff)."""
    head = run(["git", "rev-parse", "HEAD^{tree}"], cwd=tree, capture=True, quiet=True,
               check=False).stdout.strip()
    if not head:
        raise PifioError(f"{tree}: not a git tree")
    diff = run(["git", "diff", "HEAD"], cwd=tree, capture=True, quiet=True).stdout
    commit = run(["git", "rev-parse", "HEAD"], cwd=tree, capture=True, quiet=True).stdout.strip()
    key = K.hash_strings("tree", head, K.config_hash(), diff)
    out = K.KBUILD / f"tree-{key[:16]}"
    if (out / "bzImage").exists() and (out / "meta.json").exists():
        log(f"bisect: cached build for tree {head[:12]}: {out}")
        return out
    version = None
    for base, info in K.bases().items():
        if tree == (K.SRC / info["version"]).resolve():
            version = info["version"]
    obj = K.obj_dir_for(tree, version)
    subject = run(["git", "log", "-1", "--format=%s"], cwd=tree, capture=True, quiet=True).stdout.strip()
    meta = {"base": f"tree {tree}", "source": f"git {commit}", "series": [f"commit:{commit[:12]}"],
            "patches": [], "key": key, "head": commit, "subject": subject}
    lock = (K.SRC / f"{version}.lock") if version else (K.KBUILD / "obj" / (obj.name + ".lock"))
    with K.tree_lock(lock):
        return K.compile_tree(tree, obj, out, meta, f"bisect {commit[:12]}")
