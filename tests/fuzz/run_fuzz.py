#!/usr/bin/python3
"""Run one libFuzzer target for a bounded time from its committed seed corpus.

    run_fuzz.py --bin FUZZER --corpus tests/fuzz/corpus/<target> --work DIR
                [--seconds 10 | --runs N] [--jobs 1]

New coverage goes to DIR/queue (kept between runs, not committed). A crash,
timeout, leak or out-of-memory artifact is minimised (-minimize_crash) and
written into the seed corpus as crash-<sha1>, so it is replayed by every
later run and can be committed once fixed; the run then fails and prints the
fuzzer's report. Prints the number of executions. Exit 0 clean, 1 finding,
77 skip.
"""
import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys

QUEUE_MAX = 4000   # inputs kept between runs before the queue is merged down


def fuzz_cmd(a, extra):
    # tests/fuzz/<target>.dict (words the parser knows) when there is one.
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.path.basename(a.corpus) + ".dict")
    return [a.bin, "-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1",
            f"-artifact_prefix={a.work}/artifacts/", *([f"-dict={d}"] if os.path.exists(d) else []), *extra]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=0, help="stop after N executions instead of --seconds")
    a = ap.parse_args()
    if not os.access(a.bin, os.X_OK):
        print(f"SKIP: fuzzer {a.bin} was not built (fuzz.build builds it with clang-14)")
        return 77
    queue = os.path.join(a.work, "queue")
    arts = os.path.join(a.work, "artifacts")
    os.makedirs(queue, exist_ok=True)
    shutil.rmtree(arts, ignore_errors=True)
    os.makedirs(arts)
    os.makedirs(a.corpus, exist_ok=True)
    if len(os.listdir(queue)) > QUEUE_MAX:
        merged = queue + ".merged"
        shutil.rmtree(merged, ignore_errors=True)
        os.makedirs(merged)
        subprocess.run(fuzz_cmd(a, ["-merge=1", merged, queue]), capture_output=True)
        shutil.rmtree(queue)
        os.rename(merged, queue)
    limit = [f"-runs={a.runs}"] if a.runs else [f"-max_total_time={a.seconds}"]
    r = subprocess.run(fuzz_cmd(a, [*limit, queue, a.corpus]), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, errors="replace")
    out = r.stdout
    m = re.search(r"stat::number_of_executed_units: (\d+)", out)
    execs = int(m.group(1)) if m else 0
    found = sorted(os.listdir(arts))
    if r.returncode == 0 and not found:
        print(f"PASS: {os.path.basename(a.bin)}: {execs} executions, "
              f"{len(os.listdir(a.corpus))} seeds + {len(os.listdir(queue))} queued inputs, no finding")
        return 0
    print(out[-6000:])
    for name in found:
        art = os.path.join(arts, name)
        kind = name.split("-", 1)[0]
        with open(art, "rb") as f:
            digest = hashlib.sha1(f.read()).hexdigest()[:16]
        dst = os.path.join(a.corpus, f"{kind}-{digest}")
        if kind == "crash":
            mr = subprocess.run(fuzz_cmd(a, ["-minimize_crash=1", "-max_total_time=30",
                                             f"-exact_artifact_path={dst}", art]),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
            if not os.path.exists(dst):
                shutil.copy(art, dst)
            print(f"minimised ({'ok' if mr.returncode == 0 else 'exit ' + str(mr.returncode)}): {dst}")
        else:
            shutil.copy(art, dst)
            print(f"{kind} input kept as {dst}")
    print(f"FAIL: {os.path.basename(a.bin)}: finding after {execs} executions (exit {r.returncode}); "
          f"the input is now a seed in {a.corpus}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
