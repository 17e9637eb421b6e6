"""Plots (PNG + SVG) with matplotlib's Agg backend.

Every function writes <name>.png and <name>.svg into outdir and returns the
PNG path(s). Inputs are plain data so the dashboard and compare share them.
"""
from __future__ import annotations

import math
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import stats  # noqa: E402

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f"]


def safe_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("_")[:120] or "plot"


# The dashboard embeds PNGs only and turns this off while it writes (half the time).
WRITE_SVG = True
DPI = 100


def _save(fig, outdir, name, tight=True) -> str:
    os.makedirs(outdir, exist_ok=True)
    png = os.path.join(outdir, name + ".png")
    bbox = "tight" if tight else None
    fig.savefig(png, dpi=DPI, bbox_inches=bbox)
    if WRITE_SVG:
        fig.savefig(os.path.join(outdir, name + ".svg"), bbox_inches=bbox)
    plt.close(fig)
    return png


def _pct_x(p):
    """Percentile -> x such that 90, 99, 99.9 are evenly spaced on a log axis."""
    return 1.0 / (1.0 - np.asarray(p, dtype=float) / 100.0)


def latency_curves(scenario: str, curves: dict, labels: tuple, outdir: str, name=None) -> str:
    """curves: {ddir: [(pcts, values_ns) for A, (pcts, values_ns) for B]}."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    styles = {"read": "-", "write": "--", "trim": ":"}
    for dd, pair in curves.items():
        for i, (pcts, vals) in enumerate(pair):
            v = np.asarray(vals, dtype=float) / 1000.0
            ax.plot(_pct_x(pcts), v, styles.get(dd, "-"), marker="o", ms=3, color=COLORS[i],
                    label=f"{labels[i]} {dd}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [50, 90, 99, 99.9, 99.99, 99.999]
    ax.set_xticks(_pct_x(ticks))
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("percentile")
    ax.set_ylabel("completion latency (us)")
    ax.set_title(f"clat percentiles: {scenario}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, outdir, name or "lat-" + safe_name(scenario))


def latency_family(title: str, series: list, outdir: str, name: str) -> str:
    """Latency percentile curves on log axes. series: [(label, pcts, values_ns,
    color index, linestyle)], e.g. one colour per job, one style per engine."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for label, pcts, vals, ci, ls in series:
        v = np.asarray(vals, dtype=float) / 1000.0
        ax.plot(_pct_x(pcts), v, ls, marker="o", ms=2.5, color=COLORS[ci % len(COLORS)], label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [50, 90, 99, 99.9, 99.99, 99.999]
    ax.set_xticks(_pct_x(ticks))
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("percentile")
    ax.set_ylabel("completion latency (us)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, outdir, name)


def interval_bars(groups: dict, outdir: str, name="iops", ylabel="IOPS (harmonic mean)", title="IOPS") -> str:
    """groups: {scenario: {series label: (value, lo, hi)}} -> grouped bars with whiskers."""
    scen = list(groups)
    series = []
    for g in groups.values():
        for s in g:
            if s not in series:
                series.append(s)
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(scen) * max(1, len(series)) / 2 + 2), 4.5))
    width = 0.8 / max(1, len(series))
    x = np.arange(len(scen))
    for i, s in enumerate(series):
        vals, lo, hi = [], [], []
        for sc in scen:
            v = groups[sc].get(s)
            if v is None:
                vals.append(0)
                lo.append(0)
                hi.append(0)
                continue
            val, l, h = v
            vals.append(val)
            lo.append(0 if (l is None or math.isnan(l)) else max(0, val - l))
            hi.append(0 if (h is None or math.isnan(h)) else max(0, h - val))
        ax.bar(x + (i - (len(series) - 1) / 2) * width, vals, width, yerr=[lo, hi], capsize=3,
               color=COLORS[i % len(COLORS)], label=s)
    ax.set_xticks(x)
    ax.set_xticklabels(scen, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title + " (whiskers: 95% bootstrap interval)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, outdir, name)


def pi_cost(data: dict, outdir: str, name="pi-cost", metric="IOPS", modes=None) -> str:
    """data: {kernel: {mode: v}} -> grouped bars, one group per kernel, each
    bar annotated with its change against "no PI" (modes: the bars, in order)."""
    modes = list(modes or ["no PI", "kernel PI", "userspace PI"])
    kernels = list(data)
    fig, ax = plt.subplots(figsize=(max(6, 2 * len(kernels) + 2), 4.5))
    width = 0.8 / len(modes)
    x = np.arange(len(kernels))
    for i, m in enumerate(modes):
        vals = [data[k].get(m, 0) or 0 for k in kernels]
        bars = ax.bar(x + (i - (len(modes) - 1) / 2) * width, vals, width, color=COLORS[i % len(COLORS)], label=m)
        for k, b in zip(kernels, bars):
            base = data[k].get("no PI")
            v = data[k].get(m)
            if base and v and m != "no PI":
                ax.annotate(f"{(v / base - 1) * 100:+.0f}%", (b.get_x() + b.get_width() / 2, b.get_height()),
                            ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x)
    ax.set_xticklabels(kernels, rotation=15, ha="right", fontsize=8)
    ax.set_ylabel(metric)
    ax.set_title(f"cost of PI: {metric} by PI path")
    ax.grid(True, axis="y", alpha=0.3)
    # beside the axes: with five paths the bars fill the plot up to the top
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, outdir, name)


