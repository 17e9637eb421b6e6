#!/usr/bin/python3
"""Soak: numjobs=4, iodepth=32, mixed random read/write with verification.

One boot, namespace 4096+8/t1. A prefill writes every block of four 8 MiB
regions, then four fio processes (one region each, offset_increment) run
rw=randrw 50/50, 4 KiB, QD32 for --runtime seconds with:
  - our userspace PI verification on every read (pi_verify=1, the default) and
    device checks on (pi_chk=GUARD,REFTAG,APPTAG),
  - fio's own data verification (verify=crc32c, verify_backlog) on top,
  - serialize_overlap=1: a random read racing an in-flight write of the same
    block may see QEMU's new data with the old metadata (two separate backing
    I/Os) and fail the device's guard check (seen once, 1 guard error in 45674
    reads, in a ./pifio test at -j2; fio's documented race on overlapping I/O).
Also: a hipri read on this boot (no NVMe poll queues) completes and the
engine says completions are interrupt driven. Pass: fio exit 0, no job error, every per-clone report (soak.<n>.pi.json)
counts zero errors with blocks verified and none escaped, and engine memory
steady: VmRSS of every fio process, sampled in the guest from a few seconds in
to the end, grows by less than --rss-bound KiB.

Exit 0 pass, 1 fail, 77 skip (no QEMU / kernel here).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from lab_engine_test import GUEST_ENGINE, SKIP, lab_preflight, Checker, Script  # noqa: E402

NUMJOBS = 4
REGION_MIB = 8
PI = "--pi_act=0 --pi_chk=GUARD,REFTAG,APPTAG --apptag=0x1234 --apptag_mask=0xffff"


def build(runtime: int) -> Script:
    s = Script()
    eng = f"--ioengine=external:{GUEST_ENGINE} --filename=$PIFIO_NG_1"
    s.lines.append(f"fio --name=prefill {eng} --rw=write --bs=65536 --md_per_io_size=128 --iodepth=16 "
                   f"--size={NUMJOBS * REGION_MIB}M {PI} --pi_report=/results/prefill.report "
                   "> prefill.out 2>&1; echo $? > prefill.rc")
    # VmRSS of every fio process every 3 s while the soak runs: "<uptime> <pid> <kB>".
    s.lines.append(
        "( sleep 4; while [ ! -e /results/soak.rc ]; do t=$(cut -d' ' -f1 /proc/uptime); "
        "for p in $(pidof fio); do r=$(awk '/^VmRSS/{print $2}' /proc/$p/status 2>/dev/null); "
        "[ -n \"$r\" ] && echo \"$t $p $r\"; done; sleep 3; done > /results/rss.txt ) &")
    s.lines.append(
        f"fio --name=soak {eng} --rw=randrw --rwmixread=50 --bs=4096 --md_per_io_size=8 --iodepth=32 "
        f"--numjobs={NUMJOBS} --size={REGION_MIB}M --offset_increment={REGION_MIB}M --time_based "
        f"--runtime={runtime} --verify=crc32c --verify_backlog=256 --serialize_overlap=1 {PI} "
        "--pi_report=/results/soak.pi.json "
        "--output-format=json --output=/results/soak.json > soak.out 2>&1; echo $? > soak.rc")
    s.lines.append("wait")
    # This boot has no NVMe poll queues: hipri still completes (by interrupt) and the engine says so.
    s.lines.append(f"fio --name=hipri_nopoll {eng} --rw=read --bs=4096 --md_per_io_size=8 --iodepth=4 --size=1M "
                   f"{PI} --hipri > hipri_nopoll.out 2>&1; echo $? > hipri_nopoll.rc")
    return s


def rss_growth(text: str) -> dict[int, tuple[int, int, int]]:
    """pid -> (first kB, last kB, samples), first sample skipped as start-up."""
    by: dict[int, list[int]] = {}
    for line in text.splitlines():
        p = line.split()
        if len(p) == 3 and p[1].isdigit() and p[2].isdigit():
            by.setdefault(int(p[1]), []).append(int(p[2]))
    return {pid: (v[1], v[-1], len(v) - 1) for pid, v in by.items() if len(v) >= 3}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", required=True, type=Path)
    ap.add_argument("--kernel", default="7.3")
    ap.add_argument("--runtime", type=int, default=40)
    ap.add_argument("--rss-bound", type=int, default=512, help="max VmRSS growth per fio process (KiB)")
    args = ap.parse_args()
    bad = lab_preflight(args.engine)
    if bad is not None:
        return bad
    from lab.guest import Namespace, boot_and_run
    ns = Namespace("4096+8/t1", size=(NUMJOBS * REGION_MIB + 4) << 20)
    try:
        r = boot_and_run(args.kernel, [ns], script=build(args.runtime).text(), binaries=[(GUEST_ENGINE, args.engine)],
                         timeout=args.runtime * 3 + 300)
    except Exception as e:  # noqa: BLE001
        print(f"SKIP: {args.kernel}: {e}")
        return SKIP
    if r.rc is None:
        print(f"FAIL: guest did not finish: {r.why()}")
        return 1
    c = Checker(r.results_dir)
    c.check(c.rc("prefill") == 0, f"prefill: fio exit {c.rc('prefill')}", c.out("prefill")[-500:])
    c.check(c.rc("soak") == 0, f"soak: fio exit {c.rc('soak')}", c.out("soak")[-800:])
    reads = writes = 0
    try:
        txt = (r.results_dir / "soak.json").read_text()
        jobs = json.loads(txt[txt.index("{"):])["jobs"]
        c.check(len(jobs) == NUMJOBS, f"soak: {len(jobs)} job entries, want {NUMJOBS}")
        for j in jobs:
            c.check(j["error"] == 0, f"soak job {j['jobname']}: error {j['error']}")
            reads += j["read"]["total_ios"]
            writes += j["write"]["total_ios"]
        c.check(reads > 0 and writes > 0, f"soak: reads {reads}, writes {writes}")
    except (OSError, ValueError, KeyError) as e:
        c.check(False, f"soak.json: {e}")
    verified = 0
    for n in range(NUMJOBS):
        rep = c.report(f"soak.{n}.pi.json")
        if not c.check(rep is not None, f"soak.{n}.pi.json missing", c.out("soak")[-300:]):
            continue
        fr = rep["files"][0]
        verified += fr["blocks_verified"]
        c.check(rep["counts"]["total"] == 0 and fr["io_errors"] == 0,
                f"soak clone {n}: counts {rep['counts']}, io_errors {fr['io_errors']}")
        c.check(fr["blocks_verified"] > 0 and fr["blocks_escaped"] == 0,
                f"soak clone {n}: verified {fr['blocks_verified']}, escaped {fr['blocks_escaped']} (prefilled: want 0)")
    growth = rss_growth(r.text("rss.txt"))
    worst = max((last - first for first, last, _ in growth.values()), default=None)
    c.check(len(growth) >= NUMJOBS, f"VmRSS: sampled {len(growth)} fio processes, want >= {NUMJOBS}",
            r.text("rss.txt")[-400:])
    if worst is not None:
        c.check(worst < args.rss_bound, f"VmRSS grew by {worst} KiB in a fio process (bound {args.rss_bound})",
                "\n".join(f"pid {p}: {a} -> {b} kB over {n} samples" for p, (a, b, n) in growth.items()))
    out = c.out("hipri_nopoll")
    c.check(c.rc("hipri_nopoll") == 0 and "hipri: the NVMe driver has no poll queues" in out
            and "nvme.poll_queues=N" in out, f"hipri without poll queues: exit {c.rc('hipri_nopoll')}, "
            "want 0 and the engine's note", out[:500])
    return c.verdict(args.kernel, f"{r.wall_s:.0f} s; {reads} reads, {writes} writes, {verified} blocks "
                     f"PI-verified in {args.runtime} s; max VmRSS growth {worst} KiB; results {r.results_dir}")


if __name__ == "__main__":
    sys.exit(main())
