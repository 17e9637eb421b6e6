"""Property tests (python3-hypothesis) of the parsers that read other hosts'
and kernels' output: analysis.fiojson (fio JSON / JSON+ with text around it)
and the lab's console marker parser. Whatever the input, the only exception
is the named parse error (FioParseError); the console parser never raises.

Run: /usr/bin/python3 tests/analysis/run_pytest.py tests/fuzz/test_parsers_props.py
PIFIO_HYPOTHESIS_EXAMPLES=N raises the examples per test (default 100).
"""
import copy
import gzip
import json
import os
import random
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

# Hypothesis keeps a cache (its unicode tables) in ./.hypothesis: not in the clone.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "pifio-hypothesis"))
hyp = pytest.importorskip("hypothesis", reason="python3-hypothesis not installed (./pifio setup installs it)")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from analysis import fiojson  # noqa: E402
from analysis.fiojson import FioParseError  # noqa: E402

# The console parser: the lab's one parser of the PIFIO-… markers.
from lab.guest.console import parse_log as console_markers  # noqa: E402

EXAMPLES = int(os.environ.get("PIFIO_HYPOTHESIS_EXAMPLES", "100"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FIXTURES = os.path.join(ROOT, "tests", "analysis", "fixtures")

# JSON values of every kind, including ones fio never writes.
scalars = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
           | st.sampled_from(["", "0", "1e400", "-1", "nan", "12.5", "abc"]))
json_values = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                           max_leaves=20)

DIR_KEYS = ["iops", "bw_bytes", "bw", "io_bytes", "io_kbytes", "total_ios", "runtime", "short_ios", "drop_ios",
            "clat_ns", "lat_ns", "slat_ns"]
CLAT_KEYS = ["mean", "stddev", "min", "max", "N", "percentile", "bins"]
JOB_KEYS = ["jobname", "groupid", "error", "job options", "usr_cpu", "sys_cpu", "job_runtime", "ctx", "hostname",
            "port", "read", "write", "trim"]


def fio_like(draw_value):
    """Objects shaped like fio's, with any value in any field."""
    clat = st.fixed_dictionaries({}, optional={k: draw_value for k in CLAT_KEYS}) | draw_value
    clat_bins = st.fixed_dictionaries({"bins": st.dictionaries(st.text(max_size=6) | st.integers().map(str),
                                                              draw_value, max_size=4)}) | clat
    ddir = st.fixed_dictionaries({}, optional={**{k: draw_value for k in DIR_KEYS}, "clat_ns": clat_bins}) | draw_value
    job = st.fixed_dictionaries({}, optional={**{k: draw_value for k in JOB_KEYS}, "jobname": st.text(max_size=8)
                                              | draw_value, "read": ddir, "write": ddir, "trim": ddir}) | draw_value
    gopts = st.dictionaries(st.text(max_size=8), draw_value, max_size=3) | st.lists(
        st.dictionaries(st.sampled_from(["hostname", "port", "bs", "rw"]), draw_value, max_size=3), max_size=3) \
        | draw_value
    return st.fixed_dictionaries({"fio version": draw_value},
                                 optional={"jobs": st.lists(job, max_size=3) | draw_value,
                                           "client_stats": st.lists(job, max_size=3) | draw_value,
                                           "global options": gopts, "timestamp": draw_value})


def parse_text(text):
    try:
        obj, prefix = fiojson.find_fio_json(text, "<prop>")
        return fiojson.parse_obj(obj, "<prop>", prefix)
    except FioParseError as e:
        assert str(e).startswith("<prop>: "), str(e)
        return None


def parse_obj(obj):
    try:
        out = fiojson.parse_obj(obj, "<prop>")
    except FioParseError as e:
        assert str(e).startswith("<prop>: "), str(e)
        return None
    # What a successful parse promises its readers.
    for j in out.jobs:
        assert isinstance(j.jobname, str) and isinstance(j.options, dict)
        for d in j.dirs.values():
            assert isinstance(d.iops, float) and isinstance(d.total_ios, int)
            assert d.bins is None or all(len(b) == 2 and all(isinstance(x, int) for x in b) for b in d.bins)
        j.cpu_ns_per_io()
    return out


