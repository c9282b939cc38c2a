"""analysis.inference against known truths: the alpha-spending boundaries of R's ldbounds, the
looks a number of seeds reaches, and intervals that are reproducible and never narrower than
Student's t."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.inference import FIXED, Design, distinct, intervals, spending_levels


def test_obrien_fleming_spending_matches_ldbounds():
    """Five equally spaced looks at 5%: Lan-DeMets O'Brien-Fleming bounds as R's ldbounds
    gives them (bounds(t = 1:5 / 5, iuse = 1, alpha = 0.025) on each side)."""
    z = stats.norm.isf((1 - spending_levels((1, 2, 3, 4, 5), 0.05)) / 2)
    assert z == pytest.approx([4.8769, 3.3569, 2.6803, 2.2898, 2.0310], abs=2e-3)


def test_spending_makes_early_looks_strict_and_the_last_close_to_fixed():
    levels = spending_levels((10, 20, 30, 40, 50, 60), 0.005)
    assert np.all(np.diff(levels) < 0)  # each look spends more
    assert 1 - levels[0] < 1e-9 and 0.995 < levels[-1] < 0.996


def test_a_design_reads_the_look_of_its_seeds():
    design = Design((10, 20, 30))
    assert [design.look(n) for n in (5, 10, 19, 20, 30, 40)] == [0, 0, 0, 1, 2, 2]
    assert design.level(20, 0.05) == pytest.approx(spending_levels((10, 20, 30), 0.05)[1])
    assert FIXED.level(20, 0.05) == 0.95 and not FIXED.sequential


def test_intervals_are_reproducible_and_never_narrower_than_students_t():
    x = np.random.default_rng(0).gamma(1.0, 1.0, (50, 12))
    low, high = intervals(x, 0.99)
    again = intervals(x[::-1], 0.99)
    assert np.array_equal(low, again[0][::-1]) and np.array_equal(high, again[1][::-1])
    t = stats.t.isf(0.005, 11) * x.std(axis=1, ddof=1) / np.sqrt(12)
    assert np.all(low <= x.mean(axis=1) - t + 1e-12) and np.all(high >= x.mean(axis=1) + t - 1e-12)
    assert np.mean(x.mean(axis=1) - low) < np.mean(high - x.mean(axis=1))  # right skew: longer up


@pytest.mark.parametrize("n", [2, 3, 4])
def test_two_to_four_distinct_seeds_get_students_t(n):
    """As docs/experiments.md says: too few seeds to resample, so Student's t, never the wild
    quantiles of a handful of resamples (3 seeds once gave a lower end of -832,059)."""
    x = np.array([[0.01, 0.02, 0.035, 0.05][:n], [-3.0, 1.0, 2.5, 40.0][:n]])
    low, high = intervals(x, 0.975)
    t = stats.t.isf(0.0125, n - 1) * x.std(axis=1, ddof=1) / np.sqrt(n)
    np.testing.assert_allclose(low, x.mean(axis=1) - t, rtol=1e-12)
    np.testing.assert_allclose(high, x.mean(axis=1) + t, rtol=1e-12)


def test_no_interval_without_spread_and_ties_within_rounding_are_ties():
    fixed = np.full((1, 10), -3.4e6) * (1 + 1e-12 * np.arange(10))  # a fixed cost, rounded
    assert distinct(fixed)[0] == 1
    assert intervals(fixed, 0.95) == (np.array([-np.inf]), np.array([np.inf]))
    mostly_zero = np.r_[np.zeros(8), 1.0, 2.0][None, :]  # 3 distinct values in 10
    low, high = intervals(mostly_zero, 0.995)
    assert np.isfinite(low[0]) and high[0] == np.inf  # nothing bounds the rare values above
