"""Statistics for A/B comparisons (numpy only; no scipy).

- Means: harmonic for rates (IOPS, BW), arithmetic for times (DESIGN §7).
- Mann-Whitney U, two-sided: exact distribution when there are no ties and
  both samples are small, otherwise the normal approximation with tie and
  continuity correction (the same choices scipy.stats.mannwhitneyu makes).
- Bootstrap percentile interval of the ratio of the two means.
- Percentiles from fio's latency histogram bins, the way fio computes them.
- A verdict: a change counts only when it is significant AND at least the
  minimum effect; otherwise it is "within noise".
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

IMPROVED = "improved"
REGRESSED = "regressed"
NOISE = "within noise"
NOT_COMPARABLE = "not comparable"

EXACT_MAX_N = 25   # exact U distribution when both n <= this and no ties


def harmonic_mean(x) -> float:
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        return math.nan
    if np.any(x < 0):
        raise ValueError("harmonic mean of negative rates")
    if np.any(x == 0):
        return 0.0
    return float(x.size / np.sum(1.0 / x))


def arithmetic_mean(x) -> float:
    x = np.asarray(x, dtype=float)
    return float(np.mean(x)) if x.size else math.nan


MEANS = {"harmonic": harmonic_mean, "arithmetic": arithmetic_mean}


def _rank(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average ranks (1-based) and the sizes of tie groups."""
    order = np.argsort(values, kind="mergesort")
    sv = values[order]
    n = sv.size
    ranks = np.empty(n, dtype=float)
    # boundaries of equal runs
    change = np.concatenate(([True], sv[1:] != sv[:-1], [True]))
    idx = np.flatnonzero(change)
    ties = np.diff(idx)
    for start, cnt in zip(idx[:-1], ties):
        ranks[order[start:start + cnt]] = start + (cnt + 1) / 2.0
    return ranks, ties


@lru_cache(maxsize=256)
def _u_counts(n1: int, n2: int) -> tuple:
    """Number of arrangements giving each U = 0..n1*n2 (no ties)."""
    # f[m][n] as arrays; recurrence f(u; m, n) = f(u - n; m - 1, n) + f(u; m, n - 1)
    prev_row = [np.ones(1, dtype=float) for _ in range(n2 + 1)]   # m = 0: U = 0 only
    for m in range(1, n1 + 1):
        row = [np.ones(1, dtype=float)]                           # n = 0
        for n in range(1, n2 + 1):
            size = m * n + 1
            a = np.zeros(size)
            left = prev_row[n]            # (m-1, n), shifted by n
            a[n:n + left.size] += left
            up = row[n - 1]               # (m, n-1)
            a[:up.size] += up
            row.append(a)
        prev_row = row
    return tuple(prev_row[n2])


