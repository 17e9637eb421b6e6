"""The QEMU side of a boot as data: the guest clock, the kernel command line,
and QemuConfig -> the qemu-system-x86_64 argv. Nothing here runs anything."""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..core.env import PifioError

QEMU = "qemu-system-x86_64"
# tsc=unstable: under TCG on a loaded host the guest calibrates the TSC wrongly
# (seen: "Detected 73.894 MHz", then uptime running 2x faster than the wall
# clock), which skews every time fio measures. HPET follows QEMU's clock.
BASE_CMDLINE = "console=ttyS0 edd=off panic=-1 oops=panic printk.time=1 tsc=unstable"

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


def qemu_available() -> str | None:
    return shutil.which(QEMU)


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


@dataclass(frozen=True)
class NsDrive:
    """One nvme-ns on the controller: its backing file and nvme-ns properties."""
    nsid: int
    backing: Path
    props: dict


@dataclass
class QemuConfig:
    qemu: str                      # the binary
    accel: list[str]               # from clock_args
    kernel: Path                   # bzImage
    initrd: Path
    cmdline: str
    console: Path                  # serial console file
    results_img: Path              # virtio-blk disk the guest writes its tar stream to
    namespaces: list[NsDrive] = field(default_factory=list)
    smp: int = 1
    mem: str = "1G"
    extra: list[str] = field(default_factory=list)

    def argv(self) -> list[str]:
        cmd = [self.qemu, *self.accel, "-cpu", "max", "-smp", str(self.smp), "-m", self.mem,
               "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
               "-serial", f"file:{self.console}", "-monitor", "none",
               "-kernel", str(self.kernel), "-initrd", str(self.initrd),
               "-append", self.cmdline, "-device", "nvme,id=nvme0,serial=pifio0"]
        for n in self.namespaces:
            props = ",".join(f"{k}={v}" for k, v in n.props.items())
            cmd += ["-drive", f"file={n.backing},if=none,id=ns{n.nsid},format=raw,cache=unsafe",
                    "-device", f"nvme-ns,drive=ns{n.nsid},bus=nvme0,nsid={n.nsid},{props}"]
        cmd += ["-drive", f"file={self.results_img},if=virtio,format=raw,cache=unsafe"]
        return cmd + [str(a) for a in self.extra]


def shell_quote(s: str) -> str:
    return s if re.fullmatch(r"[\w@%+=:,./-]+", s) else "'" + s.replace("'", "'\\''") + "'"
