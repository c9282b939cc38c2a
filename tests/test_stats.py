"""analysis.stats and sim.kpis against SciPy on synthetic runs with a known
structure, and the promises of the verdict procedure on random runs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from analysis.report.labels import Labels
from analysis.report.sections import skewed_text
from analysis.stats import (
    BETTER,
    KPIS,
    NEGLIGIBLE,
    TESTED_SKEWNESS,
    UNDECIDED,
    WORSE,
    arm_summary,
    clears,
    crn_efficiency,
    decide,
    paired_differences,
    seeds_needed,
    verdict_words,
    verdicts,
)
from sim.kpis import KINDS, NPV_PARTS, REGISTRY, VALUE_LOST_PARTS, decimals, registry

pytestmark = pytest.mark.filterwarnings("error")  # no warning may leak from the module

SEEDS = list(range(12))
SHARES = {"retention_12m", "retention_horizon", "retention_mid_high", "aum_retention"}
# (retention shift in share points, money shift in CNY) per arm; noise is small against the shift.
SHIFTS = {
    "baseline": (0.0, 0.0),
    "better": (0.03, 5e6),
    "worse": (-0.03, -5e6),
    "mixed": (0.03, -5e6),
}


def scale(kpi: str) -> float:
    return 0.05 if kpi in SHARES or REGISTRY[kpi].kind == "score" else 1e7


def make_runs(points=("",), seeds=SEEDS, rng_seed=1) -> pd.DataFrame:
    """Baseline = per-seed level; arms = baseline + known shift + small noise; "null" = ±eps."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    for point in points:
        level = {k: rng.normal(0.7 if scale(k) < 1 else 5e7, scale(k), len(seeds)) for k in KPIS}
        for arm, (ret_shift, money_shift) in SHIFTS.items():
            for i, seed in enumerate(seeds):
                row = {"arm": arm, "point": point, "seed": seed}
                for k in KPIS:
                    shift = ret_shift if scale(k) < 1 else money_shift
                    noise = 0.0 if arm == "baseline" else rng.normal(0, scale(k) / 50)
                    row[k] = level[k][i] + shift + noise
                rows.append(row)
            if arm == "baseline":  # the null arm: same per-seed level, ±eps
                for i, seed in enumerate(seeds):
                    eps = rng.uniform(-0.001, 0.001)
                    rows.append(
                        {"arm": "null", "point": point, "seed": seed}
                        | {k: level[k][i] + eps * scale(k) for k in KPIS}
                    )
    return pd.DataFrame(rows)


def values(runs, arm, kpi, point=""):
    sub = runs[(runs.arm == arm) & (runs.point == point)].sort_values("seed")
    return sub[kpi].to_numpy()


def row(frame, **keys) -> pd.Series:
    mask = np.logical_and.reduce([frame[k] == v for k, v in keys.items()])
    assert mask.sum() == 1, keys
    return frame[mask].iloc[0]


# --------------------------------------------------------------------------------------------


def test_kpi_registry_directions_units_and_smallest_effects():
    assert tuple(REGISTRY) == KPIS
    value_lost = ["value_lost", *(f"value_lost_{part}" for part in VALUE_LOST_PARTS)]
    lower = ["cost", *value_lost, "complaints", "effort"]
    assert [k for k in KPIS if not REGISTRY[k].higher_is_better] == lower
    assert {k.kind for k in REGISTRY.values()} <= set(KINDS)
    for name in ("retention_12m", "retention_horizon", "retention_mid_high", "aum_retention"):
        k = REGISTRY[name]
        assert (k.kind, k.smallest_effect, k.scale_by) == ("rate", 0.0025, "")
        assert k.threshold({}) == 0.0025 and k.threshold({}, 0.01) == 0.01
    scales = {"revenue": 4e8, "aum": -2e10, "mean": -4e7}
    for name in ("revenue", "cost", "profit", "npv", *NPV_PARTS):  # one scale for every flow
        k = REGISTRY[name]
        assert (k.kind, k.smallest_effect, k.scale_by) == ("money", 0.025, "revenue")
        assert k.threshold(scales) == pytest.approx(1e7)  # 2.5% of a year's revenue
        assert k.threshold(scales, 0.02) == pytest.approx(8e6)
    assert REGISTRY["aum_end"].threshold(scales) == pytest.approx(2e8)  # 1% of |opening AUM|
    assert REGISTRY["complaints"].threshold(scales) == pytest.approx(4e5)  # 1% of |mean|
    assert REGISTRY["satisfaction"].threshold(scales) == 0.01
    assert REGISTRY["npv"].describe_threshold() == "2.5% of a year's revenue of the baseline"
    assert REGISTRY["retention_horizon"].describe_threshold(0.005) == "0.5 pts"


