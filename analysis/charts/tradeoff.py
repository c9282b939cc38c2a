"""Retention against NPV, as paired differences from the baseline: every arm's mean difference
with the simultaneous 95% CIs of the verdicts on both axes, the band of negligible effects and the
Pareto front."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text

from analysis.charts.common import (
    BASELINE_COLOUR,
    NEUTRAL,
    Drawn,
    Style,
    applies_when,
    left_out_note,
    new_figure,
    text_colour,
)
from analysis.charts.data import ChartData
from sim.strategies import title as arm_title

AXES = ("retention_horizon", "npv")


def pareto_front(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mask of the points no other point beats on both (higher is better on both axes)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    better = (x[None, :] >= x[:, None]) & (y[None, :] >= y[:, None])
    strictly = (x[None, :] > x[:, None]) | (y[None, :] > y[:, None])
    return ~(better & strictly).any(axis=1)


def paired_table(d: ChartData) -> pd.DataFrame:
    """A row per (point, arm) shown: mean difference, CI low and high and smallest effect of
    retention (``r_*``) and NPV (``n_*``) in display units; empty without both."""
    diffs = d.tables.get("differences")
    if diffs is None or diffs.empty or not set(AXES) <= set(diffs["kpi"]):
        return pd.DataFrame()
    columns = ["mean_diff", "ci_low", "ci_high", "smallest_effect"]
    parts = []
    for prefix, name in zip("rn", AXES, strict=True):
        rows = diffs[diffs["kpi"] == name].set_index(["point", "arm"])[columns]
        parts.append(rows.mul(d.kpis[name].scale).add_prefix(f"{prefix}_"))
    table = pd.concat(parts, axis=1, join="inner").dropna(subset=["r_mean_diff", "n_mean_diff"])
    table = table.reset_index()
    table = table[(table["r_mean_diff"] != 0) | (table["n_mean_diff"] != 0)]  # the baseline's
    if d.chart_arms:
        table = table[table["arm"].isin(d.chart_arms)]
    return table.drop_duplicates(["r_mean_diff", "n_mean_diff"])


@applies_when(lambda d: not paired_table(d).empty)
def tradeoff(d: ChartData):
    t = paired_table(d)
    if t.empty:
        return
    retention, npv = d.kpis["retention_horizon"], d.kpis["npv"]
    title = "Retention vs NPV: each arm's difference from the baseline"
    fig, axes = new_figure(14, 9.5, title)
    ax = axes[0, 0]
    band = _draw_negligible(ax, t)
    for row in t.itertuples():
        _draw_arm(ax, row, d.styles[row.arm], row.arm)
    ax.plot(0, 0, marker="o", color=BASELINE_COLOUR, ms=13, mec="white", mew=1.5, ls="", zorder=4)
    x = np.append(t["r_mean_diff"].to_numpy(), 0.0)  # the baseline is on the front if unbeaten
    y = np.append(t["n_mean_diff"].to_numpy(), 0.0)
    front = pareto_front(x, y)
    _draw_front(ax, x[front], y[front])
    ax.axhline(0, color=BASELINE_COLOUR, lw=1.2, ls="--", zorder=1)
    ax.axvline(0, color=BASELINE_COLOUR, lw=1.2, ls="--", zorder=1)
    _set_limits(ax, t, band)
    ax.set_xlabel(f"{retention.axis(delta=True)}, simultaneous 95% CI")
    ax.set_ylabel(f"{npv.axis(delta=True)}, simultaneous 95% CI")
    labels = [
        d.label(a, p) + (" ★" if f else "")
        for a, p, f in zip(t["arm"], t["point"], front[:-1], strict=True)
    ]
    label_points(
        ax,
        x,
        y,
        [*labels, arm_title(d.baseline) + (" ★" if front[-1] else "")],
        [*(d.styles[a].colour for a in t["arm"]), BASELINE_COLOUR],
        reach=(np.append(t["r_ci_low"], 0.0), np.append(t["r_ci_high"], 0.0)),
    )
    handles = _legend_handles(band)
    fig.legend(handles=handles, loc="outside lower center", ncol=2)
    left_out = [a for a in d.arms if a != d.baseline and a not in set(t["arm"])]
    caption = (
        "Each arm minus the baseline on the same seeds, with the simultaneous 95% CIs of the"
        " verdicts on both axes; grey: within the smallest effect worth acting on; arms on the"
        " dashed Pareto front (★) are not beaten on both by any other." + left_out_note(left_out)
    )
    yield Drawn("retention_vs_npv", title, caption, fig)


def _draw_negligible(ax, t: pd.DataFrame) -> tuple[float, float]:
    """The bands of negligible retention and NPV differences (± the smallest effects, the
    largest of any point); returns their half-widths."""
    bx, by = float(t["r_smallest_effect"].max()), float(t["n_smallest_effect"].max())
    ax.axvspan(-bx, bx, color=NEUTRAL, alpha=0.12, lw=0, zorder=0)
    ax.axhspan(-by, by, color=NEUTRAL, alpha=0.12, lw=0, zorder=0)
    return bx, by


def _draw_arm(ax, row, style: Style, arm: str) -> None:
    """An arm's mean differences with their CIs on both axes (labels go between the two)."""
    ax.errorbar(
        row.r_mean_diff,
        row.n_mean_diff,
        xerr=[[row.r_mean_diff - row.r_ci_low], [row.r_ci_high - row.r_mean_diff]],
        yerr=[[row.n_mean_diff - row.n_ci_low], [row.n_ci_high - row.n_mean_diff]],
        color=style.colour,
        marker=style.marker,
        ms=13,
        mec="white",
        mew=1.5,
        lw=2,
        capsize=4,
        ls="none",
        zorder=4,
        label=arm_title(arm),
    )
    ax.plot(  # the mean again, above the labels
        row.r_mean_diff,
        row.n_mean_diff,
        marker=style.marker,
        color=style.colour,
        ms=13,
        mec="white",
        mew=1.5,
        ls="",
        zorder=7,
    )


