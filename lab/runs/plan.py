"""A run plan: what `./pifio run ARGS` asked for, with the defaults resolved,
and the scenarios + namespaces of each boot planned from it (skips decided
from what the host has, before anything boots)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import kernels
from ..core.env import BUILD
from ..guest import Namespace, initramfs
from ..model import formats, stacks
from ..model.scenarios import (COST_IOS, COST_REPS, DEFAULT_FORMATS, ENGINES, PI_COST_FORMAT, PI_COST_NOPI, Facts,
                               Scenario, Workload, default_workloads, pi_cost_scenarios)

MULTIHOST_FORMATS = ["4096+8/t1"]


def size(s: str) -> int:
    """Bytes of a size like 256M, 1G, 64KiB, 4096."""
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    s = s.strip().upper().rstrip("B").rstrip("I")
    return int(s[:-1]) * mult[s[-1]] if s and s[-1] in mult else int(s)


def facts() -> Facts:
    """What this host can give a guest (asked once per plan)."""
    return Facts(engine_built=(BUILD / "lib" / "libpifio.so").exists(),
                 fio=any(g == "/usr/bin/fio" for g, _ in initramfs.default_binaries()))


@dataclass
class RunPlan:
    target: str                    # "lab" | "multihost" | "hostdev"
    kernels: list[str]             # one run (run-id) per kernel; multihost: exactly one
    specs: list[str]               # namespace formats
    engines: list[str]
    stacks: list[str]              # "none" = the --ns namespaces themselves
    pi_cost: bool = False
    cost_ios: int | None = None
    cost_reps: int | None = None
    jobs: list[Path] = field(default_factory=list)
    default_jobs: bool = True
    size: str = "8M"
    runtime: int = 5
    ns_size: int = 256 << 20
    smp: int = 1
    mem: str = "1G"
    timeout: int | None = None
    results: Path = Path("results")
    run_id: str | None = None
    modules: Path | None = None
    hosts: int = 0
    host_devs: list[str] = field(default_factory=list)
    destroy_data: bool = False
    build: bool = True

    @classmethod
    def from_args(cls, a) -> "RunPlan":
        """From the argparse namespace of lab.commands.run, defaults resolved
        as documented there (plain run: default stacks and the PI cost table)."""
        common = dict(engines=list(a.engine or ENGINES), cost_ios=a.cost_ios, cost_reps=a.cost_reps,
                      jobs=list(a.jobs or []), default_jobs=not a.no_default_jobs, size=a.size,
                      runtime=a.runtime, ns_size=size(a.ns_size), smp=a.smp, mem=a.mem, timeout=a.timeout,
                      results=a.results, run_id=a.run_id, modules=Path(a.modules) if a.modules else None,
                      hosts=a.hosts or 0, host_devs=list(a.host_dev or []), destroy_data=a.destroy_data,
                      build=not a.no_build)
        if a.host_dev:
            return cls("hostdev", [], [], stacks=[], **common)
        if a.hosts:
            specs = list(a.ns or MULTIHOST_FORMATS)
            for s in specs:
                formats.parse(s)
            return cls("multihost", list(a.kernel or [kernels.DEFAULT]), specs, stacks=["none"], **common)
        specs = list(a.ns or DEFAULT_FORMATS)
        for s in specs:
            formats.parse(s)
        plain = not (a.ns or a.stack or a.matrix or a.jobs)
        pi_cost = (plain or a.matrix) if a.pi_cost is None else a.pi_cost
        kern = list(a.kernel or [])
        if a.matrix:
            stk = list(a.stack or (["none"] + list(stacks.STACKS)))
            kern = kern or ["6.1", "6.12", "7.3"]
        elif not a.stack:
            stk = ["none"] + (stacks.DEFAULT if plain else [])
        else:
            stk = list(a.stack)
        if a.ns and "none" not in stk:
            stk = ["none"] + stk       # --ns formats asked for: run them too
        return cls("lab", kern or [kernels.DEFAULT], specs, stacks=stk, pi_cost=bool(pi_cost), **common)

    def workloads(self) -> list[Workload]:
        return default_workloads(self.size, self.runtime) if self.default_jobs else []

    def run_id_for(self, kname: str, stamp, suffix: str = "") -> str:
        """<UTC time>-<kernel>[suffix], or --run-id (+ -<kernel> when several kernels run)."""
        if not self.run_id:
            return f"{stamp.strftime('%Y%m%d-%H%M%S')}-{Path(kname).name}{suffix}"
        return f"{self.run_id}-{Path(kname).name}" if len(self.kernels) > 1 else self.run_id


def plan_boot(kernel, specs: list[str], engines, stack_names, workloads, user_jobs,
              ns_size: int = 256 << 20, host: Facts | None = None) -> tuple[list[Scenario], list[Namespace]]:
    """Scenarios and the namespaces of the one boot: the --ns formats (nsid
    1..n, stack 'none') then, per stack, its own namespaces (lab/model/stacks.py)."""
    host = host or facts()
    out, nss = [], []
    if "none" in stack_names:
        for nsid, spec in enumerate(specs, 1):
            nss.append(Namespace(spec, size=ns_size, nsid=nsid))
            for eng in engines:
                sc = Scenario(fmt=formats.parse(spec), nsid=nsid, engine=eng, workloads=list(workloads),
                              user_jobs=list(user_jobs))
                sc.skipped = next(iter(sc.requirements(kernel, host)), None)
                out.append(sc)
    for name in stack_names:
        if name == "none":
            continue
        st = stacks.get(name)
        base = len(nss)
        for i, spec in enumerate(st.namespaces, 1):
            nss.append(Namespace(spec, size=max(st.ns_size, 96 << 20), nsid=base + i))
        for eng in engines:
            sc = Scenario(fmt=formats.parse(st.namespaces[0]), nsid=base + 1, engine=eng, stack=name,
                          workloads=list(workloads), user_jobs=list(user_jobs), ns_base=base)
            sc.skipped = next(iter(sc.requirements(kernel, host)), None)
            out.append(sc)
    return out, nss


def plan_pi_cost(kernel, engines, ios=None, reps=None, host: Facts | None = None
                 ) -> tuple[list[Scenario], list[Namespace]]:
    """PI cost scenarios and the two namespaces of their own boot (nsid 1: PI, 2: no PI)."""
    nss = [Namespace(PI_COST_FORMAT, size=256 << 20, nsid=1), Namespace(PI_COST_NOPI, size=256 << 20, nsid=2)]
    return pi_cost_scenarios(kernel, host or facts(), 1, 2, engines, ios or COST_IOS, reps or COST_REPS), nss