def test_kpi_formatting():
    retention, npv = REGISTRY["retention_horizon"], REGISTRY["npv"]
    assert retention.amount(0.0004, 2) == "+0.04 pts"
    assert npv.amount(-12.34e6) == "-CNY 12.3 M"
    assert retention.number(-0.0) == "0.0" and retention.number(float("nan")) == "—"
    assert npv.axis(delta=True) == "Δ NPV over 60 months (CNY M)"
    assert retention.axis() == "Retention at 60 months (%)"
    assert registry(24)["retention_horizon"].axis() == "Retention at 24 months (%)"
    assert REGISTRY["complaints"].axis(delta=True) == "Δ Complaints"
    assert decimals(2.4, -1.1) == 1 and decimals(0.1, -0.02) == 2 and decimals(0.04) == 3
    assert decimals(0.0, float("nan")) == 1


@pytest.mark.parametrize("level", [0.95, 0.9])
def test_arm_summary_matches_scipy(level):
    runs = make_runs()
    summary = arm_summary(runs, level=level)
    assert list(summary.columns) == [
        "point",
        "arm",
        "kpi",
        "n",
        "mean",
        "sd",
        "ci_low",
        "ci_high",
    ]
    assert len(summary) == 5 * len(KPIS)
    for arm in ("baseline", "better", "null"):
        for kpi in ("retention_horizon", "npv", "complaints"):
            x = values(runs, arm, kpi)
            r = row(summary, arm=arm, kpi=kpi)
            low, high = stats.t.interval(level, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
            assert r.n == len(x)
            assert r["mean"] == pytest.approx(x.mean(), rel=1e-12)
            assert r.sd == pytest.approx(x.std(ddof=1), rel=1e-12)
            assert (r.ci_low, r.ci_high) == pytest.approx((low, high), rel=1e-12)
            assert r.ci_low < r["mean"] < r.ci_high


def test_paired_differences_match_scipy_and_contain_the_bonferroni_t_interval():
    runs = make_runs()
    diffs = paired_differences(runs, "baseline")
    assert set(diffs.arm) == {"better", "worse", "mixed", "null"}
    assert len(diffs) == 4 * len(KPIS)
    assert (diffs.family_size == 4).all() and (diffs.level == 0.95).all()
    assert diffs.interval_level.to_numpy() == pytest.approx(1 - 0.05 / 4)
    for arm in ("better", "worse", "mixed"):
        for kpi in KPIS:
            a, b = values(runs, arm, kpi), values(runs, "baseline", kpi)
            r = row(diffs, arm=arm, kpi=kpi)
            t = stats.ttest_rel(a, b)
            ci = t.confidence_interval(1 - 0.05 / 4)
            assert r.n == len(SEEDS)
            assert r.mean_diff == pytest.approx((a - b).mean(), rel=1e-9)
            assert r.sd_diff == pytest.approx((a - b).std(ddof=1), rel=1e-9)
            # never narrower than Student's t at the Bonferroni level, on either side
            tol = 1e-9 * abs(r.mean_diff) + 1e-12
            assert r.ci_low <= ci.low + tol and r.ci_high >= ci.high - tol
            assert r.ci_high - r.ci_low < 3 * (ci.high - ci.low)  # and not wildly wider
            assert r.p_ttest == pytest.approx(t.pvalue, rel=1e-9)
            assert r.p_wilcoxon == pytest.approx(stats.wilcoxon(a, b).pvalue, rel=1e-9)
            assert r.baseline_mean == pytest.approx(b.mean(), rel=1e-12)
            assert r.arm_mean == pytest.approx(a.mean(), rel=1e-12)
            assert r.rel_diff == pytest.approx((a - b).mean() / b.mean(), rel=1e-9)
            own = {"revenue": b.mean(), "aum": b.mean(), "mean": b.mean()}  # no revenue column
            assert r.smallest_effect == pytest.approx(REGISTRY[kpi].threshold(own))
            # the known shift is recovered within 4.5 standard errors (noise sd scale / 50 over
            # the seeds): over 3 arms x every KPI, about 130 checks, a bound of 3.5 would fail
            # some draw of noise about one time in 14, this one in about a thousand
            shift = SHIFTS[arm][0] if scale(kpi) < 1 else SHIFTS[arm][1]
            assert abs(r.mean_diff - shift) < 4.5 * scale(kpi) / 50 / np.sqrt(len(SEEDS))


@pytest.mark.parametrize("arms", [1, 2, 3, 5])
def test_bonferroni_level_is_one_minus_alpha_over_the_arms_with_pairs(arms):
    """m counts the arms of one point and KPI with at least 2 pairs; their intervals are at
    1 - alpha / m, at least as wide as Student's t there, and an arm with a single pair does
    not count."""
    rng = np.random.default_rng(arms)
    base = rng.normal(0.7, 0.05, 8)
    rows = [{"arm": "baseline", "seed": i, "retention_horizon": x} for i, x in enumerate(base)]
    for j in range(arms):
        xs = base + rng.normal(0.002 * j, 0.003, 8)
        rows += [{"arm": f"a{j}", "seed": i, "retention_horizon": x} for i, x in enumerate(xs)]
    rows.append({"arm": "lonely", "seed": 0, "retention_horizon": 0.9})  # one pair: not counted
    runs = pd.DataFrame(rows).assign(point="")
    for level in (0.95, 0.9):
        diffs = paired_differences(runs, "baseline", ["retention_horizon"], level)
        tested = diffs[diffs.n >= 2]
        assert len(tested) == arms and (tested.family_size == arms).all()
        assert tested.interval_level.to_numpy() == pytest.approx(1 - (1 - level) / arms)
        for r in tested.itertuples():
            d = values(runs, r.arm, "retention_horizon") - base
            low, high = stats.t.interval(
                1 - (1 - level) / arms, len(d) - 1, loc=d.mean(), scale=stats.sem(d)
            )
            assert r.ci_low <= low + 1e-12 and r.ci_high >= high - 1e-12
        lonely = row(diffs, arm="lonely", kpi="retention_horizon")
        assert np.isnan(lonely.ci_low) and lonely.verdict == UNDECIDED


def test_skewness_of_the_differences_is_reported_and_flagged_beyond_the_tested_range():
    runs = make_runs()
    base = runs[runs.arm == "baseline"]
    spikes = np.r_[np.zeros(10), 0.05, 0.0] + np.linspace(0, 1e-3, 12)  # one big seed
    skewed = base.assign(arm="spiky", retention_horizon=base.retention_horizon + spikes)
    diffs = paired_differences(pd.concat([runs, skewed]), "baseline", ["retention_horizon"])
    r = row(diffs, arm="spiky", kpi="retention_horizon")
    assert r.skewness == pytest.approx(stats.skew(spikes, bias=False))
    assert r.skewness > TESTED_SKEWNESS
    text = skewed_text(diffs, Labels(60), {})
    assert text.startswith("Skewed differences (per-seed skewness beyond ±1")
    assert f"spiky: retention at 60 months ({r.skewness:+.1f})." in text and "better:" not in text
    within = diffs[diffs.arm != "spiky"].assign(skewness=0.9)  # within the tested range
    assert skewed_text(within, Labels(60), {}) == ""


def test_families_are_one_point_and_one_kpi():
    runs = make_runs(points=("a", "b"))
    runs = runs[~((runs.point == "b") & (runs.arm == "null"))]  # 3 arms at b, 4 at a
    diffs = paired_differences(runs, "baseline")
    tested = diffs[diffs.n >= 2]
    assert set(tested.loc[tested.point == "a", "family_size"]) == {4}
    assert set(tested.loc[tested.point == "b", "family_size"]) == {3}


def test_rel_diff_nan_for_non_positive_baseline():
    runs = make_runs()
    runs.loc[runs.arm == "baseline", "npv"] = -1e6
    r = row(paired_differences(runs, "baseline", kpis=["npv"]), arm="better")
    assert np.isfinite(r.mean_diff) and np.isnan(r.rel_diff)
    assert r.smallest_effect == pytest.approx(2.5e4)  # 2.5% of |-1e6|: no revenue column


def test_money_smallest_effect_is_a_share_of_a_years_revenue_whatever_the_npv():
    """NPV near zero leaves its smallest effect where a year's revenue puts it, the same for
    NPV and its parts."""
    runs = make_runs()
    runs["revenue"], runs["months"] = 1e9, 60
    runs.loc[runs.arm == "baseline", "npv"] = 1e3
    diffs = paired_differences(runs, "baseline", kpis=["npv", *NPV_PARTS])
    assert diffs.smallest_effect.to_numpy() == pytest.approx(0.025 * 1e9 * 12 / 60)


def test_points_are_paired_separately():
    runs = make_runs(points=("a", "b"))
    runs.loc[(runs.point == "b") & (runs.arm == "better"), "npv"] += 1e7
    diffs = paired_differences(runs, "baseline", kpis=["npv"])
    for point in ("a", "b"):
        d = values(runs, "better", "npv", point) - values(runs, "baseline", "npv", point)
        assert row(diffs, point=point, arm="better").mean_diff == pytest.approx(d.mean())


# --------------------------------------------------------------------------------------------
# Verdicts: read off the interval
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "smallest", "higher", "verdict"),
    [
        (0.01, 0.03, 0.0025, True, BETTER),
        (0.01, 0.03, 0.0025, False, WORSE),
        (-0.03, -0.01, 0.0025, True, WORSE),
        (-0.002, 0.002, 0.0025, True, NEGLIGIBLE),
        (0.001, 0.002, 0.0025, True, NEGLIGIBLE),  # excludes 0 but too small to matter
        (-0.0025, 0.0025, 0.0025, True, NEGLIGIBLE),  # the edges count as within
        (0.001, 0.004, 0.0025, True, BETTER),  # real, possibly small
        (0.001, 0.0035, 0.0025, True, BETTER),  # real, possibly small (the centre is irrelevant)
        (-0.001, 0.004, 0.0025, True, UNDECIDED),
        (0.0, 0.0, 0.0, True, NEGLIGIBLE),
        (np.nan, np.nan, 0.0025, True, UNDECIDED),
    ],
)
def test_decide(low, high, smallest, higher, verdict):
    assert decide(low, high, smallest, higher) == verdict


