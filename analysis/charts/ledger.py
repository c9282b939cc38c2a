"""The ledger waterfall: the chosen arm's profit difference from the baseline, line by line."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from analysis.charts.common import BAD, BASELINE_COLOUR, GOOD, NEUTRAL, Drawn, new_figure, signed
from analysis.charts.data import ChartData
from sim.kpis import REGISTRY

PROFIT = REGISTRY["profit"]


def ledger_lines(ts: pd.DataFrame) -> list[str]:
    """The time series' revenue and cost columns, one per ledger line."""
    return [c for c in ts.columns if c.startswith(("revenue_", "cost_"))]


def line_label(column: str) -> str:
    """``cost_lean_service.notification`` → ``Cost: lean service · notification``."""
    kind, _, rest = column.partition("_")
    return f"{kind.capitalize()}: " + rest.replace(".", " · ").replace("_", " ")


def waterfall(d: ChartData, top: int = 9):
    """The ``top`` ledger lines that move profit most, the rest as "Other lines", and the total."""
    effect = profit_effects(d)
    if effect is None or not (effect.abs() > 1e-9).any():
        return
    shown = _largest_lines(effect, top)
    profit = float(effect.sum())
    title = f"Profit difference by ledger line: {d.arm} vs baseline{d.at_point()}"
    fig, axes = new_figure(14, 2.5 + 0.62 * (len(shown) + 1), title)
    ax = axes[0, 0]
    _draw_steps(ax, shown, profit, digits=1 if effect.abs().max() >= 10 else 2)
    months = int(d.ts["month"].max())
    ax.set_xlabel(f"Effect on {PROFIT.short} over {months} months ({PROFIT.unit})")
    handles = [
        Patch(color=GOOD, label="raises profit"),
        Patch(color=BAD, label="lowers profit"),
        Patch(color=NEUTRAL, label="profit difference"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3)
    caption = (
        f"Mean {d.arm} − baseline difference per ledger line over the measured period "
        "(more revenue or less cost raises profit), adding up to the profit difference."
    )
    yield Drawn("ledger_waterfall", title, caption, fig)


def profit_effects(d: ChartData) -> pd.Series | None:
    """Each ledger line's mean effect on profit, chosen arm − baseline paired on seeds (more
    revenue or less cost is positive), in profit's display units; None without both arms."""
    if d.ts.empty or d.arm == d.baseline or d.baseline not in set(d.ts["arm"]):
        return None
    lines = ledger_lines(d.ts)
    totals = d.ts.groupby(["arm", "seed"])[lines].sum().fillna(0.0)
    if d.arm not in totals.index.get_level_values(0):
        return None
    diff = (totals.loc[d.arm] - totals.loc[d.baseline]).dropna().mean()
    revenue = np.array([c.startswith("revenue_") for c in diff.index])
    return diff.where(revenue, -diff) * PROFIT.scale


def _largest_lines(effect: pd.Series, top: int) -> pd.Series:
    """The ``top`` largest effects (at least 2% of the largest), revenue lines then cost lines,
    each by size, and the rest summed as "Other lines"."""
    big = effect.abs().sort_values(ascending=False, kind="stable")
    big = big[big >= 0.02 * big.iloc[0]].index[:top]
    shown = pd.concat(
        [
            effect[[c for c in big if c.startswith(p)]].sort_values(key=abs, ascending=False)
            for p in ("revenue_", "cost_")
        ]
    )
    rest = effect.drop(big).sum()
    if abs(rest) > 1e-9:
        shown["Other lines"] = rest
    return shown


def _draw_steps(ax, shown: pd.Series, profit: float, digits: int) -> None:
    """A bar per line starting where the previous one ended, labelled, then the total bar."""
    starts = np.concatenate([[0.0], np.cumsum(shown.to_numpy())[:-1]])
    y = np.arange(len(shown) + 1)
    ax.barh(y[:-1], shown, left=starts, color=[GOOD if v >= 0 else BAD for v in shown], height=0.65)
    ax.barh(y[-1], profit, color=NEUTRAL, height=0.65)
    for yi, start, value in zip(y, [*starts, 0.0], [*shown, profit], strict=True):
        ax.text(max(start, start + value), yi, f"  {signed(value, digits)}", va="center")
    ax.axvline(0, color=BASELINE_COLOUR, lw=1.5)
    ax.set_yticks(
        y, [line_label(c) if c != "Other lines" else c for c in shown.index] + ["Profit difference"]
    )
    ax.invert_yaxis()
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="y", visible=False)
    edges = np.concatenate([[0.0, profit], starts, starts + shown.to_numpy()])
    span = edges.max() - edges.min() or 1.0
    ax.set_xlim(edges.min() - 0.03 * span, edges.max() + 0.13 * span)
