"""Scenarios: kernel × namespace format × stack × engine × jobs (pure: the job
files and guest shell they make are text; what the host has is given as Facts).

A scenario declares what it requires; what a boot cannot give it becomes a
recorded skip reason (data in meta.json), never a silent pass (blktests
style). One boot per kernel carries every namespace of the run; the guest
runs each scenario's jobs in turn and leaves fio JSON+ (and engine PI
reports) in /results/<scenario>/, which is results/<run-id>/<scenario>/ on
the host (the layout analysis/ ingests: <scenario>/<job>.json + <job>.pi.json).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import cpusnap, fioopts, stacks
from .formats import Format, parse

DEFAULT_FORMATS = ["4096+8/t1", "512+8/t3/first", "4096+16/t1/g64", "4096+64/t2/g64/first",
                   "512+8/t1/ext", "4096+0"]
ENGINES = ("pifio", "builtin")


@dataclass
class Workload:
    name: str
    rw: str
    iodepth: int = 1
    size: str | None = None        # bytes to move (sequential jobs)
    runtime: int | None = None     # seconds (time-based jobs)
    number_ios: int | None = None  # I/O count (count-based jobs; the PI cost table)
    reps: int = 1                  # > 1: run reps times, <job>.<i>.json each
    cpu: bool = False              # guest CPU snapshots around the I/O (lab/model/cpusnap.py)


def default_workloads(size: str = "8M", runtime: int = 5) -> list[Workload]:
    """Write then read-verify; 4 KiB randread at QD1 and QD32."""
    return [Workload("write", "write", 1, size=size),
            Workload("read-verify", "read", 1, size=size),
            Workload("randread-qd1", "randread", 1, size=size, runtime=runtime),
            Workload("randread-qd32", "randread", 32, size=size, runtime=runtime)]


@dataclass(frozen=True)
class Facts:
    """What the host can give a guest, found out once by the run plan (lab.runs.plan)."""
    engine_built: bool         # build/lib/libpifio.so exists
    fio: bool                  # a fio 3.41 build goes into the guest


@dataclass
class Scenario:
    fmt: Format
    nsid: int
    engine: str = "builtin"        # pifio (our external engine) | builtin (fio's io_uring_cmd)
    stack: str = "none"
    workloads: list[Workload] = field(default_factory=default_workloads)
    user_jobs: list = field(default_factory=list)   # host Paths of job files (--jobs)
    skipped: str | None = None
    ns_base: int = 0               # stacks: the stack's namespace k is guest nsid ns_base + k
    cost: str | None = None        # PI fast-path mode (PI_COST_MODES) for the per-kernel PI cost table

    @property
    def name(self) -> str:
        return f"{self.fmt.slug()}.{self.stack}.{self.engine}" + (f".{self.cost}" if self.cost else "")

    @property
    def on_stack(self) -> bool:
        return self.stack != "none"

    def requirements(self, kernel, facts: Facts) -> list[str]:
        """Why the scenario cannot run on `kernel` (a lab.kernels.Kernel) with
        what the host has; [] when it can. The first reason is the recorded skip."""
        why = []
        if self.engine == "pifio" and not facts.engine_built:
            why.append("engine not built (build/lib/libpifio.so missing; run ./pifio build)")
        if not facts.fio:
            why.append("no fio 3.41 build (run ./pifio setup)")
        if self.on_stack:
            if self.stack not in stacks.STACKS:
                why.append(f"unknown stack {self.stack!r} (lab/model/stacks.py knows {', '.join(stacks.STACKS)})")
            elif (r := stacks.skip_reason(self.stack, kernel)):
                why.append(r)
        return why

    def global_options(self) -> dict:
        """[global] of the generated job files — also meta's job_options."""
        if self.cost:
            return self._cost_options()
        if self.on_stack:
            # A dm stack is a block device: data only, the kernel generates and
            # checks PI where the stack passes it (lab/model/stacks.py); pifio's
            # pi_audit reads the tuples back at the physical LBAs.
            o = {"filename": "${PIFIO_DEV}", "bs": self.fmt.data, "direct": 1}
            if self.engine == "builtin":
                o["ioengine"] = "io_uring"
            else:
                o["ioengine"] = "external:${PIFIO_ENGINE}"
                if stacks.get(self.stack).audit == "map":
                    o["pi_audit"] = "${PIFIO_AUDIT}"
            return o
        bs, md = fioopts.io_size(self.fmt)
        o = {"filename": "${PIFIO_DEV}", "bs": bs}
        if self.engine == "builtin":
            o.update({"ioengine": "io_uring_cmd", "cmd_type": "nvme"})
        else:
            o.update({"ioengine": "external:${PIFIO_ENGINE}", "pi_format": self.fmt.canonical()})
        if md:
            o["md_per_io_size"] = md
        if self.fmt.pi:
            o["pi_act"] = 0
            if fioopts.pi_chk(self.fmt):
                o["pi_chk"] = fioopts.pi_chk(self.fmt)
            o["apptag"] = f"{fioopts.APPTAG:#x}"
            o["apptag_mask"] = "0xffff"
        return o

    def _cost_options(self) -> dict:
        """One mode of the PI fast-path table on one 4096+8/t1 namespace (4096+0 for nopi)."""
        m = PI_COST_MODES[self.cost]
        o = {"filename": "${PIFIO_DEV}", "bs": 4096}
        # Every mode writes the same namespace, and the kernel writes app tag 0:
        # reads check guard and ref tag (what all writers agree on), not the app tag.
        # (apptag_mask=0: the engine's own userspace check skips the app tag too.)
        upi = {"pi_act": 0, "pi_chk": "GUARD,REFTAG", "apptag": f"{fioopts.APPTAG:#x}", "apptag_mask": "0x0000"}
        if self.engine == "builtin":
            o.update({"ioengine": "io_uring_cmd", "cmd_type": "nvme"} if m["dev"] == "ng" else
                     {"ioengine": "io_uring", "direct": 1})
            if self.cost in ("uring-pi", "passthrough"):
                o.update(md_per_io_size=8, **upi)
                if self.cost == "uring-pi":
                    # fio 3.41's io_uring engine refuses PI with any mask but 0xffff
                    # ("io_uring with metadata requires an apptag_mask of 0xffff");
                    # its pi_chk has no APPTAG here, so the app tag is not checked anyway.
                    o["apptag_mask"] = "0xffff"
            elif self.cost == "pract":
                o["pi_act"] = 1
                o["pi_chk"] = "GUARD,REFTAG"
            return o
        o["ioengine"] = "external:${PIFIO_ENGINE}"
        if self.cost == "kernel":
            o["pi_mode"] = "kernel"
        elif self.cost == "uring-pi":
            o.update(pi_mode="uring-pi", **upi)
        elif self.cost == "passthrough":
            o.update(pi_format=self.fmt.canonical(), md_per_io_size=8, **upi)
        elif self.cost == "pract":
            o.update(pi_format=self.fmt.canonical(), pi_act=1)
        return o

    def job_file(self, w: Workload) -> str:
        g = self.global_options()
        lines = ["# generated by lab/model/scenarios.py for " + self.name, "[global]"]
        lines += [f"{k}={v}" for k, v in g.items()]
        if self.engine == "pifio":
            lines.append(f"pi_report={w.name}.pi.json")
        lines += ["", f"[{w.name}]", f"rw={w.rw}", f"iodepth={w.iodepth}"]
        if w.size:
            lines.append(f"size={w.size}")
        if w.runtime:
            lines += ["time_based=1", f"runtime={w.runtime}"]
        if w.number_ios:
            lines.append(f"number_ios={w.number_ios}")
        if w.cpu:
            lines += [f"exec_prerun={cpusnap.SNAP_PATH}", f"exec_postrun={cpusnap.SNAP_PATH}"]
        if w.rw.startswith("rand"):
            lines.append("randrepeat=1")
        if self.on_stack and w.name == "write":
            lines += ["verify=crc32c", "do_verify=0"]
        elif self.on_stack and w.name == "read-verify":
            # the data written by `write` (same offsets), checked block by block
            lines += ["verify=crc32c", "verify_header_seed=0", "verify_fatal=1"]
        return "\n".join(lines) + "\n"

    def files(self) -> dict[str, str | Path]:
        """Guest files: /pifio/jobs/<scenario>/<job>.fio (text, or the host Path of a --jobs file)."""
        out: dict[str, str | Path] = {f"/pifio/jobs/{self.name}/{w.name}.fio": self.job_file(w)
                                      for w in self.workloads}
        for p in self.user_jobs:
            out[f"/pifio/jobs/{self.name}/{p.stem}.fio"] = Path(p)
        return out

    def job_names(self) -> list[str]:
        return [w.name for w in self.workloads] + [p.stem for p in self.user_jobs]

    def guest_script(self) -> str:
        """Shell fragment: run this scenario's jobs, JSON+ into /results/<name>/."""
        d = f"/results/{self.name}"
        s = [f"# scenario {self.name}", f"mkdir -p {d}", f"cd {d}"]
        if self.on_stack:
            # In a subshell: the stack's helpers and STACK_* stay local; a
            # stack the running kernel cannot build leaves skip.txt (exit 77).
            s += ["(", f"NSB={self.ns_base}", f"export PIFIO_SKIP_FILE={d}/skip.txt", stacks.script(self.stack),
                  f"stack_build > {d}/stack.log 2>&1 || exit $?", "dmsetup table > stack-table.txt 2>&1",
                  "export PIFIO_DEV=$STACK_TOP PIFIO_AUDIT=$STACK_AUDIT_NG PIFIO_FORMAT=none",
                  f"export PIFIO_BS={self.fmt.data} PIFIO_MD=0 PIFIO_PI_CHK=NONE"]
        elif self.cost:
            dev = "BLK" if PI_COST_MODES[self.cost]["dev"] == "blk" else "NG"
            s += [f"export PIFIO_DEV=$PIFIO_{dev}_{self.nsid} PIFIO_FORMAT={self.fmt.canonical()}"]
        else:
            s += [f"export PIFIO_DEV=$PIFIO_NG_{self.nsid} PIFIO_FORMAT={self.fmt.canonical()}",
                  f"export PIFIO_BS={fioopts.io_size(self.fmt)[0]} PIFIO_MD={fioopts.io_size(self.fmt)[1]}",
                  f"export PIFIO_PI_CHK={fioopts.pi_chk(self.fmt) or 'NONE'}"]
        reps = {w.name: w for w in self.workloads if w.reps > 1 or w.cpu}
        for j in self.job_names():
            s.append(f"echo \"PIFIO-JOB {self.name} {j} start $(cut -d' ' -f1 /proc/uptime)\"")
            w = reps.get(j)
            if w is None:
                s.append(f"fio --output-format=json+ --output={j}.json /pifio/jobs/{self.name}/{j}.fio "
                         f"> {j}.log 2>&1; echo $? > {j}.rc")
            else:
                # Repetitions: <job>.<i>.json (+ .pi.json, + .cpu0/.cpu1); the
                # job's rc is the first non-zero one.
                s += [f"echo 0 > {j}.rc", f"for i in {' '.join(str(i) for i in range(1, w.reps + 1))}; do",
                      f"  fio --output-format=json+ --output={j}.$i.json /pifio/jobs/{self.name}/{j}.fio "
                      f"> {j}.$i.log 2>&1; rc=$?",
                      f"  [ $rc -eq 0 ] || [ \"$(cat {j}.rc)\" != 0 ] || echo $rc > {j}.rc",
                      f"  [ -e {j}.pi.json ] && mv {j}.pi.json {j}.$i.pi.json",
                      f"  {cpusnap.rename_cmd('.', j, '$i')}",
                      "done"]
            s.append(f"echo \"PIFIO-JOB {self.name} {j} rc $(cat {j}.rc)\"")
        if self.on_stack:
            s += ["stack_teardown", ")",
                  f"rc=$?; [ $rc -eq 0 ] || {{ echo \"PIFIO-JOB {self.name} stack rc $rc\"; echo $rc > {d}/stack.rc; }}",
                  "dmsetup remove_all --force 2>/dev/null"]
        s.append("cd /results")
        return "\n".join(s) + "\n"

    def meta(self) -> dict:
        m = {"format": self.fmt.canonical(), "format_spec": self.fmt.short(), "stack": self.stack,
             "engine": self.engine, "nsid": self.nsid,
             "pi_mode": (PI_COST_MODES[self.cost]["pi_mode"] if self.cost else
                         "kernel" if self.on_stack else "passthrough"),
             "job_options": {k: str(v) for k, v in self.global_options().items()},
             **({"pi_path": self.cost} if self.cost else {}),
             "workloads": [w.__dict__ for w in self.workloads] + [{"name": p.stem, "file": str(p)}
                                                                   for p in self.user_jobs]}
        if self.skipped:
            m["skipped"] = self.skipped
        return m