@pytest.mark.parametrize(
    ("low", "high", "smallest", "expected"),
    [
        (0.003, 0.01, 0.0025, True),
        (0.0025, 0.01, 0.0025, True),
        (0.001, 0.01, 0.0025, False),  # reaches inside the smallest effect
        (-0.01, -0.003, 0.0025, True),
        (-0.01, -0.001, 0.0025, False),
        (0.001, 0.002, 0.0, True),  # any real difference clears a zero smallest effect
        (-0.001, 0.002, 0.0, False),
    ],
)
def test_clears(low, high, smallest, expected):
    assert clears(low, high, smallest) == expected


def test_verdict_words_say_possibly_small_only_for_a_real_difference_that_may_be_small():
    assert verdict_words(BETTER, False) == "better, possibly small"
    assert verdict_words(WORSE, False) == "worse, possibly small"
    assert verdict_words(BETTER, True) == BETTER
    assert verdict_words(NEGLIGIBLE, False) == NEGLIGIBLE
    assert verdict_words(UNDECIDED, False) == UNDECIDED


def test_verdicts_better_worse_negligible():
    runs = make_runs()
    diffs = paired_differences(runs, "baseline")
    v = verdicts(diffs).set_index("arm")
    assert set(v.index) == {"better", "worse", "mixed", "null"}
    expected = {
        "better": (BETTER, BETTER),
        "worse": (WORSE, WORSE),
        "mixed": (BETTER, WORSE),
        "null": (NEGLIGIBLE, NEGLIGIBLE),  # within ±0.25 pts and ±1% of the baseline
    }
    for arm, pair in expected.items():
        assert (v.loc[arm, "retention_verdict"], v.loc[arm, "profit_verdict"]) == pair
    # every KPI has its verdict, not only retention and NPV; more of a lower-is-better KPI (cost,
    # value lost to exits, complaints, effort) is worse
    better = diffs[diffs.arm == "better"].set_index("kpi")["verdict"]
    lower = [k for k in KPIS if not REGISTRY[k].higher_is_better]
    assert {"cost", "value_lost", "complaints", "effort"} <= set(lower)
    assert better.drop(lower).eq(BETTER).all()
    assert better[lower].eq(WORSE).all()
    r = row(diffs, arm="mixed", kpi="retention_horizon")
    assert v.loc["mixed", "retention_diff"] == r.mean_diff
    assert v.loc["mixed", "sentence"].startswith(
        f"retention at 60 months {r.mean_diff * 100:+.1f} pts (simultaneous 95% CI"
        f" {r.ci_low * 100:+.1f} to {r.ci_high * 100:+.1f}, {len(SEEDS)} seeds), better by at"
        f" least {r.ci_low * 100:.1f} pts; NPV -CNY "
    )
    npv = row(diffs, arm="mixed", kpi="npv")
    assert v.loc["mixed", "sentence"].endswith(
        f", worse by at least CNY {-npv.ci_high / 1e6:.1f} M"
    )


