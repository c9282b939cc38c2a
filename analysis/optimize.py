"""The optimiser's Pareto front re-run on fresh seeds: differences from the baseline with
simultaneous intervals, the front rechecked on the fresh means, a chart of the first two objectives
(the report's section: analysis/report/analyses.py).

The front was chosen on the optimisation's seeds, so its values there are biased upward (the
points that looked best include those whose noise flattered them). On the fresh seeds:

- each objective's trial − baseline difference gets an interval from
  :func:`analysis.stats.paired_differences`, simultaneous over the front's points (Bonferroni,
  within each objective) and, at level ``1 - 0.05 / k`` for ``k`` objectives, across the
  objectives too (Bonferroni): all the intervals of the table hold together with probability at
  least 95%;
- front membership is rechecked on the fresh means: a point stays on the front only if no other
  re-evaluated point is at least as good on every objective and better on one (``on_front``);
  a dropped point names the points that dominate it (``dominated_by``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.stats import paired_differences
from sim.kpis import DEFAULT_MONTHS, NPV_PARTS, REGISTRY, Kpi, decimals, registry

CSV, JSON, PNG = "pareto.csv", "optimize.json", "pareto.png"
BASELINE = "baseline"
JOINT_LEVEL = 0.95  # every interval of the table together
FEW_SEEDS = 10  # fewer fresh seeds: the intervals' normal approximation is doubtful on skewed KPIs


def level_per_objective(kpis: list[str], joint: float = JOINT_LEVEL) -> float:
    """The simultaneous level over the front's points of one objective's intervals, Bonferroni
    across the ``k`` objectives: ``1 - (1 - joint) / k``."""
    return 1 - (1 - joint) / len(kpis)


def dominated_by(means: pd.DataFrame, kpis: list[str]) -> dict[str, list[str]]:
    """For each row (a point, indexed by name) of ``means`` (one column per objective), the
    points that dominate it: at least as good on every objective and better on one (higher or
    lower is better per :mod:`sim.kpis`)."""
    signed = pd.DataFrame({k: means[k] * (1 if REGISTRY[k].higher_is_better else -1) for k in kpis})
    out = {}
    for name, row in signed.iterrows():
        at_least = (signed >= row).all(axis=1)
        better = (signed > row).any(axis=1)
        out[name] = [str(other) for other in signed.index[at_least & better] if other != name]
    return out


def months_of(frame: pd.DataFrame) -> int:
    """The measured months of the runs (their ``months``; the most common should they differ),
    the default horizon without them."""
    if "months" in frame and frame["months"].notna().any():
        return int(frame["months"].dropna().mode().iloc[0])
    return DEFAULT_MONTHS


def analyse(root: Path, rows: list[dict], trials: dict[str, dict], kpis: list[str]) -> pd.DataFrame:
    """pareto.csv (one row per Pareto trial and objective: its values, the difference from the
    baseline on the fresh seeds with its simultaneous interval, smallest effect and verdict,
    whether it is still on the front on the fresh seeds and what dominates it, and the runs'
    ``months``) and the chart; the table."""
    runs = pd.DataFrame(rows)
    diffs = paired_differences(runs, BASELINE, kpis, level=level_per_objective(kpis))
    cols = ["arm", "kpi", "n", "baseline_mean", "arm_mean", "mean_diff", "ci_low", "ci_high"]
    table = diffs[[*cols, "smallest_effect", "verdict", "family_size", "interval_level"]].copy()
    table["joint_level"] = JOINT_LEVEL
    means = runs[runs["arm"] != BASELINE].groupby("arm", sort=False)[kpis].mean()
    dominating = dominated_by(means, kpis)
    table["on_front"] = [not dominating[a] for a in table["arm"]]
    table["dominated_by"] = [", ".join(dominating[a]) for a in table["arm"]]
    table["values"] = [json.dumps(trials[a]) for a in table["arm"]]
    table["months"] = months_of(runs)
    table.to_csv(root / CSV, index=False)
    (root / "figures").mkdir(exist_ok=True)
    draw(table, kpis[:2], root / "figures" / PNG)
    return table


def baseline_npv(rows: list[dict]) -> dict[str, float]:
    """The baseline's mean NPV on the fresh seeds and its parts (``sim.kpis.NPV_PARTS``), those
    the runs have: what says why it is what it is."""
    runs = pd.DataFrame(rows)
    base = runs[runs["arm"] == BASELINE]
    return {k: float(base[k].mean()) for k in ("npv", *NPV_PARTS) if k in base}


def kpis_of(table: pd.DataFrame) -> dict[str, Kpi]:
    """The KPIs labelled at the runs' horizon ("NPV over 24 months")."""
    return registry(months_of(table))


