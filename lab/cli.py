"""Subcommand dispatch for ./pifio. Each command is `module:function(argv) -> int`,
imported only when used so a command's dependencies never slow the others."""
import importlib
import sys

COMMANDS = {
    # name: (module:function, one-line help)
    "setup":   ("lab.setup:main",     "install packages, fetch and build fio, kernels (idempotent, cached)"),
    "build":   ("lab.build:main",     "configure and build engine, pitool, tests, benches into build/"),
    "test":    ("lab.build:test",     "the whole test suite (setup + build + ctest)"),
    "bench":   ("lab.build:bench",    "benchmarks (pi core; ring overhead) -> results/bench/"),
    "run":     ("lab.run:main",       "boot the lab and run the default suite (--kernel, --ns, --stack, --matrix)"),
    "fio":     ("lab.build:fio",      "run the matching fio with PIFIO_ENGINE exported"),
    "compare": ("analysis.cli:compare", "A/B comparison of two sets of runs"),
    "report":  ("analysis.cli:report",  "write the static HTML dashboard"),
    "nightly": ("analysis.cli:nightly", "run the matrix N times, append, flag regressions"),
    "kernel":  ("lab.kernel:main",    "kernel builds: ./pifio kernel build --base 7.3 [--series S]"),
    "ab":      ("lab.kernel:ab",      "patched vs unpatched A/B run"),
    "bisect":  ("lab.kernel:bisect",  "git bisect run helper"),
}


def usage(out=sys.stdout):
    print("usage: ./pifio <command> [args]\n\ncommands:", file=out)
    for name, (_, text) in COMMANDS.items():
        print(f"  {name:<8} {text}", file=out)


def main(argv):
    if not argv or argv[0] in ("-h", "--help", "help"):
        usage()
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"pifio: unknown command '{name}'", file=sys.stderr)
        usage(sys.stderr)
        return 2
    target = COMMANDS[name][0]
    mod_name, func_name = target.split(":")
    try:
        mod = importlib.import_module(mod_name)
        func = getattr(mod, func_name)
    except (ImportError, AttributeError) as e:
        print(f"pifio {name}: not yet available in this tree ({e})", file=sys.stderr)
        return 2
    return func(rest) or 0
