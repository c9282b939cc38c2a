"""Statistics over experiment runs: per-arm summaries, paired (CRN) differences and verdicts.

``runs`` is a long DataFrame with one row per successful run: ``arm`` (str), ``point`` (str, ""
when there is no parameter point; a missing column is read as ""), ``seed`` (int) and float KPI
columns. Every arm shares the seeds (common random numbers), so an arm is compared with the
baseline on runs paired by (point, seed). The functions are pure, accept partial data (missing
runs leave NaN wherever a statistic needs more runs) and return tidy DataFrames with one row per
(point, arm[, kpi]) over every point and arm present in ``runs``, in order of first appearance.

One procedure gives both the interval shown and the verdict. A *family* is one point and one
KPI across the non-baseline arms; each of its ``m`` arms gets the bootstrap-t interval of its
mean paired difference (:mod:`analysis.inference`: resampling the seeds, never narrower than
Student's t) at level ``1 - (1 - level) / m`` (Bonferroni), so all ``m`` intervals hold together
with probability at least ``level``; under ``replications=auto`` that ``(1 - level) / m`` is
spent over the planned looks (:class:`analysis.inference.Design`). A sample with too little
information (fewer than 2 pairs, all differences equal, too few distinct ones for the level)
gets no interval, a ``note`` saying why, and an undecided verdict. The verdict is read off the
interval alone, with the KPI's smallest effect worth acting on ``s`` (:mod:`sim.kpis`):

- *negligible*: the whole interval lies within ± s (this takes precedence): |effect| <= s;
- *better* / *worse*: the interval excludes 0 on the KPI's good / bad side: the effect is real;
  ``clears`` says whether it also excludes ± s, i.e. the effect is at least the smallest effect
  worth acting on (otherwise it may be small);
- *undecided*: anything else: more seeds are needed.

Each word's promise holds whenever the intervals cover, so with probability at least ``level``
for the whole family; better and worse on disjoint seed sets, or better beyond s and negligible,
would need an interval to miss (docs/experiments.md has the table and the tested error rates).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.inference import FIXED, Design, intervals
from analysis.inference import distinct as distinct_values
from sim.kpis import REGISTRY, Kpi, decimals

KPIS: tuple[str, ...] = tuple(REGISTRY)
"""Every registered KPI (:data:`sim.kpis.REGISTRY`), in report order."""

VERDICTS: tuple[str, ...] = ("better", "worse", "negligible", "undecided")
"""The verdict words, defined here only: import them, never spell them out elsewhere."""
BETTER, WORSE, NEGLIGIBLE, UNDECIDED = VERDICTS
DETECTED: tuple[str, ...] = (BETTER, WORSE)
"""The verdicts that found a real difference (``clears`` says whether it is worth acting on)."""
METHOD = "bootstrap-t over the seeds, never narrower than Student's t; Bonferroni over the arms"
TESTED_SKEWNESS = 1.0
"""The |skewness| of per-seed differences up to which the intervals' coverage is tested at 10
seeds and more (docs/experiments.md); reports flag decision KPIs beyond it."""
"""How each simultaneous interval is made, in words (the reports say it)."""
ROLES = {"retention": "retention_horizon", "profit": "npv"}
"""The KPI of each decision role: verdicts, the report's verdict table and the CRN measure."""

_NAN = float("nan")


