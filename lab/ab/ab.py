"""A/B of lab kernels (./pifio ab; one boot of the suite: run_suite, which
./pifio bisect uses too).

ab:     build A (base) and B (base + series) from the same tree and config,
        boot each `--runs` times interleaved A B A B …, one results/<run-id>/
        per boot, compare with analysis (Mann-Whitney/bootstrap, min effect),
        check the series manifest's expectations, write the report.
        Guests run on QEMU's icount clock (host.clock in meta.json) and speed
        is judged by guest CPU per I/O (lab.runs.cpu): under TCG on a shared
        host, IOPS follow host load and do not repeat; guest instruction
        counts do (kernel-patches/README.md, "How ab measures speed").
bisect: `git bisect run ./pifio bisect --scenario X` in a kernel tree: build
        the checked-out commit with lab.config (incremental, one object dir
        per tree), run X, exit 0 good / 1 bad / 125 skip.
"""
from __future__ import annotations

import fnmatch
import shutil
import sys
import time
from pathlib import Path

from analysis import cli as analysis_cli
from analysis import compare as cmp
from analysis import stats
from analysis.meta import DEFAULT_VARY
from analysis.store import Store
from shared.runschema import utc_now

from ..core.env import RESULTS, PifioError, log, read_json, write_json
from ..guest import Namespace, boot_and_run
from ..kernels import build as kbuild
from ..kernels import series as kseries
from ..kernels import usertree
from ..runs import cpu, meta
from . import suite as S

BOOT_TIMEOUT = 600
# The guest clock of ab and bisect runs: icount makes guest CPU time an
# instruction count (lab.guest.qemu clock_args), so "guest CPU per I/O"
# repeats across boots on a loaded host. Lab figures are in icount time.
CLOCK = "icount"
ICOUNT_SHIFT = 0
RUNS = 2        # boots per side; x SPEED_REPS fio runs each = samples per side
CPU_METRIC = cpu.METRIC
ALIASES = {"dm-linear-read": "dm-linear/*/read-verify",
           "kernel-pi": "kernel-pi/*", "passthrough": "passthrough/*"}


# ------------------------------------------------------------ one boot ---

def run_suite(kernel_dir, scenarios: list[S.Case], run_id: str, cmdline_extra: str = "",
              results: Path = RESULTS, modules=(), clock: str = CLOCK, icount_shift: int = ICOUNT_SHIFT) -> dict:
    """Boot kernel_dir once, run the scenarios, store results/<run_id>/. Returns
    {scenario: {"status": pass|fail|skip, "why": ...}} plus "_boot" info.
    clock: the guest clock (lab.guest.clock_args); recorded as host.clock in
    meta.json, a field analysis refuses to mix."""
    nss = [Namespace(format=f, size=S.NS_SIZE, nsid=n) for n, f in S.NAMESPACES.items()]
    started = utc_now()
    t0 = time.monotonic()
    km = (read_json(Path(kernel_dir) / "meta.json", {}) or {}) if Path(str(kernel_dir)).is_dir() else {}
    # scenarios this kernel is too old for are skipped with the reason, not booted
    old = {sc.name: S.too_old(sc, km.get("release", "")) for sc in scenarios}
    old = {k: v for k, v in old.items() if v}
    boot = [sc for sc in scenarios if sc.name not in old] or scenarios[:0]
    r = boot_and_run(str(kernel_dir), nss, S.suite_script(boot), timeout=BOOT_TIMEOUT,
                     cmdline_extra=cmdline_extra, modules=list(modules), clock=clock,
                     icount_shift=icount_shift)
    wall = time.monotonic() - t0
    out = results / run_id
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    status: dict = {}
    m = meta.new(run_id, started, host=dict(meta.host(), clock=r.clock), fio=meta.fio(),
                 engine={"version": "none (fio built-in engines)"},
                 kernel={"release": r.kernel.get("release"), "series": ",".join(km.get("series", [])) or "none",
                         "cmdline": r.cmdline, "base": km.get("base"), "key": km.get("key"),
                         "source": km.get("source")},
                 guest={"rc": r.rc, "timed_out": r.timed_out, "boot_s": r.boot_s, "wall_s": round(wall, 1),
                        "console": str(r.console_log)},
                 scenarios={})
    for sc in scenarios:
        src = r.results_dir / sc.name
        st = (src / "status").read_text().strip() if (src / "status").exists() else ""
        if src.exists():
            shutil.copytree(src, out / sc.name)
        if sc.name in old:
            st = "skip " + old[sc.name]
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
            reps = cpu.record(out / sc.name, r.clock)
            if reps:
                sm["cpu_ns_per_io"] = [c["ns_per_io"] for c in reps]
        m["scenarios"][sc.name] = sm
        status[sc.name] = {"status": word, "why": why}
    for extra in ("dmesg.txt", "scenario.log", "namespaces.tsv"):
        if (r.results_dir / extra).exists():
            shutil.copy2(r.results_dir / extra, out / ("guest-" + extra))
    meta.write(out, m)
    status["_boot"] = {"rc": r.rc, "timed_out": r.timed_out, "wall_s": round(wall, 1), "dir": str(out)}
    return status


