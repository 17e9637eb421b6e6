"""Patched and plain lab kernels built from Debian's linux-source (the
commands: lab.commands.kernel; A/B and bisect: lab.ab).

Layout (CACHE = ~/.cache/pifio):
  kernel-src/<debver>/        Debian's linux-source unpacked, made a git repo:
                              tag `pristine` = the tarball, branch `base`.
                              The one source tree every lab build of that
                              base uses; series are applied in it with
                              `git am` and undone with `git checkout`.
  kernel-src/<debver>.lock    flock held while the tree is changed or built.
  kbuild/obj/<debver>-<cfg12>/  the out-of-tree (O=) object dir for that
                              tree and config: the full build happens once,
                              every later build (base or any series) is
                              incremental (~10 s for a block/ change).
  kbuild/<key16>/             one finished kernel: bzImage, meta.json,
                              kernel.json (what lab.kernels.resolve reads),
                              config, build.log. key = sha256(debver,
                              config fragment, series patches).

Why one tree + git rather than a tree per series (cp -al/reflink): kbuild
decides what to rebuild by mtimes; `git checkout` rewrites only the files
that differ, so switching base -> series -> base recompiles exactly the
touched files, in one object dir that already holds the full build. A copy
per series would need its own object dir (another 6-10 min full build) or
an object dir shared between trees whose .cmd files name the other tree.
The same property makes `git bisect` in that tree cheap (see build_tree()).

Everything the lab needs is built in (CONFIG_MODULES off), so a kernel
here is a bzImage and no modules directory.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from shared.runschema import timestamp, utc_now

from ..core.apt import fetch_deb
from ..core.env import CACHE, ROOT, PifioError, hash_strings, log, run, sha256_file, write_json
from .series import FRAGMENT, SOURCES, series_patches

SRC = CACHE / "kernel-src"
KBUILD = CACHE / "kbuild"
JOBS = int(os.environ.get("PIFIO_KERNEL_JOBS", "2"))
GIT_ID = ["-c", "user.name=pifio", "-c", "user.email=pifio@localhost",
          "-c", "advice.detachedHead=false", "-c", "core.autocrlf=false"]


# ------------------------------------------------------------ sources ----

def bases() -> dict:
    return json.loads(SOURCES.read_text())


def base_info(base: str) -> dict:
    b = bases()
    if base not in b:
        raise PifioError(f"unknown kernel base {base!r}; known: {', '.join(b)} (kernel-patches/sources.json)")
    return dict(b[base], base=base)


def git(tree: Path, *args, capture=True, check=True, quiet=True):
    return run(["git", *GIT_ID, *args], cwd=tree, capture=capture, check=check, quiet=quiet)


@contextmanager
def tree_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for {path} (another kernel build is using the tree)")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def source_tree(base: str) -> Path:
    """The cached git tree of Debian's linux-source for `base` (unpacked once)."""
    info = base_info(base)
    tree = SRC / info["version"]
    if (tree / ".git").exists() and git(tree, "rev-parse", "-q", "--verify", "pristine^{commit}",
                                          check=False).returncode == 0:
        return tree
    with tree_lock(SRC / f"{info['version']}.lock"):
        if (tree / ".git").exists() and git(tree, "rev-parse", "-q", "--verify", "pristine^{commit}",
                                              check=False).returncode == 0:
            return tree
        t0 = time.monotonic()
        deb = fetch_deb(info["package"], info["version"], info["deb_sha256"])
        tmp = SRC / f".{info['version']}.unpack"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        log(f"unpacking {deb.name} (~1 min)")
        p1 = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
        r = subprocess.run(["tar", "-x", "-C", str(tmp), "./" + info["tarball"]], stdin=p1.stdout)
        p1.wait()
        if r.returncode or p1.returncode:
            raise PifioError(f"could not extract {info['tarball']} from {deb}")
        run(["tar", "-xf", tmp / info["tarball"], "-C", tmp], quiet=True)
        shutil.rmtree(tree, ignore_errors=True)
        (tmp / info["topdir"]).rename(tree)
        shutil.rmtree(tmp)
        log(f"making {tree} a git repository (tag pristine; ~1 min)")
        git(tree, "init", "-q", "-b", "base", ".")
        # -f: Debian's .gitignore ignores everything at the top level.
        git(tree, "add", "-f", "-A", ".")
        git(tree, "commit", "-q", "-m", f"Debian {info['package']} {info['version']} (pristine)")
        git(tree, "tag", "pristine")
        log(f"source ready in {time.monotonic() - t0:.0f} s: {tree}")
    return tree


