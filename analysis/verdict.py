"""The verdict of one run directory: did PI hold, what failed, then the details.

    from analysis.verdict import evaluate, render_text, summarize
    print(summarize("results/20260124-221500-7.3"))     # what ./pifio run prints

Read straight from the files of results/<run-id>/ (no store): meta.json,
<scenario>/<job>.json (or <job>.<rep>.json), <job>[.<rep>].pi.json, <job>.rc,
<job>.log, cpu.json (the PI cost scenarios), and guest*/ (dmesg.txt,
scenario.log / console.log with the PIFIO-JOB start markers).

A run FAILS when any of these happened: a job exited non-zero or left no fio
output, fio reported an error, the engine counted a PI mismatch (host check)
or the device returned a PI check status (0x282-0x284), a scenario failed
(no results, stack build/teardown), a guest boot failed or timed out, or the
guest kernel logged an integrity error (t10-pi "guard/ref tag error",
"protection error"). Skips are reported with their reasons and do not fail a run.

Figures that mean nothing are left out: on the icount clock (the PI cost
boot) IOPS and latencies depend on the host's load, so only guest CPU per
I/O (cpu.json, lab/cpusnap.py) is shown for those scenarios.
"""
from __future__ import annotations

import json
import math
import os
import re
import statistics
from dataclasses import dataclass, field

from . import fiojson
from .meta import MetaError, load_meta, parse_pi_report, scenario_meta

FIELDS = ("guard", "apptag", "reftag", "other")
DEVICE_PI_STATUS = {0x282: "guard", 0x283: "apptag", 0x284: "reftag"}
# PI cost modes in the order of the table (lab/scenarios.py PI_COST_MODES): no PI first
COST_ORDER = ("nopi", "kernel", "uring-pi", "passthrough", "pract")
EILSEQ = 84          # BLK_STS_PROTECTION as errno: the block layer's "PI check failed"

# Guest kernel lines about integrity; the second pattern marks the ones that are errors.
INTEGRITY_RE = re.compile(r"integrity|ref(erence)? ?tag|guard|app(lication)? ?tag|protection", re.I)
# boot lines that match the words but are not about block integrity (IMA keyrings, NX, PKU)
INTEGRITY_NOISE_RE = re.compile(r"keyring|Execute Disable|Protection Keys|write protect", re.I)
INTEGRITY_ERROR_RE = re.compile(r"error|fail|mismatch|invalid|bad ", re.I)
_DMESG_TS = re.compile(r"^\s*\[\s*(\d+\.\d+)\]\s?(.*)$")
_JOB_MARK = re.compile(r"PIFIO-JOB (\S+) (\S+) start (\d+(?:\.\d+)?)")


@dataclass
class KernelMsg:
    ts: float | None
    text: str
    guest: str               # guest dir (guest, guest-cost)
    scenario: str = ""       # the job running when it was logged ("" before the first job)
    job: str = ""
    error: bool = False

    @property
    def where(self) -> str:
        if not self.scenario:
            return f"{self.guest} (before the first job)"
        return f"{self.scenario}/{self.job}" if self.job else self.scenario


@dataclass
class Job:
    scenario: str
    name: str
    rc: str = "?"
    files: list = field(default_factory=list)        # fio output files, relative to the run dir
    pi_files: list = field(default_factory=list)
    reps: int = 0
    iops: dict = field(default_factory=dict)         # ddir -> harmonic mean over reps
    p50_us: dict = field(default_factory=dict)       # ddir -> from the summed bins (fio's printed ones without)
    p99_us: dict = field(default_factory=dict)
    bins: dict = field(default_factory=dict)         # ddir -> [[ns, count]] summed over reps
    fio_error: int = 0
    pi: dict = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))   # host-side mismatches by field
    device_pi: dict = field(default_factory=lambda: dict.fromkeys(FIELDS[:3], 0))
    injected: int = 0
    cpu_us: float | None = None                      # guest CPU per I/O (median of reps), cost scenarios
    problems: list = field(default_factory=list)     # what failed, one phrase each

    @property
    def pi_total(self) -> int:
        return sum(self.pi.values())

    @property
    def device_total(self) -> int:
        return sum(self.device_pi.values())


@dataclass
class Scenario:
    name: str
    kernel: str = ""
    stack: str = ""
    format: str = ""
    engine: str = ""
    cost: str = ""                  # PI cost mode (pi_path) or ""
    clock: str = ""                 # guest clock this scenario ran on
    skipped: str = ""
    failed: str = ""
    jobs: list = field(default_factory=list)

    @property
    def group(self) -> tuple:
        return (self.kernel, self.stack, self.format, self.cost)

    @property
    def icount(self) -> bool:
        return self.clock.startswith("icount")


