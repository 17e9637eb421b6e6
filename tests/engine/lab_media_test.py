#!/usr/bin/python3
"""Media corruption: the engine names every corrupted LBA and field.

Boot 1 writes 1 MiB of data with userspace PI (device checks on, so QEMU
accepts every tuple) on a separate-metadata, an extended-LBA and a 64b-guard
namespace. With the guest powered off, the host flips one byte of chosen
blocks in each namespace's backing file (Namespace.corrupt): data, guard, app
tag and ref tag separately. Boot 2 reads the range back:

  host      engine with device checks off (pi_chk=NONE): userspace verification
            must flag exactly the flipped (lba, field) set — a data flip is a
            guard mismatch — log 'pifio: <dev> lba N: <field> got 0x…, want
            0x…' for each, count every other block clean, exit non-zero; the
            report parses with analysis.meta.parse_pi_report to the same counts
  device    the same range one block per I/O with device checks on: QEMU's
            statuses, counted by name (0x282 guard x2+data, 0x283, 0x284)

Exit 0 pass, 1 fail, 77 skip (no QEMU / kernel here).
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from lab_engine_test import GUEST_ENGINE, SKIP, lab_preflight, Checker, Format, Script, engine_args, parse_format  # noqa: E402

FORMATS = ["4096+8/t1", "512+8/t1/ext", "4096+16/t1/g64"]
SIZE_MIB = 1
NS_SIZE = 8 << 20
# (lba, what to flip, byte index or -1 for the last byte, the field the engine must name)
FLIPS = [(5, "data", 100, "guard"), (17, "guard", 1, "guard"), (42, "ref", -1, "reftag"),
         (77, "app", 1, "apptag"), (127, "data", -1, "guard")]
STATUS = {"guard": "0x282 guard check error", "apptag": "0x283 application tag check error",
          "reftag": "0x284 reference tag check error"}


def write_script(fmts: list[Format]) -> Script:
    s = Script()
    for i, f in enumerate(fmts, 1):
        s.fio(f"w{i}", engine_args(f, i, "write", off_mib=0, size_mib=SIZE_MIB, report=f"w{i}.report"))
    return s


def read_script(fmts: list[Format]) -> Script:
    s = Script()
    last = max(lba for lba, *_ in FLIPS) + 1
    for i, f in enumerate(fmts, 1):
        s.fio(f"host{i}", engine_args(f, i, "read", off_mib=0, size_mib=SIZE_MIB, chk="NONE",
                                      report=f"host{i}.report", extra=["--continue_on_error=all"]))
        # One block per I/O so each device status belongs to one LBA.
        s.fio(f"dev{i}", engine_args(f, i, "read", off_mib=0, size_mib=last * f.data / (1 << 20), data_bytes=f.data,
                                     report=f"dev{i}.report", extra=["--continue_on_error=all"]))
    return s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", required=True, type=Path)
    ap.add_argument("--kernel", default="7.3")
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--keep", type=Path, help="keep backing files here (default: a temp dir)")
    args = ap.parse_args()
    bad = lab_preflight(args.engine)
    if bad is not None:
        return bad
    from analysis.meta import parse_pi_report
    from lab.guest import Namespace, boot_and_run
    fmts = [parse_format(x) for x in FORMATS]
    tmp = tempfile.TemporaryDirectory(prefix="pifio-media-")
    keep = args.keep or Path(tmp.name)
    keep.mkdir(parents=True, exist_ok=True)
    nss = []
    for i, spec in enumerate(FORMATS, 1):
        b = keep / f"ns{i}.img"
        b.unlink(missing_ok=True)
        nss.append(Namespace(spec, size=NS_SIZE, backing=b))
    binaries = [(GUEST_ENGINE, args.engine)]

    try:
        r1 = boot_and_run(args.kernel, nss, script=write_script(fmts).text(), binaries=binaries, timeout=args.timeout)
    except Exception as e:  # noqa: BLE001 - kernel not fetched etc.
        print(f"SKIP: {args.kernel}: {e}")
        return SKIP
    c = Checker(r1.results_dir)
    if r1.rc is None:
        print(f"FAIL: write boot did not finish: {r1.why()}")
        return 1
    for i in range(1, len(fmts) + 1):
        c.check(c.rc(f"w{i}") == 0, f"w{i} ({FORMATS[i - 1]}): fio exit {c.rc(f'w{i}')}", c.out(f"w{i}")[-500:])
    if c.failures:
        print("FAIL: the write boot failed:\n  - " + "\n  - ".join(c.failures))
        return 1

    # Guest is off: flip bytes on the host.
    want = {}
    for i, ns in enumerate(nss, 1):
        for lba, what, byte, field in FLIPS:
            n = ns.offset(lba, what)[1]
            ns.corrupt(lba, what, byte=byte if byte >= 0 else n - 1, xor=0x10)
        want[i] = {(lba, field) for lba, _, _, field in FLIPS}

    r2 = boot_and_run(args.kernel, nss, script=read_script(fmts).text(), binaries=binaries, timeout=args.timeout)
    if r2.rc is None:
        print(f"FAIL: read boot did not finish: {r2.why()}")
        return 1
    c = Checker(r2.results_dir)
    for i, f in enumerate(fmts, 1):
        tag = f"host{i} ({f.short()})"
        rep = c.report(f"host{i}.report")
        out = c.out(f"host{i}")
        c.check(c.rc(f"host{i}") not in (0, None), f"{tag}: fio exit {c.rc(f'host{i}')}, want non-zero")
        if not c.check(rep is not None, f"{tag}: no report", out[-400:]):
            continue
        got = {(m["lba"], m["field"]) for m in rep["mismatch_records"]}
        c.check(got == want[i], f"{tag}: flagged {sorted(got)}, flipped {sorted(want[i])}")
        fr = rep["files"][0]
        blocks = SIZE_MIB * (1 << 20) // f.data
        c.check(fr["blocks_verified"] == blocks and fr["blocks_escaped"] == 0 and fr["bad_blocks"] == len(FLIPS),
                f"{tag}: verified {fr['blocks_verified']}/{blocks}, escaped {fr['blocks_escaped']}, "
                f"bad {fr['bad_blocks']} (want {len(FLIPS)})")
        for lba, field in sorted(want[i]):
            pat = rf"pifio: /dev/ng\S+ lba {lba}: {field} got 0x[0-9a-f]+, want 0x[0-9a-f]+"
            c.check(re.search(pat, out) is not None, f"{tag}: no log line for lba {lba} {field}", out[:600])
        try:
            pr = parse_pi_report(str(r2.results_dir / f"host{i}.report"))
            exp = {k: sum(1 for _, x in want[i] if x == k) for k in ("guard", "apptag", "reftag")}
            c.check({k: pr[k] for k in exp} == exp and pr["total"] == len(FLIPS),
                    f"{tag}: analysis reads {({k: pr[k] for k in exp}, pr['total'])}, want {exp}")
        except Exception as e:  # noqa: BLE001
            c.check(False, f"{tag}: analysis cannot parse the report: {e}")

        dtag = f"dev{i} ({f.short()})"
        rep = c.report(f"dev{i}.report")
        c.check(c.rc(f"dev{i}") not in (0, None), f"{dtag}: fio exit {c.rc(f'dev{i}')}, want non-zero")
        if c.check(rep is not None, f"{dtag}: no report", c.out(f"dev{i}")[-400:]):
            st = rep["files"][0]["device_status"]
            exp = {STATUS[k]: n for k in STATUS if (n := sum(1 for _, x in want[i] if x == k))}
            c.check(st == exp, f"{dtag}: device statuses {st}, want {exp}")
    return c.verdict(args.kernel, f"boots {r1.wall_s:.0f} s + {r2.wall_s:.0f} s; results {r2.results_dir}")


if __name__ == "__main__":
    sys.exit(main())
