"""The branch map: where the chosen arm's customers live, before and after, by outcome (stayed,
left, joined), with the branches open, closed and opened."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from analysis.charts.common import BAD, BASELINE_COLOUR, Drawn, new_figure, short_point
from analysis.charts.data import ChartData
from experiments import store

OUTCOMES = {"stayed": "#A0A0A0", "left": "#D55E00", "joined": "#0072B2"}
BRANCH_MARKERS = {  # state: (marker, colour, edge, size in points², legend size)
    "open branch": ("s", BASELINE_COLOUR, "white", 170, 13),
    "closed branch": ("X", BAD, "white", 380, 17),
    "new branch": ("*", "#F0E442", "black", 700, 24),
}


def branch_map(d: ChartData):
    found = _map_run(d)
    if found is None:
        return
    arm, point, panel, branches = found
    outcome, state = customer_outcomes(panel), branch_states(branches)
    at = f" at {short_point(point)}" if d.multi_point else ""
    title = f"Customers and branches before and after: {arm}{at}"
    fig, axes = new_figure(17, 9.5, title, ncols=2, sharex=True, sharey=True)
    months = int(d.ts["month"].max()) if not d.ts.empty else None
    panels = {
        "before": (axes[0, 0], ("stayed", "left"), "Before: customers at the start, by outcome"),
        "after": (
            axes[0, 1],
            ("stayed", "joined"),
            f"After: customers at the end{f' of month {months}' if months else ''}",
        ),
    }
    for key, (ax, shown, subtitle) in panels.items():
        _draw_homes(ax, panel, {name: outcome[name] for name in shown})
        _draw_branches(ax, branches, state[key])
        ax.set_aspect("equal")
        ax.set_xlabel("km")
        ax.set_title(subtitle, fontsize=15)
        ax.grid(False)
    axes[0, 0].set_ylabel("km")
    # real customers: a panel row stands for its weight of them (1 in panels without weights)
    real = panel["weight"].to_numpy() if "weight" in panel else np.ones(len(panel))
    handles = _legend_handles({name: real[mask].sum() for name, mask in outcome.items()}, state)
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles))
    caption = (
        f"Homes of {arm}'s customers in its first seed ({panel.shape[0]:,} simulated customers;"
        " the legend counts the real customers they stand for) by outcome over the measured"
        " period, with open, closed and new branches."
    )
    yield Drawn("branch_map", title, caption, fig)


def _map_run(d: ChartData) -> tuple[str, str, pd.DataFrame, pd.DataFrame] | None:
    """(arm, point, panel, branches) of the map: the chosen arm and point first, then its other
    points, then (unless the arm was given) the other arms, the baseline last; the first whose
    first seed closed branches, else the first with a panel."""
    firsts = d.runs.sort_values("seed", kind="stable").drop_duplicates(["arm", "point"])
    if d.arm_given:
        firsts = firsts[firsts["arm"] == d.arm]
    rank = [
        (a == d.baseline, a != d.arm, p != d.point, d.arms.index(a))
        for a, p in zip(firsts["arm"], firsts["point"], strict=True)
    ]
    fallback = None
    for i in sorted(range(len(firsts)), key=rank.__getitem__):
        r = firsts.iloc[i]
        panel = store.load_run_table(d.results, r["run_id"], "panel")
        branches = store.load_run_table(d.results, r["run_id"], "branches")
        if panel is None or branches is None:
            continue
        found = (r["arm"], r["point"], panel, branches)
        if branches["closed_month"].notna().any():
            return found
        fallback = fallback or found
    return fallback


def customer_outcomes(panel: pd.DataFrame) -> dict[str, np.ndarray]:
    """Masks of the panel's customers who stayed or left (of those there when burn-in ended, at
    measured month 0) and who joined later and stayed."""
    joined, left = panel["joined_month"], panel["left_month"]
    still = left.isna().to_numpy()
    at_start = ((joined <= 0) & (left.isna() | (left > 0))).to_numpy(bool)
    return {
        "stayed": at_start & still,
        "left": at_start & ~still,
        "joined": (joined > 0).to_numpy() & still,
    }


def branch_states(branches: pd.DataFrame) -> dict[str, dict[str, pd.Series]]:
    """Masks of the branches open before, and open, closed or new after the measured period."""
    opened, closed = branches["opened_month"].fillna(0), branches["closed_month"]
    return {
        "before": {"open branch": (opened <= 0) & ~(closed <= 0).fillna(False)},
        "after": {
            "open branch": closed.isna(),
            "closed branch": (closed > 0).fillna(False),
            "new branch": opened > 0,
        },
    }


def _draw_homes(ax, panel: pd.DataFrame, outcomes: dict[str, np.ndarray]) -> None:
    """Customers' homes, a dot per panel row, coloured by outcome."""
    dot = float(np.clip(4e4 / len(panel), 4, 30))  # dots fill the map whatever the population
    alpha = float(np.clip(4e3 / len(panel), 0.35, 0.8))
    for name, mask in outcomes.items():
        ax.scatter(
            panel["home_x"][mask],
            panel["home_y"][mask],
            s=dot,
            alpha=alpha,
            lw=0,
            color=OUTCOMES[name],
            rasterized=True,
            zorder=1,
        )


def _draw_branches(ax, branches: pd.DataFrame, states: dict[str, pd.Series]) -> None:
    """The branches in each state, with the state's marker."""
    for name, mask in states.items():
        marker, colour, edge, size, _ = BRANCH_MARKERS[name]
        rows = branches[mask.to_numpy(bool)]
        ax.scatter(
            rows["x"],
            rows["y"],
            marker=marker,
            s=size,
            color=colour,
            edgecolors=edge,
            lw=1.5,
            zorder=3,
        )


def _legend_handles(real: dict[str, float], states: dict[str, dict[str, pd.Series]]) -> list:
    """A dot per outcome with its count of real customers, then the branch states shown."""
    handles = [
        Line2D([], [], ls="", marker="o", ms=10, color=colour, label=f"{name} ({real[name]:,.0f})")
        for name, colour in OUTCOMES.items()
    ]
    present = {n for s in states.values() for n, m in s.items() if m.any()}
    return handles + [
        Line2D([], [], ls="", marker=mk, ms=ms, color=c, mec=e, label=n)
        for n, (mk, c, e, _, ms) in BRANCH_MARKERS.items()
        if n in present
    ]
