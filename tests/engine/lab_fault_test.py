#!/usr/bin/python3
"""Faults survived, and a namespace reformatted under the job (one QEMU boot, 7.3).

Namespaces, all 4096+8/t1: 1 passthrough faults, 2 block faults, 3 format
before I/O, 4 format during I/O.

  faults-ng   a verified write job (time_based, pi_act=0, the device checks every
  faults-blk  tuple: pi_chk=GUARD,REFTAG,APPTAG; continue_on_error=all) on
              /dev/ngXnY (io_uring_cmd) and on /dev/nvmeXnY (block, pi_mode=uring-pi);
              mid-job, from inside the guest: `nvme reset /dev/nvme0`, echo 1 >
              /sys/class/nvme/nvme0/rescan_controller, `nvme ns-rescan /dev/nvme0`,
              a second reset. Checks: fio exits by itself (no stuck I/O) and did
              I/O after the faults (fio's per-second write bandwidth log > 0 from
              14 s on); every failed I/O is named (errno name, NVMe status
              name; no "unknown status"); nothing leaks: the fio process has the same
              fds after recovery as before the faults (/proc/<pid>/fd, fio --thread),
              and the engine's teardown counters in pi_report (I/Os in flight, target
              fds open at finish) are 0; a re-read of the region after recovery with
              host checks of every field verifies every block, and any mismatch is
              named by LBA and field and lies inside a write that failed.
  fmt-prerun  fio's exec_prerun reformats the namespace (same LBA format, PI off:
              the format under which I/O would succeed unchecked) after the engine
              probed it and before the file is opened: refused at open with a
              message naming both formats, fio exits non-zero, nothing written
              (the backing file's data region stays zero).
  faults-remove  the same job while the controller's PCI function is removed
              (echo 1 > .../remove) and found again (echo 1 > /sys/bus/pci/rescan):
              the in-flight I/Os fail with ENODEV, named, and fio ends the job on it
              (its rule); the engine's teardown counters are 0; the re-read goes to the
              namespace under the name it came back with (found by nsid).
  fmt-midjob  `nvme format` to 512+8/t1 while the job writes: the engine notices
              (re-check after the failed I/O / once a second), says what changed,
              issues nothing more, and the job fails (also with continue_on_error).

Exit 0 pass, 1 fail, 77 skip (no QEMU / kernel here).
"""
from __future__ import annotations

import argparse
import errno
import os
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from lab_engine_test import GUEST_ENGINE, SKIP, Checker, lab_preflight  # noqa: E402

NS_SIZE = 40 << 20
REGION = 16 << 20          # bytes of data each job covers
BS = 65536
RUNTIME = 24               # s, the fault jobs (faults at ~5..12 s)

