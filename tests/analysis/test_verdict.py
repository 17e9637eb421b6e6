"""The run verdict (analysis/verdict.py): headline counts, only what failed, then details."""
import json
import os

import pytest

from analysis import synth, verdict

FAILING = "4096p8-t1.none.pifio"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    r = str(tmp_path_factory.mktemp("results"))
    return {"pass": synth.lab_run(r, "ok-7.3", seed=1),
            "fail": synth.lab_run(r, "bad-7.3", fail_reftag=FAILING, seed=2)}


def test_pass_headline_counts(runs):
    v = verdict.evaluate(runs["pass"])
    assert v.ok and v.status == "PASS"
    # 2 formats + dm-linear + 3 PI cost modes, two engines each; dm-crypt-aead skipped on both
    assert len(v.ran) == 12 and len(v.skipped) == 2 and len(v.jobs) == 4 * 6 + 2 * 6
    h = v.headline()
    assert h.startswith("PASS: 12 scenarios run, 36 jobs (0 failed), PI mismatches 0, device PI errors 0")
    assert h.endswith("2 skipped")
    text = verdict.render_text(v)
    assert text.splitlines()[0] == h and text.rstrip().splitlines()[-1] == h
    assert "what failed" not in text
    assert "2 x kernel has no dm-crypt PI pass-through" in text


def test_fail_lists_only_what_failed_before_details(runs):
    v = verdict.evaluate(runs["fail"])
    assert v.status == "FAIL"
    assert v.pi_by_field() == {"guard": 0, "apptag": 0, "reftag": 3, "other": 0}
    text = verdict.render_text(v)
    lines = text.splitlines()
    assert lines[0].startswith("FAIL: 12 scenarios run, 36 jobs (1 failed), PI mismatches reftag 3")
    failed = text.index("what failed (2):")
    assert failed < text.index("skipped (2):") < text.index("details (")
    block = text[failed:text.index("skipped (2):")]
    assert f"{FAILING}/read-verify: PI mismatches found by the host: reftag 3" in block
    # the kernel's line is placed at the job that was running when it was logged
    assert f"{FAILING}/read-verify: kernel: nvme0n1: ref tag error at location 8" in block
    assert block.count("\n  ") == 2          # nothing that passed is listed there
    # boot lines with the words in them (IMA keyring, NX protection) are not integrity messages
    assert [m.text for m in v.kernel_msgs] == ["nvme0n1: ref tag error at location 8 (rcvd 9)"]
    assert v.kernel_msgs[0].where == f"{FAILING}/read-verify"


def test_icount_scenarios_show_cpu_not_iops(runs):
    text = verdict.summarize(runs["pass"])
    cost = text[text.index("PI cost: kernel"):]
    cost = cost[:cost.index("\n\n")]
    assert "icount clock" in cost and "CPU us/IO" in cost and "IOPS" not in cost.split("\n", 1)[1]
    row = next(ln for ln in cost.splitlines() if ln.strip().startswith("randread-qd1"))
    pifio, builtin, ratio = row.split()[1:4]
    assert 30 < float(pifio) < 32 and 48 < float(builtin) < 52 and ratio.endswith("x")
    realtime = text[text.index("| none | 4096+8/t1"):]
    assert "pifio IOPS" in realtime.splitlines()[1] and "ratio" in realtime.splitlines()[1]


def test_device_status_exit_codes_and_guest_failures(tmp_path):
    rd = synth.lab_run(str(tmp_path), "r", formats=("4096+8/t1",), stacks=(), skipped=(), cost_modes=())
    sc = os.path.join(rd, "4096p8-t1.none.pifio")
    rep = json.load(open(os.path.join(sc, "randread-qd1.pi.json")))
    rep["files"][0]["device_status"] = {"0x282 guard check error": 5}
    json.dump(rep, open(os.path.join(sc, "randread-qd1.pi.json"), "w"))
    open(os.path.join(rd, "4096p8-t1.none.builtin", "write.rc"), "w").write("1\n")
    open(os.path.join(rd, "4096p8-t1.none.builtin", "write.log"), "w").write("fio: pi_chk needs md_per_io_size\n")
    os.unlink(os.path.join(rd, "4096p8-t1.none.builtin", "randread-qd32.json"))
    m = json.load(open(os.path.join(rd, "meta.json")))
    m["guest"]["timed_out"] = True
    json.dump(m, open(os.path.join(rd, "meta.json"), "w"))
    v = verdict.evaluate(rd)
    assert v.device_by_field() == {"guard": 5, "apptag": 0, "reftag": 0}
    assert v.pi_by_field()["guard"] == 0        # the device's statuses are not host mismatches
    f = dict(v.failures())
    assert "boot timed out" in f["run"]
    assert f["4096p8-t1.none.pifio/randread-qd1"] == "device PI check errors: guard 5"
    assert f["4096p8-t1.none.builtin/write"] == "exit status 1: fio: pi_chk needs md_per_io_size"
    assert f["4096p8-t1.none.builtin/randread-qd32"].startswith("no fio output (rc 0)")
    assert "device PI errors guard 5" in v.headline()


def test_plain_layout_without_workloads(tmp_path):
    """A run dir from synth.write_run (meta without scenarios): scenarios from the directories."""
    rd = synth.write_run(str(tmp_path), "p1", {"nvme-pt/randread": synth.load_template()}, synth.meta("p1"),
                         pi={"nvme-pt/randread": {"counts": {"guard": 1, "apptag": 0, "reftag": 0}}})
    v = verdict.evaluate(rd)
    assert [s.name for s in v.scenarios] == ["nvme-pt/randread"]
    assert v.status == "FAIL" and v.pi_by_field()["guard"] == 1


def test_cli_exit_status(runs, capsys):
    assert verdict.main([runs["pass"], "--brief"]) == 0
    assert verdict.main([runs["fail"], "--brief"]) == 1
    out = capsys.readouterr().out
    assert "details" not in out and out.count("FAIL:") == 2


def test_real_lab_run():
    """tests/analysis/fixtures/labrun-7.3: a trimmed real ./pifio run (fixtures/README.md)."""
    from conftest import FIXTURES
    v = verdict.evaluate(os.path.join(FIXTURES, "labrun-7.3"))
    assert v.headline() == ("PASS: 14 scenarios run, 56 jobs (0 failed), PI mismatches 0, device PI errors 0, "
                            "kernel integrity errors 0, 0 skipped")
    keys = [k for k, _ in v.groups()]
    assert [k[1] for k in keys[:2]] == ["none", "dm-linear"]
    assert [k[3] for k in keys[2:]] == ["nopi", "kernel", "uring-pi", "passthrough", "pract"]
    text = verdict.render_text(v)
    pract = text[text.index("PI cost: pract"):].split("\n\n")[0]
    rows = {ln.split()[0]: ln.split() for ln in pract.splitlines()[2:] if ln.startswith("  ")}
    assert set(rows) == {"randwrite-qd1", "randwrite-qd32", "randread-qd1", "randread-qd32"}
    assert all(5 < float(r[1]) < 100 and 5 < float(r[2]) < 100 for r in rows.values())   # us per I/O
    assert v.kernel_msgs == []          # the boot's IMA/NX lines are not about integrity
