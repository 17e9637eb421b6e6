#!/usr/bin/python3
"""fio loads the engine on the host and rejects bad input with a clear message.

No NVMe device here, so this covers what does not need one: the .so loads into
the fio it was built for (ops version), option errors name the option and a
value that works, a target without a backend is refused, and fio exits
non-zero each time. Device behaviour is tests/engine/lab_engine_test.py.
Exit 0 pass, 1 fail, 77 skip.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from analysis.meta import parse_pi_report  # noqa: E402


def run(fio, args, env=None):
    r = subprocess.run([fio] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60,
                       env=env)
    return r.returncode, r.stdout


def loop_no_pi(fio, eng, d, fails) -> int:
    """A PI format named on a block device without PI is refused before any
    write (it used to run unchecked and exit 0). Returns the checks made."""
    img = os.path.join(d, "loop.img")
    with open(img, "wb") as f:
        f.truncate(8 << 20)
    r = subprocess.run(["losetup", "-f", "--show", img], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"note: loop-device cases skipped (losetup: {r.stderr.strip() or 'needs root'})")
        return 0
    dev = r.stdout.strip()
    extra = 0
    try:
        rc, out = run(fio, ["--name=h", eng, f"--filename={dev}", "--rw=write", "--bs=4k", "--size=1M",
                            "--direct=1", "--pi_format=512+8/t1"])
        if rc == 0:
            fails.append(f"pi_format=512+8/t1 on {dev} (no PI): fio exited 0\n{out[-400:]}")
        elif "no integrity profile" not in out or "drop pi_format" not in out:
            fails.append(f"pi_format on a device without PI: message lacks the reason/fix\n{out[-400:]}")
        with open(img, "rb") as f:
            if any(f.read()):
                fails.append(f"pi_format on a device without PI: bytes were written to {dev}")
        extra = 1 + loop_report_reopen(fio, eng, d, dev, fails)
    finally:
        subprocess.run(["losetup", "-d", dev])
    return extra


def loop_report_reopen(fio, eng, d, dev, fails) -> int:
    """fio closes and reopens the file between loops and before the verify
    phase: the file's state survives, so it is probed (sized, its integrity
    profile read) once; pi_report counts every phase and analysis reads it."""
    rep = os.path.join(d, "j.pi.json")
    args = ["--name=j", eng, f"--filename={dev}", "--rw=write", "--bs=4k", "--size=1M", "--loops=3",
            "--verify=crc32c", "--verify_state_save=0", f"--pi_report={rep}"]
    trace = os.path.join(d, "strace.txt")
    if shutil.which("strace"):
        # LeakSanitizer cannot run under ptrace: in the sanitizer tree the traced
        # run keeps ASan's other checks but not the leak check.
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(x for x in (env.get("ASAN_OPTIONS", ""), "detect_leaks=0") if x)
        rc, out = run("strace", ["-f", "-e", "trace=ioctl", "-o", trace, fio] + args, env=env)
    else:
        print("note: strace not installed: probes per file not counted")
        rc, out = run(fio, args)
    if rc != 0:
        fails.append(f"loops=3 verify job on {dev}: fio exit {rc}\n{out[-400:]}")
        return 1
    if os.path.exists(trace):
        with open(trace) as f:
            probes = sum("BLKGETSIZE64" in line for line in f)
        if probes != 1:
            fails.append(f"loops=3 verify job: {probes} probes of {dev} (BLKGETSIZE64), want 1 (state kept across reopen)")
    try:
        counts = parse_pi_report(rep)
        with open(rep) as f:
            fr = json.load(f)["files"][0]
    except Exception as e:  # noqa: BLE001 - any failure to read the report is the finding
        fails.append(f"pi_report {rep}: {e}")
        return 1
    if counts["total"] != 0 or fr["writes"] != 768 or fr["reads"] != 768 or fr["file"] != dev:
        fails.append(f"pi_report after loops=3 + verify: counts {counts}, file {fr['file']}, "
                     f"writes {fr['writes']} reads {fr['reads']} (want 768 each)")
    return 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fio", required=True)
    ap.add_argument("--engine", required=True)
    a = ap.parse_args()
    if not os.access(a.fio, os.X_OK):
        print(f"SKIP: no fio at {a.fio} (./pifio setup builds it)")
        return 77
    eng = f"--ioengine=external:{a.engine}"
    fails = []
    with tempfile.TemporaryDirectory() as d:
        reg = os.path.join(d, "file")
        with open(reg, "wb") as f:
            f.truncate(1 << 20)
        cases = [
            # (what, args, text the output must contain)
            ("engine options are known to fio", ["--name=h", eng, "--filename=/dev/null", "--pi_chk=GUARD,CRC",
                                                 "--size=4k"], "pi_chk: unknown check 'CRC'"),
            ("bad pi_inject", ["--name=h", eng, "--filename=/dev/null", "--pi_inject=guard:2", "--size=4k"],
             "pi_inject: fraction '2' for guard is not in (0, 1]"),
            ("regular file has no backend", ["--name=h", eng, f"--filename={reg}", "--size=4k"],
             "no backend for a regular file"),
            ("char device that is not NVMe", ["--name=h", eng, "--filename=/dev/null", "--size=4k"],
             "is it an NVMe namespace?"),
            ("bad pi_format", ["--name=h", eng, "--filename=/dev/null", "--pi_format=4000+8", "--size=4k"], "4000"),
        ]
        for what, args, want in cases:
            rc, out = run(a.fio, args)
            if rc == 0:
                fails.append(f"{what}: fio exited 0\n{out[-400:]}")
            elif want not in out:
                fails.append(f"{what}: output lacks {want!r}\n{out[-400:]}")
            elif "pifio: " not in out:
                fails.append(f"{what}: no 'pifio: ' prefixed message\n{out[-400:]}")
        # The engine's options reach fio's parser: an unknown one is refused by fio itself,
        # a known one is not.
        rc, out = run(a.fio, ["--name=h", eng, "--filename=/dev/null", "--pi_verify=0", "--size=4k"])
        if "Bad option" in out or "invalid" in out.lower() and "pi_verify" in out:
            fails.append(f"pi_verify not accepted by fio\n{out[-400:]}")
        rc, out = run(a.fio, ["--name=h", eng, "--filename=/dev/null", "--pi_nonsense=1", "--size=4k"])
        if rc == 0:
            fails.append("unknown option accepted")
        extra = 2 + loop_no_pi(a.fio, eng, d, fails)
    for f in fails:
        print("FAIL:", f)
    print(f"{'FAIL' if fails else 'PASS'}: {len(cases) + extra - len(fails)} of {len(cases) + extra} host checks")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
