"""Statistics over experiment runs: per-arm summaries, paired (CRN) differences and verdicts.

``runs`` is a long DataFrame with one row per successful run: ``arm`` (str), ``point`` (str, ""
when there is no parameter point; a missing column is read as ""), ``seed`` (int) and float KPI
columns. Every arm shares the seeds (common random numbers), so an arm is compared with the
baseline on runs paired by (point, seed). The functions are pure, accept partial data (missing
runs leave NaN wherever a statistic needs more runs) and return tidy DataFrames with one row per
(point, arm[, kpi]) over every point and arm present in ``runs``, in order of first appearance.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

KPIS: tuple[str, ...] = (
    "retention_12m",
    "retention_horizon",
    "retention_mid_high",
    "aum_retention",
    "revenue",
    "cost",
    "profit",
    "npv",
    "new_customers",
    "complaints",
    "satisfaction",
)
"""Default KPIs: retention-like shares (0-1), money in CNY, counts and a 0-1 satisfaction."""

HIGHER_IS_BETTER: dict[str, bool] = {kpi: kpi not in ("cost", "complaints") for kpi in KPIS}
"""Direction of each default KPI; KPIs not listed are taken as higher-is-better."""

VERDICTS: tuple[str, ...] = ("better", "worse", "not distinguishable")

_NAN = float("nan")


# --------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values, in input order.

    NaN p-values (no test possible) are left NaN and not counted in the family size.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m:
        order = np.argsort(p[ok], kind="stable")
        stepped = (m - np.arange(m)) * p[ok][order]
        adjusted = np.empty(m)
        adjusted[order] = np.minimum(1.0, np.maximum.accumulate(stepped))
        out[ok] = adjusted
    return out


def arm_summary(
    runs: pd.DataFrame, kpis: Sequence[str] = KPIS, level: float = 0.95
) -> pd.DataFrame:
    """Per (point, arm) and KPI: n, mean, sd and the Student-t CI of the mean.

    Columns: point, arm, kpi, n, mean, sd, ci_low, ci_high. NaN KPI values are ignored; sd and
    CI are NaN when n < 2 (mean NaN when n = 0); a zero sd gives the degenerate CI (mean, mean).
    """
    df = _prepare(runs, kpis)
    groups = {key: g for key, g in df.groupby(["point", "arm"], sort=False)}
    rows = []
    for point in _unique(df["point"]):
        for arm in _unique(df["arm"]):
            g = groups.get((point, arm))
            for kpi in kpis:
                x = g[kpi].dropna().to_numpy() if g is not None else np.empty(0)
                n = len(x)
                mean = float(np.mean(x)) if n else _NAN
                sd = float(np.std(x, ddof=1)) if n >= 2 else _NAN
                low, high = _t_interval(mean, sd, n, level)
                rows.append(
                    {
                        "point": point,
                        "arm": arm,
                        "kpi": kpi,
                        "n": n,
                        "mean": mean,
                        "sd": sd,
                        "ci_low": low,
                        "ci_high": high,
                    }
                )
    return pd.DataFrame(rows, columns=_SUMMARY_COLUMNS)


def paired_differences(
    runs: pd.DataFrame, baseline: str, kpis: Sequence[str] = KPIS, level: float = 0.95
) -> pd.DataFrame:
    """Arm − baseline differences paired on (point, seed), per non-baseline arm, point and KPI.

    Columns: point, arm, kpi, n (pairs with both values), baseline_mean and arm_mean (over those
    pairs), mean_diff, sd_diff, ci_low/ci_high (Student-t CI of the mean difference), rel_diff
    (mean_diff / baseline_mean, NaN unless baseline_mean > 0, e.g. for a negative NPV), p_ttest
    (``scipy.stats.ttest_rel``), p_wilcoxon (``scipy.stats.wilcoxon``, zero differences dropped),
    p_holm and p_wilcoxon_holm (Holm across the arms of one KPI within one point), level.

    Degenerate cases, without SciPy warnings: n < 2 gives NaN sd, CI and p-values; differences
    that are all zero give p = 1.0 for both tests and the CI (0, 0); a constant non-zero
    difference gives the CI (d, d) and p_ttest = 0.0. With few pairs the exact Wilcoxon p-value
    cannot be small (at least 2 / 2**n), so it is a check on the t-test, not a substitute.
    A baseline with no runs (at a point or at all) gives rows with n = 0.
    """
    df = _prepare(runs, kpis)
    arm_runs = df[df["arm"] != baseline]
    base_runs = df.loc[df["arm"] == baseline, ["point", "seed", *kpis]]
    pairs = arm_runs.merge(base_runs, on=["point", "seed"], suffixes=("@arm", "@base"))
    groups = {key: g for key, g in pairs.groupby(["point", "arm"], sort=False)}
    rows = []
    for point in _unique(df["point"]):
        for arm in _unique(arm_runs["arm"]):
            g = groups.get((point, arm))
            for kpi in kpis:
                if g is None:
                    a = b = np.empty(0)
                else:
                    both = g[[f"{kpi}@arm", f"{kpi}@base"]].dropna().to_numpy()
                    a, b = both[:, 0], both[:, 1]
                rows.append({"point": point, "arm": arm, "kpi": kpi, **_paired(a, b, level)})
    out = pd.DataFrame(rows, columns=_DIFF_COLUMNS[:-3])
    family = out.groupby(["point", "kpi"], sort=False)
    out["p_holm"] = family["p_ttest"].transform(holm)
    out["p_wilcoxon_holm"] = family["p_wilcoxon"].transform(holm)
    out["level"] = level
    return out


def verdicts(
    differences: pd.DataFrame,
    alpha: float = 0.05,
    retention_kpi: str = "retention_horizon",
    profit_kpi: str = "npv",
) -> pd.DataFrame:
    """Plain-language verdicts per (point, arm) on retention and on profit.

    ``differences`` is the output of :func:`paired_differences`. A KPI is "better" or "worse"
    when its Holm-adjusted paired t p-value is below ``alpha``, by the sign of the difference and
    the KPI's direction (:data:`HIGHER_IS_BETTER`), otherwise "not distinguishable" (including
    when there are too few pairs to test). Retention is reported in percentage points, profit in
    CNY millions, e.g. "retention +2.4 pts (95% CI +1.9 to +2.9), better; NPV -CNY 12.3 M
    (CI -20.1 to -4.5), worse".

    Columns: point, arm, then for role in (retention, profit): {role}_kpi, {role}_n,
    {role}_diff, {role}_ci_low, {role}_ci_high, {role}_p_holm, {role}_verdict (differences and
    CIs in the KPI's own units); and sentence.
    """
    missing = {retention_kpi, profit_kpi} - set(differences["kpi"])
    if missing and len(differences):
        raise ValueError(f"differences has no rows for KPI(s) {sorted(missing)}")
    indexed = differences.set_index(["point", "arm", "kpi"])
    roles = {"retention": retention_kpi, "profit": profit_kpi}
    rows = []
    for point, arm in differences[["point", "arm"]].drop_duplicates().itertuples(index=False):
        row: dict = {"point": point, "arm": arm}
        parts = []
        for role, kpi in roles.items():
            d = _lookup(indexed, (point, arm, kpi))
            verdict = _verdict(d, kpi, alpha)
            row |= {
                f"{role}_kpi": kpi,
                f"{role}_n": int(d["n"]),
                f"{role}_diff": d["mean_diff"],
                f"{role}_ci_low": d["ci_low"],
                f"{role}_ci_high": d["ci_high"],
                f"{role}_p_holm": d["p_holm"],
                f"{role}_verdict": verdict,
            }
            parts.append(_sentence_part(role, kpi, d, verdict, first=not parts))
        row["sentence"] = "; ".join(parts)
        rows.append(row)
    columns = ["point", "arm"]
    for role in roles:
        columns += [f"{role}_{c}" for c in ("kpi", "n", "diff", "ci_low", "ci_high", "p_holm")]
        columns.append(f"{role}_verdict")
    return pd.DataFrame(rows, columns=[*columns, "sentence"])


def crn_efficiency(
    runs: pd.DataFrame, baseline: str, kpi: str = "retention_horizon", level: float = 0.95
) -> pd.DataFrame:
    """How much common random numbers narrow the CI of an arm − baseline difference.

    For each (point, non-baseline arm), on the runs paired by seed: the paired CI half-width
    (Student t on the differences) versus the Welch two-sample CI half-width the same runs give
    when treated as independent samples (``scipy.stats.ttest_ind(equal_var=False)``). Reusing
    the same runs makes the independent half-width an estimate of what independent seeds would
    give, not a measurement. With few pairs it also carries the t-quantile difference (n - 1
    versus Welch degrees of freedom); ``variance_ratio`` is the quantile-free part.

    Columns: point, arm, n (pairs), correlation (Pearson, arm vs baseline), paired_half_width,
    independent_half_width, ratio (paired / independent; < 1 means CRN helps),
    equivalent_replications ((independent / paired)**2: how many times more independent
    replications would give the same CI width), variance_ratio (var(arm − baseline) /
    (var(arm) + var(baseline))). NaN when n < 2 or a ratio is 0 / 0.
    """
    diffs = paired_differences(runs, baseline, kpis=[kpi], level=level)
    df = _prepare(runs, [kpi])
    base = df.loc[df["arm"] == baseline, ["point", "seed", kpi]]
    pairs = df[df["arm"] != baseline].merge(base, on=["point", "seed"], suffixes=("@a", "@b"))
    pairs = pairs.dropna(subset=[f"{kpi}@a", f"{kpi}@b"])
    groups = {key: g for key, g in pairs.groupby(["point", "arm"], sort=False)}
    rows = []
    for d in diffs.itertuples(index=False):
        g = groups.get((d.point, d.arm))
        a = g[f"{kpi}@a"].to_numpy() if g is not None else np.empty(0)
        b = g[f"{kpi}@b"].to_numpy() if g is not None else np.empty(0)
        paired_hw = (d.ci_high - d.ci_low) / 2
        independent_hw = correlation = variance_ratio = _NAN
        if d.n >= 2:
            var_a, var_b = np.var(a, ddof=1), np.var(b, ddof=1)
            variance_ratio = _ratio(d.sd_diff**2, var_a + var_b)
            if var_a > 0 and var_b > 0:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    correlation = float(stats.pearsonr(a, b).statistic)
            if var_a + var_b > 0:
                ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(level)
                independent_hw = float(ci.high - ci.low) / 2
            else:
                independent_hw = 0.0
        ratio = _ratio(paired_hw, independent_hw)
        rows.append(
            {
                "point": d.point,
                "arm": d.arm,
                "n": d.n,
                "correlation": correlation,
                "paired_half_width": paired_hw,
                "independent_half_width": independent_hw,
                "ratio": ratio,
                "equivalent_replications": _ratio(independent_hw, paired_hw) ** 2,
                "variance_ratio": variance_ratio,
            }
        )
    return pd.DataFrame(rows, columns=_CRN_COLUMNS)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

_SUMMARY_COLUMNS = ["point", "arm", "kpi", "n", "mean", "sd", "ci_low", "ci_high"]
_DIFF_COLUMNS = [
    "point",
    "arm",
    "kpi",
    "n",
    "baseline_mean",
    "arm_mean",
    "mean_diff",
    "sd_diff",
    "ci_low",
    "ci_high",
    "rel_diff",
    "p_ttest",
    "p_wilcoxon",
    "p_holm",
    "p_wilcoxon_holm",
    "level",
]
_CRN_COLUMNS = [
    "point",
    "arm",
    "n",
    "correlation",
    "paired_half_width",
    "independent_half_width",
    "ratio",
    "equivalent_replications",
    "variance_ratio",
]


def _prepare(runs: pd.DataFrame, kpis: Sequence[str]) -> pd.DataFrame:
    """Validated copy: point as str ("" if absent), KPIs as float, unique (arm, point, seed)."""
    missing = [c for c in ("arm", "seed", *kpis) if c not in runs.columns]
    if missing:
        raise KeyError(f"runs is missing column(s) {missing}")
    df = runs[[c for c in ("arm", "point", "seed", *kpis) if c in runs.columns]].copy()
    df["point"] = df["point"].fillna("").astype(str) if "point" in df else ""
    df["arm"] = df["arm"].astype(str)
    for kpi in kpis:
        df[kpi] = pd.to_numeric(df[kpi]).astype(float)
    duplicated = df.duplicated(["arm", "point", "seed"])
    if duplicated.any():
        keys = df.loc[duplicated, ["arm", "point", "seed"]].to_dict("records")
        raise ValueError(f"duplicate runs for (arm, point, seed): {keys[:5]}")
    return df


def _unique(values: pd.Series) -> list:
    return list(pd.unique(values))


def _t_interval(mean: float, sd: float, n: int, level: float) -> tuple[float, float]:
    """Student-t CI of a mean; NaN for n < 2, (mean, mean) for a zero sd."""
    if n < 2 or not np.isfinite(sd):
        return _NAN, _NAN
    if sd == 0:
        return mean, mean
    low, high = stats.t.interval(level, n - 1, loc=mean, scale=sd / math.sqrt(n))
    return float(low), float(high)


def _paired(a: np.ndarray, b: np.ndarray, level: float) -> dict:
    """Statistics of the paired differences a − b (see :func:`paired_differences`)."""
    n = len(a)
    d = a - b
    base_mean = float(np.mean(b)) if n else _NAN
    mean = float(np.mean(d)) if n else _NAN
    sd = float(np.std(d, ddof=1)) if n >= 2 else _NAN
    low, high = _t_interval(mean, sd, n, level)
    if n < 2:
        p_t = p_w = _NAN
    elif not d.any():
        p_t = p_w = 1.0
    else:
        # Near-constant differences make SciPy warn about precision loss; the result stands.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)
            p_t = float(stats.ttest_rel(a, b).pvalue)
            p_w = float(stats.wilcoxon(a, b).pvalue)
    return {
        "n": n,
        "baseline_mean": base_mean,
        "arm_mean": float(np.mean(a)) if n else _NAN,
        "mean_diff": mean,
        "sd_diff": sd,
        "ci_low": low,
        "ci_high": high,
        "rel_diff": mean / base_mean if base_mean > 0 else _NAN,
        "p_ttest": p_t,
        "p_wilcoxon": p_w,
    }


def _ratio(num: float, den: float) -> float:
    """num / den with x / 0 = inf for x > 0 and NaN for 0 / 0 or NaN inputs."""
    if not (np.isfinite(num) and np.isfinite(den)):
        return _NAN
    if den == 0:
        return math.inf if num > 0 else _NAN
    return float(num / den)


def _lookup(indexed: pd.DataFrame, key: tuple) -> pd.Series:
    """The differences row for (point, arm, kpi), or an empty n = 0 row."""
    if key in indexed.index:
        return indexed.loc[key]
    return pd.Series({"n": 0, "mean_diff": _NAN, "ci_low": _NAN, "ci_high": _NAN, "p_holm": _NAN})


def _verdict(d: pd.Series, kpi: str, alpha: float) -> str:
    p, diff = d["p_holm"], d["mean_diff"]
    if not (np.isfinite(p) and p < alpha and np.isfinite(diff)) or diff == 0:
        return "not distinguishable"
    improved = (diff > 0) == HIGHER_IS_BETTER.get(kpi, True)
    return "better" if improved else "worse"


def _sentence_part(role: str, kpi: str, d: pd.Series, verdict: str, first: bool) -> str:
    """E.g. "retention +2.4 pts (95% CI +1.9 to +2.9), better" or "NPV -CNY 12.3 M (...)"."""
    label = "retention" if role == "retention" else ("NPV" if kpi == "npv" else kpi)
    if d["n"] == 0:
        return f"{label}: no paired runs, {verdict}"
    scale = 100.0 if role == "retention" else 1e-6
    diff = d["mean_diff"]
    if role == "retention":
        value = f"{diff * scale:+.1f} pts"
    else:
        value = f"{'-' if diff < 0 else '+'}CNY {abs(diff) * scale:.1f} M"
    if np.isfinite(d["ci_low"]) and np.isfinite(d["ci_high"]):
        ci = "CI"
        if first:
            ci = f"{float(d.get('level', 0.95)) * 100:g}% CI"
        interval = f"({ci} {d['ci_low'] * scale:+.1f} to {d['ci_high'] * scale:+.1f})"
    else:
        interval = f"(n={int(d['n'])}, no CI)"
    return f"{label} {value} {interval}, {verdict}"
