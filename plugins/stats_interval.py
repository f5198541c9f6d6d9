"""Uncertainty of a paired, cell-stratified macro difference: the 95% interval and two exact tests.

A comparison is a list of cells, each holding the 0/1 correctness of the same items under a baseline
``base`` and a challenger ``other``; the statistic is the macro difference, the mean over cells of
``mean(other) - mean(base)`` (every cell weighs the same, whatever its size).

The reported interval is the hull of two 95% intervals:

- the paired **BCa bootstrap**: items resampled within each cell with both answers kept together
  (a resample of a cell is a multinomial draw over its distinct per-item differences, which is the
  same distribution as resampling its items, at O(resamples) cost), bias-corrected and accelerated
  (jackknife over items);
- the **Newcombe-MOVER score interval**: Newcombe's hybrid score interval for a paired difference of
  proportions in each cell (Wilson limits of both margins and their correlation; Newcombe 1998,
  method 10), combined over cells by MOVER (Zou & Donner 2008).

No bootstrap, BCa included, can see sampling variability a cell does not show: a 1-item cell, or a
2-item cell whose two items moved the same way, resamples to the same value every time, so at small
n its interval is too narrow (a run of 10 items showed +0.250 [+0.167, +0.333] beside McNemar
p = 0.625). The score interval is right at small n and agrees with the bootstrap at large n; taking
the wider of the two keeps the bootstrap where it is informative and the score method where it is not.

Two exact tests sit beside it: McNemar's (binomial test on the discordant pairs pooled over all
items, so large cells weigh more) and a sign-flip permutation test of the macro difference itself
(each discordant item's two answers swapped at random within its cell; exact by convolution, or a
seeded Monte Carlo when the null distribution is too large to enumerate). In one cell the two agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats as sps
from scipy.special import ndtr, ndtri

Pairs = list[tuple[np.ndarray, np.ndarray]]  # per cell: (base, other) 0/1 correctness of the same items

#: The interval as documented in the report's ``bootstrap.interval``.
INTERVAL = (
    "95%: hull of the paired BCa bootstrap (items resampled within cells) and the Newcombe-MOVER "
    "score interval (Newcombe's paired score interval per cell, combined over cells by MOVER)"
)
EXACT_TEST = "sign-flip permutation test of the macro difference (exact; seeded Monte Carlo when too large)"
MCNEMAR = "exact McNemar test on the discordant pairs pooled over all items"
DEFAULT_RESAMPLES = 2000
SMALL_CELL = 30  # a cell with fewer items gets a warning
MAX_EXACT_WORK = 200_000  # sign-flip null enumerated while the (value, outcome) pairs built stay under this
MONTE_CARLO_FLIPS = 20_000
_TOL = 1e-9


def tables_of(pairs: Pairs | np.ndarray) -> np.ndarray:
    """Per cell the paired 2x2 counts (K x 4): both right, only other right, only base right, both
    wrong. Everything below needs only these; an array passed in is taken to be them already."""
    if isinstance(pairs, np.ndarray):
        return pairs
    rows = []
    for b, o in pairs:
        b, o = np.asarray(b) > 0, np.asarray(o) > 0
        rows.append([np.sum(b & o), np.sum(o & ~b), np.sum(b & ~o), np.sum(~b & ~o)])
    return np.array(rows, dtype=float).reshape(-1, 4)


def _point(t: np.ndarray) -> float:
    return float(np.mean((t[:, 1] - t[:, 2]) / t.sum(axis=1)))


def bootstrap_distribution(pairs: Pairs | np.ndarray, *, resamples: int, seed: int) -> np.ndarray:
    """``resamples`` bootstrap replicates of the macro difference (items resampled within cells, paired).

    Resampling a cell's n items is a multinomial draw of how many of them are +1 (only other right),
    -1 (only base right) or 0: one vectorized call for all cells."""
    t = tables_of(pairs)
    n = t.sum(axis=1)
    pvals = np.stack([t[:, 2], t[:, 0] + t[:, 3], t[:, 1]], axis=1) / n[:, None]
    draws = np.random.default_rng(seed).multinomial(n.astype(np.int64), pvals, size=(resamples, len(t)))
    return np.mean((draws[..., 2] - draws[..., 0]) / n, axis=1)


def bca_interval(pairs: Pairs | np.ndarray, replicates: np.ndarray, *, level: float = 0.95) -> tuple[float, float]:
    """The BCa interval from ``replicates`` (of :func:`bootstrap_distribution` on ``pairs``)."""
    t = tables_of(pairs)
    point = _point(t)
    if np.ptp(replicates) <= _TOL:
        return point, point
    b = len(replicates)
    below = np.sum(replicates < point - _TOL) + 0.5 * np.sum(np.abs(replicates - point) <= _TOL)
    z0 = float(ndtri(np.clip(below / b, 0.5 / b, 1 - 0.5 / b)))
    # acceleration from the jackknife over items: leaving out an item x of a cell moves the statistic
    # by (mean - x) / ((n - 1) K); items are +1, -1 or 0, so three values per cell with multiplicities
    # (a 1-item cell cannot be left out of and is skipped)
    t = t[t.sum(axis=1) > 1]
    accel = 0.0
    if len(t):
        n = t.sum(axis=1)
        mean = (t[:, 1] - t[:, 2]) / n
        moves = np.stack([mean - 1, mean + 1, mean], axis=1) / ((n - 1) * len(tables_of(pairs)))[:, None]
        counts = np.stack([t[:, 1], t[:, 2], t[:, 0] + t[:, 3]], axis=1)
        u = np.sum(counts * moves) / counts.sum() - moves
        ss = float(np.sum(counts * u**2))
        accel = float(np.sum(counts * u**3)) / (6 * ss**1.5) if ss > 0 else 0.0
    z = ndtri(np.array([(1 - level) / 2, (1 + level) / 2]))
    alphas = ndtr(z0 + (z0 + z) / (1 - accel * (z0 + z)))
    low, high = np.quantile(replicates, np.nan_to_num(alphas, nan=0.5))
    return float(low), float(high)


def percentile_interval(replicates: np.ndarray, *, level: float = 0.95) -> tuple[float, float]:
    """The plain percentile interval (what cgr reported before; kept for comparison)."""
    low, high = np.quantile(replicates, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def _wilson(k: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return centre - half, centre + half


def score_interval(pairs: Pairs | np.ndarray, *, level: float = 0.95) -> tuple[float, float]:
    """Newcombe's paired score interval in each cell, combined into the macro difference's by MOVER."""
    z = float(ndtri((1 + level) / 2))
    e, f, g, h = tables_of(pairs).T
    n = e + f + g + h
    p1, p2 = (e + f) / n, (e + g) / n  # other's and base's accuracy
    l1, u1 = _wilson(e + f, n, z)
    l2, u2 = _wilson(e + g, n, z)
    den = (e + f) * (g + h) * (e + g) * (f + h)
    phi = np.where(den > 0, (e * h - f * g) / np.sqrt(np.where(den > 0, den, 1)), 0.0)
    theta = p1 - p2
    lower = np.sqrt(np.maximum((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0))
    upper = np.sqrt(np.maximum((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0))
    w = 1 / len(e)
    point = float(np.sum(w * theta))
    return point - float(np.sqrt(np.sum((w * lower) ** 2))), point + float(np.sqrt(np.sum((w * upper) ** 2)))


def mcnemar_p(pairs: Pairs | np.ndarray) -> float | None:
    """Exact two-sided McNemar p-value pooled over the cells' items (None without discordant pairs)."""
    _, f, g, _ = tables_of(pairs).sum(axis=0)
    if f + g == 0:
        return None
    return float(sps.binomtest(int(f), int(f + g), 0.5).pvalue)


