#!/usr/bin/python3
"""Run a command under ASan/UBSan report logging; fail on any report.

    check_clean.py --logs DIR [--leaks] -- CMD [ARGS...]

Sanitizer reports go to files in DIR (ASAN_OPTIONS / UBSAN_OPTIONS log_path),
not to the command's output, so a report cannot hide behind a test that
expects its program to fail (fio exits non-zero on every refused job). After
CMD: any report file -> print it and exit 1; otherwise CMD's exit status
(77 stays a skip). --leaks turns on LeakSanitizer at exit; --suppressions
names leaks of another program's own (fio's) to ignore.
"""
import argparse
import os
import shutil
import subprocess
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--logs", required=True)
    ap.add_argument("--leaks", action="store_true")
    ap.add_argument("--suppressions", help="LeakSanitizer suppressions file (another program's own leaks)")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        ap.error("no command")
    shutil.rmtree(a.logs, ignore_errors=True)
    os.makedirs(a.logs)
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join([
        f"log_path={a.logs}/asan", f"detect_leaks={int(a.leaks)}", "halt_on_error=1",
        "detect_stack_use_after_return=1", "strict_string_checks=1", "check_initialization_order=1",
        "print_summary=1", env.get("ASAN_OPTIONS", "")]).rstrip(":")
    env["UBSAN_OPTIONS"] = ":".join([
        f"log_path={a.logs}/ubsan", "print_stacktrace=1", "halt_on_error=1", "report_error_type=1",
        env.get("UBSAN_OPTIONS", "")]).rstrip(":")
    if a.suppressions:
        # Full stacks (fio has no frame pointers), so a suppression matches
        # only stacks that really are fio's alone.
        env["ASAN_OPTIONS"] += ":fast_unwind_on_malloc=0"
        env["LSAN_OPTIONS"] = ":".join([f"suppressions={os.path.abspath(a.suppressions)}", "print_suppressions=0",
                                        env.get("LSAN_OPTIONS", "")]).rstrip(":")
    rc = subprocess.run(cmd, env=env).returncode
    reports = sorted(os.listdir(a.logs))
    if reports:
        for name in reports:
            path = os.path.join(a.logs, name)
            with open(path, errors="replace") as f:
                lines = f.read().splitlines()
            print(f"==== sanitizer report {path} ({len(lines)} lines)")
            print("\n".join(lines[:120]))
        print(f"FAIL: {len(reports)} sanitizer report(s) in {a.logs} (command exited {rc})")
        return 1
    print(f"sanitizers: 0 reports (command exited {rc})")
    return rc


if __name__ == "__main__":
    sys.exit(main())
