#!/usr/bin/python3
"""Smoke test of bench/ring_overhead.py (the host ring-overhead benchmark of
`./pifio bench`): a short run on a real loop device over tmpfs with the real
fio and engine. Checks that both engines did I/O at both depths, that every
round is recorded raw, that the paired ratios are computed from those rounds
(recomputed here) and that the targets are reported. It does not judge the
targets — performance lives in the benchmark, not in a timed test.

usage: ring_overhead_smoke.py --fio FIO --engine LIBPIFIO
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ap = argparse.ArgumentParser()
ap.add_argument("--fio", required=True)
ap.add_argument("--engine", required=True)
a = ap.parse_args()

fails = []


def check(cond, what):
    print(f"{'ok  ' if cond else 'FAIL'} {what}")
    if not cond:
        fails.append(what)


with tempfile.TemporaryDirectory() as td:
    out = Path(td) / "ring.json"
    cmd = ["/usr/bin/python3", str(ROOT / "bench" / "ring_overhead.py"), "--fio", a.fio, "--engine", a.engine,
           "--runtime", "1", "--runs", "2", "--depths", "8,1", "--size", str(64 << 20), "--out", str(out)]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    print(r.stdout[-3000:])
    if r.returncode == 77:
        print("SKIP: " + (r.stdout.strip().splitlines() or ["ring_overhead.py cannot run here"])[-1])
        sys.exit(77)
    check(r.returncode == 0, f"ring_overhead.py exits 0 (got {r.returncode})")
    if not out.exists():
        check(False, "JSON written")
        sys.exit(1)
    j = json.loads(out.read_text())
    for q in ("8", "1"):
        for e in ("pifio", "io_uring"):
            runs = j["raw"][q][e]
            check(len(runs) == 2 and all(x["iops"] > 0 and x["ios"] > 0 for x in runs),
                  f"QD{q} {e}: 2 rounds with I/O ({[round(x['iops']) for x in runs]} IOPS)")
            check(all(x["cpu_us_per_io"] and x["cpu_us_per_io"] > 0 for x in runs), f"QD{q} {e}: CPU per I/O measured")
        want = statistics.median(p["iops"] / f["iops"] for p, f in zip(j["raw"][q]["pifio"], j["raw"][q]["io_uring"]))
        got = j["summary"][q]["ratio"]["iops"]
        check(abs(got - want) < 1e-9, f"QD{q}: IOPS ratio is the median of the paired rounds ({got:.3f})")
        lo, hi = j["summary"][q]["ratio_range"]["iops"]
        check(lo <= got <= hi, f"QD{q}: ratio within its range [{lo:.3f}, {hi:.3f}]")
    check(set(j["targets"]) == {"qd8_iops_ge_0.97", "qd8_cpu_le_1.03", "qd1_lat_within_5pct"},
          f"targets reported ({sorted(j['targets'])})")
    check("targets:" in r.stdout, "summary printed")

print(f"{len(fails)} check(s) failed" if fails else "all checks passed")
sys.exit(1 if fails else 0)