# ------------------------------------------------------------ PI cost table --

# The PI fast path of one kernel, measured on one 4096+8/t1 namespace (no PI:
# a 4096+0 namespace on the same controller): 4 KiB random read/write, QD1
# and QD32. dev: the block device (blk) or the NVMe char device (ng);
# pi_mode: meta.json's vocabulary (analysis/dashboard.py), pi_path the mode.
PI_COST_MODES = {
    "nopi":        {"dev": "blk", "pi_mode": "none", "label": "no PI (4096+0, block)"},
    "kernel":      {"dev": "blk", "pi_mode": "kernel", "label": "kernel auto-PI (block)"},
    "uring-pi":    {"dev": "blk", "pi_mode": "userspace", "label": "userspace PI, io_uring attrs (block)",
                    "min_kernel": (6, 14)},
    "passthrough": {"dev": "ng",  "pi_mode": "userspace", "label": "userspace PI, passthrough (ng)"},
    "pract":       {"dev": "ng",  "pi_mode": "pract", "label": "PRACT, device PI (ng)"},
}
PI_COST_FORMAT, PI_COST_NOPI = "4096+8/t1", "4096+0"


# Measured by guest CPU per I/O in a boot of its own on the icount clock
# (lab/model/cpusnap.py): an instruction count per I/O, which repeats across boots
# and host load, where TCG IOPS do not. Count-based jobs (a time-based job
# would do a host-dependent amount of work), COST_REPS repetitions each.
COST_IOS = 2000
COST_REPS = 3
COST_SIZE = "32M"      # the region every mode uses; prefilled before the first job


