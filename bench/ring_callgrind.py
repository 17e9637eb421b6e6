#!/usr/bin/env python3
"""User-space instructions per I/O: pifio's block backend (no PI) vs fio's
io_uring engine, counted by callgrind. The wall-clock ring bench
(ring_overhead.py) is noisy on a shared host; instruction counts are not.

Same fio, same job as ring_overhead.py (4 KiB random reads, QD32, direct I/O
on a loop device over tmpfs), run as one process (--thread) under
`valgrind --tool=callgrind --toggle-collect=thread_main`, so fio's start-up,
clock calibration and helper thread are not counted. Each engine runs twice,
with N1 and N2 I/Os; instructions per I/O = (Ir(N2) - Ir(N1)) / (ios(N2) -
ios(N1)), which cancels the per-job set-up (engine load, ring set-up, probe).
The per-function split of that difference names where the instructions go.

Counted: instructions in user space (fio, the engine, liburing, libc).
Not counted: the kernel (system calls); `--syscalls` adds an strace count of
io_uring_enter calls per I/O for both engines.

  bench/ring_callgrind.py [--fio FIO] [--engine LIBPIFIO] [--out results/bench/ring-callgrind.json]
Exit: 0 measured, 77 cannot run here (no valgrind, no root/losetup), 1 error.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ring_overhead import ROOT, Loop, binaries, fio_json  # noqa: E402


def log(msg):
    print(f"ring_callgrind: {msg}", file=sys.stderr, flush=True)


def fio_cmd(fio: Path, engine_opt: str, dev: str, qd: int, n: int, size: int) -> list[str]:
    return [str(fio), "--thread", "--name=ring", f"--filename={dev}", f"--ioengine={engine_opt}",
            "--rw=randread", "--bs=4k", f"--iodepth={qd}", "--direct=1", "--norandommap", "--randrepeat=0",
            f"--size={size}", f"--number_ios={n}", "--iodepth_batch_complete_min=1", "--output-format=json"]


def functions(cg_out: Path) -> Counter:
    """Self instructions per function (callgrind_annotate, no source annotation)."""
    r = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", str(cg_out)],
                       capture_output=True, text=True, check=True)
    d: Counter = Counter()
    for line in r.stdout.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(.*)$", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        name = re.sub(r"\s*\[[^\]]*\]$", "", m.group(2))
        name = name.split(":", 1)[-1] if not name.startswith("0x") else name
        d[re.sub(r"\(.*", "", name)] += int(m.group(1).replace(",", ""))
    return d


def callgrind(fio_argv: list, out: Path, prefix: tuple = ()) -> dict:
    """fio under callgrind, collecting in its job threads (thread_main): the
    instructions counted ("ir"), the reads fio did ("ios"), per-function
    counts ("fn") and the command."""
    cmd = [*prefix, "valgrind", "--tool=callgrind", "--toggle-collect=thread_main", f"--callgrind-out-file={out}",
           *fio_argv]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError(f"callgrind run failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-2000:]}")
    m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
    if not m:
        raise RuntimeError(f"no 'Collected' line from callgrind: {r.stderr[-1000:]}")
    ios = fio_json(r.stdout)["jobs"][0]["read"]["total_ios"]
    return {"ir": int(m.group(1)), "ios": ios, "fn": functions(out), "cmd": cmd}


def run_cg(fio: Path, engine_opt: str, dev: str, qd: int, n: int, size: int, td: Path, tag: str) -> dict:
    return callgrind(fio_cmd(fio, engine_opt, dev, qd, n, size), td / f"cg.{tag}.{n}")


def enter_calls(fio: Path, engine_opt: str, dev: str, qd: int, n: int, size: int, td: Path) -> dict:
    st = td / "strace.txt"
    cmd = ["strace", "-f", "-c", "-e", "trace=io_uring_enter", "-o", str(st), *fio_cmd(fio, engine_opt, dev, qd, n, size)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"strace run failed ({r.returncode}): {r.stderr[-1000:]}")
    ios = fio_json(r.stdout)["jobs"][0]["read"]["total_ios"]
    calls = 0
    for line in st.read_text().splitlines():
        f = line.split()
        if f and f[-1] == "io_uring_enter":
            calls = int(f[3])
    return {"calls": calls, "ios": ios, "per_io": calls / ios if ios else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "bench" / "ring-callgrind.json")
    ap.add_argument("--fio", type=Path, default=None, help="fio binary (default build/bin/fio)")
    ap.add_argument("--engine", type=Path, default=None, help="libpifio.so (default build/lib/libpifio.so)")
    ap.add_argument("--depth", type=int, default=32)
    ap.add_argument("--n1", type=int, default=2000, help="number_ios of the short run")
    ap.add_argument("--n2", type=int, default=6000, help="number_ios of the long run")
    ap.add_argument("--size", type=int, default=64 << 20, help="device bytes")
    ap.add_argument("--top", type=int, default=25, help="functions listed per engine")
    ap.add_argument("--syscalls", action="store_true", help="also count io_uring_enter per I/O (strace)")
    args = ap.parse_args(argv)

    fio, eng = binaries(args)
    if fio is None:
        return 1
    for tool in ("valgrind", "callgrind_annotate") + (("strace",) if args.syscalls else ()):
        if not shutil.which(tool):
            log(f"SKIP: {tool} not found (Debian: apt-get install valgrind{' strace' if tool == 'strace' else ''})")
            return 77
    if os.geteuid() != 0 or not shutil.which("losetup"):
        log("SKIP: needs root and losetup to make a loop device on tmpfs")
        return 77
    if args.n2 <= args.n1:
        log("--n2 must be larger than --n1")
        return 1
    engines = {"pifio": f"external:{eng}", "io_uring": "io_uring"}
    res: dict[str, dict] = {}
    try:
        with Loop(args.size) as lp, tempfile.TemporaryDirectory() as tds:
            td = Path(tds)
            for e, opt in engines.items():
                a = run_cg(fio, opt, lp.dev, args.depth, args.n1, args.size, td, e)
                b = run_cg(fio, opt, lp.dev, args.depth, args.n2, args.size, td, e)
                dios = b["ios"] - a["ios"]
                if dios <= 0:
                    raise RuntimeError(f"{e}: the long run did no more I/O than the short one ({a['ios']}, {b['ios']})")
                fn = {k: (b["fn"][k] - a["fn"][k]) / dios for k in set(a["fn"]) | set(b["fn"])}
                top = sorted(((k, v) for k, v in fn.items() if abs(v) >= 0.05), key=lambda kv: -abs(kv[1]))
                res[e] = {"ir_per_io": (b["ir"] - a["ir"]) / dios, "runs": [{k: x[k] for k in ("ir", "ios", "cmd")} for x in (a, b)],
                          "functions": dict(top)}
                if args.syscalls:
                    res[e]["io_uring_enter"] = enter_calls(fio, opt, lp.dev, args.depth, args.n2, args.size, td)
    except PermissionError as ex:
        log(f"SKIP: cannot set up a loop device: {ex}")
        return 77
    except (RuntimeError, subprocess.TimeoutExpired, subprocess.CalledProcessError, ValueError, KeyError) as ex:
        log(str(ex))
        return 1

    ratio = res["pifio"]["ir_per_io"] / res["io_uring"]["ir_per_io"]
    out = {"benchmark": "ring-callgrind", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "fio": str(fio),
           "engine": str(eng), "device": "loop (direct-io) over tmpfs", "job": f"randread bs=4k QD{args.depth} direct=1",
           "counted": "user-space instructions inside fio's thread_main (callgrind)",
           "n": [args.n1, args.n2], "ratio": ratio, "engines": res}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    for e in engines:
        print(f"{e:<9} {res[e]['ir_per_io']:8.1f} instructions per I/O"
              + (f", {res[e]['io_uring_enter']['per_io']:.4f} io_uring_enter per I/O" if args.syscalls else ""))
        for k, v in list(res[e]["functions"].items())[:args.top]:
            print(f"    {v:8.1f}  {k}")
    print(f"ratio pifio/io_uring: {ratio:.3f} instructions per I/O")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
