"""Client managers' skill over time: median and quantile bands for the arms that train or
mentor managers, against the baseline's."""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from analysis.charts.common import (
    BASELINE_COLOUR,
    NEUTRAL,
    Drawn,
    applies_when,
    new_figure,
    text_colour,
)
from analysis.charts.data import ChartData
from sim.strategies import title as arm_title

SKILL_STRATEGIES = {"mentoring", "training"}
QUANTILES = [f"manager_skill_p{q}" for q in (10, 25, 50, 75, 90)]


def has_skill_arms(d: ChartData) -> bool:
    """Skill quantiles in the time series and an arm that trains or mentors managers."""
    return not d.ts.empty and set(QUANTILES) <= set(d.ts.columns) and bool(_skill_arms(d))


@applies_when(has_skill_arms)
def manager_skill(d: ChartData):
    if not has_skill_arms(d):
        return
    arms = _skill_arms(d)
    ncols = 2 if len(arms) == 4 else len(arms)
    nrows = math.ceil(len(arms) / ncols)
    title = "Client managers' skill over time" + d.at_point()
    fig, axes = new_figure(
        5.5 * ncols + 3, 1 + 5.5 * nrows, title, nrows=nrows, ncols=ncols, sharey=True, sharex=True
    )
    mean = d.ts.groupby(["arm", "month"])[QUANTILES].mean()
    base = mean.loc[d.baseline] if d.baseline in arms else None
    for ax, arm in zip(axes.flat, arms, strict=True):
        colour = d.styles[arm].colour
        _draw_quantiles(ax, mean.loc[arm], colour, None if arm == d.baseline else base)
        ax.set_title(arm_title(arm), color=text_colour(colour))
    for ax in axes[-1]:
        ax.set_xlabel("Month of the measured period")
    for ax in axes[:, 0]:
        ax.set_ylabel("Skill (0–1; 1 = full skill)")
    handles = [
        Patch(color=NEUTRAL, alpha=0.15, label="middle 80% of managers"),
        Patch(color=NEUTRAL, alpha=0.3, label="middle half of managers"),
        Line2D([], [], color=NEUTRAL, label="median manager"),
        Line2D([], [], color=BASELINE_COLOUR, ls=":", lw=2.2, label="baseline: median"),
        Line2D(
            [],
            [],
            color=BASELINE_COLOUR,
            ls=":",
            lw=1.3,
            label="baseline: bottom of its middle 80%",
        ),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3)
    caption = (
        "Client managers' skill each month: the median manager, the middle half and the middle"
        f" 80% of managers (means over {d.seeds} seeds) for the mentoring and training arms,"
        " the baseline's median and the bottom of its middle 80% dotted for reference."
    )
    yield Drawn("manager_skill", title, caption, fig)


def _skill_arms(d: ChartData) -> list[str]:
    """The baseline and the first three arms (of the chart arms, if any) that mentor or train
    managers; none without one."""
    strategies = d.runs.drop_duplicates("arm").set_index("arm")["strategies"].fillna("")
    here = set(d.ts["arm"])
    skilled = [
        a
        for a in d.chart_arms or d.arms
        if a in here and set(strategies[a].split(",")) & SKILL_STRATEGIES
    ]
    if not skilled:
        return []
    return ([d.baseline] if d.baseline in here else []) + skilled[:3]


def _draw_quantiles(ax, m: pd.DataFrame, colour: str, base: pd.DataFrame | None) -> None:
    """An arm's median and its middle half and middle 80% of managers by month; the baseline's
    median and 10th percentile dotted when ``base`` is given."""
    ax.fill_between(m.index, m[QUANTILES[0]], m[QUANTILES[4]], color=colour, alpha=0.15, lw=0)
    ax.fill_between(m.index, m[QUANTILES[1]], m[QUANTILES[3]], color=colour, alpha=0.3, lw=0)
    ax.plot(m.index, m[QUANTILES[2]], color=colour)
    if base is not None:
        ax.plot(base.index, base[QUANTILES[2]], color=BASELINE_COLOUR, ls=":", lw=2.2)
        ax.plot(base.index, base[QUANTILES[0]], color=BASELINE_COLOUR, ls=":", lw=1.3)
