"""Synthetic history in the cached 7.3 tree: pristine (1) + 5 commits, commit 4
= stacked-verify, the others harmless comment/doc changes under block/ and
Documentation/. `git bisect run ./pifio bisect --scenario dm-linear-read` must
name commit 4 as the first bad commit after at most 3 builds."""
import re
import subprocess
import sys
import time

from kcommon import ROOT, need_build_tools, need_lab

need_build_tools()
need_lab(dm=True)
from lab.kernels import build as K  # noqa: E402

tree = K.source_tree("7.3")
BR = "pifio/bisect-synthetic"


def git(*a, check=True):
    r = subprocess.run(["git", *K.GIT_ID, *a], cwd=tree, capture_output=True, text=True)
    if check and r.returncode:
        raise SystemExit(f"git {' '.join(a)} failed: {r.stdout}{r.stderr}")
    return r.stdout.strip()


def harmless(path, old, new, msg):
    p = tree / path
    t = p.read_text()
    assert old in t, f"{path}: anchor {old!r} not found"
    p.write_text(t.replace(old, new, 1))
    git("commit", "-q", "-a", "-m", msg)
    return git("rev-parse", "HEAD")


t0 = time.monotonic()
lock = K.tree_lock(K.SRC / f"{K.base_info('7.3')['version']}.lock")
with lock:
    git("bisect", "reset", check=False)
    git("am", "--abort", check=False)
    git("checkout", "-q", "-f", "-B", BR, "pristine")
    commits = [git("rev-parse", "HEAD")]
    commits.append(harmless("block/blk-integrity.c", " * blk-integrity.c - Block layer data integrity extensions",
                            " * blk-integrity.c - Block layer data integrity extensions (profiles, limits)",
                            "block: name what blk-integrity.c holds in its header comment"))
    commits.append(harmless("block/bio-integrity.c", " * bio-integrity.c - bio data integrity extensions",
                            " * bio-integrity.c - bio data integrity extensions: payload allocation",
                            "block: bio-integrity.c header comment"))
    for p in K.series_patches("stacked-verify"):
        git("am", "-q", str(p))
    commits.append(git("rev-parse", "HEAD"))
    commits.append(harmless("block/t10-pi.c", " * t10_pi.c - Functions for generating and verifying T10 Protection",
                            " * t10-pi.c - Functions for generating and verifying T10 Protection",
                            "block: t10-pi.c: fix the file name in the header comment"))
    commits.append(harmless("Documentation/block/data-integrity.rst", "Data Integrity",
                            "Data Integrity (T10 PI)", "docs: block: say T10 PI in the data-integrity title"))
print("history:", *[f"{i + 1}:{c[:12]}" for i, c in enumerate(commits)])
assert len(commits) == 6

try:
    git("bisect", "start", commits[5], commits[0])
    r = subprocess.run(["git", *K.GIT_ID, "bisect", "run", str(ROOT / "pifio"), "bisect", "--scenario", "dm-linear-read"],
                       cwd=tree, capture_output=True, text=True, timeout=2200)
    out = r.stdout + r.stderr
    print(out[-6000:])
    m = re.search(r"^([0-9a-f]{40}) is the first bad commit", out, re.M)
    steps = len(re.findall(r"^running ", out, re.M)) or out.count("pifio bisect")
    builds = len(re.findall(r"kernel bisect [0-9a-f]{12}: done:", out))
    cached = len(re.findall(r"bisect: cached build", out))
    skipped = out.count("skipping this commit")
finally:
    git("bisect", "reset", check=False)
    K._reset_tree(tree)
print(f"bisect: {steps} steps, {builds} builds, {cached} cache hits, {skipped} skipped, "
      f"{time.monotonic() - t0:.0f} s")
if not m:
    print("FAIL: git bisect did not name a first bad commit")
    sys.exit(1)
if m.group(1) != commits[3]:
    which = commits.index(m.group(1)) + 1 if m.group(1) in commits else "?"
    print(f"FAIL: first bad commit {m.group(1)[:12]} is commit {which}, want commit 4 {commits[3][:12]}")
    sys.exit(1)
if builds + cached > 3:
    print(f"FAIL: {builds + cached} bisect steps built a kernel, want <= 3")
    sys.exit(1)
print("ok: commit 4 (stacked-verify) named")
