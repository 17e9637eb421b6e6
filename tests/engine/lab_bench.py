#!/usr/bin/python3
"""Lab figures for the engine's speed targets: same guest, same namespace, 4 KiB randread.

  ours        pifio engine, pi_act=0, device checks GUARD,REFTAG,APPTAG, pi_verify=1
  ours-nover  the same with pi_verify=0 (what userspace checking costs)
  builtin     fio 3.41's io_uring_cmd with pi_act=0, pi_chk=GUARD,REFTAG,APPTAG
              (it verifies in userspace too when pi_act=0)

Variants run interleaved, `--rounds` times each, after one prefill write with
our engine. The guest runs under TCG: these are lab figures, not hardware ones.
Prints a table and writes the raw fio JSON under the run's results dir.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

ENG = "/usr/lib/pifio/libpifio-bench.so"


def variants(fmt_bs: int, md: int, qd: int, size: str, runtime: int) -> dict[str, str]:
    common = (f"--filename=$PIFIO_NG_1 --rw=randread --bs={fmt_bs} --size={size} --iodepth={qd} "
              f"--time_based --runtime={runtime} --ramp_time=2 --pi_act=0 --pi_chk=GUARD,REFTAG,APPTAG "
              f"--apptag=0x1234 --apptag_mask=0xffff --md_per_io_size={md} --output-format=json")
    return {
        "ours": f"--ioengine=external:{ENG} --pi_verify=1 {common}",
        "ours-nover": f"--ioengine=external:{ENG} --pi_verify=0 {common}",
        "builtin": f"--ioengine=io_uring_cmd --cmd_type=nvme {common}",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", type=Path, default=ROOT / "build" / "lib" / "libpifio.so")
    ap.add_argument("--kernel", default="7.3")
    ap.add_argument("--format", default="4096+8/t1")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runtime", type=int, default=10)
    ap.add_argument("--qd", type=int, action="append")
    ap.add_argument("--smp", type=int, default=1)
    args = ap.parse_args()
    from lab.guest import Namespace, boot_and_run

    data = int(args.format.split("+")[0])
    ms = int(args.format.split("+")[1].split("/")[0])
    bs = max(1, 4096 // data) * (data + (ms if "/ext" in args.format else 0))
    md = 0 if "/ext" in args.format else max(1, 4096 // data) * ms
    qds = args.qd or [1, 32]
    lines = ["cd /results",
             f"fio --name=prefill --ioengine=external:{ENG} --filename=$PIFIO_NG_1 --rw=write --bs={bs * 16} "
             f"--size=64M --iodepth=16 --pi_act=0 --pi_chk=GUARD,REFTAG,APPTAG --md_per_io_size={md * 16} "
             "> prefill.out 2>&1; echo $? > prefill.rc"]
    for rnd in range(args.rounds):
        for qd in qds:
            for name, opts in variants(bs, md, qd, "64M", args.runtime).items():
                tag = f"{name}_qd{qd}_r{rnd}"
                lines.append(f"fio --name={tag} {opts} --output=/results/{tag}.json > {tag}.out 2>&1; "
                             f"echo $? > {tag}.rc")
    budget = 120 + args.rounds * len(qds) * 3 * (args.runtime + 8)
    r = boot_and_run(args.kernel, [Namespace(args.format, size=256 << 20)], script="\n".join(lines) + "\n",
                     binaries=[(ENG, args.engine)], timeout=budget, smp=args.smp)
    res = r.results_dir
    if r.rc is None or (res / "prefill.rc").read_text().strip() != "0":
        print("FAIL: guest or prefill failed:", r.why(), (res / "prefill.out").read_text()[-500:]
              if (res / "prefill.out").exists() else "")
        return 1
    table: dict[tuple[str, int], list[float]] = {}
    lat: dict[tuple[str, int], list[float]] = {}
    for rnd in range(args.rounds):
        for qd in qds:
            for name in ("ours", "ours-nover", "builtin"):
                tag = f"{name}_qd{qd}_r{rnd}"
                p = res / f"{tag}.json"
                rc = (res / f"{tag}.rc").read_text().strip()
                if rc != "0" or not p.exists():
                    print(f"FAIL: {tag} exit {rc}: {(res / f'{tag}.out').read_text()[-400:]}")
                    return 1
                txt = p.read_text()
                j = json.loads(txt[txt.index("{"):])
                rd = j["jobs"][0]["read"]
                table.setdefault((name, qd), []).append(rd["iops"])
                lat.setdefault((name, qd), []).append(rd["clat_ns"]["percentile"]["50.000000"] / 1000)
    print(f"kernel {args.kernel}, namespace {args.format}, bs {bs}, {args.rounds} rounds x {args.runtime} s, TCG guest")
    print(f"{'variant':<12} {'QD':>3} {'IOPS (harmonic mean)':>21} {'runs':>26} {'p50 clat us':>12}")
    for qd in qds:
        for name in ("ours", "ours-nover", "builtin"):
            v = table[(name, qd)]
            print(f"{name:<12} {qd:>3} {statistics.harmonic_mean(v):>21.0f} {' '.join(f'{x:.0f}' for x in v):>26} "
                  f"{statistics.median(lat[(name, qd)]):>12.0f}")
        o, n, b = (statistics.harmonic_mean(table[(k, qd)]) for k in ("ours", "ours-nover", "builtin"))
        print(f"QD{qd}: ours/ours-nover = {o / n:.3f}, ours/builtin = {o / b:.3f}")
    print(f"raw: {res}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