def hand_made(**columns) -> pd.DataFrame:
    """Rows of paired differences for the verdict and sentence tests (one arm, "x")."""
    n = len(columns["kpi"])
    base = {"point": [""] * n, "arm": ["x"] * n, "n": [20] * n, "level": [0.95] * n}
    base |= {"seeds_needed": [np.nan] * n, "smallest_effect": [0.0025] * n}
    base |= {"clears": [True] * n, "note": [""] * n}
    return pd.DataFrame(base | columns)


def test_verdict_sentence_format_hand_made():
    diffs = hand_made(
        kpi=["retention_horizon", "npv"],
        mean_diff=[0.024, -12.3e6],
        ci_low=[0.019, -20.1e6],
        ci_high=[0.029, -4.5e6],
        verdict=[BETTER, WORSE],
        smallest_effect=[0.0025, 5e6],
        clears=[True, False],
    )
    assert verdicts(diffs).iloc[0].sentence == (
        "retention at 60 months +2.4 pts (simultaneous 95% CI +1.9 to +2.9, 20 seeds), better by"
        " at least 1.9 pts; NPV -CNY 12.3 M (CI -20.1 to -4.5), worse but possibly small (by at"
        " least CNY 4.5 M; CNY 5.0 M is worth acting on)"
    )
    labelled = verdicts(diffs, kpis=registry(24)).iloc[0].sentence
    assert labelled.startswith("retention at 24 months +2.4 pts (simultaneous")


