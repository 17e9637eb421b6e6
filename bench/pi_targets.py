#!/usr/bin/env python3
"""Issue 12's PI core targets, judged on one pi_bench JSON (one run, one CPU).

Reads the Google Benchmark JSON that `./pifio bench` writes
(results/bench/pi-core.json) and prints, per target, the ratio, the bound
and PASS/MISS, naming the CPU and the CRC kernel of the run:

  crc    crc16|crc64/pifio/<n> vs crc16|crc64/isal/<n>: speed ratio
         (ISA-L time / pifio time) >= 1.0 at every size, >= 1.2 at 512 B.
  crc-vpclmul-avx2, crc-pclmul
         the same bounds for the paths of CPUs without AVX-512, run on this
         one: crc16|crc64/pifio-<path>/<n> vs the ISA-L path its dispatcher
         picks there (crc16: isal-avx for AVX2, isal-sse for PCLMUL; crc64:
         isal-sse for both).
  verify verify/pifio/<format>/<io> vs crc/pifio/<format>/<io> (the raw CRC
         of the same guard bytes, one plain call per block): >= 0.9.
  io128  verify/pifio/512+*/<io 131072> vs crc16|crc64/pifio/131072 (the CRC
         of one 128 KiB buffer): >= 0.8.
  verify-<path>, io128-<path>
         the same on the paths of CPUs without AVX-512 (vpclmul-avx2, pclmul:
         pi_bench's verify|crc/pifio-<path>/... rows, the path forced for the
         row), where the run has them.

Times are, per row, the fastest repetition when the JSON has the
repetitions (noise on a shared host only adds time; `./pifio bench` keeps
them: 10 short repetitions in random order), else the `median` aggregate;
--stat median judges on the median of the repetitions instead, and both are
in the JSON written. Rows the run lacks are listed as missing, never counted
as met.

  bench/pi_targets.py [--json results/bench/pi-core.json ...] [--out results/bench/pi-targets.json] [--strict]
Exit: 0 judged (MISS is reported, not enforced; --strict: 1 on a MISS or
missing row), 2 unreadable input.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def times(doc: dict, stat: str = "min") -> dict[str, float]:
    """run_name -> cpu time in ns: the min (stat "min") or median of the
    repetitions where the JSON has them, else the median aggregate."""
    med, its = {}, {}
    for b in doc.get("benchmarks", []):
        t = b["cpu_time"] * UNIT[b.get("time_unit", "ns")]
        name = b.get("run_name", b["name"])
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                med[name] = t
        else:
            its.setdefault(name, []).append(t)
    out = dict(med)
    pick = min if stat == "min" else statistics.median
    out.update({k: pick(v) for k, v in its.items()})
    return out


def labels(doc: dict) -> dict[str, str]:
    return {b.get("run_name", b["name"]): b.get("label", "") for b in doc.get("benchmarks", [])}


def judge(doc: dict, stat: str = "min") -> list[dict]:
    t, lab, tmed = times(doc, stat), labels(doc), times(doc, "median")
    rows = []

    def add(kind, name, num, den, bound, what):
        """ratio = t[num] / t[den]: how many times faster the subject (den) is."""
        r = {"kind": kind, "target": name, "bound": bound, "what": what, "subject": den, "reference": num}
        if num not in t or den not in t:
            r.update(verdict="missing", ratio=None, missing=[x for x in (num, den) if x not in t])
        else:
            r.update(ratio=t[num] / t[den], verdict="PASS" if t[num] / t[den] >= bound else "MISS",
                     subject_ns=t[den], reference_ns=t[num], label=lab.get(den, ""),
                     ratio_median=tmed[num] / tmed[den])
        rows.append(r)

    sizes = sorted({int(m.group(2)) for k in t if (m := re.fullmatch(r"(crc16|crc64)/pifio/(\d+)", k))})
    for kern in ("crc16", "crc64"):
        for n in sizes or [512, 4096]:
            add("crc", f"{kern}/{n}", f"{kern}/isal/{n}", f"{kern}/pifio/{n}", 1.2 if n == 512 else 1.0,
                "ISA-L time / pifio time")
    # The paths of CPUs without AVX-512, run on this one: pifio's kernel vs
    # the ISA-L path its dispatcher picks there (rows pi_bench has only where
    # this CPU can run the path).
    for path, isal16, isal64 in (("vpclmul-avx2", "isal-avx", "isal-sse"), ("pclmul", "isal-sse", "isal-sse")):
        for kern, isal in (("crc16", isal16), ("crc64", isal64)):
            for n in sorted({int(m.group(1)) for k in t
                             if (m := re.fullmatch(rf"{kern}/pifio-{re.escape(path)}/(\d+)", k))}):
                add(f"crc-{path}", f"{kern}/{n}", f"{kern}/{isal}/{n}", f"{kern}/pifio-{path}/{n}",
                    1.2 if n == 512 else 1.0, f"ISA-L {isal} time / pifio {path} time")
    # verify rows of the dispatched kernels (verify/pifio/...) and of the
    # other CPU paths (verify/pifio-<path>/..., that path forced for the row).
    for k in sorted(t):
        m = re.fullmatch(r"verify/(pifio(?:-[a-z][a-z0-9-]*)?)/(\d.*)/(\d+)", k)
        if m:
            impl, fmt, io = m.groups()
            kind = "verify" if impl == "pifio" else f"verify-{impl[6:]}"
            add(kind, f"{fmt}/{io}", f"crc/{impl}/{fmt}/{io}", k, 0.9, "raw per-block CRC time / verify time")
    for fmt, kern in (("512+8/t1", "crc16"), ("512+8/t1/ext", "crc16"), ("512+16/t1/g64", "crc64"),
                      ("512+16/t1/g64/ext", "crc64")):
        add("io128", f"{fmt}/131072", f"{kern}/pifio/131072", f"verify/pifio/{fmt}/131072", 0.8,
            "one-buffer CRC time / verify time")
    for path in ("vpclmul-avx2", "pclmul"):
        for fmt, kern in (("512+8/t1", "crc16"), ("512+16/t1/g64", "crc64")):
            if f"verify/pifio-{path}/{fmt}/131072" in t:
                add(f"io128-{path}", f"{fmt}/131072", f"{kern}/pifio-{path}/131072",
                    f"verify/pifio-{path}/{fmt}/131072", 0.8, f"one-buffer CRC time / verify time, {path} path")
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path, nargs="+", default=[ROOT / "results" / "bench" / "pi-core.json"],
                    help="one or more pi_bench JSONs of the same binary on the same CPU: their repetitions "
                         "are pooled (on a host whose speed swings, more runs make the fastest repetition of "
                         "every row a fairer figure)")
    ap.add_argument("--out", type=Path, default=None, help="write the verdicts as JSON here")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed or a row is missing")
    ap.add_argument("--stat", choices=("min", "median"), default="min",
                    help="judge on the fastest repetition (default) or their median")
    a = ap.parse_args(argv)
    doc = None
    for path in a.json:
        try:
            d = json.loads(path.read_text())
        except (OSError, ValueError) as ex:
            print(f"pi_targets: cannot read {path}: {ex}; run ./pifio bench first", file=sys.stderr)
            return 2
        if doc is None:
            doc = d
        else:
            doc["benchmarks"] = doc.get("benchmarks", []) + d.get("benchmarks", [])
    if len(a.json) > 1:
        print(f"pi_targets: repetitions of {len(a.json)} runs pooled", file=sys.stderr)
    rows = judge(doc, a.stat)
    ctx = doc.get("context", {})
    cpu = ctx.get("cpu_model") or "unknown CPU"
    crc = ctx.get("pifio_crc_dispatch", "")
    print(f"pi_targets: {cpu}; {crc}; load {ctx.get('load_avg', '?')}; judged on the {a.stat} of the repetitions")
    for r in rows:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3f}"
        med = f"(median {r['ratio_median']:.3f})" if r.get("ratio_median") is not None else ""
        print(f"  {r['verdict']:7s} {r['kind']:16s} {r['target']:28s} {ratio:>7s} {med:16s} (>= {r['bound']}: {r['what']})")
    n = {v: sum(r["verdict"] == v for r in rows) for v in ("PASS", "MISS", "missing")}
    print(f"pi_targets: {n['PASS']} met, {n['MISS']} missed, {n['missing']} missing rows")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps({"cpu": cpu, "crc": crc, "load_avg": ctx.get("load_avg"), "stat": a.stat,
                                     "targets": rows},
                                    indent=2) + "\n")
    return 1 if a.strict and (n["MISS"] or n["missing"]) else 0


if __name__ == "__main__":
    sys.exit(main())
