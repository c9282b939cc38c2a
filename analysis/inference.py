"""The interval behind every verdict, and the levels that keep a family and a sequence of looks
valid.

- :func:`intervals`: the studentised bootstrap (bootstrap-t) interval of a mean, equal-tailed,
  never narrower on either side than Student's t at the same level. Resampling the seeds shows
  the skew of the per-seed differences, which pushes Student's t off at the far tails that a
  family's Bonferroni level asks for; the Student-t floor keeps the normal-theory interval where
  ten seeds cannot show a tail at all. A resample whose values are all equal has an infinite
  t-statistic (or 0 when it equals the mean), so a sample with too few distinct values gets an
  infinite interval rather than a zero-width one: it is undecided, with the reason.
- :func:`spending_levels`: Lan-DeMets O'Brien-Fleming-type alpha spending over planned looks
  (group-sequential repeated confidence intervals), by numerical integration of the Brownian
  motion the z-statistics follow (Armitage, McPherson & Rowe 1969; Jennison & Turnbull 2000,
  ch. 7 and 19).

The resamples are drawn from a generator seeded by the sample size, so the same sample gives the
same interval in any process. References: Efron & Tibshirani (1993), *An Introduction to the
Bootstrap*, ch. 12 (bootstrap-t); Hall (1992), *The Bootstrap and Edgeworth Expansion*, 3.5;
Lan & DeMets (1983), Biometrika 70: 659-663.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import optimize, stats

SEED = 20_261_206
"""Seeds the resampling: the resamples depend on the sample size only."""
MIN_RESAMPLES, MAX_RESAMPLES = 2_000, 10_000
_CHUNK = 64  # rows resampled at a time
RELATIVE_TIE = 1e-9
"""Values closer than this share of the largest |value| count as equal."""
MAX_STUDENT_ONLY = 4
"""Samples of at most this many distinct values get Student's t: their few resamples (27 kinds
for 3 seeds), some nearly constant, give t-statistics without a usable tail."""
TAIL_RESAMPLES = 25
"""Resamples beyond each bootstrap quantile: B is at least this over the tail probability."""
_GRID = 1_201  # points of the integration grid per look


@dataclass(frozen=True)
class Design:
    """How the seeds were chosen: a fixed number (``looks`` empty), or looks at these numbers of
    seeds with the verdicts checked at each (``replications=auto``)."""

    looks: tuple[int, ...] = ()

    @property
    def sequential(self) -> bool:
        return bool(self.looks)

    def look(self, n: int) -> int:
        """The index of the look ``n`` seeds reach: the last planned look at or below n (the
        first look below it)."""
        return max(0, int(np.searchsorted(self.looks, n, side="right")) - 1)

    def level(self, n: int, alpha: float) -> float:
        """The two-sided nominal level of one interval at ``n`` seeds that spends ``alpha``
        over the looks (1 - alpha with a fixed number of seeds)."""
        if not self.sequential:
            return 1 - alpha
        return float(spending_levels(self.looks, alpha)[self.look(n)])


FIXED = Design()


@lru_cache(maxsize=64)
def resamples(n: int) -> np.ndarray:
    """Bootstrap counts, shape (MAX_RESAMPLES, n): how often each of n seeds is drawn into each
    resample; the same for every sample of n values."""
    rng = np.random.default_rng([SEED, n])
    draws = rng.integers(0, n, size=(MAX_RESAMPLES, n)) + n * np.arange(MAX_RESAMPLES)[:, None]
    counts = np.bincount(draws.ravel(), minlength=MAX_RESAMPLES * n).reshape(MAX_RESAMPLES, n)
    counts = counts.astype(float)
    counts.setflags(write=False)
    return counts


def intervals(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap-t intervals of the means of the rows of ``samples`` (shape (r, n), n >= 2) at
    the two-sided ``level``, each side at least as wide as Student's t. A row with zero variance
    gets (-inf, inf), and one whose ties leave too few distinct values for the level an
    infinite end on the side it cannot bound; a row of distinct values too short to resample at
    the level (2 to 4 values) gets Student's t."""
    x = np.atleast_2d(np.asarray(samples, dtype=float))
    n = x.shape[1]
    if n < 2:
        return np.full(len(x), -np.inf), np.full(len(x), np.inf)
    tail = (1 - level) / 2
    mean = x.mean(axis=1)
    sd = x.std(axis=1, ddof=1)
    se = sd / np.sqrt(n)
    floor = stats.t.isf(tail, n - 1)
    centred = x - mean[:, None]
    low_q, high_q = np.empty(len(x)), np.empty(len(x))
    for i in range(0, len(x), _CHUNK):
        part = slice(i, i + _CHUNK)
        low_q[part], high_q[part] = _bootstrap_quantiles(centred[part], sd[part], tail)
    counts = distinct(x)
    untied = counts == n
    short = untied & (n <= MAX_STUDENT_ONLY)  # too few seeds to resample: Student's t alone
    low_q[short | untied & ~np.isfinite(low_q)] = -floor
    high_q[short | untied & ~np.isfinite(high_q)] = floor
    with np.errstate(invalid="ignore"):
        low = mean - np.maximum(high_q, floor) * se
        high = mean - np.minimum(low_q, -floor) * se
    flat = counts < 2
    low[flat | ~np.isfinite(low)] = -np.inf
    high[flat | ~np.isfinite(high)] = np.inf
    return low, high