SCRIPT = r'''
set +e
cd /results
ENG=__ENGINE__
COMMON="--ioengine=external:$ENG --thread --pi_act=0 --bs=__BS__ --iodepth=8 --size=__REGION__"
CHK="--pi_chk=GUARD,REFTAG,APPTAG"
HOSTCHK="--pi_chk=NONE --pi_host_chk=GUARD,REFTAG,APPTAG"
ev() { echo "$(cut -d' ' -f1 /proc/uptime) $*" >> /results/$n.events; }
fault() {   # $1 name, $2 target, rest: extra fio options
  n=$1; f=$2; shift 2
  timeout -s KILL 200 fio --name=$n $COMMON $CHK --filename=$f --rw=write --time_based --runtime=__RUNTIME__ \
      --continue_on_error=all --pi_report=/results/$n.report --output-format=json --output=/results/$n.json \
      --write_bw_log=/results/$n --log_avg_msec=1000 "$@" > /results/$n.out 2>&1 &
  pid=$!
  sleep 5
  ls -l /proc/$pid/fd > /results/$n.fd_before 2>&1
  ev start; ev "reset"; nvme reset /dev/nvme0 >> /results/$n.events 2>&1; ev "reset rc=$?"
  sleep 3
  echo 1 > /sys/class/nvme/nvme0/rescan_controller; ev "rescan_controller rc=$?"
  sleep 2
  nvme ns-rescan /dev/nvme0 >> /results/$n.events 2>&1; ev "ns-rescan rc=$?"
  sleep 1
  nvme reset /dev/nvme0 >> /results/$n.events 2>&1; ev "reset rc=$?"
  sleep 4
  ls -l /proc/$pid/fd > /results/$n.fd_after 2>&1; ev "fds sampled"
  wait $pid; echo $? > /results/$n.rc; ev "fio exited"
  fio --name=${n}_reread $COMMON $HOSTCHK --filename=$f --rw=read --continue_on_error=all \
      --pi_report=/results/${n}_reread.report "$@" > /results/${n}_reread.out 2>&1; echo $? > /results/${n}_reread.rc
}
fault faults-ng $PIFIO_NG_1
fault faults-blk $PIFIO_BLK_2 --pi_mode=uring-pi

n=fmt-prerun
fio --name=$n $COMMON $CHK --filename=$PIFIO_NG_3 --rw=write \
    --exec_prerun="nvme format $PIFIO_BLK_3 --lbaf=5 --pi=0 --force" \
    --pi_report=/results/$n.report > /results/$n.out 2>&1; echo $? > /results/$n.rc
nvme id-ns $PIFIO_NG_3 > /results/$n.idns 2>&1

n=fmt-midjob
timeout -s KILL 200 fio --name=$n $COMMON $CHK --filename=$PIFIO_NG_4 --rw=write --time_based --runtime=__RUNTIME__ \
    --continue_on_error=all --pi_report=/results/$n.report > /results/$n.out 2>&1 &
pid=$!
sleep 5
ev "format"; nvme format $PIFIO_BLK_4 --lbaf=1 --pi=1 --force >> /results/$n.events 2>&1; ev "format rc=$?"
wait $pid; echo $? > /results/$n.rc; ev "fio exited"
nvme id-ns $PIFIO_NG_4 > /results/$n.idns 2>&1

# The device taken away: the controller's PCI function removed under the job, then
# found again by a bus rescan (it may come back under new names: found by nsid).
# $1 name, $2 nsid, $3 ng|blk, rest: extra fio options
remove() {
  n=$1; nsid=$2; kind=$3; shift 3
  f=$(find_ns $nsid $kind)
  timeout -s KILL 200 fio --name=$n $COMMON $CHK --filename=$f --rw=write --time_based --runtime=__RUNTIME__ \
      --continue_on_error=all --pi_report=/results/$n.report --output-format=json --output=/results/$n.json \
      "$@" > /results/$n.out 2>&1 &
  pid=$!
  sleep 5
  ls -l /proc/$pid/fd > /results/$n.fd_before 2>&1
  ctrl=$(ls /sys/class/nvme | head -1)
  dev=$(readlink -f /sys/class/nvme/$ctrl/device)
  ev "remove $f ($dev)"; echo 1 > $dev/remove; ev "remove rc=$?"
  sleep 3
  echo 1 > /sys/bus/pci/rescan; ev "pci rescan rc=$?"
  i=0; new=""
  while [ $i -lt 100 ]; do
    new=$(find_ns $nsid $kind)
    [ -n "$new" ] && [ -e "$new" ] && break
    sleep 0.2; i=$((i + 1))
  done
  ev "nsid $nsid back as ${new:-nothing}"
  sleep 4
  ls -l /proc/$pid/fd > /results/$n.fd_after 2>&1; ev "fds sampled"
  wait $pid; echo $? > /results/$n.rc; ev "fio exited"
  fio --name=${n}_reread $COMMON $HOSTCHK --filename=${new:-/nonexistent} --rw=read --continue_on_error=all \
      --pi_report=/results/${n}_reread.report "$@" > /results/${n}_reread.out 2>&1; echo $? > /results/${n}_reread.rc
}
# /dev/ngXnY or /dev/nvmeXnY of a namespace by nsid, as init.sh finds them.
find_ns() {
  for d in /sys/block/nvme*n*; do
    [ -e "$d/nsid" ] && [ "$(cat $d/nsid)" = $1 ] || continue
    if [ $2 = ng ]; then echo /dev/ng${d##*/nvme}; else echo /dev/${d##*/}; fi
  done
}
remove faults-remove 1 ng
remove faults-remove-blk 2 blk --pi_mode=uring-pi
ls /results > /results/ls.txt
'''


def fds(text: str) -> list[str]:
    """The fd table of `ls -l /proc/<pid>/fd`: 'N -> target' per fd, anon inode ids kept."""
    out = []
    for ln in text.splitlines():
        m = re.search(r"\s(\d+) -> (.*)$", ln)
        if m:
            # A node removed with its device (faults-remove) reads "... (deleted)": the same fd.
            out.append(f"{m.group(1)} -> {m.group(2).removesuffix(' (deleted)')}")
    return sorted(out)


def failed_ranges(rep: dict) -> list[tuple[int, int]]:
    return [(e["lba"], e["lba"] + e["nlb"]) for e in rep.get("io_error_records", []) if e["op"] == "write"]


def bw_after(res: Path, name: str, t_ms: int) -> list[int]:
    """fio's per-second write bandwidth samples (KiB/s) after t_ms into the job."""
    out = []
    for p in res.glob(f"{name}_bw*.log"):
        for ln in p.read_text().splitlines():
            f = [x.strip() for x in ln.split(",")]
            if len(f) >= 3 and f[0].isdigit() and int(f[0]) > t_ms:
                out.append(int(f[1]))
    return out


