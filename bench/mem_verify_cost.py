#!/usr/bin/env python3
"""What pi_verify costs per I/O on the in-memory target, against the CRC.

fio with pifio's in-memory target (filename=pifio-mem\\:<format>\\:<size>: no
device; reads copy PI-bearing data that pifio's generate wrote at open and
complete through an IORING_OP_NOP), 4 KiB reads at QD32 on one core, with
pi_verify=0 and pi_verify=1 alternating (paired rounds, order flipped every
round). Per round: CPU per I/O ((usr+sys) x runtime / ios) both ways; added =
verify=1 minus verify=0. The reference is pi_bench's raw CRC time of the same
bytes, pinned to the same CPU: crc/pifio/<format>/t1/4096 (the guard CRCs of
the I/O's blocks, block by block) and crc16|crc64/pifio/4096 (one buffer).

The engine's own timing (pi_verify_time=2, one more run per round): the
time-stamp counter around each read's PI check (the CRC and the compares),
from pi_report (the median read, less an empty window's ticks), preempted checks left out: what verify takes inside the
engine, not a difference of two noisy figures (it leaves out the ~30
instructions of the completion path around the call, which callgrind counts).

The honest reference, from the same job: with pi_verify_time=2 every other
read runs the raw guard CRC of its blocks (one plain call per block, the loop
of pi_bench's crc rows) instead of the checks, timed apart (verify_time.crc).
Both see the data where the engine finds it (copied at submission iodepth
I/Os earlier, out of L1 unless prefetched), the same host load and the same
CPU state between ~1 us of fio's code; pi_bench's rows run the CRC back to
back on trained prefetchers, which a lone check never gets. check / raw CRC
is printed by the medians and by the means (median over the rounds). Each
round also runs pi_verify_crc_only=1 (every read the raw CRC, nothing
checked) beside verify=0 and 1, for the same comparison by wall clock.

A third reference, crc/pifio/<format>/t1/4096/ring32: the same CRC loop over
the next of 32 I/O buffers each time (128 KiB: beyond L1d, inside L2), which is
where the engine's verify finds the data (copied into fio's buffer at
submission, checked iodepth I/Os later); the plain rows run hot in L1.

The wall-clock difference of two ~1 us figures is noisy on a shared host, so
beside it the precise one (unless --no-callgrind, or valgrind is missing):
callgrind instructions per I/O of the same job, pi_verify=1 minus 0 (two runs
each, N1 and N2 I/Os, differenced as in ring_callgrind.py), split into the CRC
kernel's own instructions and everything else verify adds (the call, the
tuple compares, the accounting). valgrind has no AVX-512, so the CRC kernel it
runs is another (named in the output): its instruction count is not the real
one, the "beyond the CRC" count is.

Target (issue 12): added <= 1.15x the raw CRC time, for 4096+8 and 512+8
(judge it by check / raw CRC in the engine; the other ratios are kept).
Reported, not enforced; the host is shared, so the median of the paired
rounds and their range are what to read, with the load average.

  bench/mem_verify_cost.py [--fio FIO] [--engine LIBPIFIO] [--cpu 1] [--runs 5 --runtime 3] [--no-callgrind]
Exit: 0 measured, 1 error.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import tempfile
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ring_overhead import ROOT, find, fio_json  # noqa: E402
from ring_callgrind import callgrind  # noqa: E402

FORMATS = {"4096+8": ("crc16", 8), "512+8": ("crc16", 64)}   # guard kernel, md bytes per 4 KiB


def log(msg):
    print(f"mem_verify_cost: {msg}", file=sys.stderr, flush=True)


def job(fio: Path, eng: Path, fmt: str, verify: int, qd: int) -> list[str]:
    """verify 0: no check, 1: the checks, CRC_ONLY: the raw guard CRC alone (pi_verify_crc_only)."""
    return [str(fio), "--name=mem", f"--ioengine=external:{eng}", "--thread", f"--filename=pifio-mem\\:{fmt}\\:64M",
            "--rw=randread", "--bs=4k", f"--md_per_io_size={FORMATS[fmt][1]}", f"--iodepth={qd}", "--norandommap",
            "--randrepeat=0", "--pi_act=0", "--pi_chk=GUARD,REFTAG,APPTAG", f"--pi_verify={min(verify, 1)}", "--size=64M",
            *(["--pi_verify_crc_only=1"] if verify == CRC_ONLY else [])]


CRC_ONLY = 2   # job()'s third mode


# The CRC kernels' functions (pifio::detail::isa_*, the table code): what callgrind
# counts inside them is the CRC's own work, the rest of what verify adds is not.
CRC_FN = re.compile(r"pifio::detail::|crc16|crc64")


def callgrind_added(fio: Path, eng: Path, fmt: str, qd: int, cpu: int, n1: int, n2: int) -> dict:
    """Instructions per I/O, pi_verify=1 minus 0, and their split (see the docstring)."""
    per: dict[int, dict] = {}
    with tempfile.TemporaryDirectory() as td:
        for v in (0, 1):
            runs = []
            for n in (n1, n2):
                runs.append(callgrind([*job(fio, eng, fmt, v, qd), f"--number_ios={n}", "--iodepth_batch_complete_min=1",
                                       "--output-format=json"], Path(td) / f"cg.{v}.{n}", ("taskset", "-c", str(cpu))))
            a, b = runs
            dios = b["ios"] - a["ios"]
            if dios <= 0:
                raise RuntimeError(f"{fmt} pi_verify={v}: the long run did no more I/O ({a['ios']}, {b['ios']})")
            per[v] = {"ir_per_io": (b["ir"] - a["ir"]) / dios,
                      "fn": {k: (b["fn"][k] - a["fn"][k]) / dios for k in set(a["fn"]) | set(b["fn"])}}
    diff = {k: per[1]["fn"].get(k, 0.0) - per[0]["fn"].get(k, 0.0) for k in set(per[0]["fn"]) | set(per[1]["fn"])}
    crc = sum(v for k, v in diff.items() if CRC_FN.search(k))
    kern = sorted({k for k, v in diff.items() if CRC_FN.search(k) and v > 1}) or ["?"]
    added = per[1]["ir_per_io"] - per[0]["ir_per_io"]
    top = sorted(((k, round(v, 1)) for k, v in diff.items() if abs(v) >= 1 and not CRC_FN.search(k)), key=lambda kv: -abs(kv[1]))
    return {"ir_per_io_verify0": per[0]["ir_per_io"], "ir_per_io_verify1": per[1]["ir_per_io"], "added": added,
            "crc_kernel": crc, "beyond_crc": added - crc, "crc_kernel_functions": kern, "beyond_crc_functions": dict(top[:8]),
            "n": [n1, n2]}


def run_timed(fio: Path, eng: Path, fmt: str, runtime: float, cpu: int, qd: int) -> dict:
    """pi_verify=1 with pi_verify_time=2: the engine's ns per read check, and in the same job (every other
    read) the raw guard CRC of the read's bytes instead (verify_time.crc), from pi_report."""
    with tempfile.TemporaryDirectory() as td:
        rep = Path(td) / "report.json"
        cmd = [*job(fio, eng, fmt, 1, qd), "--time_based", f"--runtime={runtime}", "--ramp_time=1",
               f"--cpus_allowed={cpu}", "--pi_verify_time=2", f"--pi_report={rep}", "--output-format=json"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=runtime * 4 + 60)
        if r.returncode != 0:
            raise RuntimeError(f"fio failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout[-1500:]}{r.stderr[-1500:]}")
        vt = json.loads(rep.read_text())["files"][0].get("verify_time")
    if not vt or not vt["reads"] or not vt.get("crc", {}).get("reads"):
        raise RuntimeError(f"{fmt}: pi_report has no verify_time with a crc part (pi_verify_time=2 timed no read)")
    return vt


