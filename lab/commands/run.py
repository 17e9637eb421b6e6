"""./pifio run — boot the lab and run scenarios; results/<run-id>/ + a summary.

    ./pifio run                                 newest kernel (7.3), default formats, both engines,
                                                 + stacks dm-linear, dm-crypt-aead + the PI cost table
    ./pifio run --stack dm-linear [--stack S]   dm stacks from lab/model/stacks.py (kernel auto-PI, pi_audit)
    ./pifio run --matrix                        every stack on 6.1, 6.12 and 7.3 (+ PI cost table)
    ./pifio run --kernel 6.12 --pi-cost --no-default-jobs   only the PI cost table
    ./pifio run --kernel 6.1 --ns 4096+8/t1 --ns 512+8/t3/first
    ./pifio run --kernel 6.1 --kernel 7.3       one run (one run-id) per kernel
    ./pifio run --engine builtin --runtime 10 --size 16M
    ./pifio run --jobs jobs/foo.fio             extra job files, run on every namespace
                                                 (env: PIFIO_DEV PIFIO_FORMAT PIFIO_BS PIFIO_MD
                                                  PIFIO_PI_CHK PIFIO_ENGINE)

Set-up and build first (unless --no-build), then the plan (lab.runs.plan)
goes to its target: lab.targets.hostdev (--host-dev), lab.targets.multihost
(--hosts), else lab.targets.lab.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import kernels
from ..core.env import RESULTS, PifioError
from ..model.scenarios import DEFAULT_FORMATS, ENGINES
from ..runs.plan import RunPlan
from ..targets import hostdev, lab, multihost
from ..toolchain import build

TARGETS = {"lab": lab.run, "multihost": multihost.run, "hostdev": hostdev.run}


def _parse(argv):
    ap = argparse.ArgumentParser(prog="./pifio run", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernel", action="append", help=f"kernel name ({', '.join(kernels.names())}) or "
                    f"bzImage path / build dir; repeatable (default {kernels.DEFAULT})")
    ap.add_argument("--modules", help="modules dir for a bzImage path kernel")
    ap.add_argument("--ns", action="append", metavar="SPEC", help="namespace format, repeatable "
                    f"(default {' '.join(DEFAULT_FORMATS)})")
    ap.add_argument("--engine", action="append", choices=ENGINES, help="default: both")
    ap.add_argument("--stack", action="append", metavar="S", help="dm stack from lab/model/stacks.py (repeatable; "
                    "'none' = namespaces only); default: the --ns formats plus the default stacks "
                    "(dm-linear, dm-crypt-aead)")
    ap.add_argument("--matrix", action="store_true", help="every stack of lab/model/stacks.py on kernels 6.1, 6.12 "
                    "and 7.3 (one boot per kernel)")
    ap.add_argument("--pi-cost", action=argparse.BooleanOptionalAction, default=None,
                    help="per-kernel PI fast-path table (no PI, kernel auto-PI, io_uring PI attrs, passthrough, "
                    "PRACT; 4 KiB randread/randwrite QD1/QD32) on two extra namespaces; default: on for a "
                    "plain `./pifio run` and --matrix")
    ap.add_argument("--cost-ios", type=int, default=None, help="PI cost table: I/Os per job (default "
                    "lab/model/scenarios.py COST_IOS)")
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
                    "--client run per job over all of them (lab/targets/multihost.py)")
    ap.add_argument("--host-dev", action="append", metavar="/dev/ngXnY[=SPEC]",
                    help="run the jobs on this host's real NVMe namespace instead of the lab (lab/targets/hostdev.py); "
                    "destroys its data, so needs --destroy-data")
    ap.add_argument("--no-build", action="store_true", help="do not run set-up and build first (use build/ as it is)")
    ap.add_argument("--destroy-data", action="store_true", help="confirm that --host-dev namespaces may be overwritten")
    return ap.parse_args(argv)


def main(argv) -> int:
    try:
        p = RunPlan.from_args(_parse(argv))
    except PifioError as e:
        print(f"pifio run: {e}", file=sys.stderr)
        return 2
    if p.build:
        # The main job sets up and builds whatever is missing (cheap when warm).
        try:
            build.configure_and_build()
        except PifioError as e:
            print(f"pifio run: set-up/build failed: {e}", file=sys.stderr)
            return 1
    try:
        return TARGETS[p.target](p).status
    except PifioError as e:
        print(f"pifio run: {e}", file=sys.stderr)
        return 1