def trend(title: str, points: list, outdir: str, name: str, ylabel="", coords=False):
    """points: [(x label, value, lo, hi, flag, ...)] in time order; flag is '', 'regressed' or 'improved'.
    coords=True: returns (png, [(x px, y px)] of each point in the PNG) for an HTML image map."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    x = np.arange(len(points))
    vals = np.array([p[1] for p in points], dtype=float)
    lo = np.array([p[2] if p[2] is not None else np.nan for p in points], dtype=float)
    hi = np.array([p[3] if p[3] is not None else np.nan for p in points], dtype=float)
    ax.plot(x, vals, "-o", color=COLORS[0], ms=4, label=ylabel or "value")
    ok = ~np.isnan(lo) & ~np.isnan(hi)
    if ok.any():
        ax.fill_between(x[ok], lo[ok], hi[ok], color=COLORS[0], alpha=0.15, label="95% interval")
    for i, p in enumerate(points):
        if p[4] in (stats.REGRESSED, stats.IMPROVED):
            c = COLORS[1] if p[4] == stats.REGRESSED else COLORS[2]
            ax.axvline(i, color=c, ls="--", alpha=0.7)
            ax.plot([i], [vals[i]], "v" if p[4] == stats.REGRESSED else "^", color=c, ms=11, label=p[4])
    ax.set_xticks(x)
    ax.set_xticklabels([p[0] for p in points], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    h, lab = ax.get_legend_handles_labels()
    seen = {}
    for hh, ll in zip(h, lab):
        seen.setdefault(ll, hh)
    ax.legend(seen.values(), seen.keys(), fontsize=7)
    if not coords:
        return _save(fig, outdir, name)
    fig.tight_layout()
    fig.canvas.draw()
    h = fig.get_size_inches()[1] * DPI
    k = DPI / fig.dpi
    disp = ax.transData.transform(np.column_stack([x, np.nan_to_num(vals)]))
    pts = [(float(px * k), float(h - py * k)) for px, py in disp]
    return _save(fig, outdir, name, tight=False), pts


def iops_groups_from_rows(res: dict) -> dict:
    """Comparison rows -> {scenario: {A label: (hmean, lo, hi), B label: ...}} for IOPS rows."""
    groups = {}
    la, lb = res["a"].get("label", "A"), res["b"].get("label", "B")
    for r in res.get("rows", []):
        if not r["metric"].endswith(" IOPS") or r["verdict"] == stats.NOT_COMPARABLE:
            continue
        key = r["scenario"] + ("" if r["metric"] == "read IOPS" else f" ({r['metric'].split()[0]})")
        g = {}
        for lab, vals, mean in ((la, r["a_values"], r["a"]), (lb, r["b_values"], r["b"])):
            lo, hi = stats.bootstrap_mean_ci(vals, "harmonic")
            g[lab] = (mean, lo, hi)
        groups[key] = g
    return groups


def comparison_plots(res: dict, outdir: str, prefix="") -> list:
    """Latency percentile curves per scenario and the IOPS bars of one comparison."""
    out = []
    labels = (res["a"].get("label", "A"), res["b"].get("label", "B"))
    for sc, curves in sorted((res.get("curves") or {}).items()):
        out.append(latency_curves(sc, curves, labels, outdir, name=prefix + "lat-" + safe_name(sc)))
    g = iops_groups_from_rows(res)
    if g:
        out.append(interval_bars(g, outdir, name=prefix + "iops"))
    return out
