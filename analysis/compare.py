"""A/B comparison of two sets of runs: rows of scenario x metric with verdicts."""
from __future__ import annotations

import fnmatch
import json
import math
import os
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from . import stats
from .meta import DEFAULT_VARY, FIXED_RUN_FIELDS, FIXED_SCENARIO_FIELDS, get_field, scenario_meta
from .store import Store, is_run_dir, options_hash

# Options that name paths or outputs: they may differ between A and B without
# changing the workload (namespace names are assigned asynchronously).
IGNORED_OPTIONS = {"filename", "directory", "filename_format", "output", "write_bw_log", "write_lat_log",
                   "write_iops_log", "write_hist_log", "per_job_logs", "log_avg_msec", "pi_report"}

PCTS = (("p50", 50.0), ("p99", 99.0), ("p99.9", 99.9))
EXIT_OK, EXIT_REGRESSION, EXIT_NOT_COMPARABLE = 0, 1, 2


class SpecError(ValueError):
    pass


class Refused(Exception):
    def __init__(self, field_name, detail):
        super().__init__(f"not comparable: {field_name}: {detail}")
        self.field = field_name
        self.detail = detail


# ---- resolving "A" and "B" ------------------------------------------------

@dataclass
class Side:
    spec: str
    run_keys: list
    label: str = ""


def _spec_parts(spec):
    return [p for p in spec.split(",") if p]


def spec_paths(spec: str, results_dir: str) -> list[tuple[str, str]]:
    """[(kind, path)] for a spec: kind is 'run', 'plain-dir' or 'plain-file'."""
    out = []
    for part in _spec_parts(spec):
        cand = [part]
        if results_dir and not os.path.isabs(part):
            cand.append(os.path.join(results_dir, part))
        hit = None
        for c in cand:
            if os.path.isdir(c):
                hit = c
                break
            if os.path.isfile(c):
                out.append(("plain-file", c))
                hit = "file"
                break
        if hit == "file":
            continue
        if hit is None and results_dir and os.path.isdir(results_dir) and any(ch in part for ch in "*?["):
            matches = sorted(n for n in os.listdir(results_dir)
                             if fnmatch.fnmatch(n, part) and is_run_dir(os.path.join(results_dir, n)))
            if not matches:
                raise SpecError(f"'{part}': no run id under {results_dir} matches")
            out += [("run", os.path.join(results_dir, n)) for n in matches]
            continue
        if hit is None:
            known = []
            if results_dir and os.path.isdir(results_dir):
                known = sorted(n for n in os.listdir(results_dir) if is_run_dir(os.path.join(results_dir, n)))
            hint = f" (run ids there: {', '.join(known[-8:])})" if known else ""
            raise SpecError(f"'{part}': not a directory, a file, or a run id under {results_dir}{hint}")
        if is_run_dir(hit):
            out.append(("run", hit))
            continue
        subruns = sorted(os.path.join(hit, n) for n in os.listdir(hit) if is_run_dir(os.path.join(hit, n)))
        if subruns:
            out += [("run", p) for p in subruns]
        else:
            out.append(("plain-dir", hit))
    return out


def load_side(store: Store, spec: str, results_dir: str, skip_bad=False, report=None) -> Side:
    keys = []
    for kind, p in spec_paths(spec, results_dir):
        if kind == "run":
            r = store.ingest_run_dir(p, skip_bad)
            keys.append(store.run_key_of(p))
        elif kind == "plain-dir":
            r, ks = store.ingest_plain_dir(p, skip_bad)
            keys += ks
        else:
            r = store.ingest_plain_file(p, skip_bad)
            keys.append("plain:" + os.path.abspath(p))
        if report is not None:
            report.merge(r)
    if not keys:
        raise SpecError(f"'{spec}': no fio output found")
    seen = set()
    keys = [k for k in keys if not (k in seen or seen.add(k))]
    return Side(spec, keys)


# ---- metadata checks ------------------------------------------------------

def _fmt(v):
    return "(not recorded)" if v is None else repr(v)


