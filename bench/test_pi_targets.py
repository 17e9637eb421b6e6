#!/usr/bin/env python3
"""bench/pi_targets.py on made-up pi_bench JSON: the verdict logic, not speed.

A target is met only when the ratio reaches its bound; a missing row is
missing (never met); --strict turns a miss into exit 1."""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import pi_targets  # noqa: E402


def row(name, ns, agg="median"):
    return {"name": f"{name}_{agg}", "run_name": name, "run_type": "aggregate", "aggregate_name": agg,
            "cpu_time": ns, "time_unit": "ns", "label": "cpu=Test CPU; crc=test"}


def doc(rows):
    return {"context": {"cpu_model": "Test CPU", "pifio_crc_dispatch": "test: self-test passed"}, "benchmarks": rows}


def verdicts(d):
    return {r["target"]: r["verdict"] for r in pi_targets.judge(d)}


fails = []


def check(what, got, want):
    if got != want:
        fails.append(f"{what}: got {got!r}, want {want!r}")


base = [
    row("crc16/pifio/512", 10.0), row("crc16/isal/512", 12.5),      # 1.25x: met (>= 1.2)
    row("crc64/pifio/512", 10.0), row("crc64/isal/512", 11.9),      # 1.19x: missed
    row("crc16/pifio/4096", 50.0), row("crc16/isal/4096", 50.0),    # 1.0x: met (>= 1.0)
    row("crc64/pifio/4096", 50.0), row("crc64/isal/4096", 49.0),    # 0.98x: missed
    row("crc16/pifio/131072", 1000.0), row("crc64/pifio/131072", 1000.0),
    row("verify/pifio/512+8/t1/131072", 1250.0), row("crc/pifio/512+8/t1/131072", 1125.0),  # 0.9 met; io128 0.8 met
    row("verify/pifio/512+16/t1/g64/131072", 1300.0), row("crc/pifio/512+16/t1/g64/131072", 1100.0),  # 0.846 missed
    # the median wins over the mean when both are there
    row("verify/pifio/4096+8/t1/4096", 100.0), row("verify/pifio/4096+8/t1/4096", 1.0, agg="mean"),
    row("crc/pifio/4096+8/t1/4096", 95.0),                          # 0.95 met
]
v = verdicts(doc(base))
check("crc16/512", v.get("crc16/512"), "PASS")
check("crc64/512", v.get("crc64/512"), "MISS")
check("crc16/4096", v.get("crc16/4096"), "PASS")
check("crc64/4096", v.get("crc64/4096"), "MISS")
check("verify 512+8", v.get("512+8/t1/131072"), "PASS")
check("verify 512+16 g64", v.get("512+16/t1/g64/131072"), "MISS")
check("verify 4096+8 (median, not mean)", v.get("4096+8/t1/4096"), "PASS")
io = {r["target"]: r for r in pi_targets.judge(doc(base)) if r["kind"] == "io128"}
check("io128 512+8", io["512+8/t1/131072"]["verdict"], "PASS")      # 1000/1250 = 0.8
check("io128 512+16 g64", io["512+16/t1/g64/131072"]["verdict"], "MISS")   # 1000/1300
check("io128 ext (no rows)", io["512+8/t1/ext/131072"]["verdict"], "missing")

# The CPU paths: pifio-vpclmul-avx2 against isal-avx (crc16) and isal-sse (crc64).
paths = [row("crc16/pifio-vpclmul-avx2/512", 10.0), row("crc16/isal-avx/512", 15.0),
         row("crc64/pifio-vpclmul-avx2/512", 10.0), row("crc64/isal-sse/512", 11.0),
         row("crc16/pifio-pclmul/4096", 100.0), row("crc16/isal-sse/4096", 99.0)]
pv = {(r["kind"], r["target"]): r for r in pi_targets.judge(doc(paths))}
check("avx2 crc16 512", pv[("crc-vpclmul-avx2", "crc16/512")]["verdict"], "PASS")
check("avx2 crc16 reference", pv[("crc-vpclmul-avx2", "crc16/512")]["reference"], "crc16/isal-avx/512")
check("avx2 crc64 512 (1.1 < 1.2)", pv[("crc-vpclmul-avx2", "crc64/512")]["verdict"], "MISS")
check("pclmul crc16 4096 (0.99)", pv[("crc-pclmul", "crc16/4096")]["verdict"], "MISS")
check("no path rows, no path targets", any(r["kind"].startswith("crc-") for r in pi_targets.judge(doc(base))), False)

