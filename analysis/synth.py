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


def _engine_pi_report(job: str, host=None, device=None, injected=0) -> dict:
    """A PI report in the engine's shape (engine/backend/engine.cpp Engine::finish)."""
    host = {"guard": 0, "apptag": 0, "reftag": 0, **(host or {})}
    status = {f"0x{c:03x}": n for c, n in (device or {}).items()}
    dev = {0x282: "guard", 0x283: "apptag", 0x284: "reftag"}
    counts = dict(host)
    for c, n in (device or {}).items():
        counts[dev[c]] += n
    counts["other"] = 0
    counts["total"] = sum(counts.values())
    return {"engine": "pifio", "job": job, "counts": counts,
            "files": [{"file": "/dev/ng0n1", "reads": 100, "writes": 0, "mismatches": host,
                       "audit_bad_blocks": 0, "io_errors": sum((device or {}).values()), "device_status": status,
                       "injected": injected}],
            "mismatch_records": [{"file": 0, "lba": 8, "field": "reftag", "got": 9, "want": 8}]
            if host.get("reftag") else []}


LAB_JOBS = ("write", "read-verify", "randread-qd1", "randread-qd32")
COST_JOBS = ("randwrite-qd1", "randread-qd1")


def lab_run(results: str, run_id: str, release="7.3.0-1-cloud-amd64", formats=("4096+8/t1", "512+8/t3/first"),
            stacks=("dm-linear",), skipped=(("dm-crypt-aead", "kernel has no dm-crypt PI pass-through"),),
            cost_modes=("nopi", "kernel", "passthrough"), fail_reftag: str | None = None, seed=0,
            template=None) -> str:
    """A run directory in the layout `./pifio run` writes (lab/run.py): scenarios
    <format-slug>.<stack>.<engine>[.<cost mode>], one fio JSON+ per job (cost
    jobs: <job>.<rep>.json + cpu.json, icount clock), engine PI reports, .rc
    files, guest/ with dmesg.txt and the PIFIO-JOB markers. fail_reftag: a
    scenario name whose read-verify job gets 3 host ref tag mismatches and the
    kernel's "ref tag error" line in dmesg."""
    tpl = template or load_template()
    rng = np.random.default_rng(seed)
    rd = os.path.join(results, run_id)
    os.makedirs(rd, exist_ok=True)

    def slug(f):
        return f.replace("+", "p").replace("/", "-")
    scen, marks, dmesg, t = {}, [], ["[    0.000000] Linux version " + release],  2.0
    plan = [(f, "none", e, "") for f in formats for e in ("pifio", "builtin")]
    plan += [("4096+8/t1", s, e, "") for s in stacks for e in ("pifio", "builtin")]
    plan += [("4096+8/t1", s, e, "") for s, _ in skipped for e in ("pifio", "builtin")]
    plan += [("4096+0" if m == "nopi" else "4096+8/t1", "none", e, m) for m in cost_modes for e in ("pifio", "builtin")]
    skip = dict(skipped)
    for fmt, stack, eng, cost in plan:
        name = f"{slug(fmt)}.{stack}.{eng}" + (f".{cost}" if cost else "")
        jobs = COST_JOBS if cost else LAB_JOBS
        sm = {"format": fmt, "format_spec": fmt, "stack": stack, "engine": eng,
              "pi_mode": {"nopi": "none", "kernel": "kernel"}.get(cost, "userspace") if cost else
              ("kernel" if stack != "none" else "passthrough"),
              "job_options": {"bs": "4096", "ioengine": "io_uring_cmd" if eng == "builtin" else "external"},
              "workloads": [{"name": j} for j in jobs]}
        if cost:
            sm["pi_path"] = cost
        if stack in skip:
            sm["skipped"] = skip[stack]
            scen[name] = sm
            continue
        scen[name] = sm
        d = os.path.join(rd, name)
        os.makedirs(d, exist_ok=True)
        cpu_reps = []
        for job in jobs:
            marks.append(f"PIFIO-JOB {name} {job} start {t:.2f}")
            base = (1.0 if eng == "pifio" else 0.8) * (0.5 if stack != "none" else 1.0)
            reps = range(1, 4) if cost else [None]
            for rep in reps:
                obj = scaled(tpl, float(rng.normal(base, 0.02 * base)))
                for jj in obj.get("jobs", []):
                    jj["jobname"] = job
                fn = f"{job}.json" if rep is None else f"{job}.{rep}.json"
                with open(os.path.join(d, fn), "w") as f:
                    json.dump(obj, f)
                if eng == "pifio":
                    bad = fail_reftag == name and job == "read-verify"
                    rpt = _engine_pi_report(job, host={"reftag": 3} if bad else None)
                    with open(os.path.join(d, fn[:-5] + ".pi.json"), "w") as f:
                        json.dump(rpt, f)
                    if bad:
                        dmesg.append(f"[{t + 0.4:12.6f}] nvme0n1: ref tag error at location 8 (rcvd 9)")
                if cost:
                    ns = (20000 if cost == "nopi" else 31000) * (1.0 if eng == "pifio" else 1.6)
                    cpu_reps.append({"rep": rep, "job": job, "ios": 2000,
                                     "ns_per_io": round(float(rng.normal(ns, ns * 0.005)), 1)})
            with open(os.path.join(d, f"{job}.rc"), "w") as f:
                f.write("0\n")
            t += 6.0
        if cpu_reps:
            with open(os.path.join(d, "cpu.json"), "w") as f:
                json.dump({"metric": "guest CPU per I/O", "unit": "ns", "clock": "icount shift=0 sleep=off",
                           "reps": cpu_reps}, f)
    dmesg += [f"[{1.5:12.6f}] nvme nvme0: 1/0/0 default/read/poll queues",
              f"[{0.0:12.6f}] NX (Execute Disable) protection: active",
              f"[{1.6:12.6f}] integrity: Platform Keyring initialized"]
    g = os.path.join(rd, "guest", "results")
    os.makedirs(g, exist_ok=True)
    with open(os.path.join(g, "dmesg.txt"), "w") as f:
        f.write("\n".join(sorted(dmesg, key=lambda s: float(s[1:13]))) + "\n")
    with open(os.path.join(g, "scenario.log"), "w") as f:
        f.write("\n".join(marks) + "\n")
    m = meta(run_id, release=release, started="2026-01-24T22:15:00Z")
    m["scenarios"] = scen
    m["guest"] = {"rc": 0, "timed_out": False, "clock": "realtime", "boot_s": 3.1, "wall_s": 412.0}
    if cost_modes:
        m["cost_guest"] = {"rc": 0, "timed_out": False, "clock": "icount shift=0 sleep=off", "boot_s": 9.5,
                           "wall_s": 300.0}
    with open(os.path.join(rd, "meta.json"), "w") as f:
        json.dump(m, f, indent=1)
    return rd