@dataclass
class RunVerdict:
    run_id: str
    run_dir: str
    kernel: str = ""
    meta: dict = field(default_factory=dict)
    scenarios: list = field(default_factory=list)
    guests: list = field(default_factory=list)       # [(name, {rc, timed_out, clock, boot_s, wall_s})]
    kernel_msgs: list = field(default_factory=list)  # [KernelMsg]
    problems: list = field(default_factory=list)     # run-level failures (guest boots)

    # ---- counts ----
    @property
    def ran(self) -> list:
        return [s for s in self.scenarios if not s.skipped]

    @property
    def skipped(self) -> list:
        return [s for s in self.scenarios if s.skipped]

    @property
    def jobs(self) -> list:
        return [j for s in self.ran for j in s.jobs]

    def pi_by_field(self) -> dict:
        out = dict.fromkeys(FIELDS, 0)
        for j in self.jobs:
            for k, v in j.pi.items():
                out[k] += v
        return out

    def device_by_field(self) -> dict:
        out = dict.fromkeys(FIELDS[:3], 0)
        for j in self.jobs:
            for k, v in j.device_pi.items():
                out[k] += v
        return out

    def failures(self) -> list:
        """[(where, what)] in the order a reader should see them."""
        out = [("run", p) for p in self.problems]
        for s in self.ran:
            if s.failed:
                out.append((s.name, s.failed))
            for j in s.jobs:
                for p in j.problems:
                    out.append((f"{s.name}/{j.name}", p))
        for m in self.kernel_msgs:
            if m.error:
                out.append((m.where, f"kernel: {m.text}"))
        return out

    @property
    def ok(self) -> bool:
        return not self.failures() and bool(self.jobs)

    @property
    def status(self) -> str:
        if self.ok:
            return "PASS"
        return "FAIL" if self.failures() else "NO JOBS RAN"

    def headline(self) -> str:
        pi = self.pi_by_field()
        dev = self.device_by_field()
        bad_jobs = sum(1 for j in self.jobs if j.problems)
        n_err = sum(1 for m in self.kernel_msgs if m.error)
        parts = [f"{len(self.ran)} scenarios run",
                 f"{len(self.jobs)} jobs ({bad_jobs} failed)",
                 "PI mismatches " + (", ".join(f"{k} {v}" for k, v in pi.items() if v) if any(pi.values())
                                     else "0"),
                 "device PI errors " + (", ".join(f"{k} {v}" for k, v in dev.items() if v) if any(dev.values())
                                        else "0"),
                 f"kernel integrity errors {n_err}",
                 f"{len(self.skipped)} skipped"]
        return f"{self.status}: " + ", ".join(parts)

    def skip_reasons(self) -> list:
        """[(reason, [scenario names])] most frequent first."""
        by: dict = {}
        for s in self.skipped:
            by.setdefault(s.skipped, []).append(s.name)
        return sorted(by.items(), key=lambda kv: (-len(kv[1]), kv[0]))

    def groups(self) -> list:
        """Scenarios grouped kernel -> stack -> format (cost table last), each
        group {engine: Scenario}: [((kernel, stack, format, cost), {engine: Scenario})]."""
        by: dict = {}
        for s in self.scenarios:
            by.setdefault(s.group, {})[s.engine] = s
        def cost_rank(c):
            return COST_ORDER.index(c) if c in COST_ORDER else len(COST_ORDER)
        return sorted(by.items(), key=lambda kv: (bool(kv[0][3]), kv[0][0], cost_rank(kv[0][3]), kv[0][1] != "none",
                                                  kv[0][1], kv[0][2], kv[0][3]))


# ------------------------------------------------------------------ reading --

def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _fio_files(sdir: str, job: str) -> list:
    """<job>.json, else <job>.<n>.json repetitions (n numeric), sorted by n."""
    names = os.listdir(sdir)
    for ext in (".json", ".json.gz"):
        if job + ext in names:
            return [job + ext]
    reps = []
    for n in names:
        parts = n[:-3].split(".") if n.endswith(".gz") else n.split(".")
        if len(parts) == 3 and parts[0] == job and parts[1].isdigit() and parts[2] == "json":
            reps.append((int(parts[1]), n))
    return [n for _, n in sorted(reps)]


