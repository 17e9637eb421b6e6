#!/usr/bin/python3
"""`./pifio run` end to end with our engine and fio's built-in one.

A short run (two formats: separate metadata and extended LBA; both engines;
the default jobs at --size 2M, --runtime 2) into a temp results root, then:
every job exits 0, every pifio job left a pi_report that analysis.meta reads
as zero PI errors, the summary table has a row per format x engine x job
with IOPS, and analysis.store ingests the run directory (one sample per job,
one PI report per pifio job, no bad files).

Exit 0 pass, 1 fail, 77 skip (no QEMU / kernel / engine here).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SKIP = 77
SPECS = ["4096+8/t1", "512+8/t1/ext"]
JOBS = ["write", "read-verify", "randread-qd1", "randread-qd32"]


def group_row(text: str, short: str, job: str) -> list[str] | None:
    """The columns of `job`'s row in the summary group whose header ends with '| none | <short>'."""
    inside = False
    for ln in text.splitlines():
        if " | " in ln and not ln.startswith(" "):
            inside = ln.rstrip().endswith(f"| none | {short}")
            continue
        cols = ln.split()
        if inside and cols and cols[0] == job:
            return cols
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernel", default="7.3")
    args = ap.parse_args()
    try:
        from analysis.meta import parse_pi_report
        from analysis.store import Store
        from lab import guest
        from lab.commands import run
        from lab.core.env import BUILD
    except Exception as e:  # noqa: BLE001
        print(f"SKIP: lab/analysis not importable: {e}")
        return SKIP
    if not guest.qemu_available():
        print("SKIP: QEMU not installed (./pifio setup)")
        return SKIP
    if not (BUILD / "lib" / "libpifio.so").exists():
        print(f"SKIP: {BUILD}/lib/libpifio.so missing (./pifio build): ./pifio run packs build/")
        return SKIP
    tmp = tempfile.TemporaryDirectory(prefix="pifio-run-")
    root = Path(tmp.name)
    argv = ["--no-build", "--kernel", args.kernel, "--stack", "none", "--no-pi-cost", "--size", "2M", "--runtime", "2",
            "--ns-size", "64M", "--results", str(root), "--run-id", "t"]
    for s in SPECS:
        argv += ["--ns", s]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            rc = run.main(argv)
    except Exception as e:  # noqa: BLE001 - kernel not fetched etc.
        print(f"SKIP: ./pifio run {' '.join(argv)}: {e}")
        return SKIP
    text = out.getvalue()
    fails = []
    if not text.lstrip().startswith("PASS:"):
        fails.append(f"summary does not open with the PASS verdict: {text.lstrip()[:120]!r}")
    if rc != 0:
        fails.append(f"./pifio run exit {rc}")
    rdir = root / "t"
    nsamples = npi = 0
    for spec in SPECS:
        from lab.model.formats import parse
        slug = parse(spec).slug()
        short = parse(spec).short()
        for eng in ("pifio", "builtin"):
            sdir = rdir / f"{slug}.none.{eng}"
            for j in JOBS:
                rcf = sdir / f"{j}.rc"
                got = rcf.read_text().strip() if rcf.exists() else "missing"
                if got != "0":
                    log = (sdir / f"{j}.log").read_text(errors="replace")[-300:] if (sdir / f"{j}.log").exists() else ""
                    fails.append(f"{sdir.name}/{j}: rc {got} {log}")
                nsamples += 1
                # The verdict summary groups jobs by kernel | stack | format, pifio's and
                # fio's built-in IOPS side by side: job, dir, pifio IOPS, built-in IOPS, ...
                cols = group_row(text, short, j)
                col = 2 if eng == "pifio" else 3
                if cols is None or len(cols) < 5 or not cols[col].isdigit():
                    fails.append(f"summary: no {eng} IOPS for {short} {j}: {cols}")
                if eng == "pifio":
                    npi += 1
                    try:
                        pr = parse_pi_report(str(sdir / f"{j}.pi.json"))
                        if pr["total"] != 0:
                            fails.append(f"{sdir.name}/{j}.pi.json: {pr['total']} PI errors")
                    except Exception as e:  # noqa: BLE001
                        fails.append(f"{sdir.name}/{j}.pi.json: analysis cannot read it: {e}")
    try:
        st = Store(str(root / "store.sqlite"))
        rep = st.ingest_run_dir(str(rdir))
        if rep.samples != nsamples or rep.pi_reports != npi or rep.bad_files:
            fails.append(f"ingest: {rep.samples} samples (want {nsamples}), {rep.pi_reports} PI reports "
                         f"(want {npi}), bad files {rep.bad_files}")
    except Exception as e:  # noqa: BLE001
        fails.append(f"ingest: {e}")
    print(text[text.find("results:"):] if "results:" in text else text[-2000:])
    print(("FAIL" if fails else "PASS") + f" {args.kernel}: ./pifio run with both engines, {nsamples} jobs")
    for f in fails:
        print(f"  - {f}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
