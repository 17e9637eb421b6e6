"""./pifio setup — argv to lab.toolchain.setup."""
from __future__ import annotations

import argparse

from ..core.env import CACHE, PifioError, log
from ..toolchain import setup


def main(argv) -> int:
    ap = argparse.ArgumentParser(prog="pifio setup", description=setup.__doc__.splitlines()[0])
    ap.add_argument("--no-kernels", action="store_true", help="skip fetching the lab's kernels")
    args = ap.parse_args(argv)
    try:
        info = setup.setup(with_kernels=not args.no_kernels)
    except PifioError as e:
        log(f"setup failed: {e}")
        return 1
    log(f"setup done; cache {CACHE}; fio trees: "
        + ", ".join(f"{v} -> {d['tree']}" for v, d in info["fio"].items()))
    return 0
