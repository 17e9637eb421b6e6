"""Python in the guest: Debian's python3.11 and its standard library packed as
an extra initramfs archive, so that fio's own test scripts (t/*.py from the
fio tree in the cache, never copied into this repository) run inside a lab
guest.

    from lab.guest import pyguest
    arch = pyguest.archive()                  # CACHE/initramfs/python-<hash>.cpio
    boot_and_run(..., archives=[arch, pyguest.fio_t_archive()])

The archive holds /usr/bin/python3 (and python3.11), /usr/lib/python3.11
without what a test script never imports (test/, idlelib/, tkinter/,
ensurepip/, config-*, dist-packages/, lib2to3/, pydoc_data/, …; the .pyc files
Debian compiled come along, which matters under TCG), the lib-dynload
extensions whose shared libraries the host has, those libraries, and a
`sudo` that just execs its arguments (fio's scripts run `sudo nvme …`).

fio_t_archive() puts the fio tree's t/*.py at /fio/t/ (fio_root is /fio).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from ..core.env import CACHE, PifioError, log
from .initramfs import IDIR, Cpio, shared_libs

PYTHON = Path("/usr/bin/python3.11")
STDLIB = Path("/usr/lib/python3.11")
GUEST_STDLIB = "/usr/lib/python3.11"

# Top-level stdlib entries left out: tests, GUIs, packaging, the build config
# (25 MiB), Debian's dist-packages, documentation data.
DROP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data",
        "distutils", "dist-packages", "site-packages", "unittest", "sqlite3", "curses", "dbm",
        "venv", "msilib", "xmlrpc", "wsgiref", "turtle.py", "pydoc.py", "EXTERNALLY-MANAGED"}
DROP_PREFIX = ("config-",)
# lib-dynload extensions never needed (and some need libraries the guest lacks).
DROP_DYNLOAD_PREFIX = ("_test", "_tkinter", "_curses", "_dbm", "_gdbm", "_sqlite3", "_ctypes_test", "xxlimited",
                       "readline", "nis", "ossaudiodev", "audioop", "_xxsubinterpreters", "_xxtestfuzz")

SUDO = b'#!/bin/sh\n# The lab guest runs as root: sudo just runs its arguments.\nexec "$@"\n'


def available() -> str | None:
    """None when the host has what the archive needs, else the reason."""
    if not PYTHON.exists() or not (STDLIB / "os.py").exists():
        return f"{PYTHON} and {STDLIB} are needed (Debian package python3.11-minimal / libpython3.11-stdlib)"
    return None


def _stdlib_files() -> list[tuple[str, Path]]:
    """(path relative to the stdlib, host file). A module with a compiled
    __pycache__/X.cpython-311.pyc goes in as a sourceless X.pyc in place of X.py:
    cpio gives every file mtime 0, so the .pyc next to a .py would never match
    its source and python would recompile the stdlib at every start (~10 s
    under TCG)."""
    out = []
    tag = "cpython-311"          # PYTHON is python3.11
    for top in sorted(STDLIB.iterdir()):
        if top.name in DROP or top.name.startswith(DROP_PREFIX):
            continue
        for p in ([top] if top.is_file() else sorted(top.rglob("*"))):
            if not p.is_file() or "__pycache__" in p.parts:
                continue
            rel = p.relative_to(STDLIB)
            if "tests" in rel.parts or "test" in rel.parts:
                continue
            if rel.parts[0] == "lib-dynload" and p.name.startswith(DROP_DYNLOAD_PREFIX):
                continue
            if p.suffix == ".py":
                pyc = p.parent / "__pycache__" / f"{p.stem}.{tag}.pyc"
                if pyc.is_file():
                    out.append((str(rel.with_suffix(".pyc")), pyc))
                    continue
            out.append((str(rel), p))
    return out


def archive() -> Path:
    """The python archive, cached by content (python binary + every file packed)."""
    why = available()
    if why:
        raise PifioError(why)
    files = _stdlib_files()
    libs: dict[str, Path] = {}
    for rel, so in [("", PYTHON)] + [f for f in files if f[1].suffix == ".so"]:
        try:
            for lib in shared_libs(so):
                libs.setdefault(str(lib), lib.resolve())
        except PifioError:
            if so == PYTHON:
                raise
            files.remove((rel, so))   # an extension whose library the host lacks: the scripts do not need it
    h = hashlib.sha256(SUDO)
    for p in [PYTHON, *(f for _, f in files), *libs.values()]:
        st = p.stat()
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    out = IDIR / f"python-{h.hexdigest()[:16]}.cpio"
    if out.exists():
        return out
    c = Cpio()
    c.file("usr/bin/python3.11", PYTHON.read_bytes(), 0o755)
    c.symlink("usr/bin/python3", "python3.11")
    c.file("usr/bin/sudo", SUDO, 0o755)
    for rel, p in files:
        c.file(f"{GUEST_STDLIB}/{rel}", p.read_bytes(), 0o755 if p.suffix == ".so" else 0o644)
    for guest, host in sorted(libs.items()):
        c.file(guest, host.read_bytes(), 0o755)
    c.save(out)
    log(f"initramfs python {out.name}: {len(files)} stdlib files, {out.stat().st_size >> 20} MiB")
    return out


def fio_tree() -> Path:
    """The fio 3.41 tree ./pifio setup built (its t/ scripts are the PI contract)."""
    trees = sorted((CACHE / "fio").glob("3.41-*/t/nvmept_pi.py"))
    if not trees:
        raise PifioError(f"no fio 3.41 tree under {CACHE / 'fio'}; run ./pifio setup")
    return trees[-1].parent.parent


def fio_t_files(tree: Path | None = None) -> dict[str, Path]:
    """{guest path: host path} of the fio tree's t/*.py (at /fio/t/)."""
    t = (tree or fio_tree()) / "t"
    return {f"/fio/t/{p.name}": p for p in sorted(t.glob("*.py"))}


def fio_t_archive(tree: Path | None = None) -> Path:
    files = fio_t_files(tree)
    h = hashlib.sha256()
    for g, p in files.items():
        h.update(g.encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    out = IDIR / f"fio-t-{h.hexdigest()[:16]}.cpio"
    if out.exists():
        return out
    c = Cpio()
    for g, p in files.items():
        c.file(g, p.read_bytes(), 0o755)
    c.save(out)
    return out


# Runs in the guest: one of fio's t/ PI scripts, imported as a module so that
# NUMBER_IOS can be lowered for TCG without editing fio's file, and, for
# io_uring_pi.py (which hard-codes --ioengine=io_uring), another engine put in
# its place. nvmept_pi.py takes the engine as -i.
#   python3 /pifio/fio_suite.py SCRIPT NUMBER_IOS ENGINE [script args...]
SUITE_PY = r'''
import sys
sys.path.insert(0, "/fio/t")
script, number_ios, engine, rest = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
mod = __import__(script)
mod.NUMBER_IOS = number_ios
for test in mod.TEST_LIST:
    if "number_ios" in test["fio_opts"]:
        test["fio_opts"]["number_ios"] = number_ios
if script == "io_uring_pi":
    if engine != "io_uring":
        setup = mod.DifDixTest.setup
        def setup_engine(self, parameters, _setup=setup):
            _setup(self, parameters)
            self.parameters = ["--ioengine=" + engine if p == "--ioengine=io_uring" else p
                               for p in self.parameters]
        mod.DifDixTest.setup = setup_engine
else:
    rest = rest + ["-i", engine]
sys.argv = [script + ".py"] + rest
mod.main()
'''
GUEST_SUITE = "/pifio/fio_suite.py"
