"""Whether each verdict holds across a calibration's plausible parameter sets.

An experiment run with ``calibration=`` (``runner.plausible``) has one parameter point per
plausible set, recorded in the store (``store.PLAUSIBLE``: each set's number, trial, loss, values
and point label). The usual paired differences (``analysis.stats.paired_differences``) give,
at each set, each arm's verdict on each KPI against the baseline on the same seeds, with
intervals simultaneous over the arms (Bonferroni, as without a calibration).

:func:`per_set` lays them out by set; :func:`across` says, per arm and KPI, whether the verdict
holds across the sets: **better**, **worse** or **negligible** when it is that in every set,
otherwise **undecided**, with how many sets said what and, when the decided sets disagree
(better and worse, or better and negligible: not a set merely undecided, which wants seeds),
what the verdict depends on: the fitted parameter whose values rank the sets most like their
differences (Spearman's rank correlation across the sets), and where along it the most
favourable decided verdict lies (a threshold when its sets all lie on one side of it).

What the words promise. A verdict that holds in every set is an intersection-union test (Berger
1982): it is wrong only if the interval of a set where it fails missed, and each interval
misses with probability at most 5% / m (m arms), so the verdicts across sets of one KPI hold
together, over all arms, with at least 95% confidence, however many sets there are. The counts
("better in 6 of 10") and the per-set verdicts read together are descriptive: the K sets'
families hold together only with at least 1 - K x 5%. What a verdict depends on is a rank
correlation across few sets, a pointer to a parameter, not a test.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.stats import DETECTED, NEGLIGIBLE, UNDECIDED, VERDICTS, near_end
from runner.store import PLAUSIBLE
from sim.kpis import REGISTRY, Kpi, decimals

SETS_CSV, SUMMARY_CSV = "plausible_sets.csv", "plausible_summary.csv"
SET_COLUMNS = ["set", "trial", "loss", "point"]
FROM_DIFFERENCES = {  # paired_differences column -> per-set column
    "n": "n",
    "mean_diff": "estimate",
    "ci_low": "ci_low",
    "ci_high": "ci_high",
    "smallest_effect": "smallest_effect",
    "verdict": "verdict",
    "clears": "clears",
    "note": "note",
    "seeds_needed": "seeds_needed",
    "interval_level": "interval_level",
}
TIE = 1e-9  # rank correlations this close are a tie


def record(results: Path) -> dict | None:
    """The calibration an experiment ran at (``store.PLAUSIBLE``), None without one."""
    path = Path(results) / PLAUSIBLE
    return json.loads(path.read_text()) if path.is_file() else None


def sets_table(rec: dict) -> pd.DataFrame:
    """One row per set of the record: set, trial, loss, point and each parameter's value."""
    sets = pd.DataFrame(rec["sets"])
    values = pd.DataFrame(list(sets["values"]), index=sets.index)[list(rec["parameters"])]
    return pd.concat([sets[SET_COLUMNS], values], axis=1)


def per_set(differences: pd.DataFrame, rec: dict) -> pd.DataFrame:
    """One row per (arm, KPI, set) of every arm and KPI in ``differences``: the set (set, trial,
    loss), the paired difference at it (n, estimate, ci_low, ci_high, smallest_effect, verdict,
    clears, note, seeds_needed, interval_level) and the set's parameter values. A set without
    paired runs is undecided, with n 0."""
    sets = sets_table(rec)
    keys = differences[["arm", "kpi"]].drop_duplicates()
    grid = keys.merge(sets, how="cross")
    found = differences[["point", "arm", "kpi", *FROM_DIFFERENCES]].rename(columns=FROM_DIFFERENCES)
    table = grid.merge(found, on=["point", "arm", "kpi"], how="left")
    table["n"] = table["n"].fillna(0).astype(int)
    table["verdict"] = table["verdict"].fillna(UNDECIDED)
    table["clears"] = table["clears"].eq(True)  # a set without paired runs: False
    table["note"] = table["note"].where(table["n"] > 0, "no paired runs at this set")
    params = list(rec["parameters"])
    columns = ["arm", "kpi", *SET_COLUMNS[:3], *FROM_DIFFERENCES.values(), *params]
    return table[columns].reset_index(drop=True)


def across(table: pd.DataFrame, parameters: list[str], kpis=REGISTRY) -> pd.DataFrame:
    """Per (arm, KPI) of a :func:`per_set` table: sets, how many said each verdict, the
    verdict across them (the one every set said, else undecided), whether it clears the
    smallest effect in every set (clear_in: in how many it does), the estimates' mean, least
    and greatest, the hull of the sets' intervals (ci_low, ci_high), the smallest effect (mean
    over sets), n (the fewest pairs), seeds_needed (the most an undecided set needs, when the
    decided sets agree), what it depends on when the decided sets disagree (depends_on; rho: the
    rank correlation with it) and the sentence. Sets that are undecided while the others agree
    say nothing of a dependence: they want more seeds."""
    rows = [
        _across(g, parameters, kpis[kpi])
        for (_, kpi), g in table.groupby(["arm", "kpi"], sort=False)
    ]
    return pd.DataFrame(rows, columns=ACROSS_COLUMNS)


ACROSS_COLUMNS = [
    "arm",
    "kpi",
    "sets",
    *VERDICTS,
    "verdict",
    "clears",
    "clear_in",
    "estimate",
    "estimate_min",
    "estimate_max",
    "ci_low",
    "ci_high",
    "smallest_effect",
    "n",
    "seeds_needed",
    "depends_on",
    "rho",
    "sentence",
]


