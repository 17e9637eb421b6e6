"""./pifio nightly: run the matrix N times, append to the store, compare with
the previous nights, regenerate the dashboard.

The matrix is run through `runner(argv) -> int` (one results/<run-id>/ per
run): `./pifio nightly` (lab.commands.nightly) passes the lab's `./pifio run`;
tests pass a fake. analysis never imports the lab.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict

from . import compare as cmp
from shared.progress import Progress
from .store import Store, StoreError, is_run_dir

# What may change from one night to the next without making nights incomparable:
# the engine under test changes nightly. Kernel changes are handled by grouping.
NIGHTLY_VARY = ("kernel.release", "kernel.series", "engine.version")


def _run_dirs(results):
    if not os.path.isdir(results):
        return set()
    return {n for n in os.listdir(results) if is_run_dir(os.path.join(results, n))}


def config_key(run: dict) -> tuple:
    """Runs with the same key are the same configuration across nights (kernel + series + host)."""
    m = run["meta"]
    k = m.get("kernel") or {}
    return (k.get("release"), k.get("series"), (m.get("host") or {}).get("hostname"))


def main(argv, runner=None, out=sys.stdout) -> int:
    ap = argparse.ArgumentParser(prog="pifio nightly",
                                 description="Run the configured matrix N times, store the runs under one night "
                                             "label, flag regressions against the previous nights, rebuild the "
                                             "dashboard. Arguments after -- go to ./pifio run.",
                                 epilog="exit status: 0 no regression, 1 regression, 2 nothing ran / "
                                        "not comparable")
    ap.add_argument("-n", "--repeat", type=int, default=5, help="times to run the matrix (default 5)")
    ap.add_argument("--matrix", help="matrix passed to ./pifio run --matrix")
    ap.add_argument("--results", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                      "results"))
    ap.add_argument("--night", help="night label (default: today's date, UTC)")
    ap.add_argument("--baseline-nights", type=int, default=3, help="previous nights pooled as baseline (default 3)")
    ap.add_argument("--threshold", type=float, default=2.0)
    ap.add_argument("--no-report", action="store_true", help="do not rebuild the dashboard")
    ap.add_argument("run_args", nargs=argparse.REMAINDER)
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    run_args = [a for a in args.run_args if a != "--"]
    if runner is None:
        print("pifio nightly: no runner for the matrix (run it as ./pifio nightly)", file=sys.stderr)
        return 2
    night = args.night or time.strftime("%Y-%m-%d", time.gmtime())
    os.makedirs(args.results, exist_ok=True)
    store = Store.for_results(args.results)
    try:
        store.ingest_results(args.results)
    except StoreError as e:
        print(f"pifio nightly: {e}", file=sys.stderr)
        return 2

    new_keys, failures = [], 0
    base_argv = (["--matrix", args.matrix] if args.matrix else []) + ["--results", args.results] + run_args
    with Progress(args.repeat, f"nightly {night}") as prog:
        for i in range(args.repeat):
            prog.start(f"matrix pass {i + 1}")
            before = _run_dirs(args.results)
            try:
                rc = runner(list(base_argv))
            except Exception as e:   # a crashed pass is recorded, the night goes on
                print(f"pifio nightly: pass {i + 1} raised {type(e).__name__}: {e}", file=sys.stderr)
                rc = 2
            made = sorted(_run_dirs(args.results) - before)
            if rc:
                failures += 1
                print(f"pifio nightly: pass {i + 1} exited {rc}", file=sys.stderr)
            for n in made:
                store.ingest_run_dir(os.path.join(args.results, n))
                k = store.run_key_of(os.path.join(args.results, n))
                store.set_night(k, night)
                new_keys.append(k)
            prog.done(f"{len(made)} run(s)")
    if not new_keys:
        print(f"pifio nightly: no runs were produced ({failures} failed pass(es))", file=sys.stderr)
        return 2

    codes = []
    all_runs = store.runs()
    tonight = [r for r in all_runs if r["run_key"] in set(new_keys)]
    earlier = [r for r in all_runs if r["night"] and r["night"] < night]
    by_cfg = defaultdict(list)
    for r in tonight:
        by_cfg[config_key(r)].append(r)
    for cfg, rs in by_cfg.items():
        prev = [r for r in earlier if config_key(r) == cfg]
        nights = sorted({r["night"] for r in prev})[-args.baseline_nights:]
        base = [r for r in prev if r["night"] in nights]
        label = " ".join(str(c) for c in cfg[:2] if c)
        if not base:
            print(f"nightly {night} [{label}]: first night for this configuration, nothing to compare")
            continue
        a = cmp.Side(f"nights {nights[0]}..{nights[-1]}", [r["run_key"] for r in base])
        b = cmp.Side(f"night {night}", [r["run_key"] for r in rs])
        res = cmp.compare(store, a, b, args.threshold, vary=NIGHTLY_VARY, mixable=NIGHTLY_VARY)
        res["nightly"] = {"night": night, "baseline_nights": nights, "config": list(cfg)}
        store.save_comparison(f"nightly {night} [{label}] vs {len(nights)} previous night(s)",
                              a.run_keys, b.run_keys, res)
        out.write(f"== nightly {night} [{label}] vs {', '.join(nights)}\n")
        out.write(cmp.render_text(res))
        codes.append(res["exit"])
    # a regression is the news; a refused comparison or a failed pass comes next
    exit_code = 1 if 1 in codes else 2 if (2 in codes or failures) else 0
    if not args.no_report:
        from . import dashboard
        idx = dashboard.write_dashboard(store, os.path.join(args.results, "dashboard"))
        out.write(f"dashboard: {idx}\n")
    return exit_code
