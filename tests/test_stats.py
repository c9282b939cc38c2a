"""experiments.stats against SciPy on synthetic runs with a known structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from experiments.stats import (
    HIGHER_IS_BETTER,
    KPIS,
    arm_summary,
    crn_efficiency,
    holm,
    paired_differences,
    verdicts,
)

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
    return 0.05 if kpi in SHARES or kpi == "satisfaction" else 1e7


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
            if arm == "baseline":  # the null arm: same per-seed level, alternating ±eps
                for i, seed in enumerate(seeds):
                    eps = (-1) ** i * 0.001
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


def test_kpi_directions():
    assert set(HIGHER_IS_BETTER) == set(KPIS)
    assert [k for k in KPIS if not HIGHER_IS_BETTER[k]] == ["cost", "complaints"]


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


def test_paired_differences_match_scipy():
    runs = make_runs()
    diffs = paired_differences(runs, "baseline")
    assert set(diffs.arm) == {"better", "worse", "mixed", "null"}
    assert len(diffs) == 4 * len(KPIS)
    for arm in ("better", "worse", "mixed"):
        for kpi in KPIS:
            a, b = values(runs, arm, kpi), values(runs, "baseline", kpi)
            r = row(diffs, arm=arm, kpi=kpi)
            t = stats.ttest_rel(a, b)
            ci = t.confidence_interval(0.95)
            d = a - b
            low, high = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
            assert r.n == len(SEEDS)
            assert r.mean_diff == pytest.approx(d.mean(), rel=1e-9)
            assert r.sd_diff == pytest.approx(d.std(ddof=1), rel=1e-9)
            assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
            assert (r.ci_low, r.ci_high) == pytest.approx((low, high), rel=1e-9)
            assert r.p_ttest == pytest.approx(t.pvalue, rel=1e-9)
            assert r.p_wilcoxon == pytest.approx(stats.wilcoxon(a, b).pvalue, rel=1e-9)
            assert r.baseline_mean == pytest.approx(b.mean(), rel=1e-12)
            assert r.arm_mean == pytest.approx(a.mean(), rel=1e-12)
            assert r.rel_diff == pytest.approx(d.mean() / b.mean(), rel=1e-9)
            # the known shift is recovered (noise sd is scale / 50: this is 3.5 standard errors)
            shift = SHIFTS[arm][0] if scale(kpi) < 1 else SHIFTS[arm][1]
            assert abs(r.mean_diff - shift) < scale(kpi) / 50


def test_rel_diff_nan_for_non_positive_baseline():
    runs = make_runs()
    runs.loc[runs.arm == "baseline", "npv"] = -1e6
    r = row(paired_differences(runs, "baseline", kpis=["npv"]), arm="better")
    assert np.isfinite(r.mean_diff) and np.isnan(r.rel_diff)


@pytest.mark.parametrize(
    "p, expected",
    [
        ([0.01, 0.04, 0.03], [0.03, 0.06, 0.06]),
        ([0.5, 0.01], [0.5, 0.02]),
        ([0.6, 0.7], [1.0, 1.0]),
        ([0.01, np.nan, 0.04], [0.02, np.nan, 0.04]),
        ([0.2], [0.2]),
        ([], []),
    ],
)
def test_holm_hand_computed(p, expected):
    np.testing.assert_allclose(holm(p), expected, rtol=1e-12)


def test_holm_family_is_arms_of_one_kpi_within_one_point():
    runs = make_runs(points=("a", "b"))
    diffs = paired_differences(runs, "baseline")
    assert len(diffs) == 2 * 4 * len(KPIS)
    for (_, _), family in diffs.groupby(["point", "kpi"]):
        assert len(family) == 4
        np.testing.assert_allclose(family.p_holm, holm(family.p_ttest.to_numpy()))
        np.testing.assert_allclose(family.p_wilcoxon_holm, holm(family.p_wilcoxon.to_numpy()))
        assert (family.p_holm >= family.p_ttest).all()


def test_points_are_paired_separately():
    runs = make_runs(points=("a", "b"))
    runs.loc[(runs.point == "b") & (runs.arm == "better"), "npv"] += 1e7
    diffs = paired_differences(runs, "baseline", kpis=["npv"])
    for point in ("a", "b"):
        d = values(runs, "better", "npv", point) - values(runs, "baseline", "npv", point)
        assert row(diffs, point=point, arm="better").mean_diff == pytest.approx(d.mean())


def test_verdicts_better_worse_null():
    runs = make_runs()
    diffs = paired_differences(runs, "baseline")
    v = verdicts(diffs).set_index("arm")
    assert set(v.index) == {"better", "worse", "mixed", "null"}
    assert (v.loc["better", "retention_verdict"], v.loc["better", "profit_verdict"]) == (
        "better",
        "better",
    )
    assert (v.loc["worse", "retention_verdict"], v.loc["worse", "profit_verdict"]) == (
        "worse",
        "worse",
    )
    assert (v.loc["mixed", "retention_verdict"], v.loc["mixed", "profit_verdict"]) == (
        "better",
        "worse",
    )
    assert v.loc["null", "retention_verdict"] == "not distinguishable"
    assert v.loc["null", "profit_verdict"] == "not distinguishable"
    r = row(diffs, arm="mixed", kpi="retention_horizon")
    assert v.loc["mixed", "retention_diff"] == r.mean_diff
    assert v.loc["mixed", "sentence"].startswith(
        f"retention {r.mean_diff * 100:+.1f} pts (95% CI {r.ci_low * 100:+.1f} to "
    )
    assert "; NPV -CNY " in v.loc["mixed", "sentence"]
    assert v.loc["mixed", "sentence"].endswith(", worse")


def test_verdict_sentence_format_hand_made():
    diffs = pd.DataFrame(
        {
            "point": ["", ""],
            "arm": ["x", "x"],
            "kpi": ["retention_horizon", "npv"],
            "n": [20, 20],
            "mean_diff": [0.024, -12.3e6],
            "ci_low": [0.019, -20.1e6],
            "ci_high": [0.029, -4.5e6],
            "p_holm": [0.001, 0.01],
            "level": [0.95, 0.95],
        }
    )
    v = verdicts(diffs).iloc[0]
    assert v.sentence == (
        "retention +2.4 pts (95% CI +1.9 to +2.9), better; "
        "NPV -CNY 12.3 M (CI -20.1 to -4.5), worse"
    )
    # not significant at alpha = 0.005 once Holm-adjusted
    v = verdicts(diffs, alpha=0.005).iloc[0]
    assert (v.retention_verdict, v.profit_verdict) == ("better", "not distinguishable")


def test_verdict_respects_lower_is_better():
    diffs = pd.DataFrame(
        {
            "point": [""] * 4,
            "arm": ["cheap", "cheap", "dear", "dear"],
            "kpi": ["retention_horizon", "cost"] * 2,
            "n": [10] * 4,
            "mean_diff": [0.0, -3e6, 0.0, 3e6],
            "ci_low": [-0.01, -4e6, -0.01, 2e6],
            "ci_high": [0.01, -2e6, 0.01, 4e6],
            "p_holm": [1.0, 0.001, 1.0, 0.001],
        }
    )
    v = verdicts(diffs, profit_kpi="cost").set_index("arm")
    assert v.loc["cheap", "profit_verdict"] == "better"
    assert v.loc["dear", "profit_verdict"] == "worse"
    assert v.loc["cheap", "retention_verdict"] == "not distinguishable"


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
    a = runs[(runs.arm == "better") & (runs.point == "a") & runs.seed.isin(common)]
    b = runs[(runs.arm == "baseline") & (runs.point == "a") & runs.seed.isin(common)]
    d = a.sort_values("seed").retention_horizon.to_numpy()
    d = d - b.sort_values("seed").retention_horizon.to_numpy()
    assert r.mean_diff == pytest.approx(d.mean())
    assert row(diffs, point="a", arm="better", kpi="npv").n == len(common) - 1  # NaN KPI
    w = row(diffs, point="a", arm="worse", kpi="npv")
    assert w.n == 1
    assert np.isnan([w.sd_diff, w.ci_low, w.ci_high, w.p_ttest, w.p_wilcoxon, w.p_holm]).all()
    nb = diffs[diffs.point == "b"]
    assert len(nb) == 4 * len(KPIS) and (nb.n == 0).all() and nb.mean_diff.isna().all()

    v = verdicts(diffs).set_index(["point", "arm"])
    assert v.loc[("a", "worse"), "retention_verdict"] == "not distinguishable"
    assert "(n=1, no CI)" in v.loc[("a", "worse"), "sentence"]
    assert v.loc[("a", "better"), "retention_verdict"] == "better"  # 10 pairs still enough
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
    s = row(diffs, arm="same", kpi="retention_horizon")
    assert (s.mean_diff, s.sd_diff, s.ci_low, s.ci_high) == (0.0, 0.0, 0.0, 0.0)
    assert (s.p_ttest, s.p_wilcoxon) == (1.0, 1.0)
    c = row(diffs, arm="shifted", kpi="complaints")
    assert (c.mean_diff, c.sd_diff, c.ci_low, c.ci_high, c.p_ttest) == (5.0, 0.0, 5.0, 5.0, 0.0)
    v = verdicts(diffs, profit_kpi="complaints").set_index("arm")
    assert v.loc["same", "retention_verdict"] == "not distinguishable"
    assert v.loc["shifted", "profit_verdict"] == "worse"  # more complaints


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
