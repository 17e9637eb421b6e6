#!/usr/bin/env python3
"""Host ring overhead: pifio's block backend (no PI) vs fio's io_uring engine.

Same device, same fio, same options: 4 KiB random reads on a RAM-backed block
device (a loop device over a file on tmpfs, direct I/O), QD32 and QD1. Runs
alternate between the engines (A B A B ...) so that drift hits both.
Reported per engine: IOPS (harmonic mean over runs), CPU per I/O
((usr+sys) x runtime / ios, arithmetic mean), QD1 mean and p50 latency; and
ours/fio's as the median of per-round paired ratios with their range (the
targets are judged on those medians). Raw per-run values go into the JSON.

Targets (issue 12): ours >= 0.97x fio io_uring IOPS and <= 1.03x its CPU
per I/O at QD32, judged on the paired-round medians; QD1 mean latency
within 5%.

  bench/ring_overhead.py --out results/bench/ring-overhead.json [--runtime 5 --runs 3]
Exit: 0 measured (targets are reported, not enforced), 77 cannot run here
(no root / no loop device), 1 error.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def log(msg):
    print(f"ring_overhead: {msg}", file=sys.stderr, flush=True)


def find(default_rel, env, candidates=()):
    if os.environ.get(env):
        return Path(os.environ[env])
    for c in [ROOT / default_rel, *candidates]:
        if Path(c).exists():
            return Path(c)
    return ROOT / default_rel


class Loop:
    """A loop device with direct I/O over a file on tmpfs."""

    def __init__(self, size: int):
        self.img = Path("/dev/shm") / f"pifio-ring-{os.getpid()}.img"
        self.dev = None
        self.size = size

    def __enter__(self):
        with open(self.img, "wb") as f:
            f.truncate(self.size)
        # Touch every page so the reads hit memory, not page-fault paths.
        subprocess.run(["dd", "if=/dev/zero", f"of={self.img}", "bs=1M", f"count={self.size >> 20}",
                        "conv=notrunc", "status=none"], check=True)
        r = subprocess.run(["losetup", "-f", "--show", "--direct-io=on", str(self.img)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.img.unlink(missing_ok=True)
            raise PermissionError(r.stderr.strip() or "losetup failed")
        self.dev = r.stdout.strip()
        return self

    def __exit__(self, *a):
        if self.dev:
            subprocess.run(["losetup", "-d", self.dev])
        self.img.unlink(missing_ok=True)


def fio_json(text: str) -> dict:
    """fio may print text before its JSON (DESIGN §7)."""
    i = text.find("{")
    while i >= 0:
        try:
            return json.loads(text[i:])
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
    raise ValueError("no JSON in fio output")


def run_one(fio: Path, engine_opt: str, dev: str, qd: int, runtime: float, size: int, cpu: int | None) -> dict:
    cmd = [str(fio), "--name=ring", f"--filename={dev}", f"--ioengine={engine_opt}", "--rw=randread",
           "--bs=4k", f"--iodepth={qd}", "--direct=1", "--norandommap", "--randrepeat=0",
           f"--size={size}", "--time_based", f"--runtime={runtime}", "--ramp_time=1",
           "--output-format=json", "--iodepth_batch_complete_min=1"]
    if cpu is not None:
        cmd.append(f"--cpus_allowed={cpu}")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=runtime * 4 + 60)
    if r.returncode != 0:
        raise RuntimeError(f"fio failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-2000:]}")
    j = fio_json(r.stdout)["jobs"][0]
    rd = j["read"]
    runtime_s = j["job_runtime"] / 1000.0
    ios = rd["total_ios"]
    cpu_frac = (j["usr_cpu"] + j["sys_cpu"]) / 100.0
    return {"iops": rd["iops"], "ios": ios, "runtime_s": runtime_s,
            "usr_cpu": j["usr_cpu"], "sys_cpu": j["sys_cpu"],
            "cpu_us_per_io": cpu_frac * runtime_s / ios * 1e6 if ios else None,
            "lat_mean_us": rd["lat_ns"]["mean"] / 1000.0,
            "lat_p50_us": rd["clat_ns"].get("percentile", {}).get("50.000000", 0) / 1000.0,
            "cmd": cmd}


def hmean(xs):
    xs = [x for x in xs if x]
    return len(xs) / sum(1 / x for x in xs) if xs else 0.0


def binaries(args) -> tuple[Path | None, Path | None]:
    """fio and libpifio.so from --fio/--engine, else the build tree / environment / cache;
    (None, None) after saying which is missing."""
    fio = args.fio or find("build/bin/fio", "PIFIO_FIO", sorted(Path.home().glob(".cache/pifio/fio/3.41-*/fio")))
    eng = args.engine or find("build/lib/libpifio.so", "PIFIO_ENGINE_PATH")
    for p, what in ((fio, "fio"), (eng, "engine")):
        if not p.exists():
            log(f"{what} {p} not found; run ./pifio build")
            return None, None
    return fio, eng


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "bench" / "ring-overhead.json")
    ap.add_argument("--fio", type=Path, default=None, help="fio binary (default build/bin/fio)")
    ap.add_argument("--engine", type=Path, default=None, help="libpifio.so (default build/lib/libpifio.so)")
    ap.add_argument("--runtime", type=float, default=5.0, help="seconds per run (after 1 s ramp)")
    ap.add_argument("--runs", type=int, default=5, help="runs per engine and depth (alternating)")
    ap.add_argument("--size", type=int, default=512 << 20, help="device bytes")
    ap.add_argument("--cpu", type=int, default=None, help="pin fio to this CPU")
    ap.add_argument("--depths", default="32,1", help="queue depths (first is the throughput point, last the latency point)")
    args = ap.parse_args(argv)

    fio, eng = binaries(args)
    if fio is None:
        return 1
    if os.geteuid() != 0 or not shutil.which("losetup"):
        log("SKIP: needs root and losetup to make a loop device on tmpfs")
        return 77
    engines = {"pifio": f"external:{eng}", "io_uring": "io_uring"}
    depths = [int(x) for x in args.depths.split(",")]
    raw: dict[str, dict[str, list]] = {str(q): {e: [] for e in engines} for q in depths}
    try:
        with Loop(args.size) as lp:
            log(f"{lp.dev} over {lp.img} ({args.size >> 20} MiB, direct I/O); {args.runs} x {args.runtime:g} s per point")
            for q in depths:
                for i in range(args.runs):
                    order = list(engines) if i % 2 == 0 else list(reversed(engines))
                    for e in order:
                        raw[str(q)][e].append(run_one(fio, engines[e], lp.dev, q, args.runtime, args.size, args.cpu))
    except PermissionError as ex:
        log(f"SKIP: cannot set up a loop device: {ex}")
        return 77
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as ex:
        log(str(ex))
        return 1

    summary = {}
    for q in depths:
        s = {}
        for e in engines:
            runs = raw[str(q)][e]
            s[e] = {"iops": hmean([r["iops"] for r in runs]),
                    "cpu_us_per_io": statistics.mean(r["cpu_us_per_io"] for r in runs),
                    "lat_mean_us": statistics.mean(r["lat_mean_us"] for r in runs),
                    "lat_p50_us": statistics.median(r["lat_p50_us"] for r in runs)}
        # Paired ratios: run i of ours against run i of fio's (adjacent in
        # time, order alternating), so host drift between rounds cancels; the
        # median over rounds is what the targets are judged on, min..max shows
        # the spread. One disturbed run moves the mean a lot, the median not.
        pr, fr = raw[str(q)]["pifio"], raw[str(q)]["io_uring"]
        keys = {"iops": "iops", "cpu_per_io": "cpu_us_per_io", "lat_mean": "lat_mean_us", "lat_p50": "lat_p50_us"}
        ratios = {k: [a[m] / b[m] for a, b in zip(pr, fr) if a[m] and b[m]] for k, m in keys.items()}
        s["ratio"] = {k: statistics.median(v) if v else float("nan") for k, v in ratios.items()}
        s["ratio_range"] = {k: [min(v), max(v)] if v else None for k, v in ratios.items()}
        s["ratio_of_means"] = {"iops": s["pifio"]["iops"] / s["io_uring"]["iops"],
                               "cpu_per_io": s["pifio"]["cpu_us_per_io"] / s["io_uring"]["cpu_us_per_io"],
                               "lat_mean": s["pifio"]["lat_mean_us"] / s["io_uring"]["lat_mean_us"]}
        summary[str(q)] = s
    hi, lo = str(depths[0]), str(depths[-1])
    rh, rl = summary[hi]["ratio"], summary[lo]["ratio"]
    targets = {f"qd{hi}_iops_ge_0.97": rh["iops"] >= 0.97, f"qd{hi}_cpu_le_1.03": rh["cpu_per_io"] <= 1.03,
               f"qd{lo}_lat_within_5pct": rl["lat_mean"] <= 1.05}
    out = {"benchmark": "ring-overhead", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "host": platform.node(), "kernel": platform.release(), "fio": str(fio), "engine": str(eng),
           "device": "loop (direct-io) over tmpfs", "size": args.size, "runtime_s": args.runtime,
           "runs": args.runs, "job": "randread bs=4k direct=1 norandommap", "summary": summary,
           "targets": targets, "raw": raw}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")

    print(f"{'QD':>3} {'engine':<9} {'IOPS':>10} {'CPU us/IO':>10} {'lat mean us':>12} {'lat p50 us':>11}")
    for q in depths:
        for e in engines:
            v = summary[str(q)][e]
            print(f"{q:>3} {e:<9} {v['iops']:>10.0f} {v['cpu_us_per_io']:>10.3f} {v['lat_mean_us']:>12.2f} "
                  f"{v['lat_p50_us']:>11.2f}")
        r, rr = summary[str(q)]["ratio"], summary[str(q)]["ratio_range"]
        print(f"{q:>3} {'ratio':<9} {r['iops']:>10.3f} {r['cpu_per_io']:>10.3f} {r['lat_mean']:>12.3f} "
              f"{r['lat_p50']:>11.3f}   (median of {args.runs} paired runs)")
        rng = lambda k: f"{rr[k][0]:.2f}..{rr[k][1]:.2f}" if rr[k] else "-"
        print(f"{q:>3} {'range':<9} {rng('iops'):>10} {rng('cpu_per_io'):>10} {rng('lat_mean'):>12} {rng('lat_p50'):>11}")
    print("targets: " + ", ".join(f"{k} {'PASS' if v else 'MISS'}" for k, v in targets.items()))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
