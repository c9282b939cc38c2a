"""Kaplan-Meier retention curves from the stored customer panels (lifelines).

Each customer's spell runs from ``max(joined_month, 0)`` (the opening book starts when burn-in
ends) to the month they left (an exit) or to the run's last measured month (censored); customers
who left during burn-in were never at risk and are left out. The seeds of an arm are pooled, rows
weighted by ``weight`` (the real customers each simulated row stands for). The 95% interval is
lifelines' (Greenwood, log-log) with the weights scaled to the rows' effective count (Kish), so it
reflects how many customers were simulated, not the real bank's size; ``at_risk`` counts real
customers. Groups: the panel's segment, its tier (as of exit or the run's end) and the joining
cohort (the opening book, or the year of the measured period a newcomer joined in).
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from runner import store

log = logging.getLogger(__name__)

KINDS = ("segment", "tier", "cohort")
"""The group kinds of the curves, in reading order."""
OPENING_BOOK = "opening book"
CHARTS = ("survival_by_segment", "survival_by_tier_cohort")
"""The names of the charts drawn from the curves (:mod:`analysis.charts.survival`)."""
CURVE_COLUMNS = [
    "point", "arm", "kind", "group", "month", "survival", "ci_low", "ci_high", "at_risk"
]  # fmt: skip
MEDIAN_COLUMNS = [
    "point", "arm", "segment", "runs", "customers", "median", "survival_12m", "survival_horizon"
]  # fmt: skip
PANEL_COLUMNS = {"weight", "segment", "tier", "joined_month", "left_month", "tenure_months"}


@dataclass
class Survival:
    """The curves (``CURVE_COLUMNS``: survival and its 95% CI as shares, ``at_risk`` in real
    customers pooled over runs), the medians by segment (``MEDIAN_COLUMNS``: months, inf when not
    reached; ``runs`` pooled, ``customers`` per run), the horizon, and how many successful runs
    held a panel."""

    curves: pd.DataFrame
    medians: pd.DataFrame
    months: int
    runs: int
    panels: int

    def coverage(self) -> str:
        """A sentence when some or all runs stored no panel ("" when all did)."""
        if self.panels == self.runs:
            return ""
        if self.panels == 0:
            return (
                "No retention curves: the runs stored no customer panel (output.panel=false);"
                " run the experiment with output.panel=true to have them."
            )
        return (
            f"Curves from the {self.panels} of {self.runs} runs that stored a customer panel: an"
            " experiment keeps each arm's first seed's only, unless run with"
            " experiment.overrides=[] (docs/experiments.md)."
        )


def survival(results: Path, runs: pd.DataFrame | None = None) -> Survival:
    """The Kaplan-Meier curves and medians of every (point, arm) of a store's successful runs
    (``runs``: rows of ``store.load``, by default all), the seeds of an arm pooled."""
    runs = store.load(results) if runs is None else runs
    ok = runs[runs["status"] == "ok"] if len(runs) else runs
    curves, medians, panels, horizon = [], [], 0, 0
    if len(ok):
        for (point, arm), group in ok.groupby(["point", "arm"], sort=False, dropna=False):
            spells = [_run_spells(results, row) for row in group.itertuples()]
            found = [s for s in spells if s is not None]
            panels += len(found)
            if not found:
                continue
            months = max(m for _, m in found)
            horizon = max(horizon, months)
            spell = pd.concat([s for s, _ in found])
            if spell.empty:
                continue
            arm_curves = fit_groups(spell, months)
            key = {"point": "" if pd.isna(point) else point, "arm": arm}
            curves.append(arm_curves.assign(**key))
            medians.append(segment_medians(arm_curves, months, len(found)).assign(**key))
    log.info("Survival curves from %d of %d runs' panels", panels, len(ok))
    return Survival(
        _frame(curves, CURVE_COLUMNS), _frame(medians, MEDIAN_COLUMNS), horizon, len(ok), panels
    )


def _frame(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def _run_spells(results: Path, row) -> tuple[pd.DataFrame, int] | None:
    """One run's spells (:func:`spells`) and horizon, None without a panel (or one that lacks
    the columns the curves need)."""
    panel = store.load_run_table(results, row.run_id, "panel")
    if panel is None:
        return None
    if missing := PANEL_COLUMNS - set(panel.columns):
        log.warning("run %s: its panel has no %s; left out of the curves", row.run_id, missing)
        return None
    months = getattr(row, "months", None)
    if months is None or not math.isfinite(months):
        active = panel["left_month"].isna()
        months = (panel["joined_month"] + panel["tenure_months"])[active].max()
    return spells(panel, int(months)), int(months)


def cohort(joined: np.ndarray) -> np.ndarray:
    """The joining cohort of each joined month: the opening book (0 or before), else "joined in
    year k" (measured months 1-12: year 1)."""
    years = np.ceil(np.maximum(joined, 0) / 12).astype(int)
    return np.where(joined <= 0, OPENING_BOOK, np.char.add("joined in year ", years.astype(str)))


