"""Statistics with known answers on synthetic data."""
import math

import numpy as np
import pytest

from analysis import stats


def test_harmonic_vs_arithmetic():
    # two runs of 100 and 300 IOPS: the same I/O count takes 1/100 + 1/300 s -> 150 IOPS overall
    assert stats.harmonic_mean([100, 300]) == pytest.approx(150.0)
    assert stats.arithmetic_mean([100, 300]) == pytest.approx(200.0)
    assert stats.harmonic_mean([5, 5, 5]) == pytest.approx(5.0)
    assert stats.harmonic_mean([0, 10]) == 0.0


def test_rates_use_harmonic_times_use_arithmetic():
    v = stats.compare_samples([100, 300], [100, 300], mean="harmonic")
    assert v.mean_a == pytest.approx(150.0)
    v = stats.compare_samples([100, 300], [100, 300], mean="arithmetic")
    assert v.mean_a == pytest.approx(200.0)


def test_mwu_known_values():
    # all of a below all of b, n=5 each: exact two-sided p = 2/252
    u, p, m = stats.mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert (u, m) == (0.0, "exact") and p == pytest.approx(2 / 252)
    u, p, m = stats.mann_whitney_u([1, 2, 3], [1, 2, 3])
    assert m == "normal" and p == pytest.approx(1.0)   # ties -> normal approximation


def test_mwu_matches_scipy():
    ss = pytest.importorskip("scipy.stats", reason="scipy not installed: cross-check skipped")
    rng = np.random.default_rng(7)
    for n1, n2, ties in [(5, 7, False), (10, 10, False), (10, 10, True), (30, 30, False), (26, 3, True)]:
        a, b = rng.normal(0, 1, n1), rng.normal(0.7, 1, n2)
        if ties:
            a, b = np.round(a), np.round(b)
        _, p, m = stats.mann_whitney_u(a, b)
        method = "exact" if m == "exact" else "asymptotic"
        r = ss.mannwhitneyu(a, b, alternative="two-sided", method=method)
        assert p == pytest.approx(r.pvalue, rel=1e-9), (n1, n2, ties)


def test_ten_percent_shift_detected():
    rng = np.random.default_rng(1)
    a = rng.normal(100000, 2000, 10)
    b = rng.normal(90000, 1800, 10)
    v = stats.compare_samples(a, b, "harmonic", higher_is_better=True)
    assert v.verdict == stats.REGRESSED and v.change_pct < -8
    assert v.ci_hi < 0                                   # bootstrap interval excludes 0
    v = stats.compare_samples(b, a, "harmonic", higher_is_better=True)
    assert v.verdict == stats.IMPROVED
    # latency: lower is better
    v = stats.compare_samples(a, b, "arithmetic", higher_is_better=False)
    assert v.verdict == stats.IMPROVED


@pytest.mark.parametrize("cov", [0.02, 0.05])
def test_same_distribution_within_noise_95pct(cov):
    noise = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        a, b = rng.normal(100000, cov * 100000, 10), rng.normal(100000, cov * 100000, 10)
        noise += stats.compare_samples(a, b, "harmonic", bootstrap=False).verdict == stats.NOISE
    assert noise >= 95


def test_alpha_005_false_alarm_rate_is_about_alpha():
    # at alpha 0.05 and CoV 5% (threshold hardly bites) about 5 in 100 come out "changed":
    # the reason the default alpha is 0.01 (many rows per comparison)
    changed = sum(stats.compare_samples(*np.random.default_rng(s).normal(1e5, 5e3, (2, 10)), "harmonic",
                                        alpha=0.05, bootstrap=False).verdict != stats.NOISE for s in range(200))
    assert 2 <= changed <= 20


def test_significant_but_tiny_change_is_noise():
    rng = np.random.default_rng(3)
    a = rng.normal(100000, 100, 20)
    b = a * 0.99                                       # 1%: significant, below the 2% threshold
    v = stats.compare_samples(a, b, "harmonic", threshold_pct=2.0)
    assert v.p_value < 0.05 and v.verdict == stats.NOISE
    assert stats.compare_samples(a, b, "harmonic", threshold_pct=0.5).verdict == stats.REGRESSED


def test_too_few_runs_is_never_significant():
    v = stats.compare_samples([100, 101], [50, 51], "harmonic")
    assert v.verdict == stats.NOISE and "too few" in v.note
    assert stats.min_p_value(4, 4) == pytest.approx(2 / 70)
    assert "too few" in stats.compare_samples([1, 2, 3, 4], [9, 9.5, 9.7, 9.9]).note
    assert stats.compare_samples([1, 2, 3, 4, 5], [9, 9.5, 9.7, 9.9, 10]).verdict == stats.IMPROVED


def test_counts():
    assert stats.compare_counts([0, 0], [0, 1]).verdict == stats.REGRESSED
    assert stats.compare_counts([2, 0], [0, 0]).verdict == stats.IMPROVED
    assert stats.compare_counts([0], [0]).verdict == stats.NOISE


def test_percentiles_from_summed_bins_not_averaged():
    # run 1: 99 fast + 1 slow; run 2: 100 at 50. Summed p99 is 10, averaged-percentile would be 30.
    r1 = [[10, 99], [1000, 1]]
    r2 = [[50, 100]]
    m = stats.merge_bins([r1, r2])
    assert m == [[10, 99], [50, 100], [1000, 1]]
    assert stats.percentile_from_bins(m, 50) == 50
    assert stats.percentile_from_bins(m, 99) == 50
    assert stats.percentile_from_bins(m, 99.9) == 1000
    assert stats.percentile_from_bins(r1, 99) == 10
    assert stats.percentile_from_bins(r1, 99.5) == 1000


def test_bootstrap_interval_covers():
    rng = np.random.default_rng(5)
    x = rng.normal(100, 5, 30)
    lo, hi = stats.bootstrap_mean_ci(x)
    assert lo < x.mean() < hi and hi - lo < 10
    assert math.isnan(stats.bootstrap_mean_ci([1.0])[0])
