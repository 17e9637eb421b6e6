#!/usr/bin/python3
"""Boot a kernel with the six default namespace formats and check, per nsid:
- the guest sees it (found by sysfs nsid) with the right format: `nvme id-ns`
  flbas/lbaf (data size, ms, extended), dps (type, PI first), and the kernel's
  integrity profile (/sys/block/*/integrity/format);
- a PI write + read round trip with fio's built-in io_uring_cmd engine, PI
  generated and checked by fio in userspace and checked by QEMU (pi_chk);
- on the host, in the kept backing file, guard/app/ref of sample blocks are
  right at the offsets lab.model.formats computes (QEMU layout, independent oracle).

usage: test_boot.py KERNEL   (6.1, 6.12, 7.3 or a bzImage path)
"""
import json
import sys
import tempfile
from pathlib import Path

import labtest
from labtest import check
from lab.model import fioopts, formats, oracle
from lab.guest import Namespace, boot_and_run

DEFAULT_FORMATS = ["4096+8/t1", "512+8/t3/first", "4096+16/t1/g64", "4096+64/t2/g64/first",
                   "512+8/t1/ext", "4096+0"]
SIZE = 32 << 20
IO = "4M"

kernel = sys.argv[1] if len(sys.argv) > 1 else "7.3"
labtest.need_qemu()
labtest.need_kernel(kernel)
labtest.need_fio_in_guest()

tmp = Path(tempfile.mkdtemp(prefix=f"pifio-test-boot-{kernel.replace('/', '_')}-"))
nss = [Namespace(spec, size=SIZE, backing=tmp / f"ns{i}.img", nsid=i) for i, spec in enumerate(DEFAULT_FORMATS, 1)]

lines = ["set +e",
         # which T10-DIF CRC the kernel's PI code uses (6.1/6.12: lib/crc-t10dif over the crypto API)
         "cat /sys/module/crc_t10dif/parameters/transform > crct10dif.txt 2>/dev/null || echo absent > crct10dif.txt"]
for ns in nss:
    f, n = ns.fmt, ns.nsid
    lines.append(f"nvme id-ns $PIFIO_NG_{n} -o json > idns{n}.json; echo $? > idns{n}.rc")
    for rw in ("write", "read"):
        argv = fioopts.builtin(f, f"$PIFIO_NG_{n}", name=f"{rw}{n}", rw=rw, size=IO, output=f"{rw}{n}.json")
        lines.append(f"{fioopts.sh(argv)}; echo $? > {rw}{n}.rc")
script = "\n".join(lines) + "\n"

r = boot_and_run(kernel, nss, script=script, timeout=420)
print(f"kernel {r.kernel['release']}: boot to /init {r.boot_s} s, wall {r.wall_s:.1f} s, run dir {r.run_dir}")
if not check(r.rc == 0 and not r.timed_out, f"guest ran the script ({r.why() if not r.ok else 'rc 0'})"):
    raise SystemExit(labtest.finish())


# The lab loads the CPU-feature modules udev would (lab/guest/initramfs.py
# CPU_MODULES): where the accelerated T10-DIF CRC is a module, the kernel's PI
# must use it, or every kernel-PI figure measures the generic table CRC.
from lab import kernels as _k  # noqa: E402
_kern = _k.resolve(kernel, fetch_missing=False)
_xform = r.text("crct10dif.txt").strip()
if _kern.has_module("crct10dif-pclmul") and not _kern.is_builtin("crct10dif-pclmul"):
    check(_xform == "crct10dif-pclmul", f"kernel PI uses the PCLMUL T10-DIF CRC (crc_t10dif transform: {_xform})")
else:
    print(f"(crct10dif-pclmul not a module of this kernel; crc_t10dif transform: {_xform})")


def rc(name):
    p = r.results_dir / name
    return int(p.read_text().strip()) if p.exists() else None


