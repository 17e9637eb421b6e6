"""git bisect run ./pifio bisect --scenario X [--metric M --threshold T]
./pifio bisect --tree PATH --good REV --bad REV --scenario X
— argv to lab.ab.bisect."""
from __future__ import annotations

import argparse

from ..ab import bisect


def main(argv) -> int:
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
    ap.add_argument("--good", help="with --bad: pifio drives git bisect itself in a scratch worktree of --tree "
                                   "(your checkout is not touched) and prints the first bad commit")
    ap.add_argument("--bad")
    ap.add_argument("--no-verify-ends", action="store_true",
                    help="with --good/--bad: do not first check that good passes and bad fails")
    ap.add_argument("--cmdline", default="")
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return 125 if e.code else 0
    if a.good or a.bad:
        if not (a.good and a.bad):
            print("pifio bisect: --good and --bad go together")
            return 2
        return bisect.drive(a.tree, a.good, a.bad, a.scenario, a.metric, a.threshold, a.runs, a.cmdline,
                            not a.no_verify_ends)
    return bisect.run(a.scenario, a.metric, a.threshold, a.runs, a.tree, a.cmdline)