def correction(table: pd.DataFrame) -> str:
    """The intervals' level and correction, in words."""
    kpis = list(dict.fromkeys(table["kpi"]))
    points, seeds = table["arm"].nunique(), int(table["n"].max())
    joint = table["joint_level"].iloc[0] if "joint_level" in table else JOINT_LEVEL
    text = (
        f"Intervals on {seeds} fresh seeds: simultaneous {joint:.0%} over the {points} front"
        f" point{'s' if points != 1 else ''} and {len(kpis)}"
        f" objective{'s' if len(kpis) != 1 else ''}"
        f" (Bonferroni: {level_per_objective(kpis, joint):.4g}"
        f" over the points of each objective, each interval at {table['interval_level'].min():.4g}"
        ")."
    )
    if seeds < FEW_SEEDS:
        text += f" Fewer than {FEW_SEEDS} fresh seeds: too few for these intervals on skewed KPIs."
    return text


def dropped(table: pd.DataFrame) -> list[str]:
    """A sentence per point dropped from the front on the fresh seeds, its objectives in their
    display units."""
    wide = table.pivot(index="arm", columns="kpi", values="arm_mean")
    names = list(dict.fromkeys(table["kpi"]))
    labels = kpis_of(table)

    def values(arm: str) -> str:
        return ", ".join(f"{labels[k].short} {labels[k].text(wide.loc[arm, k])}" for k in names)

    out = []
    for row in table[~table["on_front"]].drop_duplicates("arm").itertuples(index=False):
        better = row.dominated_by.split(", ")
        theirs = "; ".join(f"{b}: {values(b)}" for b in better)
        out.append(
            f"{row.arm} dropped from the front: on the fresh seeds {', '.join(better)}"
            f" {'is' if len(better) == 1 else 'are'} at least as good on every objective and"
            f" better on one ({row.arm}: {values(row.arm)}; {theirs})."
        )
    return out


def npv_words(table: pd.DataFrame, record: dict | None = None) -> list[str]:
    """What NPV measures here, and why the baseline's is negative when it is (``record``:
    optimize.json, with the baseline's NPV parts and the discount rate, when there is one)."""
    npv = table[table["kpi"] == "npv"]
    if npv.empty:
        return []
    record = record or {}
    k, months = kpis_of(table)["npv"], months_of(table)
    rate = record.get("discount_rate")
    at = f" at {rate:.0%} a year (economics.discount_rate)" if rate is not None else ""
    out = [
        f"NPV here is the bank's profit over the {months} measured months: what its customers"
        " bring in, less the cost of serving and winning them, of its branches and staff, and of"
        f" the strategies' programmes, discounted to the start{at}. Each trial's difference is"
        " its NPV minus the baseline's on the same seeds."
    ]
    base = float(npv["baseline_mean"].iloc[0])
    if base < 0:
        parts = record.get("baseline", {})
        customers = [parts[p] for p in ("npv_opening_book", "npv_newcomers") if p in parts]
        why = (
            f"The baseline's NPV is negative ({k.text(base)}): on this bank the fixed costs of"
            " its branches and staff exceed the margin its customers earn over the"
            f" {months} months"
        )
        if len(customers) == 2 and "npv_fixed" in parts:
            why += (
                f" (customers {k.amount(sum(customers))}, branches and staff"
                f" {k.amount(parts['npv_fixed'])})"
            )
        out.append(
            why + ". On a small simulated bank or a short horizon the full branch network and"
            " team weigh on few customers; the trials are judged on their difference from it."
        )
    return out


