"""pifio run metadata (results/<run-id>/meta.json) and engine PI reports.

The schema is documented in analysis/README.md. Only the fields listed in
FIXED_RUN_FIELDS and FIXED_SCENARIO_FIELDS take part in the "may these be
compared?" decision; everything else is informational.
"""
from __future__ import annotations

import json

from shared.runschema import SCHEMA, MetaError, load_meta, validate_meta  # noqa: F401 (analysis.meta's API)

# Run-level fields that must be equal across everything compared, unless
# named with --vary. The A/B axis (kernel release and patch series) is
# allowed to differ by default.
FIXED_RUN_FIELDS = (
    "host.hostname", "host.cpu", "host.accel", "host.qemu",
    # guest clock: "icount shift=N sleep=off" (times are instruction counts) or
    # "realtime"; figures in one are not comparable with the other
    "host.clock",
    "fio.version", "engine.version",
    "kernel.release", "kernel.series", "kernel.cmdline",
)
DEFAULT_VARY = ("kernel.release", "kernel.series")

# Scenario-level fields: a scenario whose fields differ between A and B is
# "not comparable" (the rest of the comparison goes on).
FIXED_SCENARIO_FIELDS = ("format", "stack", "ioengine", "pi_mode", "job_options")


def get_field(m: dict, dotted: str):
    cur = m
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def fixed_view(m: dict, vary=()) -> dict:
    return {f: get_field(m, f) for f in FIXED_RUN_FIELDS if f not in vary}


def scenario_meta(m: dict, scenario: str) -> dict:
    """Scenario fields with run-level defaults (format/stack/ioengine/pi_mode may sit at top level)."""
    sc = dict((m.get("scenarios") or {}).get(scenario) or {})
    for k in ("format", "stack", "ioengine", "pi_mode", "workload"):
        if k not in sc and k in m:
            sc[k] = m[k]
    return sc


# ---- engine PI reports ----------------------------------------------------

_FIELD_ALIASES = {
    "guard": "guard", "guard_errors": "guard",
    "apptag": "apptag", "app": "apptag", "app_tag": "apptag", "apptag_errors": "apptag",
    "reftag": "reftag", "ref": "reftag", "ref_tag": "reftag", "reftag_errors": "reftag",
}


def parse_pi_report(path: str) -> dict:
    """Read an engine PI report. Returns {guard, apptag, reftag, other, total,
    mismatches: [...], injected: int, raw: dict}. Accepts the field spellings the
    engine might use (guard / app|apptag|app_tag / ref|reftag|ref_tag) either at
    top level or under "counts"."""
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except OSError as e:
        raise MetaError(f"{path}: cannot read PI report: {e}") from e
    except json.JSONDecodeError as e:
        raise MetaError(f"{path}: PI report is not valid JSON: {e}") from e
    if not isinstance(raw, dict):
        raise MetaError(f"{path}: PI report must be a JSON object")
    counts = raw.get("counts", raw)
    if not isinstance(counts, dict):
        raise MetaError(f"{path}: 'counts' must be an object")
    out = {"guard": 0, "apptag": 0, "reftag": 0, "other": 0}
    seen = False
    for k, v in counts.items():
        key = _FIELD_ALIASES.get(str(k).lower())
        if key and isinstance(v, (int, float)):
            out[key] += int(v)
            seen = True
    for k in ("other", "io_errors", "nvme_errors"):
        if isinstance(counts.get(k), (int, float)):
            out["other"] += int(counts[k])
            seen = True
    mism = raw.get("mismatches") or raw.get("first_mismatches") or []
    if not seen and not mism and "total" not in counts:
        raise MetaError(f"{path}: PI report has no per-field counts "
                        "(want guard/apptag/reftag under 'counts' or at top level)")
    out["total"] = out["guard"] + out["apptag"] + out["reftag"] + out["other"]
    if isinstance(counts.get("total"), (int, float)) and int(counts["total"]) > out["total"]:
        out["other"] += int(counts["total"]) - out["total"]
        out["total"] = int(counts["total"])
    inj = raw.get("injected", [])
    out["injected"] = len(inj) if isinstance(inj, list) else int(inj or 0)
    out["mismatches"] = mism if isinstance(mism, list) else []
    out["raw"] = raw
    return out