def resolve_aliases(patterns: list[str]) -> list[str]:
    return [ALIASES.get(p, p) for p in patterns]


# ------------------------------------------------- guest CPU per I/O ---

def cpu_rows(a_dirs: list[Path], b_dirs: list[Path], threshold: float) -> list[dict]:
    """analysis-style comparison rows for guest CPU per I/O (lower is better)."""

    def collect(dirs):
        vals: dict = {}
        for d in dirs:
            for p in sorted(d.glob("**/cpu.json")):
                sc = str(p.parent.relative_to(d))
                for rep in cpu.read(p.parent):
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
        kind = next((sc.kind for sc in S.CASES if sc.name == n), "")
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
    store = Store(":memory:")
    a = cmp.load_side(store, ",".join(map(str, a_dirs)), str(RESULTS))
    b = cmp.load_side(store, ",".join(map(str, b_dirs)), str(RESULTS))
    res = cmp.compare(store, a, b, threshold, vary=tuple(DEFAULT_VARY) + tuple(vary))
    res["text"] = cmp.render_text(res)
    return res


def run(series: str, base: str = "7.3", runs: int = RUNS, clock: str = CLOCK, icount_shift: int = ICOUNT_SHIFT,
        scenario=None, threshold: float = 2.0, cmdline: str = "", cmdline_b: str = "") -> int:
    """Build A (base) and B (base + series), boot them `runs` times each,
    interleaved, compare, check the manifest's expectations, write the report.
    Exit 0 as expected, 1 an expectation failed, 2 set-up trouble."""
    t_start = time.monotonic()
    try:
        man = kseries.series_manifest(series)
        ta = time.monotonic()
        kd_a = kbuild.build(base)
        tb = time.monotonic()
        kd_b = kbuild.build(base, series)
        t_built = time.monotonic()
        scen = S.select(resolve_aliases(scenario) if scenario else man.get("scenarios"))
        if not scen:
            raise PifioError(f"no scenario matches {scenario}")
        return _ab(kd_a, kd_b, scen, label=series, abid=time.strftime("ab-%Y%m%d-%H%M%S-") + series,
                   title=f"{base} vs {base}+{series}", expect=man.get("expect", {}),
                   expect_src=f"kernel-patches/{series}/manifest.json",
                   build_seconds={"A": round(tb - ta, 1), "B": round(t_built - tb, 1)},
                   extra={"series": series, "base": base}, t_start=t_start, runs=runs, clock=clock,
                   icount_shift=icount_shift, threshold=threshold, cmdline=cmdline, cmdline_b=cmdline_b)
    except PifioError as e:
        log(f"ab: {e}")
        return 2


def run_tree(tree: str, rev_a: str, rev_b: str | None = None, mbox: str | None = None, patches: str | None = None,
             expect_file: str | None = None, expect_series: str | None = None, runs: int = RUNS,
             clock: str = CLOCK, icount_shift: int = ICOUNT_SHIFT, scenario=None, threshold: float = 2.0,
             cmdline: str = "", cmdline_b: str = "") -> int:
    """A/B of two commits of the user's git kernel tree (or a commit and the
    same commit + an mbox / patch folder), built in the tree's scratch
    worktree (lab.kernels.usertree; the tree is never modified). Same
    interleaved boots, compare, report and dashboard page as run().
    Expectations: a manifest (--expect FILE or a series' --expect-series);
    without one, "no new correctness failure on B"."""
    t_start = time.monotonic()
    try:
        if not rev_b and not (mbox or patches):
            raise PifioError("ab --tree needs B: --b REV, or --mbox FILE / --patches DIR applied on --a")
        if rev_b and (mbox or patches):
            raise PifioError("ab --tree: give --b REV or --mbox/--patches (applied on --a), not both")
        if expect_file and expect_series:
            raise PifioError("give --expect FILE or --expect-series NAME, not both")
        if expect_file:
            p = Path(expect_file)
            man = read_json(p, None) if p.is_file() else None
            if not isinstance(man, dict):
                raise PifioError(f"--expect {expect_file}: not a JSON manifest file "
                                 "(see kernel-patches/*/manifest.json: scenarios, expect)")
            expect_src = str(p)
        elif expect_series:
            man = kseries.series_manifest(expect_series)
            expect_src = f"kernel-patches/{expect_series}/manifest.json"
        else:
            man, expect_src = {}, "none given: no new correctness failure on B"
        # validate both sides before the (long) builds
        t = usertree.open_tree(tree)
        for r in [rev_a] + ([rev_b] if rev_b else []):
            usertree.kernel_version(t, usertree.resolve_rev(t, r))
        usertree.patch_files(mbox, patches)
        scen = S.select(resolve_aliases(scenario) if scenario else man.get("scenarios"))
        if not scen:
            raise PifioError(f"no scenario matches {scenario}; known: {', '.join(c.name for c in S.CASES)}")
        ta = time.monotonic()
        kd_a, spec_a = usertree.build(t, rev_a)
        tb = time.monotonic()
        kd_b, spec_b = usertree.build(t, rev_b, None, None) if rev_b else usertree.build(t, rev_a, mbox, patches)
        t_built = time.monotonic()
        short_b = spec_b["commit"][:12] + ("+patches" if spec_b["patches"] else "")
        label = f"{t.name}-{spec_a['commit'][:12]}-{short_b}"
        return _ab(kd_a, kd_b, scen, label=label, abid=time.strftime("ab-%Y%m%d-%H%M%S-tree-") + label,
                   title=f"{t} A {usertree.describe(spec_a)} vs B {usertree.describe(spec_b)}",
                   expect=man.get("expect", {}), expect_src=expect_src,
                   build_seconds={"A": round(tb - ta, 1), "B": round(t_built - tb, 1)},
                   extra={"tree": str(t), "a_rev": spec_a, "b_rev": spec_b}, t_start=t_start, runs=runs,
                   clock=clock, icount_shift=icount_shift, threshold=threshold, cmdline=cmdline, cmdline_b=cmdline_b)
    except PifioError as e:
        log(f"ab: {e}")
        return 2


