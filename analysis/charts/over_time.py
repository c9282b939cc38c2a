"""Retention and cumulative profit over time: each arm's mean with a 95% band, and below it the
paired difference from the baseline."""

from __future__ import annotations

import pandas as pd

from analysis.charts.common import (
    BASELINE_COLOUR,
    Drawn,
    draw_band,
    legend_right,
    new_figure,
    t_band,
)
from analysis.charts.data import ChartData
from sim.kpis import REGISTRY, Kpi


def retention_over_time(d: ChartData):
    yield from _over_time(
        d,
        "retention_over_time",
        "Customer retention over time",
        "retention",
        REGISTRY["retention_horizon"],
        "Starting customers still with the bank",
        cumulative=False,
    )


def profit_over_time(d: ChartData):
    yield from _over_time(
        d,
        "cumulative_profit",
        "Cumulative profit over time",
        "profit",
        REGISTRY["profit"],
        "Cumulative profit",
        cumulative=True,
    )


def seed_matrix(ts: pd.DataFrame, arm: str, column: str, cumulative=False, scale=1.0):
    """Month × seed values of one arm (month 0: the start, retention 100% or nothing yet)."""
    m = ts[ts["arm"] == arm].pivot_table(index="month", columns="seed", values=column)
    m = (m.cumsum() if cumulative else m) * scale
    m.loc[0] = 0.0 if cumulative else scale
    return m.sort_index()


def _over_time(
    d: ChartData, name: str, title: str, column: str, kpi: Kpi, what: str, cumulative: bool
):
    """The time series ``column`` (summed over months if ``cumulative``) in ``kpi``'s units,
    showing the arms that change ``kpi`` most."""
    if d.ts.empty or column not in d.ts:
        return
    arms, note, legend = d.shown(kpi.name)
    title += d.at_point()
    rows = 2 if arms[:1] == [d.baseline] and len(arms) > 1 else 1
    ratios = {"height_ratios": [3, 2]} if rows == 2 else {}
    fig, axes = new_figure(
        14,
        9.5 if rows == 2 else 7,
        title,
        nrows=rows,
        sharex=True,
        gridspec_kw=ratios,
    )
    top = axes[0, 0]
    matrices = {a: seed_matrix(d.ts, a, column, cumulative, kpi.scale) for a in arms}
    for a in arms:
        draw_band(top, t_band(matrices[a]), d.styles[a], a, alpha=0.3 / max(len(arms), 2))
    top.set_ylabel(f"{what} ({kpi.unit_label()})")
    legend_right(top, title=legend)
    if rows == 2:
        bottom = axes[1, 0]
        base = matrices[d.baseline]
        for a in arms[1:]:
            draw_band(bottom, t_band(matrices[a] - base), d.styles[a], a)
        bottom.axhline(0, color=BASELINE_COLOUR, lw=1.5)
        bottom.set_ylabel(f"vs baseline ({kpi.unit_label(delta=True)})")
    axes[-1, 0].set_xlabel("Month of the measured period")
    axes[-1, 0].set_xlim(0, max(matrices[arms[0]].index))
    caption = (
        f"{what} by arm: mean of {d.seeds} seeds with 95% t-bands"
        + ("; lower panel: paired difference from the baseline." if rows == 2 else ".")
        + note
    )
    yield Drawn(name, title, caption, fig)
