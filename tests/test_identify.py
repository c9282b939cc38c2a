"""What a calibration's targets can tell (sim.identify), on linear problems with known answers."""

import numpy as np
import pytest
from scipy import stats

from sim import identify

RANGES = {"a": (0.0, 1.0), "b": (1.0, 3.0)}
BEST = {"a": 0.5, "b": 2.0}
SIGMA = np.array([0.01, 0.02, 0.01, 0.04])


def found(d, s=None, loss=0.0, sigma=SIGMA):
    return identify.identify(np.asarray(d, float), sigma, s, BEST, RANGES, loss, "test")


def test_a_well_conditioned_sensitivity_gives_the_analytic_intervals():
    d = [[0.4, 0.0], [0.1, 0.3], [0.0, 0.1], [0.2, -0.2]]
    f = found(d)
    widths = np.array([1.0, 2.0])
    j = np.asarray(d) * widths / SIGMA[:, None]
    covariance = np.outer(widths, widths) * np.linalg.inv(j.T @ j)
    half = 1.959964 * np.sqrt(np.diag(covariance))
    assert f.intervals == pytest.approx(np.column_stack([[0.5, 2.0] - half, [0.5, 2.0] + half]))
    assert f.covariance == pytest.approx(covariance)
    assert f.identified.tolist() == [True, True] and f.pairs() == []
    assert f.inflation == 1.0  # a loss below what the errors leave: never deflated
    sv = np.linalg.svd(j, compute_uv=False)
    assert f.condition == pytest.approx(sv[0] / sv[-1])
    bound, law = f.threshold()
    assert bound == pytest.approx(stats.chi2.ppf(0.95, 2) / 4) and "2 degrees of freedom" in law
    assert identify.summary(f) == "2 of 2 parameters identified"


def test_proportional_columns_are_a_trading_pair_and_neither_is_identified():
    d = np.array([[0.4, 0.2], [0.1, 0.05], [0.3, 0.15], [0.2, 0.1]])  # b's column = a's / 2
    f = found(d)
    assert f.identified.tolist() == [False, False]
    ((a, b, r),) = f.pairs()
    assert (a, b) == ("a", "b") and r == pytest.approx(-1.0)
    # per range (b's is twice a's) the columns are equal: a share of a's range up is undone
    # by the same share of b's down
    assert f.weakest == pytest.approx(np.array([1.0, -1.0]) / np.sqrt(2))
    assert f.condition > 1e8
    text = identify.summary(f)
    assert text.startswith("0 of 2 parameters identified; a and b trade off (correlation -1.00)")
    assert "pin down their combination, not each" in text
    table = "\n".join(identify.table(f))
    assert table.count("NO") == 2


def test_a_parameter_the_targets_do_not_see_is_not_identified():
    d = [[0.4, 0.0], [0.1, 0.0], [0.0, 0.0], [0.2, 0.0]]
    f = found(d)
    assert f.identified.tolist() == [True, False]
    assert f.half_widths[1] > 1e6 * 2.0  # far beyond its range: unbounded
    assert "the targets barely move +1.00 b" in identify.trade_offs(f)[0]


def test_overlapping_targets_do_not_count_their_evidence_twice():
    """The same figure twice with the same error: the interval of one figure, not 1/sqrt(2)
    of it, as independent errors would have it."""
    d, sigma = [[0.4, 0.1], [0.4, 0.1], [0.1, 0.3]], np.array([0.01, 0.01, 0.02])
    overlap = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    once = identify.identify(np.array([d[0], d[2]]), sigma[1:], None, BEST, RANGES, 0.0, "")
    twice = identify.identify(np.array(d), sigma, overlap, BEST, RANGES, 0.0, "")
    naive = identify.identify(np.array(d), sigma, None, BEST, RANGES, 0.0, "")
    assert twice.half_widths == pytest.approx(once.half_widths)
    assert naive.half_widths[0] < 0.85 * once.half_widths[0]  # too narrow
    bound, law = twice.threshold()  # the plausible set's bound follows the same covariance
    assert bound > stats.chi2.ppf(0.95, 2) / 4 and "Satterthwaite" in law


def test_a_loss_beyond_what_the_errors_explain_widens_the_intervals():
    d = [[0.4, 0.0], [0.1, 0.3], [0.0, 0.1], [0.2, -0.2]]
    expected = (4 - 2) / 4  # independent errors: 4 targets, 2 parameters, loss = sum z^2 / 4
    f, misfit = found(d, loss=expected), found(d, loss=4 * expected)
    assert misfit.inflation == pytest.approx(4.0) and f.inflation == pytest.approx(1.0)
    assert misfit.half_widths == pytest.approx(2 * f.half_widths)


def test_error_covariance_is_in_sigma_units_and_leaves_unknown_targets_independent():
    rng = np.random.default_rng(0)
    draws = rng.normal(size=(4000, 3)) * [0.02, 0.01, 1.0]
    draws[:, 1] += 0.5 * draws[:, 0]
    s = identify.error_covariance(draws, np.array([0.02, 0.01, 5.0]), np.array([1, 1, 0], bool))
    assert s[0, 0] == pytest.approx(1.0, rel=0.1) and s[1, 1] == pytest.approx(2.0, rel=0.1)
    assert s[0, 1] == pytest.approx(1.0, rel=0.1)
    assert s[2].tolist() == [0.0, 0.0, 1.0]


def test_difference_points_stay_in_the_range_and_integers_stay_integers():
    points = identify.difference_points({"a": 0.99, "b": 2.0}, RANGES)
    assert [p["a"] for p in points[:2]] == pytest.approx([0.9, 1.0])  # shifted at the bound
    assert [p["b"] for p in points[2:]] == pytest.approx([1.9, 2.1])
    assert points[0]["b"] == 2.0 and points[2]["a"] == 0.99
    whole = identify.difference_points({"n": 3}, {"n": (1, 40)})
    assert [p["n"] for p in whole] == [1, 5] and all(isinstance(p["n"], int) for p in whole)
    d = identify.sensitivity(
        points, [{"x": 2 * p["a"] + p["b"] ** 2} for p in points], ["x"]
    )  # central differences of 2a + b^2 at a ~ 0.95, b = 2
    assert d == pytest.approx(np.array([[2.0, 4.0]]))


def test_the_plausible_set_holds_the_best_and_spans_the_qualifying_trials():
    rng = np.random.default_rng(1)
    trials = [(n, float(rng.uniform(1, 3)), {"a": float(rng.uniform()), "b": n}) for n in range(40)]
    inside = [t for t in trials if t[1] - min(x[1] for x in trials) <= 1.0]
    sets, qualified = identify.plausible(trials, bound=1.0, cap=6)
    assert qualified == len(inside) > 6 and len(sets) == 6
    assert sets[0] == min(trials, key=lambda t: t[1])  # the best, first
    assert [t[1] for t in sets] == sorted(t[1] for t in sets)
    for key in ("a", "b"):  # each parameter's extremes among the qualifying trials
        assert min(t[2][key] for t in inside) == min(t[2][key] for t in sets)
        assert max(t[2][key] for t in inside) == max(t[2][key] for t in sets)
    alone, qualified = identify.plausible(trials, bound=0.0)
    assert alone == [sets[0]] and qualified == 1