def _pi_files(sdir: str, fio_name: str) -> list:
    base = fio_name[:-3] if fio_name.endswith(".gz") else fio_name
    base = base[:-5] if base.endswith(".json") else base
    return sorted(n for n in os.listdir(sdir) if n.endswith(".pi.json") and
                  (n == base + ".pi.json" or (n.startswith(base + ".") and n[len(base) + 1:-8].isdigit())))


def _jobs_in_dir(sdir: str, smeta: dict) -> list:
    """Job names of a scenario: meta's workloads, else every fio output's stem."""
    names = [w.get("name") for w in smeta.get("workloads") or [] if isinstance(w, dict) and w.get("name")]
    if names:
        return names
    out = []
    for n in sorted(os.listdir(sdir)):
        p = os.path.join(sdir, n)
        if not fiojson.is_candidate(n) or n.endswith(".log") or not fiojson.looks_like_fio(p):
            continue
        stem = n.split(".")[0]
        if stem not in out:
            out.append(stem)
    return out


def _hmean(v):
    v = [x for x in v if x and x > 0]
    return len(v) / sum(1.0 / x for x in v) if v else None


def _device_counts(raw: dict) -> dict:
    out = dict.fromkeys(FIELDS[:3], 0)
    for f in raw.get("files") or []:
        for code, n in (f.get("device_status") or {}).items():
            try:
                c = int(str(code).split()[0], 16)
            except ValueError:
                continue
            if c in DEVICE_PI_STATUS and isinstance(n, (int, float)):
                out[DEVICE_PI_STATUS[c]] += int(n)
    return out


def _host_counts(rep: dict) -> dict:
    """Mismatches the host found, by field. The engine's "counts" add the
    device's PI statuses in; its per-file "mismatches" are the host's alone."""
    raw = rep["raw"]
    files = raw.get("files")
    if isinstance(files, list) and files and all(isinstance(f.get("mismatches"), dict) for f in files):
        out = dict.fromkeys(FIELDS, 0)
        for f in files:
            for k in FIELDS[:3]:
                out[k] += int(f["mismatches"].get(k, 0) or 0)
            out["other"] += int(f.get("audit_bad_blocks", 0) or 0)
        return out
    return {k: rep[k] for k in FIELDS}


def _read_job(run_dir: str, sc: Scenario, job: str) -> Job:
    sdir = os.path.join(run_dir, sc.name)
    j = Job(sc.name, job)
    rcp = os.path.join(sdir, f"{job}.rc")
    if os.path.exists(rcp):
        j.rc = _read(rcp).strip() or "?"
    files = _fio_files(sdir, job)
    j.files = [os.path.join(sc.name, n) for n in files]
    per_dir: dict = {}
    for n in files:
        try:
            out = fiojson.parse_file(os.path.join(sdir, n))
        except fiojson.FioParseError as e:
            j.problems.append(f"fio output unreadable: {str(e)[:120]}")
            continue
        jobs = [x for x in out.jobs if not x.aggregate]
        if not jobs:
            j.problems.append(f"{n}: no job in the fio output")
            continue
        j.reps += 1
        for x in jobs:
            j.fio_error = j.fio_error or x.error
            for dd, d in x.dirs.items():
                per_dir.setdefault(dd, []).append(d)
        for pn in _pi_files(sdir, n):
            j.pi_files.append(os.path.join(sc.name, pn))
            try:
                rep = parse_pi_report(os.path.join(sdir, pn))
            except MetaError as e:
                j.problems.append(f"PI report unreadable: {e}")
                continue
            for k, v in _host_counts(rep).items():
                j.pi[k] += v
            for k, v in _device_counts(rep["raw"]).items():
                j.device_pi[k] += v
            j.injected += rep["injected"]
    from . import stats
    for dd, ds in per_dir.items():
        j.iops[dd] = _hmean([d.iops for d in ds])
        if all(d.bins for d in ds):
            v, c = stats.merge_bin_arrays(stats.bins_arrays(d.bins) for d in ds)
            j.bins[dd] = [[int(a), int(b)] for a, b in zip(v, c)]
            p50, p99 = stats.percentiles_from_arrays(v, c, [50.0, 99.0])
            j.p50_us[dd], j.p99_us[dd] = float(p50) / 1000, float(p99) / 1000
        else:
            def med(key):
                vals = [d.percentiles.get(key) for d in ds if d.percentiles.get(key)]
                return statistics.median(vals) / 1000 if vals else None
            j.p50_us[dd], j.p99_us[dd] = med("50.000000"), med("99.000000")
    # what failed, in the words a reader acts on
    if not files:
        tail = [ln for ln in _read(os.path.join(sdir, f"{job}.log")).strip().splitlines() if ln.strip()][-1:]
        j.problems.append(f"no fio output (rc {j.rc})" + (f": {tail[0][:120]}" if tail else ""))
    elif j.rc not in ("0", "?"):
        tail = [ln for ln in _read(os.path.join(sdir, f"{job}.log")).strip().splitlines() if ln.strip()][-1:]
        j.problems.append(f"exit status {j.rc}" + (f": {tail[0][:120]}" if tail else ""))
    if j.fio_error:
        if j.fio_error == EILSEQ:
            j.problems.append(f"fio error {EILSEQ} (EILSEQ: the kernel or device rejected PI)")
        elif j.fio_error in DEVICE_PI_STATUS:
            j.device_pi[DEVICE_PI_STATUS[j.fio_error]] += 1
            j.problems.append(f"fio error {j.fio_error:#x} (device PI check: {DEVICE_PI_STATUS[j.fio_error]})")
        else:
            j.problems.append(f"fio error {j.fio_error} ({os.strerror(j.fio_error)})")
    if j.pi_total:
        what = ", ".join(f"{k} {v}" for k, v in j.pi.items() if v)
        j.problems.append(f"PI mismatches found by the host: {what}" +
                          (f" ({j.injected} blocks were injected on purpose)" if j.injected else ""))
    if j.device_total and not any("device PI check" in p for p in j.problems):
        what = ", ".join(f"{k} {v}" for k, v in j.device_pi.items() if v)
        j.problems.append(f"device PI check errors: {what}")
    return j


