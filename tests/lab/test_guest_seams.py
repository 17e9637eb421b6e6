"""The guest's seams without QEMU: the console parser on stored console logs,
boot planning (QEMU argv, guest environment) as data, and boot_and_run with a
fake Runner that plays a stored console and returns a results tar.

Run by ctest (lab_guest_seams) through tests/analysis/run_pytest.py; seconds.
"""
from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lab.core.env import PifioError  # noqa: E402
from lab.guest import Namespace, boot_and_run, plan  # noqa: E402
from lab.guest import console  # noqa: E402
from lab.guest.qemu import BASE_CMDLINE, ICOUNT_CMDLINE  # noqa: E402
from lab.guest.runner import Outcome  # noqa: E402
from lab.kernels.registry import Kernel  # noqa: E402

FIX = Path(__file__).resolve().parent / "fixtures"


def log(name: str) -> str:
    return (FIX / name).read_text()


# ------------------------------------------------------------ console ---

def test_console_multihost_log():
    s = console.parse_log(log("console-multihost.log"))
    assert s["init_uptime"] == 21.88
    assert s["ready_uptime"] == 24.55
    assert (s["rc"], s["rc_uptime"]) == (0, 34.55)
    assert s["done"] is True
    assert s["warnings"] == []
    assert "panic" not in s


def test_console_run_log():
    s = console.parse_log(log("console-run.log"))
    assert (s["init_uptime"], s["ready_uptime"], s["rc"], s["rc_uptime"]) == (5.42, 6.10, 1, 9.75)
    assert s["warnings"] == ["insmod /lib/modules/6.1.0-50-cloud-amd64/kernel/arch/x86/crypto/crc32-pclmul.ko failed"]
    jobs = [m.job() for m in map(console.parse_line, log("console-run.log").splitlines()) if m and m.job()]
    # a marker after a kernel message on the same line counts; CR line ends do not leak into fields
    assert jobs == [("4096p8-t1.none.builtin", "write", "start", "6.31"),
                    ("4096p8-t1.none.builtin", "write", "rc", "0"),
                    ("4096p8-t1.none.builtin", "read-verify", "start", "7.02"),
                    ("4096p8-t1.none.builtin", "read-verify", "rc", "1"),
                    ("4096p8-t1.none.pifio", "randread-qd1", "start", "8.00"),
                    ("4096p8-t1.none.pifio", "randread-qd1", "rc", "0")]


def test_console_panic_log_without_rc():
    s = console.parse_log(log("console-panic.log"))
    assert s["panic"] is True
    assert "rc" not in s and "ready_uptime" not in s
    assert s["done"] is False


def test_console_line_parser():
    m = console.parse_line("PIFIO-SERVER-NS 3 /dev/ng0n2 /dev/nvme0n2")
    assert (m.tag, m.args) == ("SERVER-NS", ["3", "/dev/ng0n2", "/dev/nvme0n2"])
    assert console.parse_line("PIFIO-SERVER-UP eth0 10.0.2.15:8765 uptime=28.37").uptime == 28.37
    assert console.parse_line("PIFIO-DONE").tag == "DONE"
    assert console.parse_line("PIFIO-CONF start x 1.0").tag == "CONF"       # unknown tags parse too
    assert console.parse_line("export PIFIO_NG_1=/dev/ng0n1") is None
    assert console.parse_line("PIFIO-RCX 0").tag == "RCX"                    # not PIFIO-RC
    assert console.parse_line("PIFIO-JOB a b").job() is None                 # malformed: no verb
    assert console.parse_line("PIFIO-JOB a b rc").job() is None              # rc without a code


def test_console_streaming_equals_whole_log():
    text = log("console-run.log")
    c = console.Console()
    for line in text.split("\n"):
        c.feed(line)
    assert c.summary == console.parse_log(text)


# ------------------------------------------------------------ planning --

def fake_kernel(tmp_path: Path) -> Kernel:
    bz = tmp_path / "bzImage"
    bz.write_bytes(b"not a kernel")
    return Kernel(name=str(bz), release="9.9.9-test", bzimage=bz, modules=None, meta={"patches": []})


