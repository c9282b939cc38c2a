"""The map of who gets hurt: per strategy, its extra exits against the baseline on the same
seeds by area of the city (the mean paired difference over the seeds, ``harm.by_area``), with
the bank's branches and those the strategy closed."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.lines import Line2D

from analysis.charts.common import BAD, BASELINE_COLOUR, Drawn, applies_when, new_figure
from analysis.charts.data import ChartData
from analysis.harm import Leavers, by_area
from runner import store
from sim.metrics import AREAS
from sim.strategies import title as arm_title

MAX_PANELS = 4
FADED = 0.3  # the opacity of an area whose interval covers zero


def has_leavers(d: ChartData) -> bool:
    """Whether the chosen point has a baseline, another arm and a stored leavers table (looked
    for, not read: reading parquet starts Arrow's threads, which the chart child forks without)."""
    here = d.runs[d.runs["point"] == d.point]
    if d.baseline not in set(here["arm"]) or here["arm"].nunique() < 2:
        return False
    return (
        store.runs_folder(d.results) / str(here["run_id"].iloc[0]) / "leavers.parquet"
    ).is_file()


@applies_when(has_leavers)
def harm_map(d: ChartData):
    if not has_leavers(d):
        return
    found = Leavers.load(d.results, d.runs[d.runs["point"] == d.point])
    areas = by_area(found, d.baseline)
    if areas.empty:
        return
    arms = _arms(d, found, areas)
    city = _city_km(d)
    cols = min(len(arms), 2)
    rows = -(-len(arms) // cols)
    title = "Where each strategy changes exits: extra leavers by area against the baseline"
    fig, axes = new_figure(8 * cols + 2, 7.5 * rows + 1, title, nrows=rows, ncols=cols)
    for ax, arm in zip(axes.flat, arms, strict=False):
        image = _panel(ax, areas[areas["arm"] == arm], found, arm, city)
        fig.colorbar(image, ax=ax, shrink=0.85).set_label("extra exits (real customers)")
    for ax in list(axes.flat)[len(arms) :]:
        ax.set_visible(False)
    fig.legend(handles=_legend(found.fixed_sites), loc="outside lower center", ncol=3)
    seeds = int(areas["n"].max())
    caption = (
        f"Each strategy's exits less the baseline's on the same {seeds} seeds, by area of the"
        f" city ({AREAS} x {AREAS} squares of {city / AREAS:.1f} km), over the measured months:"
        " red where more of the customers at the start leave, blue where fewer, the mean over the"
        " seeds on each panel's own scale (centred on zero); an area whose 95% interval covers"
        f" zero is faded. {SITES if found.fixed_sites else DRAWN_SITES}"
    )
    yield Drawn("harm_map", title, caption, fig)


SITES = (
    "Squares: the bank's branches; a cross: a branch the strategy closed (in how many of the"
    " seeds, beside it, when not all)."
)
DRAWN_SITES = (
    "Crosses: the branches the strategy closed, seed by seed (the synthetic bank's branches"
    " stand in other places in each seed, so they are not drawn)."
)


def _arms(d: ChartData, found: Leavers, areas: pd.DataFrame) -> list[str]:
    """The arms mapped: those that closed branches first, then the chart arms, then the rest,
    each group by the size of its total change; at most MAX_PANELS."""
    closing = set(found.branches.loc[found.branches["closed"], "arm"])
    size = areas.groupby("arm")["exits"].apply(lambda x: x.abs().sum())
    shown = [a for a in d.arms if a != d.baseline and a in size.index]
    shown.sort(key=lambda a: (a not in closing, a not in d.chart_arms, -size[a]))
    return shown[:MAX_PANELS]


def _city_km(d: ChartData) -> float:
    config = store.run_config(d.results, str(d.runs["run_id"].iloc[0]))
    return float((config.get("bank") or {}).get("city_km", 30.0))


def _panel(ax, areas: pd.DataFrame, found: Leavers, arm: str, city: float):
    """One arm's grid of extra exits on its own scale centred on zero, faded where the interval
    covers zero, with branches."""
    limit = max(float(areas["exits"].abs().max()), 1.0)
    norm = TwoSlopeNorm(0.0, -limit, limit)
    grid = np.zeros((AREAS, AREAS))
    sure = np.zeros((AREAS, AREAS), bool)
    x, y = areas["area_x"].to_numpy(int), areas["area_y"].to_numpy(int)
    grid[y, x] = areas["exits"].to_numpy()
    sure[y, x] = areas["apart"].to_numpy() != 0
    extent = (0, city, 0, city)
    shown = dict(cmap="RdBu_r", norm=norm, origin="lower", extent=extent, interpolation="nearest")
    ax.imshow(np.where(sure, np.nan, grid), alpha=FADED, **shown)
    image = ax.imshow(np.where(sure, grid, np.nan), **shown)
    _branches(ax, found, arm)
    ax.set_title(f"{arm_title(arm)}: {areas['exits'].sum():+,.0f} exits", fontsize=15, pad=10)
    ax.set_xlim(0, city)
    ax.set_ylim(0, city)
    ax.set_aspect("equal")
    ax.set_xlabel("km")
    ax.set_ylabel("km")
    ax.grid(False)
    return image


def _branches(ax, found: Leavers, arm: str) -> None:
    """The bank's branches (when they stand in the same places in every seed) and a cross at
    each site the arm closed, with in how many seeds when not all."""
    mine = found.branches[found.branches["arm"] == arm]
    if found.fixed_sites:
        sites = mine.drop_duplicates("catchment")
        ax.scatter(sites["x"], sites["y"], marker="s", s=90, color=BASELINE_COLOUR, ec="white")
    seeds = mine["seed"].nunique()
    for (bx, by), times in mine[mine["closed"]].groupby(["x", "y"])["seed"].nunique().items():
        ax.scatter([bx], [by], marker="X", s=380, color=BAD, edgecolors="black", zorder=3)
        if found.fixed_sites and times < seeds:
            ax.annotate(f"{times}/{seeds}", (bx, by), xytext=(9, 9), textcoords="offset points")


def _legend(sites: bool) -> list:
    """The marks: branches (when drawn), closed branches and a faded area."""
    marks = [
        ("s", 11, BASELINE_COLOUR, "white", 1.0, "the bank's branch"),
        ("X", 16, BAD, "black", 1.0, "closed by the strategy"),
        ("s", 14, "#d6604d", "#d6604d", FADED, "faded: 95% interval covers zero"),
    ]
    return [
        Line2D([], [], ls="", marker=m, ms=ms, color=c, mec=e, alpha=a, label=label)
        for m, ms, c, e, a, label in marks[0 if sites else 1 :]
    ]