def check_runs(a_runs: list[dict], b_runs: list[dict], vary=DEFAULT_VARY, mixable=()) -> None:
    """Raise Refused naming the first fixed field that differs. `mixable`: fields
    that may also differ between runs of one side (a nightly baseline pools nights)."""
    for name, runs in (("A", a_runs), ("B", b_runs)):
        for f in FIXED_RUN_FIELDS:
            if f in mixable:
                continue
            vals = defaultdict(list)
            for r in runs:
                vals[json.dumps(get_field(r["meta"], f))].append(r["run_key"])
            if len(vals) > 1:
                desc = "; ".join(f"{_fmt(json.loads(v))} in {len(ks)} run(s) e.g. {ks[0]}" for v, ks in vals.items())
                raise Refused(f, f"side {name} mixes values: {desc}")
    for f in FIXED_RUN_FIELDS:
        if f in vary:
            continue
        va, vb = get_field(a_runs[0]["meta"], f), get_field(b_runs[0]["meta"], f)
        if va != vb:
            raise Refused(f, f"A {_fmt(va)} vs B {_fmt(vb)} (pass --vary {f} if this difference is the point)")


def side_label(runs: list[dict], fallback: str) -> str:
    m = runs[0]["meta"]
    rel = get_field(m, "kernel.release")
    if rel:
        ser = get_field(m, "kernel.series")
        return f"{rel}+{ser}" if ser else str(rel)
    return fallback


# ---- grouping -------------------------------------------------------------

def _workload_options(opts: dict) -> dict:
    return {k: v for k, v in opts.items() if k not in IGNORED_OPTIONS}


def group_samples(samples, runs_by_key) -> dict:
    """scenario key -> list of samples. Same job name with different options gets '#hash'."""
    groups = defaultdict(list)
    for s in samples:
        base = f"{s['scenario']}/{s['jobname']}" if s["scenario"] else s["jobname"]
        if s["host"]:
            base += f"@{s['host']}"
        s["_opts"] = _workload_options(s["options"])
        s["_smeta"] = scenario_meta(runs_by_key[s["run_key"]]["meta"], s["scenario"])
        groups[base].append(s)
    out = {}
    for key, ss in groups.items():
        hashes = {options_hash(s["_opts"]) for s in ss}
        if len(hashes) == 1:
            out[key] = ss
        else:
            for s in ss:
                out.setdefault(f"{key}#{options_hash(s['_opts'])}", []).append(s)
    return out


def _scenario_diff(sa, sb) -> str | None:
    ma = sa[0]["_smeta"]
    mb = sb[0]["_smeta"]
    for f in FIXED_SCENARIO_FIELDS:
        if f == "job_options":
            oa, ob = sa[0]["_opts"], sb[0]["_opts"]
            diff = sorted(k for k in set(oa) | set(ob) if oa.get(k) != ob.get(k))
            if diff:
                k = diff[0]
                more = f" (+{len(diff) - 1} more)" if len(diff) > 1 else ""
                return f"job option {k}: A {_fmt(oa.get(k))} vs B {_fmt(ob.get(k))}{more}"
            continue
        if ma.get(f) != mb.get(f):
            return f"{f}: A {_fmt(ma.get(f))} vs B {_fmt(mb.get(f))}"
    return None


# ---- metrics --------------------------------------------------------------

@dataclass
class Row:
    scenario: str
    metric: str
    unit: str
    n_a: int
    n_b: int
    a: float
    b: float
    change_pct: float
    p_value: float
    test: str
    ci_lo: float
    ci_hi: float
    verdict: str
    note: str = ""
    higher_is_better: bool = True
    a_values: list = field(default_factory=list)
    b_values: list = field(default_factory=list)


def _pct_printed(d, p):
    for k, v in (d.get("percentiles") or {}).items():
        if abs(float(k) - p) < 1e-9:
            return float(v)
    return math.nan


