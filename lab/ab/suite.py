"""The A/B suite: the cases `./pifio ab` and `./pifio bisect` run on a lab kernel.

One guest boot runs a *suite* (a list of scenarios) so A/B pairs cost one
boot per side and run. Each scenario is a busybox-sh fragment that leaves
  /results/<scenario>/<job>.json   fio JSON+ (ingested by analysis)
  /results/<scenario>/status       "pass" | "fail <why>" | "skip <why>"
and the kernel's complaints (ref/guard tag errors) are taken from dmesg.

Names: <stack>/<format>/<what>, e.g. dm-linear/512+8t1/read-verify. Series
manifests match them with globs ("dm-linear/*/read-verify").

These are the kernel-patch canaries' own cases, small and self-contained so
that bisecting does not depend on the rest of the suite (`./pifio run`'s
scenarios are lab.model.scenarios); more go into CASES.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from ..model import cpusnap

# Namespaces of the A/B guest (nsid -> format spec of lab.model.formats).
NAMESPACES = {1: "512+8/t1", 2: "4096+8/t1", 3: "4096+0"}
NS_SIZE = 96 << 20

# Speed scenarios: fio runs SPEED_REPS times in one boot, SPEED_IOS random
# 4 KiB I/Os each (a count, not a time: under the lab's icount clock guest
# time includes host-dependent jumps while the vCPU idles, so a time-based
# run would do a host-dependent amount of work). Each repetition leaves
# <job>.<i>.json (analysis sees SPEED_REPS samples per boot) and, from fio's
# exec_prerun/exec_postrun right around the I/O loop, <job>.<i>.cpu0/.cpu1:
# snapshots of every guest thread's CFS runtime. Their difference over the
# I/Os is "guest CPU per I/O" (lab.runs.cpu): fio's own time plus the
# kintegrityd workers that verify reads (fio's usr/sys misses those). Under
# icount it is an instruction count (shift 0: 1 ns = 1 instruction) and
# repeats within ~1 % across boots on a loaded host; IOPS do not.
SPEED_IOS = 8000
SPEED_REPS = 3
SPEED_FIO = ("--ioengine=io_uring --direct=1 --bs=4k --size=32m --io_size=4g --number_ios={ios} "
             "--randrepeat=0 --norandommap --output-format=json+ "
             + cpusnap.FIO_OPTS)

COMMON = r'''
fail() { echo "fail $*" > "$SC/status"; echo "SCENARIO $SC FAIL: $*"; }
skip() { echo "skip $*" > "$SC/status"; echo "SCENARIO $SC SKIP: $*"; }
begin() { SC=$1; mkdir -p "$SC"; dmesg -c > /dev/null 2>&1 || true; echo "SCENARIO $SC BEGIN"; }
end_ok() {
    dmesg > "$SC/dmesg.txt" 2>/dev/null || true
    if grep -E "tag error|protection|I/O error" "$SC/dmesg.txt" > "$SC/mismatches.txt" 2>/dev/null; then
        fail "kernel reported: $(head -n 3 "$SC/mismatches.txt" | tr '\n' ';')"
    elif [ ! -s "$SC/status" ]; then
        echo pass > "$SC/status"; echo "SCENARIO $SC PASS"
    fi
}
need() { command -v "$1" > /dev/null 2>&1; }
'''
COMMON += cpusnap.INSTALL   # /tmp/pifio-cpusnap for the speed cases (lab/model/cpusnap.py)


@dataclass
class Case:
    name: str
    kind: str            # "correctness" | "speed"
    script: str          # shell fragment; $SC is the scenario dir
    needs: tuple = ()
    doc: str = ""
    min_kernel: tuple = ()   # (major, minor): older kernels skip it with the reason (too_old)


def release_version(release: str) -> tuple:
    """(major, minor) of a kernel release string ("7.3.4-pifio" -> (7, 3)); () if unknown."""
    m = re.match(r"(\d+)\.(\d+)", release or "")
    return (int(m.group(1)), int(m.group(2))) if m else ()


def too_old(case: Case, release: str) -> str:
    """The skip reason when the kernel `release` predates the case's min_kernel, else ""."""
    have = release_version(release)
    if case.min_kernel and have and have < tuple(case.min_kernel):
        return (f"needs Linux {'.'.join(map(str, case.min_kernel))} or later (this kernel is {release})"
                + (f": {case.doc}" if case.doc else ""))
    return ""


