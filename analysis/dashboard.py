"""Static HTML dashboard: index, one page per run, one per comparison.

Self-contained: images are embedded as data: URIs, no scripts, no external
CSS, so the directory can be copied anywhere or attached to a CI job.
"""
from __future__ import annotations

import base64
import html
import math
import os
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from . import compare as cmp
from . import plots, stats
from .meta import get_field, scenario_meta

CSS = """
body{font-family:sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:0.6em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#eee} td.l,th.l{text-align:left}
tr.regressed td{background:#fdd} tr.improved td{background:#dfd} tr.nc td{background:#eee;color:#666}
.v-regressed{color:#b00;font-weight:bold} .v-improved{color:#070;font-weight:bold}
img{max-width:100%;border:1px solid #ddd;margin:4px}
.muted{color:#777;font-size:12px} h2{margin-top:1.4em}
"""


def _e(s) -> str:
    return html.escape("" if s is None else str(s))


def data_uri(png_path: str) -> str:
    with open(png_path, "rb") as f:
        return "data:image/png;base64," + base64.b64encode(f.read()).decode()


def _img(png_path: str, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="{data_uri(png_path)}">'


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{_e(title)}</title>"
            f"<style>{CSS}</style></head><body>\n<p class='muted'><a href='index.html'>pifio dashboard</a></p>"
            f"<h1>{_e(title)}</h1>\n{body}\n<p class='muted'>generated {time.strftime('%Y-%m-%d %H:%M:%S')}"
            f"</p></body></html>\n")


def _num(v, unit=""):
    return cmp._num(v, unit)


def comparison_table(res: dict) -> str:
    if res.get("refused"):
        r = res["refused"]
        return f"<p class='v-regressed'>not comparable: {_e(r['field'])} differs: {_e(r['detail'])}</p>"
    a, b = res["a"], res["b"]
    out = [f"<p>A = <b>{_e(a.get('label'))}</b> ({len(a['runs'])} runs), B = <b>{_e(b.get('label'))}</b> "
           f"({len(b['runs'])} runs); change counts when Mann-Whitney p &lt; {res['alpha']} and |change| &ge; "
           f"{res['threshold_pct']}%. Rates: harmonic mean; times: arithmetic mean; percentiles from summed "
           f"bins.</p>",
           "<table class='comparison' id='comparison'><tr><th class='l'>scenario</th><th class='l'>metric</th>"
           "<th>n A/B</th><th>A</th><th>B</th><th>change</th><th>95% CI</th><th>p</th><th class='l'>verdict</th></tr>"]
    for r in res["rows"]:
        cls = {stats.REGRESSED: "regressed", stats.IMPROVED: "improved", stats.NOT_COMPARABLE: "nc"}.get(
            r["verdict"], "")
        ch = "" if r["change_pct"] is None or math.isnan(r["change_pct"]) else f"{r['change_pct']:+.2f}%"
        ci = "" if r["ci_lo"] is None or math.isnan(r["ci_lo"]) else f"[{r['ci_lo']:+.1f}, {r['ci_hi']:+.1f}]%"
        p = "" if r["test"] in ("count", "") or math.isnan(r["p_value"]) else f"{r['p_value']:.4f}"
        unit = f" ({r['unit']})" if r["unit"] and r["unit"] not in r["metric"] else ""
        note = f" <span class='muted'>{_e(r['note'])}</span>" if r["note"] else ""
        out.append(f"<tr class='{cls}'><td class='l'>{_e(r['scenario'])}</td><td class='l'>{_e(r['metric'])}"
                   f"{_e(unit)}</td><td>{r['n_a']}/{r['n_b']}</td><td>{_num(r['a'], r['unit'])}</td>"
                   f"<td>{_num(r['b'], r['unit'])}</td><td>{ch}</td><td>{ci}</td><td>{p}</td>"
                   f"<td class='l'><span class='v-{cls}'>{_e(r['verdict'])}</span>{note}</td></tr>")
    out.append("</table>")
    for s in res.get("skips", []):
        out.append(f"<p class='muted'>skipped on {s['side']} ({_e(s['run'])}): {_e(s['scenario'])}: "
                   f"{_e(s['reason'])}</p>")
    return "\n".join(out)


def run_summary(store, run_key: str) -> list[dict]:
    """Per scenario of one run: IOPS/BW per direction, p50/p99 from summed bins, CPU/IO, PI errors."""
    run = store.runs({run_key})[0]
    groups = cmp.group_samples(store.samples([run_key]), {run_key: run})
    out = []
    for key, ss in sorted(groups.items()):
        mv = cmp.metric_values(ss)
        row = {"scenario": key, "n": len(ss), "cells": []}
        for name in ("read IOPS", "write IOPS", "read clat p50", "read clat p99", "write clat p50",
                     "write clat p99", "CPU per I/O", "PI errors"):
            m = mv.get(name)
            if not m:
                row["cells"].append("")
            elif m.get("kind") == "count":
                row["cells"].append(str(int(sum(m["values"]))))
            elif m.get("headline") is not None:
                row["cells"].append(_num(m["headline"], m["unit"]))
            else:
                row["cells"].append(_num(stats.MEANS[m["mean"]](m["values"]), m["unit"]))
        out.append(row)
    return out


