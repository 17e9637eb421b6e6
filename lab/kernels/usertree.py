"""Lab kernels built from a developer's own git kernel tree (./pifio kernel
build --tree, ./pifio ab --tree, ./pifio bisect --tree --good --bad).

The user's tree is never modified: not its HEAD, index, working files or
branches. Every build happens in ONE scratch worktree per user tree,
    CACHE/kbuild/scratch/<name>-<hash12>/   `git worktree add --detach` of the tree
with ONE object dir (build.obj_dir_for(scratch)); going from one revision to
a nearby one is `git checkout --detach REV` there, which rewrites only the
files that differ, so kbuild recompiles only what changed (the same property
the cached Debian tree relies on; see lab.kernels.build). Patches (an mbox
or a folder of *.patch) are applied in the scratch worktree with git am (or
git apply + commit for a plain diff); their commits live only there (and in
the shared object store, unreferenced by any branch of the user).

Finished kernels use the cache layout every lab kernel has (kernel.json +
meta.json + bzImage in CACHE/kbuild/tree-<key16>/), keyed by the git TREE
object of the source as built (after patches) and the config fragment:
the same key `./pifio bisect` (build.build_tree) gives a clean checkout,
so a commit built by either is found by the other. Two commits with the
same source (a rebase that changed nothing, the stand-in tree's base and
the Debian tree's pristine commit) share one kernel.

The only trace in the user's repository is git's worktree bookkeeping
(.git/worktrees/<scratch name>) and the objects of applied patches.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

from ..core.env import PifioError, hash_strings, log
from . import build as kb

SCRATCH = kb.KBUILD / "scratch"
MIN_VERSION = (6, 1)


def _git(cwd: Path, *args, check=False) -> subprocess.CompletedProcess:
    r = subprocess.run(["git", *kb.GIT_ID, *args], cwd=cwd, capture_output=True, text=True)
    if check and r.returncode:
        raise PifioError(f"git {' '.join(args)} failed in {cwd}:\n{(r.stdout + r.stderr)[-1500:]}")
    return r


# ------------------------------------------------------------- checks ----

def open_tree(path: str | Path) -> Path:
    """The top of the user's git work tree; clear errors when `path` is not one."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise PifioError(f"--tree {path}: no such directory; give the path of your kernel git checkout")
    r = _git(p, "rev-parse", "--show-toplevel")
    if r.returncode:
        raise PifioError(f"--tree {path}: not a git tree ({r.stderr.strip().splitlines()[-1] if r.stderr else ''}); "
                         "pifio builds commits of a git kernel tree (git clone one, or `git init` + commit)")
    return Path(r.stdout.strip()).resolve()


def resolve_rev(tree: Path, rev: str) -> str:
    r = _git(tree, "rev-parse", "-q", "--verify", f"{rev}^{{commit}}")
    if r.returncode or not r.stdout.strip():
        raise PifioError(f"unknown revision {rev!r} in {tree}; name a commit, branch or tag "
                         f"(git -C {tree} log --oneline -5)")
    return r.stdout.strip()


def subject(tree: Path, commit: str) -> str:
    return _git(tree, "log", "-1", "--format=%s", commit).stdout.strip()


def kernel_version(tree: Path, commit: str) -> tuple[int, int, str]:
    """(VERSION, PATCHLEVEL, "V.P.S") from the commit's top Makefile; errors
    when the commit is not a Linux kernel source tree."""
    missing = [f for f in ("Makefile", "Kconfig", "block", "scripts/kconfig")
               if _git(tree, "cat-file", "-e", f"{commit}:{f}").returncode]
    if missing:
        raise PifioError(f"{tree} at {commit[:12]} is not a Linux kernel tree (no {', '.join(missing)}); "
                         "--tree must be a git checkout of the kernel sources")
    mk = _git(tree, "show", f"{commit}:Makefile").stdout
    v = {k: (re.search(rf"^{k}\s*=\s*(\d*)", mk, re.M) or [None, ""])[1] for k in ("VERSION", "PATCHLEVEL", "SUBLEVEL")}
    if not v["VERSION"] or not v["PATCHLEVEL"]:
        raise PifioError(f"{tree} at {commit[:12]}: the top Makefile has no VERSION/PATCHLEVEL; "
                         "is this a Linux kernel tree?")
    ver = (int(v["VERSION"]), int(v["PATCHLEVEL"]))
    text = f"{ver[0]}.{ver[1]}.{v['SUBLEVEL'] or 0}"
    if ver < MIN_VERSION:
        raise PifioError(f"{tree} at {commit[:12]} is Linux {text}; the lab config "
                         f"(kernel-patches/config/lab.config) needs {MIN_VERSION[0]}.{MIN_VERSION[1]} or later "
                         "(io_uring passthrough, the block integrity interfaces the suite uses)")
    return ver[0], ver[1], text


