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
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import formats, initramfs, kernels
from .common import CACHE, PifioError, log

QEMU = "qemu-system-x86_64"
# tsc=unstable: under TCG on a loaded host the guest calibrates the TSC wrongly
# (seen: "Detected 73.894 MHz", then uptime running 2x faster than the wall
# clock), which skews every time fio measures. HPET follows QEMU's clock.
BASE_CMDLINE = "console=ttyS0 edd=off panic=-1 oops=panic printk.time=1 tsc=unstable"
GUESTS = CACHE / "guests"

# clock="icount": QEMU counts instructions (-icount shift=N: 2**N ns of guest
# time each) instead of following the host clock, so what the guest measures
# as CPU time is an instruction count, independent of host load. sleep=off:
# when the vCPU idles, guest time jumps to the next timer instead of waiting
# in real time. Consequences, measured (lab/README.md "Guest clock"):
#  - guest CPU time (a task's runtime, fio's usr/sys) repeats within ~1 %;
#  - IOPS and latencies do NOT: while the vCPU idles waiting for QEMU's
#    real-time block I/O, guest time jumps by timer deadlines, so device
#    waits are host-dependent and quantised;
#  - the TSC ticks exactly 2**-N GHz, so the guest keeps it (no tsc=unstable)
#    and its sched_clock — every task runtime — gets ns resolution;
#  - guest time can run far ahead while QEMU waits for the host, so NVMe
#    command timeouts (30 s of guest time) are raised out of the way.
ICOUNT_CMDLINE = "nvme_core.io_timeout=100000 nvme_core.admin_timeout=100000"


def clock_args(clock: str = "realtime", icount_shift: int = 0) -> tuple[list[str], str, str]:
    """(QEMU accelerator/clock arguments, kernel command line base, description
    for result metadata) for a guest clock: "realtime" (QEMU's virtual clock
    follows the host) or "icount" (deterministic instruction counting)."""
    if clock == "realtime":
        return ["-accel", "tcg"], BASE_CMDLINE, "realtime"
    if clock == "icount":
        if not 0 <= int(icount_shift) <= 10:
            raise PifioError(f"icount_shift {icount_shift}: want 0..10 (2**shift ns per instruction)")
        base = BASE_CMDLINE.replace(" tsc=unstable", "") + " " + ICOUNT_CMDLINE
        return (["-accel", "tcg,thread=single", "-icount", f"shift={int(icount_shift)},sleep=off,align=off"],
                base, f"icount shift={int(icount_shift)} sleep=off")
    raise PifioError(f"clock {clock!r}: want 'realtime' or 'icount'")


@dataclass
class Namespace:
    """One namespace on the guest's controller.

    backing: keep the image at this path (created sparse with truncate when
    missing, reused as is when present) — for tests that power off, corrupt
    bytes on the host, and boot again. None: a throw-away file in the run dir.
    """
    format: str | formats.Format = "4096+8/t1"
    size: int = 64 << 20           # bytes of backing file (data + metadata)
    backing: Path | None = None
    nsid: int | None = None        # default: position in the list, from 1

    @property
    def fmt(self) -> formats.Format:
        return self.format if isinstance(self.format, formats.Format) else formats.parse(self.format)

    def nlbas(self) -> int:
        return self.fmt.nlbas(self.size)

    def offset(self, lba: int, what: str = "data") -> tuple[int, int]:
        """(byte offset, length) in the backing file of block lba's `what`:
        data | md | guard | app | ref (QEMU 7.2 layout, see lab.formats)."""
        f = self.fmt
        if what == "data":
            return f.data_offset(self.size, lba), f.data
        if what == "md":
            return f.md_offset(self.size, lba), f.ms
        return f.tuple_offset(self.size, lba, what)

    def corrupt(self, lba: int, what: str = "guard", byte: int = 0, xor: int = 0x01) -> int:
        """Flip bits of one byte of block lba's `what` in the backing file (guest
        powered off). Returns the file offset changed."""
        if self.backing is None or not Path(self.backing).exists():
            raise PifioError("corrupt() needs a namespace with a kept backing file (Namespace(backing=…))")
        off, n = self.offset(lba, what)
        if not 0 <= byte < n:
            raise PifioError(f"byte {byte} outside {what} ({n} bytes)")
        with open(self.backing, "r+b") as fh:
            fh.seek(off + byte)
            b = fh.read(1)
            fh.seek(off + byte)
            fh.write(bytes([b[0] ^ xor]))
        return off + byte

    def read(self, lba: int, what: str = "data") -> bytes:
        off, n = self.offset(lba, what)
        with open(self.backing, "rb") as fh:
            fh.seek(off)
            return fh.read(n)