# --------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------


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
    runs: pd.DataFrame,
    baseline: str,
    kpis: Sequence[str] = KPIS,
    level: float = 0.95,
    smallest_effect: Mapping[str, float] | None = None,
    design: Design = FIXED,
) -> pd.DataFrame:
    """Arm − baseline differences paired on (point, seed), per non-baseline arm, point and KPI,
    each with its simultaneous interval and verdict (see the module's docstring).

    ``smallest_effect`` maps KPI names to their smallest effect in the registry's convention
    (absolute, or a fraction of the KPI's scale), replacing the registry's default; ``design``
    says whether the seeds were added in looks (``replications=auto``).

    Columns: point, arm, kpi, n (pairs with both values), baseline_mean and arm_mean (over those
    pairs), mean_diff, sd_diff, rel_diff (mean_diff / baseline_mean, NaN unless baseline_mean >
    0), ci_low/ci_high (the simultaneous interval; NaN with a note), smallest_effect (absolute,
    in the KPI's units), verdict, clears (better or worse by at least the smallest effect),
    note (why there is no interval, else ""), skewness (of the per-seed differences, NaN below
    3 pairs or without spread), seeds_needed (for an undecided verdict with an
    interval: about how many seeds would decide it, see :func:`seeds_needed`; else NaN), p_ttest
    (``scipy.stats.ttest_rel``, a check: the verdict does not read it), p_wilcoxon
    (``scipy.stats.wilcoxon``, zero differences dropped, unadjusted), family_size (m),
    interval_level (the level of each interval: 1 - (1 - level) / m, spent over the looks under
    ``replications=auto``) and level (the family's simultaneous level).
    """
    df = _prepare(runs, kpis)
    scales = _scales(df, baseline)
    rows, samples = [], []
    for point, arm, pairs in _pairs(df, baseline, kpis):
        for kpi in kpis:
            a, b = _columns(pairs, kpi)
            rows.append({"point": point, "arm": arm, "kpi": kpi, **_paired(a, b)})
            samples.append(a - b)
    out = pd.DataFrame(rows, columns=_PAIRED_COLUMNS)
    tested = (out["n"] >= 2).astype(int)
    out["family_size"] = tested.groupby([out["point"], out["kpi"]], sort=False).transform("sum")
    settings = dict(smallest_effect or {})
    judged = [
        _judge(d, x, level, design, settings.get(d.kpi), scales.get(d.point, {}))
        for d, x in zip(out.itertuples(index=False), samples, strict=True)
    ]
    out = pd.concat([out, pd.DataFrame(judged, index=out.index, columns=_JUDGED_COLUMNS)], axis=1)
    out["level"] = level
    return out[_DIFF_COLUMNS]