def patch_files(mbox: str | None, patches: str | None) -> list[Path]:
    if mbox and patches:
        raise PifioError("give --mbox FILE or --patches DIR, not both")
    if mbox:
        p = Path(mbox).expanduser().resolve()
        if not p.is_file():
            raise PifioError(f"--mbox {mbox}: no such file (git format-patch --stdout A..B > FILE makes one)")
        return [p]
    if patches:
        d = Path(patches).expanduser().resolve()
        if not d.is_dir():
            raise PifioError(f"--patches {patches}: not a directory of *.patch / *.diff files")
        out = sorted(x for x in d.iterdir() if x.suffix in (".patch", ".diff", ".mbox", ".eml"))
        if not out:
            raise PifioError(f"--patches {patches}: no *.patch, *.diff or *.mbox files in it")
        return out
    return []


# ---------------------------------------------------- scratch worktree ---

def scratch_for(tree: Path) -> Path:
    h = hashlib.sha256(str(tree).encode()).hexdigest()[:12]
    return SCRATCH / f"{tree.name}-{h}"


def scratch_lock(tree: Path):
    s = scratch_for(tree)
    return kb.tree_lock(s.parent / (s.name + ".lock"))


def ensure_scratch(tree: Path, commit: str) -> Path:
    """The scratch worktree of `tree`, checked out (detached) at `commit`."""
    s = scratch_for(tree)
    ok = (s / ".git").exists() and _git(s, "rev-parse", "--git-dir").returncode == 0 \
        and Path(_git(s, "rev-parse", "--path-format=absolute", "--git-common-dir").stdout.strip()).resolve() \
        == Path(_git(tree, "rev-parse", "--path-format=absolute", "--git-common-dir").stdout.strip()).resolve()
    if not ok:
        if s.exists():
            log(f"kernel tree: {s} is stale; recreating the scratch worktree")
            shutil.rmtree(s)
        _git(tree, "worktree", "prune")
        s.parent.mkdir(parents=True, exist_ok=True)
        log(f"kernel tree: scratch worktree {s} of {tree} (git worktree add --detach; the first checkout "
            "writes every file, ~1 min)")
        _git(tree, "worktree", "add", "-q", "--detach", str(s), commit, check=True)
    _reset(s)
    _git(s, "checkout", "-q", "-f", "--detach", commit, check=True)
    return s


def _reset(s: Path) -> None:
    _git(s, "am", "--abort")
    _git(s, "bisect", "reset")
    _git(s, "reset", "-q", "--hard")
    # O= builds leave nothing in the source; this removes a stray in-tree
    # build's .config/include/config, which would make kbuild refuse O=.
    _git(s, "clean", "-q", "-f", "-d", "-x")


def _is_mail(p: Path) -> bool:
    head = p.read_text(errors="replace")[:4000]
    return head.startswith("From ") or bool(re.search(r"^Subject:", head, re.M))


def apply_patches(s: Path, files: list[Path]) -> list[dict]:
    """Apply mbox/patch files in the scratch worktree as commits; clear error
    naming the file (and the mbox message) that does not apply."""
    applied = []
    for f in files:
        if _is_mail(f):
            before = _git(s, "rev-parse", "HEAD").stdout.strip()
            r = _git(s, "am", "-q", "--keep-cr", "-3", str(f))
            if r.returncode:
                out = r.stdout + r.stderr
                m = re.search(r"Patch failed at (\d+) (.*)", out)
                _git(s, "am", "--abort")
                which = f"message {int(m.group(1))} ({m.group(2).strip()!r}) of " if m else ""
                raise PifioError(f"patch does not apply: {which}{f}\n"
                                 + "\n".join(x for x in out.splitlines() if x.strip())[-1200:])
            subj = _git(s, "log", "--reverse", "--format=%s", f"{before}..HEAD").stdout.splitlines()
            applied.append({"file": str(f), "kind": "git am", "commits": len(subj), "subjects": subj})
        else:
            r = _git(s, "apply", "--index", str(f))
            if r.returncode:
                raise PifioError(f"patch does not apply: {f}\n{(r.stdout + r.stderr)[-1200:]}")
            _git(s, "commit", "-q", "-m", f"pifio: {f.name}", check=True)
            applied.append({"file": str(f), "kind": "git apply", "commits": 1, "subjects": [f"pifio: {f.name}"]})
    return applied


