#!/usr/bin/python3
"""fio's own PI test matrix, run in a lab guest with either engine.

fio 3.41's t/nvmept_pi.py (passthrough, io_uring_cmd) and t/io_uring_pi.py
(block device, io_uring PI attributes, Linux 6.14+) come from the fio tree in
the setup cache and run inside the guest under Debian's python3
(lab/guest/pyguest.py); nvme-cli reformats the namespace for every configuration
(LBA format x PI location x PI type x extended/separate). Each script runs
twice on the same namespace: with fio's built-in engine (the control, the
oracle) and with `external:libpifio.so`. A configuration conforms when every
test the control passes also passes with pifio.

    conformance.py run --set default --out DIR [--kernel 7.3 --kernel 6.1]   # the guest runs (ctest fixture)
    conformance.py check --results DIR/7.3/results.json --config nvmept_pi/g16/lbaf1pil1pitype1elba0
    conformance.py table DIR/results.json [...]                  # pass/fail per configuration

The control does not depend on our code: its parsed results are cached in
CACHE/conformance/, keyed by (fio binary, kernel, QEMU version, fio's
scripts, the wrapper, namespace, LBA formats, NUMBER_IOS). pifio's results are
never cached. Exit 77 (skip) when QEMU, the kernel, fio or python3.11 is
missing.

NUMBER_IOS is 32 (fio's 8192 would take hours under TCG); a fio run costs
~1.8 s of guest time here whatever the I/O count (start-up dominates). With
it, t/io_uring_pi.py's test 103 (variable-size reads after variable-size
writes) reads past what test 101 wrote on 512+8 and fails with both engines.

Measured 2026-12-01 (Intel Xeon with AVX-512, 2-core host shared with other
guests and builds, load 10-17): cold `conformance.py run --set default`
(control and pifio) 2950 s (7.3) / 2687 s (6.1) wall, the guests side by side;
warm (control cached) `ctest --test-dir build -R '^conformance_' -LE nightly`
1295 s: pifio's nvmept_pi run 1189 s (7.3) / 1149 s (6.1) of guest time,
io_uring_pi 71 s. Later the same day (NUMBER_IOS 32, load ~3-5) pifio's nvmept_pi took
~240-290 s of guest time per LBA format, so the default set was split between the kernels
(SETS below): cold 614 s, warm 420 s wall (7.3: nvmept_pi 359 s + io_uring_pi 51 s; 6.1: 370 s)
inside a fresh-clone ./pifio test at load ~4.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lab import guest, kernels  # noqa: E402
from lab.core.env import CACHE, PifioError  # noqa: E402
from lab.guest import initramfs, pyguest  # noqa: E402

SKIP = 77
GUEST_ENGINE = initramfs.GUEST_ENGINE
CONTROL_CACHE = CACHE / "conformance"

# Namespaces: tag -> (initial format; QEMU's LBA format list is fixed, the
# initial one only decides the guard format). QEMU 7.2's LBA formats:
# 0 512+0, 1 512+8, 2 512+16, 3 512+64, 4 4096+0, 5 4096+8, 6 4096+16, 7 4096+64;
# a pif=2 namespace (64b guard) keeps pif through `nvme format`.
NAMESPACES = {"g16": "512+8/t1", "g64": "4096+16/t1/g64"}
LBAF = {1: "512+8", 2: "512+16", 3: "512+64", 5: "4096+8", 6: "4096+16", 7: "4096+64"}
# Sets: {kernel: [(suite, {namespace tag: [lbaf, ...]})]}, one boot per kernel,
# the kernels' guests side by side ("*": any other kernel given with --kernel).
# Keep in step with tests/conformance/CMakeLists.txt.
_NIGHTLY_G64 = [2, 3, 6, 7]
SETS = {
    # ./pifio test: 512+8 (ms = tuple) and 4096+16 (ms larger than the 8-byte tuple), 16b guard,
    # both PI locations, types 1-3, both layouts (nvmept_pi), both engines, both suites, split
    # between the kernels so the two guests take about as long as each other (nvmept_pi is
    # ~4 min of guest time per format): 7.3 passthrough on 512+8 and the block path (io_uring
    # PI attributes, 6.14+) on both formats; 6.1 passthrough on 4096+16.
    "default": {"7.3": [("nvmept_pi", {"g16": [1]}), ("io_uring_pi", {"g16": [1, 6]})],
                "6.1": [("nvmept_pi", {"g16": [6]})],
                "*": [("nvmept_pi", {"g16": [1, 6]}), ("io_uring_pi", {"g16": [1, 6]})]},
    # ./pifio nightly (PIFIO_TEST_ALL=1): the rest of QEMU's LBA formats with metadata, 64b
    # guards, and the default formats on the kernel the default set leaves them out on.
    "nightly": {"7.3": [("nvmept_pi", {"g16": [2, 3, 5, 6, 7], "g64": _NIGHTLY_G64}),
                        ("io_uring_pi", {"g16": [2, 3, 5, 7], "g64": _NIGHTLY_G64})],
                "6.1": [("nvmept_pi", {"g16": [1, 2, 3, 5, 7], "g64": _NIGHTLY_G64})],
                "*": [("nvmept_pi", {"g16": [2, 3, 5, 7], "g64": _NIGHTLY_G64}),
                      ("io_uring_pi", {"g16": [2, 3, 5, 7], "g64": _NIGHTLY_G64})]},
}
SUITE_MIN_KERNEL = {"io_uring_pi": (6, 14)}
CONTROL_ENGINE = {"nvmept_pi": "io_uring_cmd", "io_uring_pi": "io_uring"}
NUMBER_IOS = 32          # fio's default is 8192; TCG does ~2.5k-11k IOPS
NS_SIZE = 64 << 20

HEADER = re.compile(r"^lbaf: (\{.*\}), pil: (\d+), pitype: (\d+)(?:, elba: (\d+))?\s*$")
TEST = re.compile(r"^Test (\d+) (PASSED|FAILED|SKIPPED)(?::? ?(.*))?$")


def config_dir(suite: str, lbaf: int, pil: int, pitype: int, elba: int | None) -> str:
    """The script's own artifact directory name for a configuration."""
    d = f"lbaf{lbaf}pil{pil}pitype{pitype}"
    return d + (f"elba{elba}" if suite == "nvmept_pi" else "")


