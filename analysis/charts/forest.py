"""The forest plot: every arm's paired difference from the baseline in the main KPIs, with its
simultaneous 95% CI, the band of the smallest effect worth acting on and the verdict."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from analysis.charts.common import (
    BASELINE_COLOUR,
    DETECTED,
    NEUTRAL,
    Drawn,
    Style,
    applies_when,
    new_figure,
)
from analysis.charts.data import ChartData
from sim.kpis import Kpi
from sim.strategies import title as arm_title

FOREST_KPIS = ("retention_horizon", "retention_mid_high", "profit", "npv")


def has_differences(d: ChartData) -> bool:
    """Differences from the baseline in a KPI of the forest."""
    diffs = d.tables.get("differences")
    return diffs is not None and not diffs.empty and bool(set(FOREST_KPIS) & set(diffs["kpi"]))


@applies_when(has_differences)
def forest(d: ChartData):
    if not has_differences(d):
        return
    diffs = d.tables["differences"]
    kpis = [k for k in FOREST_KPIS if k in set(diffs["kpi"])]
    rows = diffs[["point", "arm"]].drop_duplicates().reset_index(drop=True)
    title = "Each arm's difference from the baseline (simultaneous 95% CIs)"
    ncols = min(len(kpis), 2)
    nrows = math.ceil(len(kpis) / ncols)
    fig, axes = new_figure(
        16, 1.2 + nrows * (1.1 + 0.45 * len(rows)), title, nrows=nrows, ncols=ncols, sharey=True
    )
    labels = [d.label(a, p) for a, p in zip(rows["arm"], rows["point"], strict=True)]
    for ax, name in zip(axes.flat, kpis, strict=False):
        of_kpi = rows.merge(diffs[diffs["kpi"] == name], on=["point", "arm"], how="left")
        _draw_differences(ax, of_kpi, d.kpis[name], d.styles)
        ax.set_yticks(np.arange(len(rows))[::-1], labels)
    for ax in axes.flat[len(kpis) :]:
        ax.set_visible(False)
    marker = {"color": NEUTRAL, "marker": "o", "ms": 12, "mew": 2.4, "lw": 2.6}
    handles = [
        Line2D([], [], **marker, label="better or worse"),
        Line2D([], [], **marker, mfc="white", label="negligible or undecided"),
        Patch(color=NEUTRAL, alpha=0.15, label="± smallest effect worth acting on"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3)
    n = int(diffs["n"].max())
    caption = (
        f"Mean arm − baseline difference over {n} paired seeds with its simultaneous 95% CI."
        " Grey: ± the smallest effect worth acting on; an interval inside it is negligible. A"
        " filled dot is better or worse: its interval excludes 0, its mean is outside the grey."
    )
    yield Drawn("differences_forest", title, caption, fig)


def _draw_differences(ax, rows: pd.DataFrame, kpi: Kpi, styles: dict[str, Style]) -> None:
    """A row per (point, arm), top down: the mean difference with its CI, filled if the verdict
    found one, over the grey band of ± the smallest effect; a dashed line at zero."""
    ypos = np.arange(len(rows))[::-1]
    scale = kpi.scale
    for i, r in rows.iterrows():
        st = styles[r["arm"]]
        mean, low, high = r["mean_diff"] * scale, r["ci_low"] * scale, r["ci_high"] * scale
        smallest = r["smallest_effect"] * scale
        y = [ypos[i] - 0.4, ypos[i] + 0.4]
        ax.fill_betweenx(y, -smallest, smallest, color=NEUTRAL, alpha=0.15, lw=0)
        ax.errorbar(
            mean,
            ypos[i],
            xerr=[[mean - low], [high - mean]],
            color=st.colour,
            marker="o",
            ms=12,
            lw=2.6,
            capsize=4,
            mew=2.4,
            mfc=st.colour if r["verdict"] in DETECTED else "white",
            label=arm_title(r["arm"]),
        )
    ax.axvline(0, color=BASELINE_COLOUR, lw=1.5, ls="--")
    ax.set_title(kpi.label)
    ax.set_xlabel(kpi.axis(delta=True))
    ax.grid(axis="y", visible=False)
