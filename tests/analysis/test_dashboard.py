"""./pifio report writes a self-contained dashboard; headless Chromium renders the comparison table."""
import glob
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from analysis import cli, synth


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    r = str(tmp_path_factory.mktemp("results"))
    synth.make_set(r, "base", 5, ["nvme-pt/randread"], 1.0, 0.02, seed=1)
    synth.make_set(r, "slow", 5, ["nvme-pt/randread"], 0.85, 0.02, seed=2, series="stacked-verify")
    assert cli.compare(["--results", r, "base-*", "slow-*", "--save", "6.12 vs 6.12+stacked-verify"]) == 1
    out = os.path.join(r, "dashboard")
    assert cli.report(["--results", r, "--out", out]) == 0
    return out


def test_pages_and_self_contained(dashboard):
    index = open(os.path.join(dashboard, "index.html")).read()
    assert "<table class='comparison' id='comparison'>" in index
    assert "regressed" in index and "stacked-verify" in index
    pages = os.listdir(dashboard)
    assert len([p for p in pages if p.startswith("run-")]) == 10
    cmp_pages = [p for p in pages if p.startswith("cmp-")]
    assert len(cmp_pages) == 1
    cp = open(os.path.join(dashboard, cmp_pages[0])).read()
    assert cp.count("data:image/png;base64,") >= 2
    for html in [index, cp]:
        # nothing loaded from elsewhere
        assert not re.search(r"""(src|href)=['"](https?:|//|/)""", html)


def _chromium():
    for c in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(c)
        if p:
            return p
    return None


def _run_chromium(args, timeout=120):
    exe = _chromium()
    prof = tempfile.mkdtemp(prefix="pifio-chromium-")
    try:
        return subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                               "--no-first-run", "--disable-background-networking", "--disable-component-update",
                               "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={prof}"] + args,
                              capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(prof, ignore_errors=True)


@pytest.mark.skipif(_chromium() is None, reason="chromium not installed (apt-get install chromium)")
def test_chromium_renders_comparison(dashboard, tmp_path):
    index = "file://" + os.path.join(dashboard, "index.html")
    r = _run_chromium(["--dump-dom", index])
    assert r.returncode == 0, r.stderr[-2000:]
    dom = r.stdout
    assert 'id="comparison"' in dom and "read IOPS" in dom and "regressed" in dom
    shot = str(tmp_path / "shot.png")
    r = _run_chromium([f"--screenshot={shot}", "--window-size=1280,1600", index])
    assert os.path.isfile(shot), r.stderr[-2000:]
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    import numpy as np
    img = mpimg.imread(shot)[..., :3]
    assert img.shape[0] >= 1000 and img.shape[1] >= 1200
    assert np.mean(np.any(img < 0.9, axis=-1)) > 0.01          # text and tables drawn
    red = (img[..., 0] > 0.95) & (img[..., 1] < 0.92) & (img[..., 1] > 0.8) & (img[..., 2] < 0.92)
    assert red.sum() > 500                                       # the regressed rows' background (#fdd)


def test_pi_cost_cpu_reads_cost_scenarios(tmp_path):
    """The dashboard's PI cost bars come from the cost scenarios' cpu.json
    (guest CPU per I/O), pifio engine only, skipped ones left out."""
    import json
    from analysis import dashboard

    run = tmp_path / "r1"
    scen = {"a.none.pifio.nopi": ("nopi", "pifio", [20000, 22000, 21000]),
            "a.none.pifio.kernel": ("kernel", "pifio", [30000, 31000]),
            "a.none.builtin.kernel": ("kernel", "builtin", [90000]),
            "a.none.pifio.uring-pi": ("uring-pi", "pifio", None)}
    meta = {"kernel": {"release": "7.3.4"}, "scenarios": {}}
    for name, (path, eng, ns) in scen.items():
        meta["scenarios"][name] = {"pi_path": path, "engine": eng}
        if ns is None:
            meta["scenarios"][name]["skipped"] = "kernel lacks it"
            continue
        (run / name).mkdir(parents=True)
        (run / name / "cpu.json").write_text(json.dumps({"reps": [{"ns_per_io": v} for v in ns]}))
    rows = [{"kind": "run", "run_key": "r1", "source": str(run), "meta": meta}]
    got = dashboard.pi_cost_cpu(rows)
    assert got == {"7.3.4": {"no PI": 21.0, "kernel PI": 30.5}}
    out = dashboard.plots.pi_cost(got, str(tmp_path), metric="guest CPU us per I/O",
                                  modes=list(dashboard.PI_COST_LABELS.values()))
    assert os.path.getsize(out) > 1000