RUN_COLS = ("read IOPS", "write IOPS", "read p50 us", "read p99 us", "write p50 us", "write p99 us",
            "CPU ns/IO", "PI errors")


def _run_page(store, run: dict) -> str:
    m = run["meta"]
    rows = run_summary(store, run["run_key"])
    body = ["<table><tr><th class='l'>field</th><th class='l'>value</th></tr>"]
    for f in ("kernel.release", "kernel.series", "kernel.cmdline", "fio.version", "engine.version",
              "engine.git", "host.hostname", "host.accel", "started"):
        body.append(f"<tr><td class='l'>{f}</td><td class='l'>{_e(get_field(m, f))}</td></tr>")
    body.append(f"<tr><td class='l'>source</td><td class='l'>{_e(run['source'])}</td></tr></table>")
    body.append("<h2>Scenarios</h2><table class='run'><tr><th class='l'>scenario</th><th>n</th>" +
                "".join(f"<th>{c}</th>" for c in RUN_COLS) + "</tr>")
    for r in rows:
        body.append(f"<tr><td class='l'>{_e(r['scenario'])}</td><td>{r['n']}</td>" +
                    "".join(f"<td>{c}</td>" for c in r["cells"]) + "</tr>")
    body.append("</table>")
    sk = store.skips([run["run_key"]])
    if sk:
        body.append("<h2>Skipped</h2><ul>" + "".join(f"<li>{_e(s)}: {_e(w)}</li>" for _, s, w in sk) + "</ul>")
    return _page(f"run {run['run_key']}", "\n".join(body))


PI_COST_LABELS = {"nopi": "no PI", "kernel": "kernel PI", "uring-pi": "uring PI attrs",
                  "passthrough": "passthrough PI", "pract": "PRACT"}


def pi_cost_cpu(runs) -> dict:
    """{kernel label: {PI path label: median guest CPU us per I/O}} from the PI
    cost scenarios of `./pifio run` (meta pi_path, <scenario>/cpu.json written
    by lab/targets/lab.py; pifio engine, reads and writes, QD1 and QD32 together)."""
    import json
    import statistics
    acc = defaultdict(lambda: defaultdict(list))
    for run in runs:
        if run["kind"] != "run":
            continue
        label = cmp.side_label([run], run["run_key"])
        for sc, sm in (run["meta"].get("scenarios") or {}).items():
            path = sm.get("pi_path")
            if path not in PI_COST_LABELS or sm.get("engine") != "pifio" or sm.get("skipped"):
                continue
            try:
                reps = json.loads((Path(run["source"]) / sc / "cpu.json").read_text()).get("reps", [])
            except (OSError, ValueError):
                continue
            acc[label][PI_COST_LABELS[path]] += [r["ns_per_io"] / 1000 for r in reps if r.get("ns_per_io")]
    return {k: {m: statistics.median(v) for m, v in d.items() if v} for k, d in acc.items()}


def pi_cost_data(store, runs) -> dict:
    """{kernel label: {"no PI"|"kernel PI"|"userspace PI": harmonic-mean read+write IOPS}} from scenario pi_mode."""
    names = {"none": "no PI", "off": "no PI", "kernel": "kernel PI", "user": "userspace PI",
             "userspace": "userspace PI"}
    acc = defaultdict(lambda: defaultdict(list))
    for run in runs:
        if run["kind"] != "run":
            continue
        label = cmp.side_label([run], run["run_key"])
        for s in store.samples([run["run_key"]], include_aggregate=False):
            mode = names.get(str(scenario_meta(run["meta"], s["scenario"]).get("pi_mode", "")).lower())
            if mode:
                acc[label][mode] += [d["iops"] for d in s["dirs"].values()]
    return {k: {m: stats.harmonic_mean(v) for m, v in d.items()} for k, d in acc.items()}


def trend_series(store, runs, flags: dict) -> dict:
    """{(scenario, metric): [(night, value, lo, hi, flag)]} over nights (runs without a night are left out)."""
    nights = defaultdict(list)
    for r in runs:
        if r["night"]:
            key = (r["night"], cmp.side_label([r], ""))
            nights[key].append(r)
    series = defaultdict(list)
    for (night, label), rs in sorted(nights.items()):
        by = {r["run_key"]: r for r in rs}
        groups = cmp.group_samples(store.samples(list(by), include_aggregate=False), by)
        for sc, ss in groups.items():
            mv = cmp.metric_values(ss)
            for name in ("read IOPS", "write IOPS", "read clat p99", "write clat p99"):
                m = mv.get(name)
                if not m:
                    continue
                if m.get("headline") is not None:
                    v, lo, hi = m["headline"], None, None
                else:
                    v = stats.MEANS[m["mean"]](m["values"])
                    lo, hi = stats.bootstrap_mean_ci(m["values"], m["mean"])
                flag = flags.get((night, label, sc, name), "")
                series[(f"{sc} [{label}]" if label else sc, name)].append((night, v, lo, hi, flag))
    return series