def _set_limits(ax, t: pd.DataFrame, band: tuple[float, float]) -> None:
    """Axes that hold zero, the negligible band, every mean and every CI (an arm without an
    interval has NaN ends), with a margin."""
    for setter, prefix, half in ((ax.set_xlim, "r", band[0]), (ax.set_ylim, "n", band[1])):
        values = t[[f"{prefix}_ci_low", f"{prefix}_ci_high", f"{prefix}_mean_diff"]].to_numpy()
        values = values[np.isfinite(values)]
        low, high = min(values.min(initial=0.0), -half), max(values.max(initial=0.0), half)
        margin = 0.08 * (high - low or 1.0)
        setter(low - margin, high + margin)


def _draw_front(ax, x: np.ndarray, y: np.ndarray) -> None:
    """The Pareto front's points circled and joined by a dashed line, left to right."""
    order = np.argsort(x)
    ax.plot(x[order], y[order], color=NEUTRAL, ls="--", lw=2, zorder=3, label="Pareto front")
    ax.scatter(x, y, s=480, facecolors="none", edgecolors=NEUTRAL, lw=2, zorder=5)


def _legend_handles(band: tuple[float, float]) -> list:
    """The Pareto front, the CIs and the negligible band."""
    return [
        Line2D(
            [],
            [],
            color=NEUTRAL,
            ls="--",
            marker="o",
            mfc="none",
            ms=16,
            lw=2,
            label="Pareto front (★): no other arm has both higher",
        ),
        Line2D([], [], color=NEUTRAL, marker="o", lw=2, label="mean difference, 95% CI"),
        Patch(
            color=NEUTRAL,
            alpha=0.25,
            label=f"negligible: within ±{band[0]:.2g} pts or ±CNY {band[1]:.2g} M",
        ),
    ]


def label_points(ax, x, y, labels, colours, reach=None) -> None:
    """Labels beside their points, past their error bars (``reach``: (low, high) x of each, in
    data), left of those near the right edge, pushed apart vertically where they would overlap,
    with thin leaders; the axes' limits are set before."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    low, high = (x, x) if reach is None else (np.asarray(r, float) for r in reach)
    low, high = np.where(np.isfinite(low), low, x), np.where(np.isfinite(high), high, x)
    to_axes = ax.transData + ax.transAxes.inverted()
    fx, fy = to_axes.transform(np.column_stack([x, y])).T
    flow, fhigh = (to_axes.transform(np.column_stack([v, y]))[:, 0] for v in (low, high))
    texts = []
    for i, text in enumerate(labels):
        right = fhigh[i] < 0.75 or flow[i] < 0.25  # the side with room, past the bars if any
        start = fhigh[i] + 0.015 if fhigh[i] < 0.75 else fx[i] + 0.02
        texts.append(
            ax.annotate(
                text,
                (x[i], y[i]),
                xytext=(start if right else flow[i] - 0.015, fy[i]),
                textcoords="axes fraction",
                ha="left" if right else "right",
                va="center",
                color=text_colour(colours[i]),
                fontsize=13,
                zorder=6,  # above the error bars
                annotation_clip=False,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
                arrowprops={
                    "arrowstyle": "-",
                    "color": colours[i],
                    "lw": 0.9,
                    "alpha": 0.7,
                    "shrinkA": 2,
                    "shrinkB": 9,
                },
            )
        )
    repel(ax, texts)


def repel(ax, texts: list, pad: float = 1.25, steps: int = 400) -> None:
    """Move annotations (placed in axes fraction) apart vertically until none overlap."""
    renderer = ax.figure.canvas.get_renderer()
    boxes = [
        ax.transAxes.inverted().transform_bbox(Text.get_window_extent(t, renderer)) for t in texts
    ]
    x0, x1 = np.array([b.x0 for b in boxes]), np.array([b.x1 for b in boxes])
    height = max(b.height for b in boxes) * pad
    y = np.array([t.xyann[1] for t in texts], float)
    for _ in range(steps):
        moved = False
        for i, j in itertools.combinations(range(len(texts)), 2):
            gap = y[j] - y[i]
            if x0[i] < x1[j] and x0[j] < x1[i] and abs(gap) < height:
                push = (height - abs(gap)) / 2 + 1e-4
                up = gap > 0 or (gap == 0 and j > i)  # j goes up, i down
                y[j] += push if up else -push
                y[i] -= push if up else -push
                moved = True
        if not moved:
            break
    for t, yi in zip(texts, y, strict=True):
        t.xyann = (t.xyann[0], yi)
