"""./pifio bisect --tree T --good A --bad B --scenario dm-linear-read on the
stand-in tree (tests/kernel/standin.py: B = A + stacked-verify): pifio checks
that A passes and B fails, drives git bisect in the scratch worktree and
must print B as the first bad commit; the tree's HEAD, status, branches and
index are unchanged and it has no bisect in progress.
With the argument `history`: --bad pifio-bisect, 4 commits past A with
stacked-verify second; git bisect must take steps and name that commit."""
import re
import subprocess
import sys
import time
from pathlib import Path

from kcommon import ROOT, need_build_tools, need_lab

sys.path.insert(0, str(Path(__file__).resolve().parent))
need_build_tools()
need_lab(dm=True)
from standin import history, standin, state  # noqa: E402

mode = sys.argv[1] if len(sys.argv) > 1 else "ab"
if mode == "history":
    tree, a, b, tip = history("7.3")
    bad_rev = "pifio-bisect"
else:
    tree, a, b, mbox = standin("7.3")
    bad_rev = "pifio-b"
before = state(tree)
t0 = time.monotonic()
r = subprocess.run(["/usr/bin/python3", str(ROOT / "pifio"), "bisect", "--tree", str(tree), "--good", "pifio-a",
                    "--bad", bad_rev, "--scenario", "dm-linear-read"], capture_output=True, text=True,
                   timeout=3000)
out = r.stdout + r.stderr
print(out[-5000:])
bad = []
m = re.search(r"^first bad commit: ([0-9a-f]{40})", out, re.M)
if r.returncode != 0 or not m:
    bad.append(f"exit {r.returncode}, no 'first bad commit' line")
elif m.group(1) != b:
    bad.append(f"first bad commit {m.group(1)[:12]}, want {b[:12]} (stacked-verify)")
for end in ("bad end", "good end"):
    if f"checking the {end}" not in out:
        bad.append(f"the {end} was not checked")
if state(tree) != before:
    bad.append("the user's tree changed")
if subprocess.run(["git", "bisect", "log"], cwd=tree, capture_output=True).returncode == 0:
    bad.append("a bisect is in progress in the user's checkout")
steps = re.search(r"bisect: (\d+) step\(s\)", out)
if mode == "history" and not (steps and int(steps.group(1)) >= 1):
    bad.append("git bisect took no step on a 4-commit range")
print(f"bisect --tree ({mode}): {steps.group(1) if steps else '?'} step(s), {time.monotonic() - t0:.0f} s")
if bad:
    print("\n".join("FAIL " + x for x in bad))
    sys.exit(1)
print("ok: B named")
