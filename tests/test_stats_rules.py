"""The edges of the verdict rules and of the statistics behind them (``analysis.stats``): what an
interval touching 0 or the smallest effect says, what two pairs of runs are enough for, what
constant samples give, and the words of an undecided or possibly small verdict. Small hand-made
runs, no simulation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.stats import (
    BETTER,
    NEGLIGIBLE,
    UNDECIDED,
    WORSE,
    arm_summary,
    clears,
    crn_efficiency,
    decide,
    paired_differences,
    verdicts,
)

pytestmark = pytest.mark.filterwarnings("error")  # as tests/test_stats.py: no warning leaks


def runs_of(kpi: str, **arms: list[float]) -> pd.DataFrame:
    """One row per (arm, seed): ``arms`` maps each arm to its values on seeds 0, 1, ..."""
    return pd.DataFrame(
        [
            {"arm": arm, "point": "", "seed": seed, kpi: value}
            for arm, values in arms.items()
            for seed, value in enumerate(values)
        ]
    )


# --------------------------------------------------------------------------------------------
# Verdicts read off an interval
# --------------------------------------------------------------------------------------------


def test_higher_is_better_unless_said_otherwise():
    assert decide(0.01, 0.03, 0.0025) == BETTER
    assert decide(-0.03, -0.01, 0.0025) == WORSE


@pytest.mark.parametrize(("low", "high"), [(0.0, 0.5), (-0.5, 0.0), (0.0, 0.0001)])
def test_an_interval_that_touches_zero_does_not_exclude_it(low, high):
    assert decide(low, high, 0.1 if high > 0.1 or low < -0.1 else 0.0) in (UNDECIDED, NEGLIGIBLE)
    assert decide(low, high, 0.1) != BETTER and decide(low, high, 0.1) != WORSE
    assert not clears(low, high, 0.0)  # nor is it beyond a zero smallest effect


@pytest.mark.parametrize(("low", "high"), [(0.2, math.inf), (-math.inf, -0.2), (math.nan, 0.5)])
def test_an_interval_without_two_finite_ends_decides_nothing(low, high):
    assert decide(low, high, 0.1) == UNDECIDED
    assert decide(low, high, 0.1, higher_is_better=False) == UNDECIDED


@pytest.mark.parametrize(
    ("low", "high", "smallest", "expected"),
    [
        (0.5, 0.8, 0.2, True),  # below 1: the comparison is with 0, not with 1
        (-0.8, -0.5, 0.2, True),
        (0.2, 0.8, 0.2, True),  # exactly the smallest effect: at least it
        (-0.8, -0.2, 0.2, True),
        (0.0, 0.8, 0.0, False),  # touching 0 is not beyond it
        (-0.8, 0.0, 0.0, False),
        (-0.8, -0.19, 0.2, False),
    ],
)
def test_an_interval_clears_the_smallest_effect_when_wholly_beyond_it(
    low, high, smallest, expected
):
    assert clears(low, high, smallest) is expected


# --------------------------------------------------------------------------------------------
# What two pairs of runs give
# --------------------------------------------------------------------------------------------


def test_two_runs_of_an_arm_give_its_sd_and_student_t_interval():
    runs = runs_of("npv", baseline=[1.0, 3.0], arm=[2.0, 5.0, 8.0])
    table = arm_summary(runs, ["npv"]).set_index("arm")
    base = table.loc["baseline"]
    assert base.n == 2 and base["mean"] == 2.0 and base.sd == pytest.approx(math.sqrt(2))
    low, high = stats.t.interval(0.95, 1, loc=2.0, scale=1.0)
    assert (base.ci_low, base.ci_high) == pytest.approx((low, high))
    arm = table.loc["arm"]
    assert arm.sd == pytest.approx(3.0)  # [2, 5, 8]: a sd of exactly 1 is not special either
    low, high = stats.t.interval(0.95, 2, loc=5.0, scale=3.0 / math.sqrt(3))
    assert (arm.ci_low, arm.ci_high) == pytest.approx((low, high))


def test_a_sd_of_one_gives_a_real_interval_and_a_sd_of_zero_the_mean_itself():
    runs = runs_of("npv", one=[1.0, 2.0, 3.0], zero=[4.0, 4.0, 4.0])
    table = arm_summary(runs, ["npv"]).set_index("arm")
    one = table.loc["one"]
    assert one.sd == 1.0 and one.ci_low < 2.0 < one.ci_high
    zero = table.loc["zero"]
    assert (zero["mean"], zero.sd, zero.ci_low, zero.ci_high) == (4.0, 0.0, 4.0, 4.0)
    single = arm_summary(runs_of("npv", single=[7.0]), ["npv"]).iloc[0]
    assert single.n == 1 and single["mean"] == 7.0
    assert np.isnan([single.sd, single.ci_low, single.ci_high]).all()


def test_two_pairs_give_a_difference_its_spread_tests_interval_and_a_family():
    runs = runs_of("npv", base=[1.0, 2.0], a=[1.5, 2.7], b=[0.9, 2.3])
    d = paired_differences(runs, "base", ["npv"]).set_index("arm")
    a = d.loc["a"]
    assert a.n == 2 and a.mean_diff == pytest.approx(0.6)
    assert a.sd_diff == pytest.approx(math.sqrt(0.02))
    assert a.p_ttest == pytest.approx(stats.ttest_rel([1.5, 2.7], [1.0, 2.0]).pvalue)
    assert np.isfinite(a.p_wilcoxon)
    assert np.isnan(a.skewness)  # below 3 pairs
    assert (d["family_size"] == 2).all()  # both arms, with 2 pairs each, are in the family
    assert d["interval_level"].tolist() == pytest.approx([1 - 0.05 / 2] * 2)
    assert np.isfinite([a.ci_low, a.ci_high]).all() and a.ci_low < 0.6 < a.ci_high
    assert a.note == ""


def test_only_an_undecided_interval_asks_for_more_seeds():
    base = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    shift = [1.0, 1.1, 0.9, 1.05, 0.95, 1.0, 1.02, 0.98]
    runs = runs_of("npv", base=base, a=[b + d for b, d in zip(base, shift, strict=True)])
    runs = pd.concat([runs, runs_of("npv", b=[x + 0.5 * (-1) ** i for i, x in enumerate(base)])])
    d = paired_differences(runs, "base", ["npv"], smallest_effect={"npv": 0.05}).set_index("arm")
    assert d.loc["a", "verdict"] == BETTER and np.isnan(d.loc["a", "seeds_needed"])
    assert d.loc["b", "verdict"] == UNDECIDED and d.loc["b", "seeds_needed"] > 8


def test_three_pairs_have_a_skewness_two_do_not():
    runs = runs_of("npv", base=[1.0, 2.0, 3.0], a=[1.5, 2.7, 3.1])
    r = paired_differences(runs, "base", ["npv"]).iloc[0]
    assert r.skewness == pytest.approx(stats.skew([0.5, 0.7, 0.1], bias=False))


def test_one_pair_has_no_interval_and_says_so():
    runs = runs_of("npv", base=[1.0, 2.0], a=[1.5])
    r = paired_differences(runs, "base", ["npv"]).iloc[0]
    assert r.n == 1 and r.note == "at least 2 paired seeds are needed"
    assert np.isnan([r.sd_diff, r.p_ttest, r.ci_low]).all() and r.verdict == UNDECIDED
    assert r.family_size == 0


def test_two_pairs_with_the_same_difference_have_no_spread_to_make_an_interval_from():
    runs = runs_of("npv", base=[1.0, 2.0], a=[1.5, 2.5])
    r = paired_differences(runs, "base", ["npv"]).iloc[0]
    assert r.n == 2 and r.mean_diff == 0.5 and r.sd_diff == 0.0
    assert r.note == "the same on every seed, no spread to make an interval from"
    assert np.isnan([r.ci_low, r.ci_high]).all() and r.verdict == UNDECIDED


def test_a_zero_baseline_mean_has_no_relative_difference():
    runs = runs_of("npv", base=[-1.0, 1.0], a=[0.0, 3.0])
    r = paired_differences(runs, "base", ["npv"]).iloc[0]
    assert r.baseline_mean == 0.0 and np.isnan(r.rel_diff)
    assert np.isfinite(r.mean_diff)


def test_a_money_kpis_smallest_effect_is_a_share_of_the_baselines_revenue_not_the_arms():
    runs = runs_of("npv", base=[1e6, 2e6, 3e6], a=[1.1e6, 2.2e6, 3.3e6])
    runs["months"] = 12
    runs["revenue"] = np.where(runs["arm"] == "base", 4e8, 9e8)
    r = paired_differences(runs, "base", ["npv"]).iloc[0]
    assert r.smallest_effect == pytest.approx(0.025 * 4e8)


def test_a_missing_column_is_named():
    with pytest.raises(KeyError, match=r"runs is missing column\(s\) \['npv'\]"):
        paired_differences(runs_of("profit", base=[1.0], a=[2.0]), "base", ["npv"])
    with pytest.raises(KeyError, match=r"runs is missing column\(s\) \['seed'\]"):
        arm_summary(pd.DataFrame({"arm": ["a"], "npv": [1.0]}), ["npv"])


# --------------------------------------------------------------------------------------------
# Common random numbers on small or constant samples
# --------------------------------------------------------------------------------------------


def test_two_pairs_give_both_half_widths():
    runs = runs_of("retention_horizon", base=[0.70, 0.74], a=[0.71, 0.76])
    r = crn_efficiency(runs, "base").iloc[0]
    paired = stats.ttest_rel([0.71, 0.76], [0.70, 0.74]).confidence_interval(0.95)
    assert r.n == 2
    assert r.paired_half_width == pytest.approx((paired.high - paired.low) / 2)
    assert r.independent_half_width > r.paired_half_width > 0


def test_a_constant_difference_is_infinitely_many_independent_replications():
    runs = runs_of("retention_horizon", base=[0.5, 0.75, 0.625], a=[0.625, 0.875, 0.75])
    r = crn_efficiency(runs, "base").iloc[0]  # every difference exactly 0.125
    assert r.paired_half_width == 0.0
    assert 0 < r.independent_half_width < 1
    assert r.ratio == 0.0 and r.equivalent_replications == math.inf
    assert r.correlation == pytest.approx(1.0) and r.variance_ratio == 0.0


def test_constant_arms_have_zero_half_widths_and_no_ratio():
    runs = runs_of("retention_horizon", base=[0.5, 0.5, 0.5], a=[0.75, 0.75, 0.75])
    r = crn_efficiency(runs, "base").iloc[0]
    assert r.paired_half_width == 0.0 and r.independent_half_width == 0.0
    assert np.isnan([r.ratio, r.equivalent_replications, r.correlation, r.variance_ratio]).all()


def test_a_spread_baseline_and_a_steady_arm_are_still_compared_independently():
    runs = runs_of("retention_horizon", base=[0.60, 0.70, 0.80], a=[0.71, 0.71, 0.72])
    r = crn_efficiency(runs, "base").iloc[0]
    welch = stats.ttest_ind([0.71, 0.71, 0.72], [0.6, 0.7, 0.8], equal_var=False)
    ci = welch.confidence_interval(0.95)
    assert r.independent_half_width == pytest.approx((ci.high - ci.low) / 2)


# --------------------------------------------------------------------------------------------
# The words
# --------------------------------------------------------------------------------------------


def rows(**columns) -> pd.DataFrame:
    n = len(columns["kpi"])
    base = {"point": [""] * n, "arm": ["x"] * n, "n": [20] * n, "level": [0.95] * n}
    base |= {"seeds_needed": [np.nan] * n, "smallest_effect": [0.0025] * n}
    base |= {"clears": [False] * n, "note": [""] * n}
    return pd.DataFrame(base | columns)


def test_a_possibly_small_retention_gain_names_the_smallest_effect_in_points():
    diffs = rows(
        kpi=["retention_horizon", "npv"],
        mean_diff=[0.004, 1e6],
        ci_low=[0.001, -1e6],
        ci_high=[0.007, 3e6],
        verdict=[BETTER, UNDECIDED],
        seeds_needed=[np.nan, math.inf],
        smallest_effect=[0.0025, 0.0],
    )
    sentence = verdicts(diffs).iloc[0].sentence
    assert sentence == (
        "retention at 60 months +0.40 pts (simultaneous 95% CI +0.10 to +0.70, 20 seeds), better"
        " but possibly small (by at least 0.10 pts; 0.25 pts is worth acting on); NPV +CNY 1.0 M"
        " (CI -1.0 to +3.0), undecided (no number of seeds would decide it)"
    )


def test_an_undecided_verdict_without_an_interval_promises_no_number_of_seeds():
    diffs = rows(
        kpi=["retention_horizon", "npv"],
        n=[1, 20],
        mean_diff=[0.004, 1e6],
        ci_low=[np.nan, -1e6],
        ci_high=[np.nan, 3e6],
        verdict=[UNDECIDED, NEGLIGIBLE],
        note=["at least 2 paired seeds are needed", ""],
        seeds_needed=[np.nan, 40.0],
        smallest_effect=[0.0025, 5e6],
    )
    sentence = verdicts(diffs).iloc[0].sentence
    assert sentence == (
        "retention at 60 months +0.40 pts (1 seed, no CI: at least 2 paired seeds are needed),"
        " undecided; NPV +CNY 1.0 M (CI -1.0 to +3.0, 20 seeds), negligible"
    )
    assert "would decide" not in sentence


def test_verdicts_keep_the_order_the_arms_and_points_first_appear_in():
    order = [("b", "zeta"), ("b", "alpha"), ("a", "mid")]
    diffs = pd.concat(
        [
            rows(
                kpi=["retention_horizon", "npv"],
                point=[point] * 2,
                arm=[arm] * 2,
                mean_diff=[0.01, 1e6],
                ci_low=[0.005, 0.5e6],
                ci_high=[0.015, 1.5e6],
                verdict=[BETTER, BETTER],
                smallest_effect=[0.0025, 1e5],
                clears=[True, True],
            )
            for point, arm in order
        ],
        ignore_index=True,
    )
    table = verdicts(diffs)
    assert list(zip(table["point"], table["arm"], strict=True)) == order