def _across(g: pd.DataFrame, parameters: list[str], kpi: Kpi) -> dict:
    said = g["verdict"]
    counts = {v: int((said == v).sum()) for v in VERDICTS}
    verdict = said.iloc[0] if said.nunique() == 1 else UNDECIDED
    differ = len(set(said) - {UNDECIDED}) > 1  # a set still undecided only wants seeds
    undecided = g[said == UNDECIDED]
    needed = undecided["seeds_needed"].max() if not differ and len(undecided) else np.nan
    depends, rho = dependence(g, parameters, kpi) if differ else ("", np.nan)
    row = {
        "arm": g["arm"].iloc[0],
        "kpi": kpi.name,
        "sets": len(g),
        **counts,
        "verdict": verdict,
        "clears": bool(verdict in DETECTED and g["clears"].all()),
        "clear_in": int(g["clears"].sum()),
        "estimate": g["estimate"].mean(),
        "estimate_min": g["estimate"].min(),
        "estimate_max": g["estimate"].max(),
        "ci_low": g["ci_low"].min(skipna=False),
        "ci_high": g["ci_high"].max(skipna=False),
        "smallest_effect": g["smallest_effect"].mean(),
        "n": int(g["n"].min()),
        "seeds_needed": needed,
        "depends_on": depends,
        "rho": rho,
    }
    return row | {"sentence": sentence(row, kpi)}


def dependence(g: pd.DataFrame, parameters: list[str], kpi: Kpi) -> tuple[str, float]:
    """What the sets' differing verdicts depend on, in words ("behaviour.churn_base (better
    where it is below 0.13)"), and the rank correlation across the sets of the estimate with
    that parameter: the parameter(s) with the largest |Spearman rho| (ties all named: too few
    sets to tell them apart), and where along it lie the sets with the verdict of the most
    favourable decided estimate (``g`` has two decided verdicts or more). ("", NaN) without
    parameters that vary or estimates to rank."""
    estimates = g["estimate"].astype(float)
    rhos = {p: estimates.corr(g[p].astype(float), method="spearman") for p in parameters}
    rhos = {p: r for p, r in rhos.items() if np.isfinite(r)}
    if not rhos:
        return "", np.nan
    top = max(abs(r) for r in rhos.values())
    best = [p for p, r in rhos.items() if abs(r) >= top - TIE]
    sign = 1 if kpi.higher_is_better else -1
    favourite = g["verdict"].loc[(sign * estimates)[g["verdict"] != UNDECIDED].idxmax()]
    where = [f"{p} ({_where(g, p, favourite, rhos[p])})" for p in best]
    text = " or ".join(where)
    if len(best) > 1:
        text += f": {len(g)} sets cannot tell these apart"
    return text, rhos[best[0]]


def _where(g: pd.DataFrame, p: str, verdict: str, rho: float) -> str:
    """Where along parameter ``p`` the sets with ``verdict`` lie: below or above a threshold
    (halfway between them and the others) when they all lie on one side, else the sign of the
    rank correlation."""
    mine, others = g.loc[g["verdict"] == verdict, p], g.loc[g["verdict"] != verdict, p]
    if mine.max() < others.min():
        return f"{verdict} where it is below {_number((mine.max() + others.min()) / 2)}"
    if mine.min() > others.max():
        return f"{verdict} where it is above {_number((mine.min() + others.max()) / 2)}"
    rises = "rises" if rho > 0 else "falls"
    return f"the difference {rises} with it, rank correlation {rho:+.2f}"


def _number(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1_000 else f"{x:.3g}"


def sentence(row: dict, kpi: Kpi) -> str:
    """An arm's verdict on ``kpi`` across the sets, e.g. "retention at 60 months better in 10
    of 10 plausible calibrations (by at least 0.21 pts in each)" or "NPV undecided: better in
    6, worse in 4 of 10 plausible calibrations; depends on bank.branch_cost (better where it is
    above 3,500,000)"."""
    k, verdict = row["sets"], row["verdict"]
    of = f"of {k} plausible calibration{'s' if k != 1 else ''}"
    if verdict in DETECTED:
        least = abs(near_end(row["ci_low"], row["ci_high"]))
        least = kpi.amount(least, decimals(least * kpi.scale)).lstrip("+")
        small = k - row["clear_in"]
        return f"{kpi.short} {verdict} in {k} {of} (by at least {least} in each" + (
            f"; possibly small in {small})" if small else ")"
        )
    if verdict == NEGLIGIBLE:
        return f"{kpi.short} negligible in {k} {of}"
    said = ", ".join(f"{v} in {row[v]}" for v in VERDICTS if row[v])
    text = (
        f"{kpi.short} undecided: {said} {of}" if row[UNDECIDED] < k else f"{kpi.short} {said} {of}"
    )
    if row["depends_on"]:
        text += f"; depends on {row['depends_on']}"
    needed = row["seeds_needed"]
    if row[UNDECIDED] and math.isfinite(needed):
        text += f"; about {needed:,.0f} seeds would decide the undecided sets"
    return text


def as_differences(summary: pd.DataFrame) -> pd.DataFrame:
    """The verdicts across sets in the columns of ``paired_differences`` (one row per arm and
    KPI, no point), for the executive summary: mean_diff is the mean of the sets' estimates and
    ci_low/ci_high the hull of their intervals."""
    out = summary.rename(columns={"estimate": "mean_diff"}).assign(point="", note="")
    return out[EXECUTIVE_COLUMNS]


EXECUTIVE_COLUMNS = [
    "point",
    "arm",
    "kpi",
    "n",
    "mean_diff",
    "ci_low",
    "ci_high",
    "smallest_effect",
    "verdict",
    "clears",
    "note",
    "seeds_needed",
]
