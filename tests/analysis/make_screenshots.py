"""Regenerate analysis/screenshots/*.png: the dashboard of a demo results
directory (two lab-layout runs, one with a ref tag failure; the real lab runs
in tests/analysis/fixtures/labrun-*; a four-night history whose last night
regressed), shot in headless Chromium and reduced to 256 colours.

    /usr/bin/python3 tests/analysis/make_screenshots.py [--keep DIR]
"""
import argparse
import glob
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [ROOT, HERE]

import browser  # noqa: E402
from analysis import cli, synth  # noqa: E402

OUT = os.path.join(ROOT, "analysis", "screenshots")


def build(r: str) -> str:
    synth.lab_run(r, "20260124-221500-7.3", fail_reftag="4096p8-t1.none.pifio", seed=1)
    for d in sorted(glob.glob(os.path.join(HERE, "fixtures", "labrun-*"))):
        shutil.copytree(d, os.path.join(r, os.path.basename(d)))
    synth.nightly_history(r)
    cli.report(["--results", r])
    return os.path.join(r, "dashboard")


def shrink(png: str):
    from PIL import Image
    im = Image.open(png).convert("RGB")
    im = im.resize((im.width * 3 // 4, im.height * 3 // 4), Image.LANCZOS)
    im.quantize(256, method=Image.Quantize.FASTOCTREE).save(png, optimize=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", help="build the demo results here and keep them")
    a = ap.parse_args()
    if browser.chromium() is None:
        print("chromium not installed", file=sys.stderr)
        return 77
    r = a.keep or tempfile.mkdtemp(prefix="pifio-shots-")
    d = build(r)
    pages = sorted(os.listdir(d))
    real = [p for p in pages if p.startswith("run-") and "labrun" in p]
    run_page = real[0] if real else next(p for p in pages if "20260124-221500" in p)
    fail_page = next(p for p in pages if "20260124-221500" in p)
    cmp_page = sorted(p for p in pages if p.startswith("cmp-"))[-1]
    os.makedirs(OUT, exist_ok=True)
    for name, page, h in (("index", "index.html", 1100), ("run", run_page, 1500), ("run-fail", fail_page, 1100),
                          ("comparison", cmp_page, 1300), ("nightly", "nightly.html", 1100)):
        png = os.path.join(OUT, name + ".png")
        browser.screenshot(os.path.join(d, page), png, 1280, h)
        shrink(png)
        print(f"{png}: {os.path.getsize(png) // 1024} KiB from {page}")
    if not a.keep:
        shutil.rmtree(r, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