def parse_output(text: str, suite: str) -> dict:
    """{config dir: {format, pil, pitype, elba, formatted, tests: {id: {result, reason}}}} from a
    script's stdout. A configuration nvme-cli could not format has formatted=False and no tests."""
    out: dict = {}
    cur = None
    for line in text.splitlines():
        m = HEADER.match(line.strip())
        if m:
            try:
                lb = eval(m.group(1), {"__builtins__": {}})   # the script prints a dict repr
            except Exception:
                lb = {}
            elba = int(m.group(4)) if m.group(4) is not None else None
            key = config_dir(suite, int(lb.get("lbaf", -1)), int(m.group(2)), int(m.group(3)), elba)
            cur = out[key] = {"lbaf": lb, "pil": int(m.group(2)), "pitype": int(m.group(3)), "elba": elba,
                              "formatted": True, "tests": {}}
            continue
        if cur is None:
            continue
        if "Unable to format device" in line or line.strip() == "Formatting failed":
            cur["formatted"] = False
            continue
        m = TEST.match(line.strip())
        if m:
            reason = (m.group(3) or "").strip()
            # the runner appends the test's description (its id) after the reason
            reason = re.sub(r"\s*\b%s$" % m.group(1), "", reason)
            cur["tests"][m.group(1)] = {"result": m.group(2), "reason": reason}
    return out


