"""Results store: SQLite, one file per results directory (results/pifio.sqlite).

Raw values only: one row per (fio output file, job entry) in `samples`, one
row per data direction in `dirstats` with its histogram bins; statistics are
computed when asked. Schema: SCHEMA below, documented in analysis/README.md.

Ingest is incremental and idempotent: a file whose size and mtime did not
change since it was stored is not read again; a changed file replaces its
rows. A file that looks like fio output but does not parse is an error (no
silent data loss) unless the caller asks to skip bad files, and then it is
listed in `bad_files`.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from dataclasses import dataclass, field

import numpy as np

from . import fiojson
from .meta import MetaError, load_meta, parse_pi_report

STORE_NAME = "pifio.sqlite"
SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
    run_key TEXT PRIMARY KEY,      -- run id (results dir) or 'plain:<abs path of file>'
    kind TEXT NOT NULL,            -- 'run' (has meta.json) or 'plain' (a bare fio output file)
    source TEXT NOT NULL,          -- directory (run) or file (plain)
    started TEXT,                  -- ISO 8601 from meta.json, or fio's timestamp
    meta TEXT NOT NULL,            -- meta.json as stored (plain: synthesized from the fio JSON)
    kernel_release TEXT, kernel_series TEXT, fio_version TEXT, engine_version TEXT, hostname TEXT,
    night TEXT,                    -- nightly label (meta.labels.night or set by ./pifio nightly)
    ingested_at REAL
);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, run_key TEXT NOT NULL, size INTEGER, mtime_ns INTEGER, kind TEXT
);
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY,
    run_key TEXT NOT NULL, file TEXT NOT NULL,
    scenario TEXT NOT NULL,        -- directory of the file relative to the run ('' at the top)
    jobname TEXT NOT NULL,
    host TEXT NOT NULL,            -- 'hostname:port' for fio --client output, '*' for "All clients", '' otherwise
    aggregate INTEGER NOT NULL,    -- 1 for the "All clients" entry
    groupid INTEGER, error INTEGER,
    options TEXT,                  -- JSON: global + job options as fio printed them (explicit only)
    usr_cpu REAL, sys_cpu REAL, job_runtime_ms INTEGER, ctx INTEGER,
    total_ios INTEGER, cpu_ns_per_io REAL,
    pi_errors INTEGER              -- sum of matching engine PI reports, NULL when there is none
);
CREATE INDEX IF NOT EXISTS samples_run ON samples(run_key);
CREATE TABLE IF NOT EXISTS dirstats (
    sample_id INTEGER NOT NULL, ddir TEXT NOT NULL,   -- read / write / trim
    iops REAL, bw_bytes REAL, io_bytes INTEGER, total_ios INTEGER, runtime_ms INTEGER,
    clat_mean_ns REAL, clat_stddev_ns REAL, clat_min_ns INTEGER, clat_max_ns INTEGER, clat_n INTEGER,
    lat_mean_ns REAL, slat_mean_ns REAL,
    percentiles TEXT,              -- JSON {"99.000000": ns} as fio printed them
    bins BLOB,                     -- JSON+ clat_ns.bins as little-endian int64 pairs (value_ns, count),
                                   -- sorted by value; NULL for plain JSON. numpy: frombuffer('<i8').reshape(-1, 2)
    PRIMARY KEY (sample_id, ddir)
);
CREATE TABLE IF NOT EXISTS pi_reports (
    run_key TEXT NOT NULL, scenario TEXT NOT NULL, file TEXT NOT NULL, jobname TEXT,
    guard INTEGER, apptag INTEGER, reftag INTEGER, other INTEGER, total INTEGER, injected INTEGER,
    mismatches TEXT,               -- JSON list, first N as the engine wrote them
    raw TEXT
);
CREATE TABLE IF NOT EXISTS skips (run_key TEXT NOT NULL, scenario TEXT NOT NULL, reason TEXT);
CREATE TABLE IF NOT EXISTS comparisons (
    id INTEGER PRIMARY KEY, created REAL, name TEXT, a_runs TEXT, b_runs TEXT, result TEXT
);
"""


def bins_blob(bins) -> bytes:
    return np.asarray(bins, dtype="<i8").reshape(-1, 2).tobytes()


def bins_from_blob(b):
    """(n, 2) int64 array of (value_ns, count), or None."""
    if b is None:
        return None
    return np.frombuffer(b, dtype="<i8").reshape(-1, 2)


class StoreError(RuntimeError):
    pass