def cost_prelude() -> str:
    """Guest shell before the PI cost scenarios: the CPU snapshot script, and a
    prefill of both namespaces so every mode reads the same region of written
    blocks (unwritten ones carry escape tags nobody checks)."""
    return (cpusnap.INSTALL +
            "for n in 1 2; do eval B=\\$PIFIO_BLK_$n; fio --name=prefill --filename=$B --rw=write --bs=128k "
            f"--direct=1 --ioengine=psync --size={COST_SIZE.lower()} --output-format=terse > /dev/null 2>&1 "
            "|| echo \"PIFIO-JOB prefill $B failed\"; done\n")


def pi_cost_workloads(ios: int = COST_IOS, reps: int = COST_REPS, size: str = COST_SIZE) -> list[Workload]:
    kw = dict(size=size, number_ios=ios, reps=reps, cpu=True)
    return [Workload("randwrite-qd1", "randwrite", 1, **kw),
            Workload("randwrite-qd32", "randwrite", 32, **kw),
            Workload("randread-qd1", "randread", 1, **kw),
            Workload("randread-qd32", "randread", 32, **kw)]


def pi_cost_scenarios(kernel, facts: Facts, nsid_pi: int, nsid_nopi: int, engines, ios: int = COST_IOS,
                      reps: int = COST_REPS) -> list[Scenario]:
    m = re.match(r"(\d+)\.(\d+)", kernel.release)
    kv = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    out = []
    for mode, d in PI_COST_MODES.items():
        for eng in engines:
            nopi = mode == "nopi"
            sc = Scenario(fmt=parse(PI_COST_NOPI if nopi else PI_COST_FORMAT), nsid=nsid_nopi if nopi else nsid_pi,
                          engine=eng, workloads=pi_cost_workloads(ios, reps), cost=mode)
            sc.skipped = next(iter(sc.requirements(kernel, facts)), None)
            if not sc.skipped and d.get("min_kernel") and kv < d["min_kernel"]:
                sc.skipped = (f"kernel {kernel.release} has no io_uring PI attributes (Linux "
                              f"{d['min_kernel'][0]}.{d['min_kernel'][1]}+)")
            out.append(sc)
    return out
