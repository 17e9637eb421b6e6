#!/usr/bin/env python3
"""Media corruption under dm stacks (ctest; exit 0 pass, 1 fail, 77 skip).

  corrupt_lab.py --build-dir BUILD --kernel 7.3

Two boots over kept backing files, bytes flipped on the host in between:

dm-linear (2 segments) over a 4096+8/t1 namespace
  boot 1  write 4 MiB through segment 2 with the pifio engine (verified).
  host    flip a data byte of physical block L+100 (its guard no longer
          matches) and a ref-tag byte of physical block L+200, where L is
          segment 2's first physical LBA.
  boot 2  read the 4 MiB through dm-linear with the engine (4 KiB reads,
          continue_on_error=all): exactly two reads fail, and the engine names
          the dm-level LBAs D+100 and D+200; pifio-audit check over the range
          names the physical LBAs L+100 (guard) and L+200 (reftag).

dm-crypt AEAD (LUKS2 aes-xts + hmac-sha256 over dm-integrity) over 4096+8/t1
  boot 1  write 8 MiB through the AEAD device (fio pattern verify); find the
          physical block of AEAD block K by rewriting K with another pattern
          and diffing raw snapshots of the namespace (each write ends with an
          fsync: dm-integrity writes its tag area lazily), then restore K (same
          plaintext, same sector -> same ciphertext: checked).
  host    flip one ciphertext byte of that physical block and recompute its
          NVMe guard with lab.model.oracle (so the drive and the kernel's PI check pass:
          the only thing that can catch the flip is the AEAD tag).
  boot 2  reopen (no format) and read-verify the 8 MiB with the engine at
          4 KiB, continue_on_error=all: exactly one read fails (block K,
          EILSEQ/integrity), the engine counts it (pi_report io_errors = 1),
          every other block reads back and matches the pattern.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lab.model import stacks  # noqa: E402

GUEST_ENGINE = "/usr/lib/pifio/libpifio-stack.so"
K = 1000               # AEAD block whose ciphertext is flipped
SEG2_MIB = 4
AEAD_MIB = 8

LINEAR_1 = r'''
stack_build || exit 3
echo "$STACK_SEG2_DM $STACK_SEG2_PHYS" > /results/linear-seg2.txt
fio --name=lw --ioengine=external:$PIFIO_STACK_ENGINE --filename=$STACK_TOP --rw=write --bs=64k \
    --offset=$STACK_SEG2_DM --size=%(seg2)dM --iodepth=4 --verify=crc32c --do_verify=1 --verify_fatal=1 \
    > /results/linear-write.log 2>&1 || { echo "linear write failed"; tail /results/linear-write.log; exit 1; }
stack_teardown
''' % {"seg2": SEG2_MIB}

LINEAR_2 = r'''
stack_build || exit 3
fio --name=lr --ioengine=external:$PIFIO_STACK_ENGINE --filename=$STACK_TOP --rw=read --bs=4k \
    --offset=$STACK_SEG2_DM --size=%(seg2)dM --iodepth=1 --continue_on_error=all \
    --output-format=json --output=/results/linear-read.json > /results/linear-read.log 2>&1
echo $? > /results/linear-read.rc
pifio-audit check --top $STACK_TOP --ng $STACK_AUDIT_NG --format $STACK_AUDIT_FMT \
    --range $STACK_SEG2_DM:%(seg2)dM --max 8 > /results/linear-audit.txt 2>&1
echo $? > /results/linear-audit.rc
stack_teardown
''' % {"seg2": SEG2_MIB}

AEAD_1 = r'''
stack_build || exit 3
B=$(pf_blk 1)
pw() {  # pattern offset size
  fio --name=aw --ioengine=external:$PIFIO_STACK_ENGINE --filename=$STACK_TOP --rw=write --bs=$(( $3 < 65536 ? $3 : 65536 )) \
      --offset=$2 --size=$3 --iodepth=4 --verify=pattern --verify_pattern=$1 --do_verify=1 --verify_fatal=1 --end_fsync=1 \
      > /results/aead-write.log 2>&1 || { echo "AEAD write ($1 at $2) failed"; tail /results/aead-write.log; exit 1; }
}
pw 0x5a5a5a5a 0 $((%(mib)d * 1048576))
dd if=$B of=/tmp/s1 bs=1M iflag=direct 2>/dev/null
pw 0xa5a5a5a5 $((%(k)d * 4096)) 4096
dd if=$B of=/tmp/s2 bs=1M iflag=direct 2>/dev/null
pw 0x5a5a5a5a $((%(k)d * 4096)) 4096
dd if=$B of=/tmp/s3 bs=1M iflag=direct 2>/dev/null
cmp -s /tmp/s1 /tmp/s3 && echo same > /results/aead-restore.txt || echo differ > /results/aead-restore.txt
rm -f /tmp/s3
# blocks where more than half the bytes changed: the data block of K (its tag
# changes too, but that is 32 bytes of a metadata block).
cmp -l /tmp/s1 /tmp/s2 | awk '{b = int(($1 - 1) / 4096); c[b]++} END {for (b in c) print b, c[b]}' \
    > /results/aead-diff.txt
rm -f /tmp/s1 /tmp/s2
stack_teardown
''' % {"mib": AEAD_MIB, "k": K}

AEAD_2 = r'''
STACK_REOPEN=1 stack_build || exit 3
fio --name=ar --ioengine=external:$PIFIO_STACK_ENGINE --filename=$STACK_TOP --rw=write --bs=4k \
    --size=%(mib)dM --iodepth=1 --verify=pattern --verify_pattern=0x5a5a5a5a --verify_only=1 \
    --continue_on_error=all --pi_report=/results/aead-read.pi.json \
    --output-format=json --output=/results/aead-read.json > /results/aead-read.log 2>&1
echo $? > /results/aead-read.rc
dmesg | grep -i "integrity\|crypt" | tail -5 > /results/aead-dmesg.txt
stack_teardown
''' % {"mib": AEAD_MIB}


def guest_script(parts: list[tuple[str, int, str]]) -> str:
    """parts: (stack, NSB, body); each in its own subshell."""
    out = ["export DM_DISABLE_UDEV=1\nmkdir -p /run/cryptsetup\nrc=0\n"]
    for stack, nsb, body in parts:
        out.append(f"(\nNSB={nsb}\n{stacks.script(stack)}\n{body}\n) || rc=1\n")
    out.append("exit $rc\n")
    return "".join(out)


def read_lbas(log: str) -> list[int]:
    return sorted({int(m) for m in re.findall(r"^pifio: \S+ lba (\d+) \(\+1\): read failed", log, re.M)})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", type=Path, default=ROOT / "build")
    ap.add_argument("--kernel", default="7.3")
    ap.add_argument("--keep", action="store_true", help="keep the backing files")
    a = ap.parse_args(argv)
    try:
        from lab import guest, kernels
        from lab.model import oracle as pi
        from lab.core.env import PifioError
    except ImportError as e:
        print(f"SKIP: lab not importable ({e})")
        return 77
    if not guest.qemu_available():
        print("SKIP: qemu-system-x86_64 not installed (./pifio setup)")
        return 77
    eng, aud = a.build_dir / "lib" / "libpifio.so", a.build_dir / "bin" / "pifio-audit"
    for p in (eng, aud):
        if not p.exists():
            print(f"SKIP: {p} not built")
            return 77
    try:
        k = kernels.resolve(a.kernel)
    except PifioError as e:
        print(f"SKIP: kernel {a.kernel}: {e}")
        return 77
    for s in ("dm-linear", "dm-crypt-aead"):
        why = stacks.skip_reason(s, k)
        if why:
            print(f"SKIP: {why}")
            return 77

    tmp = Path(tempfile.mkdtemp(prefix="pifio-corrupt-"))
    lin = guest.Namespace("4096+8/t1", size=stacks.get("dm-linear").ns_size, backing=tmp / "linear.img")
    aead = guest.Namespace("4096+8/t1", size=stacks.get("dm-crypt-aead").ns_size, backing=tmp / "aead.img")
    mods = []
    for s in ("dm-linear", "dm-crypt-aead"):
        mods += [m for m in stacks.guest_modules(s, k)[0] if m not in mods]
    common = dict(modules=mods, timeout=600, env={"PIFIO_STACK_ENGINE": GUEST_ENGINE},
                  binaries=[(GUEST_ENGINE, eng), ("/usr/bin/pifio-audit", aud)])
    fails: list[str] = []
    try:
        r1 = guest.boot_and_run(k, [lin, aead], script=guest_script(
            [("dm-linear", 0, LINEAR_1), ("dm-crypt-aead", 1, AEAD_1)]), **common)
        print(r1.text("scenario.log")[-3000:])
        if r1.rc != 0:
            print("FAIL: boot 1: " + r1.why())
            return 1
        seg2_dm, seg2_phys = (int(x) for x in (r1.results_dir / "linear-seg2.txt").read_text().split())
        D, L = seg2_dm // 4096, seg2_phys // 4096
        # dm-linear: a data byte (guard mismatch) and a ref-tag byte.
        lin.corrupt(L + 100, "data", byte=7)
        lin.corrupt(L + 200, "ref", byte=3)
        want_dm = [D + 100, D + 200]
        print(f"host: dm-linear segment 2 starts at dm LBA {D} = physical LBA {L}; flipped data of physical "
              f"{L + 100} (dm {D + 100}) and ref tag of physical {L + 200} (dm {D + 200})")

        restore = (r1.results_dir / "aead-restore.txt").read_text().strip()
        if restore != "same":
            fails.append("AEAD: rewriting block K with its old plaintext did not restore the same ciphertext")
        diff = [tuple(map(int, ln.split())) for ln in (r1.results_dir / "aead-diff.txt").read_text().split("\n") if ln]
        data_blocks = [b for b, n in diff if n > 2048]
        print(f"host: AEAD block {K} rewritten: raw blocks changed {sorted(diff)[:6]} -> data block {data_blocks}")
        if len(data_blocks) != 1:
            print(f"FAIL: want exactly one raw block holding AEAD block {K}'s ciphertext, got {data_blocks}")
            return 1
        P = data_blocks[0]
        f = aead.fmt
        before = pi.check_block(f, aead.read(P, "data"), aead.read(P, "md"), ref=P)
        if before:
            fails.append(f"AEAD: physical block {P} had bad PI before the flip: {before}")
        aead.corrupt(P, "data", byte=100, xor=0x10)
        g = pi.guard_for(f, aead.read(P, "data"), aead.read(P, "md"))
        off, n = aead.offset(P, "guard")
        with open(aead.backing, "r+b") as fh:
            fh.seek(off)
            fh.write(g.to_bytes(n, "big"))
        after = pi.check_block(f, aead.read(P, "data"), aead.read(P, "md"), ref=P)
        if after:
            fails.append(f"AEAD: guard repair left bad PI on physical block {P}: {after}")
        print(f"host: flipped ciphertext byte 100 of physical block {P}, guard recomputed ({g:#06x}), PI valid again")

        r2 = guest.boot_and_run(k, [lin, aead], script=guest_script(
            [("dm-linear", 0, LINEAR_2), ("dm-crypt-aead", 1, AEAD_2)]), **common)
        print(r2.text("scenario.log")[-3000:])
        res = r2.results_dir
        if r2.rc != 0:
            fails.append("boot 2: " + r2.why())

        # --- dm-linear verdict
        log = (res / "linear-read.log").read_text(errors="replace") if (res / "linear-read.log").exists() else ""
        got = read_lbas(log)
        try:
            lj = json.loads((res / "linear-read.json").read_text())["jobs"][0]
            lerr, lios = lj.get("total_err", 0), lj["read"]["total_ios"]
        except (OSError, ValueError, KeyError, IndexError):
            lerr, lios = None, 0
        # continue_on_error=all: fio counts the errors (total_err) and exits 0.
        if got != want_dm or lerr != 2 or lios < SEG2_MIB * 256 - 2:
            fails.append(f"dm-linear: failed reads at dm LBAs {got}, fio total_err {lerr}, {lios} reads; want "
                         f"exactly {want_dm}, total_err 2 and all {SEG2_MIB * 256} blocks read")
        else:
            print(f"ok   dm-linear: of {lios} reads exactly {lerr} fail, at dm LBAs {got}: "
                  + "; ".join(ln for ln in log.splitlines() if "read failed" in ln))
        audit = (res / "linear-audit.txt").read_text(errors="replace") if (res / "linear-audit.txt").exists() else ""
        want_rec = [rf"lba {D + 100} -> \S+ lba {L + 100}: guard got", rf"lba {D + 200} -> \S+ lba {L + 200}: reftag got"]
        miss = [w for w in want_rec if not re.search(w, audit)]
        bad_n = re.search(r"bad=(\d+)", audit)
        if miss or not bad_n or int(bad_n.group(1)) != 2:
            fails.append(f"dm-linear audit: missing {miss} or bad != 2 in:\n{audit}")
        else:
            print("ok   dm-linear audit: " + " | ".join(ln for ln in audit.splitlines() if "got" in ln))

        # --- AEAD verdict
        log = (res / "aead-read.log").read_text(errors="replace") if (res / "aead-read.log").exists() else ""
        got = read_lbas(log)
        rep = json.loads((res / "aead-read.pi.json").read_text()) if (res / "aead-read.pi.json").exists() else {}
        ioerr = sum(x.get("io_errors", 0) for x in rep.get("files", []))
        jobs = []
        try:
            jobs = json.loads((res / "aead-read.json").read_text())["jobs"]
        except (OSError, ValueError, KeyError):
            pass
        total_err = sum(j.get("total_err", 0) for j in jobs)
        read_ios = sum(j["read"]["total_ios"] for j in jobs) if jobs else 0
        errno_ok = re.search(r"read failed: (Invalid or incomplete multibyte|Bad message|Input/output)", log)
        want_ios = AEAD_MIB * 256
        if got != [K] or ioerr != 1 or total_err != 1:
            fails.append(f"dm-crypt AEAD: failed reads at {got} (want [{K}]), engine io_errors {ioerr} (want 1), "
                         f"fio total_err {total_err} (want 1: every other block verifies)")
        elif read_ios < want_ios - 1:
            fails.append(f"dm-crypt AEAD: only {read_ios} of {want_ios} blocks read back")
        else:
            print(f"ok   dm-crypt AEAD: block {K} fails ({errno_ok.group(0) if errno_ok else 'error'}), counted "
                  f"(engine io_errors {ioerr}, fio total_err {total_err}); the other {read_ios - 1} blocks verify")
            dm = (res / "aead-dmesg.txt").read_text(errors="replace").strip() if (res / "aead-dmesg.txt").exists() else ""
            if dm:
                print("     kernel: " + dm.splitlines()[-1])
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    for f_ in fails:
        print("FAIL: " + f_)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