def run_fio(fio: Path, eng: Path, fmt: str, verify: int, runtime: float, cpu: int, qd: int) -> dict:
    cmd = [*job(fio, eng, fmt, verify, qd), "--time_based", f"--runtime={runtime}", "--ramp_time=1",
           f"--cpus_allowed={cpu}", "--output-format=json"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=runtime * 4 + 60)
    if r.returncode != 0:
        raise RuntimeError(f"fio failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout[-1500:]}{r.stderr[-1500:]}")
    j = fio_json(r.stdout)["jobs"][0]
    rd, rt = j["read"], j["job_runtime"] / 1000.0
    cpu_frac = (j["usr_cpu"] + j["sys_cpu"]) / 100.0
    return {"iops": rd["iops"], "ios": rd["total_ios"], "cpu_ns_per_io": cpu_frac * rt / rd["total_ios"] * 1e9,
            "usr_cpu": j["usr_cpu"], "sys_cpu": j["sys_cpu"]}


def crc_ns(bench: Path, cpu: int, fmt: str) -> dict:
    kern = FORMATS[fmt][0]
    rows = {f"crc/pifio/{fmt}/t1/4096": "per_block", f"{kern}/pifio/4096": "one_buffer",
            f"crc/pifio/{fmt}/t1/4096/ring32": "per_block_l2"}
    flt = "^(" + "|".join(k.replace("+", r"\+") for k in rows) + ")$"
    r = subprocess.run(["taskset", "-c", str(cpu), str(bench), f"--benchmark_filter={flt}",
                        "--benchmark_repetitions=5", "--benchmark_min_time=0.2", "--benchmark_format=json",
                        "--benchmark_report_aggregates_only=true"], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"pi_bench failed: {r.stderr[-1000:]}")
    out, label = {}, ""
    for b in json.loads(r.stdout)["benchmarks"]:
        if b.get("aggregate_name") == "median" and b["run_name"] in rows:
            unit = {"ns": 1.0, "us": 1e3, "ms": 1e6}[b["time_unit"]]
            out[rows[b["run_name"]]] = b["cpu_time"] * unit
            label = b.get("label", label)
    if len(out) != len(rows):
        raise RuntimeError(f"pi_bench rows missing for {fmt}: {sorted(out)}")
    out["label"] = label
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "bench" / "mem-verify-cost.json")
    ap.add_argument("--fio", type=Path, default=None)
    ap.add_argument("--engine", type=Path, default=None)
    ap.add_argument("--bench", type=Path, default=ROOT / "build" / "bin" / "pi_bench")
    ap.add_argument("--cpu", type=int, default=1 if (os.cpu_count() or 1) > 1 else 0)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--runtime", type=float, default=3.0)
    ap.add_argument("--depth", type=int, default=32)
    ap.add_argument("--formats", default="4096+8,512+8")
    ap.add_argument("--no-callgrind", action="store_true", help="skip the instruction counts")
    ap.add_argument("--n1", type=int, default=2000, help="number_ios of the short callgrind run")
    ap.add_argument("--n2", type=int, default=6000, help="number_ios of the long callgrind run")
    args = ap.parse_args(argv)
    use_cg = not args.no_callgrind and shutil.which("valgrind") is not None and shutil.which("callgrind_annotate") is not None
    if not args.no_callgrind and not use_cg:
        log("valgrind/callgrind_annotate not found: no instruction counts (Debian: apt-get install valgrind)")
    fio = args.fio or find("build/bin/fio", "PIFIO_FIO", sorted(Path.home().glob(".cache/pifio/fio/3.41-*/fio")))
    eng = args.engine or find("build/lib/libpifio.so", "PIFIO_ENGINE_PATH")
    for p, what in ((fio, "fio"), (eng, "engine"), (args.bench, "pi_bench")):
        if not p.exists():
            log(f"{what} {p} not found; run ./pifio build")
            return 1
    fmts = args.formats.split(",")
    if any(f not in FORMATS for f in fmts):
        log(f"--formats: known formats are {', '.join(FORMATS)}")
        return 1
    res = {}
    try:
        for fmt in fmts:
            rounds = []
            for i in range(args.runs):
                modes = (0, 1, CRC_ONLY)
                order = modes[i % 3:] + modes[:i % 3]   # rotated every round
                got = {v: run_fio(fio, eng, fmt, v, args.runtime, args.cpu, args.depth) for v in order}
                vt = run_timed(fio, eng, fmt, args.runtime, args.cpu, args.depth)
                rounds.append({"verify0": got[0], "verify1": got[1], "crc_only": got[CRC_ONLY],
                               "added_ns": got[1]["cpu_ns_per_io"] - got[0]["cpu_ns_per_io"],
                               "crc_added_ns": got[CRC_ONLY]["cpu_ns_per_io"] - got[0]["cpu_ns_per_io"],
                               "timed": {k: x for k, x in vt.items() if k != "crc"}, "timed_crc": vt["crc"]})
            crc = crc_ns(args.bench, args.cpu, fmt)
            added = [r["added_ns"] for r in rounds]
            med = statistics.median(added)
            res[fmt] = {"rounds": rounds, "added_ns_median": med, "added_ns_range": [min(added), max(added)],
                        "crc_ns": crc, "ratio_per_block_crc": med / crc["per_block"],
                        "ratio_one_buffer_crc": med / crc["one_buffer"],
                        "iops_verify0": statistics.median(r["verify0"]["iops"] for r in rounds),
                        "iops_verify1": statistics.median(r["verify1"]["iops"] for r in rounds),
                        "ratio_per_block_l2_crc": med / crc["per_block_l2"]}
            timed = [r["timed"]["median_ns"] for r in rounds]   # the median read: robust to what preempts
            tmed = statistics.median(timed)
            res[fmt]["timed_ns_median"] = tmed
            res[fmt]["timed_ns_range"] = [min(timed), max(timed)]
            res[fmt]["timed_ratio_per_block_crc"] = tmed / crc["per_block"]
            res[fmt]["timed_ratio_per_block_l2_crc"] = tmed / crc["per_block_l2"]
            # The honest reference: the raw CRC of the same bytes where the
            # engine finds them, in the same job (pi_verify_crc_only).
            tcrc = [r["timed_crc"]["median_ns"] for r in rounds]
            pair = [r["timed"]["median_ns"] / r["timed_crc"]["median_ns"] for r in rounds if r["timed_crc"]["median_ns"] > 0]
            # The histogram's buckets are 1/16 of an octave (4-8 ns here): the
            # means (preempted windows left out) resolve the ratio finer.
            pmean = [r["timed"]["ns_per_read"] / r["timed_crc"]["ns_per_read"] for r in rounds if r["timed_crc"]["ns_per_read"] > 0]
            cadd = [r["crc_added_ns"] for r in rounds]
            res[fmt].update({"timed_crc_ns_median": statistics.median(tcrc), "timed_crc_ns_range": [min(tcrc), max(tcrc)],
                             "timed_ratio_in_engine_crc": statistics.median(pair) if pair else None,
                             "timed_ratio_in_engine_crc_range": [min(pair), max(pair)] if pair else None,
                             "timed_mean_ratio_in_engine_crc": statistics.median(pmean) if pmean else None,
                             "timed_mean_ratio_in_engine_crc_range": [min(pmean), max(pmean)] if pmean else None,
                             "crc_added_ns_median": statistics.median(cadd), "crc_added_ns_range": [min(cadd), max(cadd)],
                             "iops_crc_only": statistics.median(r["crc_only"]["iops"] for r in rounds)})
            if use_cg:
                res[fmt]["callgrind"] = callgrind_added(fio, eng, fmt, args.depth, args.cpu, args.n1, args.n2)
    except (RuntimeError, subprocess.TimeoutExpired, ValueError, KeyError) as ex:
        log(str(ex))
        return 1
    out = {"benchmark": "mem-verify-cost", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": platform.node(),
           "loadavg": os.getloadavg(), "cpu": args.cpu, "job": f"randread bs=4k QD{args.depth} pifio-mem, one core",
           "formats": res}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; CPU {args.cpu}")
    for fmt, v in res.items():
        lo, hi = v["added_ns_range"]
        print(f"{fmt}: IOPS verify=0 {v['iops_verify0']:.0f}, verify=1 {v['iops_verify1']:.0f}; "
              f"added {v['added_ns_median']:.1f} ns/I/O [{lo:.1f}..{hi:.1f}]; raw CRC {v['crc_ns']['per_block']:.1f} ns "
              f"per block ({v['crc_ns']['label']}), {v['crc_ns']['one_buffer']:.1f} ns one buffer; "
              f"ratio {v['ratio_per_block_crc']:.2f} / {v['ratio_one_buffer_crc']:.2f} (target <= 1.15); "
              f"L2-resident raw CRC {v['crc_ns']['per_block_l2']:.1f} ns, ratio {v['ratio_per_block_l2_crc']:.2f}")
        tlo, thi = v["timed_ns_range"]
        print(f"{fmt}: engine-timed check (pi_verify_time, median read): {v['timed_ns_median']:.1f} ns [{tlo:.1f}..{thi:.1f}]; "
              f"ratio {v['timed_ratio_per_block_crc']:.2f} to the raw CRC, {v['timed_ratio_per_block_l2_crc']:.2f} "
              f"to the L2-resident one (target <= 1.15)")
        clo, chi = v["timed_crc_ns_range"]
        alo, ahi = v["crc_added_ns_range"]
        rr = lambda x, k: f"{x[k]:.2f} [{x[k + '_range'][0]:.2f}..{x[k + '_range'][1]:.2f}]" if x[k] is not None else "n/a"
        print(f"{fmt}: in the engine, the raw guard CRC of the same bytes where it finds them (pi_verify_time=2, the "
              f"other reads of the same job): {v['timed_crc_ns_median']:.1f} ns [{clo:.1f}..{chi:.1f}]; check / raw CRC "
              f"{rr(v, 'timed_ratio_in_engine_crc')} by the medians, {rr(v, 'timed_mean_ratio_in_engine_crc')} by the means "
              f"(median of the rounds' ratios; target <= 1.15)")
        print(f"{fmt}: wall clock (CPU per I/O less pi_verify=0's): the raw CRC alone (pi_verify_crc_only) adds "
              f"{v['crc_added_ns_median']:.1f} ns/I/O [{alo:.1f}..{ahi:.1f}] (IOPS {v['iops_crc_only']:.0f}), "
              f"the checks {v['added_ns_median']:.1f}")
        if "callgrind" in v:
            c = v["callgrind"]
            print(f"{fmt}: callgrind: pi_verify=1 adds {c['added']:.1f} instructions per I/O "
                  f"({c['ir_per_io_verify0']:.1f} -> {c['ir_per_io_verify1']:.1f}): {c['crc_kernel']:.1f} in the CRC "
                  f"kernel valgrind runs ({', '.join(c['crc_kernel_functions'])}), {c['beyond_crc']:.1f} beyond it "
                  f"({', '.join(f'{k} {x:+.1f}' for k, x in c['beyond_crc_functions'].items())})")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
