"""./pifio build / test / bench / fio."""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from lab import common
from lab.common import BUILD, ROOT, PifioError, log, run


def configure_and_build(build_dir=BUILD, *, with_kernels=True, build_type="RelWithDebInfo", extra=()) -> None:
    from lab import setup
    setup.setup(with_kernels=with_kernels)
    fio41 = setup.fio_tree("3.41")
    fio33 = setup.fio_tree("3.33")
    cmd = ["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja",
           f"-DCMAKE_BUILD_TYPE={build_type}",
           f"-DPIFIO_FIO_SRC={fio41}", f"-DPIFIO_FIO33_SRC={fio33}", *extra]
    run(cmd, quiet=True)
    run(["cmake", "--build", build_dir, "-j", str(os.cpu_count() or 2)])
    # The fio that matches the engine: same tree, same config-host.h.
    (build_dir / "bin").mkdir(parents=True, exist_ok=True)
    for name, tree in (("fio", fio41), ("fio-3.33", fio33)):
        dst = build_dir / "bin" / name
        src = tree / "fio"
        if not dst.exists() or dst.stat().st_mtime < src.stat().st_mtime:
            shutil.copy2(src, dst)
    common.write_json(build_dir / "versions.json", common.read_json(common.CACHE / "versions.json", {}))


def main(argv) -> int:
    ap = argparse.ArgumentParser(prog="pifio build")
    ap.add_argument("--sanitize", action="store_true", help="ASan+UBSan build in build-sanitize/")
    ap.add_argument("--no-kernels", action="store_true", help="do not fetch lab kernels during set-up")
    args = ap.parse_args(argv)
    try:
        if args.sanitize:
            configure_and_build(ROOT / "build-sanitize", with_kernels=not args.no_kernels,
                                build_type="Debug", extra=["-DPIFIO_SANITIZE=ON"])
        else:
            configure_and_build(with_kernels=not args.no_kernels)
    except PifioError as e:
        log(f"build failed: {e}")
        return 1
    return 0


def test(argv) -> int:
    """setup + build + ctest. Extra args go to ctest (e.g. -L unit, -R crc)."""
    try:
        configure_and_build()
    except PifioError as e:
        log(f"test: build failed: {e}")
        return 1
    jobs = os.environ.get("PIFIO_TEST_JOBS", "1")
    # Tests labelled nightly (e.g. fio's PI matrix over every LBA format) are left
    # out unless asked for: PIFIO_TEST_ALL=1, or an argument naming them (-L nightly).
    nightly = [] if os.environ.get("PIFIO_TEST_ALL") == "1" or any("nightly" in a for a in argv) \
        else ["-LE", "nightly"]
    r = subprocess.run(["ctest", "--test-dir", str(BUILD), "--output-on-failure",
                        "-j", jobs, *nightly, *argv])
    return r.returncode


def bench(argv) -> int:
    ap = argparse.ArgumentParser(prog="pifio bench")
    ap.add_argument("--filter", default="", help="Google Benchmark --benchmark_filter regex")
    ap.add_argument("--repetitions", type=int, default=3)
    args = ap.parse_args(argv)
    try:
        configure_and_build(with_kernels=False, build_type="Release")
    except PifioError as e:
        log(f"bench: build failed: {e}")
        return 1
    out = common.RESULTS / "bench"
    out.mkdir(parents=True, exist_ok=True)
    exe = BUILD / "bin" / "pi_bench"
    if not exe.exists():
        log("bench: build/bin/pi_bench was not built (libbenchmark-dev missing? run ./pifio setup)")
        return 1
    cmd = [exe, f"--benchmark_out={out / 'pi-core.json'}", "--benchmark_out_format=json",
           f"--benchmark_repetitions={args.repetitions}", "--benchmark_report_aggregates_only=true"]
    if args.filter:
        cmd.append(f"--benchmark_filter={args.filter}")
    rc = subprocess.run([str(c) for c in cmd]).returncode
    ring = ROOT / "bench" / "ring_overhead.py"
    if rc == 0 and ring.exists() and not args.filter:
        rc = subprocess.run([sys.executable, str(ring), "--out", str(out / "ring-overhead.json")]).returncode
    return rc


def fio(argv) -> int:
    """Run build/bin/fio with PIFIO_ENGINE exported (job files say ioengine=external:${PIFIO_ENGINE})."""
    exe = BUILD / "bin" / "fio"
    eng = BUILD / "lib" / "libpifio.so"
    if not exe.exists() or not eng.exists():
        try:
            configure_and_build(with_kernels=False)
        except PifioError as e:
            log(f"fio: build failed: {e}")
            return 1
    env = dict(os.environ, PIFIO_ENGINE=str(eng))
    os.execve(str(exe), [str(exe), *argv], env)
