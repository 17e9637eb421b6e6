#!/usr/bin/python3
"""The engine against emulated NVMe PI namespaces in a QEMU guest.

One boot per kernel carries every format; the guest runs a list of fio
commands and the host checks exit codes, messages and pi_report JSON:

  roundtrip   write with userspace PI and device checks on (QEMU rejects a wrong
              guard/app/ref tag), then read back with userspace verification:
              zero mismatches, every block verified (none escaped as unwritten)
  interop     fio's built-in io_uring_cmd reads our PI back with its own checks
  inject-dev  pi_inject of each field with device checks on -> that NVMe status, by name
  inject-host pi_inject with device checks off -> read-back verification flags
              exactly the injected LBAs, field by field
  badinput    geometry/option errors: message with a value that works, fio exit
              non-zero, nothing written
  pract       PRACT write, host-verified read
  type2       non-zero initial reference tag (pi_reftag) round trip; a read with
              the wrong base is caught as reftag mismatches
  fio33       the fio 3.33 build of the engine with bookworm's fio 3.33
  dump        pitool dump decodes and checks a written range (when pitool is built)

Exit 0 pass, 1 fail, 77 skip (no lab/QEMU/kernel here).
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lab.model import fioopts, formats  # noqa: E402
from lab.model.formats import Format  # noqa: E402

SKIP = 77


def lab_preflight(engine: Path) -> int | None:
    """Why a lab test cannot run: SKIP (lab or QEMU missing), 1 (engine not
    built — a build failure, never a skip), or None when it can."""
    try:
        from lab.guest import qemu_available
    except Exception as e:  # noqa: BLE001
        print(f"SKIP: lab not importable: {e}")
        return SKIP
    if not qemu_available():
        print("SKIP: QEMU not installed (./pifio setup)")
        return SKIP
    if not engine.exists():
        print(f"FAIL: engine {engine} not built")
        return 1
    return None
FORMATS = ["4096+8/t1", "512+8/t3/first", "4096+16/t1/g64", "4096+64/t2/g64/first", "512+8/t1/ext", "4096+0"]
GUEST_ENGINE = "/usr/lib/pifio/libpifio-test.so"
GUEST_ENGINE33 = "/usr/lib/pifio/libpifio-test-fio3.33.so"
MiB = 1 << 20


# One format parser for the tests: the lab's (lab.model.formats, same rules as
# pifio::parse_format), and the lab's fio PI options per format.
parse_format = formats.parse


def bs(f: Format, data_bytes: int) -> int:
    """fio bs carrying data_bytes of data per I/O (extended blocks for ext)."""
    return fioopts.io_size(f, data_bytes)[0]


def md(f: Format, data_bytes: int) -> int:
    """md_per_io_size for data_bytes per I/O (0 when extended or no metadata)."""
    return fioopts.io_size(f, data_bytes)[1]


def chk_of(f: Format) -> str:
    return fioopts.pi_chk(f) or "NONE"


def region(f: Format, mib: float) -> int:
    """fio offset/size (extended blocks for ext) of mib MiB of block data."""
    return f.transfer_offset(int(mib * MiB))


class Script:
    """Guest shell script: each step's output, exit code and report land in /results/<name>.*"""

    def __init__(self):
        self.lines = ["set +e", "cd /results"]
        self.steps: list[str] = []

    def fio(self, name: str, args: list[str], fio: str = "fio") -> None:
        self.steps.append(name)
        cmd = " ".join(shlex.quote(a) if not a.startswith("--filename=$") else a for a in args)
        self.lines.append(f"{fio} --name={name} {cmd} --output-format=json --output=/results/{name}.json "
                          f"> /results/{name}.out 2>&1; echo $? > /results/{name}.rc")

    def raw(self, name: str, cmd: str) -> None:
        self.steps.append(name)
        self.lines.append(f"( {cmd} ) > /results/{name}.out 2>&1; echo $? > /results/{name}.rc")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def engine_args(f: Format, nsid: int, rw: str, *, off_mib: int, size_mib: float, data_bytes: int = 65536,
                depth: int = 8, pi_act: int = 0, chk: str | None = None, report: str | None = None,
                engine: str = GUEST_ENGINE, extra: list[str] = ()) -> list[str]:
    a = [f"--ioengine=external:{engine}", f"--filename=$PIFIO_NG_{nsid}", f"--rw={rw}",
         f"--bs={bs(f, data_bytes)}", f"--offset={region(f, off_mib)}", f"--size={region(f, size_mib)}",
         f"--iodepth={depth}"]
    if f.pi:
        a += [f"--pi_act={pi_act}", f"--pi_chk={chk_of(f) if chk is None else chk}"]
        if chk == "NONE":
            # Device checks off, every field checked on the host: the host checks
            # what pi_chk names (fio's rule), so the host's set is named apart.
            a.append(f"--pi_host_chk={chk_of(f)}")
    if report:
        a.append(f"--pi_report=/results/{report}")
    return a + list(extra)


