"""Static HTML dashboard: index, one page per run, one per comparison.

Self-contained: images are embedded as data: URIs, no scripts, no external
CSS, so the directory can be copied anywhere or attached to a CI job.
"""
from __future__ import annotations

import base64
import html
import json
import math
import os
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from . import compare as cmp
from . import plots, stats, verdict
from .meta import get_field, scenario_meta

CSS = """
body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:0.6em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#eee} td.l,th.l{text-align:left}
tr.regressed td{background:#fdd} tr.improved td{background:#dfd} tr.nc td{background:#eee;color:#666}
tr.bad td{background:#fdd}
.v-regressed{color:#b00;font-weight:bold} .v-improved{color:#070;font-weight:bold}
img{max-width:100%;border:1px solid #ddd;margin:4px}
.muted{color:#777;font-size:12px} h2{margin-top:1.4em}
.verdict{font-size:20px;font-weight:bold;padding:10px 14px;margin:0.4em 0 0.8em 0;border-radius:4px}
.verdict.pass{background:#dfd;color:#064;border:2px solid #6b6}
.verdict.fail{background:#fdd;color:#900;border:2px solid #d66}
.verdict.neutral{background:#eee;color:#444;border:2px solid #aaa}
ul.failures li{color:#900} ul.changes li{font-family:monospace}
pre.kmsg{background:#fff4e0;border-left:4px solid #e90;padding:4px 8px;font-size:12px;white-space:pre-wrap}
"""


def _e(s) -> str:
    return html.escape("" if s is None else str(s))


def data_uri(png_path: str) -> str:
    with open(png_path, "rb") as f:
        return "data:image/png;base64," + base64.b64encode(f.read()).decode()


def _img(png_path: str, alt: str, usemap: str = "") -> str:
    um = f' usemap="#{_e(usemap)}"' if usemap else ""
    return f'<img alt="{_e(alt)}" src="{data_uri(png_path)}"{um}>'


def verdict_banner(text: str, kind: str) -> str:
    """The first thing on every page: kind is pass, fail or neutral."""
    return f"<div class='verdict {kind}' id='verdict'>{_e(text)}</div>"


def _page(title: str, body: str, banner: str = "") -> str:
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{_e(title)}</title>"
            f"<style>{CSS}</style></head><body>\n{banner}\n<p class='muted'><a href='index.html'>pifio dashboard"
            f"</a> &middot; <a href='nightly.html'>nightly history</a></p>"
            f"<h1>{_e(title)}</h1>\n{body}\n<p class='muted'>generated {time.strftime('%Y-%m-%d %H:%M:%S')}"
            f"</p></body></html>\n")


def _num(v, unit=""):
    return cmp._num(v, unit)


def comparison_banner(res: dict) -> str:
    kind = "neutral" if res.get("refused") or res.get("exit") == cmp.EXIT_NOT_COMPARABLE else \
        "fail" if res.get("exit") == cmp.EXIT_REGRESSION else "pass"
    return verdict_banner(cmp.headline(res), kind)


