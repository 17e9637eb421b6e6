"""./pifio ab --base 7.3 --series S [--runs N] — argv to lab.ab.ab."""
from __future__ import annotations

import argparse

from ..ab import ab, suite


def main(argv) -> int:
    ap = argparse.ArgumentParser(prog="pifio ab", description="patched (B) vs unpatched (A) lab kernel")
    ap.add_argument("--base", default="7.3")
    ap.add_argument("--series", required=True)
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
    return ab.run(a.series, a.base, a.runs, a.clock, a.icount_shift, a.scenario, a.threshold, a.cmdline,
                  a.cmdline_b)
