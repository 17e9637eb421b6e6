"""Parser on genuine fio 3.41 output (see fixtures/README.md)."""
import gzip
import json
import os

import pytest

from analysis import fiojson, stats
from conftest import FIXTURES


def fx(name):
    return os.path.join(FIXTURES, name)


def test_plain_json():
    o = fiojson.parse_file(fx("small.json"))
    assert o.fio_version == "fio-3.41"
    assert not o.has_bins and not o.client_server
    assert [j.jobname for j in o.jobs] == ["randread-4k", "randwrite-4k"]
    rr, rw = o.jobs
    assert list(rr.dirs) == ["read"] and list(rw.dirs) == ["write"]
    assert rr.dirs["read"].iops > 1000 and rr.dirs["read"].total_ios > 1000
    assert rr.options["rw"] == "randread" and rr.options["bs"] == "4k"   # global merged into job
    assert rr.cpu_ns_per_io() > 0


def test_jsonplus_bins_reproduce_fio_percentiles():
    o = fiojson.parse_file(fx("small.jsonplus.json.gz"))
    assert o.has_bins
    checked = 0
    for j in o.jobs:
        for d in j.dirs.values():
            assert sum(c for _, c in d.bins) == d.clat_n
            for p, v in d.percentiles.items():
                assert stats.percentile_from_bins(d.bins, float(p)) == v, (j.jobname, p)
                checked += 1
    assert checked >= 30


def test_text_before_and_after_json():
    path = fx("normal-then-json.txt")
    text = open(path).read()
    assert not text.startswith("{") and "Run status group" in text.split("\n}\n")[-1]
    o = fiojson.parse_file(path)
    assert "Starting 2 processes" in o.prefix_text
    assert [j.jobname for j in o.jobs] == ["randread-4k", "randwrite-4k"]


@pytest.mark.parametrize("name,bins", [("client-server.jsonplus.out.gz", True), ("client-server.json.out", False)])
def test_client_server_two_hosts(name, bins):
    o = fiojson.parse_file(fx(name))
    assert o.client_server and o.has_bins == bins
    assert o.prefix_text.startswith("<vm>")
    hosts = {j.host for j in o.jobs if not j.aggregate}
    assert hosts == {"127.0.0.1:8766", "127.0.0.1:8767"}
    per_host = [j for j in o.jobs if not j.aggregate]
    assert len(per_host) == 4
    agg = [j for j in o.jobs if j.aggregate]
    assert len(agg) == 1 and agg[0].jobname == "All clients" and agg[0].host == "*"
    # the aggregate sums the hosts (fio adds read I/Os of both hosts)
    reads = sum(j.dirs["read"].total_ios for j in per_host if "read" in j.dirs)
    assert agg[0].dirs["read"].total_ios == reads
    # per-host global options ("global options" is a list in client output)
    assert all(j.options.get("ioengine") == "psync" for j in per_host)


def test_truncated_output_is_an_error(tmp_path):
    text = open(fx("small.json")).read()
    p = tmp_path / "cut.json"
    p.write_text(text[: len(text) // 2])
    with pytest.raises(fiojson.FioParseError, match="cut short"):
        fiojson.parse_file(str(p))


def test_not_fio(tmp_path):
    p = tmp_path / "x.json"
    p.write_text(json.dumps({"hello": 1}))
    with pytest.raises(fiojson.FioParseError, match="not fio JSON"):
        fiojson.parse_file(str(p))


def test_scan_dir_separates_fio_from_other(tmp_path):
    (tmp_path / "a.json").write_bytes(gzip.decompress(open(fx("small.jsonplus.json.gz"), "rb").read()))
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "a.pi.json").write_text("{}")
    found, other = fiojson.scan_dir(str(tmp_path))
    assert [os.path.basename(p) for p in found] == ["a.json"]
    assert sorted(os.path.basename(p) for p in other) == ["a.pi.json", "notes.txt"]
