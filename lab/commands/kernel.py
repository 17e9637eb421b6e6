"""./pifio kernel build|gitify|list|source — argv to lab.kernels.build.

    ./pifio kernel build --base 7.3 [--series S] [--force]
    ./pifio kernel build --tree PATH [--rev R] [--mbox FILE | --patches DIR] [--force]
    ./pifio kernel gitify --base 7.3 --series A,B,... [--branch NAME]
    ./pifio kernel list
    ./pifio kernel source --base 7.3
"""
from __future__ import annotations

import argparse

from ..core.env import PifioError, log, read_json
from ..kernels import build, series, usertree


def main(argv) -> int:
    ap = argparse.ArgumentParser(prog="pifio kernel", description="lab kernels from Debian linux-source")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build (or reuse) base + series")
    b.add_argument("--base", default="7.3")
    b.add_argument("--series", default="", help="comma-separated series folder names")
    b.add_argument("--force", action="store_true", help="rebuild even when cached")
    b.add_argument("--tree", help="your git kernel tree (>= 6.1); built in a scratch worktree under the cache, "
                                  "the tree itself is never modified")
    b.add_argument("--rev", default="HEAD", help="with --tree: the commit to build (default HEAD)")
    b.add_argument("--mbox", help="with --tree: an mbox applied on --rev with git am")
    b.add_argument("--patches", help="with --tree: a folder of *.patch/*.diff applied in name order")
    g = sub.add_parser("gitify", help="branch in the cached source tree with series applied as commits")
    g.add_argument("--base", default="7.3")
    g.add_argument("--series", default="")
    g.add_argument("--branch")
    sub.add_parser("list", help="series and cached builds")
    s = sub.add_parser("source", help="print the cached source tree path (unpacks it once)")
    s.add_argument("--base", default="7.3")
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    try:
        if a.cmd == "build" and a.tree:
            if a.series:
                raise PifioError("--series is for the Debian base; with --tree give --mbox FILE or --patches DIR")
            out, spec = usertree.build(a.tree, a.rev, a.mbox, a.patches, a.force)
            m = read_json(out / "meta.json", {}) or {}
            if m.get("config_mismatches"):
                log(f"kernel build: {len(m['config_mismatches'])} fragment line(s) this kernel does not take: "
                    + "; ".join(m["config_mismatches"]))
            log(f"kernel build: {usertree.describe(spec)} ({spec['version']}) -> {out}")
            print(out / "bzImage")
        elif a.cmd == "build":
            if a.rev != "HEAD" or a.mbox or a.patches:
                raise PifioError("--rev/--mbox/--patches need --tree PATH")
            out = build.build(a.base, a.series, a.force)
            print(out / "bzImage")
        elif a.cmd == "gitify":
            tree, br = build.gitify(a.base, [x for x in a.series.split(",") if x], a.branch)
            print(f"{tree} (branch {br})")
        elif a.cmd == "source":
            print(build.source_tree(a.base))
        elif a.cmd == "list":
            for m in series.list_series():
                flag = "" if m.get("buildable", True) else "  [record, not buildable]"
                print(f"{m['name']:<34} base {m.get('base', '?')}{flag}\n    {m.get('summary', '')}")
            for d in sorted(build.KBUILD.glob("*/meta.json")):
                m = read_json(d)
                print(f"{d.parent.name}  {m.get('base')}+{','.join(m.get('series', [])) or '-'}  "
                      f"{m.get('release')}  build {m.get('build_seconds')} s")
    except PifioError as e:
        log(f"kernel {a.cmd}: {e}")
        return 2 if a.cmd == "build" and a.tree else 1
    return 0