def _dm_linear_read(fmt_tag: str, nsid: int) -> Case:
    # Two segments, both at non-zero offsets on the namespace, so every ref tag
    # must be remapped between the dm sector and the namespace LBA.
    s = f'''
begin dm-linear/{fmt_tag}/read-verify
B=$PIFIO_BLK_{nsid}
if ! need dmsetup || ! need fio; then skip "dmsetup or fio missing in the guest"
elif [ ! -e /sys/block/${{B#/dev/}}/integrity/format ] || [ "$(cat /sys/block/${{B#/dev/}}/integrity/format)" = none ]; then
    skip "$B has no integrity profile"
else
    # write the pattern through the namespace itself (kernel generates PI for the physical LBAs)
    fio --name=fill --filename=$B --rw=write --bs=64k --direct=1 --ioengine=psync --offset=4m --size=24m \
        --buffer_pattern=0x5a17c0de --output-format=json > "$SC/fill.json" 2> "$SC/fill.err" || fail "fill write failed"
    export DM_DISABLE_UDEV=1
    # dm sectors 0..16383 -> ns 8192.., 16384..32767 -> ns 24576.. (512-byte sectors)
    printf '0 16384 linear %s 8192\\n16384 16384 linear %s 24576\\n' $B $B | dmsetup create pifio-lin || fail "dmsetup create failed"
    if [ -e /dev/mapper/pifio-lin ]; then
        cat /sys/block/dm-0/integrity/format > "$SC/dm-integrity-format" 2>/dev/null
        fio --name=readverify --filename=/dev/mapper/pifio-lin --rw=write --verify_only --bs=64k --direct=1 --ioengine=psync \
            --size=16m --verify=pattern --verify_pattern=0x5a17c0de --verify_fatal=1 \
            --output-format=json+ > "$SC/readverify.json" 2> "$SC/readverify.err" \
            || fail "read through dm-linear failed: $(grep -m1 -iE 'error|verify' $SC/readverify.err)"
        dmsetup remove pifio-lin
    fi
    end_ok
fi
'''
    return Case(f"dm-linear/{fmt_tag}/read-verify", "correctness", s, ("dmsetup", "fio"),
                    "data written on the namespace at known LBAs reads back through a 2-segment "
                    "dm-linear (offsets 4 MiB and 12 MiB) with kernel PI verification, no tag errors")


def _speed(stack: str, fmt_tag: str, nsid: int, rw: str, qd: int, passthrough: bool = False) -> Case:
    name = f"{stack}/{fmt_tag}/{rw}-qd{qd}"
    job = f"{rw}-qd{qd}"
    opts = SPEED_FIO.format(ios=SPEED_IOS)
    if passthrough:
        dev = f"$PIFIO_NG_{nsid}"
        opts = opts.replace("--ioengine=io_uring --direct=1", "--ioengine=io_uring_cmd --cmd_type=nvme")
    else:
        dev = f"$PIFIO_BLK_{nsid}"
    s = f'''
begin {name}
if ! need fio; then skip "fio missing in the guest"; else
    [ -e /results/.prefilled-{nsid} ] || {{ fio --name=prefill --filename=$PIFIO_BLK_{nsid} --rw=write --bs=128k --direct=1 \
        --ioengine=psync --size=32m --output-format=terse > /dev/null 2>&1; touch /results/.prefilled-{nsid}; }}
    i=1
    while [ $i -le {SPEED_REPS} ]; do
        ( cd "$SC" && fio --name={job} --filename={dev} --rw={rw} --iodepth={qd} {opts} > "{job}.$i.json" 2> fio.err ) \
            || {{ fail "fio failed: $(head -c 300 $SC/fio.err)"; break; }}
        {cpusnap.rename_cmd("$SC", job, "$i")}
        i=$((i + 1))
    done
    end_ok
fi
'''
    return Case(name, "speed", s, ("fio",),
                    f"4 KiB {rw} QD{qd} on {'/dev/ng (passthrough, no kernel PI)' if passthrough else '/dev/nvme'} "
                    f"{fmt_tag}, {SPEED_REPS} x {SPEED_IOS} I/Os")


CASES: list[Case] = [
    _dm_linear_read("512+8t1", 1),
    _dm_linear_read("4096+8t1", 2),
    _speed("kernel-pi", "4096+8t1", 2, "randread", 8),
    _speed("kernel-pi", "4096+8t1", 2, "randwrite", 8),
    _speed("passthrough", "4096+0", 3, "randread", 8, passthrough=True),
    _speed("nopi", "4096+0", 3, "randread", 8),
]


def select(patterns: list[str] | None) -> list[Case]:
    if not patterns:
        return list(CASES)
    out = []
    for sc in CASES:
        if any(fnmatch.fnmatch(sc.name, p) or sc.name.startswith(p.rstrip("/") + "/") or
               sc.name.split("/")[0] == p for p in patterns):
            out.append(sc)
    return out


def suite_script(scenarios: list[Case]) -> str:
    return COMMON + "".join(sc.script for sc in scenarios) + "\nrm -f /results/.prefilled-*\nexit 0\n"
