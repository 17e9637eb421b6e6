"""./pifio ab --tree on a stand-in for a developer's tree (tests/kernel/standin.py:
CACHE/usertrees/<base>, A = pristine Debian <base> (7.3, or 6.12 with the
argument), B = A + stacked-verify):

    commits: ab --tree T --a A --b B     --expect-series stacked-verify --runs 1
    mbox:    ab --tree T --a A --mbox M  --expect-series stacked-verify --runs 1

The dm-linear read-verify scenarios must pass on A and fail on B (the
manifest's must_fail), the report must name both revisions (commit +
subject), and the tree's HEAD, status, branches and index must be what they
were before. Only the dm correctness scenarios, one boot per side."""
import json
import sys
import time
from pathlib import Path

from kcommon import need_build_tools, need_lab

sys.path.insert(0, str(Path(__file__).resolve().parent))
mode = sys.argv[1] if len(sys.argv) > 1 else "commits"
base = sys.argv[2] if len(sys.argv) > 2 else "7.3"
need_build_tools()
need_lab(dm=True)
from standin import standin, state  # noqa: E402

from lab.commands import ab as kernel_ab  # noqa: E402
from lab.core.env import RESULTS  # noqa: E402

tree, a, b, mbox = standin(base)
before = state(tree)
t0 = time.monotonic()
args = ["--tree", str(tree), "--a", "pifio-a", "--expect-series", "stacked-verify", "--runs", "1"]
args += ["--b", "pifio-b"] if mode == "commits" else ["--mbox", str(mbox)]
started = time.time()
rc = kernel_ab.main(args)
secs = time.monotonic() - t0
bad = []
if state(tree) != before:
    bad.append(f"the user's tree changed: {before} -> {state(tree)}")
reports = [p for p in RESULTS.glob("ab-*-tree-*/report.json") if p.stat().st_mtime >= started]
if not reports:
    print(f"FAIL: ab wrote no report (exit {rc})")
    sys.exit(1)
rep = json.loads(max(reports, key=lambda p: p.stat().st_mtime).read_text())
text = (max(reports, key=lambda p: p.stat().st_mtime).parent / "report.txt").read_text()
for c in rep["checks"]:
    print({True: "OK  ", False: "FAIL", None: "SKIP"}[c["ok"]], c["check"], "-", c["detail"])
if rep["checks"] and all(c["ok"] is None for c in rep["checks"]):
    print("SKIP: every scenario skipped: " + rep["checks"][0]["detail"])
    sys.exit(77)
dm = [c for c in rep["checks"] if c["check"].startswith("dm-linear/")]
if len(dm) != 2 or not all(c["ok"] for c in dm) or not all("must fail on B" in c["check"] for c in dm):
    bad.append(f"want both dm-linear read-verify checks 'must fail on B, pass on A' OK, got {dm}")
if rc != 0:
    bad.append(f"ab exit {rc}, want 0")
if a[:12] not in text or f"Debian linux-source-{base}" not in text:
    bad.append("report.txt does not name A (commit + subject)")
if mode == "commits" and (b[:12] not in text or "dm: generate and verify" not in text):
    bad.append("report.txt does not name B (commit + subject)")
if mode == "mbox" and (mbox.name not in text or "dm: generate and verify" not in text):
    bad.append("report.txt does not name the mbox and its message")
print(f"ab --tree ({mode}, {base}): exit {rc}, builds {rep['build_seconds']}, total {rep['total_seconds']} s "
      f"(test {secs:.0f} s)")
print(text.splitlines()[0])
if bad:
    print("\n".join("FAIL " + x for x in bad))
    sys.exit(1)
print("ok")
