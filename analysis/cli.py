"""./pifio compare | report | nightly. Each function takes argv and returns an exit code."""
from __future__ import annotations

import argparse
import os
import sys

from . import compare as cmp
from . import stats
from .meta import DEFAULT_VARY
from .store import Store, StoreError, STORE_NAME
from .fiojson import FioParseError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_RESULTS = os.path.join(ROOT, "results")


def _err(cmd, msg):
    print(f"pifio {cmd}: {msg}", file=sys.stderr)


def _open_store(results_dir, paths, store_path):
    """The results store when every input lives under results_dir, else a private one."""
    if store_path:
        return Store(store_path)
    rd = os.path.abspath(results_dir)
    if all(os.path.abspath(p).startswith(rd + os.sep) for _, p in paths) and os.path.isdir(rd):
        if all(k == "run" for k, _ in paths):
            return Store.for_results(rd)
    return Store(":memory:")


def compare(argv) -> int:
    ap = argparse.ArgumentParser(
        prog="pifio compare",
        description="Compare two sets of runs. A and B are each: a run directory (with meta.json), a run id "
                    "under --results, a glob of run ids, a directory of run directories, a plain directory "
                    "of fio JSON/JSON+ files (each file one run), or a comma-separated list of these.",
        epilog="exit status: 0 no regression, 1 regression, 2 not comparable (or usage error)")
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--threshold", type=float, default=2.0, help="minimum effect in %% (default 2)")
    ap.add_argument("--alpha", type=float, default=stats.DEFAULT_ALPHA,
                    help=f"significance level (default {stats.DEFAULT_ALPHA})")
    ap.add_argument("--vary", action="append", default=None, metavar="FIELD",
                    help=f"metadata field allowed to differ (default {', '.join(DEFAULT_VARY)}); repeatable")
    ap.add_argument("--scenario", metavar="GLOB", help="only scenarios matching GLOB")
    ap.add_argument("--no-aggregate", action="store_true", help="leave out fio --client 'All clients' rows")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ap.add_argument("--results", default=DEFAULT_RESULTS, help="results directory (default ./results)")
    ap.add_argument("--store", help="SQLite store to use (default: results/pifio.sqlite, or in memory for "
                                     "inputs outside the results directory)")
    ap.add_argument("--skip-bad", action="store_true", help="list unparsable fio files instead of failing")
    ap.add_argument("--save", metavar="NAME", help="record this comparison for the dashboard")
    ap.add_argument("--plots", metavar="DIR", help="also write the comparison plots (PNG+SVG) into DIR")
    ap.add_argument("-v", "--verbose", action="store_true")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    vary = tuple(DEFAULT_VARY) + tuple(args.vary or ())
    try:
        paths = cmp.spec_paths(args.a, args.results) + cmp.spec_paths(args.b, args.results)
        store = _open_store(args.results, paths, args.store)
        from .store import IngestReport
        rep = IngestReport()
        a = cmp.load_side(store, args.a, args.results, args.skip_bad, rep)
        b = cmp.load_side(store, args.b, args.results, args.skip_bad, rep)
    except (cmp.SpecError, StoreError, FioParseError, OSError) as e:
        _err("compare", e)
        return 2
    for p, msg in rep.bad_files:
        _err("compare", f"skipped unparsable file: {msg}")
    if args.verbose:
        for p in rep.ignored:
            print(f"ignored (not fio output): {p}", file=sys.stderr)
    res = cmp.compare(store, a, b, args.threshold, args.alpha, vary, not args.no_aggregate, args.scenario)
    if args.save and not res.get("refused"):
        store.save_comparison(args.save, a.run_keys, b.run_keys, res)
    if args.plots and not res.get("refused"):
        from . import plots
        for p in plots.comparison_plots(res, args.plots):
            print(f"wrote {p}", file=sys.stderr)
    if args.json:
        print(cmp.to_json(res))
    else:
        sys.stdout.write(cmp.render_text(res))
    return res["exit"]


def report(argv) -> int:
    ap = argparse.ArgumentParser(prog="pifio report", description="Write the static HTML dashboard.")
    ap.add_argument("--results", default=DEFAULT_RESULTS, help="results directory (default ./results)")
    ap.add_argument("--out", help="output directory (default RESULTS/dashboard)")
    ap.add_argument("--compare", nargs=2, action="append", metavar=("A", "B"), default=[],
                    help="add an A/B comparison page (repeatable)")
    ap.add_argument("--threshold", type=float, default=2.0)
    ap.add_argument("--skip-bad", action="store_true")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    from . import dashboard
    if not os.path.isdir(args.results):
        _err("report", f"{args.results}: no results directory (run ./pifio run first, or pass --results)")
        return 2
    try:
        store = Store.for_results(args.results)
        store.ingest_results(args.results, args.skip_bad)
        extra = []
        for a, b in args.compare:
            sa = cmp.load_side(store, a, args.results, args.skip_bad)
            sb = cmp.load_side(store, b, args.results, args.skip_bad)
            extra.append((f"{a} vs {b}", cmp.compare(store, sa, sb, args.threshold)))
        out = args.out or os.path.join(args.results, "dashboard")
        index = dashboard.write_dashboard(store, out, extra)
    except (cmp.SpecError, StoreError, FioParseError, OSError) as e:
        _err("report", e)
        return 2
    print(f"pifio report: {index}")
    return 0


def nightly(argv, runner=None) -> int:
    from . import nightly as nl
    return nl.main(argv, runner=runner)