def decide(low: float, high: float, smallest: float, higher_is_better: bool = True) -> str:
    """The verdict an interval (low, high) of a difference gives: negligible when it lies
    within ± ``smallest``; better or worse when it excludes 0 on the good or bad side;
    undecided otherwise (or without an interval)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return UNDECIDED
    if -smallest <= low and high <= smallest:
        return NEGLIGIBLE
    if low > 0 or high < 0:
        return BETTER if (low > 0) == higher_is_better else WORSE
    return UNDECIDED


def clears(low: float, high: float, smallest: float) -> bool:
    """Whether an interval lies wholly beyond ± ``smallest`` (and so beyond 0): the effect is
    at least the smallest effect worth acting on."""
    return bool((low > 0 and low >= smallest) or (high < 0 and high <= -smallest))


def possibly_small(verdict: str, clears_smallest: bool) -> bool:
    """Whether a verdict is better or worse by perhaps less than the smallest effect."""
    return verdict in DETECTED and not clears_smallest


def verdict_words(verdict: str, clears_smallest: bool) -> str:
    """The verdict in words: "better, possibly small" when :func:`possibly_small`, else the
    word alone."""
    return f"{verdict}{', possibly small' if possibly_small(verdict, clears_smallest) else ''}"


def near_end(low: float, high: float) -> float:
    """The end nearest 0 of an interval that excludes 0: how much the difference is at least."""
    return low if low > 0 else high


def seeds_needed(n: int, mean: float, low: float, high: float, smallest: float) -> float:
    """About how many seeds would decide an undecided interval around ``mean``: its half-width
    shrinks as 1 / sqrt(n) until it fits in a margin, |mean| to exclude 0 (better or worse) or
    smallest - |mean| to lie within ± smallest (negligible), whichever is wider. At least n + 1;
    inf when the margin is 0. The quantile is kept as it is at n seeds, so it is a little high,
    and the estimate moves as seeds are added: a guide, not a promise."""
    margin = max(abs(mean), smallest - abs(mean))
    if margin <= 0:
        return math.inf
    return float(max(n + 1, math.ceil(n * ((high - low) / 2 / margin) ** 2)))


def verdicts(
    differences: pd.DataFrame,
    retention_kpi: str = ROLES["retention"],
    profit_kpi: str = ROLES["profit"],
    kpis: Mapping[str, Kpi] = REGISTRY,
) -> pd.DataFrame:
    """The verdicts on retention and on profit per (point, arm), with a sentence.

    ``differences`` is the output of :func:`paired_differences`. Columns: point, arm, then for
    role in (retention, profit): {role}_kpi, {role}_n, {role}_diff, {role}_ci_low,
    {role}_ci_high, {role}_smallest_effect, {role}_verdict, {role}_seeds_needed (values in the
    KPI's own units); and sentence (see :func:`sentence`, worded with ``kpis``, e.g.
    ``sim.kpis.registry(months)`` for the runs' horizon).
    """
    roles = {"retention": retention_kpi, "profit": profit_kpi}
    missing = set(roles.values()) - set(differences["kpi"])
    if missing and len(differences):
        raise ValueError(f"differences has no rows for KPI(s) {sorted(missing)}")
    rows = []
    for (point, arm), g in differences.groupby(["point", "arm"], sort=False):
        by_kpi = g.set_index("kpi", drop=False)
        chosen = [by_kpi.loc[kpi] for kpi in roles.values()]
        row = {"point": point, "arm": arm}
        for role, d in zip(roles, chosen, strict=True):
            row |= {f"{role}_{name}": d[column] for column, name in _ROLE_COLUMNS.items()}
        rows.append(row | {"sentence": sentence(chosen, kpis=kpis)})
    columns = [f"{role}_{name}" for role in roles for name in _ROLE_COLUMNS.values()]
    return pd.DataFrame(rows, columns=["point", "arm", *columns, "sentence"])


def sentence(
    rows: Sequence[pd.Series], first: bool = True, kpis: Mapping[str, Kpi] = REGISTRY
) -> str:
    """Rows of :func:`paired_differences` in words, e.g. "retention at 60 months +2.4 pts
    (simultaneous 95% CI +1.9 to +2.9, 20 seeds), better; NPV -CNY 12.3 M (CI -20.1 to -4.5),
    worse", each KPI named by its ``short`` name in ``kpis``. With ``first``, the first part says
    the level and the seeds; any part says its seeds when they differ from the first's."""
    parts: list[str] = []
    for d in rows:
        opening = first and not parts
        seeds = opening or d["n"] != rows[0]["n"]
        parts.append(_describe(d, kpis[d["kpi"]], level=opening, seeds=seeds))
    return "; ".join(parts)


def crn_efficiency(
    runs: pd.DataFrame, baseline: str, kpi: str = ROLES["retention"], level: float = 0.95
) -> pd.DataFrame:
    """How much common random numbers narrow the CI of an arm − baseline difference.

    For each (point, non-baseline arm), on the runs paired by seed: the paired CI half-width
    (Student t on the differences, at ``level`` for one arm: no adjustment for the family, so
    that both widths answer the same question) versus the Welch two-sample CI half-width the
    same runs give when treated as independent samples (``scipy.stats.ttest_ind(equal_var=
    False)``). Reusing the same runs makes the independent half-width an estimate of what
    independent seeds would give, not a measurement. With few pairs it also carries the
    t-quantile difference (n - 1 versus Welch degrees of freedom); ``variance_ratio`` is the
    quantile-free part.

    Columns: point, arm, n (pairs), correlation (Pearson, arm vs baseline), paired_half_width,
    independent_half_width, ratio (paired / independent; < 1 means CRN helps),
    equivalent_replications ((independent / paired)**2: how many times more independent
    replications would give the same CI width), variance_ratio (var(arm − baseline) /
    (var(arm) + var(baseline))). NaN when n < 2 or a ratio is 0 / 0.
    """
    df = _prepare(runs, [kpi])
    rows = [
        {"point": point, "arm": arm, **_crn(*_columns(pairs, kpi), level)}
        for point, arm, pairs in _pairs(df, baseline, [kpi])
    ]
    return pd.DataFrame(rows, columns=_CRN_COLUMNS)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

_SUMMARY_COLUMNS = ["point", "arm", "kpi", "n", "mean", "sd", "ci_low", "ci_high"]
_PAIRED_COLUMNS = [
    "point",
    "arm",
    "kpi",
    "n",
    "baseline_mean",
    "arm_mean",
    "mean_diff",
    "sd_diff",
    "rel_diff",
    "skewness",
    "p_ttest",
    "p_wilcoxon",
]
_JUDGED_COLUMNS = [
    "ci_low",
    "ci_high",
    "smallest_effect",
    "verdict",
    "clears",
    "note",
    "seeds_needed",
    "interval_level",
]
_DIFF_COLUMNS = [
    *_PAIRED_COLUMNS[: _PAIRED_COLUMNS.index("skewness")],  # point ... rel_diff
    "ci_low",
    "ci_high",
    "smallest_effect",
    "verdict",
    "clears",
    "note",
    "seeds_needed",
    "skewness",
    "p_ttest",
    "p_wilcoxon",
    "family_size",
    "interval_level",
    "level",
]
_ROLE_COLUMNS = {  # differences column -> name in verdicts, after the role
    "kpi": "kpi",
    "n": "n",
    "mean_diff": "diff",
    "ci_low": "ci_low",
    "ci_high": "ci_high",
    "smallest_effect": "smallest_effect",
    "verdict": "verdict",
    "clears": "clears",
    "note": "note",
    "seeds_needed": "seeds_needed",
}
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


_SCALE_COLUMNS = ("revenue", "months", "aum_start")


def _prepare(runs: pd.DataFrame, kpis: Sequence[str]) -> pd.DataFrame:
    """Validated copy: point as str ("" if absent), KPIs (and the columns of the smallest
    effects' scales, where present) as float, unique (arm, point, seed)."""
    missing = [c for c in ("arm", "seed", *kpis) if c not in runs.columns]
    if missing:
        raise KeyError(f"runs is missing column(s) {missing}")
    numeric = list(dict.fromkeys([*kpis, *(c for c in _SCALE_COLUMNS if c in runs.columns)]))
    df = runs[[c for c in ("arm", "point", "seed", *numeric) if c in runs.columns]].copy()
    df["point"] = df["point"].fillna("").astype(str) if "point" in df else ""
    df["arm"] = df["arm"].astype(str)
    for column in numeric:
        df[column] = pd.to_numeric(df[column]).astype(float)
    duplicated = df.duplicated(["arm", "point", "seed"])
    if duplicated.any():
        keys = df.loc[duplicated, ["arm", "point", "seed"]].to_dict("records")
        raise ValueError(f"duplicate runs for (arm, point, seed): {keys[:5]}")
    return df


def _unique(values: pd.Series) -> list:
    return list(pd.unique(values))


def _pairs(df: pd.DataFrame, baseline: str, kpis: Sequence[str]):
    """(point, arm, pairs) for every point and non-baseline arm, in order of first appearance:
    the arm's runs joined to the baseline's on (point, seed), with columns ``<kpi>@arm`` and
    ``<kpi>@base`` (no rows when there are no pairs)."""
    arm_runs = df[df["arm"] != baseline]
    base_runs = df.loc[df["arm"] == baseline, ["point", "seed", *kpis]]
    pairs = arm_runs.merge(base_runs, on=["point", "seed"], suffixes=("@arm", "@base"))
    groups = {key: g for key, g in pairs.groupby(["point", "arm"], sort=False)}
    for point in _unique(df["point"]):
        for arm in _unique(arm_runs["arm"]):
            yield point, arm, groups.get((point, arm), pairs.iloc[:0])


def _columns(pairs: pd.DataFrame, kpi: str) -> tuple[np.ndarray, np.ndarray]:
    """The arm's and the baseline's values of ``kpi`` on the pairs where both have one."""
    both = pairs[[f"{kpi}@arm", f"{kpi}@base"]].dropna().to_numpy(dtype=float)
    return both[:, 0], both[:, 1]


def _t_interval(mean: float, sd: float, n: int, level: float) -> tuple[float, float]:
    """Student-t CI of a mean; NaN for n < 2, (mean, mean) for a zero sd."""
    if n < 2 or not np.isfinite(sd):
        return _NAN, _NAN
    if sd == 0:
        return mean, mean
    low, high = stats.t.interval(level, n - 1, loc=mean, scale=sd / math.sqrt(n))
    return float(low), float(high)


def _paired(a: np.ndarray, b: np.ndarray) -> dict:
    """Statistics of the paired differences a − b that do not depend on the family."""
    n = len(a)
    d = a - b
    base_mean = float(np.mean(b)) if n else _NAN
    mean = float(np.mean(d)) if n else _NAN
    skew = _NAN
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
            if n >= 3 and distinct_values(d)[0] > 1:
                skew = float(stats.skew(d, bias=False))
    return {
        "n": n,
        "baseline_mean": base_mean,
        "arm_mean": float(np.mean(a)) if n else _NAN,
        "mean_diff": mean,
        "sd_diff": float(np.std(d, ddof=1)) if n >= 2 else _NAN,
        "rel_diff": mean / base_mean if base_mean > 0 else _NAN,
        "skewness": skew,
        "p_ttest": p_t,
        "p_wilcoxon": p_w,
    }


def _scales(df: pd.DataFrame, baseline: str) -> dict[str, dict[str, float]]:
    """Per point, the scales a smallest effect may be a fraction of (``sim.kpis.SCALES``), from
    the baseline's runs: a year's revenue (``revenue`` over ``months``) and the opening AUM
    (``aum_start``). Without those columns (a store of other KPIs) a KPI's smallest effect is a
    fraction of its own baseline |mean|."""
    base = df[df["arm"] == baseline]
    out = {}
    for point, g in base.groupby("point", sort=False):
        scales = {}
        if "revenue" in g and "months" in g:
            scales["revenue"] = float((g["revenue"] * 12 / g["months"]).mean())
        if "aum_start" in g:
            scales["aum"] = float(g["aum_start"].mean())
        out[point] = scales
    return out


def _judge(d, x: np.ndarray, level: float, design: Design, setting, scales: dict) -> dict:
    """The simultaneous interval of a row of :func:`_paired` statistics (with its family_size)
    and sample of differences ``x``, and what it says: smallest effect, verdict, whether it
    clears the smallest effect, why there is no interval, seeds needed."""
    kpi = REGISTRY[d.kpi]
    m = max(int(d.family_size), 1)
    interval_level = design.level(d.n, (1 - level) / m)
    lows, highs = intervals(x[None, :], interval_level) if d.n >= 2 else ([_NAN], [_NAN])
    low, high = float(lows[0]), float(highs[0])
    note = _no_interval(x, interval_level) if not (np.isfinite(low) and np.isfinite(high)) else ""
    if note:
        low = high = _NAN
    own = {"revenue": d.baseline_mean, "aum": d.baseline_mean, **scales, "mean": d.baseline_mean}
    smallest = kpi.threshold(own, setting)
    verdict = decide(low, high, smallest, kpi.higher_is_better)
    undecided = verdict == UNDECIDED and not note
    return {
        "ci_low": low,
        "ci_high": high,
        "smallest_effect": smallest,
        "verdict": verdict,
        "clears": verdict in DETECTED and clears(low, high, smallest),
        "note": note,
        "seeds_needed": seeds_needed(d.n, d.mean_diff, low, high, smallest) if undecided else _NAN,
        "interval_level": interval_level,
    }


def _no_interval(x: np.ndarray, level: float) -> str:
    """Why a sample of differences has no interval at ``level``."""
    n = len(x)
    if n < 2:
        return "at least 2 paired seeds are needed"
    distinct = int(distinct_values(x)[0])
    if distinct == 1:
        return "the same on every seed, no spread to make an interval from"
    too_few = f"too few for a {level * 100:.4g}% interval"
    return f"only {distinct} distinct differences, {too_few}"


def _crn(a: np.ndarray, b: np.ndarray, level: float) -> dict:
    """CI widths of a − b, paired and as independent samples (see :func:`crn_efficiency`)."""
    n = len(a)
    paired_hw = independent_hw = correlation = variance_ratio = _NAN
    if n >= 2:
        d = a - b
        sd = float(np.std(d, ddof=1))
        low, high = _t_interval(float(np.mean(d)), sd, n, level)
        paired_hw = (high - low) / 2
        var_a, var_b = np.var(a, ddof=1), np.var(b, ddof=1)
        variance_ratio = _ratio(sd**2, var_a + var_b)
        if var_a > 0 and var_b > 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                correlation = float(stats.pearsonr(a, b).statistic)
        if var_a + var_b > 0:
            ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(level)
            independent_hw = float(ci.high - ci.low) / 2
        else:
            independent_hw = 0.0
    return {
        "n": n,
        "correlation": correlation,
        "paired_half_width": paired_hw,
        "independent_half_width": independent_hw,
        "ratio": _ratio(paired_hw, independent_hw),
        "equivalent_replications": _ratio(independent_hw, paired_hw) ** 2,
        "variance_ratio": variance_ratio,
    }


def _ratio(num: float, den: float) -> float:
    """num / den with x / 0 = inf for x > 0 and NaN for 0 / 0 or NaN inputs."""
    if not (np.isfinite(num) and np.isfinite(den)):
        return _NAN
    if den == 0:
        return math.inf if num > 0 else _NAN
    return float(num / den)


def _describe(d: pd.Series, kpi: Kpi, level: bool, seeds: bool) -> str:
    """One row in words: "retention at 60 months +2.4 pts (CI +1.9 to +2.9), better by at least
    +1.9 pts", saying the level ("simultaneous 95% CI") and the number of seeds when asked."""
    n, verdict = int(d["n"]), d["verdict"]
    if n == 0:
        return f"{kpi.short}: no paired runs, {verdict}"
    low, high = d["ci_low"], d["ci_high"]
    digits = decimals(*(x * kpi.scale for x in (d["mean_diff"], low, high)))
    if np.isfinite(low) and np.isfinite(high):
        ci = f"simultaneous {d['level'] * 100:g}% CI" if level else "CI"
        bounds = f"{kpi.number(low, digits, sign=True)} to {kpi.number(high, digits, sign=True)}"
        interval = f"({ci} {bounds}{f', {n} seeds' if seeds else ''})"
    else:
        interval = f"({n} seed{'s' if n != 1 else ''}, no CI: {d['note']})"
    text = f"{kpi.short} {kpi.amount(d['mean_diff'], digits)} {interval}, {verdict}"
    if verdict in DETECTED:
        least = f"by at least {kpi.amount(abs(near_end(low, high)), digits).lstrip('+')}"
        if d["clears"]:
            return f"{text} {least}"
        worth = kpi.amount(d["smallest_effect"], decimals(d["smallest_effect"] * kpi.scale))
        return f"{text} but possibly small ({least}; {worth.lstrip('+')} is worth acting on)"
    needed = d["seeds_needed"]
    if verdict == UNDECIDED and needed == math.inf:
        return f"{text} (no number of seeds would decide it)"
    if verdict == UNDECIDED and np.isfinite(needed):
        return f"{text} (about {needed:,.0f} seeds would decide it)"
    return text