@dataclass
class GuestResult:
    rc: int | None                 # the script's exit code; None when it never finished
    timed_out: bool
    console_log: Path
    results_dir: Path
    run_dir: Path
    kernel: dict
    cmdline: str
    qemu_cmd: list[str]
    namespaces: list[dict] = field(default_factory=list)   # nsid, format, block, char, integrity_format, backing
    clock: str = "realtime"        # guest clock: "realtime" | "icount shift=N sleep=off" (see clock_args)
    boot_s: float | None = None    # host wall seconds from QEMU start to /init (±0.2 s)
    wall_s: float = 0.0
    markers: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out

    def text(self, name: str) -> str:
        p = self.results_dir / name
        return p.read_text(errors="replace") if p.exists() else ""

    def ns(self, nsid: int) -> dict:
        for n in self.namespaces:
            if n["nsid"] == nsid:
                return n
        raise KeyError(f"nsid {nsid} not seen by the guest")

    def why(self) -> str:
        """One line for an assertion message."""
        if self.timed_out:
            return f"guest timed out after {self.wall_s:.0f} s (console: {self.console_log})"
        tail = "\n".join(self.text("scenario.log").splitlines()[-15:])
        return f"rc={self.rc} (console: {self.console_log})\n{tail}"


def qemu_available() -> str | None:
    return shutil.which(QEMU)


def _ns_list(namespaces) -> list[Namespace]:
    out = []
    for i, n in enumerate(namespaces, 1):
        if isinstance(n, (str, formats.Format)):
            n = Namespace(format=n)
        if n.nsid is None:
            n = Namespace(format=n.format, size=n.size, backing=n.backing, nsid=i)
        out.append(n)
    seen = set()
    for n in out:
        if n.nsid in seen:
            raise PifioError(f"nsid {n.nsid} given twice")
        seen.add(n.nsid)
        n.fmt  # validate
    return out