for ns in nss:
    f, n = ns.fmt, ns.nsid
    info = r.ns(n)
    tag = f"nsid {n} {f.short()}"
    if not check(info["seen"], f"{tag}: present in the guest"):
        continue
    print(f"     {tag}: {info['block']} {info['char']} integrity={info['integrity_format']}")
    check(info["char"].endswith(info["block"].split("nvme", 1)[1]), f"{tag}: char device matches block device")
    # nvme id-ns
    idns = json.loads((r.results_dir / f"idns{n}.json").read_text()) if rc(f"idns{n}.rc") == 0 else None
    if check(idns is not None, f"{tag}: nvme id-ns"):
        lbaf = idns["lbafs"][idns["flbas"] & 0xF]
        check(1 << lbaf["ds"] == f.data, f"{tag}: lbaf data size {1 << lbaf['ds']}")
        check(lbaf["ms"] == f.ms, f"{tag}: lbaf ms {lbaf['ms']}")
        check(bool(idns["flbas"] & 0x10) == f.ext, f"{tag}: flbas extended bit {bool(idns['flbas'] & 0x10)}")
        check(idns["dps"] & 7 == f.pi, f"{tag}: dps type {idns['dps'] & 7}")
        # ./pifio run --host-dev derives the format from the same id-ns output
        # (16b guards only: 64b needs /dev/ngXnY=SPEC, see lab/targets/hostdev.py).
        from lab.targets import hostdev as hostrun
        got = formats.parse(hostrun.spec_from_id_ns(idns))
        if f.guard == 64:
            check(got.canonical() == f.canonical().replace("/g64", "/g16"),
                  f"{tag}: host-dev format from id-ns {got.short()} (g64 not visible in id-ns)")
        else:
            check(got.canonical() == f.canonical(), f"{tag}: host-dev format from id-ns {got.short()}")
        if f.pi:
            check(bool(idns["dps"] & 8) == f.first, f"{tag}: dps PI-first bit {bool(idns['dps'] & 8)}")
    want = f.kernel_integrity_format() if not f.ext else None
    check(info["integrity_format"] == (want or "none"), f"{tag}: integrity/format {info['integrity_format']}, want {want or 'none'}")
    # fio round trip
    for rw in ("write", "read"):
        code = rc(f"{rw}{n}.rc")
        ok = code == 0
        detail = f"rc {code}"
        jf = r.results_dir / f"{rw}{n}.json"
        if jf.exists():
            text = jf.read_text()
            try:
                j = json.loads(text[text.index("{"):])
                job = j["jobs"][0]
                io = job[rw]["io_bytes"]
                ok = ok and job["error"] == 0 and io >= 4 << 20 if not f.ext else ok and job["error"] == 0 and io > 0
                detail += f", error {job['error']}, {io >> 10} KiB, {job[rw]['iops']:.0f} IOPS"
            except (ValueError, KeyError, IndexError) as e:
                ok, detail = False, detail + f", unreadable JSON ({e})"
        check(ok, f"{tag}: fio built-in {rw} with PI ({detail})")
    # host-side layout oracle
    if f.pi:
        nblocks = (4 << 20) // f.lba_size if f.ext else (4 << 20) // f.data
        for lba in sorted({0, 1, 9, nblocks // 2, nblocks - 1}):
            data, md = ns.read(lba, "data"), ns.read(lba, "md")
            errs = oracle.check_block(f, data, md, ref=None if f.pi == 3 else lba, app=fioopts.APPTAG)
            check(not errs, f"{tag}: backing file lba {lba} PI at computed offsets {'; '.join(errs) or 'good'}")
        # a never-written block reads back as zeros in the sparse file (QEMU returns 0xff.. only via I/O)
        last = ns.nlbas() - 1
        check(ns.read(last, "md") == bytes(f.ms), f"{tag}: unwritten lba {last} metadata untouched")

import shutil  # noqa: E402
status = labtest.finish()
if status == 0:
    shutil.rmtree(tmp, ignore_errors=True)
else:
    print(f"backing files kept in {tmp}")
raise SystemExit(status)
