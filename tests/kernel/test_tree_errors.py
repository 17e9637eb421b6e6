"""./pifio kernel build|ab|bisect --tree: the clear errors (exit 2, one message
saying what to do) and the non-fatal config report, on small real git trees
whose Makefile stands in for kbuild (fast; no kernel is compiled). Every run
uses a private PIFIO_CACHE, so the scratch worktrees and kernels it makes
vanish with it. Each tree's HEAD/status/branches/index must be unchanged."""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from kcommon import ROOT

sys.path.insert(0, str(Path(__file__).resolve().parent))
from standin import state  # noqa: E402

TMP = Path(tempfile.mkdtemp(prefix="pifio-treeerr-"))
ENV = dict(os.environ, PIFIO_CACHE=str(TMP / "cache"))
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@localhost", "-c", "init.defaultBranch=main"]
fails = []

FAKE_MAKEFILE = """VERSION = {v}
PATCHLEVEL = {p}
SUBLEVEL = 0
O ?= .
tinyconfig:
\t@mkdir -p $(O) && echo CONFIG_64BIT=y > $(O)/.config
olddefconfig:
\t@true
bzImage:
\t@if [ -e $(CURDIR)/BREAK ]; then echo "drivers/fake/broken.c:12:3: error: 'bio' undeclared"; \\
\t  echo "make[1]: *** [drivers/fake] Error 1"; exit 2; fi
\t@mkdir -p $(O)/arch/x86/boot && head -c 4096 /dev/zero > $(O)/arch/x86/boot/bzImage && touch $(O)/vmlinux
kernelrelease:
\t@echo {v}.{p}.0-fake
"""


