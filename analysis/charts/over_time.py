"""Retention and discounted cumulative profit over time: retention's mean per arm with a 95% band
and its paired difference from the baseline below; profit as the paired difference from the
baseline, discounted as the NPV is, so that its last month is the verdicts' NPV difference."""

from __future__ import annotations

import pandas as pd

from analysis.charts.common import (
    BASELINE_COLOUR,
    Drawn,
    applies_when,
    draw_band,
    legend_right,
    new_figure,
    t_band,
)
from analysis.charts.data import ChartData
from sim.metrics import discount_factors
from sim.strategies import title as arm_title


def seed_matrix(ts: pd.DataFrame, arm: str, column: str, cumulative=False, scale=1.0):
    """Month × seed values of one arm (month 0: the start, retention 100% or nothing yet)."""
    m = ts[ts["arm"] == arm].pivot_table(index="month", columns="seed", values=column)
    m = (m.cumsum() if cumulative else m) * scale
    m.loc[0] = 0.0 if cumulative else scale
    return m.sort_index()


def has_retention(d: ChartData) -> bool:
    return not d.ts.empty and "retention" in d.ts


@applies_when(has_retention)
def retention_over_time(d: ChartData):
    if not has_retention(d):
        return
    kpi = d.kpis["retention_horizon"]
    arms, note, legend = d.shown(kpi.name)
    title = "Customer retention over time" + d.at_point()
    rows = 2 if arms[:1] == [d.baseline] and len(arms) > 1 else 1
    fig, axes = new_figure(
        14,
        9.5 if rows == 2 else 7,
        title,
        nrows=rows,
        sharex=True,
        gridspec_kw={"height_ratios": [3, 2]} if rows == 2 else {},
    )
    top = axes[0, 0]
    matrices = {a: seed_matrix(d.ts, a, "retention", scale=kpi.scale) for a in arms}
    for a in arms:
        draw_band(
            top, t_band(matrices[a]), d.styles[a], arm_title(a), alpha=0.3 / max(len(arms), 2)
        )
    what = "Starting customers still with the bank"
    top.set_ylabel(f"{what} ({kpi.unit_label()})")
    legend_right(top, title=legend)
    if rows == 2:
        base = matrices[d.baseline]
        _draw_differences(axes[1, 0], d, {a: matrices[a] - base for a in arms[1:]})
        axes[1, 0].set_ylabel(f"vs baseline ({kpi.unit_label(delta=True)})")
    _month_axis(axes[-1, 0], matrices[arms[0]])
    caption = (
        f"{what} by arm: mean of {d.seeds} seeds with 95% t-bands"
        + ("; lower panel: paired difference from the baseline." if rows == 2 else ".")
        + note
    )
    yield Drawn("retention_over_time", title, caption, fig)


def has_profit_differences(d: ChartData) -> bool:
    """Profit in the time series, the baseline and another arm shown."""
    if d.ts.empty or "profit" not in d.ts or d.baseline not in set(d.ts["arm"]):
        return False
    return len(d.shown("npv")[0]) >= 2


@applies_when(has_profit_differences)
def profit_over_time(d: ChartData):
    """Cumulative discounted profit, arm − baseline paired on seeds, with 95% bands."""
    if not has_profit_differences(d):
        return
    kpi = d.kpis["npv"]
    arms, note, legend = d.shown(kpi.name)
    rate = d.discount_rate
    ts = d.ts.assign(profit=d.ts["profit"] * discount_factors(d.ts["month"], rate))
    matrices = {a: seed_matrix(ts, a, "profit", cumulative=True, scale=kpi.scale) for a in arms}
    title = "Cumulative discounted profit: difference from the baseline" + d.at_point()
    fig, axes = new_figure(14, 7.5, title)
    ax = axes[0, 0]
    base = matrices[d.baseline]
    _draw_differences(ax, d, {a: matrices[a] - base for a in arms[1:]})
    ax.set_ylabel(
        f"Δ cumulative profit, discounted\nat {rate * 100:g}% a year ({kpi.unit_label(delta=True)})"
    )
    legend_right(ax, title=legend)
    _month_axis(ax, base)
    caption = (
        f"Profit summed month by month and discounted at {rate * 100:g}% a year, as the NPV is,"
        f" minus the baseline's on the same seed: mean of {d.seeds} seeds with 95% t-bands; the"
        f" last month is the {kpi.short} difference of the verdicts." + note
    )
    yield Drawn("cumulative_profit", title, caption, fig)


def _draw_differences(ax, d: ChartData, differences: dict[str, pd.DataFrame]) -> None:
    """Each arm's month × seed differences as a mean with a 95% band, and the zero line."""
    for a, matrix in differences.items():
        draw_band(ax, t_band(matrix), d.styles[a], arm_title(a))
    ax.axhline(0, color=BASELINE_COLOUR, lw=1.5)


def _month_axis(ax, matrix: pd.DataFrame) -> None:
    ax.set_xlabel("Month of the measured period")
    ax.set_xlim(0, max(matrix.index))