def mann_whitney_u(a, b) -> tuple[float, float, str]:
    """Two-sided Mann-Whitney U test. Returns (U of a, p-value, method)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    n1, n2 = a.size, b.size
    if n1 == 0 or n2 == 0:
        return math.nan, 1.0, "none"
    ranks, ties = _rank(np.concatenate((a, b)))
    r1 = ranks[:n1].sum()
    u1 = r1 - n1 * (n1 + 1) / 2.0
    has_ties = bool(np.any(ties > 1))
    if not has_ties and n1 <= EXACT_MAX_N and n2 <= EXACT_MAX_N:
        counts = np.asarray(_u_counts(n1, n2))
        total = counts.sum()
        u = int(round(u1))
        p_le = counts[:u + 1].sum() / total
        p_ge = counts[u:].sum() / total
        return float(u1), float(min(1.0, 2.0 * min(p_le, p_ge))), "exact"
    n = n1 + n2
    mu = n1 * n2 / 2.0
    tie_term = float(np.sum(ties.astype(float) ** 3 - ties)) / (n * (n - 1)) if n > 1 else 0.0
    var = n1 * n2 / 12.0 * ((n + 1) - tie_term)
    if var <= 0:
        return float(u1), 1.0, "normal"
    z = (abs(u1 - mu) - 0.5) / math.sqrt(var)
    z = max(z, 0.0)
    p = math.erfc(z / math.sqrt(2.0))
    return float(u1), float(min(1.0, p)), "normal"


def min_p_value(n1: int, n2: int) -> float:
    """Smallest two-sided p any data can give (complete separation, no ties)."""
    if n1 == 0 or n2 == 0:
        return 1.0
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


def bootstrap_ratio_ci(a, b, mean="arithmetic", level=0.95, resamples=1000, seed=0):
    """Percentile bootstrap interval of mean(b) / mean(a). (lo, hi) or (nan, nan)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size < 2 or b.size < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    ra = a[rng.integers(0, a.size, (resamples, a.size))]
    rb = b[rng.integers(0, b.size, (resamples, b.size))]
    ma = _rowmeans(ra, mean)
    mb = _rowmeans(rb, mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = mb / ma
    ratio = ratio[np.isfinite(ratio)]
    if ratio.size == 0:
        return math.nan, math.nan
    lo, hi = np.quantile(ratio, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def bootstrap_mean_ci(x, mean="arithmetic", level=0.95, resamples=2000, seed=0):
    """Percentile bootstrap interval of the mean of x (for whiskers)."""
    x = np.asarray(x, dtype=float)
    if x.size < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    m = _rowmeans(x[rng.integers(0, x.size, (resamples, x.size))], mean)
    lo, hi = np.quantile(m, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def _rowmeans(m: np.ndarray, mean: str) -> np.ndarray:
    if mean == "harmonic":
        with np.errstate(divide="ignore"):
            inv = np.sum(1.0 / m, axis=1)
        return np.where(np.isfinite(inv), m.shape[1] / inv, 0.0)
    return m.mean(axis=1)


# ---- histogram bins ------------------------------------------------------

def bins_arrays(bins) -> tuple[np.ndarray, np.ndarray]:
    """[[value, count], ...] -> (values, counts) sorted by value."""
    if bins is None or len(bins) == 0:
        return np.zeros(0), np.zeros(0)
    a = np.asarray(bins, dtype=float).reshape(-1, 2)
    order = np.argsort(a[:, 0], kind="mergesort")
    return a[order, 0], a[order, 1]


def merge_bin_arrays(pairs) -> tuple[np.ndarray, np.ndarray]:
    """Sum several (values, counts) histograms."""
    pairs = list(pairs)
    if not pairs:
        return np.zeros(0), np.zeros(0)
    v = np.concatenate([p[0] for p in pairs])
    c = np.concatenate([p[1] for p in pairs])
    uv, inv = np.unique(v, return_inverse=True)
    return uv, np.bincount(inv, weights=c, minlength=uv.size)


def merge_bins(bin_lists) -> list:
    """Sum fio JSON+ bins ([[value_ns, count], ...]) of several runs."""
    v, c = merge_bin_arrays(bins_arrays(b) for b in bin_lists)
    return [[int(x), int(n)] for x, n in zip(v, c)]


def percentiles_from_arrays(vals: np.ndarray, cnts: np.ndarray, ps) -> np.ndarray:
    """fio's rule: the first bucket whose cumulative count reaches p% of all samples."""
    ps = np.asarray(ps, dtype=float)
    total = cnts.sum() if cnts.size else 0.0
    if total <= 0:
        return np.full(ps.shape, math.nan)
    cum = np.cumsum(cnts)
    idx = np.searchsorted(cum, ps / 100.0 * total, side="left")
    return vals[np.minimum(idx, vals.size - 1)]


def percentile_from_bins(bins, p: float) -> float:
    if bins is None or len(bins) == 0:
        return math.nan
    v, c = bins_arrays(bins)
    return float(percentiles_from_arrays(v, c, [p])[0])


CURVE_POINTS = (1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999)


def percentile_curve(bins, points=CURVE_POINTS):
    """(percentiles, values) for plotting a latency percentile curve; bins as list or (values, counts)."""
    v, c = bins if isinstance(bins, tuple) else bins_arrays(bins)
    return list(points), [float(x) for x in percentiles_from_arrays(v, c, points)]


# ---- verdicts ------------------------------------------------------------

@dataclass
class Verdict:
    mean_a: float
    mean_b: float
    change_pct: float        # (b - a) / a * 100
    p_value: float
    test: str
    ci_lo: float             # bootstrap interval of b/a, as % change
    ci_hi: float
    verdict: str
    note: str = ""


def pct_change(a: float, b: float) -> float:
    if a == 0:
        return 0.0 if b == 0 else math.inf
    return (b - a) / a * 100.0


def decide(change_pct: float, p_value: float, higher_is_better: bool, threshold_pct: float,
           alpha: float = 0.01) -> str:
    if not (p_value < alpha) or not (abs(change_pct) >= threshold_pct):
        return NOISE
    better = change_pct > 0 if higher_is_better else change_pct < 0
    return IMPROVED if better else REGRESSED


DEFAULT_ALPHA = 0.01   # many scenario x metric rows per comparison: keep false alarms rare


def compare_samples(a, b, mean="arithmetic", higher_is_better=True, threshold_pct=2.0,
                    alpha=DEFAULT_ALPHA, headline=None, seed=0, bootstrap=True) -> Verdict:
    """Compare two samples. `headline` = (value_a, value_b) overrides the means
    (used for percentiles computed from summed bins); significance still comes
    from the per-run samples."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    f = MEANS[mean]
    ma, mb = (headline if headline is not None else (f(a), f(b)))
    change = pct_change(ma, mb)
    _, p, test = mann_whitney_u(a, b)
    lo = hi = math.nan
    if bootstrap:
        rlo, rhi = bootstrap_ratio_ci(a, b, mean, seed=seed)
        lo, hi = (rlo - 1) * 100, (rhi - 1) * 100
    note = ""
    if min_p_value(a.size, b.size) >= alpha:
        note = f"n={a.size}/{b.size}: too few runs for significance at {alpha}"
    v = decide(change, p, higher_is_better, threshold_pct, alpha)
    return Verdict(ma, mb, change, p, test, lo, hi, v, note)


def compare_counts(a, b) -> Verdict:
    """Error counts (PI errors): any change is real; more is a regression."""
    ta, tb = float(np.sum(a)), float(np.sum(b))
    na, nb = max(len(a), 1), max(len(b), 1)
    ma, mb = ta / na, tb / nb
    if ma == mb:
        v = NOISE
    elif mb > ma:
        v = REGRESSED
    else:
        v = IMPROVED
    return Verdict(ma, mb, pct_change(ma, mb), 0.0 if v != NOISE else 1.0, "count",
                   math.nan, math.nan, v, f"total {int(ta)} vs {int(tb)}")