def comparison_table(res: dict) -> str:
    """The robot's report: one line per change, then metric, A, B, change,
    significance, verdict, regressions on top."""
    if res.get("refused"):
        r = res["refused"]
        return f"<p class='v-regressed'>not comparable: {_e(r['field'])} differs: {_e(r['detail'])}</p>"
    a, b = res["a"], res["b"]
    out = []
    changes = cmp.change_lines(res, limit=50)
    if changes:
        out.append("<ul class='changes'>" + "".join(f"<li>{_e(c)}</li>" for c in changes) + "</ul>")
    out += [f"<p>A = <b>{_e(a.get('label'))}</b> ({len(a['runs'])} runs), B = <b>{_e(b.get('label'))}</b> "
            f"({len(b['runs'])} runs); a change counts when Mann-Whitney p &lt; {res['alpha']} and |change| &ge; "
            f"{res['threshold_pct']}%. Rates: harmonic mean; times: arithmetic mean; percentiles from summed "
            f"bins.</p>",
            "<table class='comparison' id='comparison'><tr><th class='l'>scenario</th><th class='l'>metric</th>"
            "<th>A</th><th>B</th><th>change</th><th class='l'>significance</th><th class='l'>verdict</th></tr>"]
    for r in cmp.rows_by_verdict(res["rows"]):
        cls = {stats.REGRESSED: "regressed", stats.IMPROVED: "improved", stats.NOT_COMPARABLE: "nc"}.get(
            r["verdict"], "")
        ch = "" if r["change_pct"] is None or math.isnan(r["change_pct"]) else (
            "inf" if math.isinf(r["change_pct"]) else f"{r['change_pct']:+.2f}%")
        ci = "" if r["ci_lo"] is None or math.isnan(r["ci_lo"]) else f"95% CI [{r['ci_lo']:+.1f}, {r['ci_hi']:+.1f}]%"
        if r["test"] == "count":
            sig = "count: any increase counts"
        elif r["test"] in ("",) or math.isnan(r["p_value"]):
            sig = ""
        else:
            sig = f"p={r['p_value']:.4f}, n={r['n_a']}/{r['n_b']}" + (f", {ci}" if ci else "")
        unit = f" ({r['unit']})" if r["unit"] and r["unit"] not in r["metric"] else ""
        note = f" <span class='muted'>{_e(r['note'])}</span>" if r["note"] else ""
        out.append(f"<tr class='{cls}'><td class='l'>{_e(r['scenario'])}</td><td class='l'>{_e(r['metric'])}"
                   f"{_e(unit)}</td><td>{_num(r['a'], r['unit'])}</td>"
                   f"<td>{_num(r['b'], r['unit'])}</td><td>{ch}</td><td class='l'>{_e(sig)}</td>"
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


def run_verdict(run: dict):
    """verdict.RunVerdict of a stored run read from its directory; None for plain runs."""
    src = run.get("source") or ""
    if run.get("kind") != "run" or not os.path.isfile(os.path.join(src, "meta.json")):
        return None
    return verdict.evaluate(src)


def _status_kind(v) -> str:
    return "pass" if v.ok else "fail" if v.failures() else "neutral"


def _rel(outdir: str, path: str) -> str:
    return os.path.relpath(path, outdir).replace(os.sep, "/")


def _lat_plot(key, group: dict, tmp: str, name: str):
    """One chart per group: a colour per job, a line style per engine, from the summed bins."""
    series = []
    styles = {"pifio": "-", "builtin": "--"}
    jobs = []
    for e in verdict.engines_of(group):
        for j in group[e].jobs:
            if j.name not in jobs:
                jobs.append(j.name)
    for e in verdict.engines_of(group):
        for j in group[e].jobs:
            for dd, bins in j.bins.items():
                if not bins:
                    continue
                pcts, vals = stats.percentile_curve(bins)
                series.append((f"{j.name} {dd} ({e})", pcts, vals, jobs.index(j.name), styles.get(e, ":")))
    if not series:
        return None
    return plots.latency_family(f"clat percentiles: {verdict.group_title(key)} (solid pifio, dashed built-in)",
                                series, tmp, name)


def _detail_table(group: dict, outdir: str, run_dir: str) -> str:
    head, rows = verdict.detail_rows({e: s for e, s in group.items() if not s.skipped})
    if not rows:
        return ""
    engs = verdict.engines_of({e: s for e, s in group.items() if not s.skipped})
    out = ["<table class='detail'><tr>" + "".join(
        f"<th class='{'l' if i in (0, 1, len(head) - 1) else ''}'>{_e(h)}</th>" for i, h in enumerate(head)) +
        "<th class='l'>raw JSON+</th></tr>"]
    seen = set()
    for r in rows:
        bad = r[-1] != "ok"
        links = ""
        if r[0] not in seen:
            seen.add(r[0])
            ls = []
            for e in engs:
                j = next((x for x in group[e].jobs if x.name == r[0]), None)
                for f in (j.files if j else []):
                    ls.append(f"<a href='{_e(_rel(outdir, os.path.join(run_dir, f)))}'>{_e(e)}"
                              f"{'' if len(j.files) == 1 else ' ' + _e(os.path.basename(f).split('.')[1])}</a>")
            links = " ".join(ls)
        out.append(f"<tr class='{'bad' if bad else ''}'>" + "".join(
            f"<td class='{'l' if i in (0, len(r) - 1) or (i == 1 and head[1] == 'dir') else ''}'>{_e(c)}</td>"
            for i, c in enumerate(r)) + f"<td class='l'>{links}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def _run_cost_plot(v, tmp: str, name: str):
    """Guest CPU per I/O by PI path, one group per cost job and engine (icount clock)."""
    data = {}
    for (kernel, stack, fmt, cost), group in v.groups():
        if not cost:
            continue
        for e, sc in group.items():
            for j in sc.jobs:
                if j.cpu_us:
                    data.setdefault(f"{j.name} {e}", {})[PI_COST_LABELS.get(cost, cost)] = j.cpu_us
    if not data:
        return None
    return plots.pi_cost(data, tmp, name=name, metric="guest CPU us per I/O",
                         modes=[m for m in PI_COST_LABELS.values() if any(m in d for d in data.values())])


def _kmsg_block(msgs) -> str:
    if not msgs:
        return ""
    lines = [f"[{verdict.fmt_num(m.ts, '.3f')}] {m.where}: {m.text}" for m in msgs]
    return "<pre class='kmsg'>" + _e("\n".join(lines)) + "</pre>"


def _run_page(store, run: dict, v, outdir: str, tmp: str, tag: str) -> str:
    m = run["meta"]
    body = []
    if v is None:
        rows = run_summary(store, run["run_key"])
        pi = sum(int(r["cells"][-1] or 0) for r in rows)
        banner = verdict_banner(f"{'FAIL' if pi else 'no verdict'}: plain fio output, {len(rows)} jobs, "
                                f"PI errors {pi} (no meta.json: no scenarios, skips or kernel messages)",
                                "fail" if pi else "neutral")
        body.append("<h2 id='details'>Details</h2><table class='run'><tr><th class='l'>scenario</th><th>n</th>" +
                    "".join(f"<th>{c}</th>" for c in RUN_COLS) + "</tr>")
        for r in rows:
            body.append(f"<tr><td class='l'>{_e(r['scenario'])}</td><td>{r['n']}</td>" +
                        "".join(f"<td>{c}</td>" for c in r["cells"]) + "</tr>")
        body.append("</table>")
    else:
        banner = verdict_banner(v.headline(), _status_kind(v))
        fails = v.failures()
        if fails:
            body.append(f"<h2 id='failed'>What failed ({len(fails)})</h2><ul class='failures'>" +
                        "".join(f"<li><b>{_e(w)}</b>: {_e(x)}</li>" for w, x in fails) + "</ul>")
        if v.skipped:
            body.append(f"<h2 id='skipped'>Skipped ({len(v.skipped)})</h2><ul class='skips'>" +
                        "".join(f"<li>{len(n)} &times; {_e(why)}: <span class='muted'>{_e(', '.join(n))}</span></li>"
                                for why, n in v.skip_reasons()) + "</ul>")
        body.append("<h2 id='details'>Details</h2><p class='muted'>grouped by kernel | stack | format; pifio beside "
                    "fio's built-in engine, ratio = pifio / built-in; latency from the JSON+ bins summed over "
                    "repetitions. PI cost scenarios run on the icount clock: only guest CPU per I/O is shown "
                    "(their IOPS and latencies depend on the host's load).</p>")
        for n, (key, group) in enumerate(v.groups()):
            live = {e: s for e, s in group.items() if not s.skipped}
            if not live:
                continue
            body.append(f"<h3>{_e(verdict.group_title(key))}</h3>")
            for e, s in live.items():
                if s.failed:
                    body.append(f"<p class='v-regressed'>{_e(s.name)}: {_e(s.failed)}</p>")
            body.append(_detail_table(group, outdir, v.run_dir))
            names = {s.name for s in live.values()}
            body.append(_kmsg_block([x for x in v.kernel_msgs if x.scenario in names]))
            if not any(s.icount for s in live.values()):
                p = _lat_plot(key, live, tmp, f"{tag}-lat-{n}")
                if p:
                    body.append(_img(p, f"latency {verdict.group_title(key)}"))
        p = _run_cost_plot(v, tmp, f"{tag}-cost")
        if p:
            body.append("<h2 id='pi-cost'>Cost of PI</h2><p class='muted'>guest CPU per 4 KiB I/O on the icount "
                        "clock (1 us = 1000 guest instructions), median of the repetitions; lower is better</p>" +
                        _img(p, "PI cost"))
        if v.kernel_msgs:
            body.append(f"<h2 id='kmsgs'>Guest kernel messages about integrity ({len(v.kernel_msgs)})</h2>" +
                        _kmsg_block(v.kernel_msgs))
        for g, info in v.guests:
            body.append(f"<p class='muted'>{_e(g)}: clock {_e(info.get('clock'))}, boot to /init "
                        f"{_e(info.get('boot_s'))} s, wall {_e(info.get('wall_s'))} s, rc {_e(info.get('rc'))}"
                        f"{' TIMED OUT' if info.get('timed_out') else ''} &middot; "
                        f"<a href='{_e(_rel(outdir, os.path.join(v.run_dir, g)))}'>{_e(g)}/</a></p>")
    body.append("<h2>Run</h2><table><tr><th class='l'>field</th><th class='l'>value</th></tr>")
    for f in ("kernel.release", "kernel.series", "kernel.cmdline", "fio.version", "engine.version",
              "engine.git", "host.hostname", "host.cpu", "host.accel", "started", "command"):
        body.append(f"<tr><td class='l'>{f}</td><td class='l'>{_e(get_field(m, f))}</td></tr>")
    body.append(f"<tr><td class='l'>source</td><td class='l'>{_e(run['source'])}</td></tr></table>")
    if v is None:
        sk = store.skips([run["run_key"]])
        if sk:
            body.append("<h2>Skipped</h2><ul>" + "".join(f"<li>{_e(s)}: {_e(w)}</li>" for _, s, w in sk) + "</ul>")
    return _page(f"run {run['run_key']}", "\n".join(body), banner)


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
    """{(scenario, metric): [(night, value, lo, hi, flag, run keys)]} over nights (runs without a night are
    left out)."""
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
                series[(f"{sc} [{label}]" if label else sc, name)].append(
                    (night, v, lo, hi, flag, sorted({x["run_key"] for x in ss})))
    return series


def write_dashboard(store, outdir: str, extra_comparisons=(), max_trends=40) -> str:
    os.makedirs(outdir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="pifio-plots-")
    svg = plots.WRITE_SVG
    plots.WRITE_SVG = False
    try:
        return _write(store, outdir, tmp, extra_comparisons, max_trends)
    finally:
        plots.WRITE_SVG = svg
        shutil.rmtree(tmp, ignore_errors=True)


def night_label(res: dict) -> str:
    """The configuration label trend_series uses (compare.side_label) of a nightly comparison."""
    cfg = (res.get("nightly") or {}).get("config") or []
    rel, ser = (list(cfg) + [None, None])[:2]
    if rel:
        return f"{rel}+{ser}" if ser else str(rel)
    return res["b"].get("label", "")


def _latest_night_table(comps, cmp_pages) -> tuple[str, str, str]:
    """(html, banner text, kind) of the newest night's nightly comparisons, or ('', '', '')."""
    nightly = [(i, name, res) for i, (name, res) in enumerate(comps) if (res.get("nightly") or {}).get("night")]
    if not nightly:
        return "", "", ""
    last = max(res["nightly"]["night"] for _, _, res in nightly)
    tonight = [(i, name, res) for i, name, res in nightly if res["nightly"]["night"] == last]
    # the newest comparison per configuration (a night re-run replaces the earlier one)
    by_cfg = {}
    for i, name, res in tonight:
        by_cfg[json.dumps(res["nightly"].get("config"))] = (i, name, res)
    out = [f"<h2 id='latest-night'>Latest night ({_e(last)}) vs previous</h2>",
           "<table class='latest-night'><tr><th class='l'>configuration</th><th class='l'>scenario</th>"
           "<th class='l'>metric</th><th>previous</th><th>latest</th><th>change</th><th class='l'>verdict</th></tr>"]
    n_reg = n_imp = 0
    limit = 12
    for i, name, res in by_cfg.values():
        prev = ", ".join(res["nightly"].get("baseline_nights") or [])
        link = (f"<a href='{cmp_pages[i]}'>{_e(night_label(res) or name)}</a>"
                f"<br><span class='muted'>vs {_e(prev)}</span>")
        if res.get("refused"):
            out.append(f"<tr class='nc'><td class='l'>{link}</td><td class='l' colspan='6'>not comparable: "
                       f"{_e(res['refused']['field'])}: {_e(res['refused']['detail'])}</td></tr>")
            continue
        changed = [r for r in cmp.rows_by_verdict(res["rows"]) if r["verdict"] in (stats.REGRESSED, stats.IMPROVED)]
        n_reg += sum(1 for r in changed if r["verdict"] == stats.REGRESSED)
        n_imp += sum(1 for r in changed if r["verdict"] == stats.IMPROVED)
        for k, r in enumerate(changed[:limit]):
            cls = "regressed" if r["verdict"] == stats.REGRESSED else "improved"
            first = (f"<td class='l' rowspan='{min(len(changed), limit) + 1}'>{link}</td>" if k == 0 else "")
            out.append(f"<tr class='{cls}'>{first}<td class='l'>{_e(r['scenario'])}</td>"
                       f"<td class='l'>{_e(r['metric'])}</td><td>{_num(r['a'], r['unit'])}</td>"
                       f"<td>{_num(r['b'], r['unit'])}</td><td>{r['change_pct']:+.2f}%</td>"
                       f"<td class='l'><span class='v-{cls}'>{_e(r['verdict'])}</span></td></tr>")
        s = res.get("summary") or {}
        more = f"{len(changed) - limit} more changes on the comparison page; " if len(changed) > limit else ""
        out.append(f"<tr>{'' if changed else '<td class=l>' + link + '</td>'}<td class='l' colspan='6'>{more}"
                   f"{s.get(stats.NOISE, 0)} rows within noise, {s.get(stats.NOT_COMPARABLE, 0)} not comparable"
                   f"</td></tr>")
    out.append("</table>")
    text = (f"night {last}: " + ("REGRESSION: " if n_reg else "no regression: ") +
            f"{n_reg} regressed, {n_imp} improved against the previous nights ({len(by_cfg)} configuration(s))")
    return "\n".join(out), text, "fail" if n_reg else "pass"


def _nightly_page(store, runs, flags, run_pages, tmp, max_trends, changes_html, banner) -> str:
    series = trend_series(store, runs, flags)
    body = [changes_html or "<p>No nightly comparisons yet: run <code>./pifio nightly</code> on two nights.</p>"]
    if series:
        body.append("<h2 id='trends'>Trends</h2><p class='muted'>one line per scenario &times; metric, a point per "
                    "night (its runs pooled); dashed lines and triangles mark the nights a comparison flagged; "
                    "click a point for its run</p>")
    order = sorted(series.items(), key=lambda kv: (not any(p[4] for p in kv[1]), kv[0]))
    shown = 0
    for n, ((sc, metric), pts) in enumerate(order):
        if len(pts) < 2:
            continue
        if shown >= max_trends:
            body.append(f"<p class='muted'>{len(series) - shown} more trend plots left out</p>")
            break
        shown += 1
        png, xy = plots.trend(f"{sc}: {metric}", pts, tmp, f"trend-{n}", ylabel=metric, coords=True)
        areas = []
        for (x, y), p in zip(xy, pts):
            page = next((run_pages[k] for k in p[5] if k in run_pages), None) if len(p) > 5 else None
            if page and math.isfinite(x) and math.isfinite(y):
                areas.append(f"<area shape='circle' coords='{x:.0f},{y:.0f},9' href='{page}' "
                             f"alt='{_e(p[0])}' title='{_e(p[0])}: {_e(_num(p[1]))}'>")
        body.append(f"<map name='m-trend-{n}'>{''.join(areas)}</map>" +
                    _img(png, f"trend {sc} {metric}", usemap=f"m-trend-{n}"))
    return _page("pifio nightly history", "\n".join(body), banner)


def _write(store, outdir, tmp, extra_comparisons, max_trends) -> str:
    runs = store.runs()
    run_pages, verdicts = {}, {}
    for i, r in enumerate(runs):
        run_pages[r["run_key"]] = f"run-{i:04d}-{plots.safe_name(r['run_key'])[:60]}.html"
    idx = ["<h2 id='runs'>Runs</h2><table class='runs'><tr><th class='l'>verdict</th><th class='l'>run</th>"
           "<th class='l'>started</th><th class='l'>kernel</th><th class='l'>series</th><th class='l'>fio</th>"
           "<th class='l'>engine</th><th class='l'>night</th></tr>"]
    for i, r in enumerate(runs):
        page = run_pages[r["run_key"]]
        v = run_verdict(r)
        verdicts[r["run_key"]] = v
        with open(os.path.join(outdir, page), "w", encoding="utf-8") as f:
            f.write(_run_page(store, r, v, outdir, tmp, f"r{i}"))
    idx_fail = []
    for r in sorted(runs, key=lambda r: (r["started"] or "", r["run_key"]), reverse=True):
        page, v, m = run_pages[r["run_key"]], verdicts[r["run_key"]], r["meta"]
        if v is None:
            status = "<span class='muted'>no verdict (plain fio output)</span>"
        else:
            h = v.headline()
            word, _, rest = h.partition(": ")
            status = (f"<span class='{'v-improved' if v.ok else 'v-regressed'}'>{_e(word)}</span> "
                      f"<span class='muted'>{_e(rest)}</span>")
        cls = "" if v is None or v.ok else "bad"
        idx.append(f"<tr class='{cls}'><td class='l'>{status}</td><td class='l'><a href='{page}'>"
                   f"{_e(r['run_key'])}</a></td><td class='l'>"
                   f"{_e(r['started'])}</td><td class='l'>{_e(get_field(m, 'kernel.release'))}</td>"
                   f"<td class='l'>{_e(get_field(m, 'kernel.series'))}</td><td class='l'>"
                   f"{_e(get_field(m, 'fio.version'))}</td><td class='l'>{_e(get_field(m, 'engine.version'))}"
                   f"</td><td class='l'>{_e(r['night'])}</td></tr>")
    idx.append("</table>")

    comps = [(c["name"], c["result"]) for c in store.comparisons()] + list(extra_comparisons)
    cmp_pages = [f"cmp-{i:04d}.html" for i in range(len(comps))]
    flags = {}
    cmp_idx = []
    if comps:
        cmp_idx.append("<h2 id='comparisons'>Comparisons</h2><table class='comparisons'><tr><th class='l'>"
                       "comparison</th><th class='l'>A</th><th class='l'>B</th><th>regressed</th><th>improved</th>"
                       "<th>within noise</th><th>not comparable</th></tr>")
    for i, (name, res) in enumerate(comps):
        page = cmp_pages[i]
        imgs = []
        if not res.get("refused"):
            for p in plots.comparison_plots(res, tmp, prefix=f"c{i}-"):
                imgs.append(_img(p, os.path.basename(p)))
        body = (comparison_table(res) + "<h2 id='curves'>A vs B: latency percentile curves and IOPS</h2>" +
                "\n".join(imgs))
        with open(os.path.join(outdir, page), "w", encoding="utf-8") as f:
            f.write(_page(f"comparison: {name}", body, comparison_banner(res)))
        s = res.get("summary") or {}
        cmp_idx.append(f"<tr class='{'regressed' if s.get(stats.REGRESSED) else ''}'><td class='l'>"
                       f"<a href='{page}'>{_e(name)}</a></td><td class='l'>"
                       f"{_e(res['a'].get('label', res['a']['spec']))}</td><td class='l'>"
                       f"{_e(res['b'].get('label', res['b']['spec']))}</td>"
                       f"<td>{s.get(stats.REGRESSED, 0)}</td><td>{s.get(stats.IMPROVED, 0)}</td>"
                       f"<td>{s.get(stats.NOISE, 0)}</td>"
                       f"<td>{'refused' if res.get('refused') else s.get(stats.NOT_COMPARABLE, 0)}</td></tr>")
        night = (res.get("nightly") or {}).get("night")
        if night and not res.get("refused"):
            label = night_label(res)
            for r in res["rows"]:
                if r["verdict"] in (stats.REGRESSED, stats.IMPROVED):
                    flags[(night, label, r["scenario"], r["metric"])] = r["verdict"]
    if comps:
        cmp_idx.append("</table>")
        last_name, last_res = comps[-1]
    if comps and not (last_res.get("nightly") or {}).get("night"):     # a nightly one is in the night table
        cmp_idx.append(f"<h2>Latest comparison: <a href='{cmp_pages[-1]}'>{_e(last_name)}</a></h2>" +
                       f"<p><b>{_e(cmp.headline(last_res))}</b></p>" + comparison_table(last_res))

    night_html, night_text, night_kind = _latest_night_table(comps, cmp_pages)
    # banner: the newest run's verdict, then the latest night's
    dated = [r for r in runs if verdicts.get(r["run_key"])]
    banners = []
    if dated:
        newest = max(dated, key=lambda r: (r["started"] or "", r["run_key"]))
        v = verdicts[newest["run_key"]]
        npass = sum(1 for x in verdicts.values() if x and x.ok)
        banners.append(verdict_banner(f"latest run {newest['run_key']}: {v.headline()}  "
                                      f"[{npass} of {len(dated)} runs PASS]", _status_kind(v)))
        fails = v.failures()
        if fails:
            idx_fail.append(f"<h2 id='failed'>What failed in <a href='{run_pages[newest['run_key']]}'>"
                            f"{_e(newest['run_key'])}</a> ({len(fails)})</h2><ul class='failures'>" +
                            "".join(f"<li><b>{_e(w)}</b>: {_e(x)}</li>" for w, x in fails[:10]) +
                            (f"<li>… {len(fails) - 10} more on the run page</li>" if len(fails) > 10 else "") +
                            "</ul>")
    elif runs:
        banners.append(verdict_banner(f"{len(runs)} runs of plain fio output (no run metadata, no verdict)",
                                      "neutral"))
    else:
        banners.append(verdict_banner("no runs yet: ./pifio run, then ./pifio report", "neutral"))
    if night_text:
        banners.append(verdict_banner(night_text, night_kind).replace("id='verdict'", "id='night-verdict'"))
    with open(os.path.join(outdir, "nightly.html"), "w", encoding="utf-8") as f:
        f.write(_nightly_page(store, runs, flags, run_pages, tmp, max_trends, night_html,
                              banners[-1] if night_text else verdict_banner("no nightly comparisons yet",
                                                                            "neutral")))
    body = idx_fail + [night_html] + idx + cmp_idx
    cpu = pi_cost_cpu(runs)
    pc = pi_cost_data(store, runs)
    if cpu:
        body.append("<h2>Cost of PI</h2><p class='muted'>guest CPU per 4 KiB I/O (icount: 1 us = 1000 guest "
                    "instructions), pifio engine, median over the PI cost jobs of each run; lower is better</p>" +
                    _img(plots.pi_cost(cpu, tmp, metric="guest CPU us per I/O",
                                       modes=list(PI_COST_LABELS.values())), "PI cost"))
    elif pc:
        body.append("<h2>Cost of PI</h2>" + _img(plots.pi_cost(pc, tmp), "PI cost"))
    if any(r["night"] for r in runs):
        body.append("<h2>Nightly trends</h2><p><a href='nightly.html'>trend lines per scenario &times; metric, "
                    "changes marked</a></p>")
    index = os.path.join(outdir, "index.html")
    with open(index, "w", encoding="utf-8") as f:
        f.write(_page("pifio dashboard", "\n".join(body), "\n".join(banners)))
    return index
