#!/usr/bin/python3
"""Interop with fio's built-in io_uring_cmd PI, both directions, and hipri.

One boot (kernel command line + nvme.poll_queues=1), every PI format:

  theirs->ours  fio's built-in engine writes with its own PI (pi_act=0, device
                checks on, so QEMU accepts its tuples); our engine reads the
                range back with device checks off (pi_chk=NONE): our userspace
                verification is the judge — zero mismatches, every block
                verified, none escaped as unwritten
  ours->theirs  our engine writes a second range; the built-in engine reads it
                with its own checks (exit 0)
  hipri         polled completions (IORING_SETUP_IOPOLL) on the NVMe poll
                queues: our verified read of the first range, and a write;
                fio's built-in hipri read as the reference

Exit 0 pass, 1 fail, 77 skip (no QEMU / kernel here).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from lab_engine_test import (GUEST_ENGINE, MiB, SKIP, Checker, Format, Script, bs, chk_of, engine_args,  # noqa: E402
                             lab_preflight, md, parse_format, region)

FORMATS = ["4096+8/t1", "512+8/t3/first", "4096+16/t1/g64", "4096+64/t2/g64/first", "512+8/t1/ext"]
SIZE_MIB = 4
POLL_QUEUES = 1


def builtin_args(f: Format, nsid: int, rw: str, off_mib: int, size_mib: int, extra=()) -> list[str]:
    a = ["--ioengine=io_uring_cmd", "--cmd_type=nvme", f"--filename=$PIFIO_NG_{nsid}", f"--rw={rw}",
         f"--bs={bs(f, 65536)}", f"--offset={region(f, off_mib)}", f"--size={region(f, size_mib)}",
         "--iodepth=8", "--pi_act=0", f"--pi_chk={chk_of(f)}", "--apptag=0x1234", "--apptag_mask=0xffff"]
    if md(f, 65536):
        a.append(f"--md_per_io_size={md(f, 65536)}")
    return a + list(extra)


def build() -> Script:
    s = Script()
    s.raw("pollq", "cat /sys/module/nvme/parameters/poll_queues; grep . /sys/block/nvme0n*/queue/io_poll")
    for i, spec in enumerate(FORMATS, 1):
        f = parse_format(spec)
        s.fio(f"theirs_w{i}", builtin_args(f, i, "write", 0, SIZE_MIB))
        s.fio(f"ours_r{i}", engine_args(f, i, "read", off_mib=0, size_mib=SIZE_MIB, chk="NONE",
                                        report=f"ours_r{i}.report"))
        s.fio(f"ours_w{i}", engine_args(f, i, "write", off_mib=SIZE_MIB, size_mib=SIZE_MIB, report=f"ours_w{i}.report"))
        s.fio(f"theirs_r{i}", builtin_args(f, i, "read", SIZE_MIB, SIZE_MIB))
    f1 = parse_format(FORMATS[0])
    s.fio("hipri_r", engine_args(f1, 1, "read", off_mib=0, size_mib=SIZE_MIB, report="hipri_r.report",
                                 extra=["--hipri"]))
    s.fio("hipri_w", engine_args(f1, 1, "write", off_mib=2 * SIZE_MIB, size_mib=SIZE_MIB, report="hipri_w.report",
                                 extra=["--hipri"]))
    s.fio("hipri_builtin_r", builtin_args(f1, 1, "read", 2 * SIZE_MIB, SIZE_MIB, extra=["--hipri"]))
    return s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", required=True, type=Path)
    ap.add_argument("--kernel", default="7.3")
    ap.add_argument("--timeout", type=int, default=900)
    args = ap.parse_args()
    bad = lab_preflight(args.engine)
    if bad is not None:
        return bad
    from lab.guest import Namespace, boot_and_run
    nss = [Namespace(spec, size=(3 * SIZE_MIB + 4) * MiB * 2) for spec in FORMATS]
    try:
        r = boot_and_run(args.kernel, nss, script=build().text(), binaries=[(GUEST_ENGINE, args.engine)],
                         timeout=args.timeout, cmdline_extra=f"nvme.poll_queues={POLL_QUEUES}")
    except Exception as e:  # noqa: BLE001 - kernel not fetched etc.
        print(f"SKIP: {args.kernel}: {e}")
        return SKIP
    if r.rc is None:
        print(f"FAIL: guest did not finish: {r.why()}")
        return 1
    c = Checker(r.results_dir)
    for i, spec in enumerate(FORMATS, 1):
        f = parse_format(spec)
        for step in (f"theirs_w{i}", f"ours_r{i}", f"ours_w{i}", f"theirs_r{i}"):
            c.check(c.rc(step) == 0, f"{step} ({spec}): fio exit {c.rc(step)}", c.out(step)[-500:])
        rep = c.report(f"ours_r{i}.report")
        if c.check(rep is not None, f"ours_r{i} ({spec}): no report"):
            fr = rep["files"][0]
            blocks = SIZE_MIB * MiB // f.data
            c.check(fr["blocks_verified"] == blocks and fr["blocks_escaped"] == 0
                    and sum(fr["mismatches"].values()) == 0 and fr["io_errors"] == 0,
                    f"ours_r{i} ({spec}): built-in PI read back: verified {fr['blocks_verified']}/{blocks}, "
                    f"escaped {fr['blocks_escaped']}, mismatches {fr['mismatches']}, io_errors {fr['io_errors']}")
    pollq = c.out("pollq").split()
    c.check(pollq[:1] == [str(POLL_QUEUES)], f"guest nvme.poll_queues: {c.out('pollq')[:200]!r}")
    for step in ("hipri_r", "hipri_w", "hipri_builtin_r"):
        c.check(c.rc(step) == 0, f"{step}: fio exit {c.rc(step)}", c.out(step)[-500:])
    c.check("no poll queues" not in c.out("hipri_r"), "hipri_r: engine says there are no poll queues",
            c.out("hipri_r")[:400])
    rep = c.report("hipri_r.report")
    if c.check(rep is not None, "hipri_r: no report"):
        fr = rep["files"][0]
        c.check(fr["blocks_verified"] == SIZE_MIB * MiB // 4096 and fr["blocks_escaped"] == 0
                and sum(fr["mismatches"].values()) == 0, f"hipri_r: {fr}")
    return c.verdict(args.kernel, f"{r.wall_s:.0f} s; results {r.results_dir}")


if __name__ == "__main__":
    sys.exit(main())
