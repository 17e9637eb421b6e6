#!/usr/bin/python3
"""PI cost table: `./pifio run --pi-cost` in a guest of its own on the icount
clock. Checks that every runnable PI path ran clean with both engines, that
each left guest-CPU-per-I/O samples for every job and repetition (cpu.json),
that the figures mean something — the kernel verifying reads (auto-PI) costs
measurably more guest CPU per read than the same reads without PI, and PRACT
(the device does PI) less than userspace PI on the same passthrough path —
and that the table is printed. Without booting: 6.1's plan skips the io_uring-attribute path
with the reason.

usage: test_pi_cost.py [KERNEL]   (default 7.3: the one with io_uring PI attributes)
"""
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import labtest
from labtest import ROOT, check

kernel = sys.argv[1] if len(sys.argv) > 1 else "7.3"

# The plan on a kernel without io_uring PI attributes: a recorded skip, no boot.
from lab import kernels
from lab.model import scenarios
from lab.runs import plan as labrun  # noqa: E402

try:
    k61 = kernels.resolve("6.1", fetch_missing=False)
except Exception as e:  # noqa: BLE001
    k61 = None
    print(f"(6.1 not in the cache, its plan is not checked: {e})")
if k61:
    plan, nss = labrun.plan_pi_cost(k61, ["pifio", "builtin"])
    upi = [s for s in plan if s.cost == "uring-pi"]
    check(len(upi) == 2 and all(s.skipped and "io_uring PI attributes" in s.skipped for s in upi),
          f"6.1: uring-pi skipped with the reason ({[s.skipped for s in upi]})")
    check(all(not s.skipped for s in plan if s.cost != "uring-pi"), "6.1: every other PI path is planned")
    check([n.fmt.short() for n in nss] == [scenarios.PI_COST_FORMAT, scenarios.PI_COST_NOPI], "cost namespaces: 4096+8/t1 and 4096+0")

labtest.need_qemu()
labtest.need_kernel(kernel)
labtest.need_fio_in_guest()
if not (ROOT / "build" / "lib" / "libpifio.so").exists():
    labtest.skip("build/lib/libpifio.so missing (./pifio build)")

IOS, REPS = 1000, 1     # one repetition keeps it ~1 min; the rep loop still runs (cpu snapshots, renames)
with tempfile.TemporaryDirectory(prefix="pifio-cost-") as td:
    cmd = ["/usr/bin/python3", str(ROOT / "pifio"), "run", "--no-build", "--kernel", kernel, "--stack", "none",
           "--no-default-jobs", "--pi-cost", "--cost-ios", str(IOS), "--cost-reps", str(REPS),
           "--results", td, "--run-id", "cost"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    print(r.stdout[-4000:])
    check(r.returncode == 0, f"./pifio run --pi-cost exits 0 (got {r.returncode})")
    rdir = Path(td) / "cost"
    meta = json.loads((rdir / "meta.json").read_text())
    check(meta.get("cost_guest", {}).get("clock", "").startswith("icount"),
          f"cost boot on the icount clock ({meta.get('cost_guest', {}).get('clock')})")
    check("PI cost table: guest CPU per I/O" in r.stdout, "the table is printed")
    check("!" not in r.stdout.split("PI cost table", 1)[-1].split("('!'", 1)[0], "no cell marked with errors")

    med = {}
    ran = 0
    for name, sm in meta["scenarios"].items():
        if sm.get("skipped"):
            print(f"skipped {name}: {sm['skipped']}")
            continue
        ran += 1
        d = rdir / name
        rcs = {j.stem: j.read_text().strip() for j in d.glob("*.rc")}
        check(len(rcs) == 4 and set(rcs.values()) == {"0"}, f"{name}: 4 jobs, all rc 0 ({rcs})")
        cpu = json.loads((d / "cpu.json").read_text())["reps"] if (d / "cpu.json").exists() else []
        check(len(cpu) == 4 * REPS, f"{name}: {4 * REPS} CPU samples (got {len(cpu)})")
        check(all(c["ios"] == IOS for c in cpu), f"{name}: each sample counts {IOS} I/Os")
        for c in cpu:
            med.setdefault((sm["pi_path"], sm["engine"], c["job"]), []).append(c["ns_per_io"])
        if sm["engine"] == "pifio":
            for j in rcs:
                for i in range(1, REPS + 1):
                    rep = d / f"{j}.{i}.pi.json"
                    if rep.exists():
                        c = json.loads(rep.read_text())["counts"]
                        check(c["total"] == 0, f"{name}/{j}.{i}: engine PI report clean ({c})")
    check(ran >= 8, f"at least 8 scenarios ran ({ran})")

    def m(path, job, eng="pifio"):
        v = med.get((path, eng, job))
        return statistics.median(v) if v else None

    # Like against like. Kernel auto-PI vs no PI: the same block path, PI the
    # only difference (observed ~1.5x on reads). PRACT vs userspace PI: the
    # same passthrough path, host CRC work the difference (observed ~0.77x);
    # summed over jobs, since one sample per job can be 10 % off.
    # (PRACT vs no PI would compare the ng path with the block path.)
    reads = ("randread-qd1", "randread-qd32")
    nopi, kern = [m("nopi", j) for j in reads], [m("kernel", j) for j in reads]
    if None in nopi + kern:
        check(False, "no PI and kernel auto-PI reads measured at QD1 and QD32")
    else:
        check(sum(kern) > 1.15 * sum(nopi), f"kernel auto-PI reads cost > 1.15x no PI "
                                            f"({sum(kern) / 1000:.1f} vs {sum(nopi) / 1000:.1f} us, QD1 + QD32)")
    jobs = ("randwrite-qd1", "randwrite-qd32", "randread-qd1", "randread-qd32")
    pr, up = [m("pract", j) for j in jobs], [m("passthrough", j) for j in jobs]
    if None in pr + up:
        check(False, "PRACT and passthrough userspace PI measured for all four jobs")
    else:
        check(sum(pr) < 0.92 * sum(up), f"PRACT (device PI) costs < 0.92x userspace PI on the same ng path "
                                        f"({sum(pr) / 1000:.1f} vs {sum(up) / 1000:.1f} us over 4 jobs)")

sys.exit(labtest.finish())
