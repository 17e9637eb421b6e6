"""The run schema (results/<run-id>/meta.json, "pifio-run/1"): written by the
lab (lab.runs.meta, the one writer), read by analysis (analysis.meta). The
fields are documented in analysis/README.md."""
from __future__ import annotations

import datetime as dt
import json
import os

SCHEMA = "pifio-run/1"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def timestamp(t: dt.datetime) -> str:
    """started / finished: UTC, second resolution, e.g. 2026-01-24T22:15:00Z."""
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class MetaError(ValueError):
    pass


def load_meta(run_dir: str) -> dict:
    p = os.path.join(run_dir, "meta.json")
    try:
        with open(p, encoding="utf-8") as f:
            m = json.load(f)
    except OSError as e:
        raise MetaError(f"{p}: cannot read: {e}") from e
    except json.JSONDecodeError as e:
        raise MetaError(f"{p}: not valid JSON: {e}") from e
    validate_meta(m, p)
    if not m.get("run_id"):
        m["run_id"] = os.path.basename(os.path.normpath(run_dir))
    return m


def validate_meta(m: dict, where: str = "meta.json") -> None:
    if not isinstance(m, dict):
        raise MetaError(f"{where}: top level must be an object")
    schema = m.get("schema")
    if schema is not None and schema != SCHEMA:
        raise MetaError(f"{where}: schema is '{schema}', want '{SCHEMA}'")
    for sect in ("host", "kernel", "fio", "engine"):
        if sect in m and not isinstance(m[sect], dict):
            raise MetaError(f"{where}: '{sect}' must be an object, got {type(m[sect]).__name__}")
    sc = m.get("scenarios", {})
    if not isinstance(sc, dict):
        raise MetaError(f"{where}: 'scenarios' must be an object keyed by scenario name")
