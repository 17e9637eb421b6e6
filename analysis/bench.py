"""Analysis benchmarks (ingest, compare, statistical power targets). Run: /usr/bin/python3 -m analysis.bench [--quick]

1. ingest 1,000 fio JSON+ files            target < 10 s
2. compare 2 x 10 runs x 50 scenarios      target < 2 s
3. power: CoV 2 %, n = 10 per side, 5 % IOPS regression detected in >= 90 % of seeded simulations
   (and the false-alarm rate of identical distributions, for contrast)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

from . import compare as cmp
from . import stats, synth
from .store import Store


def bench_ingest(n_files: int, tmp: str) -> dict:
    tpl = synth.load_template()
    rd = os.path.join(tmp, "ingest")
    rng = np.random.default_rng(0)
    per_run = 10
    for r in range(n_files // per_run):
        outs = {f"s{j:02d}": synth.scaled(tpl, float(rng.normal(1, 0.02))) for j in range(per_run)}
        synth.write_run(rd, f"run-{r:04d}", outs, synth.meta(f"run-{r:04d}"))
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(rd) for f in fs)
    st = Store(os.path.join(tmp, "ingest.sqlite"))
    t0 = time.perf_counter()
    rep, _ = st.ingest_results(rd)
    dt = time.perf_counter() - t0
    t0 = time.perf_counter()
    rep2, _ = st.ingest_results(rd)
    dt2 = time.perf_counter() - t0
    return {"files": rep.files, "samples": rep.samples, "MB": round(size / 1e6, 1), "seconds": round(dt, 2),
            "reingest_unchanged_seconds": round(dt2, 2), "target_s": 10, "ok": rep.files == n_files and dt < 10}


def bench_compare(n_scen: int, tmp: str) -> dict:
    rd = os.path.join(tmp, "cmp")
    # each synthetic file has 2 jobs (randread, randwrite): n_scen/2 dirs x 2 jobs = n_scen scenarios
    scen = [f"sc{j:02d}" for j in range(n_scen // 2)]
    synth.make_set(rd, "a", 10, scen, 1.0, 0.02, seed=1)
    synth.make_set(rd, "b", 10, scen, 0.97, 0.02, seed=2, series="x")
    st = Store(os.path.join(tmp, "cmp.sqlite"))
    st.ingest_results(rd)
    a = cmp.load_side(st, "a-*", rd)
    b = cmp.load_side(st, "b-*", rd)
    t0 = time.perf_counter()
    res = cmp.compare(st, a, b)
    text = cmp.render_text(res)
    dt = time.perf_counter() - t0
    scenarios = len({r["scenario"] for r in res["rows"]})
    return {"scenarios": scenarios, "rows": len(res["rows"]), "runs_per_side": 10, "seconds": round(dt, 2),
            "target_s": 2, "ok": dt < 2 and scenarios == n_scen, "text_lines": text.count("\n")}


def bench_power(sims: int) -> dict:
    hit = false_alarm = 0
    for seed in range(sims):
        rng = np.random.default_rng(seed)
        a = rng.normal(100000, 2000, 10)            # CoV 2 %
        b = rng.normal(95000, 1900, 10)             # 5 % regression, same CoV
        hit += stats.compare_samples(a, b, "harmonic", bootstrap=False).verdict == stats.REGRESSED
        c = rng.normal(100000, 2000, 10)
        false_alarm += stats.compare_samples(a, c, "harmonic", bootstrap=False).verdict != stats.NOISE
    return {"simulations": sims, "detected_pct": 100.0 * hit / sims, "target_pct": 90,
            "false_alarm_pct": 100.0 * false_alarm / sims, "ok": hit / sims >= 0.9}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m analysis.bench")
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke test)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="pifio-anbench-")
    try:
        out = {
            "ingest": bench_ingest(100 if args.quick else 1000, tmp),
            "compare": bench_compare(50, tmp),
            "power": bench_power(200 if args.quick else 1000),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        i, c, p = out["ingest"], out["compare"], out["power"]
        print(f"ingest : {i['files']} fio JSON+ files ({i['MB']} MB, {i['samples']} jobs) in {i['seconds']} s "
              f"(target < {i['target_s']} s; unchanged re-ingest {i['reingest_unchanged_seconds']} s)  "
              f"{'OK' if i['ok'] else 'MISSED'}")
        print(f"compare: 2 x {c['runs_per_side']} runs x {c['scenarios']} scenarios ({c['rows']} rows) in "
              f"{c['seconds']} s (target < {c['target_s']} s)  {'OK' if c['ok'] else 'MISSED'}")
        print(f"power  : 5% regression at CoV 2%, n=10/side: detected in {p['detected_pct']:.1f}% of "
              f"{p['simulations']} simulations (target >= {p['target_pct']}%); false alarms with no change "
              f"{p['false_alarm_pct']:.1f}%  {'OK' if p['ok'] else 'MISSED'}")
    return 0 if all(v["ok"] for v in out.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