def metric_values(ss: list[dict]) -> dict:
    """name -> dict(values=[...], mean, unit, hib, kind, bins)."""
    out = {}
    ddirs = sorted({d for s in ss for d in s["dirs"]}, key=lambda d: ("read", "write", "trim").index(d))
    for dd in ddirs:
        ds = [s["dirs"][dd] for s in ss if dd in s["dirs"]]
        out[f"{dd} IOPS"] = dict(values=[d["iops"] for d in ds], mean="harmonic", unit="IOPS", hib=True)
        out[f"{dd} BW"] = dict(values=[d["bw_bytes"] / 1048576.0 for d in ds], mean="harmonic", unit="MiB/s",
                               hib=True)
        out[f"{dd} clat mean"] = dict(values=[d["clat_mean_ns"] / 1000.0 for d in ds], mean="arithmetic",
                                      unit="us", hib=False)
        have_bins = all(d.get("bins") is not None and len(d["bins"]) for d in ds)
        ps = [p for _, p in PCTS]
        if have_bins:
            arrays = [stats.bins_arrays(d["bins"]) for d in ds]
            per_run = [stats.percentiles_from_arrays(v, c, ps) / 1000.0 for v, c in arrays]
            merged = stats.merge_bin_arrays(arrays)
            heads = stats.percentiles_from_arrays(merged[0], merged[1], ps) / 1000.0
        else:
            per_run = [[_pct_printed(d, p) / 1000.0 for p in ps] for d in ds]
            merged, heads = None, None
        for i, (name, p) in enumerate(PCTS):
            vals = [float(r[i]) for r in per_run]
            head = float(heads[i]) if have_bins else None
            out[f"{dd} clat {name}"] = dict(values=vals, mean="arithmetic", unit="us", hib=False, headline=head,
                                            note="" if have_bins else "no JSON+ bins: median of per-run percentiles")
        out[f"{dd} _bins"] = dict(bins=merged)
    cpu = [s["cpu_ns_per_io"] for s in ss if s["cpu_ns_per_io"] is not None]
    if cpu:
        out["CPU per I/O"] = dict(values=cpu, mean="arithmetic", unit="ns", hib=False)
    pis = [s["pi_errors"] for s in ss if s["pi_errors"] is not None]
    if pis:
        out["PI errors"] = dict(values=pis, kind="count", unit="", hib=False)
    out["fio errors"] = dict(values=[1 if s["error"] else 0 for s in ss], kind="count", unit="runs", hib=False)
    return out


def _median(v):
    v = sorted(x for x in v if not math.isnan(x))
    if not v:
        return math.nan
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def compare_groups(ga: dict, gb: dict, threshold=2.0, alpha=stats.DEFAULT_ALPHA, bootstrap=True,
                   cache=None) -> list[Row]:
    rows = []
    cache = {} if cache is None else cache
    for key in sorted(set(ga) | set(gb)):
        if key not in ga or key not in gb:
            only = "A" if key in ga else "B"
            rows.append(Row(key, "*", "", len(ga.get(key, [])), len(gb.get(key, [])), math.nan, math.nan,
                            math.nan, math.nan, "", math.nan, math.nan, stats.NOT_COMPARABLE,
                            f"only in {only}"))
            continue
        sa, sb = ga[key], gb[key]
        why = _scenario_diff(sa, sb)
        if why:
            rows.append(Row(key, "*", "", len(sa), len(sb), math.nan, math.nan, math.nan, math.nan, "",
                            math.nan, math.nan, stats.NOT_COMPARABLE, why))
            continue
        ma = cache.setdefault(("A", key), metric_values(sa))
        mb = cache.setdefault(("B", key), metric_values(sb))
        for name in ma:
            if name.endswith("_bins"):
                continue
            if name not in mb:
                rows.append(Row(key, name, ma[name]["unit"], len(ma[name]["values"]), 0, math.nan, math.nan,
                                math.nan, math.nan, "", math.nan, math.nan, stats.NOT_COMPARABLE, "only in A"))
                continue
            a, b = ma[name], mb[name]
            if a.get("kind") == "count":
                if name == "fio errors" and not any(a["values"]) and not any(b["values"]):
                    continue
                v = stats.compare_counts(a["values"], b["values"])
            else:
                head = None
                note = a.get("note") or b.get("note") or ""
                if "headline" in a:
                    if a["headline"] is not None and b["headline"] is not None:
                        head = (a["headline"], b["headline"])
                    else:
                        head = (_median(a["values"]), _median(b["values"]))
                v = stats.compare_samples(a["values"], b["values"], a["mean"], a["hib"], threshold, alpha,
                                          headline=head, bootstrap=bootstrap)
                if note:
                    v.note = (v.note + "; " + note) if v.note else note
            rows.append(Row(key, name, a["unit"], len(a["values"]), len(b["values"]), v.mean_a, v.mean_b,
                            v.change_pct, v.p_value, v.test, v.ci_lo, v.ci_hi, v.verdict, v.note, a["hib"],
                            list(a["values"]), list(b["values"])))
    return rows


