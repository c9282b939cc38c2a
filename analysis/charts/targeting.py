"""The targeting lab's charts: the budget curve (customers and value saved against the
contacts, per policy, from the policy banks' potential outcomes, with the arms' measured results
at the budget) and the models' uplift curves on the pilot (out of fold, against the truth)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.charts.common import (
    BASELINE_COLOUR,
    NEUTRAL,
    Chart,
    Drawn,
    Style,
    draw_band,
    legend_right,
    new_figure,
    save,
    slot_style,
    t_band,
)
from sim.folders import claim

MEASURES = {"saved": "Customers saved (real)", "value_saved": "Lifetime value saved (CNY M)"}
SCALE = {"saved": 1.0, "value_saved": 1e-6}


def styles(names: list[str]) -> dict[str, Style]:
    """The oracle black, the others in palette order."""
    slots = iter(range(len(names)))
    return {
        n: Style(BASELINE_COLOUR, ":", "*") if n == "oracle" else slot_style(next(slots))
        for n in names
    }


def budget_curve(
    curve: pd.DataFrame, arms: pd.DataFrame, titles: dict, budget: float, out: Path
) -> Chart:
    """``curve``: policy, seed, budget, saved, value_saved (from the potential outcomes);
    ``arms``: the policy arms' summary (``analysis.pilot.summary``). Top: the whole book; bottom:
    up to three times the budget."""
    policies = list(dict.fromkeys(curve["policy"]))
    style = styles(policies)
    title = "What each list saves, by the number of customers contacted"
    fig, axes = new_figure(15, 11, title, ncols=2, nrows=2)
    spans = {"The whole book": float("inf"), "Up to three times the budget": 3 * budget}
    for row, (span, upto) in zip(axes, spans.items(), strict=True):
        shown = curve[curve["budget"] <= upto]
        for ax, (measure, label) in zip(row, MEASURES.items(), strict=True):
            ax.set_title(f"{span}: {label.split(' (')[0].lower()}", fontsize=14)
            for policy in policies:
                rows = shown[shown["policy"] == policy]
                matrix = rows.pivot(index="budget", columns="seed", values=measure)
                band = t_band(matrix * SCALE[measure])
                band.index = band.index / 1e3
                draw_band(ax, band, style[policy], titles.get(policy, policy))
            _arms_at_budget(ax, arms, measure, budget, style)
            ax.set_xlabel("Customers contacted (thousands, real)")
            ax.set_ylabel(label)
    legend_right(axes[0][1])
    caption = (
        "Lines: mean over the policy banks with 95% bands, from every customer's two potential"
        " outcomes (top: up to the whole book; bottom: up to three times the budget). Markers at"
        " the dashed budget: the policies run as arms, with 95% CIs (the risk rule only there:"
        " it scores customers inside the simulation)."
    )
    return _saved(Drawn("budget_curve", "Budget curve", caption, fig), out)


def _arms_at_budget(ax, arms: pd.DataFrame, measure: str, budget: float, style: dict) -> None:
    """Each policy arm's measured result at the budget, with its 95% CI, and the budget line."""
    for r in arms.to_dict("records"):
        if r["arm"] not in style and r["arm"] != "risk":
            continue
        mean, low, high = (r[f"{measure}{s}"] * SCALE[measure] for s in ("", "_low", "_high"))
        look = style.get(r["arm"], Style(NEUTRAL, "-", "X"))
        ax.errorbar(
            budget / 1e3, mean, yerr=[[mean - low], [high - mean]], fmt=look.marker,
            color=look.colour, capsize=5, zorder=5,
            label=None if r["arm"] in style else "Risk rule (its runs)",
        )  # fmt: skip
    ax.axvline(budget / 1e3, color="#888888", lw=1, ls="--", zorder=0)


def uplift_curves(curves: pd.DataFrame, titles: dict, out: Path) -> Chart:
    """``curves``: model, share (contacted), saved (true customers saved) on the pilot, out of
    fold (``analysis.targeting.curves``)."""
    models = list(dict.fromkeys(curves["model"]))
    style = styles(models)
    fig, axes = new_figure(10, 6, "Uplift curves on the pilot, against the truth")
    ax = axes[0][0]
    for model in models:
        rows = curves[curves["model"] == model]
        ax.plot(
            rows["share"] * 100, rows["saved"], color=style[model].colour, ls=style[model].dash,
            label=titles.get(model, model),
        )  # fmt: skip
    ax.set_xlabel("Pilot customers contacted, best-scored first (%)")
    ax.set_ylabel("Customers saved (real, true)")
    legend_right(ax)
    caption = "Each model's out-of-fold ranking of the pilot, scored by the true uplift."
    return _saved(Drawn("uplift_curves", "Uplift curves", caption, fig), out)


def _saved(drawn: Drawn, out: Path) -> Chart:
    """``drawn`` saved into the report's ``out`` (figures/), claimed as the project's first."""
    claim(out, [f"{drawn.name}.png", f"{drawn.name}.svg"])
    return save(drawn, out)