def cohorts(months: int) -> list[str]:
    """Every joining cohort of a horizon, in order."""
    return [OPENING_BOOK, *(f"joined in year {k}" for k in range(1, math.ceil(months / 12) + 1))]


def spells(panel: pd.DataFrame, months: int) -> pd.DataFrame:
    """Per customer at risk in the measured period: duration (months), event (left before the
    horizon), weight, and the groups (segment, tier, cohort)."""
    left = panel["left_month"]
    gone = left.notna().to_numpy()
    left_at = left.fillna(months).to_numpy(dtype=np.int64)
    at_risk = ~gone | (left_at > 0)  # those who left in burn-in never were
    joined = panel["joined_month"].to_numpy(dtype=np.int64)
    start = np.maximum(joined, 0)
    end = np.where(gone, left_at, months)
    spell = pd.DataFrame(
        {
            "duration": end - start,
            "event": gone,
            "weight": panel["weight"].to_numpy(dtype=np.float64),
            "segment": panel["segment"],
            "tier": panel["tier"],
            "cohort": pd.Categorical(cohort(joined), categories=cohorts(months)),
        }
    )
    return spell[at_risk]


def fit_groups(spell: pd.DataFrame, months: int) -> pd.DataFrame:
    """The curve of every group of every kind (columns kind, group, then :func:`kaplan_meier`'s),
    groups in order: segments and tiers as the panel orders them, the opening book first."""
    out = []
    for kind in KINDS:
        for group, rows in spell.groupby(kind, sort=True, observed=True):
            curve = kaplan_meier(rows["duration"], rows["event"], rows["weight"], months)
            out.append(curve.assign(kind=kind, group=str(group)))
    return pd.concat(out, ignore_index=True)


def kaplan_meier(duration, event, weight, months: int) -> pd.DataFrame:
    """Survival after each month 0..months (while anyone is at risk) with its 95% CI, and the
    real customers at risk (``weight``'s sum) at each month."""
    from lifelines import KaplanMeierFitter  # its import takes a second and more
    from lifelines.exceptions import StatisticalWarning

    d = pd.DataFrame({"duration": duration, "event": event, "w": weight})
    d = d.assign(w2=d["w"] ** 2).groupby(["duration", "event"], as_index=False).sum()
    scale = d["w"].sum() / d["w2"].sum()  # weights summing to the effective count (Kish)
    timeline = np.arange(months + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)  # scaled weights are not integers
        km = KaplanMeierFitter(alpha=0.05).fit(
            d["duration"], d["event"], weights=d["w"] * scale, timeline=timeline
        )
    at_risk = d["w"].to_numpy() * (d["duration"].to_numpy()[None, :] >= timeline[:, None])
    ci = km.confidence_interval_survival_function_.to_numpy()
    curve = pd.DataFrame(
        {
            "month": timeline,
            "survival": km.survival_function_.to_numpy()[:, 0],
            "ci_low": ci[:, 0],
            "ci_high": ci[:, 1],
            "at_risk": at_risk.sum(axis=1),
        }
    )
    return curve[curve["at_risk"] > 0]


def median_months(curve: pd.DataFrame) -> float:
    """The first month survival is at or below 50% (lifelines' median); inf when not reached."""
    from lifelines.utils import median_survival_times

    return float(median_survival_times(curve.set_index("month")["survival"]))


def segment_medians(curves: pd.DataFrame, months: int, runs: int) -> pd.DataFrame:
    """Per segment: real customers per run, the median lifetime, survival at 12 months and at
    the horizon (NaN when no one was followed that long)."""
    rows = []
    for group, curve in curves[curves["kind"] == "segment"].groupby("group", sort=False):
        at = curve.set_index("month")["survival"]
        rows.append(
            {
                "segment": group,
                "runs": runs,
                "customers": curve["at_risk"].iloc[0] / runs,
                "median": median_months(curve),
                "survival_12m": at.get(12, np.nan),
                "survival_horizon": at.get(months, np.nan),
            }
        )
    return pd.DataFrame(rows)
