"""Kaplan-Meier retention curves (:mod:`analysis.survival`): a panel per segment, and a panel per
tier and joining cohort, the arms as lines and the baseline's 95% band."""

from __future__ import annotations

import math

import pandas as pd

from analysis.charts.common import Drawn, applies_when, legend_right, line_zorder, new_figure
from analysis.charts.data import ChartData
from analysis.survival import CHARTS, survival
from sim.strategies import title as arm_title

BY_SEGMENT, BY_TIER_COHORT = CHARTS
COLUMNS = 3  # panels a row


def has_runs(d: ChartData) -> bool:
    """Runs at the chosen point (whether they kept a customer panel is known only by reading
    them: a store without panels runs this generator and draws nothing)."""
    return not d.ts.empty


@applies_when(has_runs)
def retention_curves(d: ChartData):
    """The curves of the chosen point's runs by segment, then by tier and joining cohort."""
    if not has_runs(d):
        return
    arms, note, legend = d.shown("retention_horizon")
    here = d.runs[(d.runs["point"] == d.point) & d.runs["arm"].isin(arms)]
    found = survival(d.results, here)
    curves = found.curves
    if curves.empty:
        return
    arms = [a for a in arms if a in set(curves["arm"])]
    pooled = int(found.medians.loc[found.medians["arm"].isin(arms), "runs"].min())
    seeds = f"{pooled} runs' customers pooled per arm" if pooled > 1 else "one run's customers"
    caption = (
        "Kaplan-Meier share of customers still with the bank, by months since the measured"
        " period began (opening book) or since joining (newcomers); "
        f"{seeds}, weighted by the real customers each stands for; shaded: the baseline's 95%"
        " CI." + note
    )
    segments = curves[curves["kind"] == "segment"]
    title = "Retention curves by segment" + d.at_point()
    yield Drawn(BY_SEGMENT, title, caption, _figure(d, segments, arms, legend, title))
    rest = curves[curves["kind"].isin(["tier", "cohort"])]
    title = "Retention curves by tier and joining cohort" + d.at_point()
    caption += " Tier as of the customer's exit or the run's end."
    yield Drawn(BY_TIER_COHORT, title, caption, _figure(d, rest, arms, legend, title))


def _figure(d: ChartData, curves: pd.DataFrame, arms: list[str], legend: str, title: str):
    """A panel per (kind, group) of ``curves``, every arm a step line."""
    groups = list(curves[["kind", "group"]].drop_duplicates().itertuples(index=False))
    rows = math.ceil(len(groups) / COLUMNS)
    fig, axes = new_figure(15, 1.5 + 3.6 * rows, title, nrows=rows, ncols=COLUMNS, sharey=True)
    for ax, (kind, group) in zip(axes.flat, groups, strict=False):
        here = curves[(curves["kind"] == kind) & (curves["group"] == group)]
        for arm in arms:
            _draw_curve(ax, here[here["arm"] == arm], d, arm)
        ax.set_title(_group_title(kind, group))
        ax.set_xlim(0, d.months)
    for ax in axes.flat[len(groups) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("Still with the bank (%)")
    for ax in axes[-1, :]:
        ax.set_xlabel("Months")
    last = axes[0, -1] if len(groups) >= COLUMNS else axes.flat[len(groups) - 1]
    legend_right(last, title=legend)
    return fig


def _draw_curve(ax, curve: pd.DataFrame, d: ChartData, arm: str) -> None:
    style = d.styles[arm]
    ax.step(
        curve["month"],
        curve["survival"] * 100,
        where="post",
        color=style.colour,
        ls=style.dash,
        label=arm_title(arm),
        zorder=3 if arm == d.baseline else line_zorder(style),  # the baseline on top
    )
    if arm == d.baseline:
        ax.fill_between(
            curve["month"],
            curve["ci_low"] * 100,
            curve["ci_high"] * 100,
            step="post",
            color=style.colour,
            alpha=0.15,
            lw=0,
            zorder=1,
        )


def _group_title(kind: str, group: str) -> str:
    """``young_professional`` → ``Young professional``; a tier → ``Tier: mid``."""
    text = group.replace("_", " ")
    return f"Tier: {text}" if kind == "tier" else text[:1].upper() + text[1:]