def build(args) -> tuple[Script, dict]:
    s = Script()
    fmts = [parse_format(x) for x in FORMATS]
    plan: dict = {"roundtrip": [], "interop": []}
    size = args.size_mb
    for i, f in enumerate(fmts, start=1):
        tag = f"f{i}"
        s.fio(f"w_{tag}", engine_args(f, i, "write", off_mib=0, size_mib=size, report=f"w_{tag}.report"))
        s.fio(f"r_{tag}", engine_args(f, i, "read", off_mib=0, size_mib=size, report=f"r_{tag}.report"))
        plan["roundtrip"].append((tag, f, size))
        if f.pi:
            # fio's own io_uring_cmd PI checks read what we wrote.
            a = ["--ioengine=io_uring_cmd", "--cmd_type=nvme", f"--filename=$PIFIO_NG_{i}", "--rw=read",
                 f"--bs={bs(f, 65536)}", f"--size={region(f, size)}", "--iodepth=8",
                 "--pi_act=0", f"--pi_chk={chk_of(f)}", "--apptag=0x1234", "--apptag_mask=0xffff"]
            if md(f, 65536):
                a.append(f"--md_per_io_size={md(f, 65536)}")
            s.fio(f"builtin_r_{tag}", a)
            plan["interop"].append(tag)

    # Negative tests on 4096+8/t1 (nsid 1) beyond the round-trip region.
    f1 = fmts[0]
    base = size + 4
    plan["inject_dev"] = []
    for k, field in enumerate(["guard", "apptag", "reftag"]):
        name = f"injdev_{field}"
        s.fio(name, engine_args(f1, 1, "write", off_mib=base + k, size_mib=1, data_bytes=4096, depth=4,
                                report=f"{name}.report", extra=[f"--pi_inject={field}:0.05", "--continue_on_error=all"]))
        plan["inject_dev"].append((name, field))
    base += 4
    s.fio("injhost_w", engine_args(f1, 1, "write", off_mib=base, size_mib=2, data_bytes=16384, chk="NONE",
                                   report="injhost_w.report",
                                   extra=["--pi_inject=guard:0.01,apptag:0.01,reftag:0.01,data:0.01"]))
    s.fio("injhost_r", engine_args(f1, 1, "read", off_mib=base, size_mib=2, data_bytes=16384, chk="NONE",
                                   report="injhost_r.report", extra=["--continue_on_error=all"]))
    base += 3

    # Bad input: each must fail before writing anything in its region.
    bad = [("bad_bs", 1, ["--bs=4000"], "use bs=4096"),
           ("bad_md", 1, ["--md_per_io_size=8"], "use md_per_io_size=64"),
           ("bad_chk_t3", 2, ["--pi_chk=GUARD,REFTAG"], "use pi_chk=GUARD"),
           ("bad_ext_bs", 5, ["--bs=4096"], "use bs=4160"),
           ("bad_reftag_t1", 1, ["--pi_reftag=5"], "type 2 only"),
           ("bad_chk_word", 1, ["--pi_chk=GUARD,CRC"], "unknown check 'CRC'"),
           ("bad_format", 1, ["--pi_format=512+8/t1"], "pi_format=4096+8/t1")]
    plan["bad"] = []
    for name, nsid, opts, want in bad:
        f = fmts[nsid - 1]
        a = engine_args(f, nsid, "write", off_mib=base, size_mib=1, data_bytes=32768) + opts
        s.fio(name, a)
        plan["bad"].append((name, want))
    # Nothing was written there: read back sees only unwritten (escaped) blocks.
    s.fio("bad_readback_1", engine_args(f1, 1, "read", off_mib=base, size_mib=1, report="bad_readback_1.report"))
    s.fio("bad_readback_5", engine_args(fmts[4], 5, "read", off_mib=base, size_mib=1, report="bad_readback_5.report"))
    s.fio("bad_readback_2", engine_args(fmts[1], 2, "read", off_mib=base, size_mib=1, report="bad_readback_2.report"))
    base += 2

    # PRACT: the device generates, we verify on read.
    s.fio("pract_w", engine_args(f1, 1, "write", off_mib=base, size_mib=2, pi_act=1, chk="NONE"))
    s.fio("pract_r", engine_args(f1, 1, "read", off_mib=base, size_mib=2, report="pract_r.report"))
    # Type 2 with a non-zero initial reference tag (nsid 4: 4096+64/t2/g64/first).
    f4 = fmts[3]
    s.fio("t2_w", engine_args(f4, 4, "write", off_mib=base, size_mib=2, report="t2_w.report",
                              extra=["--pi_reftag=0x123400000"]))
    s.fio("t2_r", engine_args(f4, 4, "read", off_mib=base, size_mib=2, report="t2_r.report",
                              extra=["--pi_reftag=0x123400000"]))
    s.fio("t2_wrongbase", engine_args(f4, 4, "read", off_mib=base, size_mib=2, chk="NONE", report="t2_wrongbase.report",
                                      extra=["--continue_on_error=all"]))
    base += 3

    # Queue options fio io_uring users expect, on the round-trip region (verified reads).
    plan["queue"] = []
    for name, opts in [("q_fixed_regfiles", ["--fixedbufs", "--registerfiles"]), ("q_sqpoll", ["--sqthread_poll"])]:
        s.fio(name, engine_args(f1, 1, "read", off_mib=0, size_mib=4, report=f"{name}.report", extra=opts))
        plan["queue"].append(name)

    plan["fio33"] = bool(args.engine33)
    if args.engine33:
        s.fio("fio33_w", engine_args(f1, 1, "write", off_mib=base, size_mib=2, engine=GUEST_ENGINE33,
                                     report="fio33_w.report"), fio="/usr/bin/fio-3.33")
        s.fio("fio33_r", engine_args(f1, 1, "read", off_mib=base, size_mib=2, engine=GUEST_ENGINE33,
                                     report="fio33_r.report"), fio="/usr/bin/fio-3.33")
    plan["dump"] = True
    s.raw("dump", "if ! command -v pitool >/dev/null; then echo 'no pitool in guest'; exit 77; fi; "
                  "pitool dump $PIFIO_NG_1 --lba 0 --count 4; echo; "
                  "pitool dump $PIFIO_NG_5 --lba 0 --count 2")
    s.lines.append("ls /results > /results/ls.txt")
    return s, plan


