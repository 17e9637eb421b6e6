#!/usr/bin/python3
"""Media corruption between boots, with QEMU as the oracle:
write PI-protected blocks with fio's built-in engine, power off, flip one
byte of block 5's guard, 6's ref tag, 7's data and 9's app tag in the kept
backing file (offsets from lab.model.formats), boot again and read each block with
`nvme read` and all PRCHK bits: the device must name the right check
(0x282 guard, 0x284 ref, 0x283 app) for exactly those blocks, and the
unchecked read must still succeed. Proves Namespace.corrupt() and the layout
for the separate-metadata and extended-LBA formats.

usage: test_corrupt.py KERNEL
"""
import shutil
import sys
import tempfile
from pathlib import Path

import labtest
from labtest import check
from lab.model import fioopts
from lab.guest import Namespace, boot_and_run

kernel = sys.argv[1] if len(sys.argv) > 1 else "7.3"
labtest.need_qemu()
labtest.need_kernel(kernel)
labtest.need_fio_in_guest()

tmp = Path(tempfile.mkdtemp(prefix="pifio-test-corrupt-"))
nss = [Namespace("4096+8/t1", size=16 << 20, backing=tmp / "ns1.img", nsid=1),
       Namespace("512+8/t1/ext", size=16 << 20, backing=tmp / "ns2.img", nsid=2),
       Namespace("4096+16/t1/g64", size=16 << 20, backing=tmp / "ns3.img", nsid=3)]
script = "set +e\n" + "".join(
    fioopts.sh(fioopts.builtin(ns.fmt, f"$PIFIO_NG_{ns.nsid}", name=f"w{ns.nsid}", rw="write", size="256k",
                               output=f"w{ns.nsid}.json")) + f"; echo $? > w{ns.nsid}.rc\n" for ns in nss)
r = boot_and_run(kernel, nss, script=script, timeout=300)
check(r.ok, f"boot 1 wrote the blocks ({r.why() if not r.ok else 'rc 0'})")
for ns in nss:
    check(r.text(f"w{ns.nsid}.rc").strip() == "0", f"nsid {ns.nsid} {ns.fmt.short()}: fio write with PI")

flips = {5: "guard", 6: "ref", 7: "data", 9: "app"}
want = {4: "ok", 5: "0x282", 6: "0x284", 7: "0x282", 8: "ok", 9: "0x283"}
for ns in nss:
    for lba, what in flips.items():
        off = ns.corrupt(lba, what, byte=1 if what != "data" else 100)
        print(f"     nsid {ns.nsid}: flipped {what} of lba {lba} at backing offset {off}")

lines = ["set +e"]
for ns in nss:
    f = ns.fmt
    md = "" if f.ext else f"-y {f.ms} -M /tmp/m"
    for lba in want:
        lines.append(f"nvme read $PIFIO_NG_{ns.nsid} -s {lba} -c 0 -z {f.lba_size} {md} -p 7 -r {lba} "
                     f"-a 0x1234 -m 0xffff -d /tmp/d > r{ns.nsid}_{lba}.out 2>&1; echo $? > r{ns.nsid}_{lba}.rc")
    lines.append(f"nvme read $PIFIO_NG_{ns.nsid} -s 5 -c 0 -z {f.lba_size} {md} -p 0 -d /tmp/d "
                 f"> r{ns.nsid}_nochk.out 2>&1; echo $? > r{ns.nsid}_nochk.rc")
r = boot_and_run(kernel, nss, script="\n".join(lines) + "\n", timeout=300)
check(r.ok, f"boot 2 read the blocks ({r.why() if not r.ok else 'rc 0'})")
for ns in nss:
    for lba, w in want.items():
        out = r.text(f"r{ns.nsid}_{lba}.out")
        rc = r.text(f"r{ns.nsid}_{lba}.rc").strip()
        got = "ok" if rc == "0" else next((s for s in ("0x282", "0x283", "0x284") if s in out), out.strip()[-60:])
        check(got == w, f"nsid {ns.nsid} {ns.fmt.short()}: lba {lba} ({flips.get(lba, 'untouched')}) "
                        f"-> {got}, want {w}")
    check(r.text(f"r{ns.nsid}_nochk.rc").strip() == "0", f"nsid {ns.nsid}: read without PRCHK still succeeds")

status = labtest.finish()
if status == 0:
    shutil.rmtree(tmp, ignore_errors=True)
else:
    print(f"backing files kept in {tmp}")
raise SystemExit(status)