def config_hash() -> str:
    return sha256_file(FRAGMENT)


def build_key(version: str, series: list[str]) -> str:
    parts = [version, config_hash()]
    for s in series:
        parts += [s] + [sha256_file(p) for p in series_patches(s)]
    return hash_strings(*parts)


def obj_dir_for(tree: Path, version: str | None = None) -> Path:
    cfg = config_hash()[:12]
    if version:
        return KBUILD / "obj" / f"{version}-{cfg}"
    return KBUILD / "obj" / f"tree-{hashlib.sha256(str(tree.resolve()).encode()).hexdigest()[:12]}-{cfg}"


# -------------------------------------------------------------- build ----

class StageLog:
    """One status line per stage change or every `every` seconds: stage + elapsed."""

    def __init__(self, label: str, every: float = 20.0):
        self.label, self.every, self.t0 = label, every, time.monotonic()
        self.last = 0.0
        self.stage = ""

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def stage_to(self, stage: str) -> None:
        self.stage = stage
        self.last = time.monotonic()
        log(f"kernel {self.label}: {stage} ({self.elapsed():.0f} s)")

    def line(self, text: str) -> None:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            log(f"kernel {self.label}: {self.stage}: {text.strip()[:90]} ({self.elapsed():.0f} s)")


def log_tail(path: Path, n: int = 25) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def _make(tree: Path, obj: Path, args: list[str], logf, prog: StageLog | None = None) -> int:
    cmd = ["make", "-C", str(tree), f"O={obj}", *args]
    logf.write(("$ " + " ".join(cmd) + "\n").encode())
    logf.flush()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for raw in p.stdout:
        logf.write(raw)
        if prog:
            prog.line(raw.decode(errors="replace"))
    return p.wait()


def configure(tree: Path, obj: Path, logf, prog: StageLog) -> list[str]:
    """tinyconfig + lab.config -> obj/.config; redone only when the fragment changed.
    Returns the fragment lines that did not survive (dependencies not met)."""
    stamp = obj / ".pifio-config"
    want = config_hash()
    obj.mkdir(parents=True, exist_ok=True)
    if stamp.exists() and stamp.read_text() == want and (obj / ".config").exists():
        return fragment_mismatches(obj / ".config")   # still reported on incremental builds
    prog.stage_to("configure (tinyconfig + kernel-patches/config/lab.config)")
    if _make(tree, obj, ["tinyconfig"], logf):
        logf.flush()
        raise PifioError(f"make tinyconfig failed; log: {logf.name}\n{log_tail(Path(logf.name))}")
    r = subprocess.run([str(tree / "scripts/kconfig/merge_config.sh"), "-m", "-O", str(obj),
                        str(obj / ".config"), str(FRAGMENT)], stdout=logf, stderr=subprocess.STDOUT, cwd=tree)
    if r.returncode:
        logf.flush()
        raise PifioError(f"merge_config.sh failed; log: {logf.name}\n{log_tail(Path(logf.name))}")
    if _make(tree, obj, ["olddefconfig"], logf):
        logf.flush()
        raise PifioError(f"make olddefconfig failed; log: {logf.name}\n{log_tail(Path(logf.name))}")
    stamp.write_text(want)
    return fragment_mismatches(obj / ".config")


