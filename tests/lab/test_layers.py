"""The house plan as a test: lab/ is layered, imports go only downward, no
cycles, no function-local imports of project modules; analysis/ never
imports the lab; shared/ imports neither (lab/__init__.py lists the layers).

Static (ast over the sources, nothing is imported); checked on the real tree
and, to show the checks can fail, on small synthetic trees.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Bottom to top. A lab module may import its own package and the packages
# below it. lab.cli is the dispatcher at the very top.
LAB_LAYERS = ["core", "model", "kernels", "toolchain", "guest", "runs", "targets", "ab", "commands", "cli"]
# The lowest lab layer that may import analysis (model and below stay pure and analysis-free).
ANALYSIS_FROM = "runs"
TOP = ("lab", "analysis", "shared")


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under root's project packages."""
    out = {}
    for top in TOP:
        for p in sorted((root / top).rglob("*.py")) if (root / top).is_dir() else []:
            parts = list(p.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = p
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, int, bool]]:
    """(imported project module, line, at module level?) of one file."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    pkg = name if is_pkg else name.rpartition(".")[0]
    found = []

    def resolve(mod: str | None, level: int) -> str:
        if not level:
            return mod or ""
        base = pkg.split(".")
        base = base[: len(base) - (level - 1)]
        return ".".join(base + ([mod] if mod else []))

    def visit(node, top_level: bool):
        for child in ast.iter_child_nodes(node):
            inner = top_level and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for a in child.names:
                    found.append((a.name, child.lineno, top_level))
            elif isinstance(child, ast.ImportFrom):
                base = resolve(child.module, child.level)
                for a in child.names:
                    sub = f"{base}.{a.name}" if base else a.name
                    found.append((sub if sub in known else base, child.lineno, top_level))
            visit(child, inner)

    visit(tree, True)
    out = []
    for mod, line, top in found:
        if mod.split(".")[0] not in TOP:
            continue
        while mod not in known and "." in mod:      # `import a.b.c` of a name inside a module
            mod = mod.rpartition(".")[0]
        out.append((mod, line, top))
    return out


def layer(mod: str) -> str | None:
    parts = mod.split(".")
    if parts[0] != "lab" or len(parts) == 1:
        return None
    return parts[1]


def problems(root: Path) -> list[str]:
    known = modules(root)
    bad, graph = [], {}
    rank = {n: i for i, n in enumerate(LAB_LAYERS)}
    for name, path in known.items():
        graph[name] = set()
        here = name.split(".")[0]
        for mod, line, top in imports(name, path, known):
            where = f"{path.relative_to(root)}:{line}"
            graph[name].add(mod)
            there = mod.split(".")[0]
            if not top and here in ("lab", "shared"):
                bad.append(f"{where}: function-local import of {mod}")
            if here == "shared" and there != "shared":
                bad.append(f"{where}: shared imports {mod} (shared is below lab and analysis)")
            if here == "analysis" and there == "lab":
                bad.append(f"{where}: analysis imports {mod} (the lab is above analysis)")
            if here != "lab":
                continue
            lo, hi = layer(name), layer(mod)
            if lo is None:                      # lab/__init__.py
                if there == "lab" and hi is not None:
                    bad.append(f"{where}: lab/__init__.py imports {mod}")
                continue
            if lo not in rank:
                bad.append(f"{where}: {name} is in no layer (LAB_LAYERS)")
                continue
            if there == "analysis" and rank[lo] < rank[ANALYSIS_FROM]:
                bad.append(f"{where}: lab.{lo} imports {mod} (analysis only from lab.{ANALYSIS_FROM} up)")
            if there == "lab" and hi is not None and hi != lo and (hi not in rank or rank[hi] > rank[lo]):
                bad.append(f"{where}: upward import: lab.{lo} imports {mod}")
    # cycles between modules
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(n: str):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if m == n:
                continue
            if state.get(m) == 1:
                bad.append("import cycle: " + " -> ".join(stack[stack.index(m):] + [m]))
            elif m in graph and not state.get(m):
                dfs(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if not state.get(n):
            dfs(n)
    return bad


def test_the_tree_is_layered():
    assert problems(ROOT) == []


# lab.model is pure: no modules that reach the system, no file reads or writes.
IO_MODULES = {"os", "subprocess", "shutil", "socket", "tempfile", "tarfile", "fcntl", "signal", "threading"}
IO_CALLS = {"open", "read_text", "read_bytes", "write_text", "write_bytes", "mkdir", "unlink", "exists", "glob",
            "iterdir", "run", "Popen"}


def impurities(root: Path, package: str = "lab/model") -> list[str]:
    bad = []
    for p in sorted((root / package).rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text(), str(p))):
            where = f"{p.relative_to(root)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                bad += [f"{where}: imports {a.name}" for a in node.names if a.name.split(".")[0] in IO_MODULES]
            elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] in IO_MODULES:
                bad.append(f"{where}: imports from {node.module}")
            elif isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                if name in IO_CALLS:
                    bad.append(f"{where}: calls {name}()")
    return bad


def test_model_is_pure():
    assert impurities(ROOT) == []


def test_impurity_check_can_fail(tmp_path):
    write(tmp_path, {"lab/model/x.py": "import subprocess\nfrom pathlib import Path\nPath('a').read_text()\n"})
    assert [b.split(": ", 1)[1] for b in impurities(tmp_path)] == ["imports subprocess", "calls read_text()"]


def test_every_lab_package_is_a_layer():
    pkgs = {p.name for p in (ROOT / "lab").iterdir() if (p / "__init__.py").exists()}
    assert pkgs == set(LAB_LAYERS) - {"cli"}, "a new lab package needs its place in LAB_LAYERS"


def write(root: Path, files: dict[str, str]):
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    for top in TOP:
        (root / top).mkdir(exist_ok=True)


BASE = {"lab/__init__.py": "", "lab/core/__init__.py": "", "lab/core/env.py": "X = 1\n",
        "lab/model/__init__.py": "", "lab/model/formats.py": "from ..core.env import X\n",
        "analysis/__init__.py": "", "analysis/fiojson.py": "", "shared/__init__.py": ""}


@pytest.mark.parametrize("extra, want", [
    ({"lab/core/env.py": "from ..model import formats\n"}, "upward import: lab.core imports lab.model.formats"),
    ({"lab/core/env.py": "def f():\n    from . import x\n", "lab/core/x.py": ""}, "function-local import"),
    ({"lab/core/a.py": "from . import b\n", "lab/core/b.py": "from .a import f\n"}, "import cycle: lab.core.a"),
    ({"analysis/fiojson.py": "import lab.core.env\n"}, "analysis imports lab.core.env"),
    ({"shared/x.py": "from analysis import fiojson\n"}, "shared imports analysis.fiojson"),
    ({"lab/model/formats.py": "from analysis import fiojson\n"}, "analysis only from lab.runs up"),
    ({"lab/extra/__init__.py": "from ..core import env\n"}, "lab.extra is in no layer"),
])
def test_the_checks_can_fail(tmp_path, extra, want):
    write(tmp_path, BASE)
    assert problems(tmp_path) == []
    write(tmp_path, extra)
    got = problems(tmp_path)
    assert any(want in g for g in got), got
