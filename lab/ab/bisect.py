"""./pifio bisect: `git bisect run ./pifio bisect --scenario X` in a kernel
tree: build the checked-out commit with lab.config (incremental, one object
dir per tree), run X (lab.ab.ab.run_suite), exit 0 good / 1 bad / 125 skip.

./pifio bisect --tree PATH --good G --bad B --scenario X (drive()): the same
per-commit judge, but pifio runs git bisect itself in the tree's scratch
worktree (lab.kernels.usertree; the user's checkout, HEAD and branches are
not touched; bisect refs are per-worktree), after checking that G passes
and B fails, and prints the first bad commit."""
from __future__ import annotations

import re
import statistics
import subprocess
import time
from pathlib import Path

from analysis import fiojson

from ..core.env import CACHE, PifioError, log
from ..kernels import build as kbuild
from ..kernels import usertree as U
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
    return judge(tree, scen, metric, threshold, runs, cmdline)


def judge(tree: Path, scen, metric=None, threshold=None, runs: int = 1, cmdline: str = "",
          lock: bool = True) -> int:
    """Build what is checked out in `tree` and run `scen`: 0 good, 1 bad, 125 skip."""
    try:
        kd = kbuild.build_tree(tree, lock=lock)
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


def drive(tree: str, good: str, bad: str, scenario: str, metric=None, threshold=None, runs: int = 1,
          cmdline: str = "", verify_ends: bool = True) -> int:
    """git bisect good..bad in the scratch worktree of `tree`, judged per commit
    by judge(). Exit 0 and print the first bad commit; 1 when git bisect could
    not name one (only skipped commits left); 2 set-up trouble (clear message)."""
    t0 = time.monotonic()
    try:
        t = U.open_tree(tree)
        g, b = U.resolve_rev(t, good), U.resolve_rev(t, bad)
        for c in (g, b):
            U.kernel_version(t, c)
        if subprocess.run(["git", "merge-base", "--is-ancestor", g, b], cwd=t).returncode:
            raise PifioError(f"--good {good} is not an ancestor of --bad {bad}; git bisect needs good..bad "
                             "to be a range of history")
        scen = S.select(resolve_aliases([scenario]))
        if not scen:
            raise PifioError(f"no scenario matches {scenario!r}; known: {', '.join(s.name for s in S.CASES)}")
        if metric and threshold is None:
            raise PifioError("--metric needs --threshold")
    except PifioError as e:
        log(f"bisect: {e}")
        return 2
    n = int(subprocess.run(["git", "rev-list", "--count", f"{g}..{b}"], cwd=t, capture_output=True,
                           text=True).stdout.strip() or 0)
    log(f"bisect: {t}: good {g[:12]} {U.subject(t, g)!r}, bad {b[:12]} {U.subject(t, b)!r}, {n} commit(s) "
        f"in the range; scenario {', '.join(s.name for s in scen)}; in the scratch worktree {U.scratch_for(t)}")
    args = (scen, metric, threshold, runs, cmdline)
    with U.scratch_lock(t):
        s = U.ensure_scratch(t, b)

        def git(*a):
            r = subprocess.run(["git", *kbuild.GIT_ID, *a], cwd=s, capture_output=True, text=True)
            return r.returncode, r.stdout + r.stderr

        try:
            if verify_ends:
                for rev, want, name in ((b, 1, "bad"), (g, 0, "good")):
                    git("checkout", "-q", "-f", "--detach", rev)
                    log(f"bisect: checking the {name} end {rev[:12]} ({time.monotonic() - t0:.0f} s)")
                    v = judge(s, *args, lock=False)
                    if v != want:
                        what = {0: "passes", 1: "fails", 125: "cannot be judged (build or lab trouble, or skipped)"}[v]
                        log(f"bisect: the {name} end {rev[:12]} {what} {scenario}: nothing to bisect in "
                            f"{good}..{bad}; pick ends where {good} passes and {bad} fails")
                        return 2
            rc, out = git("bisect", "start", b, g)
            if rc:
                log(f"bisect: git bisect start failed: {out[-800:]}")
                return 2
            steps = 0
            while True:
                m = re.search(r"^([0-9a-f]{40}) is the first bad commit", out, re.M)
                if m:
                    c = m.group(1)
                    log(f"bisect: {steps} step(s), {time.monotonic() - t0:.0f} s")
                    print(f"first bad commit: {c} {U.subject(t, c)}")
                    return 0
                if "only 'skip'ped commits left" in out or "cannot bisect more" in out.lower():
                    log("bisect: git bisect could not narrow it down (skipped commits):\n" + out[-1500:])
                    return 1
                if rc:
                    log(f"bisect: git bisect failed: {out[-800:]}")
                    return 2
                head = git("rev-parse", "HEAD")[1].strip()
                steps += 1
                log(f"bisect: step {steps}: {head[:12]} {U.subject(t, head)!r} ({time.monotonic() - t0:.0f} s)")
                v = judge(s, *args, lock=False)
                rc, out = git("bisect", {0: "good", 1: "bad"}.get(v, "skip"))
        finally:
            git("bisect", "log")
            git("bisect", "reset", "--quiet")
