"""Retention against NPV: every arm's means with 95% CIs on both axes and the Pareto front."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.text import Text

from analysis.charts.common import NEUTRAL, Drawn, Style, new_figure, text_colour
from analysis.charts.data import ChartData
from sim.kpis import REGISTRY

RETENTION, NPV = REGISTRY["retention_horizon"], REGISTRY["npv"]


def pareto_front(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mask of the points no other point beats on both (higher is better on both axes)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    better = (x[None, :] >= x[:, None]) & (y[None, :] >= y[:, None])
    strictly = (x[None, :] > x[:, None]) | (y[None, :] > y[:, None])
    return ~(better & strictly).any(axis=1)


def tradeoff(d: ChartData):
    summary = d.tables.get("summary")
    cols = [f"{k.name}{c}" for k in (RETENTION, NPV) for c in ("", "_ci_low", "_ci_high")]
    if summary is None or not set(cols) <= set(summary.columns):
        return
    # identical results (e.g. the baseline at every grid point) are one point
    s = summary.dropna(subset=[cols[0], cols[3]]).drop_duplicates([cols[0], cols[3]])
    if len(s) < 2:
        return
    r = s[cols[:3]].to_numpy() * RETENTION.scale  # columns: mean, CI low, CI high
    n = s[cols[3:]].to_numpy() * NPV.scale
    title = "Retention vs NPV: the trade-off between arms"
    fig, axes = new_figure(14, 9, title)
    ax = axes[0, 0]
    for i, arm in enumerate(s["arm"]):
        _draw_arm(ax, r[i], n[i], d.styles[arm], arm)
    front = pareto_front(r[:, 0], n[:, 0])
    _draw_front(ax, r[front, 0], n[front, 0])
    ax.set_xlabel(f"{RETENTION.label} ({RETENTION.unit} of starting customers)")
    ax.set_ylabel(f"{NPV.label} of profit ({NPV.unit})")
    labels = [
        d.label(a, p) + (" ★" if f else "")
        for a, p, f in zip(s["arm"], s["point"], front, strict=True)
    ]
    label_points(ax, r[:, 0], n[:, 0], labels, [d.styles[a].colour for a in s["arm"]])
    handles = _legend_handles(d, list(pd.unique(s["arm"])) if d.multi_point else [])
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 3))
    caption = (
        "Mean retention and NPV of each arm with 95% CIs on both axes; arms on the dashed "
        "Pareto front (★) are not beaten on both by any other arm."
    )
    yield Drawn("retention_vs_npv", title, caption, fig)


def _draw_arm(ax, r: np.ndarray, n: np.ndarray, style: Style, arm: str) -> None:
    """An arm's mean (retention ``r[0]``, NPV ``n[0]``) with its CIs (``[1]`` to ``[2]``)."""
    ax.errorbar(
        r[0],
        n[0],
        xerr=[[r[0] - r[1]], [r[2] - r[0]]],
        yerr=[[n[0] - n[1]], [n[2] - n[0]]],
        color=style.colour,
        lw=1.4,
        alpha=0.45,
        capsize=3,
        ls="none",
        zorder=2,
    )
    ax.plot(
        r[0],
        n[0],
        marker=style.marker,
        color=style.colour,
        ms=13,
        mec="white",
        mew=1.5,
        ls="",
        zorder=4,
        label=arm,
    )


def _draw_front(ax, x: np.ndarray, y: np.ndarray) -> None:
    """The Pareto front's points circled and joined by a dashed line, left to right."""
    order = np.argsort(x)
    ax.plot(x[order], y[order], color=NEUTRAL, ls="--", lw=2, zorder=3, label="Pareto front")
    ax.scatter(x, y, s=480, facecolors="none", edgecolors=NEUTRAL, lw=2, zorder=5)


def _legend_handles(d: ChartData, arms: list[str]) -> list[Line2D]:
    """The Pareto front's entry, then ``arms`` (in a sweep, where labels name points)."""
    front = Line2D(
        [],
        [],
        color=NEUTRAL,
        ls="--",
        marker="o",
        mfc="none",
        ms=16,
        lw=2,
        label="Pareto front (★): no other arm has both higher",
    )
    return [front] + [
        Line2D([], [], color=d.styles[a].colour, marker=d.styles[a].marker, ls="", ms=12, label=a)
        for a in arms
    ]


def label_points(ax, x, y, labels, colours) -> None:
    """Labels beside their points (left of those near the right edge), pushed apart vertically
    where they would overlap, with thin leaders."""
    ax.autoscale_view()
    ax.set_xlim(*ax.get_xlim())
    ax.set_ylim(*ax.get_ylim())
    fx, fy = (ax.transData + ax.transAxes.inverted()).transform(np.column_stack([x, y])).T
    texts = []
    for i, text in enumerate(labels):
        right = fx[i] < 0.8
        texts.append(
            ax.annotate(
                text,
                (x[i], y[i]),
                xytext=(fx[i] + (0.025 if right else -0.025), fy[i]),
                textcoords="axes fraction",
                ha="left" if right else "right",
                va="center",
                color=text_colour(colours[i]),
                fontsize=13,
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
