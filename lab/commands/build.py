"""./pifio build / test / bench / fio — argv to lab.toolchain.build."""
from __future__ import annotations

import argparse

from ..core.env import ROOT, PifioError, log
from ..toolchain import build


def main(argv) -> int:
    ap = argparse.ArgumentParser(prog="pifio build")
    ap.add_argument("--sanitize", action="store_true", help="ASan+UBSan build in build-sanitize/")
    ap.add_argument("--no-kernels", action="store_true", help="do not fetch lab kernels during set-up")
    args = ap.parse_args(argv)
    try:
        if args.sanitize:
            build.configure_and_build(ROOT / "build-sanitize", with_kernels=not args.no_kernels,
                                      build_type="Debug", extra=["-DPIFIO_SANITIZE=ON"])
        else:
            build.configure_and_build(with_kernels=not args.no_kernels)
    except PifioError as e:
        log(f"build failed: {e}")
        return 1
    return 0


def test(argv) -> int:
    """setup + build + ctest. Extra args go to ctest (e.g. -L unit, -R crc)."""
    try:
        build.configure_and_build()
    except PifioError as e:
        log(f"test: build failed: {e}")
        return 1
    return build.ctest(argv)


def bench(argv) -> int:
    ap = argparse.ArgumentParser(prog="pifio bench")
    ap.add_argument("--filter", default="", help="Google Benchmark --benchmark_filter regex")
    ap.add_argument("--repetitions", type=int, default=3)
    args = ap.parse_args(argv)
    try:
        build.configure_and_build(with_kernels=False, build_type="Release")
    except PifioError as e:
        log(f"bench: build failed: {e}")
        return 1
    try:
        return build.benches(args.filter, args.repetitions)
    except PifioError as e:
        log(f"bench: {e}")
        return 1


def fio(argv) -> int:
    """Run build/bin/fio with PIFIO_ENGINE exported (job files say ioengine=external:${PIFIO_ENGINE})."""
    try:
        build.exec_fio(argv)
    except PifioError as e:
        log(f"fio: build failed: {e}")
        return 1
    return 0