def fragment_mismatches(config: Path) -> list[str]:
    have = {}
    for line in config.read_text().splitlines():
        m = re.match(r"(CONFIG_\w+)=(.*)", line) or re.match(r"# (CONFIG_\w+) is not set", line)
        if m:
            have[m.group(1)] = m.group(2) if m.lastindex == 2 else "n"
    bad = []
    for line in FRAGMENT.read_text().splitlines():
        m = re.match(r"(CONFIG_\w+)=(.*)", line) or re.match(r"# (CONFIG_\w+) is not set", line)
        if not m:
            continue
        want = m.group(2) if m.lastindex == 2 else "n"
        got = have.get(m.group(1), "n")
        if got != want:
            bad.append(f"{m.group(1)}: want {want}, got {got}")
    return bad


def compile_tree(tree: Path, obj: Path, out: Path, meta: dict, label: str) -> Path:
    """Configure (if needed) and build bzImage of `tree` into `obj`, publish to `out`."""
    out.mkdir(parents=True, exist_ok=True)
    prog = StageLog(label)
    full = not (obj / "vmlinux").exists()
    with open(out / "build.log", "wb") as logf:
        mism = configure(tree, obj, logf, prog)
        if mism:
            log(f"kernel {label}: config fragment lines not honoured: {'; '.join(mism)}")
        prog.stage_to(("full build" if full else "incremental build") + f" of bzImage (-j{JOBS})")
        t0 = time.monotonic()
        if _make(tree, obj, [f"-j{JOBS}", "bzImage"], logf, prog):
            logf.flush()
            tail = log_tail(out / "build.log")
            raise PifioError(f"kernel build failed ({label}); log: {out / 'build.log'}\n{tail}")
        secs = time.monotonic() - t0
    rel = run(["make", "-s", "-C", tree, f"O={obj}", "kernelrelease"], capture=True, quiet=True).stdout.strip()
    rel = rel.splitlines()[-1] if rel else "unknown"
    shutil.copy2(obj / "arch/x86/boot/bzImage", out / "bzImage.tmp")
    shutil.copy2(obj / ".config", out / "config")
    meta = dict(meta, release=rel, build_seconds=round(secs, 1), full_build=full,
                built_at=timestamp(utc_now()), config_sha256=config_hash(),
                config_mismatches=mism, modules=False, jobs=JOBS)
    write_json(out / "meta.json", meta)
    # what lab.kernels.resolve(<dir>) reads
    write_json(out / "kernel.json", {"release": rel, "patches": meta.get("patches", []),
                                     "series": meta.get("series", []), "base": meta.get("base"),
                                     "source": meta.get("source"), "key": meta.get("key"),
                                     "config_sha256": config_hash(), "flavour": "pifio-lab"})
    (out / "bzImage.tmp").replace(out / "bzImage")
    prog.stage_to(f"done: {out / 'bzImage'} ({rel}, {'full' if full else 'incremental'} build {secs:.0f} s)")
    return out


def build(base: str = "7.3", series: list[str] | str | None = None, force: bool = False) -> Path:
    """Build (or find in the cache) the lab kernel for base + series. Returns the kernel dir."""
    if isinstance(series, str):
        series = [s for s in series.split(",") if s]
    series = list(series or [])
    info = base_info(base)
    key = build_key(info["version"], series)
    out = KBUILD / key[:16]
    label = base + "".join(f"+{s}" for s in series)
    if not force and (out / "bzImage").exists() and (out / "meta.json").exists():
        log(f"kernel {label}: cached {out / 'bzImage'}")
        return out
    tree = source_tree(base)
    obj = obj_dir_for(tree, info["version"])
    patches = [p for s in series for p in series_patches(s)]
    with tree_lock(SRC / f"{info['version']}.lock"):
        _reset_tree(tree)
        try:
            for p in patches:
                r = git(tree, "am", "-q", "--keep-cr", str(p), check=False)
                if r.returncode:
                    git(tree, "am", "--abort", check=False)
                    raise PifioError(f"patch {p.relative_to(ROOT)} does not apply to {base} "
                                     f"({info['version']}):\n{(r.stdout or '')[-1500:]}{(r.stderr or '')[-1500:]}")
            meta = {"base": base, "source": f"{info['package']} {info['version']}", "series": series,
                    "patches": [str(p.relative_to(ROOT)) for p in patches],
                    "patch_sha256": {p.name: sha256_file(p) for p in patches}, "key": key,
                    "head": git(tree, "rev-parse", "HEAD").stdout.strip()}
            return compile_tree(tree, obj, out, meta, label)
        finally:
            _reset_tree(tree)


