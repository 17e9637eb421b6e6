"""Subcommand dispatch for ./pifio. Each command is `module:function(argv) -> int`,
imported only when used so a command's dependencies never slow the others."""
import importlib
import sys

COMMANDS = {
    # name: (module:function, one-line help)
    "setup":   ("lab.commands.setup:main",   "install packages, fetch and build fio, kernels (idempotent, cached)"),
    "build":   ("lab.commands.build:main",   "configure and build engine, pitool, tests, benches into build/"),
    "test":    ("lab.commands.build:test",   "the whole test suite (setup + build + ctest)"),
    "bench":   ("lab.commands.build:bench",  "benchmarks (pi core; ring overhead) -> results/bench/"),
    "run":     ("lab.commands.run:main",     "boot the lab and run the default suite (--kernel, --ns, --stack, --matrix)"),
    "fio":     ("lab.commands.build:fio",    "run the matching fio with PIFIO_ENGINE exported"),
    "compare": ("analysis.cli:compare",      "A/B comparison of two sets of runs"),
    "report":  ("analysis.cli:report",       "write the static HTML dashboard"),
    "nightly": ("lab.commands.nightly:main", "run the matrix N times, append, flag regressions"),
    "kernel":  ("lab.commands.kernel:main",  "kernel builds: ./pifio kernel build --base 7.3 [--series S]"),
    "ab":      ("lab.commands.ab:main",      "patched vs unpatched A/B run"),
    "bisect":  ("lab.commands.bisect:main",  "git bisect run helper"),
}


def usage(out=sys.stdout):
    print("usage: ./pifio <command> [args]\n\ncommands:", file=out)
    for name, (_, text) in COMMANDS.items():
        print(f"  {name:<8} {text}", file=out)


def load(target: str):
    """The function named by 'module:function', or None when that module (or
    the function in it) does not exist in this tree. Any other import error
    inside the module propagates with its traceback."""
    mod_name, func_name = target.split(":")
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        if e.name and (mod_name == e.name or mod_name.startswith(e.name + ".")):
            return None
        raise
    return getattr(mod, func_name, None)


def main(argv):
    if not argv or argv[0] in ("-h", "--help", "help"):
        usage()
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"pifio: unknown command '{name}'", file=sys.stderr)
        usage(sys.stderr)
        return 2
    func = load(COMMANDS[name][0])
    if func is None:
        print(f"pifio {name}: not yet available in this tree ({COMMANDS[name][0]} is missing)", file=sys.stderr)
        return 2
    return func(rest) or 0