# verify on the other CPU paths: against that path's per-block CRC and one buffer.
vp = [row("verify/pifio-vpclmul-avx2/512+8/t1/131072", 2000.0), row("crc/pifio-vpclmul-avx2/512+8/t1/131072", 2100.0),
      row("crc16/pifio-vpclmul-avx2/131072", 1500.0),
      row("verify/pifio-pclmul/512+16/t1/g64/4096", 110.0), row("crc/pifio-pclmul/512+16/t1/g64/4096", 95.0)]
vv = {(r["kind"], r["target"]): r for r in pi_targets.judge(doc(vp))}
check("avx2 verify row", vv[("verify-vpclmul-avx2", "512+8/t1/131072")]["verdict"], "PASS")    # 1.05
check("avx2 verify reference", vv[("verify-vpclmul-avx2", "512+8/t1/131072")]["reference"],
      "crc/pifio-vpclmul-avx2/512+8/t1/131072")
check("avx2 io128", vv[("io128-vpclmul-avx2", "512+8/t1/131072")]["verdict"], "MISS")           # 0.75
check("avx2 io128 g64 (no rows)", ("io128-vpclmul-avx2", "512+16/t1/g64/131072") in vv, False)
check("pclmul verify row", vv[("verify-pclmul", "512+16/t1/g64/4096")]["verdict"], "MISS")      # 0.86
check("path rows are not the dispatched verify", ("verify", "512+8/t1/131072") in vv, False)

# Repetitions: the fastest is the time (noise only adds), --stat median their median.
its = [dict(row("crc16/pifio/512", x), run_type="iteration") for x in (10.5, 10.0, 30.0)] + \
      [dict(row("crc16/isal/512", x), run_type="iteration") for x in (12.0, 40.0, 40.0)]
check("repetitions min", verdicts(doc(its)).get("crc16/512"), "PASS")   # 12/10 = 1.2
check("repetitions median", {r["target"]: r["verdict"] for r in pi_targets.judge(doc(its), "median")}.get("crc16/512"),
      "PASS")   # 40/10.5
slow = [dict(row("crc16/pifio/512", x), run_type="iteration") for x in (11.0, 30.0)] + its[3:]
check("repetitions min moves", verdicts(doc(slow)).get("crc16/512"), "MISS")   # 12/11 = 1.09
# A repetition row beats an aggregate of the same row.
mix = [row("crc16/pifio/512", 100.0), dict(row("crc16/pifio/512", 10.0), run_type="iteration"),
       row("crc16/isal/512", 12.0)]
check("repetitions over aggregate", verdicts(doc(mix)).get("crc16/512"), "PASS")

with tempfile.TemporaryDirectory() as td:
    p = Path(td) / "pi.json"
    p.write_text(json.dumps(doc(base)))
    cmd = [sys.executable, str(HERE / "pi_targets.py"), "--json", str(p), "--out", str(Path(td) / "t.json")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    check("exit (misses reported, not enforced)", r.returncode, 0)
    check("names the CPU", "Test CPU" in r.stdout, True)
    out = json.loads((Path(td) / "t.json").read_text())
    check("json verdicts", sum(t["verdict"] == "MISS" for t in out["targets"]) >= 4, True)
    r = subprocess.run(cmd + ["--strict"], capture_output=True, text=True)
    check("--strict exit", r.returncode, 1)
    r = subprocess.run([sys.executable, str(HERE / "pi_targets.py"), "--json", str(Path(td) / "none.json")],
                       capture_output=True, text=True)
    check("unreadable input exit", r.returncode, 2)
    check("unreadable input says what to do", "./pifio bench" in r.stderr, True)

if fails:
    print("FAIL:\n  " + "\n  ".join(fails))
    sys.exit(1)
print("PASS: pi_targets verdicts")