# ---- the whole comparison -------------------------------------------------

def compare(store: Store, a: Side, b: Side, threshold=2.0, alpha=stats.DEFAULT_ALPHA, vary=DEFAULT_VARY,
            include_aggregate=True, scenario_glob=None, bootstrap=True, mixable=()) -> dict:
    a_runs = store.runs(set(a.run_keys))
    b_runs = store.runs(set(b.run_keys))
    res = {"a": {"spec": a.spec, "runs": a.run_keys}, "b": {"spec": b.spec, "runs": b.run_keys},
           "threshold_pct": threshold, "alpha": alpha, "vary": list(vary), "refused": None, "rows": [],
           "skips": []}
    overlap = set(a.run_keys) & set(b.run_keys)
    if overlap:
        res["refused"] = {"field": "runs", "detail": f"the same run is on both sides: {sorted(overlap)[0]}"}
        res["exit"] = EXIT_NOT_COMPARABLE
        return res
    try:
        check_runs(a_runs, b_runs, vary, mixable)
    except Refused as e:
        res["refused"] = {"field": e.field, "detail": e.detail}
        res["exit"] = EXIT_NOT_COMPARABLE
        return res
    a.label = side_label(a_runs, "A")
    b.label = side_label(b_runs, "B")
    if a.label == b.label:
        short = a.spec != b.spec and max(len(a.spec), len(b.spec)) <= 40
        a.label, b.label = ((f"{a.spec} ({a.label})", f"{b.spec} ({b.label})") if short
                            else (f"A: {a.label}", f"B: {b.label}"))
    res["a"]["label"], res["b"]["label"] = a.label, b.label
    by_key = {r["run_key"]: r for r in a_runs + b_runs}
    sa = store.samples(a.run_keys, include_aggregate)
    sb = store.samples(b.run_keys, include_aggregate)
    ga, gb = group_samples(sa, by_key), group_samples(sb, by_key)
    if scenario_glob:
        ga = {k: v for k, v in ga.items() if fnmatch.fnmatch(k, scenario_glob)}
        gb = {k: v for k, v in gb.items() if fnmatch.fnmatch(k, scenario_glob)}
    cache = {}
    rows = compare_groups(ga, gb, threshold, alpha, bootstrap, cache)
    res["rows"] = [asdict(r) for r in rows]
    res["skips"] = [{"side": "A" if rk in a.run_keys else "B", "run": rk, "scenario": sc, "reason": why}
                    for rk, sc, why in store.skips(a.run_keys + b.run_keys)]
    res["curves"] = _curves(ga, gb, cache)
    res["exit"] = exit_code(res)
    res["summary"] = summarize(res)
    return res


def _curves(ga, gb, cache) -> dict:
    """Merged bins per scenario/ddir for latency percentile plots: {key: {ddir: [curveA, curveB]}}."""
    out = {}
    for key in sorted(set(ga) & set(gb)):
        if ("A", key) not in cache:
            continue      # not comparable: no curves
        ma, mb = cache[("A", key)], cache[("B", key)]
        for name in ma:
            if name.endswith("_bins") and name in mb and ma[name]["bins"] and mb[name]["bins"]:
                dd = name.split()[0]
                out.setdefault(key, {})[dd] = [stats.percentile_curve(ma[name]["bins"]),
                                               stats.percentile_curve(mb[name]["bins"])]
    return out


