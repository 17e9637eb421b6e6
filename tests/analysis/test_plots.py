"""Plots exist, have a sane size and carry data (non-blank pixels)."""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from analysis import compare as cmp  # noqa: E402
from analysis import plots, stats, synth  # noqa: E402
from analysis.store import Store  # noqa: E402


def check_png(path, min_w=300, min_h=200):
    assert os.path.getsize(path) > 5000
    svg = path[:-4] + ".svg"
    assert os.path.isfile(svg) and "<svg" in open(svg).read(2000)
    img = mpimg.imread(path)
    h, w = img.shape[:2]
    assert w >= min_w and h >= min_h
    rgb = img[..., :3]
    nonwhite = np.mean(np.any(rgb < 0.95, axis=-1))
    colored = np.mean((rgb.max(axis=-1) - rgb.min(axis=-1)) > 0.3)   # data series are coloured, axes are grey
    assert nonwhite > 0.02, f"{path}: {nonwhite:.3f} non-white"
    assert colored > 0.005, f"{path}: no coloured data ({colored:.4f})"
    return colored


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    r = str(tmp_path_factory.mktemp("res"))
    synth.make_set(r, "a", 6, ["s1", "s2"], 1.0, 0.02, seed=1)
    synth.make_set(r, "b", 6, ["s1", "s2"], 0.9, 0.02, seed=2, series="x")
    st = Store.for_results(r)
    a = cmp.load_side(st, "a-*", r)
    b = cmp.load_side(st, "b-*", r)
    return cmp.compare(st, a, b)


def test_comparison_plots(comparison, tmp_path):
    paths = plots.comparison_plots(comparison, str(tmp_path))
    assert len(paths) == 5          # 4 scenario/job latency curves + IOPS bars
    for p in paths:
        check_png(p)


def test_blank_plot_fails_the_check(tmp_path):
    # the checker itself must be able to fail: a plot with no data has no coloured pixels
    p = plots.interval_bars({"x": {"A": (0, None, None)}}, str(tmp_path), name="empty")
    with pytest.raises(AssertionError):
        check_png(p)


def test_pi_cost_and_trend(tmp_path):
    p = plots.pi_cost({"6.1": {"no PI": 2500, "kernel PI": 2300, "userspace PI": 2100},
                       "7.3": {"no PI": 11000, "kernel PI": 9000, "userspace PI": 9800}}, str(tmp_path))
    check_png(p)
    pts = [(f"n{i}", 100 - (10 if i >= 5 else 0), 98 - (10 if i >= 5 else 0), 102 - (10 if i >= 5 else 0),
            stats.REGRESSED if i == 5 else "") for i in range(8)]
    check_png(plots.trend("s1: read IOPS", pts, str(tmp_path), "trend", "IOPS"))