def sign_flip_p(pairs: Pairs | np.ndarray, *, seed: int = 0) -> tuple[float | None, str]:
    """Two-sided p-value of the macro difference under the paired null (each discordant item equally
    likely either way round, independently), and how it was computed (``exact`` or ``monte carlo N``).
    None without discordant items."""
    tables = tables_of(pairs)
    n = tables.sum(axis=1)
    observed = abs(_point(tables))
    # cells of the same size weigh their items the same: their discordant items pool into one binomial
    sizes, where = np.unique(n, return_inverse=True)
    m = np.bincount(where, weights=tables[:, 1] + tables[:, 2]).astype(int)
    keep = m > 0
    if not keep.any():
        return None, "exact"
    m, scale = m[keep], 1 / (len(tables) * sizes[keep])  # scale: one item's weight in the macro mean
    values: np.ndarray = np.zeros(1)
    probs: np.ndarray = np.ones(1)
    work = 0
    for mk, ck in zip(m, scale):
        work += len(values) * (mk + 1)
        if work > MAX_EXACT_WORK:
            return _sign_flip_monte_carlo(
                m, scale, observed, MONTE_CARLO_FLIPS, seed
            ), f"monte carlo {MONTE_CARLO_FLIPS}"
        j = np.arange(mk + 1)
        values = (values[:, None] + (ck * (2 * j - mk))[None, :]).ravel()
        probs = (probs[:, None] * sps.binom.pmf(j, mk, 0.5)[None, :]).ravel()
        keys, inverse = np.unique(np.round(values / _TOL).astype(np.int64), return_inverse=True)
        values, probs = keys.astype(float) * _TOL, np.bincount(inverse, weights=probs)
    return float(min(1.0, probs[np.abs(values) >= observed - 10 * _TOL].sum())), "exact"


_BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(words: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (numpy >= 2 has it built in; a byte table otherwise)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(words)
    return _BYTE_BITS[words.view(np.uint8)].reshape(*words.shape, 8).sum(axis=-1)


def _sign_flip_monte_carlo(m: np.ndarray, scale: np.ndarray, observed: float, flips: int, seed: int) -> float:
    """Monte Carlo over sign patterns: each group's count of flips that go the observed way is the
    popcount of m random bits (64 to a word), exactly Binomial(m, 1/2), at a few ns per word."""
    rng = np.random.default_rng(seed)
    words = (m + 63) // 64
    starts = np.concatenate([[0], np.cumsum(words)[:-1]])
    masks = np.full(int(words.sum()), np.iinfo(np.uint64).max, dtype=np.uint64)
    masks[starts + words - 1] = [(1 << int(r)) - 1 if r else np.iinfo(np.uint64).max for r in m % 64]
    hits, chunk = 0, max(1, 1_000_000 // len(masks))
    for start in range(0, flips, chunk):
        rows = min(chunk, flips - start)
        raw = rng.bit_generator.random_raw(rows * len(masks)).astype(np.uint64).reshape(rows, len(masks))
        j = np.add.reduceat(_popcount(raw & masks).astype(np.int64), starts, axis=1)
        hits += int(np.sum(np.abs((2 * j - m) @ scale) >= observed - 10 * _TOL))
    return (hits + 1) / (flips + 1)


def paired_difference(pairs: Pairs | np.ndarray, *, resamples: int, seed: int) -> dict[str, Any]:
    """Everything the report says about one paired comparison: the macro difference ``delta``
    (other - base), its 95% interval ``ci_low``/``ci_high`` (the hull of the two below), the BCa
    bootstrap and score intervals it is made of, McNemar's p, the sign-flip p and the discordant counts."""
    if not len(pairs):
        return {"delta": None, "ci_low": None, "ci_high": None, "mcnemar_p": None, "exact_p": None}
    t = tables_of(pairs)
    replicates = bootstrap_distribution(t, resamples=resamples, seed=seed)
    b_low, b_high = bca_interval(t, replicates)
    s_low, s_high = score_interval(t)
    exact, how = sign_flip_p(t, seed=seed)
    _, f, g, _ = t.sum(axis=0)
    return {
        "delta": _point(t),
        "ci_low": min(b_low, s_low),
        "ci_high": max(b_high, s_high),
        "ci_bootstrap": [b_low, b_high],
        "ci_score": [s_low, s_high],
        "mcnemar_p": mcnemar_p(t),
        "exact_p": exact,
        "exact_p_method": how,
        "n_items": int(t.sum()),
        "discordant": {"other_only": int(f), "base_only": int(g)},
    }


def disagreement(result: dict[str, Any], alpha: float = 0.05) -> str | None:
    """Why the interval and McNemar's test of ``result`` tell different stories, or None when they agree."""
    p, low, high = result.get("mcnemar_p"), result.get("ci_low"), result.get("ci_high")
    if p is None or low is None or high is None:
        return None
    excludes = low > 0 or high < 0
    interval = f"the 95% interval [{low:+.3f}, {high:+.3f}]"
    exact = "" if result.get("exact_p") is None else f"; sign-flip p of the macro difference = {result['exact_p']:.3g}"
    if excludes and p >= alpha:
        return f"{interval} excludes 0 but McNemar p={p:.3g} >= {alpha}: not a resolved difference{exact}"
    if not excludes and p < alpha:
        return (
            f"{interval} includes 0 but McNemar p={p:.3g} < {alpha}: McNemar pools items (large cells weigh "
            f"more), the interval is of the macro mean (cells weigh the same){exact}"
        )
    return None