# -------------------------------------------------------------- build ----

def tree_key(tree_object: str) -> str:
    """The finished-kernel key of a source tree object (= build.build_tree's for a clean checkout)."""
    return hash_strings("tree", tree_object, kb.config_hash(), "")


def describe(spec: dict) -> str:
    s = f"{spec['commit'][:12]} {spec['subject']!r}"
    if spec.get("patches"):
        s += " + " + ", ".join(f"{Path(p['file']).name} ("
                               + "; ".join(repr(x) for x in p.get("subjects", [])[:3])
                               + (f"; +{len(p['subjects']) - 3} more" if len(p.get("subjects", [])) > 3 else "")
                               + ")" for p in spec["patches"])
    return s


def build(tree: str | Path, rev: str = "HEAD", mbox: str | None = None, patches: str | None = None,
          force: bool = False) -> tuple[Path, dict]:
    """Build (or find) the lab kernel of `rev` (+ patches) of the user's tree.
    Returns (kernel dir, spec) where spec names the commit, subject, patches,
    version and the source tree object."""
    t = open_tree(tree)
    commit = resolve_rev(t, rev)
    major, minor, vtext = kernel_version(t, commit)
    files = patch_files(mbox, patches)
    spec = {"tree": str(t), "rev": rev, "commit": commit, "subject": subject(t, commit), "version": vtext,
            "patches": []}
    if not files:   # cache check without touching the scratch worktree
        tobj = _git(t, "rev-parse", f"{commit}^{{tree}}", check=True).stdout.strip()
        out = kb.KBUILD / f"tree-{tree_key(tobj)[:16]}"
        if not force and (out / "bzImage").exists() and (out / "meta.json").exists():
            log(f"kernel {commit[:12]}: cached {out / 'bzImage'} (source tree {tobj[:12]})")
            return out, dict(spec, tree_object=tobj, key=tree_key(tobj))
    with scratch_lock(t):
        prog = kb.StageLog(f"tree {commit[:12]}")
        prog.stage_to(f"checkout {commit[:12]} ({vtext}) in the scratch worktree")
        s = ensure_scratch(t, commit)
        try:
            if files:
                prog.stage_to(f"applying {len(files)} patch file(s)")
                spec["patches"] = apply_patches(s, files)
            head = _git(s, "rev-parse", "HEAD").stdout.strip()
            tobj = _git(s, "rev-parse", "HEAD^{tree}").stdout.strip()
            key = tree_key(tobj)
            out = kb.KBUILD / f"tree-{key[:16]}"
            spec.update(tree_object=tobj, key=key, built_head=head)
            if not force and (out / "bzImage").exists() and (out / "meta.json").exists():
                log(f"kernel {commit[:12]}: cached {out / 'bzImage'} (source tree {tobj[:12]})")
                return out, spec
            label = f"{t.name}@{commit[:12]}" + (f"+{len(files)} patch file(s)" if files else "")
            meta = {"base": f"tree {t}", "source": f"git {commit} ({vtext})",
                    "series": [f"commit:{commit[:12]}"] + [f"patch:{Path(p['file']).name}" for p in spec["patches"]],
                    "patches": [p["file"] for p in spec["patches"]], "key": key, "head": head,
                    "commit": commit, "subject": spec["subject"], "tree": str(t), "tree_object": tobj,
                    "version": vtext, "scratch": str(s)}
            return kb.compile_tree(s, kb.obj_dir_for(s), out, meta, label), spec
        except BaseException:
            _git(s, "am", "--abort")
            raise