def test_small_retention_differences_show_two_decimals_and_undecided_says_seeds():
    diffs = hand_made(
        kpi=["retention_horizon", "npv"],
        n=[40, 30],
        mean_diff=[0.0004, 0.3e6],
        ci_low=[-0.0002, -1.2e6],
        ci_high=[0.001, 1.8e6],
        verdict=[NEGLIGIBLE, UNDECIDED],
        seeds_needed=[np.nan, 80.0],
    )
    assert verdicts(diffs).iloc[0].sentence == (
        "retention at 60 months +0.04 pts (simultaneous 95% CI -0.02 to +0.10, 40 seeds),"
        " negligible; "
        "NPV +CNY 0.3 M (CI -1.2 to +1.8, 30 seeds), undecided (about 80 seeds would decide it)"
    )


def test_verdict_respects_lower_is_better():
    runs = make_runs()
    base = runs[runs.arm == "baseline"]
    noise = np.random.default_rng(3).normal(0, 1e5, len(base))
    cheap = base.assign(arm="cheap", cost=base.cost - 3e6 + noise)
    dear = base.assign(arm="dear", cost=base.cost + 3e6 + noise)
    diffs = paired_differences(pd.concat([base, cheap, dear]), "baseline", ["npv", "cost"])
    v = verdicts(diffs, retention_kpi="npv", profit_kpi="cost").set_index("arm")
    assert v.loc["cheap", "profit_verdict"] == BETTER  # less cost
    assert v.loc["dear", "profit_verdict"] == WORSE
    assert v.loc["cheap", "retention_verdict"] == UNDECIDED  # the very same NPV: no interval
    assert "(12 seeds, no CI: the same on every seed" in v.loc["cheap", "sentence"]


def test_smallest_effect_settings_replace_the_defaults():
    runs = make_runs()
    settings = {"retention_horizon": 0.05, "npv": 0.5}  # 5 pts; half the baseline's |NPV|
    diffs = paired_differences(runs, "baseline", smallest_effect=settings)
    base = values(runs, "baseline", "npv").mean()
    r = row(diffs, arm="better", kpi="retention_horizon")
    assert r.smallest_effect == 0.05 and r.verdict == NEGLIGIBLE  # +3 pts is now too small
    n = row(diffs, arm="better", kpi="npv")
    assert n.smallest_effect == pytest.approx(0.5 * abs(base)) and n.verdict == NEGLIGIBLE
    assert row(diffs, arm="better", kpi="profit").verdict == BETTER  # the others keep theirs


