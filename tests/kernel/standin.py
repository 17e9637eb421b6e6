"""A stand-in for a developer's kernel tree, made from the cached Debian
linux-source tree: CACHE/usertrees/<base>/ is a `git clone --shared` of it
(objects borrowed, its own refs and work tree), branch `main`:
    A = tag pifio-a = the pristine Debian source (same tree object as `pristine`)
    B = tag pifio-b = A + kernel-patches/stacked-verify (git am)
and CACHE/usertrees/<base>.mbox = `git format-patch --stdout A..B`.
history(): tag pifio-bisect = A + a harmless block/ comment + stacked-verify
(tag pifio-bisect-bad) + a doc line + another block/ comment, for a bisect
that has to take steps.
Made once at a stable path, so the scratch worktree and object dir that
./pifio kernel build --tree keys by this path stay warm between runs.

    python3 tests/kernel/standin.py [BASE]   prints: TREE A B MBOX
"""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from kcommon import ROOT  # noqa: E402,F401

from lab.core.env import CACHE  # noqa: E402
from lab.kernels import build as K  # noqa: E402

USERTREES = CACHE / "usertrees"


def git(tree, *a, check=True):
    r = subprocess.run(["git", *K.GIT_ID, *a], cwd=tree, capture_output=True, text=True)
    if check and r.returncode:
        raise SystemExit(f"git {' '.join(a)} in {tree} failed: {r.stdout}{r.stderr}")
    return r.stdout.strip()


def state(tree: Path) -> dict:
    """What 'the user's tree is unchanged' compares: HEAD, status, branches, index."""
    return {"head": git(tree, "rev-parse", "HEAD"), "symbolic": git(tree, "symbolic-ref", "-q", "HEAD", check=False),
            "status": git(tree, "status", "--porcelain", "--untracked-files=all"),
            "branches": git(tree, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/tags"),
            "index": git(tree, "write-tree")}


def canary_patches(base: str) -> list:
    """stacked-verify for `base`: the series itself (7.3 API), or its port in
    kernel-patches/stacked-verify/<base>/ (6.12: bio_integrity_prep(bio))."""
    port = K.series_patches("stacked-verify")[0].parent / base
    return sorted(port.glob("*.patch")) if port.is_dir() else K.series_patches("stacked-verify")


def standin(base: str = "7.3") -> tuple[Path, str, str, Path]:
    src = K.source_tree(base)
    tree = USERTREES / base
    mbox = USERTREES / f"{base}.mbox"
    if (tree / ".git").exists() and git(tree, "rev-parse", "-q", "--verify", "pifio-b", check=False) and mbox.exists():
        a, b = git(tree, "rev-parse", "pifio-a^{commit}"), git(tree, "rev-parse", "pifio-b^{commit}")
        return tree, a, b, mbox
    USERTREES.mkdir(parents=True, exist_ok=True)
    tmp = USERTREES / f".{base}.tmp"
    subprocess.run(["rm", "-rf", str(tmp)], check=True)
    print(f"stand-in: git clone --shared {src} {tree} (checkout ~1 min)", flush=True)
    git(USERTREES, "clone", "-q", "--shared", "--no-checkout", str(src), str(tmp))
    git(tmp, "checkout", "-q", "-B", "main", "pristine")
    git(tmp, "tag", "-f", "pifio-a")
    for p in canary_patches(base):
        git(tmp, "am", "-q", "--keep-cr", str(p))
    git(tmp, "tag", "-f", "pifio-b")
    mbox.write_text(git(tmp, "format-patch", "--stdout", "pifio-a..pifio-b") + "\n")
    tmp.rename(tree)
    a, b = git(tree, "rev-parse", "pifio-a^{commit}"), git(tree, "rev-parse", "pifio-b^{commit}")
    return tree, a, b, mbox


def _harmless(tree: Path, path: str, line: str, msg: str) -> None:
    p = tree / path
    p.write_text(p.read_text() + line + "\n")
    git(tree, "commit", "-q", "-a", "-m", msg)


def history(base: str = "7.3") -> tuple[Path, str, str, str]:
    """(tree, A, first bad commit, tip) of the bisect history (made once, on a
    detached HEAD so the tree's checkout and branch `main` stay as they are:
    it is built with a temporary worktree)."""
    tree, a, b, mbox = standin(base)
    if git(tree, "rev-parse", "-q", "--verify", "pifio-bisect", check=False):
        return tree, a, git(tree, "rev-parse", "pifio-bisect-bad^{commit}"), git(tree, "rev-parse", "pifio-bisect^{commit}")
    wt = USERTREES / f".{base}.history"
    git(tree, "worktree", "remove", "--force", str(wt), check=False)
    subprocess.run(["rm", "-rf", str(wt)], check=True)
    git(tree, "worktree", "add", "-q", "--detach", str(wt), a)
    try:
        _harmless(wt, "block/blk-integrity.c", "/* pifio stand-in: a harmless comment */",
                  "block: a comment at the end of blk-integrity.c")
        for p in canary_patches(base):
            git(wt, "am", "-q", "--keep-cr", str(p))
        git(wt, "tag", "-f", "pifio-bisect-bad")
        _harmless(wt, "Documentation/block/data-integrity.rst", "", "docs: block: a trailing blank line")
        _harmless(wt, "block/t10-pi.c", "/* pifio stand-in: another harmless comment */",
                  "block: a comment at the end of t10-pi.c")
        git(wt, "tag", "-f", "pifio-bisect")
    finally:
        git(tree, "worktree", "remove", "--force", str(wt), check=False)
    return tree, a, git(tree, "rev-parse", "pifio-bisect-bad^{commit}"), git(tree, "rev-parse", "pifio-bisect^{commit}")


if __name__ == "__main__":
    t, a, b, m = standin(sys.argv[1] if len(sys.argv) > 1 else "7.3")
    print(t, a, b, m)