@SETTINGS
@given(st.text(max_size=400))
def test_any_text(text):
    parse_text(text)


@SETTINGS
@given(st.lists(st.sampled_from(["{", "}", "[", "]", '"fio version"', ":", ",", '"jobs"', "\n", "x", '"a"', "1",
                                 "client_stats", "\n{", "null"]), max_size=60))
def test_json_shaped_text(parts):
    parse_text("".join(parts))


def test_deep_nesting():
    parse_text('{"fio version": "3.41", "jobs": ' + "[" * 100000 + "]" * 100000 + "}")
    parse_text("\n{" * 5000)


@SETTINGS
@given(fio_like(json_values), st.text(max_size=40), st.text(max_size=40))
def test_fio_shaped_objects(obj, before, after):
    parse_obj(obj)
    try:
        text = json.dumps(obj, allow_nan=True)
    except (ValueError, OverflowError):
        return
    parse_text(before + "\n" + text + "\n" + after)


def _fixture_objs():
    out = []
    for name in sorted(os.listdir(FIXTURES)):
        p = os.path.join(FIXTURES, name)
        if not os.path.isfile(p) or name.endswith(".md"):
            continue
        opener = gzip.open if name.endswith(".gz") else open
        with opener(p, "rt", errors="replace") as f:
            try:
                obj, _ = fiojson.find_fio_json(f.read(), p)
            except FioParseError:
                continue
        out.append(obj)
    return out


FIXTURE_OBJS = _fixture_objs()


def _paths(o, prefix=()):
    yield prefix
    if isinstance(o, dict):
        for k, v in o.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(o, list):
        for i, v in enumerate(o[:4]):
            yield from _paths(v, prefix + (i,))


@SETTINGS
@given(st.integers(min_value=0), st.lists(st.tuples(st.integers(min_value=0), json_values), min_size=1, max_size=3))
def test_real_output_with_fields_replaced(which, edits):
    """fio's real output (the analysis fixtures) with fields set to anything."""
    if not FIXTURE_OBJS:
        pytest.skip("no fio fixtures")
    obj = copy.deepcopy(FIXTURE_OBJS[which % len(FIXTURE_OBJS)])
    for at, value in edits:
        paths = list(_paths(obj))
        path = paths[at % len(paths)]
        if not path:
            obj = value if isinstance(value, dict) else obj
            continue
        parent = obj
        for k in path[:-1]:
            parent = parent[k]
        parent[path[-1]] = value
    if isinstance(obj, dict):
        parse_obj(obj)


@SETTINGS
@given(st.binary(max_size=300))
def test_files_of_any_bytes(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("fio")
    for name, blob in (("x.json", data), ("x.json.gz", data), ("y.json.gz", gzip.compress(data))):
        p = d / name
        p.write_bytes(blob)
        try:
            fiojson.parse_file(str(p))
        except FioParseError:
            pass
        fiojson.looks_like_fio(str(p))


# ------------------------------------------------------------ console markers --

MARKER_BITS = ["PIFIO-INIT uptime=", "PIFIO-READY uptime=", "PIFIO-RC ", " uptime=", "PIFIO-DONE", "PIFIO-WARN ",
               "Kernel panic", "1", "0.5", ".", "..", "1.2.3", "\n", " ", "99999999999999999999999", "\u0663", "x",
               "\r", "-", "e5"]


def check_markers(con):
    m = console_markers(con)
    assert isinstance(m, dict)
    for k in ("init_uptime", "ready_uptime", "rc_uptime"):
        assert k not in m or isinstance(m[k], float)
    assert "rc" not in m or isinstance(m["rc"], int)
    assert isinstance(m["done"], bool) and isinstance(m["warnings"], list)


@SETTINGS
@given(st.lists(st.sampled_from(MARKER_BITS), max_size=30))
def test_console_marker_fragments(parts):
    check_markers("".join(parts))


@SETTINGS
@given(st.text(max_size=500))
def test_console_any_text(text):
    check_markers(text)


def test_console_random_bytes():
    rnd = random.Random(15)
    for _ in range(200):
        raw = bytes(rnd.randrange(256) for _ in range(rnd.randrange(400)))
        check_markers(raw.decode("utf-8", errors="replace"))
