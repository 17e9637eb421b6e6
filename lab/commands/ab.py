"""./pifio ab --base 7.3 --series S [--runs N]
./pifio ab --tree PATH --a REV (--b REV | --mbox FILE | --patches DIR) [--expect FILE | --expect-series S]
— argv to lab.ab.ab."""
from __future__ import annotations

import argparse

from ..ab import ab, suite


def main(argv) -> int:
    ap = argparse.ArgumentParser(prog="pifio ab", description="patched (B) vs unpatched (A) lab kernel")
    ap.add_argument("--base", default="7.3")
    ap.add_argument("--series", help="B = base + this kernel-patches/ series (the Debian base A/B)")
    ap.add_argument("--tree", help="your git kernel tree: A/B of its commits, built in a scratch worktree under "
                                   "the cache (the tree is never modified)")
    ap.add_argument("--a", dest="rev_a", help="with --tree: the A (base) revision")
    ap.add_argument("--b", dest="rev_b", help="with --tree: the B revision")
    ap.add_argument("--mbox", help="with --tree: B = A + this mbox (git am)")
    ap.add_argument("--patches", help="with --tree: B = A + this folder of *.patch/*.diff (name order)")
    ap.add_argument("--expect", help="with --tree: a manifest.json with expectations (like kernel-patches/*/)")
    ap.add_argument("--expect-series", help="with --tree: use this series' manifest (scenarios + expectations)")
    ap.add_argument("--runs", type=int, default=ab.RUNS,
                    help=f"boots per side, interleaved A B A B (default {ab.RUNS}); each boot runs every speed "
                         f"scenario {suite.SPEED_REPS} times")
    ap.add_argument("--clock", choices=["icount", "realtime"], default=ab.CLOCK,
                    help="guest clock (default icount: guest CPU time = instruction count, repeatable on a "
                         "loaded host; realtime: QEMU follows the host clock)")
    ap.add_argument("--icount-shift", type=int, default=ab.ICOUNT_SHIFT,
                    help="icount: 2**N ns per guest instruction (default 0)")
    ap.add_argument("--scenario", action="append", help="glob(s) of scenarios (default: all)")
    ap.add_argument("--threshold", type=float, default=2.0, help="minimum effect in %% (default 2)")
    ap.add_argument("--cmdline-b", default="", help="extra kernel command line for B (e.g. t10_pi.delay_ns=500)")
    ap.add_argument("--cmdline", default="", help="extra kernel command line for both")
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    if a.tree:
        if a.series:
            ap.print_usage()
            print("pifio ab: --series is the Debian-base A/B; with --tree use --b, --mbox or --patches "
                  "(and --expect-series S to reuse a series' expectations)")
            return 2
        if not a.rev_a:
            print("pifio ab: --tree needs --a REV (the base commit)")
            return 2
        return ab.run_tree(a.tree, a.rev_a, a.rev_b, a.mbox, a.patches, a.expect, a.expect_series, a.runs, a.clock,
                           a.icount_shift, a.scenario, a.threshold, a.cmdline, a.cmdline_b)
    if not a.series:
        print("pifio ab: give --series S (Debian base + series) or --tree PATH --a REV ... (your tree)")
        return 2
    if a.rev_a or a.rev_b or a.mbox or a.patches or a.expect or a.expect_series:
        print("pifio ab: --a/--b/--mbox/--patches/--expect/--expect-series need --tree PATH")
        return 2
    return ab.run(a.series, a.base, a.runs, a.clock, a.icount_shift, a.scenario, a.threshold, a.cmdline,
                  a.cmdline_b)
