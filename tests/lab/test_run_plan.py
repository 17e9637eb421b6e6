"""`./pifio run` planning without a guest: argv -> RunPlan (defaults, the
target), the scenarios and namespaces of a boot, skips decided from what the
host has (Facts), run ids, and the one meta.json writer."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lab.commands.run import _parse  # noqa: E402
from lab.kernels.registry import Kernel  # noqa: E402
from lab.model import stacks  # noqa: E402
from lab.model.scenarios import DEFAULT_FORMATS, Facts  # noqa: E402
from lab.runs import meta  # noqa: E402
from lab.runs.plan import RunPlan, plan_boot, plan_pi_cost, size  # noqa: E402
from shared.runschema import MetaError, load_meta  # noqa: E402

HAS_ALL = Facts(engine_built=True, fio=True)


class FakeKernel(Kernel):
    """A kernel with every module (for stack requirements) and a chosen release."""

    def has_module(self, name):
        return True

    def is_builtin(self, name):
        return False


def kernel(release="7.3.4+deb13-cloud-amd64"):
    return FakeKernel(name="7.3", release=release, bzimage=Path("/nonexistent"), modules=None, meta={})


def from_argv(*argv) -> RunPlan:
    return RunPlan.from_args(_parse(list(argv)))


def test_plain_run_defaults():
    p = from_argv()
    assert p.target == "lab" and p.kernels == ["7.3"] and p.specs == DEFAULT_FORMATS
    assert p.stacks == ["none"] + stacks.DEFAULT and p.pi_cost is True and p.build is True
    assert p.engines == ["pifio", "builtin"] and p.ns_size == 256 << 20
    assert [w.name for w in p.workloads()] == ["write", "read-verify", "randread-qd1", "randread-qd32"]


def test_ns_and_stack_choices():
    p = from_argv("--ns", "512+8/t3/first", "--stack", "dm-linear", "--no-build", "--ns-size", "64M")
    assert p.specs == ["512+8/t3/first"] and p.stacks == ["none", "dm-linear"]
    assert p.pi_cost is False and p.build is False and p.ns_size == 64 << 20
    assert from_argv("--stack", "dm-linear").stacks == ["dm-linear"]
    assert from_argv("--ns", "4096+0", "--pi-cost").pi_cost is True


def test_matrix_runs_three_kernels_with_their_own_run_ids():
    p = from_argv("--matrix", "--run-id", "m")
    assert p.kernels == ["6.1", "6.12", "7.3"] and p.stacks == ["none"] + list(stacks.STACKS) and p.pi_cost
    assert [p.run_id_for(k, None) for k in p.kernels] == ["m-6.1", "m-6.12", "m-7.3"]
    assert from_argv("--run-id", "one").run_id_for("7.3", None) == "one"


def test_targets():
    mh = from_argv("--hosts", "2", "--kernel", "6.1")
    assert mh.target == "multihost" and mh.specs == ["4096+8/t1"] and mh.kernels == ["6.1"]
    import datetime as dt
    t = dt.datetime(2026, 1, 2, 3, 4, 5)
    assert mh.run_id_for("6.1", t, "-2hosts") == "20260102-030405-6.1-2hosts"
    hd = from_argv("--host-dev", "/dev/ng0n1=4096+8/t1", "--destroy-data")
    assert hd.target == "hostdev" and hd.host_devs == ["/dev/ng0n1=4096+8/t1"] and hd.destroy_data


def test_bad_format_is_an_error_before_anything_runs():
    from lab.core.env import PifioError
    with pytest.raises(PifioError, match="4096\\+3"):
        from_argv("--ns", "4096+3/t1")


def test_size():
    assert (size("8M"), size("1G"), size("64KiB"), size("4096")) == (8 << 20, 1 << 30, 64 << 10, 4096)


def test_boot_plan_numbers_stack_namespaces_after_the_formats():
    k = kernel()
    scs, nss = plan_boot(k, ["4096+8/t1", "512+8/t1/ext"], ["pifio", "builtin"], ["none", "dm-linear"],
                         [], [], 64 << 20, HAS_ALL)
    assert [n.nsid for n in nss] == [1, 2, 3]
    assert nss[2].fmt.canonical() == "4096+8/t1/g16/last/sep"      # dm-linear's own namespace
    assert [s.name for s in scs] == ["4096p8-t1.none.pifio", "4096p8-t1.none.builtin",
                                     "512p8-t1-ext.none.pifio", "512p8-t1-ext.none.builtin",
                                     f"{nss[2].fmt.slug()}.dm-linear.pifio", f"{nss[2].fmt.slug()}.dm-linear.builtin"]
    assert all(s.skipped is None for s in scs)
    lin = scs[-1]
    assert (lin.nsid, lin.ns_base) == (3, 2)


def test_skips_are_reasons_from_facts():
    k = kernel()
    scs, _ = plan_boot(k, ["4096+8/t1"], ["pifio", "builtin"], ["none"], [], [], host=Facts(False, True))
    assert scs[0].skipped.startswith("engine not built") and scs[1].skipped is None
    sc = scs[0]
    assert sc.requirements(k, Facts(False, False)) == [
        "engine not built (build/lib/libpifio.so missing; run ./pifio build)", "no fio 3.41 build (run ./pifio setup)"]
    old = kernel("6.1.0-50-cloud-amd64")
    scs, _ = plan_boot(old, [], ["builtin"], ["dm-integrity-inline"], [], [], host=HAS_ALL)
    assert scs[0].skipped == "dm-integrity-inline needs Linux 6.11+ (kernel 6.1.0-50-cloud-amd64)"
    cost, nss = plan_pi_cost(old, ["builtin"], host=HAS_ALL)
    assert [n.fmt.short() for n in nss] == ["4096+8/t1", "4096+0"]
    assert [s.cost for s in cost if s.skipped] == ["uring-pi"]


def test_meta_writer(tmp_path):
    from shared.runschema import utc_now
    m = meta.new("r1", utc_now(), host={"hostname": "h"}, kernel={"release": "x"}, scenarios={})
    assert m["schema"] == "pifio-run/1" and m["started"].endswith("Z")
    meta.finish(m)
    meta.write(tmp_path, m)
    back = load_meta(str(tmp_path))
    assert back["run_id"] == "r1" and back["finished"].endswith("Z")
    with pytest.raises(MetaError):
        meta.write(tmp_path, {**m, "host": "not an object"})
    assert json.loads((tmp_path / "meta.json").read_text())["host"] == {"hostname": "h"}   # not overwritten


def test_cli_missing_command_vs_broken_import(tmp_path, monkeypatch, capsys):
    from lab import cli
    assert cli.load("lab.commands.nosuch:main") is None          # the command module is missing
    assert cli.load("lab.commands.run:nosuch") is None           # ... or its function
    assert cli.load("lab.commands.run:main") is not None
    (tmp_path / "brokencmd.py").write_text("import pifio_no_such_dependency\n\ndef main(argv):\n    return 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="pifio_no_such_dependency"):
        cli.load("brokencmd:main")                               # a real ImportError inside surfaces
    monkeypatch.setitem(cli.COMMANDS, "gone", ("lab.commands.gone:main", "test"))
    assert cli.main(["gone"]) == 2
    assert "not yet available" in capsys.readouterr().err


def test_ab_run_suite_writes_utc_meta(tmp_path, monkeypatch):
    """./pifio ab's per-boot results go through the same meta.json writer (UTC, schema-checked)."""
    from lab.ab import ab, suite
    from lab.guest import GuestResult
    res = tmp_path / "guest" / "results"
    (res / "kernel-pi" / "4096+8t1" / "randread-qd8").mkdir(parents=True)
    (res / "kernel-pi" / "4096+8t1" / "randread-qd8" / "status").write_text("pass\n")
    (res / "rc").write_text("0\n")

    def fake_boot(kernel, nss, script, **kw):
        assert [n.nsid for n in nss] == sorted(suite.NAMESPACES) and "begin kernel-pi/4096+8t1/randread-qd8" in script
        return GuestResult(rc=0, timed_out=False, console_log=tmp_path / "console.log", results_dir=res,
                           run_dir=tmp_path / "guest", kernel={"release": "7.3.4-test"}, cmdline="console=ttyS0",
                           qemu_cmd=[], clock="icount shift=0 sleep=off")
    monkeypatch.setattr(ab, "boot_and_run", fake_boot)
    st = ab.run_suite(tmp_path / "kdir", suite.select(["kernel-pi/*/randread-qd8"]), "ab-x-A1", results=tmp_path)
    assert st["kernel-pi/4096+8t1/randread-qd8"] == {"status": "pass", "why": ""}
    m = load_meta(str(tmp_path / "ab-x-A1"))
    assert m["started"].endswith("Z") and m["host"]["clock"] == "icount shift=0 sleep=off"
    assert m["scenarios"]["kernel-pi/4096+8t1/randread-qd8"]["status"] == "pass"