def write_dashboard(store, outdir: str, extra_comparisons=(), max_trends=40) -> str:
    os.makedirs(outdir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="pifio-plots-")
    try:
        return _write(store, outdir, tmp, extra_comparisons, max_trends)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write(store, outdir, tmp, extra_comparisons, max_trends) -> str:
    runs = store.runs()
    idx = ["<h2>Runs</h2><table class='runs'><tr><th class='l'>run</th><th class='l'>started</th>"
           "<th class='l'>kernel</th><th class='l'>series</th><th class='l'>fio</th><th class='l'>engine</th>"
           "<th class='l'>night</th></tr>"]
    for i, r in enumerate(runs):
        page = f"run-{i:04d}-{plots.safe_name(r['run_key'])[:60]}.html"
        with open(os.path.join(outdir, page), "w", encoding="utf-8") as f:
            f.write(_run_page(store, r))
        m = r["meta"]
        idx.append(f"<tr><td class='l'><a href='{page}'>{_e(r['run_key'])}</a></td><td class='l'>"
                   f"{_e(r['started'])}</td><td class='l'>{_e(get_field(m, 'kernel.release'))}</td>"
                   f"<td class='l'>{_e(get_field(m, 'kernel.series'))}</td><td class='l'>"
                   f"{_e(get_field(m, 'fio.version'))}</td><td class='l'>{_e(get_field(m, 'engine.version'))}"
                   f"</td><td class='l'>{_e(r['night'])}</td></tr>")
    idx.append("</table>")

    comps = [(c["name"], c["result"]) for c in store.comparisons()] + list(extra_comparisons)
    flags = {}
    if comps:
        idx.append("<h2>Comparisons</h2><table class='comparisons'><tr><th class='l'>comparison</th>"
                   "<th class='l'>A</th><th class='l'>B</th><th>regressed</th><th>improved</th>"
                   "<th>within noise</th><th>not comparable</th></tr>")
    for i, (name, res) in enumerate(comps):
        page = f"cmp-{i:04d}.html"
        imgs = []
        if not res.get("refused"):
            for p in plots.comparison_plots(res, tmp, prefix=f"c{i}-"):
                imgs.append(_img(p, os.path.basename(p)))
        body = comparison_table(res) + "<h2>Plots</h2>" + "\n".join(imgs)
        with open(os.path.join(outdir, page), "w", encoding="utf-8") as f:
            f.write(_page(f"comparison: {name}", body))
        s = res.get("summary") or {}
        idx.append(f"<tr class='{'regressed' if s.get(stats.REGRESSED) else ''}'><td class='l'>"
                   f"<a href='{page}'>{_e(name)}</a></td><td class='l'>{_e(res['a'].get('label', res['a']['spec']))}"
                   f"</td><td class='l'>{_e(res['b'].get('label', res['b']['spec']))}</td>"
                   f"<td>{s.get(stats.REGRESSED, 0)}</td><td>{s.get(stats.IMPROVED, 0)}</td>"
                   f"<td>{s.get(stats.NOISE, 0)}</td>"
                   f"<td>{'refused' if res.get('refused') else s.get(stats.NOT_COMPARABLE, 0)}</td></tr>")
        night = (res.get("nightly") or {}).get("night")
        if night and not res.get("refused"):
            label = res["b"].get("label", "")
            for r in res["rows"]:
                if r["verdict"] in (stats.REGRESSED, stats.IMPROVED):
                    flags[(night, label, r["scenario"], r["metric"])] = r["verdict"]
    if comps:
        idx.append("</table>")
        # the newest comparison inline, so the index shows the table at once
        idx.append(f"<h2>Latest comparison: {_e(comps[-1][0])}</h2>" + comparison_table(comps[-1][1]))

    cpu = pi_cost_cpu(runs)
    pc = pi_cost_data(store, runs)
    if cpu:
        idx.append("<h2>Cost of PI</h2><p class='muted'>guest CPU per 4 KiB I/O (icount: 1 us = 1000 guest "
                   "instructions), pifio engine, median over the PI cost jobs of each run; lower is better</p>" +
                   _img(plots.pi_cost(cpu, tmp, metric="guest CPU us per I/O",
                                      modes=list(PI_COST_LABELS.values())), "PI cost"))
    elif pc:
        idx.append("<h2>Cost of PI</h2>" + _img(plots.pi_cost(pc, tmp), "PI cost"))
    series = trend_series(store, runs, flags)
    if series:
        idx.append("<h2>Nightly trends</h2>")
        for n, ((sc, metric), pts) in enumerate(sorted(series.items())):
            if n >= max_trends:
                idx.append(f"<p class='muted'>{len(series) - max_trends} more trend plots left out</p>")
                break
            if len(pts) < 2:
                continue
            p = plots.trend(f"{sc}: {metric}", pts, tmp, f"trend-{n}", ylabel=metric)
            idx.append(_img(p, f"trend {sc} {metric}"))
    index = os.path.join(outdir, "index.html")
    with open(index, "w", encoding="utf-8") as f:
        f.write(_page("pifio dashboard", "\n".join(idx)))
    return index