def _cpu_of(run_dir: str, sc: Scenario) -> dict:
    """{job: median guest CPU us per I/O} from <scenario>/cpu.json."""
    try:
        reps = json.loads(_read(os.path.join(run_dir, sc.name, "cpu.json")) or "{}").get("reps", [])
    except ValueError:
        return {}
    by: dict = {}
    for r in reps:
        if r.get("ns_per_io"):
            by.setdefault(r.get("job", ""), []).append(r["ns_per_io"] / 1000)
    return {k: statistics.median(v) for k, v in by.items()}


def _kernel_msgs(run_dir: str) -> list:
    """Integrity lines of every guest's dmesg, each with the job running then."""
    out = []
    for g in sorted(os.listdir(run_dir)):
        gdir = os.path.join(run_dir, g)
        if not (g.startswith("guest") and os.path.isdir(gdir)):
            continue
        dmesg = next((os.path.join(gdir, *p) for p in (("dmesg.txt",), ("results", "dmesg.txt"))
                      if os.path.exists(os.path.join(gdir, *p))), None)
        if not dmesg:
            continue
        marks = []
        for src in (("results", "scenario.log"), ("scenario.log",), ("console.log",)):
            txt = _read(os.path.join(gdir, *src))
            marks = [(float(m.group(3)), m.group(1), m.group(2)) for m in _JOB_MARK.finditer(txt)]
            if marks:
                break
        marks.sort()
        for line in _read(dmesg).splitlines():
            m = _DMESG_TS.match(line)
            ts, text = (float(m.group(1)), m.group(2)) if m else (None, line.strip())
            if not text or not INTEGRITY_RE.search(text) or INTEGRITY_NOISE_RE.search(text):
                continue
            sc = job = ""
            if ts is not None:
                for t, s, jn in marks:
                    if t <= ts:
                        sc, job = s, jn
                    else:
                        break
            out.append(KernelMsg(ts, text, g, sc, job, bool(INTEGRITY_ERROR_RE.search(text))))
    return out


def _dirs_with_fio(run_dir: str) -> list:
    found, _ = fiojson.scan_dir(run_dir)
    out = []
    for p in found:
        rel = os.path.relpath(os.path.dirname(p), run_dir)
        if rel.split(os.sep)[0].startswith("guest"):
            continue
        if rel not in out:
            out.append(rel)
    return out