def distinct(samples: np.ndarray) -> np.ndarray:
    """The number of distinct values in each row, values within RELATIVE_TIE of the row's
    largest |value| counted as one (a fixed cost's difference varies only by rounding)."""
    x = np.sort(np.atleast_2d(samples), axis=1)
    tie = RELATIVE_TIE * np.abs(x).max(axis=1, keepdims=True)
    return 1 + (np.diff(x, axis=1) > tie).sum(axis=1)


def _bootstrap_quantiles(centred: np.ndarray, sd: np.ndarray, tail: float):
    """The ``tail`` and 1 - ``tail`` quantiles of each row's bootstrap t-statistics (the
    resample mean's distance from the sample mean in resample standard errors), taken on the
    conservative side; ±inf where too many resamples are constant."""
    n = centred.shape[1]
    b = int(np.clip(np.ceil(TAIL_RESAMPLES / max(tail, 1e-12)), MIN_RESAMPLES, MAX_RESAMPLES))
    counts = resamples(n)[:b]
    shift = centred @ counts.T / n  # resample mean - sample mean, (r, b)
    second = (centred**2) @ counts.T / n
    var = np.maximum(second - shift**2, 0.0) * n / (n - 1)
    tiny = (1e-9 * sd[:, None]) ** 2
    constant = var <= tiny
    with np.errstate(divide="ignore", invalid="ignore"):
        t = shift / np.sqrt(var / n)
    at_mean = np.abs(shift) <= 1e-9 * sd[:, None]
    t = np.where(constant, np.where(at_mean, 0.0, np.copysign(np.inf, shift)), t)
    low = np.quantile(t, tail, axis=1, method="lower")
    high = np.quantile(t, 1 - tail, axis=1, method="higher")
    return low, high


@lru_cache(maxsize=256)
def spending_levels(looks: tuple[int, ...], alpha: float) -> np.ndarray:
    """Two-sided nominal levels of the repeated confidence intervals at ``looks`` (increasing
    seed counts; the last is the most planned) under Lan-DeMets O'Brien-Fleming-type spending
    of ``alpha``, half on each side: alpha(t) / 2 = 2 - 2 Phi(z_{1 - alpha/4} / sqrt(t)) at
    information fraction t = seeds / last look (as in R's ldbounds). The chance that any look's
    interval misses is at most ``alpha`` for normal statistics; the levels are applied to the
    bootstrap-t intervals as nominal levels."""
    t = np.asarray(looks, dtype=float) / looks[-1]
    spent = 4 * stats.norm.sf(stats.norm.isf(alpha / 4) / np.sqrt(t))
    spent[-1] = alpha
    increments = np.diff(spent, prepend=0.0)
    bounds = np.empty(len(t))
    bounds[0] = stats.norm.isf(increments[0] / 2)
    grid, density = _start(bounds[0], t[0])
    for k in range(1, len(t)):
        step = t[k] - t[k - 1]
        bounds[k] = _next_bound(grid, density, step, increments[k]) / np.sqrt(t[k])
        grid, density = _carry(grid, density, step, bounds[k] * np.sqrt(t[k]))
    return 1 - 2 * stats.norm.sf(bounds)


def _start(z: float, t: float) -> tuple[np.ndarray, np.ndarray]:
    """The grid on (-z sqrt(t), z sqrt(t)) and the density of B(t) on it (Simpson weights
    folded in)."""
    grid = np.linspace(-z * np.sqrt(t), z * np.sqrt(t), _GRID)
    return grid, stats.norm.pdf(grid, scale=np.sqrt(t)) * _simpson(grid)


def _next_bound(grid: np.ndarray, density: np.ndarray, step: float, spend: float) -> float:
    """The bound b on |B| at the next look that the paths still inside leave with probability
    ``spend``."""

    def exits(b: float) -> float:
        scale = np.sqrt(step)
        out = stats.norm.sf((b - grid) / scale) + stats.norm.cdf((-b - grid) / scale)
        return float(density @ out) - spend

    if spend <= 0:
        return np.inf
    return optimize.brentq(exits, 1e-9, 60.0, xtol=1e-12)


def _carry(grid: np.ndarray, density: np.ndarray, step: float, bound: float):
    """The sub-density of the paths still inside at the next look, on its own grid."""
    if not np.isfinite(bound):
        bound = grid[-1] + 12 * np.sqrt(step)
    new = np.linspace(-bound, bound, _GRID)
    kernel = stats.norm.pdf((new[:, None] - grid[None, :]) / np.sqrt(step)) / np.sqrt(step)
    return new, (kernel @ density) * _simpson(new)


def _simpson(grid: np.ndarray) -> np.ndarray:
    """Simpson's rule weights on an evenly spaced grid of an odd number of points."""
    w = np.ones(len(grid))
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return w * (grid[1] - grid[0]) / 3