def exit_code(res: dict) -> int:
    if res.get("refused"):
        return EXIT_NOT_COMPARABLE
    rows = res["rows"]
    if any(r["verdict"] == stats.REGRESSED for r in rows):
        return EXIT_REGRESSION
    if any(r["verdict"] == stats.NOT_COMPARABLE and not r["note"].startswith("only in") for r in rows):
        return EXIT_NOT_COMPARABLE
    if not any(r["verdict"] != stats.NOT_COMPARABLE for r in rows):
        return EXIT_NOT_COMPARABLE
    return EXIT_OK


def summarize(res: dict) -> dict:
    c = defaultdict(int)
    for r in res["rows"]:
        c[r["verdict"]] += 1
    return dict(c)


# ---- rendering ------------------------------------------------------------

def _num(v, unit=""):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if unit in ("", "runs"):
        return f"{v:.0f}" if float(v).is_integer() else f"{v:.2f}"
    av = abs(v)
    if av >= 1e6:
        return f"{v:.4g}"
    if av >= 100:
        return f"{v:.1f}"
    return f"{v:.3g}" if av < 1 else f"{v:.2f}"


VERDICT_ORDER = {stats.REGRESSED: 0, stats.IMPROVED: 1, stats.NOT_COMPARABLE: 2, stats.NOISE: 3}
EXIT_WORD = {EXIT_OK: "no regression", EXIT_REGRESSION: "REGRESSION", EXIT_NOT_COMPARABLE: "NOT COMPARABLE"}


def rows_by_verdict(rows: list) -> list:
    """Regressions first (largest change first), then improvements, not comparable, within noise."""
    def mag(r):
        c = r.get("change_pct")
        return 0.0 if c is None or (isinstance(c, float) and math.isnan(c)) else -abs(c)
    return sorted(rows, key=lambda r: (VERDICT_ORDER.get(r["verdict"], 9), mag(r), r["scenario"], r["metric"]))


def headline(res: dict) -> str:
    """One line: REGRESSION / no regression / NOT COMPARABLE with the counts."""
    if res.get("refused"):
        r = res["refused"]
        return f"NOT COMPARABLE: {r['field']} differs: {r['detail']}"
    s = res.get("summary") or summarize(res)
    counts = ", ".join(f"{s.get(k, 0)} {k}" for k in (stats.REGRESSED, stats.IMPROVED, stats.NOISE,
                                                      stats.NOT_COMPARABLE) if s.get(k))
    return (f"{EXIT_WORD[res['exit']]}: {counts or 'no rows'} "
            f"(A = {res['a'].get('label', res['a']['spec'])}, B = {res['b'].get('label', res['b']['spec'])})")


def change_lines(res: dict, limit: int = 20) -> list:
    """The kernel test robot's one-liners: "-6.5% regression of <scenario> read IOPS (A -> B, p=...)"."""
    out = []
    for r in rows_by_verdict(res.get("rows") or []):
        if r["verdict"] not in (stats.REGRESSED, stats.IMPROVED):
            break
        word = "regression" if r["verdict"] == stats.REGRESSED else "improvement"
        if r["test"] == "count":
            out.append(f"{word} of {r['scenario']} {r['metric']}: {r['note'] or 'count changed'}")
            continue
        ch = r["change_pct"]
        chs = "inf" if math.isinf(ch) else f"{ch:+.1f}%"
        p = "" if r["test"] == "count" or math.isnan(r["p_value"]) else f", p={r['p_value']:.3g}"
        out.append(f"{chs} {word} of {r['scenario']} {r['metric']} ({_num(r['a'], r['unit'])} -> "
                   f"{_num(r['b'], r['unit'])}{(' ' + r['unit']) if r['unit'] and r['unit'] not in r['metric'] else ''}"
                   f"{p})")
        if len(out) >= limit:
            break
    return out


MARK = {stats.IMPROVED: "+", stats.REGRESSED: "-", stats.NOISE: " ", stats.NOT_COMPARABLE: "?"}