def _ab(kd_a, kd_b, scen, *, label, abid, title, expect, expect_src, build_seconds, extra, t_start, runs, clock,
        icount_shift, threshold, cmdline, cmdline_b) -> int:
    """The interleaved boots, compare, expectations, report.txt/json and dashboard of one A/B."""
    sa, sb, da, db = [], [], [], []
    for i in range(runs):
        for side, kd, acc, dirs, xc in (("A", kd_a, sa, da, cmdline),
                                        ("B", kd_b, sb, db, f"{cmdline} {cmdline_b}".strip())):
            rid = f"{abid}-{side}{i + 1}"
            log(f"ab {label}: run {i + 1}/{runs} side {side} ({time.monotonic() - t_start:.0f} s)")
            st = run_suite(kd, scen, rid, xc, clock=clock, icount_shift=icount_shift)
            acc.append(st)
            dirs.append(RESULTS / rid)
            brief = ", ".join(f"{k.split('/')[0]}/{k.split('/')[2]}:{v['status']}"
                              for k, v in st.items() if not k.startswith("_"))
            log(f"ab {label}: {side}{i + 1}: {brief} ({st['_boot']['wall_s']} s)")
    res = compare_runs(da, db, threshold, vary=("kernel.cmdline",) if cmdline_b else ())
    clock = (read_json(da[0] / "meta.json", {}) or {}).get("host", {}).get("clock", clock)
    crow = [] if res.get("refused") else cpu_rows(da, db, threshold)
    res["rows"] = list(res.get("rows", [])) + crow
    checks = evaluate(expect, sa, sb, res)
    total = time.monotonic() - t_start
    rep = dict(extra, runs=runs, reps_per_run=S.SPEED_REPS, clock=clock, a=str(kd_a), b=str(kd_b),
               a_runs=[d.name for d in da], b_runs=[d.name for d in db], build_seconds=build_seconds,
               total_seconds=round(total, 1), expect=expect, expect_source=expect_src, checks=checks,
               compare={k: v for k, v in res.items() if k not in ("text", "curves")})
    outd = RESULTS / abid
    outd.mkdir(parents=True, exist_ok=True)
    write_json(outd / "report.json", rep)
    lines = [f"pifio ab: {title}",
             f"{runs} boots per side, interleaved, {S.SPEED_REPS} fio runs per speed scenario per boot; "
             f"guest clock: {clock}",
             f"A: {kd_a}  B: {kd_b}" + (f"  B cmdline: {cmdline_b}" if cmdline_b else ""),
             f"builds: A {build_seconds['A']} s, B {build_seconds['B']} s; total {total:.0f} s",
             "", res["text"], "", render_cpu_rows(crow, clock), "",
             f"expectations ({expect_src}):"]
    for c in checks:
        mark = {True: "OK  ", False: "FAIL", None: "SKIP"}[c["ok"]]
        lines.append(f"  {mark} {c['check']}: {c['detail']}")
    text = "\n".join(lines) + "\n"
    (outd / "report.txt").write_text(text)
    sys.stdout.write(text)
    try:   # the dashboard page (analysis); optional
        analysis_cli.report(["--results", str(RESULTS), "--compare", ",".join(map(str, da)), ",".join(map(str, db))])
    except Exception as e:  # noqa: BLE001 — the report above is the product; the page is a bonus
        log(f"ab: dashboard not written ({e})")
    log(f"ab: report {outd / 'report.txt'}")
    if any(c["ok"] is False for c in checks):
        return 1
    return 0 if checks else res.get("exit", 0)