def check_fault(c: Checker, name: str, nblocks: int, steps=("reset rc=0", "rescan_controller rc=0", "ns-rescan rc=0"),
                removed: bool = False) -> None:
    rc = c.rc(name)
    out = c.out(name)
    events = (c.res / f"{name}.events").read_text() if (c.res / f"{name}.events").exists() else ""
    c.check(rc is not None and rc not in (124, 137), f"{name}: fio did not exit by itself (rc {rc})", events)
    c.check(all(s in events for s in steps), f"{name}: a fault step failed in the guest (want {steps})", events)
    rep = c.report(f"{name}.report")
    if not c.check(rep is not None, f"{name}: no pi_report", out[-600:]):
        return
    fr = rep["files"][0]
    c.check(rep["teardown"] == {"inflight": 0, "open_fds": 0}, f"{name}: teardown {rep['teardown']}, want all 0")
    # The job wrote the region more than once (the bandwidth log below says when).
    c.check(fr["writes"] * BS > REGION, f"{name}: {fr['writes']} writes of {BS} bytes, want > one pass of the region")
    # Errors by name.
    unnamed = [ln for ln in out.splitlines() if ln.startswith("pifio:") and " failed: " in ln
               and ("unknown status" in ln or not re.search(r"\((E[A-Z0-9]+|NVMe status 0x[0-9a-f]+, E[A-Z0-9]+)\)$", ln))]
    c.check(not unnamed, f"{name}: I/O errors without a name", "\n      ".join(unnamed[:5]))
    recs = rep["io_error_records"]
    c.check(all(r["error"].startswith("E") and ("nvme_status" not in r or r["status_name"] != "unknown status")
                for r in recs), f"{name}: io_error_records without a name: {recs[:3]}")
    if removed:
        c.check(fr["io_errors"] > 0, f"{name}: the device went away and no I/O failed")
    c.check(fr["io_errors"] == len(recs) + rep["io_error_records_dropped"],
            f"{name}: io_errors {fr['io_errors']} vs {len(recs)} records")
    print(f"  {name}: {fr['writes']} writes, {fr['io_errors']} failed: "
          f"{sorted({(r['error'], r.get('status_name', '')) for r in recs})}; fio exit {rc}")
    # No fd leaked by the faults.
    before = fds((c.res / f"{name}.fd_before").read_text(errors="replace")) if (c.res / f"{name}.fd_before").exists() else []
    after = fds((c.res / f"{name}.fd_after").read_text(errors="replace")) if (c.res / f"{name}.fd_after").exists() else []
    if removed:
        # The job ends at the removal (fio takes ENODEV as fatal; the engine ends it when
        # the block device's capacity drops to 0): no fd table to compare after it, the
        # teardown counters above say what the engine held. Its error, by name.
        jp = c.res / f"{name}.json"
        j = jp.read_text(errors="replace") if jp.exists() else ""
        m = re.search(r'"error"\s*:\s*(\d+)', j)
        err = int(m.group(1)) if m else 0
        named = err and (f"({errno.errorcode.get(err, '?')})" in out + j or os.strerror(err) in out + j)
        c.check(bool(named), f"{name}: the job did not end with a named error (fio error {err})", out[-400:])
        print(f"  {name}: the job ended with {errno.errorcode.get(err, err)}")
    else:
        c.check(before and before == after, f"{name}: fio's fds changed across the faults",
                f"before {before}\n      after  {after}")
        # No stuck I/O: the job kept writing after the last fault (from ~12 s in).
        bw = bw_after(c.res, name, 14000)
        c.check(len(bw) >= 3 and all(b > 0 for b in bw), f"{name}: write bandwidth after the faults {bw} (KiB/s)")
    # Re-read after recovery: every block verified; a mismatch is named and lies in a failed write.
    rr = c.report(f"{name}_reread.report")
    if not c.check(rr is not None, f"{name}_reread: no pi_report", c.out(f"{name}_reread")[-600:]):
        return
    f2 = rr["files"][0]
    c.check(f2["blocks_verified"] == nblocks and f2["blocks_escaped"] == 0 and f2["io_errors"] == 0,
            f"{name}_reread: verified {f2['blocks_verified']}/{nblocks}, escaped {f2['blocks_escaped']}, "
            f"io_errors {f2['io_errors']}")
    ranges = failed_ranges(rep)
    outside = [m for m in rr["mismatch_records"] if not any(a <= m["lba"] < b for a, b in ranges)]
    c.check(not outside, f"{name}_reread: mismatches outside any failed write: {outside[:5]}")
    named = all(m["field"] in ("guard", "apptag", "reftag") and isinstance(m["lba"], int) for m in rr["mismatch_records"])
    c.check(named, f"{name}_reread: a mismatch record without LBA and field")
    c.check((c.rc(f"{name}_reread") == 0) == (not rr["mismatch_records"]),
            f"{name}_reread: exit {c.rc(f'{name}_reread')} with {len(rr['mismatch_records'])} mismatches")
    if rr["mismatch_records"]:
        print(f"  {name}_reread: {len(rr['mismatch_records'])} torn block(s) named: {rr['mismatch_records'][:4]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", required=True, type=Path)
    ap.add_argument("--kernel", default="7.3")
    ap.add_argument("--timeout", type=int, default=900)
    args = ap.parse_args()
    bad = lab_preflight(args.engine)
    if bad is not None:
        return bad
    from lab.guest import Namespace, boot_and_run
    tmp = tempfile.TemporaryDirectory(prefix="pifio-fault-")
    nss = [Namespace("4096+8/t1", size=NS_SIZE, backing=Path(tmp.name) / f"ns{i}.img") for i in range(1, 5)]
    script = (SCRIPT.replace("__ENGINE__", GUEST_ENGINE).replace("__BS__", str(BS))
              .replace("__REGION__", str(REGION)).replace("__RUNTIME__", str(RUNTIME)))
    try:
        r = boot_and_run(args.kernel, nss, script=script, binaries=[(GUEST_ENGINE, args.engine)],
                         timeout=args.timeout)
    except Exception as e:  # noqa: BLE001 - kernel not fetched etc.
        print(f"SKIP: {args.kernel}: {e}")
        return SKIP
    if r.rc is None:
        print(f"FAIL: guest did not finish: {r.why()}")
        return 1
    c = Checker(r.results_dir)
    nblocks = REGION // 4096
    check_fault(c, "faults-ng", nblocks)
    check_fault(c, "faults-blk", nblocks)
    check_fault(c, "faults-remove", nblocks, steps=("remove rc=0", "pci rescan rc=0", "nsid 1 back as /dev/ng"),
                removed=True)
    check_fault(c, "faults-remove-blk", nblocks, steps=("remove rc=0", "pci rescan rc=0", "nsid 2 back as /dev/nvme"),
                removed=True)

    # Reformatted between the engine's probe and the open (exec_prerun).
    n = "fmt-prerun"
    out = c.out(n)
    c.check(c.rc(n) not in (0, None), f"{n}: fio exit {c.rc(n)}, want non-zero", out[-600:])
    pat = r"namespace format changed under the job: 4096\+8/t1 \(LBA format 5, \d+ blocks\) when probed, now 4096\+8/t0 "
    c.check(re.search(pat, out) is not None, f"{n}: no message naming both formats", out[-800:])
    p = r.results_dir / f"{n}.idns"
    idns = p.read_text(errors="replace") if p.exists() else ""
    c.check(re.search(r"dps\s*:\s*0", idns) is not None, f"{n}: the namespace was not reformatted (dps)", idns[:300])
    data = nss[2].backing.read_bytes()[:REGION] if nss[2].backing.exists() else b"x"
    c.check(data.count(0) == len(data), f"{n}: {len(data) - data.count(0)} non-zero data bytes: something was written")

    # Reformatted while the job writes.
    n = "fmt-midjob"
    out = c.out(n)
    events = (r.results_dir / f"{n}.events").read_text() if (r.results_dir / f"{n}.events").exists() else ""
    c.check("format rc=0" in events, f"{n}: nvme format failed in the guest", events)
    c.check(c.rc(n) not in (0, None, 124, 137), f"{n}: fio exit {c.rc(n)}, want a non-zero exit of its own", out[-600:])
    pat = (r"namespace format changed under the job: 4096\+8/t1 \(LBA format 5, \d+ blocks\) when probed, "
           r"now 512\+8/t1 \(LBA format 1, \d+ blocks\)")
    c.check(re.search(pat, out) is not None, f"{n}: no message naming both formats", out[-800:])
    c.check(len(re.findall(r"no further I/O is issued to it", out)) == 1, f"{n}: the change not logged exactly once",
            out[-800:])
    rep = c.report(f"{n}.report")
    if c.check(rep is not None, f"{n}: no pi_report", out[-400:]):
        fr = rep["files"][0]
        c.check(fr["format_changed"].startswith("/dev/ng"), f"{n}: pi_report format_changed {fr['format_changed']!r}")
        c.check(rep["teardown"] == {"inflight": 0, "open_fds": 0}, f"{n}: teardown {rep['teardown']}")
        print(f"  {n}: {fr['writes']} writes, {fr['io_errors']} failed "
              f"{sorted({(x['error'], x.get('status_name', '')) for x in rep['io_error_records']})}")

    return c.verdict(args.kernel, f"boot {r.wall_s:.0f} s; results {r.results_dir}")


if __name__ == "__main__":
    sys.exit(main())