def evaluate(run_dir: str) -> RunVerdict:
    run_dir = os.path.abspath(run_dir)
    try:
        meta = load_meta(run_dir)
    except MetaError:
        meta = {"run_id": os.path.basename(run_dir), "scenarios": {}}
    v = RunVerdict(str(meta.get("run_id") or os.path.basename(run_dir)), run_dir, meta=meta,
                   kernel=str((meta.get("kernel") or {}).get("release") or ""))
    clocks = {}
    for key, gname in (("guest", "guest"), ("cost_guest", "guest-cost")):
        g = meta.get(key)
        if not isinstance(g, dict) or "rc" not in g and "timed_out" not in g:
            continue
        clocks[key] = str(g.get("clock") or "")
        v.guests.append((gname, g))
        if g.get("timed_out"):
            v.problems.append(f"{gname}: boot timed out after {g.get('wall_s', '?')} s (see {gname}/console.log)")
        elif g.get("rc") not in (0, None):
            v.problems.append(f"{gname}: guest script exited {g.get('rc')} (see {gname}/console.log)")
    names = list((meta.get("scenarios") or {}).keys())
    for d in _dirs_with_fio(run_dir):
        if d not in names and d != ".":
            names.append(d)
    for name in names:
        sm = scenario_meta(meta, name)
        raw = (meta.get("scenarios") or {}).get(name) or {}
        cost = str(raw.get("pi_path") or "")
        sc = Scenario(name, kernel=v.kernel, stack=str(sm.get("stack") or ""),
                      format=str(sm.get("format_spec") or sm.get("format") or ""),
                      engine=str(sm.get("engine") or sm.get("ioengine") or ""), cost=cost,
                      clock=clocks.get("cost_guest" if cost else "guest", ""),
                      skipped=str(raw.get("skipped") or ""), failed=str(raw.get("failed") or ""))
        if not sc.stack and not sc.format:
            sc.stack, sc.format = (name.rsplit("/", 1) + [""])[:2] if "/" in name else ("", name)
        v.scenarios.append(sc)
        sdir = os.path.join(run_dir, name)
        if sc.skipped:
            continue
        if not os.path.isdir(sdir):
            sc.failed = sc.failed or "no results came back from the guest"
            continue
        cpu = _cpu_of(run_dir, sc)
        for job in _jobs_in_dir(sdir, raw):
            j = _read_job(run_dir, sc, job)
            j.cpu_us = cpu.get(job)
            sc.jobs.append(j)
    v.kernel_msgs = _kernel_msgs(run_dir)
    # scenarios that keep their own dmesg (lab/kernel_scenarios.py: cleared at the scenario's start)
    for sc in v.ran:
        for line in _read(os.path.join(run_dir, sc.name, "dmesg.txt")).splitlines():
            m = _DMESG_TS.match(line)
            ts, text = (float(m.group(1)), m.group(2)) if m else (None, line.strip())
            if text and INTEGRITY_RE.search(text) and not INTEGRITY_NOISE_RE.search(text):
                v.kernel_msgs.append(KernelMsg(ts, text, "", sc.name, "", bool(INTEGRITY_ERROR_RE.search(text))))
    return v


# ---------------------------------------------------------------- rendering --

def fmt_num(x, spec=".0f") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return format(x, spec)


def ratio(a, b) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


ENGINE_ORDER = ("pifio", "builtin")


def engines_of(group: dict) -> list:
    return [e for e in ENGINE_ORDER if e in group] + sorted(e for e in group if e not in ENGINE_ORDER)


def detail_rows(group: dict) -> tuple[list, list]:
    """(header, rows) of one group: per job, per engine the headline figures,
    then the pifio/builtin ratio. icount scenarios: guest CPU us per I/O only."""
    engs = engines_of(group)
    icount = any(s.icount for s in group.values())
    jobs = []
    for e in engs:
        for j in group[e].jobs:
            if j.name not in jobs:
                jobs.append(j.name)
    if icount:
        head = ["job"] + [f"{e} CPU us/IO" for e in engs] + (["ratio"] if len(engs) == 2 else []) + ["PI err", "status"]
    else:
        head = (["job", "dir"] + [f"{e} IOPS" for e in engs] + (["ratio"] if len(engs) == 2 else []) +
                [f"{e} p99 us" for e in engs] + ["PI err", "status"])
    rows = []
    for jn in jobs:
        by = {e: next((j for j in group[e].jobs if j.name == jn), None) for e in engs}
        errs = sum(j.pi_total + j.device_total for j in by.values() if j)
        status = "; ".join(f"{e}: {p}" for e, j in by.items() if j for p in j.problems) or "ok"
        if icount:
            vals = [by[e].cpu_us if by[e] else None for e in engs]
            row = [jn] + [fmt_num(x, ".1f") for x in vals]
            if len(engs) == 2:
                row.append(ratio(vals[0], vals[1]))
            rows.append(row + [str(errs), status])
            continue
        dirs = []
        for j in by.values():
            for dd in (j.iops if j else {}):
                if dd not in dirs:
                    dirs.append(dd)
        for dd in dirs or ["-"]:
            iops = [by[e].iops.get(dd) if by[e] else None for e in engs]
            p99 = [by[e].p99_us.get(dd) if by[e] else None for e in engs]
            row = [jn, dd] + [fmt_num(x) for x in iops]
            if len(engs) == 2:
                row.append(ratio(iops[0], iops[1]))
            rows.append(row + [fmt_num(x, ".1f") for x in p99] + [str(errs), status])
    return head, rows