@dataclass
class IngestReport:
    runs: int = 0
    files: int = 0
    skipped_unchanged: int = 0
    samples: int = 0
    pi_reports: int = 0
    ignored: list = field(default_factory=list)    # files that are not fio output
    bad_files: list = field(default_factory=list)  # (path, message) when skip_bad

    def merge(self, o: "IngestReport"):
        self.runs += o.runs
        self.files += o.files
        self.skipped_unchanged += o.skipped_unchanged
        self.samples += o.samples
        self.pi_reports += o.pi_reports
        self.ignored += o.ignored
        self.bad_files += o.bad_files


def is_run_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "meta.json"))


def options_hash(opts: dict) -> str:
    return hashlib.sha1(json.dumps(opts, sort_keys=True).encode()).hexdigest()[:8]


class Store:
    def __init__(self, path: str = ":memory:"):
        self.path = path
        try:
            self.db = sqlite3.connect(path)
        except sqlite3.Error as e:
            raise StoreError(f"{path}: cannot open results store: {e}") from e
        self.db.executescript(SCHEMA)
        cur = self.db.execute("SELECT value FROM info WHERE key='schema_version'").fetchone()
        if cur is None:
            self.db.execute("INSERT INTO info VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(cur[0]) != SCHEMA_VERSION:
            raise StoreError(f"{path}: store schema {cur[0]}, this pifio wants {SCHEMA_VERSION}; "
                             "delete the file and it is rebuilt from the results directory")
        self.db.commit()

    @classmethod
    def for_results(cls, results_dir: str) -> "Store":
        os.makedirs(results_dir, exist_ok=True)
        return cls(os.path.join(results_dir, STORE_NAME))

    def close(self):
        self.db.close()

    # ---- ingest ---------------------------------------------------------

    def _unchanged(self, path: str) -> bool:
        st = os.stat(path)
        row = self.db.execute("SELECT size, mtime_ns FROM files WHERE path=?", (path,)).fetchone()
        return row is not None and row[0] == st.st_size and row[1] == st.st_mtime_ns

    def _forget_file(self, path: str):
        ids = [r[0] for r in self.db.execute("SELECT id FROM samples WHERE file=?", (path,))]
        if ids:
            q = ",".join("?" * len(ids))
            self.db.execute(f"DELETE FROM dirstats WHERE sample_id IN ({q})", ids)
            self.db.execute(f"DELETE FROM samples WHERE id IN ({q})", ids)
        self.db.execute("DELETE FROM pi_reports WHERE file=?", (path,))
        self.db.execute("DELETE FROM files WHERE path=?", (path,))

    def _note_file(self, path, run_key, kind):
        st = os.stat(path)
        self.db.execute("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?)",
                        (path, run_key, st.st_size, st.st_mtime_ns, kind))

    def _upsert_run(self, run_key, kind, source, meta, started, night=None):
        k = meta.get("kernel") or {}
        self.db.execute(
            "INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (run_key, kind, source, started, json.dumps(meta, sort_keys=True),
             k.get("release"), k.get("series"), (meta.get("fio") or {}).get("version"),
             (meta.get("engine") or {}).get("version"), (meta.get("host") or {}).get("hostname"),
             night if night is not None else (meta.get("labels") or {}).get("night"), time.time()))

    def _insert_output(self, out: fiojson.FioOutput, run_key: str, scenario: str, pi_by_job: dict):
        n = 0
        for jr in out.jobs:
            pi = pi_by_job.get(jr.jobname, pi_by_job.get(None))
            cur = self.db.execute(
                "INSERT INTO samples (run_key, file, scenario, jobname, host, aggregate, groupid, error, options,"
                " usr_cpu, sys_cpu, job_runtime_ms, ctx, total_ios, cpu_ns_per_io, pi_errors)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run_key, out.path, scenario, jr.jobname, jr.host, int(jr.aggregate), jr.groupid, jr.error,
                 json.dumps(jr.options, sort_keys=True), jr.usr_cpu, jr.sys_cpu, jr.job_runtime_ms, jr.ctx,
                 jr.total_ios, jr.cpu_ns_per_io(), pi))
            sid = cur.lastrowid
            self.db.executemany(
                "INSERT INTO dirstats VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(sid, dd, s.iops, s.bw_bytes, s.io_bytes, s.total_ios, s.runtime_ms, s.clat_mean_ns,
                  s.clat_stddev_ns, s.clat_min_ns, s.clat_max_ns, s.clat_n, s.lat_mean_ns, s.slat_mean_ns,
                  json.dumps(s.percentiles), None if s.bins is None else bins_blob(s.bins))
                 for dd, s in jr.dirs.items()])
            n += 1
        return n

    def _parse(self, path, rep: IngestReport, skip_bad: bool):
        try:
            return fiojson.parse_file(path)
        except fiojson.FioParseError as e:
            if not skip_bad:
                raise
            rep.bad_files.append((path, str(e)))
            return None

    def ingest_run_dir(self, run_dir: str, skip_bad=False, night=None) -> IngestReport:
        """results/<run-id>/: meta.json, <scenario>/<job>.json (+ <job>.pi.json)."""
        run_dir = os.path.abspath(run_dir)
        rep = IngestReport(runs=1)
        try:
            meta = load_meta(run_dir)
        except MetaError as e:
            raise StoreError(str(e)) from e
        run_key = str(meta["run_id"])
        row = self.db.execute("SELECT source FROM runs WHERE run_key=?", (run_key,)).fetchone()
        if row and row[0] != run_dir:
            raise StoreError(f"run id '{run_key}' is already stored from {row[0]}, now also found at "
                             f"{run_dir}; run ids must be unique within a results directory")
        prev_night = self.db.execute("SELECT night FROM runs WHERE run_key=?", (run_key,)).fetchone()
        self._upsert_run(run_key, "run", run_dir, meta, meta.get("started"),
                         night if night is not None else (prev_night[0] if prev_night else None))
        self.db.execute("DELETE FROM skips WHERE run_key=?", (run_key,))
        for sc, sm in (meta.get("scenarios") or {}).items():
            if isinstance(sm, dict) and sm.get("skipped"):
                self.db.execute("INSERT INTO skips VALUES (?,?,?)", (run_key, sc, str(sm["skipped"])))
        fio_files, other = fiojson.scan_dir(run_dir)
        for p in other:
            if p.endswith(".pi.json") or os.path.basename(p) in ("meta.json", STORE_NAME):
                continue
            rep.ignored.append(p)
        for p in fio_files:
            scenario = os.path.relpath(os.path.dirname(p), run_dir)
            scenario = "" if scenario == "." else scenario
            pi_files = self._pi_reports_for(p)
            if self._unchanged(p) and all(self._unchanged(q) for q in pi_files):
                rep.skipped_unchanged += 1
                continue
            out = self._parse(p, rep, skip_bad)
            if out is None:
                continue
            self._forget_file(p)
            pi_by_job = {}
            for q in pi_files:
                self._forget_file(q)
                try:
                    r = parse_pi_report(q)
                except MetaError as e:
                    if not skip_bad:
                        raise StoreError(str(e)) from e
                    rep.bad_files.append((q, str(e)))
                    continue
                job = r["raw"].get("job") if isinstance(r["raw"].get("job"), str) else None
                pi_by_job[job] = pi_by_job.get(job, 0) + r["total"]
                self.db.execute("INSERT INTO pi_reports VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                                (run_key, scenario, q, job, r["guard"], r["apptag"], r["reftag"], r["other"],
                                 r["total"], r["injected"], json.dumps(r["mismatches"][:64]),
                                 json.dumps(r["raw"])[:200000]))
                self._note_file(q, run_key, "pi")
                rep.pi_reports += 1
            if None in pi_by_job:   # a report without a job name covers every job of that file
                for jr in out.jobs:
                    if jr.jobname in pi_by_job:
                        pi_by_job[jr.jobname] += pi_by_job[None]
            rep.samples += self._insert_output(out, run_key, scenario, pi_by_job)
            self._note_file(p, run_key, "fio")
            rep.files += 1
        self.db.commit()
        return rep

    @staticmethod
    def _pi_reports_for(fio_path: str) -> list:
        d = os.path.dirname(fio_path)
        base = os.path.basename(fio_path)
        for ext in (".gz", ".json", ".out", ".txt", ".log"):
            if base.endswith(ext):
                base = base[: -len(ext)]
        try:
            names = os.listdir(d)
        except OSError:
            return []
        return sorted(os.path.join(d, n) for n in names
                      if n.endswith(".pi.json") and (n == base + ".pi.json" or n.startswith(base + ".")))

    def ingest_plain_file(self, path: str, skip_bad=False) -> IngestReport:
        path = os.path.abspath(path)
        rep = IngestReport()
        run_key = "plain:" + path
        if self._unchanged(path):
            rep.skipped_unchanged += 1
            return rep
        out = self._parse(path, rep, skip_bad)
        if out is None:
            return rep
        self._forget_file(path)
        meta = {"schema": "pifio-run/1", "run_id": run_key, "fio": {"version": out.fio_version},
                "labels": {"source": "plain fio output"}}
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(out.timestamp)) if out.timestamp else None
        self._upsert_run(run_key, "plain", path, meta, started)
        rep.samples += self._insert_output(out, run_key, "", {})
        self._note_file(path, run_key, "fio")
        rep.files += 1
        rep.runs += 1
        self.db.commit()
        return rep

    def ingest_plain_dir(self, d: str, skip_bad=False) -> tuple[IngestReport, list]:
        """Every fio output file under d is one run. Returns (report, run keys)."""
        rep = IngestReport()
        files, other = fiojson.scan_dir(d)
        rep.ignored += other
        keys = []
        for p in files:
            r = self.ingest_plain_file(p, skip_bad)
            rep.merge(r)
            if not any(b[0] == os.path.abspath(p) for b in r.bad_files):
                keys.append("plain:" + os.path.abspath(p))
        return rep, keys

    def ingest_results(self, results_dir: str, skip_bad=False) -> tuple[IngestReport, list]:
        """Every run directory (with meta.json) directly under results_dir."""
        rep = IngestReport()
        keys = []
        for n in sorted(os.listdir(results_dir)):
            p = os.path.join(results_dir, n)
            if os.path.isdir(p) and is_run_dir(p):
                rep.merge(self.ingest_run_dir(p, skip_bad))
                keys.append(self.run_key_of(p))
        return rep, keys

    def run_key_of(self, run_dir: str) -> str:
        row = self.db.execute("SELECT run_key FROM runs WHERE source=?", (os.path.abspath(run_dir),)).fetchone()
        if row is None:
            raise StoreError(f"{run_dir}: not ingested")
        return row[0]

    # ---- queries --------------------------------------------------------

    def runs(self, keys=None) -> list[dict]:
        q = "SELECT run_key, kind, source, started, meta, night FROM runs"
        rows = self.db.execute(q + " ORDER BY started, run_key").fetchall()
        out = []
        for r in rows:
            if keys is not None and r[0] not in keys:
                continue
            out.append({"run_key": r[0], "kind": r[1], "source": r[2], "started": r[3],
                        "meta": json.loads(r[4]), "night": r[5]})
        return out

    def set_night(self, run_key: str, night: str):
        self.db.execute("UPDATE runs SET night=? WHERE run_key=?", (night, run_key))
        self.db.commit()

    def skips(self, keys) -> list:
        q = ",".join("?" * len(keys))
        return self.db.execute(f"SELECT run_key, scenario, reason FROM skips WHERE run_key IN ({q})",
                               list(keys)).fetchall() if keys else []

    def samples(self, keys, include_aggregate=True) -> list[dict]:
        """Samples of the given runs with their directions, in a flat list of dicts."""
        if not keys:
            return []
        keys = list(keys)
        out = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = ",".join("?" * len(chunk))
            for r in self.db.execute(
                    f"SELECT id, run_key, file, scenario, jobname, host, aggregate, error, options, usr_cpu,"
                    f" sys_cpu, job_runtime_ms, total_ios, cpu_ns_per_io, pi_errors FROM samples"
                    f" WHERE run_key IN ({q}) ORDER BY id", chunk):
                if r[6] and not include_aggregate:
                    continue
                out[r[0]] = {"id": r[0], "run_key": r[1], "file": r[2], "scenario": r[3], "jobname": r[4],
                             "host": r[5], "aggregate": bool(r[6]), "error": r[7], "options": json.loads(r[8]),
                             "usr_cpu": r[9], "sys_cpu": r[10], "job_runtime_ms": r[11], "total_ios": r[12],
                             "cpu_ns_per_io": r[13], "pi_errors": r[14], "dirs": {}}
            for r in self.db.execute(
                    f"SELECT d.sample_id, d.ddir, d.iops, d.bw_bytes, d.total_ios, d.clat_mean_ns, d.lat_mean_ns,"
                    f" d.percentiles, d.bins, d.clat_n FROM dirstats d JOIN samples s ON s.id = d.sample_id"
                    f" WHERE s.run_key IN ({q})", chunk):
                s = out.get(r[0])
                if s is None:
                    continue
                s["dirs"][r[1]] = {"iops": r[2], "bw_bytes": r[3], "total_ios": r[4], "clat_mean_ns": r[5],
                                   "lat_mean_ns": r[6], "percentiles": json.loads(r[7]) if r[7] else {},
                                   "bins": bins_from_blob(r[8]), "clat_n": r[9]}
        return list(out.values())

    def save_comparison(self, name, a_runs, b_runs, result: dict):
        self.db.execute("INSERT INTO comparisons (created, name, a_runs, b_runs, result) VALUES (?,?,?,?,?)",
                        (time.time(), name, json.dumps(a_runs), json.dumps(b_runs), json.dumps(result)))
        self.db.commit()

    def comparisons(self) -> list[dict]:
        return [{"id": r[0], "created": r[1], "name": r[2], "a_runs": json.loads(r[3]),
                 "b_runs": json.loads(r[4]), "result": json.loads(r[5])}
                for r in self.db.execute("SELECT id, created, name, a_runs, b_runs, result FROM comparisons"
                                         " ORDER BY id")]
