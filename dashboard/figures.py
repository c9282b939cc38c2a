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
from sim.kpis import registry
from sim.model import BankModel
from sim.strategies import title

TIER_COLOURS = dict(zip(TIERS, ("#C8C8C8", "#56B4E9", "#0072B2", "#CC79A7"), strict=True))
TRENDS = (
    ("retention", "retention_horizon", "Retention", "Starting customers still with the bank"),
    (
        "retention_mid_high",
        "retention_mid_high",
        "Mid/high-tier retention",
        "Starting mid/high-tier customers still here",
    ),
    ("profit", "profit", "Profit so far", "Cumulative profit"),
)
"""(time-series column, KPI of its unit, panel title, axis words) of each trend panel."""


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
    """Retention, mid/high-tier retention and cumulative profit by month, scenario vs baseline."""
    styles = scenario_styles(pair)
    kpis = registry(pair.months)
    series = {arm: pair.series(arm) for arm in (BASELINE, SCENARIO)}
    with mpl.rc_context(STYLE):
        fig, axes = new_figure(11, 11, f"Month {pair.month} of {pair.months}", nrows=3, sharex=True)
        for ax, (column, name, heading, what) in zip(axes[:, 0], TRENDS, strict=True):
            kpi = kpis[name]
            for arm, ts in series.items():
                values = ts[column].cumsum() if column == "profit" else ts[column]
                style = styles[arm]
                ax.plot(ts["month"], values * kpi.scale, color=style.colour, ls=style.dash)
            ends = {arm: _end(ts, column) for arm, ts in series.items()}
            ax.set_title(f"{heading}: {kpi.text(ends[SCENARIO])} vs {kpi.text(ends[BASELINE])}")
            if kpi.kind == "rate":
                ax.set_ylim(min(ax.get_ylim()[0], 99.0), 100.5)
            ax.set_ylabel(textwrap.fill(f"{what} ({kpi.unit})", 28))
        axes[-1, 0].set_xlim(0, pair.months)
        axes[-1, 0].set_xlabel("Measured month")
        handles = [Line2D([], [], color=styles[a].colour, ls=styles[a].dash) for a in styles]
        labels = [textwrap.fill(label, 60) for label in arm_labels(pair).values()]
        fig.legend(handles, labels, loc="outside lower center", ncols=1)
    return fig


def _end(ts, column: str) -> float:
    """The panel's value in the last month: the level, or the profit summed so far."""
    return float(ts[column].sum() if column == "profit" else ts[column].iloc[-1])


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
