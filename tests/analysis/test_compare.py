"""./pifio compare end to end: verdicts, refusals, exit codes, --json."""
import json
import os
import shutil

import pytest

from analysis import cli, synth
from analysis.store import Store
from conftest import FIXTURES

SC = ["nvme-pt/randread", "dm-linear/randread"]


@pytest.fixture()
def results(tmp_path):
    r = tmp_path / "results"
    synth.make_set(str(r), "base", 10, SC, 1.0, 0.02, seed=1)
    synth.make_set(str(r), "same", 10, SC, 1.0, 0.02, seed=2)
    synth.make_set(str(r), "slow", 10, SC, 0.9, 0.02, seed=3, series="stacked-verify")
    synth.make_set(str(r), "fast", 10, SC, 1.1, 0.02, seed=4, series="fast-path")
    return str(r)


def run(argv, capsys):
    rc = cli.compare(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_regression_exit_1(results, capsys):
    rc, out, _ = run(["--results", results, "base-*", "slow-*"], capsys)
    assert rc == 1
    assert "+stacked-verify" in out and "REGRESSION" in out
    line = next(l for l in out.splitlines() if "read IOPS" in l)
    assert "regressed" in line and "-1" in line          # about -10%


def test_improvement_exit_0(results, capsys):
    rc, out, _ = run(["--results", results, "base-*", "fast-*", "--json"], capsys)
    assert rc == 0
    res = json.loads(out)
    iops = [r for r in res["rows"] if r["metric"] == "read IOPS"]
    assert len(iops) == 2 and all(r["verdict"] == "improved" for r in iops)
    assert all(8 < r["change_pct"] < 12 for r in iops)
    assert res["exit"] == 0 and res["refused"] is None


def test_same_config_within_noise(results, capsys):
    rc, out, _ = run(["--results", results, "base-*", "same-*", "--json"], capsys)
    res = json.loads(out)
    rate_rows = [r for r in res["rows"] if r["metric"].endswith(("IOPS", "BW"))]
    assert rate_rows and all(r["verdict"] == "within noise" for r in rate_rows)
    assert rc == 0


def test_refuses_different_fio_version(results, tmp_path, capsys):
    synth.make_set(results, "oldfio", 3, SC, 1.0, 0.02, seed=5, fio_version="fio-3.33")
    rc, out, err = run(["--results", results, "base-*", "oldfio-*"], capsys)
    assert rc == 2
    assert "fio.version" in out and "fio-3.33" in out and "--vary fio.version" in out
    rc, out, _ = run(["--results", results, "base-*", "oldfio-*", "--vary", "fio.version"], capsys)
    assert rc in (0, 1)


def test_refuses_mixed_side(results, capsys):
    rc, out, _ = run(["--results", results, "base-*,slow-000", "fast-*"], capsys)
    assert rc == 2 and "side A mixes" in out and "kernel.series" in out


def test_refuses_different_host_and_cmdline(results, capsys):
    synth.make_set(results, "otherhost", 3, SC, seed=6, host={"hostname": "elsewhere"})
    rc, out, _ = run(["--results", results, "base-*", "otherhost-*"], capsys)
    assert rc == 2 and "host.hostname" in out
    synth.make_set(results, "cmdl", 3, SC, seed=7, kernel={"cmdline": "quiet"})
    rc, out, _ = run(["--results", results, "base-*", "cmdl-*"], capsys)
    assert rc == 2 and "kernel.cmdline" in out


def test_refuses_icount_vs_realtime(results, capsys):
    # lab guests on QEMU's icount clock measure instruction counts, not host time
    synth.make_set(results, "icount", 3, SC, seed=8, host={"clock": "icount shift=0 sleep=off"})
    synth.make_set(results, "realtime", 3, SC, seed=9, host={"clock": "realtime"})
    rc, out, _ = run(["--results", results, "realtime-*", "icount-*"], capsys)
    assert rc == 2 and "host.clock" in out and "icount" in out
    rc, out, _ = run(["--results", results, "base-*", "icount-*"], capsys)     # base did not record it
    assert rc == 2 and "host.clock" in out


def test_scenario_option_difference_not_comparable(results, capsys):
    tpl = synth.load_template()
    tpl["global options"]["bs"] = "8k"
    for i in range(5):
        synth.write_run(results, f"bs8k-{i}", {s: synth.scaled(tpl, 1.0) for s in SC},
                        synth.meta(f"bs8k-{i}", series="x"))
    rc, out, _ = run(["--results", results, "base-*", "bs8k-*"], capsys)
    assert rc == 2
    assert "not comparable: job option bs: A '4k' vs B '8k'" in out


def test_missing_scenario_is_reported_not_fatal(results, capsys):
    for i in range(10):
        shutil.rmtree(os.path.join(results, f"fast-{i:03d}", "dm-linear"))
    rc, out, _ = run(["--results", results, "base-*", "fast-*"], capsys)
    assert rc == 0
    assert "only in A" in out


def test_pi_errors_regress(results, capsys):
    for i in range(3):
        synth.write_run(results, f"pibase-{i}", {"pt": synth.scaled(synth.load_template(), 1.0)},
                        synth.meta(f"pibase-{i}"), pi={"pt": {"counts": {"guard": 0, "apptag": 0, "reftag": 0}}})
        synth.write_run(results, f"pibad-{i}", {"pt": synth.scaled(synth.load_template(), 1.0)},
                        synth.meta(f"pibad-{i}", series="broken"),
                        pi={"pt": {"counts": {"guard": 0, "apptag": 0, "reftag": 2 if i == 1 else 0},
                                   "mismatches": [{"lba": 8, "field": "reftag", "got": 9, "want": 8}]}})
    rc, out, _ = run(["--results", results, "pibase-*", "pibad-*"], capsys)
    assert rc == 1
    head = [l for l in out.splitlines() if l.startswith("  regression of")]
    assert len(head) == 2 and all("PI errors: total 0 vs 2" in l for l in head), out
    assert out.splitlines()[0].startswith("REGRESSION: 2 regressed")
    line = [l for l in out.splitlines() if "PI errors" in l and not l.startswith("  regression of")]
    assert len(line) == 2 and all("regressed" in l for l in line)
    st = Store.for_results(results)
    assert st.db.execute("SELECT sum(reftag) FROM pi_reports WHERE run_key='pibad-1'").fetchone()[0] == 2


def test_plain_directories_and_usage_errors(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    runs = os.path.join(FIXTURES, "plain-runs")
    shutil.copy(os.path.join(runs, "run1.json.gz"), a)
    shutil.copy(os.path.join(runs, "run2.json.gz"), a)
    shutil.copy(os.path.join(runs, "run3.json.gz"), b)
    rc, out, _ = run([str(a), str(b), "--json"], capsys)
    res = json.loads(out)
    assert rc == 0 and {r["scenario"] for r in res["rows"]} == {"randread-4k", "randwrite-4k"}
    assert all(r["n_a"] == 2 and r["n_b"] == 1 for r in res["rows"])
    rc, _, err = run([str(a), str(tmp_path / "nope")], capsys)
    assert rc == 2 and "nope" in err
    rc, out, _ = run([str(a), str(a)], capsys)
    assert rc == 2 and "same run is on both sides" in out
    (b / "broken.json").write_text('{"fio version": "fio-3.41", "jobs": [')
    rc, _, err = run([str(a), str(b)], capsys)
    assert rc == 2 and "broken.json" in err
    rc, _, err = run([str(a), str(b), "--skip-bad"], capsys)
    assert rc == 0 and "skipped unparsable" in err


def test_client_server_per_host_rows(tmp_path, capsys):
    rc, out, _ = run([os.path.join(FIXTURES, "client-server.jsonplus.out.gz"),
                      os.path.join(FIXTURES, "client-server.json.out"), "--json"], capsys)
    res = json.loads(out)
    sc = {r["scenario"] for r in res["rows"]}
    assert {"randread-4k@127.0.0.1:8766", "randread-4k@127.0.0.1:8767", "All clients@*"} <= sc
    rc, out, _ = run([os.path.join(FIXTURES, "client-server.jsonplus.out.gz"),
                      os.path.join(FIXTURES, "client-server.json.out"), "--json", "--no-aggregate"], capsys)
    assert "All clients@*" not in {r["scenario"] for r in json.loads(out)["rows"]}