def group_title(key: tuple) -> str:
    kernel, stack, fmt, cost = key
    if cost:
        return f"{kernel} | PI cost: {cost} ({fmt})"
    return f"{kernel} | {stack or '-'} | {fmt or '-'}"


def _table(head, rows) -> list:
    w = [max(len(str(x)) for x in col) for col in zip(head, *rows)] if rows else [len(h) for h in head]
    w[-1] = 0           # the status column is free text
    out = ["  " + "  ".join(f"{h:<{w[i]}}" if i == 0 or i == len(head) - 1 else f"{h:>{w[i]}}"
                            for i, h in enumerate(head)).rstrip()]
    for r in rows:
        out.append("  " + "  ".join(f"{c:<{w[i]}}" if i in (0, len(r) - 1) or (i == 1 and head[1] == "dir")
                                    else f"{c:>{w[i]}}" for i, c in enumerate(r)).rstrip())
    return out


def render_text(v: RunVerdict, details: bool = True) -> str:
    lines = [f"{v.headline()}", f"run {v.run_id} ({v.kernel or 'kernel not recorded'}): {v.run_dir}"]
    fails = v.failures()
    if fails:
        lines += ["", f"what failed ({len(fails)}):"]
        for where, what in fails:
            lines.append(f"  {where}: {what}")
    if v.skipped:
        lines += ["", f"skipped ({len(v.skipped)}):"]
        for why, names in v.skip_reasons():
            lines.append(f"  {len(names)} x {why}: {', '.join(names[:4])}{' …' if len(names) > 4 else ''}")
    if details:
        lines += ["", "details (kernel | stack | format; pifio beside fio's built-in engine, ratio = pifio/built-in):"]
        for key, group in v.groups():
            if all(s.skipped for s in group.values()):
                continue
            icount = any(s.icount for s in group.values())
            lines.append("")
            lines.append(group_title(key) + ("   [icount clock: guest CPU per I/O in us; IOPS not comparable, "
                                             "left out]" if icount else ""))
            failed = [f"{s.engine}: {s.failed}" for s in group.values() if s.failed]
            for f in failed:
                lines.append(f"  scenario failed: {f}")
            head, rows = detail_rows({e: s for e, s in group.items() if not s.skipped})
            if rows:
                lines += _table(head, rows)
        msgs = v.kernel_msgs
        if msgs:
            lines += ["", f"guest kernel messages about integrity ({len(msgs)}):"]
            for m in msgs[:40]:
                lines.append(f"  [{fmt_num(m.ts, '.3f')}] {m.where}: {m.text}")
            if len(msgs) > 40:
                lines.append(f"  … {len(msgs) - 40} more in {v.run_dir}/guest*/dmesg.txt")
        for g, info in v.guests:
            lines.append(f"{g}: clock {info.get('clock', '?')}, boot to /init {info.get('boot_s', '?')} s, "
                         f"wall {info.get('wall_s', '?')} s, rc {info.get('rc', '?')}"
                         f"{' TIMED OUT' if info.get('timed_out') else ''}")
    lines += ["", v.headline()]
    return "\n".join(lines) + "\n"


def summarize(run_dir: str, details: bool = True) -> str:
    """The terminal summary of `./pifio run`: headline, what failed, skips, details, headline again."""
    return render_text(evaluate(run_dir), details)


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python3 -m analysis.verdict", description="verdict of run directories")
    ap.add_argument("run_dir", nargs="+")
    ap.add_argument("--brief", action="store_true", help="headline and failures only")
    a = ap.parse_args(argv)
    rc = 0
    for d in a.run_dir:
        v = evaluate(d)
        print(render_text(v, not a.brief))
        rc = rc or (0 if v.ok else 1)
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