def objective_blocks(table: pd.DataFrame) -> list[str]:
    """A table per objective, as the command prints it: the baseline's mean and each Pareto
    trial's, its difference from the baseline with its simultaneous interval and verdict (in
    the KPI's display units, ``sim.kpis``), and whether it is still on the front."""
    from analysis.sensitivity import text_table

    labels = kpis_of(table)
    level = table["interval_level"].min()
    lines = []
    for kpi, rows in table.groupby("kpi", sort=False):
        k = labels[kpi]
        unit, delta = f" ({k.unit})" if k.unit else "", k.unit_label(delta=True)
        seeds = int(rows["n"].max())
        lines += [
            "",
            f"{k.label}{unit}: each Pareto trial against the baseline on {seeds} fresh seeds",
        ]
        digits = decimals(*(x * k.scale for x in rows[["mean_diff", "ci_low", "ci_high"]].stack()))
        body = [["Baseline", k.number(rows["baseline_mean"].iloc[0], k.digits), "", "", "", ""]]
        body += [
            [
                r.arm,
                k.number(r.arm_mean, k.digits),
                k.number(r.mean_diff, digits, sign=True),
                _interval(k, r.ci_low, r.ci_high, digits),
                r.verdict,
                ("yes" if r.on_front else "no") if "on_front" in rows else "",
            ]
            for r in rows.itertuples(index=False)
        ]
        columns = [
            "Trial",
            f"Mean{f', {k.unit}' if k.unit else ''}",
            f"Δ vs baseline{f', {delta}' if delta else ''}",
            f"simultaneous {level:.2%} CI",
            "Verdict",
            "On the front",
        ]
        lines += text_table(columns, body, numeric={1, 2, 3})
    return lines


def _interval(k: Kpi, low: float, high: float, digits: int) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return "no CI"
    return f"{k.number(low, digits, sign=True)} to {k.number(high, digits, sign=True)}"


def settings_lines(table: pd.DataFrame) -> list[str]:
    """Each trial's settings in words (values shortened: 2M, 318), then what each key is."""
    from analysis.charts.common import compact
    from analysis.sensitivity import parameter_name, parameter_words, wrap

    trials = table.drop_duplicates("arm")[["arm", "values"]]
    keys: dict[str, None] = {}
    lines = ["", "Settings of the Pareto trials:"]
    for arm, values in trials.itertuples(index=False):
        settings = json.loads(values)
        keys |= dict.fromkeys(settings)
        shown = ", ".join(f"{parameter_name(q)} {compact(v)}" for q, v in settings.items())
        lines += wrap(f"{arm}: {shown}", "  ")
    lines.append("Parameters:")
    for q in keys:
        words = parameter_words(q)
        lines += wrap(f"{parameter_name(q)}: {q}" + (f", {words}" if words else ""), "  ")
    return lines


def console(root: Path) -> str:
    """The Pareto table, the correction, the dropped points, what NPV measures (and why the
    baseline's is negative, if it is) and the trials' settings, as the command prints them."""
    from analysis.sensitivity import wrap

    table = pd.read_csv(root / CSV, dtype={"dominated_by": object}).fillna({"dominated_by": ""})
    record = json.loads((root / JSON).read_text()) if (root / JSON).exists() else {}
    lines = [
        f"The Pareto front re-run on fresh seeds against the baseline (no strategy), over"
        f" {months_of(table)} months:",
        *objective_blocks(table),
        "",
    ]
    if "on_front" in table:
        lines += wrap(correction(table))
        kept = table.loc[table["on_front"], "arm"].unique()
        lines += wrap(f"On the front on the fresh seeds: {', '.join(kept)}.")
        for text in dropped(table):
            lines += wrap(text)
    for text in npv_words(table, record):
        lines += ["", *wrap(text)]
    return "\n".join([*lines, *settings_lines(table)])