def test_seeds_needed_is_finite_above_n_and_shrinks_the_interval_to_its_margin():
    # beyond the smallest effect: the half-width must shrink to |mean| to exclude 0
    assert seeds_needed(10, 0.003, -0.001, 0.007, 0.0025) == math.ceil(10 * (4 / 3) ** 2)
    # near 0: the half-width must shrink to smallest - |mean| to make it negligible
    assert seeds_needed(20, 0.0005, -0.003, 0.004, 0.0025) == math.ceil(20 * (3.5 / 2) ** 2)
    # between: to |mean| (better, possibly small) before smallest - |mean| (negligible)
    assert seeds_needed(10, 0.002, -0.001, 0.005, 0.0025) == math.ceil(10 * (3 / 2) ** 2)
    assert seeds_needed(10, 0.002, 0.0, 0.004, 0.0) == 11  # on the edge: at least one more
    assert seeds_needed(20, 0.0, -0.001, 0.001, 0.0) == math.inf  # no margin to shrink to


CASES = st.tuples(
    st.integers(2, 30),  # pairs
    st.floats(-0.03, 0.03),  # true mean difference
    st.floats(1e-4, 0.05),  # sd of the differences
    st.floats(0.0, 0.02),  # smallest effect, absolute (retention) or relative (cost)
    st.sampled_from(["retention_horizon", "cost"]),
    st.integers(0, 2**32 - 1),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(CASES, min_size=1, max_size=4))
def test_no_row_contradicts_its_interval(cases):
    """On random runs, every row's verdict is what its own interval says, and an undecided row
    says a finite number of seeds above n would decide it."""
    frames, smallest = [], {}
    for j, (n, mu, sd, effect, kpi, seed) in enumerate(cases):
        rng = np.random.default_rng(seed)
        base = rng.normal(0.7, 0.05, n)
        smallest[kpi] = effect
        frames.append(
            pd.DataFrame(
                {"arm": "baseline", "point": f"{j}", "seed": range(n), "kpi": kpi, "x": base}
            )
        )
        arm = base + rng.normal(mu, sd, n)
        frames.append(
            pd.DataFrame({"arm": "arm", "point": f"{j}", "seed": range(n), "kpi": kpi, "x": arm})
        )
    for kpi, runs in pd.concat(frames).groupby("kpi"):
        runs = runs.rename(columns={"x": kpi})
        diffs = paired_differences(runs, "baseline", [kpi], smallest_effect=smallest)
        k = REGISTRY[kpi]
        for r in diffs.itertuples():
            own = {"revenue": r.baseline_mean, "aum": r.baseline_mean, "mean": r.baseline_mean}
            assert r.smallest_effect == pytest.approx(k.threshold(own, smallest[kpi]))
            assert r.verdict == decide(r.ci_low, r.ci_high, r.smallest_effect, k.higher_is_better)
            if r.note:  # no interval: undecided, and nothing claimed
                assert np.isnan([r.ci_low, r.ci_high]).all() and r.verdict == UNDECIDED
                assert np.isnan(r.seeds_needed) and not r.clears
                continue
            inside = -r.smallest_effect <= r.ci_low and r.ci_high <= r.smallest_effect
            excludes = r.ci_low > 0 or r.ci_high < 0
            assert r.ci_low < r.mean_diff < r.ci_high  # never a zero-width interval
            if r.verdict == NEGLIGIBLE:
                assert inside
            elif r.verdict in (BETTER, WORSE):
                assert excludes and not inside
                assert ((r.mean_diff > 0) == k.higher_is_better) == (r.verdict == BETTER)
                assert r.clears == (min(abs(r.ci_low), abs(r.ci_high)) >= r.smallest_effect)
            else:
                assert not inside and not excludes and not r.clears
                assert r.n < r.seeds_needed < math.inf