def test_plan_argv(tmp_path):
    k = fake_kernel(tmp_path)
    nss = ["4096+8/t1", Namespace("512+8/t3/first", size=32 << 20, backing=tmp_path / "keep.img", nsid=5)]
    p = plan(k, nss, "echo hi", run_dir=tmp_path / "run", timeout=200, smp=2, mem="2G",
             cmdline_extra="nvme.poll_queues=1", qemu_args=["-pidfile", "/tmp/q.pid"], qemu="/usr/bin/qemu-x")
    argv = p.argv()
    assert argv[:3] == ["/usr/bin/qemu-x", "-accel", "tcg"]
    assert argv[argv.index("-smp") + 1] == "2" and argv[argv.index("-m") + 1] == "2G"
    assert argv[argv.index("-kernel") + 1] == str(k.bzimage)
    assert argv[argv.index("-append") + 1] == BASE_CMDLINE + " nvme.poll_queues=1"
    devs = [argv[i + 1] for i, a in enumerate(argv) if a == "-device"]
    assert devs[0] == "nvme,id=nvme0,serial=pifio0"
    assert devs[1] == ("nvme-ns,drive=ns1,bus=nvme0,nsid=1,logical_block_size=4096,physical_block_size=4096,"
                       "ms=8,mset=0,pi=1,pil=0,pif=0")
    assert devs[2] == ("nvme-ns,drive=ns5,bus=nvme0,nsid=5,logical_block_size=512,physical_block_size=512,"
                       "ms=8,mset=0,pi=3,pil=1,pif=0")
    drives = [argv[i + 1] for i, a in enumerate(argv) if a == "-drive"]
    assert drives[0].startswith(f"file={tmp_path / 'run' / 'ns1.img'},")
    assert drives[1].startswith(f"file={tmp_path / 'keep.img'},")
    assert drives[2] == f"file={tmp_path / 'run' / 'results.img'},if=virtio,format=raw,cache=unsafe"
    assert argv[-2:] == ["-pidfile", "/tmp/q.pid"]
    assert p.env["PIFIO_NSIDS"] == "1 5" and p.env["PIFIO_NS_COUNT"] == "2"
    assert p.env["PIFIO_FMT_5"] == "512+8/t3/g16/first/sep"
    assert p.env["PIFIO_GUEST_TIMEOUT"] == str(200 - 30 - 20)
    assert p.keep_backing == {5}
    assert not (tmp_path / "run").exists()            # planning writes nothing


def test_plan_icount_clock(tmp_path):
    p = plan(fake_kernel(tmp_path), ["4096+0"], run_dir=tmp_path, clock="icount", icount_shift=2, qemu="q")
    argv = p.argv()
    assert argv[1:5] == ["-accel", "tcg,thread=single", "-icount", "shift=2,sleep=off,align=off"]
    cmdline = argv[argv.index("-append") + 1]
    assert "tsc=unstable" not in cmdline and cmdline.endswith(ICOUNT_CMDLINE)
    assert p.clock == "icount shift=2 sleep=off"
    with pytest.raises(PifioError):
        plan(fake_kernel(tmp_path), ["4096+0"], run_dir=tmp_path, clock="icount", icount_shift=11)
    with pytest.raises(PifioError):
        plan(fake_kernel(tmp_path), ["4096+8/t1", Namespace("4096+0", nsid=1)], run_dir=tmp_path)  # nsid twice


# ---------------------------------------------------- fake runner boots --

