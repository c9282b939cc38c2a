"""The figures of "Try a scenario": the city map and the scenario against its baseline.

Drawn on the Agg canvas without pyplot (the server draws for many sessions in threads), in the
reports' style and arm colours (:mod:`analysis.charts.common`).
"""

from __future__ import annotations

import textwrap

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from analysis.charts.common import BAD, STYLE, arm_styles, new_figure
from dashboard.scenario import AT_RISK_RULE, BASELINE, SCENARIO, ScenarioPair, at_risk
from sim.config import TIERS
from sim.kpis import decimals, registry
from sim.metrics import discount_factors
from sim.model import BankModel
from sim.strategies import title

TIER_COLOURS = dict(zip(TIERS, ("#C8C8C8", "#56B4E9", "#0072B2", "#CC79A7"), strict=True))
TRENDS = (
    ("retention", "retention_horizon", "Retention"),
    ("retention_mid_high", "retention_mid_high", "Mid/high-tier retention"),
    ("profit", "npv", "Discounted profit so far"),
)
"""(time-series column, KPI of its unit, panel title) of each trend panel."""


def arm_labels(pair: ScenarioPair) -> dict[str, str]:
    """Legend names: the baseline, and the scenario by its strategies' titles."""
    names = pair.settings.strategies
    scenario = " + ".join(title(n) for n in names) if names else "no strategy (as the baseline)"
    return {BASELINE: "Baseline (no strategy)", SCENARIO: f"Scenario: {scenario}"}


def scenario_styles(pair: ScenarioPair) -> dict:
    """The arm styles of the reports: a single strategy in its own colour, a mix in the next."""
    names = pair.settings.strategies
    key = names[0] if len(names) == 1 else SCENARIO
    styles = arm_styles([BASELINE, key], BASELINE)
    return {BASELINE: styles[BASELINE], SCENARIO: styles[key]}


def trends(pair: ScenarioPair) -> Figure:
    """Retention, mid/high-tier retention and cumulative discounted profit by month: the
    scenario's difference from its baseline (the zero line), with both levels in the titles."""
    styles = scenario_styles(pair)
    kpis = registry(pair.months)
    rate = pair.arms[SCENARIO].config.economics.discount_rate
    series = {arm: pair.series(arm) for arm in (BASELINE, SCENARIO)}
    months = series[SCENARIO]["month"]
    with mpl.rc_context(STYLE):
        fig, axes = new_figure(11, 11, f"Month {pair.month} of {pair.months}", nrows=3, sharex=True)
        for ax, (column, name, heading) in zip(axes[:, 0], TRENDS, strict=True):
            kpi = kpis[name]
            values = {arm: _values(ts, column, rate) for arm, ts in series.items()}
            diff = values[SCENARIO] - values[BASELINE]
            ax.axhline(0, color=styles[BASELINE].colour, lw=2)
            ax.plot(months, diff * kpi.scale, color=styles[SCENARIO].colour)
            end = {arm: float(v[-1]) for arm, v in values.items()}
            ax.set_title(
                f"{heading}: {kpi.text(end[SCENARIO])} vs {kpi.text(end[BASELINE])}"
                f" ({kpi.amount(diff[-1], decimals(diff[-1] * kpi.scale))})"
            )
            ax.set_ylabel(f"vs baseline ({kpi.unit_label(delta=True)})")
        axes[-1, 0].set_xlim(0, pair.months)
        axes[-1, 0].set_xlabel("Measured month")
        handles = [Line2D([], [], color=styles[a].colour, ls=styles[a].dash) for a in styles]
        labels = [textwrap.fill(label, 60) for label in arm_labels(pair).values()]
        fig.legend(handles, labels, loc="outside lower center", ncols=1)
    return fig


def _values(ts, column: str, rate: float) -> np.ndarray:
    """A panel's monthly values: the level, or the profit discounted like the NPV and summed."""
    if column == "profit":
        return np.cumsum(ts["profit"].to_numpy() * discount_factors(ts["month"], rate))
    return ts[column].to_numpy(dtype=float)


def city_map(bank: BankModel, heading: str) -> Figure:
    """Customers by tier (at-risk ones ringed) and branches open and closed."""
    c = bank.customers
    active, risky = c.active, at_risk(bank)
    with mpl.rc_context(STYLE):
        fig, axes = new_figure(11, 11, heading)
        ax = axes[0, 0]
        for i, tier in enumerate(TIERS):
            here = active & (c.tier == i)
            ax.scatter(c.x[here], c.y[here], s=7, color=TIER_COLOURS[tier], lw=0, label=tier)
        ax.scatter(c.x[risky], c.y[risky], s=26, facecolors="none", edgecolors=BAD, lw=0.9)
        _branches(ax, bank)
        side = bank.config.bank.city_km
        ax.set(xlim=(0, side), ylim=(0, side), xlabel="km", ylabel="km", aspect="equal")
        ax.grid(False)
        fig.legend(
            handles=_map_legend(int(np.count_nonzero(risky)), int(np.count_nonzero(active))),
            loc="outside lower center",
            ncols=2,
        )
    return fig


def _branches(ax, bank: BankModel) -> None:
    for branch in bank.branch_list():
        if branch.is_open:
            ax.plot(branch.x, branch.y, "s", ms=15, color="black", mec="white", mew=1.5)
        else:
            ax.plot(branch.x, branch.y, "X", ms=16, color=BAD, mec="white", mew=1.5)


def _map_legend(risky: int, active: int) -> list[Line2D]:
    dot = {"ls": "none", "marker": "o", "ms": 9}
    tiers = [Line2D([], [], color=TIER_COLOURS[t], label=f"{t} tier", **dot) for t in TIERS]
    share = risky / active if active else 0.0
    rule = textwrap.fill(f"{AT_RISK_RULE} ({share:.0%} now)", 44)
    ring = Line2D([], [], mfc="none", mec=BAD, label=rule, **dot)
    return [
        *tiers,
        Line2D([], [], ls="none", marker="s", ms=12, color="black", label="branch open"),
        Line2D([], [], ls="none", marker="X", ms=12, color=BAD, label="branch closed"),
        ring,
    ]