def boot_and_run(kernel="7.3", namespaces=("4096+8/t1",), script: str = "true", *,
                 files: dict | None = None, timeout: float = 300, modules=(),
                 env: dict | None = None, smp: int = 1, mem: str = "1G",
                 run_dir: Path | None = None, cmdline_extra: str = "",
                 results_size: int = 256 << 20, binaries=(), keep_run_dir: bool = True,
                 on_line=None, qemu_args=(), clock: str = "realtime", icount_shift: int = 0,
                 archives=()) -> GuestResult:
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
             user-mode network with hostfwd for lab.multihost, a -pidfile).
    clock: "realtime" (default) or "icount": guest time counts executed
             instructions, 2**icount_shift ns each (see clock_args); the
             result's .clock says which, for result metadata.
    archives: extra prebuilt newc archives (host paths) unpacked after the base
             and modules, e.g. lab.pyguest.archive() (python in the guest).
    Never raises for a failing script or a hung guest: look at rc / timed_out.
    Raises PifioError for set-up problems (no QEMU, unknown kernel, bad format).
    """
    accel, cmd_base, clock_desc = clock_args(clock, icount_shift)
    qemu = qemu_available()
    if not qemu:
        raise PifioError(f"{QEMU} not found; run ./pifio setup (installs Debian package qemu-system-x86)")
    k = kernels.resolve(kernel)
    nss = _ns_list(namespaces)
    if run_dir is None:
        GUESTS.mkdir(parents=True, exist_ok=True)
        run_dir = Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=GUESTS))
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    results_dir = run_dir / "results"
    if results_dir.exists():
        shutil.rmtree(results_dir)

    # initramfs: base (cached) + modules (cached) + this run
    base = initramfs.base(list(binaries))
    mods, _ = initramfs.modules(k, list(modules))
    genv = {"PIFIO_NS_COUNT": str(len(nss)), "PIFIO_NSIDS": " ".join(str(n.nsid) for n in nss),
            "PIFIO_RESULTS": "/results", "PIFIO_ENGINE": initramfs.GUEST_ENGINE}
    for n in nss:
        genv[f"PIFIO_FMT_{n.nsid}"] = n.fmt.canonical()
    # Let the guest kill a hung script itself so that results still come back.
    genv["PIFIO_GUEST_TIMEOUT"] = str(max(10, int(timeout - 30 - 10 * smp)))
    genv.update(env or {})
    initrd = initramfs.assemble(run_dir / "initrd.cpio", [base, mods, *map(Path, archives)],
                                initramfs.run_archive(script, files or {}, genv))

    # disks
    cmd = [qemu, *accel, "-cpu", "max", "-smp", str(smp), "-m", mem,
           "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
           "-serial", f"file:{run_dir / 'console.log'}", "-monitor", "none",
           "-kernel", str(k.bzimage), "-initrd", str(initrd)]
    cmdline = f"{cmd_base} {cmdline_extra}".strip()
    cmd += ["-append", cmdline, "-device", "nvme,id=nvme0,serial=pifio0"]
    temp_backing = []
    for n in nss:
        path = Path(n.backing) if n.backing else run_dir / f"ns{n.nsid}.img"
        if n.backing is None or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                path.unlink()
            # truncate, not qemu-img create: QEMU would read its allocated first 4 KiB as bad PI
            with open(path, "wb") as fh:
                fh.truncate(n.size)
        elif path.stat().st_size != n.size:
            raise PifioError(f"backing file {path} is {path.stat().st_size} bytes, namespace says {n.size}")
        if n.backing is None:
            temp_backing.append(path)
        props = ",".join(f"{k_}={v}" for k_, v in n.fmt.qemu_props().items())
        cmd += ["-drive", f"file={path},if=none,id=ns{n.nsid},format=raw,cache=unsafe",
                "-device", f"nvme-ns,drive=ns{n.nsid},bus=nvme0,nsid={n.nsid},{props}"]
    rimg = run_dir / "results.img"
    if rimg.exists():
        rimg.unlink()
    with open(rimg, "wb") as fh:
        fh.truncate(results_size)
    cmd += ["-drive", f"file={rimg},if=virtio,format=raw,cache=unsafe"]
    cmd += [str(a_) for a_ in qemu_args]

    console = run_dir / "console.log"
    if console.exists():
        console.unlink()
    (run_dir / "qemu.cmd").write_text(" ".join(_q(c) for c in cmd) + "\n")
    t0 = time.monotonic()
    timed_out = False
    host_marks: dict = {}
    with open(run_dir / "qemu.stderr", "wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            _follow(proc, console, _timing_hook(host_marks, t0, on_line), t0 + timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    wall = time.monotonic() - t0

    con = console.read_text(errors="replace") if console.exists() else ""
    markers = _markers(con)
    markers.update(host_marks)
    results_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(rimg, "r:") as tf:
            tf.extractall(results_dir, filter="data") if hasattr(tarfile, "data_filter") \
                else tf.extractall(results_dir)
    except (tarfile.ReadError, EOFError):
        pass   # the guest never wrote its results (hang, panic); rc comes from the console if at all
    rimg.unlink()
    initrd.unlink(missing_ok=True)
    for p in temp_backing:
        p.unlink(missing_ok=True)

    rc = None
    if (results_dir / "rc").exists():
        try:
            rc = int((results_dir / "rc").read_text().strip())
        except ValueError:
            rc = None
    elif "rc" in markers:
        rc = markers["rc"]
    if proc.returncode not in (0, None) and not timed_out and rc is None:
        qerr = (run_dir / "qemu.stderr").read_text(errors="replace").strip()
        if qerr:
            raise PifioError(f"QEMU failed (exit {proc.returncode}): {qerr[-2000:]}")

    ns_info = _namespaces(results_dir / "namespaces.tsv", nss)
    res = GuestResult(rc=rc, timed_out=timed_out, console_log=console, results_dir=results_dir,
                      run_dir=run_dir, kernel=k.describe(), cmdline=cmdline, qemu_cmd=cmd,
                      namespaces=ns_info, boot_s=markers.get("host_init_s"), wall_s=wall, markers=markers,
                      clock=clock_desc)
    if timed_out:
        log(f"guest timed out after {timeout:.0f} s; console: {console}")
    if not keep_run_dir and res.ok:
        shutil.rmtree(run_dir, ignore_errors=True)
    return res


def _timing_hook(marks: dict, t0: float, user):
    """Record host-side times of the guest's markers (the guest clock is not
    trusted under TCG), then pass the line on."""
    def hook(line: str):
        for tag, key in (("PIFIO-INIT", "host_init_s"), ("PIFIO-READY", "host_ready_s"),
                         ("PIFIO-RC", "host_rc_s")):
            if line.startswith(tag) and key not in marks:
                marks[key] = round(time.monotonic() - t0, 2)
        if user is not None:
            user(line)
    return hook


def _follow(proc, console: Path, on_line, deadline: float) -> None:
    """Wait for QEMU, feeding new console lines to on_line; TimeoutExpired at the deadline."""
    pos, part = 0, ""
    while True:
        try:
            proc.wait(timeout=0.2)
            done = True
        except subprocess.TimeoutExpired:
            done = False
        if console.exists():
            with open(console, "rb") as fh:
                fh.seek(pos)
                chunk = fh.read()
            pos += len(chunk)
            part += chunk.decode(errors="replace")
            *lines, part = part.split("\n")
            for line in lines:
                on_line(line.rstrip("\r"))
        if done:
            return
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(proc.args, 0)


def _q(s: str) -> str:
    return s if re.fullmatch(r"[\w@%+=:,./-]+", s) else "'" + s.replace("'", "'\\''") + "'"


def _markers(con: str) -> dict:
    m: dict = {}
    if (x := re.search(r"PIFIO-INIT uptime=(\d+(?:\.\d*)?)", con)):
        m["init_uptime"] = float(x.group(1))
    if (x := re.search(r"PIFIO-READY uptime=(\d+(?:\.\d*)?)", con)):
        m["ready_uptime"] = float(x.group(1))
    if (x := re.search(r"PIFIO-RC (\d+) uptime=(\d+(?:\.\d*)?)", con)):
        m["rc"] = int(x.group(1))
        m["rc_uptime"] = float(x.group(2))
    m["done"] = "PIFIO-DONE" in con
    m["warnings"] = re.findall(r"PIFIO-WARN (.*)", con)
    if "Kernel panic" in con:
        m["panic"] = True
    return m


def _namespaces(tsv: Path, nss: list[Namespace]) -> list[dict]:
    seen = {}
    if tsv.exists():
        lines = tsv.read_text().splitlines()
        head = lines[0].split("\t") if lines else []
        for line in lines[1:]:
            row = dict(zip(head, line.split("\t")))
            if "nsid" in row:
                seen[int(row["nsid"])] = row
    out = []
    for n in nss:
        row = {"nsid": n.nsid, "format": n.fmt.canonical(), "spec": n.fmt.short(),
               "backing": str(n.backing) if n.backing else None, "size": n.size}
        g = seen.get(n.nsid)
        row["seen"] = g is not None
        if g:
            row.update({"block": g.get("block"), "char": g.get("char"),
                        "integrity_format": g.get("integrity_format"),
                        "sectors": int(g.get("sectors") or 0),
                        "logical_block_size": int(g.get("logical_block_size") or 0)})
        out.append(row)
    return out
