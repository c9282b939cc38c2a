"""Annual attrition by customer segment and by tier: each arm's difference from the baseline,
paired on seeds, with its 95% CI (the baseline's own attrition beside each group's name); the
arms' levels when there is no baseline to compare with."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.charts.common import (
    BASELINE_COLOUR,
    Drawn,
    Style,
    applies_when,
    legend_right,
    new_figure,
    t_band,
)
from analysis.charts.data import ChartData
from sim.config import TIERS
from sim.kpis import REGISTRY
from sim.strategies import title as arm_title

RETENTION = REGISTRY["retention_horizon"]
"""Attrition is a rate shown like retention (its scale and unit), and the arms shown are those
retention moves most."""
MARKER_SIZE = 7  # points
CAP_SIZE = 6  # points each side: caps 12 points tall stand out above and below the marker
MARGIN = 0.08  # of the intervals' span, each side of the x-axis


def attrition(ts: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    """Annual attrition (a share) per run and group: exits / mean customers × 12 / months."""
    per_run = ts.groupby(["arm", "seed"])
    exits = per_run[[f"exits_{g}" for g in groups]].sum().to_numpy()
    customers = per_run[[f"customers_{g}" for g in groups]].mean().to_numpy()
    months = per_run["month"].count().to_numpy()[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(customers > 0, exits / customers * 12 / months, np.nan)
    return pd.DataFrame(rate, index=per_run.size().index, columns=groups)


def paired_differences(rates: pd.DataFrame, arm: str, baseline: str) -> pd.DataFrame:
    """Seed × group: the arm's rate minus the baseline's on the same seed (NaN for a seed the
    other lacks)."""
    mine, base = rates.loc[arm], rates.loc[baseline]
    seeds = mine.index.union(base.index)
    return mine.reindex(seeds) - base.reindex(seeds)


def has_groups(d: ChartData) -> bool:
    """Exits and customers of a segment or tier in the time series."""
    return not d.ts.empty and bool(_panels(d.ts))


@applies_when(has_groups)
def churn(d: ChartData):
    if not has_groups(d):
        return
    panels = _panels(d.ts)
    arms, note, legend = d.shown(RETENTION.name)
    paired = arms[:1] == [d.baseline] and len(arms) > 1
    shown = arms[1:] if paired else arms
    title = "Annual attrition by segment and tier"
    title += (": change vs the baseline" if paired else "") + d.at_point()
    rows = max(len(m) for _, m in panels)
    height = 3 + rows * max(0.6, 0.22 * len(shown))  # a group: room for its two-line name
    fig, axes = new_figure(15, height, title, ncols=len(panels), sharex=True)
    ends = []
    for ax, (name, members) in zip(axes[0], panels, strict=True):
        rates = attrition(d.ts, members) * RETENTION.scale
        styles = {arm: d.styles[arm] for arm in shown}
        if paired:
            bands = {a: t_band(paired_differences(rates, a, d.baseline).T) for a in shown}
            base = rates.loc[d.baseline].mean()
            labels = [f"{_group(g)}\nbaseline {base[g]:.1f}%" for g in members]
            ax.axvline(0, color=BASELINE_COLOUR, lw=1.5, zorder=1, label=arm_title(d.baseline))
        else:
            bands = {a: t_band(rates.loc[a].T) for a in shown}
            labels = [_group(g) for g in members]
        _draw_intervals(ax, bands, styles, labels)
        ax.set_title(name)
        unit = f"{RETENTION.unit_label(delta=paired)} per year"
        ax.set_xlabel(f"{'Δ annual' if paired else 'Annual'} attrition ({unit})")
        for band in bands.values():
            ends += [band["low"], band["high"], band["mean"]]
    _fit_x(axes[0, 0], ends, zero=paired)
    legend_right(axes[0, -1], title=legend)
    what = (
        "Each arm's exits per year as a share of the group's mean customer count (newcomers"
        " included) minus the baseline's on the same seed: left of zero, the arm loses fewer"
        f" of the group; mean of {d.seeds} seeds with 95% CIs; beside each group, the"
        " baseline's attrition."
        if paired
        else "Exits per year as a share of the group's mean customer count (newcomers "
        f"included), mean of {d.seeds} seeds with 95% CIs."
    )
    yield Drawn("churn_by_segment_tier", title, what + note, fig)


def _panels(ts: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """(title, groups) of the panels: the segments and the tiers the time series counts."""
    exits = [c.removeprefix("exits_") for c in ts.columns if c.startswith("exits_")]
    groups = [g for g in exits if f"customers_{g}" in ts]
    panels = (
        ("By segment", [g for g in groups if g not in TIERS]),
        ("By tier", [t for t in TIERS if t in groups]),
    )
    return [(name, members) for name, members in panels if members]


def _group(group: str) -> str:
    return group.replace("_", " ").capitalize()


def _draw_intervals(
    ax, bands: dict[str, pd.DataFrame], styles: dict[str, Style], labels: list[str]
) -> None:
    """A row per group, a dot with its 95% CI per arm (the first on top); the caps stand out
    above and below the dot, so that an interval narrower than the dot still shows its ends."""
    half = min(0.36, 0.12 * (len(styles) - 1))
    offsets = np.linspace(half, -half, len(styles))
    y = np.arange(len(labels))[::-1]
    for (arm, st), off in zip(styles.items(), offsets, strict=True):
        band = bands[arm]
        ax.errorbar(
            band["mean"],
            y + off,
            xerr=[band["mean"] - band["low"], band["high"] - band["mean"]],
            color=st.colour,
            marker=st.marker,
            ls="",
            ms=MARKER_SIZE,
            capsize=CAP_SIZE,
            capthick=2.2,
            lw=2.2,
            label=arm_title(arm),
        )
    ax.set_yticks(y, labels)
    for sep in y[:-1] - 0.5:
        ax.axhline(sep, color="#cccccc", lw=0.8)
    ax.grid(axis="y", visible=False)


def _fit_x(ax, ends: list[pd.Series], zero: bool) -> None:
    """The x-axis (shared by the panels) spans every interval whole, with a margin, and zero
    (for differences; a rate starts at zero)."""
    values = np.concatenate([np.asarray(e, dtype=float) for e in ends]) if ends else np.array([])
    values = values[np.isfinite(values)]
    if not len(values):
        return
    low, high = min(values.min(), 0.0), max(values.max(), 0.0)
    span = high - low or 1.0
    left = low - MARGIN * span if zero or low < 0 else 0.0
    ax.set_xlim(left, high + MARGIN * span)