def test_partial_data_gives_nan_and_no_crash():
    runs = make_runs(points=("a", "b"))
    drop = (
        ((runs.arm == "worse") & (runs.seed > 0))  # worse: one run per point
        | ((runs.arm == "baseline") & runs.seed.isin([3, 7]))  # baseline: two seeds missing
        | ((runs.arm == "baseline") & (runs.point == "b"))  # no baseline at point b
        | ((runs.arm == "null") & (runs.point == "b"))  # null arm absent at b
    )
    runs = runs[~drop]
    runs.loc[runs.index[(runs.arm == "better") & (runs.seed == 5)], "npv"] = np.nan

    summary = arm_summary(runs)
    w = row(summary, point="a", arm="worse", kpi="npv")
    assert w.n == 1 and np.isfinite(w["mean"])
    assert np.isnan(w.sd) and np.isnan(w.ci_low) and np.isnan(w.ci_high)
    nb = row(summary, point="b", arm="baseline", kpi="npv")
    assert nb.n == 0 and np.isnan(nb["mean"])
    assert row(summary, point="a", arm="better", kpi="npv").n == len(SEEDS) - 1

    diffs = paired_differences(runs, "baseline")
    r = row(diffs, point="a", arm="better", kpi="retention_horizon")
    common = [s for s in SEEDS if s not in (3, 7)]
    assert r.n == len(common)
    assert r.family_size == 3  # better, mixed and null; worse has a single pair
    a = runs[(runs.arm == "better") & (runs.point == "a") & runs.seed.isin(common)]
    b = runs[(runs.arm == "baseline") & (runs.point == "a") & runs.seed.isin(common)]
    d = a.sort_values("seed").retention_horizon.to_numpy()
    d = d - b.sort_values("seed").retention_horizon.to_numpy()
    assert r.mean_diff == pytest.approx(d.mean())
    assert row(diffs, point="a", arm="better", kpi="npv").n == len(common) - 1  # NaN KPI
    w = row(diffs, point="a", arm="worse", kpi="npv")
    assert w.n == 1 and w.verdict == UNDECIDED
    assert np.isnan([w.sd_diff, w.ci_low, w.ci_high, w.p_ttest]).all()
    assert np.isnan(w.seeds_needed)
    nb = diffs[diffs.point == "b"]
    assert len(nb) == 4 * len(KPIS) and (nb.n == 0).all() and nb.mean_diff.isna().all()
    assert (nb.verdict == UNDECIDED).all()

    v = verdicts(diffs).set_index(["point", "arm"])
    assert v.loc[("a", "worse"), "retention_verdict"] == UNDECIDED
    text = v.loc[("a", "worse"), "sentence"]
    assert "(1 seed, no CI: at least 2 paired seeds are needed), undecided" in text
    assert v.loc[("a", "better"), "retention_verdict"] == BETTER  # 10 pairs still enough
    assert "no paired runs" in v.loc[("b", "better"), "sentence"]

    crn = crn_efficiency(runs, "baseline").set_index(["point", "arm"])
    assert np.isnan(crn.loc[("a", "worse"), ["ratio", "equivalent_replications"]]).all()
    assert crn.loc[("b", "better"), "n"] == 0


def test_only_baseline_runs():
    runs = make_runs()
    runs = runs[runs.arm == "baseline"]
    diffs = paired_differences(runs, "baseline")
    assert diffs.empty
    assert verdicts(diffs).empty
    assert crn_efficiency(runs, "baseline").empty


def test_degenerate_differences():
    runs = make_runs()
    base = runs[runs.arm == "baseline"]
    same = base.assign(arm="same")
    shifted = base.assign(arm="shifted", complaints=base.complaints.round() + 5.0)
    base = base.assign(complaints=base.complaints.round())
    runs = pd.concat([base, same.assign(complaints=base.complaints), shifted])
    diffs = paired_differences(runs, "baseline", kpis=["retention_horizon", "complaints"])
    # equal differences carry no information on their spread: no interval, never a zero-width one
    s = row(diffs, arm="same", kpi="retention_horizon")
    assert (s.mean_diff, s.sd_diff, s.p_ttest, s.p_wilcoxon) == (0.0, 0.0, 1.0, 1.0)
    assert np.isnan([s.ci_low, s.ci_high]).all() and s.verdict == UNDECIDED
    assert s.note == "the same on every seed, no spread to make an interval from"
    c = row(diffs, arm="shifted", kpi="complaints")
    assert (c.mean_diff, c.sd_diff, c.p_ttest) == (5.0, 0.0, 0.0)
    assert np.isnan([c.ci_low, c.ci_high]).all() and c.verdict == UNDECIDED and c.note
    strict = paired_differences(runs, "baseline", ["complaints"], smallest_effect={"complaints": 0})
    assert row(strict, arm="shifted", kpi="complaints").verdict == UNDECIDED
    # a sample of two values (mostly zeros) has no interval either, with the count in words
    few = base.assign(arm="few", complaints=base.complaints + np.r_[np.zeros(10), 3.0, 3.0])
    r = row(paired_differences(pd.concat([base, few]), "baseline", ["complaints"]), arm="few")
    assert r.verdict == UNDECIDED and r.note.startswith("only 2 distinct differences, too few")