class Checker:
    def __init__(self, res: Path):
        self.res = res
        self.failures: list[str] = []
        self.passes = 0

    def rc(self, name: str) -> int | None:
        p = self.res / f"{name}.rc"
        return int(p.read_text().strip()) if p.exists() else None

    def out(self, name: str) -> str:
        p = self.res / f"{name}.out"
        return p.read_text(errors="replace") if p.exists() else ""

    def report(self, name: str) -> dict | None:
        p = self.res / name
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError):
            return None

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        if ok:
            self.passes += 1
        else:
            self.failures.append(what + (f"\n      {detail}" if detail else ""))
        return ok

    def verdict(self, kernel: str, detail: str) -> int:
        """Print the PASS/FAIL line (and each failure); the test's exit status."""
        print(f"{'FAIL' if self.failures else 'PASS'} {kernel}: {self.passes} checks passed, "
              f"{len(self.failures)} failed ({detail})")
        for f in self.failures:
            print(f"  - {f}")
        return 1 if self.failures else 0


def run_checks(res: Path, plan: dict) -> Checker:
    c = Checker(res)
    for tag, f, size in plan["roundtrip"]:
        for step in (f"w_{tag}", f"r_{tag}"):
            c.check(c.rc(step) == 0, f"{step} ({f.short()}): fio exit {c.rc(step)}", c.out(step)[-600:])
        w, r = c.report(f"w_{tag}.report"), c.report(f"r_{tag}.report")
        if not c.check(w is not None and r is not None, f"{tag} ({f.short()}): reports missing"):
            continue
        blocks = size * MiB // f.data
        fr = r["files"][0]
        c.check(w["files"][0]["io_errors"] == 0, f"w_{tag}: io_errors {w['files'][0]['io_errors']}")
        c.check(sum(fr["mismatches"].values()) == 0 and fr["io_errors"] == 0,
                f"r_{tag} ({f.short()}): mismatches {fr['mismatches']}, io_errors {fr['io_errors']}")
        if f.pi:
            c.check(fr["blocks_verified"] == blocks and fr["blocks_escaped"] == 0,
                    f"r_{tag} ({f.short()}): verified {fr['blocks_verified']} of {blocks}, escaped {fr['blocks_escaped']}")
    for tag in plan["interop"]:
        c.check(c.rc(f"builtin_r_{tag}") == 0, f"builtin_r_{tag}: fio built-in read of our PI exit {c.rc(f'builtin_r_{tag}')}",
                c.out(f"builtin_r_{tag}")[-600:])

    names = {"guard": "0x282 guard check error", "apptag": "0x283 application tag check error",
             "reftag": "0x284 reference tag check error"}
    for name, field in plan["inject_dev"]:
        rep = c.report(f"{name}.report")
        out = c.out(name)
        c.check(c.rc(name) not in (0, None), f"{name}: fio exit {c.rc(name)}, want non-zero")
        if c.check(rep is not None, f"{name}: no report"):
            st = rep["files"][0]["device_status"]
            inj = rep["files"][0]["injected"]
            c.check(inj > 0 and st.get(names[field], 0) > 0 and sum(st.values()) <= inj,
                    f"{name}: injected {inj}, device statuses {st}, want '{names[field]}'")
        c.check(names[field].split(" ", 1)[1] in out, f"{name}: status name not logged", out[-400:])

    w, r = c.report("injhost_w.report"), c.report("injhost_r.report")
    if c.check(w is not None and r is not None, "injhost: reports missing"):
        kind = {"guard": "guard", "data": "guard", "apptag": "apptag", "reftag": "reftag"}
        want = {(x["lba"], kind[x["field"]]) for x in w["injected"]}
        got = {(x["lba"], x["field"]) for x in r["mismatch_records"]}
        c.check(len(want) > 0 and want == got,
                f"injhost: read-back flagged {len(got)} (lba, field), injected {len(want)}; "
                f"missed {sorted(want - got)[:5]}, extra {sorted(got - want)[:5]}")
        c.check(c.rc("injhost_r") not in (0, None), f"injhost_r: fio exit {c.rc('injhost_r')}, want non-zero")
        out = c.out("injhost_r")
        c.check("pifio: " in out and " got 0x" in out and ", want 0x" in out,
                "injhost_r: no 'pifio: <dev> lba N: <field> got 0x…, want 0x…' line", out[:400])

    for name, want in plan["bad"]:
        out = c.out(name)
        c.check(c.rc(name) not in (0, None), f"{name}: fio exit {c.rc(name)}, want non-zero")
        c.check(want in out, f"{name}: message lacks '{want}'", out[-500:])
    for n in ("bad_readback_1", "bad_readback_5", "bad_readback_2"):
        rep = c.report(f"{n}.report")
        if c.check(rep is not None, f"{n}: no report", c.out(n)[-300:]):
            fr = rep["files"][0]
            c.check(fr["blocks_verified"] > 0 and fr["blocks_escaped"] == fr["blocks_verified"],
                    f"{n}: a bad-input job wrote something: {fr['blocks_escaped']} of {fr['blocks_verified']} "
                    "blocks unwritten")

    for step in ("pract_w", "pract_r", "t2_w", "t2_r"):
        c.check(c.rc(step) == 0, f"{step}: fio exit {c.rc(step)}", c.out(step)[-500:])
    for n in ("pract_r", "t2_r"):
        rep = c.report(f"{n}.report")
        if c.check(rep is not None, f"{n}: no report"):
            fr = rep["files"][0]
            c.check(fr["blocks_verified"] > 0 and fr["blocks_escaped"] == 0 and sum(fr["mismatches"].values()) == 0,
                    f"{n}: {fr}")
    rep = c.report("t2_wrongbase.report")
    if c.check(rep is not None, "t2_wrongbase: no report"):
        mm = rep["files"][0]["mismatches"]
        c.check(mm["reftag"] == rep["files"][0]["blocks_verified"] and mm["guard"] == 0,
                f"t2_wrongbase: want every block a reftag mismatch, got {mm}")
    for name in plan["queue"]:
        rep = c.report(f"{name}.report")
        c.check(c.rc(name) == 0 and rep is not None and rep["files"][0]["blocks_verified"] > 0
                and rep["files"][0]["blocks_escaped"] == 0 and sum(rep["files"][0]["mismatches"].values()) == 0,
                f"{name}: exit {c.rc(name)}", c.out(name)[-500:])
    if plan["fio33"]:
        for step in ("fio33_w", "fio33_r"):
            c.check(c.rc(step) == 0, f"{step}: fio 3.33 exit {c.rc(step)}", c.out(step)[-500:])
        rep = c.report("fio33_r.report")
        if c.check(rep is not None, "fio33_r: no report"):
            fr = rep["files"][0]
            c.check(fr["blocks_verified"] > 0 and fr["blocks_escaped"] == 0, f"fio33_r: {fr}")
    if c.rc("dump") != 77:
        out = c.out("dump")
        c.check(c.rc("dump") == 0 and "lba" in out, f"dump: exit {c.rc('dump')}", out[-500:])
    return c


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", required=True, type=Path)
    ap.add_argument("--engine33", default="", help="libpifio-fio3.33.so (empty: skip the 3.33 part)")
    ap.add_argument("--fio33", default="", help="fio 3.33 binary")
    ap.add_argument("--kernel", action="append", help="kernel(s) to boot (default: 7.3 and 6.1)")
    ap.add_argument("--size-mb", type=int, default=64, help="round-trip size per format (MiB)")
    ap.add_argument("--timeout", type=int, default=1500)
    args = ap.parse_args()

    bad = lab_preflight(args.engine)
    if bad is not None:
        return bad
    from lab.guest import Namespace, boot_and_run
    binaries = [(GUEST_ENGINE, args.engine)]
    if args.engine33 and Path(args.engine33).exists() and Path(args.fio33).exists():
        binaries += [(GUEST_ENGINE33, Path(args.engine33)), ("/usr/bin/fio-3.33", Path(args.fio33))]
    else:
        args.engine33 = ""
    pitool = ROOT / "build" / "bin" / "pitool"
    alt = args.engine.parent.parent / "bin" / "pitool"
    for p in (alt, pitool):
        if p.exists():
            binaries.append(("/usr/bin/pitool", p))
            break

    script, plan = build(args)
    ns_size = (args.size_mb + 40) * MiB
    namespaces = [Namespace(spec, size=ns_size) for spec in FORMATS]
    failed = 0
    for kernel in args.kernel or ["7.3", "6.1"]:
        try:
            r = boot_and_run(kernel, namespaces, script=script.text(), binaries=binaries, timeout=args.timeout)
        except Exception as e:  # noqa: BLE001 - set-up problems (kernel not fetched...) are skips
            print(f"SKIP: {kernel}: {e}")
            return SKIP
        if r.rc is None:
            print(f"FAIL {kernel}: guest did not finish: {r.why()}")
            failed += 1
            continue
        c = run_checks(r.results_dir, plan)
        failed += c.verdict(kernel, f"{r.wall_s:.0f} s; results {r.results_dir}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
