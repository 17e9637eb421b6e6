"""Run target "hostdev": ./pifio run --host-dev /dev/ngXnY[=SPEC] ... --destroy-data

The same scenarios and jobs as the lab, run on this host's real NVMe
namespaces with build/bin/fio and build/lib/libpifio.so. The write jobs
overwrite the namespace, so nothing runs without --destroy-data, and a
namespace that is mounted, has holders (dm, md) or a mounted partition is
refused whatever the flags. The format comes from `nvme id-ns` unless given
as /dev/ngXnY=SPEC (needed for 64b-guard formats, which nvme-cli 2.3's id-ns
output cannot tell from 16b ones).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from shared.runschema import utc_now

from ..core.env import BUILD, PifioError, log
from ..model import formats
from ..model.scenarios import Scenario, default_workloads
from ..runs import meta
from ..runs.plan import RunPlan
from ..runs.summary import summary
from . import Outcome


@dataclass
class HostDev:
    char: str           # /dev/ngXnY
    block: str | None   # /dev/nvmeXnY (None when the kernel exposes no block device)
    spec: str           # format spec


def _names(dev: str) -> tuple[str, str]:
    """(/dev/ngXnY, nvmeXnY) for either spelling of a namespace."""
    m = re.fullmatch(r"/dev/(?:ng|nvme)(\d+)n(\d+)", dev)
    if not m:
        raise PifioError(f"{dev}: not an NVMe namespace; give /dev/ngXnY (or /dev/nvmeXnY)")
    return f"/dev/ng{m[1]}n{m[2]}", f"nvme{m[1]}n{m[2]}"


def busy_reason(blockname: str, mounts_text: str | None = None, sys_block: Path = Path("/sys/block")) -> str | None:
    """Why a namespace must not be overwritten (mounted, holders, mounted partition), or None."""
    if mounts_text is None:
        mounts_text = Path("/proc/mounts").read_text()
    mounted = {line.split()[0] for line in mounts_text.splitlines() if line.strip()}
    base = sys_block / blockname
    parts = [blockname] + ([p.name for p in base.iterdir() if p.name.startswith(blockname + "p")]
                           if base.is_dir() else [])
    for p in parts:
        if f"/dev/{p}" in mounted:
            return f"/dev/{p} is mounted"
        holders = (base / p / "holders") if p != blockname else (base / "holders")
        if holders.is_dir():
            hs = sorted(h.name for h in holders.iterdir())
            if hs:
                return f"/dev/{p} is held by {', '.join(hs)} (device-mapper/md)"
    return None


def spec_from_id_ns(idns: dict) -> str:
    """Format spec from `nvme id-ns -o json` (16b guard; see module doc for 64b)."""
    flbas = int(idns["flbas"])
    idx = (flbas & 0xF) | ((flbas >> 5 & 0x3) << 4)
    lbaf = idns["lbafs"][idx]
    data, ms = 1 << int(lbaf["ds"]), int(lbaf["ms"])
    dps = int(idns.get("dps", 0))
    pi = dps & 7
    spec = f"{data}+{ms}/t{pi}"
    if pi:
        spec += "/first" if dps & 8 else "/last"
    if ms:
        spec += "/ext" if flbas & 0x10 else "/sep"
    formats.parse(spec)            # same validation as every other spec
    return spec


def resolve(arg: str) -> HostDev:
    dev, _, spec = arg.partition("=")
    char, blockname = _names(dev)
    if spec:
        formats.parse(spec)        # a bad spec is an error before anything else
    if not os.path.exists(char):
        raise PifioError(f"{char} does not exist (is the namespace attached? `nvme list` shows them)")
    why = busy_reason(blockname)
    if why:
        raise PifioError(f"refusing to overwrite {char}: {why}; unmount / remove it first")
    if not spec:
        r = subprocess.run(["nvme", "id-ns", char, "-o", "json"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise PifioError(f"nvme id-ns {char} failed ({r.stderr.strip()}); give the format as {char}=SPEC")
        spec = spec_from_id_ns(json.loads(r.stdout))
    block = f"/dev/{blockname}" if os.path.exists(f"/dev/{blockname}") else None
    return HostDev(char, block, spec)


def run(p: RunPlan) -> Outcome:
    if not p.destroy_data:
        names = " ".join(d.partition("=")[0] for d in p.host_devs)
        print(f"pifio run: the jobs WRITE to {names} and destroy the data on it; "
              "add --destroy-data to confirm", file=sys.stderr)
        return Outcome(2)
    try:
        devs = [resolve(d) for d in p.host_devs]
    except (PifioError, ValueError) as e:
        print(f"pifio run: {e}", file=sys.stderr)
        return Outcome(2)
    fio, eng = BUILD / "bin" / "fio", BUILD / "lib" / "libpifio.so"
    if not fio.exists() or not eng.exists():
        print("pifio run: build/bin/fio or build/lib/libpifio.so missing; run ./pifio build", file=sys.stderr)
        return Outcome(2)
    stamp = utc_now()
    run_id = p.run_id or f"{stamp.strftime('%Y%m%d-%H%M%S')}-host"
    rdir = p.results / run_id
    if rdir.exists():
        print(f"pifio run: {rdir} exists; pick another --run-id", file=sys.stderr)
        return Outcome(2)
    scs = []
    for i, d in enumerate(devs, 1):
        for e in p.engines:
            scs.append((d, Scenario(formats.parse(d.spec), i, engine=e,
                                    workloads=default_workloads(p.size, p.runtime))))
    m = meta.new(run_id, stamp, host=meta.host(accel="host"),
                 kernel={"release": os.uname().release, "series": "",
                         "cmdline": Path("/proc/cmdline").read_text().strip()},
                 devices=[d.__dict__ for d in devs], command="./pifio run --host-dev ...",
                 scenarios={s.name: s.meta() for _, s in scs})
    meta.write(rdir, m)
    env0 = dict(os.environ, PIFIO_ENGINE=str(eng))
    status = 0
    for d, s in scs:
        sd = rdir / s.name
        sd.mkdir(parents=True, exist_ok=True)
        bs, md = s.global_options().get("bs"), s.global_options().get("md_per_io_size", 0)
        env = dict(env0, PIFIO_DEV=d.char, PIFIO_FORMAT=d.spec, PIFIO_BS=str(bs), PIFIO_MD=str(md),
                   PIFIO_PI_CHK=s.global_options().get("pi_chk", "NONE"))
        for w in s.workloads:
            (sd / f"{w.name}.fio").write_text(s.job_file(w))
            log(f"{s.name} {w.name} on {d.char}")
            r = subprocess.run([str(fio), "--output-format=json+", f"--output={w.name}.json", f"{w.name}.fio"],
                               cwd=sd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            (sd / f"{w.name}.log").write_text(r.stdout)
            (sd / f"{w.name}.rc").write_text(f"{r.returncode}\n")
            if r.returncode != 0:
                status = 1
    print(summary(rdir, [s for _, s in scs]))
    return Outcome(status, [rdir])