def draw(table: pd.DataFrame, kpis: list[str], path: Path):
    """Each Pareto trial's difference from the baseline on two objectives (or one), with its
    simultaneous CI bars and its name beside it (hollow: dropped from the front on the fresh
    seeds), the front on the fresh means dashed, the baseline at 0, the band of negligible
    differences shaded; titled and labelled at the runs' horizon, with a legend for every kind
    of mark. Saves the PNG; returns the figure."""
    import matplotlib as mpl

    from analysis.charts.common import DPI, STYLE, new_figure
    from sim.folders import claim

    labels = kpis_of(table)
    x, y = kpis[0], kpis[-1]
    wide = {k: table[table["kpi"] == k].set_index("arm") for k in (x, y)}
    arms = list(wide[x].index)
    seeds = int(table["n"].max())
    joint = table["joint_level"].iloc[0] if "joint_level" in table else JOINT_LEVEL
    title = (
        f"Pareto trials re-run on {seeds} fresh seeds: difference from the baseline over"
        f" {months_of(table)} months (simultaneous {joint:.0%} CIs)"
    )
    with mpl.rc_context(STYLE):
        height = 8.5 if x != y else 3.5 + 0.6 * len(arms)
        fig, axes = new_figure(12, height, title)
        ax = axes[0, 0]
        kept = np.array([bool(wide[x].loc[a].get("on_front", True)) for a in arms])
        if x == y:
            _draw_one(ax, wide[x], labels[x], kept)
        else:
            _draw_two(ax, wide[x], wide[y], labels[x], labels[y], kept)
        handles = _handles(table, labels, x, y, kept)
        fig.legend(handles=handles, loc="outside lower center", ncol=2)
        claim(path.parent, [path.name])
        fig.savefig(path, dpi=DPI, bbox_inches="tight", pad_inches=0.25)
    return fig


TRIAL_COLOUR = 0  # the palette's first colour: every trial alike, told apart by its label


def _draw_two(ax, tx: pd.DataFrame, ty: pd.DataFrame, kx: Kpi, ky: Kpi, kept: np.ndarray) -> None:
    from analysis.charts.common import BASELINE_COLOUR, NEUTRAL, PALETTE
    from analysis.charts.tradeoff import label_points

    colour = PALETTE[TRIAL_COLOUR]
    mx, my = (
        tx["mean_diff"].to_numpy() * kx.scale,
        ty.loc[tx.index, "mean_diff"].to_numpy() * ky.scale,
    )
    lx, hx = tx["ci_low"].to_numpy() * kx.scale, tx["ci_high"].to_numpy() * kx.scale
    ly = ty.loc[tx.index, "ci_low"].to_numpy() * ky.scale
    hy = ty.loc[tx.index, "ci_high"].to_numpy() * ky.scale
    bands = []
    for t, k, axspan in ((tx, kx, ax.axvspan), (ty, ky, ax.axhspan)):
        half = float(t["smallest_effect"].max() * k.scale) if "smallest_effect" in t else np.nan
        if np.isfinite(half):
            axspan(-half, half, color=NEUTRAL, alpha=0.12, lw=0, zorder=0)
        bands.append(half if np.isfinite(half) else 0.0)
    for i in range(len(mx)):
        _trial(ax, colour, kept[i], (mx[i], lx[i], hx[i]), (my[i], ly[i], hy[i]))
    if kept.sum() > 1:
        order = np.argsort(mx[kept])
        ax.plot(mx[kept][order], my[kept][order], color=NEUTRAL, ls="--", lw=1.6, zorder=3)
    ax.plot(0, 0, marker="*", ms=22, color=BASELINE_COLOUR, ls="", zorder=5)
    ax.axhline(0, color=BASELINE_COLOUR, lw=1, ls=":", zorder=1)
    ax.axvline(0, color=BASELINE_COLOUR, lw=1, ls=":", zorder=1)
    for setter, values, half in (
        (ax.set_xlim, np.r_[mx, lx, hx], bands[0]),
        (ax.set_ylim, np.r_[my, ly, hy], bands[1]),
    ):
        values = values[np.isfinite(values)]
        low, high = min(values.min(initial=0.0), -half), max(values.max(initial=0.0), half)
        margin = 0.08 * (high - low or 1.0)
        setter(low - margin, high + margin)
    ax.set_xlabel(kx.axis(delta=True))
    ax.set_ylabel(ky.axis(delta=True))
    label_points(ax, mx, my, list(tx.index), [colour] * len(mx), reach=(lx, hx))