def tar_bytes(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, text in files.items():
            data = text.encode()
            ti = tarfile.TarInfo("./" + name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


class FakeRunner:
    """Plays a stored console log line by line and leaves a results tar on the results disk."""

    def __init__(self, console_log: str, results: dict[str, str] | None, returncode=0, timed_out=False,
                 stderr=""):
        self.console_log, self.results = console_log, results
        self.returncode, self.timed_out, self.stderr = returncode, timed_out, stderr
        self.argv = None

    def run(self, argv, console_path: Path, stderr: Path, timeout: float, on_line) -> Outcome:
        self.argv = argv
        img = Path(next(a for a in argv if a.endswith(",if=virtio,format=raw,cache=unsafe"))
                   .split(",")[0][len("file="):])
        assert img.exists() and img.stat().st_size == 256 << 20      # prepared: sparse results disk
        console_path.write_text(self.console_log)
        for line in self.console_log.split("\n")[:-1]:
            on_line(line.rstrip("\r"))
        if self.results is not None:
            with open(img, "r+b") as fh:
                fh.write(tar_bytes(self.results))
        return Outcome(self.returncode, self.timed_out, self.stderr)


TSV = ("nsid\tblock\tchar\tsectors\tlogical_block_size\tintegrity_format\ttag_size\n"
       "2\t/dev/nvme0n1\t/dev/ng0n1\t131072\t512\tT10-DIF-TYPE3-CRC\t8\n")


def boot(tmp_path, runner, **kw):
    made = []

    def make_initrd(p):
        made.append(p)
        p.qemu.initrd.write_bytes(b"initrd")

    seen = []
    r = boot_and_run(fake_kernel(tmp_path), kw.pop("namespaces", ["4096+8/t1", "512+8/t3/first"]), "true",
                     run_dir=tmp_path / "run", runner=runner, make_initrd=make_initrd, on_line=seen.append, **kw)
    return r, made, seen


def test_boot_with_fake_runner(tmp_path):
    keep = Namespace("4096+8/t1", size=8 << 20, backing=tmp_path / "keep.img")
    runner = FakeRunner(log("console-run.log"), {"rc": "1\n", "namespaces.tsv": TSV, "scenario.log": "ran\n",
                                                 "x/out.json": "{}"})
    r, made, seen = boot(tmp_path, runner, namespaces=[keep, "512+8/t3/first"], timeout=120)
    assert len(made) == 1 and runner.argv == r.qemu_cmd
    assert r.rc == 1 and not r.timed_out and not r.ok
    assert (r.results_dir / "x" / "out.json").read_text() == "{}"
    assert r.markers["init_uptime"] == 5.42 and r.markers["rc"] == 1 and r.markers["done"]
    assert {"host_init_s", "host_ready_s", "host_rc_s"} <= set(r.markers) and r.boot_s == r.markers["host_init_s"]
    assert len(seen) == len(log("console-run.log").split("\n")) - 1
    ns1, ns2 = r.namespaces
    assert ns1["nsid"] == 1 and ns1["seen"] is False
    assert ns2["seen"] and ns2["char"] == "/dev/ng0n1" and ns2["sectors"] == 131072
    assert ns2["integrity_format"] == "T10-DIF-TYPE3-CRC"
    assert keep.backing.exists() and keep.backing.stat().st_size == 8 << 20      # kept, created sparse
    run = tmp_path / "run"
    assert not (run / "ns2.img").exists() and not (run / "results.img").exists() and not (run / "initrd.cpio").exists()
    assert (run / "qemu.cmd").read_text().startswith("qemu-system-x86_64 -accel tcg")
    assert "ran" in r.why()


def test_boot_rc_from_console_when_no_results(tmp_path):
    r, _, _ = boot(tmp_path, FakeRunner(log("console-multihost.log"), None))
    assert r.rc == 0 and r.ok                      # PIFIO-RC on the console, no results disk
    assert all(not n["seen"] for n in r.namespaces)


def test_boot_timeout(tmp_path):
    r, _, _ = boot(tmp_path, FakeRunner(log("console-panic.log"), None, returncode=-9, timed_out=True))
    assert r.rc is None and r.timed_out and not r.ok
    assert r.markers["panic"] is True
    assert "timed out" in r.why()


def test_boot_qemu_failure_raises(tmp_path):
    with pytest.raises(PifioError, match="QEMU failed \\(exit 1\\): qemu-x: -device nvme-ns: bad property"):
        boot(tmp_path, FakeRunner("", None, returncode=1, stderr="qemu-x: -device nvme-ns: bad property"))


def test_backing_size_mismatch(tmp_path):
    bad = tmp_path / "bad.img"
    bad.write_bytes(b"\0" * 4096)
    with pytest.raises(PifioError, match="namespace says"):
        boot(tmp_path, FakeRunner("", None), namespaces=[Namespace("4096+8/t1", size=8 << 20, backing=bad)])
