"""Parse fio output: JSON, JSON+, client/server, with text around the JSON.

fio may print text before its JSON (job banners, "Starting N processes",
warnings, `--output-format=normal,json`, and `<host>` lines from
`--client`) and after it (normal output). We find the JSON object that carries
"fio version" and ignore the rest.

One parsed file gives one or more `JobResult`s: one per job, or with
`--client`, one per job per host plus the "All clients" aggregate
(`aggregate=True`). Nothing is averaged here: values are kept per job.
"""
from __future__ import annotations

import gzip
import json
import os
import zlib
from dataclasses import dataclass, field

DDIRS = ("read", "write", "trim")


class FioParseError(ValueError):
    """A file that should hold fio output but cannot be read as such."""


@dataclass
class DirStats:
    """One data direction of one job."""
    iops: float
    bw_bytes: float          # bytes/s
    io_bytes: int
    total_ios: int
    runtime_ms: int
    clat_mean_ns: float
    clat_stddev_ns: float
    clat_min_ns: int
    clat_max_ns: int
    clat_n: int
    lat_mean_ns: float
    slat_mean_ns: float
    percentiles: dict        # {"99.000000": ns} as fio printed them
    bins: list | None        # [[value_ns, count], ...] sorted, JSON+ only
    short_ios: int = 0
    drop_ios: int = 0


@dataclass
class JobResult:
    jobname: str
    groupid: int
    error: int
    options: dict            # global options merged with the job's ("job options": explicit only)
    usr_cpu: float           # % of job runtime
    sys_cpu: float
    job_runtime_ms: int
    ctx: int
    dirs: dict = field(default_factory=dict)   # ddir -> DirStats, only directions that did I/O
    host: str = ""           # "hostname:port" for --client output, "" otherwise
    aggregate: bool = False  # the "All clients" entry of --client output

    @property
    def total_ios(self) -> int:
        return sum(d.total_ios for d in self.dirs.values())

    def cpu_ns_per_io(self) -> float | None:
        """usr+sys CPU time per completed I/O, in ns (None without I/O)."""
        n = self.total_ios
        if n <= 0 or self.job_runtime_ms <= 0:
            return None
        cpu_ns = (self.usr_cpu + self.sys_cpu) / 100.0 * self.job_runtime_ms * 1e6
        return cpu_ns / n


@dataclass
class FioOutput:
    path: str
    fio_version: str
    timestamp: int
    global_options: dict
    jobs: list               # [JobResult]
    has_bins: bool
    client_server: bool
    prefix_text: str = ""    # text fio printed before the JSON (kept for diagnostics)


def read_text(path: str) -> str:
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise FioParseError(f"{path}: cannot read: {e}") from e


def find_fio_json(text: str, path: str = "<text>") -> tuple[dict, str]:
    """Return (the fio JSON object, the text before it).

    Tries every '{' that starts a line (fio's JSON starts at column 0), then
    any '{', and keeps the first object that decodes and carries "fio version".
    """
    dec = json.JSONDecoder()
    starts = []
    if text.startswith("{"):
        starts.append(0)
    i = text.find("\n{")
    while i >= 0:
        starts.append(i + 1)
        i = text.find("\n{", i + 1)
    tried = set(starts)
    last_err = None
    for pass_starts in (starts, None):
        if pass_starts is None:
            pass_starts = [k for k in range(len(text)) if text[k] == "{" and k not in tried][:200]
        for s in pass_starts:
            try:
                obj, _ = dec.raw_decode(text, s)
            except (json.JSONDecodeError, RecursionError) as e:   # RecursionError: nested too deep
                last_err = e
                continue
            if isinstance(obj, dict) and "fio version" in obj:
                return obj, text[:s]
    if "fio version" in text or '"jobs"' in text or "client_stats" in text:
        where = f" (last JSON error: {last_err})" if last_err else ""
        raise FioParseError(f"{path}: looks like fio output but no complete JSON object with "
                            f"\"fio version\" was found{where}; was the run cut short?")
    raise FioParseError(f"{path}: not fio JSON output (no \"fio version\" object); "
                        "run fio with --output-format=json or json+")


def looks_like_fio(path: str) -> bool:
    """Cheap sniff used when scanning directories."""
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            head = f.read(1 << 20)
    except (OSError, EOFError, zlib.error):
        return False
    return '"fio version"' in head


def _num(d, key, default=0):
    v = d.get(key, default)
    return default if v is None else v


def _dir_stats(dd: dict) -> DirStats:
    clat = dd.get("clat_ns") or {}
    lat = dd.get("lat_ns") or {}
    slat = dd.get("slat_ns") or {}
    bins = clat.get("bins")
    if bins is not None:
        bins = sorted([int(k), int(v)] for k, v in bins.items())
    return DirStats(
        iops=float(_num(dd, "iops", 0.0)),
        bw_bytes=float(_num(dd, "bw_bytes", _num(dd, "bw", 0) * 1024)),
        io_bytes=int(_num(dd, "io_bytes", _num(dd, "io_kbytes", 0) * 1024)),
        total_ios=int(_num(dd, "total_ios", 0)),
        runtime_ms=int(_num(dd, "runtime", 0)),
        clat_mean_ns=float(_num(clat, "mean", 0.0)),
        clat_stddev_ns=float(_num(clat, "stddev", 0.0)),
        clat_min_ns=int(_num(clat, "min", 0)),
        clat_max_ns=int(_num(clat, "max", 0)),
        clat_n=int(_num(clat, "N", 0)),
        lat_mean_ns=float(_num(lat, "mean", 0.0)),
        slat_mean_ns=float(_num(slat, "mean", 0.0)),
        percentiles=dict(clat.get("percentile") or {}),
        bins=bins,
        short_ios=int(_num(dd, "short_ios", 0)),
        drop_ios=int(_num(dd, "drop_ios", 0)),
    )