def _draw_one(ax, t: pd.DataFrame, k: Kpi, kept: np.ndarray) -> None:
    """One objective: a row per trial, its difference with its CI; the baseline at 0."""
    from analysis.charts.common import BASELINE_COLOUR, NEUTRAL, PALETTE

    colour = PALETTE[TRIAL_COLOUR]
    at = np.arange(len(t))
    mean, low, high = (t[c].to_numpy() * k.scale for c in ("mean_diff", "ci_low", "ci_high"))
    if "smallest_effect" in t and np.isfinite(half := float(t["smallest_effect"].max() * k.scale)):
        ax.axvspan(-half, half, color=NEUTRAL, alpha=0.12, lw=0, zorder=0)
    for i in at:
        _trial(ax, colour, kept[i], (mean[i], low[i], high[i]), i)
    ax.axvline(0, color=BASELINE_COLOUR, lw=2, zorder=1)
    ax.set_yticks(at, list(t.index))
    ax.invert_yaxis()
    ax.set_xlabel(k.axis(delta=True))


def _trial(ax, colour: str, kept: bool, x: tuple, y: tuple | int) -> None:
    """One trial's point with its CIs (``x``, and ``y`` unless it is a row: mean, low, high),
    filled if it stays on the front."""

    def err(mean, low, high):
        return [[max(mean - low, 0)], [max(high - mean, 0)]]

    at, yerr = (y[0], err(*y)) if isinstance(y, tuple) else (y, None)
    ax.errorbar(
        x[0], at, xerr=err(*x), yerr=yerr, fmt="o", color=colour,
        mfc=colour if kept else "white", mec=colour, mew=2, ms=11, lw=1.8, capsize=4, zorder=4,
    )  # fmt: skip


def _handles(table: pd.DataFrame, labels: dict[str, Kpi], x: str, y: str, kept: np.ndarray):
    """A legend entry for every kind of mark the chart draws."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from analysis.charts.common import BASELINE_COLOUR, NEUTRAL, PALETTE

    colour = PALETTE[TRIAL_COLOUR]
    joint = table["joint_level"].iloc[0] if "joint_level" in table else JOINT_LEVEL
    handles = [
        Line2D(
            [],
            [],
            color=colour,
            marker="o",
            ms=11,
            lw=1.8,
            label=f"Pareto trial on the front on the fresh seeds: mean difference, {joint:.0%} CI",
        )
    ]
    if not kept.all():
        handles.append(
            Line2D(
                [],
                [],
                color=colour,
                marker="o",
                mfc="white",
                mew=2,
                ms=11,
                lw=1.8,
                label="Pareto trial dropped on the fresh seeds (another trial beats it)",
            )
        )
    if x != y:
        if kept.sum() > 1:
            handles.append(
                Line2D([], [], color=NEUTRAL, ls="--", lw=1.6, label="Pareto front (fresh means)")
            )
        handles.append(
            Line2D(
                [],
                [],
                color=BASELINE_COLOUR,
                marker="*",
                ms=18,
                ls="",
                label="Baseline (no strategy): 0 on both axes",
            )
        )
    else:
        handles.append(Line2D([], [], color=BASELINE_COLOUR, lw=2, label="Baseline (no strategy)"))
    if "smallest_effect" in table:
        bands = []
        for k in dict.fromkeys((x, y)):
            half = table.loc[table["kpi"] == k, "smallest_effect"].max()
            if np.isfinite(half):
                digits = decimals(half * labels[k].scale)
                bands.append(labels[k].amount(half, digits)[1:])
        if bands:
            handles.append(
                Patch(
                    color=NEUTRAL,
                    alpha=0.25,
                    label=f"Negligible: within ±{' or ±'.join(bands)} of the baseline",
                )
            )
    return handles
