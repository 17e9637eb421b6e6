"""Boot a Debian (or self-built) kernel in QEMU/TCG with one NVMe controller
carrying namespaces of chosen formats, run a shell script in the guest, and
bring its results back.

    from lab.guest import boot_and_run, Namespace
    r = boot_and_run("7.3", namespaces=["4096+8/t1", "512+8/t3/first"],
                     script="nvme id-ns $PIFIO_NG_1 > idns1.txt", timeout=180)
    r.rc, r.console_log, r.results_dir / "idns1.txt"

In the guest the script runs under busybox sh with cwd /results (everything
left there comes back in results_dir) and these variables:
    PIFIO_NG_<nsid>   /dev/ngXnY of namespace nsid (found by sysfs nsid, never by name)
    PIFIO_BLK_<nsid>  /dev/nvmeXnY of namespace nsid
    PIFIO_FMT_<nsid>  its format spec (canonical), PIFIO_NS_COUNT, PIFIO_NSIDS ("1 2 3")
    PIFIO_ENGINE      /usr/lib/pifio/libpifio.so (when build/lib/libpifio.so exists)
    PIFIO_RESULTS     /results
Tools: busybox, fio, nvme, dmsetup, cryptsetup, integritysetup, pitool (when built).

Results come back as a tar stream the guest writes to a virtio-blk disk (the
cloud kernels have no 9p). namespaces.tsv, scenario.log (the script's stdout +
stderr), dmesg.txt and rc are always there when the guest got that far.

QEMU checks guard/app/ref tags itself: an independent oracle for PI.

A boot is a pipeline: plan() turns the arguments into a BootPlan (the QEMU
argv, the guest environment, the files: data, no I/O); prepare() writes the
initramfs, backing files and results disk; a Runner runs it (QemuRunner, or
a fake in tests) while lab.guest.console follows the console; harvest()
unpacks the results into a GuestResult.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .. import kernels
from ..core.env import CACHE, PifioError, log
from ..kernels.registry import Kernel
from . import initramfs, results
from .console import Console, parse_log
from .namespace import Namespace, normalize
from .qemu import QEMU, NsDrive, QemuConfig, clock_args, qemu_available, shell_quote
from .results import GuestResult
from .runner import Outcome, QemuRunner, Runner

GUESTS = CACHE / "guests"


@dataclass
class BootPlan:
    kernel: Kernel
    namespaces: list[Namespace]
    run_dir: Path
    script: str
    files: dict
    env: dict                      # the guest's PIFIO_* environment (/pifio/env.sh)
    modules: list[str]
    binaries: list
    archives: list                 # extra prebuilt newc archives (host paths), e.g. lab.guest.pyguest.archive()
    qemu: QemuConfig
    timeout: float
    results_size: int
    clock: str                     # description for result metadata ("realtime", "icount shift=0 sleep=off")
    keep_backing: set = field(default_factory=set)   # nsids whose backing file the caller keeps

    @property
    def results_dir(self) -> Path:
        return self.run_dir / "results"

    def argv(self) -> list[str]:
        return self.qemu.argv()


def plan(kernel: Kernel, namespaces, script: str = "true", *, run_dir: Path, files: dict | None = None,
         timeout: float = 300, modules=(), env: dict | None = None, smp: int = 1, mem: str = "1G",
         cmdline_extra: str = "", results_size: int = 256 << 20, binaries=(), qemu_args=(),
         clock: str = "realtime", icount_shift: int = 0, qemu: str = QEMU, archives=()) -> BootPlan:
    """The boot as data: nothing is written or run."""
    accel, cmd_base, clock_desc = clock_args(clock, icount_shift)
    nss = normalize(namespaces)
    run_dir = Path(run_dir)
    genv = {"PIFIO_NS_COUNT": str(len(nss)), "PIFIO_NSIDS": " ".join(str(n.nsid) for n in nss),
            "PIFIO_RESULTS": "/results", "PIFIO_ENGINE": initramfs.GUEST_ENGINE}
    for n in nss:
        genv[f"PIFIO_FMT_{n.nsid}"] = n.fmt.canonical()
    # Let the guest kill a hung script itself so that results still come back.
    genv["PIFIO_GUEST_TIMEOUT"] = str(max(10, int(timeout - 30 - 10 * smp)))
    genv.update(env or {})
    drives = [NsDrive(n.nsid, Path(n.backing) if n.backing else run_dir / f"ns{n.nsid}.img", n.fmt.qemu_props())
              for n in nss]
    cfg = QemuConfig(qemu=qemu, accel=accel, kernel=kernel.bzimage, initrd=run_dir / "initrd.cpio",
                     cmdline=f"{cmd_base} {cmdline_extra}".strip(), console=run_dir / "console.log",
                     results_img=run_dir / "results.img", namespaces=drives, smp=smp, mem=mem,
                     extra=[str(a) for a in qemu_args])
    return BootPlan(kernel=kernel, namespaces=nss, run_dir=run_dir, script=script, files=dict(files or {}),
                    env=genv, modules=list(modules), binaries=list(binaries), archives=[Path(a) for a in archives],
                    qemu=cfg, timeout=timeout,
                    results_size=results_size, clock=clock_desc,
                    keep_backing={n.nsid for n in nss if n.backing is not None})


def build_initrd(p: BootPlan) -> None:
    """initramfs: base (cached) + modules (cached) + this run -> p.qemu.initrd."""
    base = initramfs.base(p.binaries)
    mods, _ = initramfs.modules(p.kernel, p.modules)
    initramfs.assemble(p.qemu.initrd, [base, mods, *p.archives], initramfs.run_archive(p.script, p.files, p.env))


def prepare(p: BootPlan, make_initrd: Callable[[BootPlan], None] = build_initrd) -> None:
    """Write what the boot needs: initrd, backing files, the results disk, qemu.cmd."""
    p.run_dir.mkdir(parents=True, exist_ok=True)
    if p.results_dir.exists():
        shutil.rmtree(p.results_dir)
    make_initrd(p)
    for n, d in zip(p.namespaces, p.qemu.namespaces):
        path = d.backing
        if n.backing is None or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                path.unlink()
            # truncate, not qemu-img create: QEMU would read its allocated first 4 KiB as bad PI
            with open(path, "wb") as fh:
                fh.truncate(n.size)
        elif path.stat().st_size != n.size:
            raise PifioError(f"backing file {path} is {path.stat().st_size} bytes, namespace says {n.size}")
    rimg = p.qemu.results_img
    if rimg.exists():
        rimg.unlink()
    with open(rimg, "wb") as fh:
        fh.truncate(p.results_size)
    if p.qemu.console.exists():
        p.qemu.console.unlink()
    (p.run_dir / "qemu.cmd").write_text(" ".join(shell_quote(c) for c in p.argv()) + "\n")


def execute(p: BootPlan, runner: Runner, on_line=None) -> GuestResult:
    """Run a prepared boot and harvest it."""
    t0 = time.monotonic()
    con = Console()
    host_marks: dict = {}

    def hook(line: str):
        # Host-side times of the guest's markers (the guest clock is not trusted under TCG).
        m = con.feed(line)
        if m is not None:
            key = {"INIT": "host_init_s", "READY": "host_ready_s", "RC": "host_rc_s"}.get(m.tag)
            if key and key not in host_marks:
                host_marks[key] = round(time.monotonic() - t0, 2)
        if on_line is not None:
            on_line(line)

    out = runner.run(p.argv(), p.qemu.console, p.run_dir / "qemu.stderr", p.timeout, hook)
    return harvest(p, out, time.monotonic() - t0, host_marks)


def harvest(p: BootPlan, out: Outcome, wall: float, host_marks: dict) -> GuestResult:
    console = p.qemu.console
    text = console.read_text(errors="replace") if console.exists() else ""
    from_console = parse_log(text)
    markers = {**from_console, **host_marks}
    results.unpack(p.qemu.results_img, p.results_dir)
    p.qemu.results_img.unlink(missing_ok=True)
    p.qemu.initrd.unlink(missing_ok=True)
    for d in p.qemu.namespaces:
        if d.nsid not in p.keep_backing:
            d.backing.unlink(missing_ok=True)
    rc = results.exit_code(p.results_dir, markers)
    if out.returncode not in (0, None) and not out.timed_out and rc is None and out.stderr:
        raise PifioError(f"QEMU failed (exit {out.returncode}): {out.stderr[-2000:]}")
    res = GuestResult(rc=rc, timed_out=out.timed_out, console_log=console, results_dir=p.results_dir,
                      run_dir=p.run_dir, kernel=p.kernel.describe(), cmdline=p.qemu.cmdline, qemu_cmd=p.argv(),
                      namespaces=results.namespaces_seen(p.results_dir / "namespaces.tsv", p.namespaces),
                      boot_s=markers.get("host_init_s"), wall_s=wall, markers=markers, clock=p.clock)
    if out.timed_out:
        log(f"guest timed out after {p.timeout:.0f} s; console: {console}")
    return res


def boot_and_run(kernel="7.3", namespaces=("4096+8/t1",), script: str = "true", *,
                 files: dict | None = None, timeout: float = 300, modules=(),
                 env: dict | None = None, smp: int = 1, mem: str = "1G",
                 run_dir: Path | None = None, cmdline_extra: str = "",
                 results_size: int = 256 << 20, binaries=(), keep_run_dir: bool = True,
                 on_line=None, qemu_args=(), clock: str = "realtime", icount_shift: int = 0,
                 archives=(), runner: Runner | None = None, make_initrd: Callable[[BootPlan], None] = build_initrd
                 ) -> GuestResult:
    """Boot `kernel` (name or bzImage path or lab.kernels.Kernel) with the given
    namespaces (format specs or Namespace objects), run `script` in the guest.

    files: {guest path: bytes | str | host Path} added to the initramfs.
    modules: extra kernel modules to load (with dependencies), e.g. ["dm-mod"].
    binaries: extra [(guest path, host path)] tools (their libraries come along).
    timeout: hard limit in seconds for the whole boot; QEMU is killed after it.
    run_dir: where console.log, results/ and throw-away backing files go
             (default: a new dir under CACHE/guests).
    on_line: called with each new console line while the guest runs (progress).
    qemu_args: extra QEMU arguments appended to the command line (e.g. a
             user-mode network with hostfwd for lab.targets.multihost, a -pidfile).
    clock: "realtime" (default) or "icount": guest time counts executed
             instructions, 2**icount_shift ns each (see clock_args); the
             result's .clock says which, for result metadata.
    archives: extra prebuilt newc archives (host paths) unpacked after the base
             and modules, e.g. lab.guest.pyguest.archive() (python in the guest).
    runner, make_initrd: what runs the boot and writes its initrd (tests fake both).
    Never raises for a failing script or a hung guest: look at rc / timed_out.
    Raises PifioError for set-up problems (no QEMU, unknown kernel, bad format).
    """
    clock_args(clock, icount_shift)
    qemu = qemu_available() if runner is None else QEMU
    if not qemu:
        raise PifioError(f"{QEMU} not found; run ./pifio setup (installs Debian package qemu-system-x86)")
    k = kernels.resolve(kernel)
    if run_dir is None:
        GUESTS.mkdir(parents=True, exist_ok=True)
        run_dir = Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=GUESTS))
    p = plan(k, namespaces, script, run_dir=run_dir, files=files, timeout=timeout, modules=modules, env=env,
             smp=smp, mem=mem, cmdline_extra=cmdline_extra, results_size=results_size, binaries=binaries,
             qemu_args=qemu_args, clock=clock, icount_shift=icount_shift, qemu=qemu,
             archives=archives)
    prepare(p, make_initrd)
    res = execute(p, runner or QemuRunner(), on_line)
    if not keep_run_dir and res.ok:
        shutil.rmtree(run_dir, ignore_errors=True)
    return res
