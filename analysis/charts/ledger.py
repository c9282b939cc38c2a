"""The ledger chart: an arm's NPV difference from the baseline, line by line: a waterfall for one
arm, small multiples (a panel per arm, one scale) for the chart arms."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from analysis.charts.common import (
    BAD,
    BASELINE_COLOUR,
    GOOD,
    NEUTRAL,
    Drawn,
    applies_when,
    left_out_note,
    new_figure,
    signed,
    text_colour,
)
from analysis.charts.data import ChartData
from sim.metrics import discount_factors
from sim.strategies import title as arm_title

TOTAL = "NPV difference"


def ledger_lines(ts: pd.DataFrame) -> list[str]:
    """The time series' revenue and cost columns, one per ledger line."""
    return [c for c in ts.columns if c.startswith(("revenue_", "cost_"))]


def line_label(column: str) -> str:
    """``cost_lean_service.notification`` → ``Cost: lean service · notification``."""
    if column in ("Other lines", TOTAL):
        return column
    kind, _, rest = column.partition("_")
    return f"{kind.capitalize()}: " + rest.replace(".", " · ").replace("_", " ")


def _effects(d: ChartData) -> pd.DataFrame | None:
    """``npv_effects`` of the arm given, else of the arms shown; None when they are all zero."""
    arms = [d.arm] if d.arm_given else d.shown("npv")[0][1:]
    effects = npv_effects(d, arms)
    if effects is None or not (effects.abs() > 1e-9).any().any():
        return None
    return effects


def has_effects(d: ChartData) -> bool:
    return _effects(d) is not None


@applies_when(has_effects)
def waterfall(d: ChartData, top: int = 9):
    """The arm given, or the only arm shown: a waterfall; else a panel per arm shown."""
    effects = _effects(d)
    if effects is None:
        return
    if len(effects.columns) == 1:
        yield _waterfall(d, effects.iloc[:, 0], top)
    else:
        yield _panels(d, effects, top=14)


def _waterfall(d: ChartData, effect: pd.Series, top: int) -> Drawn:
    """The ledger lines that make up most of the arm's difference (at most ``top``), the rest
    as "Other lines", the total."""
    arm = effect.name
    shown = _largest_lines(effect.to_frame(), top, cover=WATERFALL_COVER).iloc[:, 0]
    npv = float(effect.sum())
    title = f"NPV difference by ledger line: {arm_title(arm)} vs baseline{d.at_point()}"
    fig, axes = new_figure(14, 2.5 + 0.62 * (len(shown) + 1), title)
    ax = axes[0, 0]
    _draw_steps(ax, shown, npv, digits=1 if effect.abs().max() >= 10 else 2)
    ax.set_xlabel(_axis(d))
    _legend(fig)
    caption = (
        f"Mean {arm_title(arm)} − baseline difference per ledger line over the measured period,"
        " discounted as the NPV is (more revenue or less cost raises it), adding up to the NPV"
        f" difference of the verdicts.{_note(d, [arm])}"
    )
    return Drawn("ledger_waterfall", title, caption, fig)


def _panels(d: ChartData, effects: pd.DataFrame, top: int) -> Drawn:
    """A panel per arm on one scale: the lines each arm's difference is made of (every arm's
    largest named), the rest as "Other lines", and the total."""
    shown = _largest_lines(effects, top)
    shown.loc[TOTAL] = effects.sum()
    ncols = min(3, len(effects.columns))
    nrows = math.ceil(len(effects.columns) / ncols)
    title = (
        f"NPV difference by ledger line{d.at_point()},"
        f" discounted at {d.discount_rate * 100:g}% a year"
    )
    fig, axes = new_figure(
        6.5 + 4.2 * ncols,
        1.8 + nrows * (0.9 + 0.42 * len(shown)),
        title,
        nrows=nrows,
        ncols=ncols,
        sharex=True,
        sharey=True,
    )
    y = np.arange(len(shown))
    for ax, arm in zip(axes.flat, effects.columns, strict=False):
        values = shown[arm].to_numpy()
        colours = [GOOD if v >= 0 else BAD for v in values[:-1]] + [NEUTRAL]
        ax.barh(y, values, color=colours, height=0.7)
        ax.text(
            values[-1],
            y[-1],
            f"  {signed(values[-1])}  ",
            va="center",
            ha="left" if values[-1] >= 0 else "right",
            fontsize=13,
        )
        ax.axvline(0, color=BASELINE_COLOUR, lw=1.2)
        ax.axhline(y[-1] - 0.5, color="#999999", lw=0.8)
        ax.set_title(arm_title(arm), color=text_colour(d.styles[arm].colour))
        ax.grid(axis="y", visible=False)
    for ax in axes.flat[len(effects.columns) :]:
        ax.set_visible(False)
    axes[0, 0].set_yticks(y, [line_label(c) for c in shown.index])
    axes[0, 0].invert_yaxis()
    for ax in axes[-1]:
        ax.set_xlabel(f"Δ NPV over {d.months} months ({d.kpis['npv'].unit})")
    _pad_x(axes[0, 0], shown.to_numpy())
    _legend(fig)
    caption = (
        "Mean arm − baseline difference per ledger line over the measured period, discounted as"
        " the NPV is, one scale for every arm; named: the lines that make up most of each arm's"
        " difference, its largest first; the small rest as Other lines; the last bar is the NPV"
        f" difference of the verdicts.{_note(d, effects)}"
    )
    return Drawn("ledger_waterfall", title, caption, fig)