def _reset_tree(tree: Path) -> None:
    """Back to the pristine source (only files that differ are rewritten)."""
    git(tree, "am", "--abort", check=False)
    git(tree, "checkout", "-q", "-f", "-B", "pifio-work", "pristine")


def gitify(base: str, series: list[str], branch: str | None = None) -> tuple[Path, str]:
    """A branch in the cached source tree: pristine + the series' commits, checked out.
    Building in that tree with `./pifio bisect` reuses the base object dir."""
    tree = source_tree(base)
    branch = branch or "pifio/" + "+".join(series or ["base"])
    with tree_lock(SRC / f"{base_info(base)['version']}.lock"):
        git(tree, "am", "--abort", check=False)
        git(tree, "checkout", "-q", "-f", "-B", branch, "pristine")
        for s in series:
            for p in series_patches(s):
                r = git(tree, "am", "-q", "--keep-cr", str(p), check=False)
                if r.returncode:
                    git(tree, "am", "--abort", check=False)
                    raise PifioError(f"{p} does not apply on {branch}: {(r.stdout or '')[-800:]}")
    return tree, branch


def build_tree(tree: Path, lock: bool = True) -> Path:
    """Build whatever is checked out in `tree` (a git tree) with lab.config.

    The object dir is per tree, so successive bisect steps are incremental;
    when the tree is pifio's cached Debian source (made by `kernel gitify`),
    the object dir of the base build is reused and the first step is
    incremental too. Cached by the git tree hash (+ uncommitted diff)."""
    head = run(["git", "rev-parse", "HEAD^{tree}"], cwd=tree, capture=True, quiet=True,
               check=False).stdout.strip()
    if not head:
        raise PifioError(f"{tree}: not a git tree")
    diff = run(["git", "diff", "HEAD"], cwd=tree, capture=True, quiet=True).stdout
    commit = run(["git", "rev-parse", "HEAD"], cwd=tree, capture=True, quiet=True).stdout.strip()
    key = hash_strings("tree", head, config_hash(), diff)
    out = KBUILD / f"tree-{key[:16]}"
    if (out / "bzImage").exists() and (out / "meta.json").exists():
        log(f"bisect: cached build for tree {head[:12]}: {out}")
        return out
    version = None
    for base, info in bases().items():
        if tree == (SRC / info["version"]).resolve():
            version = info["version"]
    obj = obj_dir_for(tree, version)
    subject = run(["git", "log", "-1", "--format=%s"], cwd=tree, capture=True, quiet=True).stdout.strip()
    meta = {"base": f"tree {tree}", "source": f"git {commit}", "series": [f"commit:{commit[:12]}"],
            "patches": [], "key": key, "head": commit, "subject": subject}
    if not lock:   # the caller holds the tree's lock (lab.ab.bisect.drive)
        return compile_tree(tree, obj, out, meta, f"bisect {commit[:12]}")
    lockf = (SRC / f"{version}.lock") if version else (KBUILD / "obj" / (obj.name + ".lock"))
    with tree_lock(lockf):
        return compile_tree(tree, obj, out, meta, f"bisect {commit[:12]}")