def render_text(res: dict) -> str:
    lines = []
    if res.get("refused"):
        r = res["refused"]
        return f"pifio compare: refused, {r['field']} differs: {r['detail']}\n"
    a, b = res["a"], res["b"]
    lines.append(headline(res))
    changes = change_lines(res)
    lines += ["  " + c for c in changes]
    n_changed = sum(1 for r in res["rows"] if r["verdict"] in (stats.REGRESSED, stats.IMPROVED))
    if n_changed > len(changes):
        lines.append(f"  ... {n_changed - len(changes)} more changes in the table")
    lines.append("")
    lines.append(f"pifio compare  A = {a['label']} ({len(a['runs'])} run(s))   B = {b['label']} "
                 f"({len(b['runs'])} run(s))")
    lines.append(f"  rates: harmonic mean; times: arithmetic mean; percentiles from summed histogram bins")
    lines.append(f"  verdict needs Mann-Whitney p < {res['alpha']} and |change| >= {res['threshold_pct']}%")
    lines.append("")
    sw = max([len("scenario")] + [len(r["scenario"]) for r in res["rows"]])
    mw = max([len("metric")] + [len(r["metric"]) + len(r["unit"]) + 3 for r in res["rows"]])
    hdr = (f"{'scenario':<{sw}}  {'metric':<{mw}}  {'n':>5}  {'A':>12}  {'B':>12}  {'change':>9}  "
           f"{'95% CI':>17}  {'p':>7}  verdict")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    prev = None
    few = False
    for r in res["rows"]:
        sc = r["scenario"] if r["scenario"] != prev else ""
        prev = r["scenario"]
        metric = r["metric"] + (f" ({r['unit']})" if r["unit"] and r["unit"] not in r["metric"]
                                and r["metric"] != "*" else "")
        if r["verdict"] == stats.NOT_COMPARABLE and r["metric"] == "*":
            lines.append(f"{sc:<{sw}}  {'*':<{mw}}  {r['n_a']:>2}/{r['n_b']:<2}  {'':>12}  {'':>12}  {'':>9}  "
                         f"{'':>17}  {'':>7}  not comparable: {r['note']}")
            continue
        ch = "-" if math.isnan(r["change_pct"]) else (
            "inf" if math.isinf(r["change_pct"]) else f"{r['change_pct']:+.2f}%")
        ci = "" if math.isnan(r["ci_lo"]) else f"[{r['ci_lo']:+.1f},{r['ci_hi']:+.1f}]%"
        p = "" if r["test"] == "count" or math.isnan(r["p_value"]) else f"{r['p_value']:.4f}"
        mark = MARK.get(r["verdict"], " ")
        notes = [n for n in r["note"].split("; ") if n and not n.startswith("n=")]
        if len(notes) != len([n for n in r["note"].split("; ") if n]):
            few = True
        v = r["verdict"] + (f"  ({'; '.join(notes)})" if notes else "")
        lines.append(f"{sc:<{sw}}  {metric:<{mw}}  {r['n_a']:>2}/{r['n_b']:<2}  {_num(r['a'], r['unit']):>12}  "
                     f"{_num(r['b'], r['unit']):>12}  {ch:>8}{mark}  {ci:>17}  {p:>7}  {v}")
    for s in res.get("skips", []):
        lines.append(f"skipped on {s['side']} ({s['run']}): {s['scenario']}: {s['reason']}")
    if few:
        lines.append(f"note: too few runs on a side: no change can be significant at {res['alpha']}; "
                     "repeat the runs")
    lines.append("")
    summ = ", ".join(f"{k}: {v}" for k, v in sorted(res.get("summary", {}).items()))
    lines.append(f"{EXIT_WORD[res['exit']]} ({summ})")
    return "\n".join(lines) + "\n"


def to_json(res: dict) -> str:
    def clean(o):
        if isinstance(o, float):
            return None if (math.isnan(o) or math.isinf(o)) else o
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list):
            return [clean(v) for v in o]
        return o
    return json.dumps(clean(res), indent=1, sort_keys=True)