def test_crn_efficiency_correlated_and_independent():
    rng = np.random.default_rng(7)
    n = 400
    level = rng.normal(0.7, 0.05, n)
    rows = [
        {"arm": "baseline", "point": "", "seed": i, "retention_horizon": x}
        for i, x in enumerate(level)
    ]
    correlated = level + 0.01 + rng.normal(0, 0.005, n)
    independent = rng.normal(0.71, 0.05, n)
    for arm, xs in (("crn", correlated), ("indep", independent)):
        rows += [
            {"arm": arm, "point": "", "seed": i, "retention_horizon": x} for i, x in enumerate(xs)
        ]
    crn = crn_efficiency(pd.DataFrame(rows), "baseline").set_index("arm")

    for arm, xs in (("crn", correlated), ("indep", independent)):
        paired = stats.ttest_rel(xs, level).confidence_interval(0.95)
        welch = stats.ttest_ind(xs, level, equal_var=False).confidence_interval(0.95)
        r = crn.loc[arm]
        assert r.n == n
        assert r.paired_half_width == pytest.approx((paired.high - paired.low) / 2, rel=1e-9)
        assert r.independent_half_width == pytest.approx((welch.high - welch.low) / 2, rel=1e-9)
        assert r.ratio == pytest.approx(r.paired_half_width / r.independent_half_width)
        assert r.equivalent_replications == pytest.approx(r.ratio**-2)
        assert r.correlation == pytest.approx(stats.pearsonr(xs, level).statistic)

    assert crn.loc["crn", "ratio"] < 0.2
    assert crn.loc["crn", "equivalent_replications"] > 25
    assert crn.loc["crn", "correlation"] > 0.9
    assert crn.loc["indep", "ratio"] == pytest.approx(1.0, abs=0.15)
    assert crn.loc["indep", "variance_ratio"] == pytest.approx(1.0, abs=0.3)


def test_input_validation():
    runs = make_runs()
    with pytest.raises(ValueError, match="duplicate"):
        arm_summary(pd.concat([runs, runs.iloc[:1]]))
    with pytest.raises(KeyError, match="npv"):
        arm_summary(runs.drop(columns="npv"))
    no_point = runs.drop(columns="point")
    pd.testing.assert_frame_equal(
        paired_differences(no_point, "baseline"), paired_differences(runs, "baseline")
    )
    with pytest.raises(ValueError, match="npv"):
        verdicts(paired_differences(runs, "baseline", kpis=["retention_horizon"]))
    with pytest.raises(KeyError, match="nope"):
        paired_differences(runs.assign(nope=1.0), "baseline", kpis=["nope"])


def test_crn_efficiency_small_unequal_variances_uses_welch():
    base = np.array([0.61, 0.64, 0.60, 0.66, 0.63, 0.62])
    arm = np.array([0.70, 0.58, 0.75, 0.69, 0.55, 0.77])
    runs = pd.DataFrame(
        [
            {"arm": "baseline", "point": "", "seed": i, "retention_horizon": x}
            for i, x in enumerate(base)
        ]
        + [{"arm": "x", "point": "", "seed": i, "retention_horizon": x} for i, x in enumerate(arm)]
    )
    r = crn_efficiency(runs, "baseline").iloc[0]
    welch = stats.ttest_ind(arm, base, equal_var=False).confidence_interval(0.95)
    pooled = stats.ttest_ind(arm, base, equal_var=True).confidence_interval(0.95)
    assert r.independent_half_width == pytest.approx((welch.high - welch.low) / 2, rel=1e-9)
    assert r.independent_half_width != pytest.approx((pooled.high - pooled.low) / 2, rel=1e-3)
    d = arm - base
    assert r.variance_ratio == pytest.approx(d.var(ddof=1) / (arm.var(ddof=1) + base.var(ddof=1)))
