"""Annual attrition by customer segment and by tier, per arm, with 95% CIs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.charts.common import Drawn, Style, legend_right, new_figure, t_band
from analysis.charts.data import ChartData
from sim.config import TIERS
from sim.kpis import REGISTRY
from sim.strategies import title as arm_title

RETENTION = REGISTRY["retention_horizon"]
"""Attrition is a rate shown like retention (its scale and unit), and the arms shown are those
retention moves most."""


def attrition(ts: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    """Annual attrition (a share) per run and group: exits / mean customers × 12 / months."""
    per_run = ts.groupby(["arm", "seed"])
    exits = per_run[[f"exits_{g}" for g in groups]].sum().to_numpy()
    customers = per_run[[f"customers_{g}" for g in groups]].mean().to_numpy()
    months = per_run["month"].count().to_numpy()[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(customers > 0, exits / customers * 12 / months, np.nan)
    return pd.DataFrame(rate, index=per_run.size().index, columns=groups)


def churn(d: ChartData):
    panels = [] if d.ts.empty else _panels(d.ts)
    if not panels:
        return
    arms, note, legend = d.shown(RETENTION.name)
    title = "Annual attrition by segment and tier" + d.at_point()
    rows = max(len(m) for _, m in panels)
    fig, axes = new_figure(15, 3 + 0.22 * len(arms) * rows, title, ncols=len(panels), sharex=True)
    right = 0.0
    for ax, (name, members) in zip(axes[0], panels, strict=True):
        rates = attrition(d.ts, members) * RETENTION.scale
        _draw_rates(ax, rates, {arm: d.styles[arm] for arm in arms})
        ax.set_title(name)
        ax.set_xlabel(f"Annual attrition ({RETENTION.unit} per year)")
        means = rates.groupby(level="arm").mean().to_numpy()
        right = max(right, np.nanmax(means) * 1.5)
    axes[0, 0].set_xlim(0, right)  # a CI from very few customers may run off the right edge
    legend_right(axes[0, -1], title=legend)
    caption = (
        "Exits per year as a share of the group's mean customer count (newcomers "
        f"included), mean of {d.seeds} seeds with 95% CIs." + note
    )
    yield Drawn("churn_by_segment_tier", title, caption, fig)


def _panels(ts: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """(title, groups) of the panels: the segments and the tiers the time series counts."""
    exits = [c.removeprefix("exits_") for c in ts.columns if c.startswith("exits_")]
    groups = [g for g in exits if f"customers_{g}" in ts]
    panels = (
        ("By segment", [g for g in groups if g not in TIERS]),
        ("By tier", [t for t in TIERS if t in groups]),
    )
    return [(name, members) for name, members in panels if members]


def _draw_rates(ax, rates: pd.DataFrame, styles: dict[str, Style]) -> None:
    """A row per group, a dot with its 95% CI per arm (the first on top)."""
    groups = list(rates.columns)
    half = min(0.36, 0.12 * (len(styles) - 1))
    offsets = np.linspace(half, -half, len(styles))
    y = np.arange(len(groups))[::-1]
    for (arm, st), off in zip(styles.items(), offsets, strict=True):
        band = t_band(rates.loc[arm].T)
        ax.errorbar(
            band["mean"],
            y + off,
            xerr=[band["mean"] - band["low"], band["high"] - band["mean"]],
            color=st.colour,
            marker=st.marker,
            ls="",
            ms=9,
            capsize=3,
            lw=1.8,
            label=arm_title(arm),
        )
    ax.set_yticks(y, [g.replace("_", " ").capitalize() for g in groups])
    for sep in y[:-1] - 0.5:
        ax.axhline(sep, color="#cccccc", lw=0.8)
    ax.grid(axis="y", visible=False)