def _job(j: dict, global_opts: dict, path: str) -> JobResult:
    if "jobname" not in j:
        raise FioParseError(f"{path}: job entry without 'jobname'")
    opts = dict(global_opts)
    opts.update(j.get("job options") or {})
    opts.pop("hostname", None)
    opts.pop("port", None)
    dirs = {}
    for dd in DDIRS:
        if dd in j and isinstance(j[dd], dict):
            st = _dir_stats(j[dd])
            if st.total_ios > 0 or st.io_bytes > 0:
                dirs[dd] = st
    host = ""
    if "hostname" in j:
        host = f"{j['hostname']}:{j['port']}" if "port" in j else str(j["hostname"])
    return JobResult(
        jobname=str(j["jobname"]),
        groupid=int(_num(j, "groupid", 0)),
        error=int(_num(j, "error", 0)),
        options=opts,
        usr_cpu=float(_num(j, "usr_cpu", 0.0)),
        sys_cpu=float(_num(j, "sys_cpu", 0.0)),
        job_runtime_ms=int(_num(j, "job_runtime", 0)),
        ctx=int(_num(j, "ctx", 0)),
        dirs=dirs,
        host=host,
        aggregate=(j["jobname"] == "All clients"),
    ) if j["jobname"] != "All clients" else _aggregate(j, host, opts, dirs, path)


def _aggregate(j, host, opts, dirs, path):
    # fio names the summed entry "All clients" and tags it with one of the hosts;
    # its host is all of them.
    return JobResult(jobname="All clients", groupid=int(_num(j, "groupid", 0)), error=int(_num(j, "error", 0)),
                     options=opts, usr_cpu=float(_num(j, "usr_cpu", 0.0)), sys_cpu=float(_num(j, "sys_cpu", 0.0)),
                     job_runtime_ms=int(_num(j, "job_runtime", 0)), ctx=int(_num(j, "ctx", 0)), dirs=dirs,
                     host="*", aggregate=True)


def parse_obj(obj: dict, path: str = "<obj>", prefix_text: str = "") -> FioOutput:
    """FioOutput of a decoded fio JSON object; FioParseError for any object
    fio would not have written (a field of the wrong type, a bad number)."""
    try:
        return _parse_obj(obj, path, prefix_text)
    except FioParseError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError, RecursionError) as e:
        raise FioParseError(f"{path}: fio JSON of an unexpected shape ({type(e).__name__}: {e})") from e


def _parse_obj(obj: dict, path: str, prefix_text: str) -> FioOutput:
    if not isinstance(obj, dict):
        raise FioParseError(f"{path}: fio JSON is not an object")
    gopts = obj.get("global options") or {}
    client = "client_stats" in obj
    # --client output: "global options" is a list, one entry per host.
    per_host_gopts = {}
    if isinstance(gopts, list):
        for g in gopts:
            key = f"{g.get('hostname')}:{g.get('port')}" if "port" in g else str(g.get("hostname", ""))
            per_host_gopts[key] = {k: v for k, v in g.items() if k not in ("hostname", "port")}
        gopts = {}
    entries = obj.get("client_stats") if client else obj.get("jobs")
    if entries is None:
        raise FioParseError(f"{path}: fio JSON without 'jobs' or 'client_stats'")
    jobs = []
    for j in entries:
        host = f"{j.get('hostname')}:{j.get('port')}" if "hostname" in j else ""
        g = per_host_gopts.get(host, gopts)
        jobs.append(_job(j, g, path))
    has_bins = any(d.bins is not None for jr in jobs for d in jr.dirs.values())
    return FioOutput(path=path, fio_version=str(obj.get("fio version", "")),
                     timestamp=int(_num(obj, "timestamp", 0)), global_options=gopts,
                     jobs=jobs, has_bins=has_bins, client_server=client, prefix_text=prefix_text)


def parse_file(path: str) -> FioOutput:
    text = read_text(path)
    obj, prefix = find_fio_json(text, path)
    return parse_obj(obj, path, prefix)


def is_candidate(name: str) -> bool:
    """File names that may carry fio output when scanning a plain directory."""
    base = name[:-3] if name.endswith(".gz") else name
    return base.endswith((".json", ".out", ".txt", ".log")) and not base.endswith((".pi.json", "meta.json"))


def scan_dir(root: str) -> tuple[list[str], list[str]]:
    """(fio output files, other files) under root, sorted, recursive."""
    found, other = [], []
    for dirpath, dirnames, files in os.walk(root):
        dirnames.sort()
        for n in sorted(files):
            p = os.path.join(dirpath, n)
            if is_candidate(n) and looks_like_fio(p):
                found.append(p)
            else:
                other.append(p)
    return found, other