def attach_artifacts(parsed: dict, root: Path, basename: str) -> None:
    """Add the command line and stderr head of every failed test (from the artifact dirs)."""
    for cdir, cfg in parsed.items():
        for tid, t in cfg["tests"].items():
            if t["result"] != "FAILED":
                continue
            stub = root / cdir / f"{int(tid):04d}" / f"{basename}{int(tid):03d}"
            for ext, n in (("stderr", 1500), ("command", 1500), ("exitcode", 20)):
                p = stub.with_suffix(f".{ext}")
                if p.exists():
                    t[ext] = p.read_text(errors="replace")[:n]


def label(key: str, cfg: dict) -> str:
    """e.g. nvmept_pi g16 512+8 pil1 t1 ext"""
    suite, tag = key.split("/")[:2]
    lb = cfg.get("lbaf") or {}
    fmt = f"{lb.get('ds', '?')}+{lb.get('ms', '?')}"
    lay = "" if cfg.get("elba") is None else (" ext" if cfg["elba"] else " sep")
    return f"{suite} {tag} {fmt} pil{cfg['pil']} t{cfg['pitype']}{lay}"


# ------------------------------------------------------------------ run --

def _sha(p: Path) -> str:
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


def control_key(kernel: kernels.Kernel, fio: Path, suite: str, tag: str, lbafs: list[int], number_ios: int) -> str:
    qemu = subprocess.run([guest.QEMU, "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    tree = pyguest.fio_tree()
    h = hashlib.sha256()
    for part in [_sha(fio), _sha(kernel.bzimage), kernel.release, *qemu, suite, tag, NAMESPACES[tag],
                 str(NS_SIZE), " ".join(map(str, lbafs)), str(number_ios), pyguest.SUITE_PY,
                 *(_sha(p) for p in sorted((tree / "t").glob("*.py")))]:
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:24]


def guest_fio() -> Path | None:
    for g, h in initramfs.default_binaries():
        if g == "/usr/bin/fio":
            return h
    return None


def kernel_version(k: kernels.Kernel) -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", k.release or "")
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def run(args) -> int:
    rc = _run(args)
    if rc == SKIP:    # the per-configuration tests read the reason and skip too
        for name in args.kernel:
            out = Path(args.out) / name
            out.mkdir(parents=True, exist_ok=True)
            (out / "results.json").write_text(json.dumps({"skipped": _skipped}))
    return rc


def _run(args) -> int:
    if not guest.qemu_available():
        return _skip("qemu-system-x86_64 not installed (./pifio setup installs qemu-system-x86)")
    ks = []
    for name in args.kernel:
        try:
            ks.append(kernels.resolve(name, fetch_missing=False))
        except PifioError as e:
            return _skip(str(e))
    why = pyguest.available()
    if why:
        return _skip(why)
    fio = guest_fio()
    if fio is None:
        return _skip("no fio 3.41 build (build/bin/fio or the setup cache); run ./pifio setup")
    engine = Path(args.engine) if args.engine else ROOT / "build" / "lib" / "libpifio.so"
    if not engine.exists():
        return _skip(f"{engine} not built (./pifio build)")
    try:
        tree = pyguest.fio_tree()
    except PifioError as e:
        return _skip(str(e))
    archives = [pyguest.archive(), pyguest.fio_t_archive(tree)]
    initramfs.base([(GUEST_ENGINE, engine)])    # build the shared base once, before the threads
    t0 = time.monotonic()
    rcs: dict[str, int] = {}
    threads = [threading.Thread(target=lambda n=n, k=k: rcs.__setitem__(n, run_kernel(args, n, k, fio, engine, archives)))
               for n, k in zip(args.kernel, ks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"conformance set {args.set}: kernels {', '.join(args.kernel)} in {time.monotonic() - t0:.0f} s wall; "
          f"rc {rcs}")
    return max(rcs.values()) if rcs else 1


def run_kernel(args, name: str, k: kernels.Kernel, fio: Path, engine: Path, archives: list[Path]) -> int:
    say = lambda m: print(f"[{name}] {m}", flush=True)   # noqa: E731
    sets = SETS[args.set]
    plan = [(s, n) for s, n in sets.get(name, sets["*"])
            if kernel_version(k) >= SUITE_MIN_KERNEL.get(s, (0, 0))]
    if args.lbafs:      # development: narrow a run
        plan = [(s, {t: [int(x) for x in args.lbafs.split(",")] for t in n}) for s, n in plan]
    extra = (" -o " + " ".join(args.run_only.split(","))) if args.run_only else ""
    out = Path(args.out) / name
    out.mkdir(parents=True, exist_ok=True)
    res_file = out / "results.json"
    res_file.unlink(missing_ok=True)
    tags = list(dict.fromkeys(t for _, n in plan for t in n))
    namespaces = [guest.Namespace(NAMESPACES[t], size=NS_SIZE, nsid=i) for i, t in enumerate(tags, 1)]
    nsid = {t: i for i, t in enumerate(tags, 1)}
    cached, keys, runs = {}, {}, []
    lines = ["set +e", "export PATH=/usr/bin:/usr/sbin:/bin:/sbin"]
    for t in tags:
        lines.append(f"nvme id-ns -o json $PIFIO_NG_{nsid[t]} > idns-{t}.json 2>&1")
    for suite, nss in plan:
        for tag, lbafs in nss.items():
            keys[(suite, tag)] = control_key(k, fio, suite, tag, lbafs, args.number_ios)
            p = CONTROL_CACHE / f"{suite}-{keys[(suite, tag)]}.json"
            if p.exists() and not args.no_cache and not extra:
                cached[(suite, tag)] = json.loads(p.read_text())
            engines = [] if (suite, tag) in cached else [("control", CONTROL_ENGINE[suite])]
            engines.append(("pifio", f"external:{GUEST_ENGINE}"))
            dut = f"$PIFIO_NG_{nsid[tag]}" if suite == "nvmept_pi" else f"$PIFIO_BLK_{nsid[tag]}"
            for ename, eng in engines:
                art = f"{suite}-{tag}-{ename}"
                runs.append((suite, tag, ename))
                # The script's output goes to a file; each configuration's header
                # line also to the console (progress on the host).
                lines += [f"echo PIFIO-CONF start {art} $(cut -d' ' -f1 /proc/uptime)",
                          f"( python3 {pyguest.GUEST_SUITE} {suite} {args.number_ios} {eng} --dut {dut} "
                          f"-f /usr/bin/fio -a /results/{art} -l {' '.join(map(str, lbafs))}{extra} 2>&1; "
                          f"echo $? > /tmp/{art}.rc ) | tee /results/{art}.out | while read -r l; do "
                          f"case \"$l\" in lbaf:*) echo \"PIFIO-CONF cfg {art} $l\";; esac; done",
                          f"echo PIFIO-CONF rc {art} $(cat /tmp/{art}.rc) $(cut -d' ' -f1 /proc/uptime)"]
    script = "\n".join(lines) + "\n"
    say(f"{k.release}: {plan}, NUMBER_IOS={args.number_ios}; control "
        f"{'cached for ' + ', '.join('/'.join(c) for c in cached) if cached else 'run in the guest'}")
    t0 = time.monotonic()
    r = guest.boot_and_run(k, namespaces, script=script, timeout=args.timeout, env={"LANG": "C.UTF-8"},
                           files={pyguest.GUEST_SUITE: pyguest.SUITE_PY}, binaries=[(GUEST_ENGINE, engine)],
                           archives=archives, mem="2G",
                           on_line=lambda ln: say(ln[:160]) if ln.startswith("PIFIO-CONF") else None)
    wall = time.monotonic() - t0
    result = {"set": args.set, "kernel": k.describe(), "number_ios": args.number_ios,
              "guest": {"rc": r.rc, "timed_out": r.timed_out, "wall_s": round(wall, 1), "boot_s": r.boot_s,
                        "run_dir": str(r.run_dir)},
              "namespaces": {t: NAMESPACES[t] for t in tags}, "plan": plan,
              "control_cached": sorted("/".join(c) for c in cached), "runs": {"control": {}, "pifio": {}},
              "run_s": {}}
    con = r.console_log.read_text(errors="replace") if r.console_log.exists() else ""
    starts = {m[0]: float(m[1]) for m in re.findall(r"PIFIO-CONF start (\S+) ([\d.]+)", con)}
    for m in re.findall(r"PIFIO-CONF rc (\S+) (\d+) ([\d.]+)", con):
        if m[0] in starts:
            result["run_s"][m[0]] = round(float(m[2]) - starts[m[0]], 1)
    for suite, tag, ename in runs:
        art = f"{suite}-{tag}-{ename}"
        parsed = parse_output(r.text(f"{art}.out"), suite)
        attach_artifacts(parsed, r.results_dir / art, suite)
        result["runs"][ename].update({f"{suite}/{tag}/{d}": c for d, c in parsed.items()})
        complete = parsed and all(c["tests"] or not c["formatted"] for c in parsed.values())
        if ename == "control" and r.ok and not extra and complete:
            CONTROL_CACHE.mkdir(parents=True, exist_ok=True)
            (CONTROL_CACHE / f"{suite}-{keys[(suite, tag)]}.json").write_text(json.dumps(parsed, indent=1))
    for (suite, tag), parsed in cached.items():
        result["runs"]["control"].update({f"{suite}/{tag}/{d}": c for d, c in parsed.items()})
    res_file.write_text(json.dumps(result, indent=1))
    say(f"guest rc={r.rc} timed_out={r.timed_out} wall {wall:.0f} s; per run (guest s): {result['run_s']}; "
        f"run dir {r.run_dir}")
    print(table(result), flush=True)
    if not r.ok:
        say(f"FAIL guest: {r.why()}")
        return 1
    return 0


_skipped = ""


def _skip(reason: str) -> int:
    global _skipped
    _skipped = reason
    print(f"SKIP: {reason}")
    return SKIP


# ---------------------------------------------------------------- check --

def counts(cfg: dict | None) -> tuple[int, int, int]:
    if not cfg:
        return 0, 0, 0
    r = [t["result"] for t in cfg["tests"].values()]
    return r.count("PASSED"), r.count("FAILED"), r.count("SKIPPED")


# Tests of t/io_uring_pi.py that fio 3.41's io_uring engine passes without
# checking anything in userspace (it never verifies PI on block reads: its
# fio_ioring_validate_md() is dead code until fio PR #1992): reads of data it
# wrote itself, where only the device/kernel check could fail.
UNCHECKED_BY_CONTROL = {"io_uring_pi": {"102", "103"}}


def check(args) -> int:
    p = Path(args.results)
    if not p.exists():
        print(f"FAIL no results at {p}: the fixture (conformance run) did not finish")
        return 1
    res = json.loads(p.read_text())
    if res.get("skipped"):
        return _skip(f"the conformance run was skipped: {res['skipped']}")
    key = args.config
    ctl = res["runs"]["control"].get(key)
    pif = res["runs"]["pifio"].get(key)
    if res["guest"]["timed_out"] and (ctl is None or pif is None):
        print(f"FAIL guest timed out before {key} ran ({res['guest']['run_dir']})")
        return 1
    if ctl is None:
        print(f"FAIL the control never ran {key} (script output missing; {res['guest']['run_dir']})")
        return 1
    if not ctl["formatted"]:
        return _skip(f"nvme-cli could not format {key} ({label(key, ctl)}) for the control")
    if not ctl["tests"]:
        print(f"FAIL the control ran no test in {key}")
        return 1
    name = label(key, ctl)
    if pif is None or not pif["formatted"]:
        print(f"FAIL {name}: pifio's run did not reach this configuration")
        return 1
    lost, won, notes = [], [], []
    suite = key.split("/")[0]
    unchecked = UNCHECKED_BY_CONTROL.get(suite, set())
    for tid, t in sorted(ctl["tests"].items()):
        q = pif["tests"].get(tid, {"result": "MISSING", "reason": "not run"})
        if t["result"] == "PASSED" and q["result"] != "PASSED":
            lost.append((tid, q))
        elif t["result"] == "FAILED" and q["result"] == "PASSED":
            won.append(tid)
        if tid in unchecked and t["result"] == "PASSED":
            notes.append(tid)
    cp, cf, cs = counts(ctl)
    pp, pf, ps = counts(pif)
    print(f"{name} ({key}, NUMBER_IOS={res['number_ios']}, kernel {res['kernel']['release']}):")
    cached = "/".join(key.split("/")[:2]) in res["control_cached"]
    print(f"  control ({CONTROL_ENGINE[suite]}{', cached' if cached else ''}):"
          f" {cp} passed, {cf} failed, {cs} skipped")
    print(f"  pifio: {pp} passed, {pf} failed, {ps} skipped")
    for tid in won:
        print(f"  note: test {tid} fails with the control ({ctl['tests'][tid]['reason']}) and passes with pifio")
    if notes:
        print(f"  note: tests {', '.join(notes)} pass with the control without any userspace PI check "
              "(fio 3.41's io_uring engine verifies nothing on block reads); pifio checks them")
    for tid, q in lost:
        print(f"  LOST test {tid}: {q['result']} {q.get('reason', '')}")
        for ext in ("command", "stderr"):
            if q.get(ext):
                body = "\n".join("      " + ln for ln in q[ext].strip().splitlines()[:12])
                print(f"    {ext}:\n{body}")
    if lost:
        print(f"FAIL {len(lost)} test(s) pass with fio's built-in engine and not with pifio")
        return 1
    print(f"ok  every test the control passes passes with pifio ({cp})")
    return 0


def table(*results: dict) -> str:
    rows = ["| kernel | configuration | control pass/fail/skip | pifio pass/fail/skip | lost |",
            "|---|---|---|---|---|"]
    for res in results:
        for key in sorted(res["runs"]["control"].keys() | res["runs"]["pifio"].keys()):
            ctl, pif = res["runs"]["control"].get(key), res["runs"]["pifio"].get(key)
            cfg = ctl or pif
            lost = sum(1 for tid, t in (ctl or {"tests": {}})["tests"].items()
                       if t["result"] == "PASSED" and (pif or {"tests": {}})["tests"].get(tid, {}).get("result") != "PASSED")
            c, p = counts(ctl), counts(pif)
            rows.append(f"| {res['kernel']['release']} | {label(key, cfg)} | {c[0]}/{c[1]}/{c[2]} | "
                        f"{p[0]}/{p[1]}/{p[2]} | {lost} |")
    return "\n".join(rows)


def main(argv) -> int:
    ap = argparse.ArgumentParser(prog="conformance.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--kernel", action="append", help="repeat for several kernels, booted side by side "
                   "(default 7.3 and 6.1)")
    r.add_argument("--set", default="default", choices=sorted(SETS))
    r.add_argument("--out", required=True)
    r.add_argument("--engine", help="libpifio.so (default build/lib/libpifio.so)")
    r.add_argument("--number-ios", type=int, default=NUMBER_IOS)
    r.add_argument("--timeout", type=float, default=5400, help="per guest, seconds (a cold run, control included, took 45-55 min on a 2-core host at load 10-17)")
    r.add_argument("--lbafs", help="development: these LBA formats only (comma list)")
    r.add_argument("--run-only", help="development: these test ids only (comma list); the control is not cached")
    r.add_argument("--no-cache", action="store_true", help="run the control even when its results are cached")
    c = sub.add_parser("check")
    c.add_argument("--results", required=True)
    c.add_argument("--config", required=True)
    t = sub.add_parser("table")
    t.add_argument("results", nargs="+")
    args = ap.parse_args(argv)
    if args.cmd == "run":
        args.kernel = args.kernel or ["7.3", "6.1"]
        return run(args)
    if args.cmd == "check":
        return check(args)
    print(table(*(json.loads(Path(p).read_text()) for p in args.results)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