def nightly_history(results: str, nights=("2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"),
                    change_night="2026-01-04", change=0.9, runs=5, seed=7, stable=("dm-linear/4096p8-t1",),
                    moving=("nvme-pt/4096p8-t1",)) -> list:
    """A history of `./pifio nightly` with one known change point: from
    change_night on, the `moving` scenarios run at `change` x the rate (and
    1/change x the latency); the `stable` ones never move. Returns the nightly
    exit codes, one per night."""
    import io
    from . import nightly
    codes = []
    rng = np.random.default_rng(seed)
    tpl = load_template()
    for n, night in enumerate(nights):
        rate = change if night >= change_night else 1.0
        count = [0]

        def run(argv, night=night, rate=rate, count=count):
            count[0] += 1
            rid = f"n{night}-{count[0]}"
            outs = {sc: scaled(tpl, float(rng.normal(rate, 0.01 * rate))) for sc in moving}
            outs.update({sc: scaled(tpl, float(rng.normal(1.0, 0.01))) for sc in stable})
            write_run(results, rid, outs, meta(rid, started=f"{night}T01:00:{count[0]:02d}Z"))
            return 0
        codes.append(nightly.main(["-n", str(runs), "--night", night, "--results", results, "--no-report"],
                                  runner=run, out=io.StringIO()))
    return codes