def sh(*a, cwd=None):
    r = subprocess.run(list(a), cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, f"{a}: {r.stdout}{r.stderr}"
    return r.stdout.strip()


def fake_tree(name, v, p, kernel=True):
    t = TMP / name
    t.mkdir()
    sh(*GIT, "init", "-q", ".", cwd=t)
    (t / "README").write_text("fake\n")
    if kernel:
        (t / "Makefile").write_text(FAKE_MAKEFILE.format(v=v, p=p))
        (t / "Kconfig").write_text("mainmenu \"fake\"\n")
        (t / "block").mkdir()
        (t / "block" / "blk-core.c").write_text("int blk_core;\n")
        (t / "scripts" / "kconfig").mkdir(parents=True)
        ms = t / "scripts" / "kconfig" / "merge_config.sh"
        ms.write_text("#!/bin/sh\nexit 0\n")
        ms.chmod(0o755)
    sh(*GIT, "add", "-A", cwd=t)
    sh(*GIT, "commit", "-q", "-m", "base", cwd=t)
    return t


def pifio(*args):
    r = subprocess.run(["/usr/bin/python3", str(ROOT / "pifio"), *args], capture_output=True, text=True, env=ENV,
                       timeout=300)
    return r.returncode, r.stdout + r.stderr


def expect(label, args, rc_want, *needles, tree=None):
    before = state(tree) if tree else None
    rc, out = pifio(*args)
    bad = []
    if rc != rc_want:
        bad.append(f"exit {rc}, want {rc_want}")
    for n in needles:
        if n not in out:
            bad.append(f"output lacks {n!r}")
    if tree and state(tree) != before:
        bad.append("the user's tree changed")
    print(("ok   " if not bad else "FAIL ") + label + ("" if not bad else ": " + "; ".join(bad)))
    if bad:
        print("     output: " + out.strip().replace("\n", "\n     ")[-1500:])
        fails.append(label)
    return out


plain = TMP / "plain"
plain.mkdir()
expect("not a git tree", ["kernel", "build", "--tree", str(plain)], 2, "not a git tree")
expect("no such directory", ["kernel", "build", "--tree", str(TMP / "nope")], 2, "no such directory")
notk = fake_tree("notkernel", 0, 0, kernel=False)
expect("not a kernel tree", ["kernel", "build", "--tree", str(notk)], 2, "is not a Linux kernel tree", tree=notk)
old = fake_tree("old-5.15", 5, 15)
expect("kernel older than 6.1", ["kernel", "build", "--tree", str(old)], 2, "is Linux 5.15.0", "6.1 or later",
       tree=old)
t = fake_tree("fake-6.12", 6, 12)
base = sh("git", "rev-parse", "HEAD", cwd=t)
expect("unknown revision", ["kernel", "build", "--tree", str(t), "--rev", "no-such-branch"], 2,
       "unknown revision 'no-such-branch'", tree=t)

# an mbox of two messages; on main the second no longer applies (main changed its line)
sh(*GIT, "checkout", "-q", "-b", "work", cwd=t)
(t / "README").write_text("fake\nline 2\n")
sh(*GIT, "commit", "-q", "-a", "-m", "docs: a second line", cwd=t)
(t / "block" / "blk-core.c").write_text("int blk_core_x;\n")
sh(*GIT, "commit", "-q", "-a", "-m", "block: rename to x", cwd=t)
mbox = TMP / "two.mbox"
mbox.write_text(sh("git", "format-patch", "--stdout", f"{base}..HEAD", cwd=t) + "\n")
sh(*GIT, "checkout", "-q", "main", cwd=t)
(t / "block" / "blk-core.c").write_text("int blk_core_y;\n")
sh(*GIT, "commit", "-q", "-a", "-m", "block: rename to y", cwd=t)
expect("mbox applied on its base (fake build)", ["kernel", "build", "--tree", str(t), "--rev", base,
                                                 "--mbox", str(mbox)], 0, "+ two.mbox", tree=t)
expect("mbox message 2 does not apply", ["kernel", "build", "--tree", str(t), "--mbox", str(mbox)], 2,
       "patch does not apply: message 2 ('block: rename to x') of " + str(mbox), tree=t)
pdir = TMP / "pdir"
pdir.mkdir()
(pdir / "0001-good.diff").write_text("--- a/README\n+++ b/README\n@@ -1 +1,2 @@\n fake\n+line\n")
(pdir / "0002-bad.diff").write_text("--- a/block/blk-core.c\n+++ b/block/blk-core.c\n@@ -1 +1 @@\n-int nothere;\n+int x;\n")
expect("--patches file does not apply", ["kernel", "build", "--tree", str(t), "--patches", str(pdir)], 2,
       "patch does not apply: " + str(pdir / "0002-bad.diff"), tree=t)
expect("--mbox missing", ["kernel", "build", "--tree", str(t), "--mbox", str(TMP / "none.mbox")], 2,
       "no such file", tree=t)

# config fragment lines the tree lacks: listed, not fatal
out = expect("config mismatches reported, not fatal", ["kernel", "build", "--tree", str(t)], 0,
             "fragment line(s) this kernel does not take", "CONFIG_BLK_DEV_INTEGRITY: want y, got n", tree=t)
# a build failure: the log's path and its last lines
sh(*GIT, "checkout", "-q", "-b", "broken", cwd=t)
(t / "BREAK").write_text("x\n")
sh(*GIT, "add", "BREAK", cwd=t)
sh(*GIT, "commit", "-q", "-m", "break the build", cwd=t)
sh(*GIT, "checkout", "-q", "main", cwd=t)
out = expect("build failure", ["kernel", "build", "--tree", str(t), "--rev", "broken"], 2,
             "kernel build failed", "build.log", "error: 'bio' undeclared", tree=t)

# ab / bisect argument and tree errors (before any build)
expect("ab --tree without B", ["ab", "--tree", str(t), "--a", "HEAD"], 2, "needs B", tree=t)
expect("ab --tree unknown --b", ["ab", "--tree", str(t), "--a", "HEAD", "--b", "nope"], 2,
       "unknown revision 'nope'", tree=t)
expect("ab --tree on an old kernel", ["ab", "--tree", str(old), "--a", "HEAD", "--b", "HEAD"], 2,
       "6.1 or later", tree=old)
expect("ab --expect not a manifest", ["ab", "--tree", str(t), "--a", "HEAD", "--b", "HEAD",
                                      "--expect", str(TMP / "nothing.json")], 2, "not a JSON manifest", tree=t)
expect("ab --expect-series unknown", ["ab", "--tree", str(t), "--a", "HEAD", "--b", "HEAD",
                                      "--expect-series", "no-such-series"], 2, "no series 'no-such-series'", tree=t)
expect("bisect --good unknown", ["bisect", "--tree", str(t), "--good", "nope", "--bad", "HEAD",
                                 "--scenario", "dm-linear-read"], 2, "unknown revision 'nope'", tree=t)
expect("bisect good not an ancestor", ["bisect", "--tree", str(t), "--good", "broken", "--bad", "main",
                                       "--scenario", "dm-linear-read"], 2, "not an ancestor", tree=t)
expect("bisect unknown scenario", ["bisect", "--tree", str(t), "--good", base, "--bad", "main",
                                   "--scenario", "no/such"], 2, "no scenario matches", tree=t)

# a scenario the kernel is too old for: skipped with the reason
from lab.ab import suite as S  # noqa: E402
c = S.Case("x/y/z", "correctness", "", min_kernel=(6, 13), doc="needs the new thing")
why = S.too_old(c, "6.12.0-pifio")
if not (why.startswith("needs Linux 6.13 or later (this kernel is 6.12.0-pifio)") and not S.too_old(c, "7.3.4")
        and not S.too_old(S.CASES[0], "6.1.0")):
    print(f"FAIL too_old: {why!r}")
    fails.append("too_old")
else:
    print("ok   too-old scenario reason: " + why)

subprocess.run(["rm", "-rf", str(TMP)])
if fails:
    print(f"FAIL: {len(fails)}: {', '.join(fails)}")
    sys.exit(1)
print("ok")
