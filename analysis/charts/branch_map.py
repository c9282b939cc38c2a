"""The branch map: where one run's customers live, before and after, by outcome (stayed, left,
joined), a dot per equal number of real customers in random order (no outcome painted over
another), with the branches open, closing and opened."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from analysis.charts.common import BAD, BASELINE_COLOUR, Drawn, new_figure, short_point
from analysis.charts.data import ChartData
from runner import store
from sim.strategies import title as arm_title

OUTCOMES = {"stayed": "#5E5E5E", "left": "#D55E00", "joined": "#0072B2"}
CLOSING = "closing"
BRANCH_MARKERS = {  # state: (marker, colour, edge, size in points², legend size)
    "open branch": ("s", BASELINE_COLOUR, "white", 170, 13),
    CLOSING: ("X", BAD, "black", 420, 18),
    "new branch": ("*", "#F0E442", "black", 700, 24),
}
MAX_DOTS = 20_000


def branch_map(d: ChartData):
    found = _map_run(d)
    if found is None:
        return
    run, panel, branches = found
    outcome, state = customer_outcomes(panel), branch_states(branches)
    real = panel["weight"].to_numpy() if "weight" in panel else np.ones(len(panel))
    counts = {name: real[mask].sum() for name, mask in outcome.items()}
    at = f" at {short_point(run['point'])}" if d.multi_point else ""
    title = (
        f"Customers and branches, before and after: {arm_title(run['arm'])}{at}, seed {run['seed']}"
    )
    fig, axes = new_figure(
        17, 10 + 0.5 * (len(title) > 64), title, ncols=2, sharex=True, sharey=True
    )
    months = int(d.ts["month"].max()) if not d.ts.empty else None
    per_dot = (counts["stayed"] + counts["left"]) / min(MAX_DOTS, len(panel))
    panels = {
        "before": (axes[0, 0], ("stayed", "left"), "Before: customers at the start, by outcome"),
        "after": (
            axes[0, 1],
            ("stayed", "joined"),
            f"After: customers at the end{f' of month {months}' if months else ''}",
        ),
    }
    rng = np.random.default_rng(0)
    for key, (ax, shown, subtitle) in panels.items():
        _draw_homes(ax, panel, {name: outcome[name] for name in shown}, real, per_dot, rng)
        _draw_branches(ax, branches, state[key])
        ax.set_aspect("equal")
        ax.set_xlabel("km")
        ax.set_title(subtitle, fontsize=15, pad=14)
        ax.grid(False)
    axes[0, 0].set_ylabel("km")
    handles = _legend_handles(counts, state, branches)
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4))
    seeds = d.runs.loc[(d.runs["arm"] == run["arm"]) & (d.runs["point"] == run["point"]), "seed"]
    caption = (
        f"One run: {arm_title(run['arm'])}, seed {run['seed']}"
        f" (the first of its {seeds.nunique()} seeds)."
        f" Homes of its customers by outcome over the measured period, a dot per about"
        f" {per_dot:,.0f} real customers, in random order; the legend counts real customers."
        + _branches_note(state)
    )
    yield Drawn("branch_map", title, caption, fig)


def _branches_note(states: dict[str, dict[str, pd.Series]]) -> str:
    """The branch markers in words: open, and closing (✕) and new when there are any."""
    after = states["after"]
    parts = ["open"] + [
        words
        for name, words in ((CLOSING, "closing (✕, with its month)"), ("new branch", "new"))
        if after[name].any()
    ]
    return f" Branches: {', '.join(parts)}."


def _map_run(d: ChartData) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame] | None:
    """(run, panel, branches) of the map, ``run`` a row of the runs: the chosen arm and point
    first, then its other points, then (unless the arm was given) the other arms, the baseline
    last (of the chart arms, if any); the first whose first seed closed branches, else the first
    with a panel."""
    firsts = d.runs.sort_values("seed", kind="stable").drop_duplicates(["arm", "point"])
    if d.arm_given:
        firsts = firsts[firsts["arm"] == d.arm]
    elif d.chart_arms:
        firsts = firsts[firsts["arm"].isin([d.baseline, *d.chart_arms])]
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
        found = (r, panel, branches)
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
    """Masks of the branches open before (those that close later marked ``closing``), and
    open, closed or new after the measured period."""
    opened, closed = branches["opened_month"].fillna(0), branches["closed_month"]
    at_start = (opened <= 0) & ~(closed <= 0).fillna(False)
    closing = (closed > 0).fillna(False)
    return {
        "before": {"open branch": at_start & ~closing, CLOSING: at_start & closing},
        "after": {
            "open branch": closed.isna() & (opened <= 0),
            CLOSING: closing,
            "new branch": (opened > 0) & closed.isna(),
        },
    }


def _draw_homes(ax, panel, outcomes: dict[str, np.ndarray], real, per_dot: float, rng) -> None:
    """Customers' homes: panel rows drawn in proportion to the real customers they stand for,
    ``per_dot`` each, coloured by outcome, all outcomes in one shuffled layer."""
    masks = np.column_stack(list(outcomes.values()))
    weight = real * masks.any(axis=1)
    dots = int(round(weight.sum() / per_dot))
    rows = rng.choice(len(panel), size=dots, p=weight / weight.sum())
    colours = np.array([OUTCOMES[name] for name in outcomes])[masks[rows].argmax(axis=1)]
    ax.scatter(
        panel["home_x"].to_numpy()[rows],
        panel["home_y"].to_numpy()[rows],
        s=float(np.clip(1e5 / max(dots, 1), 4, 30)),
        alpha=0.45,
        lw=0,
        c=colours,
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


def _legend_handles(real: dict[str, float], states, branches: pd.DataFrame) -> list:
    """A dot per outcome with its real customers (and share of the starting ones), then the
    branch states shown, the closing ones with their month."""
    start = real["stayed"] + real["left"]
    handles = [
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            ms=10,
            color=colour,
            label=f"{name} ({real[name]:,.0f}"
            + (f"; {real[name] / start:.0%} of starting customers" if name != "joined" else "")
            + ")",
        )
        for name, colour in OUTCOMES.items()
    ]
    present = {n for s in states.values() for n, m in s.items() if m.any()}
    months = sorted({int(m) for m in branches["closed_month"].dropna() if m > 0})
    names = {CLOSING: f"closes in month {', '.join(map(str, months))}"}
    return handles + [
        Line2D([], [], ls="", marker=mk, ms=ms, color=c, mec=e, label=names.get(n, n))
        for n, (mk, c, e, _, ms) in BRANCH_MARKERS.items()
        if n in present
    ]
