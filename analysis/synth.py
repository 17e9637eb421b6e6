"""Synthetic results directories for tests and benchmarks.

Built from a genuine fio JSON+ output (a template) by scaling its rates and
latencies, so every file has the real shape; the statistics are known because
the scale factors are drawn from a seeded distribution.
"""
from __future__ import annotations

import copy
import json
import os

import numpy as np

from .fiojson import find_fio_json, read_text

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(os.path.dirname(HERE), "tests", "analysis", "fixtures", "small.jsonplus.json.gz")


def load_template(path: str = TEMPLATE) -> dict:
    obj, _ = find_fio_json(read_text(path), path)
    return obj


def scaled(template: dict, rate_factor: float, cpu_factor: float = 1.0) -> dict:
    """Rates x rate_factor, latencies / rate_factor (bins keys scaled too)."""
    o = copy.deepcopy(template)
    for j in o.get("jobs", []):
        for dd in ("read", "write", "trim"):
            d = j.get(dd)
            if not d or not d.get("total_ios"):
                continue
            for k in ("iops", "iops_mean", "bw", "bw_bytes", "bw_mean"):
                if k in d:
                    d[k] = d[k] * rate_factor
            d["total_ios"] = int(d["total_ios"] * rate_factor)
            d["io_bytes"] = int(d["io_bytes"] * rate_factor)
            for lk in ("clat_ns", "lat_ns", "slat_ns"):
                c = d.get(lk) or {}
                for k in ("mean", "stddev"):
                    if k in c:
                        c[k] = c[k] / rate_factor
                if "percentile" in c:
                    c["percentile"] = {p: int(v / rate_factor) for p, v in c["percentile"].items()}
                if "bins" in c:
                    nb = {}
                    for v, n in c["bins"].items():
                        key = str(max(1, int(int(v) / rate_factor)))
                        nb[key] = nb.get(key, 0) + n
                    c["bins"] = nb
        j["usr_cpu"] = j.get("usr_cpu", 0) * cpu_factor
        j["sys_cpu"] = j.get("sys_cpu", 0) * cpu_factor
    return o


def meta(run_id: str, release="6.12.38+deb13-cloud-amd64", series="", fio_version="fio-3.41", **extra) -> dict:
    m = {"schema": "pifio-run/1", "run_id": run_id, "started": extra.pop("started", None),
         "host": {"hostname": "labhost", "cpu": "x86-64", "accel": "tcg", "qemu": "7.2"},
         "kernel": {"release": release, "series": series, "cmdline": "console=ttyS0 edd=off"},
         "fio": {"version": fio_version}, "engine": {"version": "0.1.0"},
         "scenarios": {}}
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(m.get(k), dict):
            m[k].update(v)
        else:
            m[k] = v
    return m


def write_run(results: str, run_id: str, outputs: dict, meta_obj: dict, pi: dict | None = None) -> str:
    """outputs: {scenario: fio JSON object}; pi: {scenario: report dict}. Returns the run dir."""
    rd = os.path.join(results, run_id)
    os.makedirs(rd, exist_ok=True)
    with open(os.path.join(rd, "meta.json"), "w") as f:
        json.dump(meta_obj, f, indent=1)
    for sc, obj in outputs.items():
        d = os.path.join(rd, sc)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "fio.json"), "w") as f:
            json.dump(obj, f)
        if pi and sc in pi:
            with open(os.path.join(d, "fio.pi.json"), "w") as f:
                json.dump(pi[sc], f)
    return rd


def make_set(results: str, prefix: str, n_runs: int, scenarios: list, rate_mean=1.0, cov=0.02, seed=0,
             template=None, day=1, **meta_kw) -> list:
    """n_runs run dirs, each with every scenario; rate factor ~ N(rate_mean, cov*rate_mean)."""
    tpl = template or load_template()
    rng = np.random.default_rng(seed)
    dirs = []
    for i in range(n_runs):
        outs = {sc: scaled(tpl, float(rng.normal(rate_mean, cov * rate_mean))) for sc in scenarios}
        started = f"2026-01-{day:02d}T00:{i // 60:02d}:{i % 60:02d}Z"
        rid = f"{prefix}-{i:03d}"
        dirs.append(write_run(results, rid, outs, meta(rid, started=started, **meta_kw)))
    return dirs