def _axis(d: ChartData) -> str:
    return (
        f"Effect on the NPV over {d.months} months ({d.kpis['npv'].unit},"
        f" discounted at {d.discount_rate * 100:g}% a year)"
    )


def _note(d: ChartData, arms) -> str:
    """Names the arms with runs at the point that the chart leaves out."""
    here = set(d.ts["arm"])
    left_out = [a for a in d.arms if a in here and a != d.baseline and a not in set(arms)]
    return left_out_note(left_out)


def _pad_x(ax, values: np.ndarray) -> None:
    """Room on both sides for the totals' labels."""
    low, high = min(values.min(), 0.0), max(values.max(), 0.0)
    span = high - low or 1.0
    ax.set_xlim(low - 0.2 * span, high + 0.2 * span)


def npv_effects(d: ChartData, arms: list[str]) -> pd.DataFrame | None:
    """Ledger line × arm: each line's mean effect on the NPV, arm − baseline paired on seeds
    (more revenue or less cost is positive), discounted as the NPV is, in display units; None
    without the baseline or any of ``arms``."""
    if d.ts.empty or d.baseline not in set(d.ts["arm"]):
        return None
    lines = ledger_lines(d.ts)
    factors = discount_factors(d.ts["month"], d.discount_rate)
    discounted = d.ts[lines].mul(factors, axis=0).assign(arm=d.ts["arm"], seed=d.ts["seed"])
    totals = discounted.groupby(["arm", "seed"])[lines].sum().fillna(0.0)
    present = [a for a in arms if a != d.baseline and a in totals.index.get_level_values(0)]
    if not present:
        return None
    revenue = np.array([c.startswith("revenue_") for c in lines])
    effects = {a: (totals.loc[a] - totals.loc[d.baseline]).dropna().mean() for a in present}
    sign = np.where(revenue, 1.0, -1.0) * d.kpis["npv"].scale
    return pd.DataFrame(effects).mul(sign, axis=0)


COVER = 0.9
"""The share of an arm's ledger effects (summed by absolute size) that its named lines make up,
when there is room: the rest is "Other lines"."""
WATERFALL_COVER = 0.98
"""The same for the waterfall of one arm, which has room for more of its lines."""


def _largest_lines(effects: pd.DataFrame, top: int, cover: float = COVER) -> pd.DataFrame:
    """The lines each arm's difference is made of, named, and the rest summed as "Other lines".

    Every arm's largest line (by absolute size) is named; then, while fewer than ``top`` lines
    are, the next largest line of the arm whose unnamed lines are the largest share of its own
    (the sum of its lines' absolute effects), until every arm's unnamed lines are at most
    1 - ``cover`` of it. Revenue lines come first, then cost lines, each by size."""
    size = effects.abs().fillna(0.0)
    size = size.where(size > 1e-9, 0.0)  # display units: CNY M
    total = size.sum()
    arms = [a for a in effects.columns if total[a] > 0]
    named = list(dict.fromkeys(size[a].idxmax() for a in arms))
    while len(named) < top and arms:
        share = size.drop(index=named)[arms].sum() / total[arms]
        arm = share.idxmax()
        if share[arm] <= 1 - cover + 1e-12:
            break
        named.append(size[arm].drop(index=named).idxmax())
    largest = size.loc[named].max(axis=1).sort_values(ascending=False, kind="stable")
    order = [c for p in ("revenue_", "cost_") for c in largest.index if c.startswith(p)]
    shown = effects.loc[order]
    rest = effects.drop(index=order).sum()
    if (rest.abs() > 1e-9).any():
        shown.loc["Other lines"] = rest
    return shown


def _draw_steps(ax, shown: pd.Series, total: float, digits: int) -> None:
    """A bar per line starting where the previous one ended, labelled, then the total bar."""
    starts = np.concatenate([[0.0], np.cumsum(shown.to_numpy())[:-1]])
    y = np.arange(len(shown) + 1)
    ax.barh(y[:-1], shown, left=starts, color=[GOOD if v >= 0 else BAD for v in shown], height=0.65)
    ax.barh(y[-1], total, color=NEUTRAL, height=0.65)
    for yi, start, value in zip(y, [*starts, 0.0], [*shown, total], strict=True):
        ax.text(max(start, start + value), yi, f"  {signed(value, digits)}", va="center")
    ax.axvline(0, color=BASELINE_COLOUR, lw=1.5)
    ax.set_yticks(y, [line_label(c) for c in shown.index] + [TOTAL])
    ax.invert_yaxis()
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="y", visible=False)
    edges = np.concatenate([[0.0, total], starts, starts + shown.to_numpy()])
    span = edges.max() - edges.min() or 1.0
    ax.set_xlim(edges.min() - 0.03 * span, edges.max() + 0.13 * span)


def _legend(fig) -> None:
    """What the bars' colours mean, under the figure."""
    handles = [
        Patch(color=GOOD, label="raises the NPV"),
        Patch(color=BAD, label="lowers the NPV"),
        Patch(color=NEUTRAL, label=TOTAL),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3)
