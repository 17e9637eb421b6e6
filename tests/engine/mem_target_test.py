#!/usr/bin/python3
"""The in-memory target (filename=pifio-mem\\:<format>\\:<size>) under fio.

Reads of PI written by the target's own generate pass the host checks on
several formats; write-then-read keeps the engine's PI; guards corrupted on
write (pi_inject) are caught on read (so the checks really run); a malformed target is refused with a
message that shows the form; pi_verify_time times every clean read's check into pi_report;
pi_verify_time=2 and pi_verify_crc_only (the raw-CRC timing references) say
what they left unchecked. Exit 0 pass, 1 fail, 77 skip.
"""
import argparse
import os
import subprocess
import sys


def run(fio, args):
    r = subprocess.run([fio] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    return r.returncode, r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fio", required=True)
    ap.add_argument("--engine", required=True)
    a = ap.parse_args()
    if not os.access(a.fio, os.X_OK):
        print(f"SKIP: no fio at {a.fio} (./pifio setup builds it)")
        return 77
    base = ["--name=m", f"--ioengine=external:{a.engine}", "--thread", "--iodepth=8", "--number_ios=2000",
            "--pi_act=0", "--pi_chk=GUARD,REFTAG,APPTAG", "--norandommap", "--randrepeat=0"]
    fails, n = [], 0

    def target(fmt):
        return "--filename=pifio-mem\\:" + fmt + "\\:8M"

    def md(fmt):
        ds, ms = int(fmt.split("+")[0]), int(fmt.split("+")[1].split("/")[0])
        nb = max(1, 4096 // ds)
        if fmt.endswith("/ext"):   # one I/O = 4 KiB of data plus the interleaved metadata
            return [f"--bs={nb * (ds + ms)}"]
        return ["--bs=4k", f"--md_per_io_size={nb * ms}"]
    for fmt in ("4096+8", "512+8", "512+16/g64/ext", "4096+64/first", "4096+16/t2/g64"):
        n += 1
        rc, out = run(a.fio, base + [target(fmt), "--rw=randread", "--size=8M"] + md(fmt))
        if rc != 0 or "err= 0" not in out:
            fails.append(f"{fmt}: randread of generated PI failed (rc {rc})\n{out[-600:]}")
    n += 1
    rc, out = run(a.fio, base + [target("512+8"), "--rw=randrw", "--size=8M"] + md("512+8"))
    if rc != 0 or "err= 0" not in out:
        fails.append(f"512+8 randrw: failed (rc {rc})\n{out[-600:]}")
    n += 1
    # Every written guard corrupted (pi_inject): reads of written blocks must fail.
    rc, out = run(a.fio, base + ["--filename=pifio-mem\\:4096+8\\:1M", "--rw=randrw", "--size=1M",
                                 "--pi_inject=guard:1"] + md("4096+8"))
    if rc == 0 or "guard" not in out.lower():
        fails.append(f"corrupted guards read back and not caught (rc {rc})\n{out[-600:]}")
    n += 1
    rc, out = run(a.fio, base + ["--filename=pifio-mem\\:4096+8", "--rw=randread", "--size=8M", "--bs=4k"])
    if rc == 0 or "pifio-mem:<format>:<size>" not in out:
        fails.append(f"malformed target: rc {rc} or no usage in the message\n{out[-600:]}")
    # A job that asked for checks and checked nothing fails and says so (every read
    # failed, continue_on_error keeps fio going, which alone would exit 0) ...
    import json, tempfile
    rep = os.path.join(tempfile.mkdtemp(prefix="pifio-memt-"), "r.json")
    for eio, rw in (("read", "read"), ("write", "write"), ("all", "randrw")):
        n += 1
        rc, out = run(a.fio, base + ["--filename=pifio-mem\\:4096+8\\:1M\\:eio=" + eio, f"--rw={rw}", "--size=1M",
                                     "--continue_on_error=all", f"--pi_report={rep}"] + md("4096+8"))
        ok = rc != 0 and "but no block was checked" in out and "Input/output error (EIO)" in out
        try:
            d = json.load(open(rep))
            ok = ok and d["checks"]["verdict"] == "fail: nothing checked" and d["teardown"] == {"inflight": 0, "open_fds": 0} \
                and d["io_error_records"] and d["io_error_records"][0]["error"] == "EIO"
        except (OSError, ValueError, KeyError) as e:
            ok = False
            out += f"\nreport: {e}"
        if not ok:
            fails.append(f"eio={eio} rw={rw}: want a non-zero exit naming 'no block was checked' (rc {rc})\n{out[-800:]}")
    # ... while a job whose reads all escaped (apptag 0xffff, fio's tests 316/317) passes with a note.
    n += 1
    rc, out = run(a.fio, base + ["--filename=pifio-mem\\:4096+8\\:1M", "--rw=randrw", "--size=1M", "--apptag=0xffff",
                                 f"--pi_report={rep}"] + md("4096+8"))
    if rc != 0 or "blocks read were escaped" not in out:
        fails.append(f"all-escaped reads: want exit 0 with the escaped note (rc {rc})\n{out[-800:]}")
    # pi_verify_time: every clean read's check is timed (or counted as
    # interrupted), with a plausible time; a job without it has no verify_time.
    for timed in (1, 0):
        n += 1
        rc, out = run(a.fio, base + [target("512+8"), "--rw=randread", "--size=8M", f"--pi_verify_time={timed}",
                                     f"--pi_report={rep}"] + md("512+8"))
        try:
            fd = json.load(open(rep))["files"][0]
            vt = fd.get("verify_time")
            if timed:
                ok = rc == 0 and vt is not None and vt["reads"] + vt["interrupted"] == fd["reads"] == 2000 \
                    and vt["reads"] > 0 and 1 < vt["ns_per_read"] < 1e6 and vt["ticks"] > 0
            else:
                ok = rc == 0 and vt is None
        except (OSError, ValueError, KeyError, TypeError) as e:
            ok, vt = False, f"report: {e}"
        if not ok:
            fails.append(f"pi_verify_time={timed}: verify_time {vt} (rc {rc})\n{out[-600:]}")
    # pi_verify_time=2: reads alternate between the checks and the raw guard
    # CRC (timed apart, verify_time.crc); the CRC reads are not checked and the
    # verdict says so; the checked half still catches corrupted guards.
    n += 1
    rc, out = run(a.fio, base + [target("512+8"), "--rw=randread", "--size=8M", "--pi_verify_time=2",
                                 f"--pi_report={rep}"] + md("512+8"))
    try:
        d = json.load(open(rep))
        fd = d["files"][0]
        vt, ct = fd["verify_time"], fd["verify_time"]["crc"]
        ok = rc == 0 and fd["reads"] == 2000 and fd["crc_only_reads"] == 1000 and fd["blocks_verified"] == 8 * 1000 \
            and vt["reads"] + vt["interrupted"] == 1000 and ct["reads"] + ct["interrupted"] == 1000 \
            and ct["reads"] > 0 and 1 < ct["ns_per_read"] < 1e6 and vt["empty_window_ns"] > 0 \
            and d["checks"]["verdict"] == "diagnostic: reads not checked" and "NOT checked" in out
    except (OSError, ValueError, KeyError, TypeError) as e:
        ok, out = False, out + f"\nreport: {e}"
    if not ok:
        fails.append(f"pi_verify_time=2: want 1000 reads checked and 1000 raw-CRC reads timed apart (rc {rc})\n{out[-800:]}")
    n += 1
    rc, out = run(a.fio, base + ["--filename=pifio-mem\\:4096+8\\:1M", "--rw=randrw", "--size=1M", "--pi_inject=guard:1",
                                 "--pi_verify_time=2"] + md("4096+8"))
    if rc == 0 or "guard" not in out.lower():
        fails.append(f"pi_verify_time=2: corrupted guards not caught by the checked reads (rc {rc})\n{out[-600:]}")
    # pi_verify_crc_only=1: every read runs the raw CRC, none is checked (even
    # corrupted guards pass), and the job says so.
    n += 1
    rc, out = run(a.fio, base + ["--filename=pifio-mem\\:4096+8\\:1M", "--rw=randrw", "--size=1M", "--pi_inject=guard:1",
                                 "--pi_verify_crc_only=1", f"--pi_report={rep}"] + md("4096+8"))
    try:
        d = json.load(open(rep))
        fd = d["files"][0]
        ok = rc == 0 and fd["reads"] > 0 and fd["crc_only_reads"] == fd["reads"] and fd["blocks_verified"] == 0 \
            and d["checks"]["verdict"] == "diagnostic: reads not checked" and "NO PI is checked" in out
    except (OSError, ValueError, KeyError, TypeError) as e:
        ok, out = False, out + f"\nreport: {e}"
    if not ok:
        fails.append(f"pi_verify_crc_only=1: want every read unchecked and said so (rc {rc})\n{out[-800:]}")
    n += 1
    rc, out = run(a.fio, base + [target("4096+8"), "--rw=randread", "--size=8M", "--pi_verify_time=3"] + md("4096+8"))
    if rc == 0 or "want 0 (off), 1" not in out:
        fails.append(f"pi_verify_time=3: want a refusal that names the values (rc {rc})\n{out[-600:]}")
    for f in fails:
        print("FAIL:", f)
    print(f"{'FAIL' if fails else 'PASS'}: {n - len(fails)} of {n} in-memory target checks")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
