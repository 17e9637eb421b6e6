"""./pifio bisect --tree T --good A --bad B --scenario dm-linear-read on the
stand-in tree (tests/kernel/standin.py: B = A + stacked-verify): pifio checks
that A passes and B fails, drives git bisect in the scratch worktree and
must print B as the first bad commit; the tree's HEAD, status, branches and
index are unchanged and it has no bisect in progress."""
import re
import subprocess
import sys
import time
from pathlib import Path

from kcommon import ROOT, need_build_tools, need_lab

sys.path.insert(0, str(Path(__file__).resolve().parent))
need_build_tools()
need_lab(dm=True)
from standin import standin, state  # noqa: E402

tree, a, b, mbox = standin("7.3")
before = state(tree)
t0 = time.monotonic()
r = subprocess.run(["/usr/bin/python3", str(ROOT / "pifio"), "bisect", "--tree", str(tree), "--good", "pifio-a",
                    "--bad", "pifio-b", "--scenario", "dm-linear-read"], capture_output=True, text=True,
                   timeout=3000)
out = r.stdout + r.stderr
print(out[-5000:])
bad = []
m = re.search(r"^first bad commit: ([0-9a-f]{40})", out, re.M)
if r.returncode != 0 or not m:
    bad.append(f"exit {r.returncode}, no 'first bad commit' line")
elif m.group(1) != b:
    bad.append(f"first bad commit {m.group(1)[:12]}, want B {b[:12]}")
for end in ("bad end", "good end"):
    if f"checking the {end}" not in out:
        bad.append(f"the {end} was not checked")
if state(tree) != before:
    bad.append("the user's tree changed")
if subprocess.run(["git", "bisect", "log"], cwd=tree, capture_output=True).returncode == 0:
    bad.append("a bisect is in progress in the user's checkout")
print(f"bisect --tree: {time.monotonic() - t0:.0f} s")
if bad:
    print("\n".join("FAIL " + x for x in bad))
    sys.exit(1)
print("ok: B named")
