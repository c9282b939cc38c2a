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

import pandas as pd

from analysis.stats import paired_differences
from sim.kpis import REGISTRY

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


def analyse(root: Path, rows: list[dict], trials: dict[str, dict], kpis: list[str]) -> pd.DataFrame:
    """pareto.csv (one row per Pareto trial and objective: its values, the difference from the
    baseline on the fresh seeds with its simultaneous interval and verdict, whether it is still
    on the front on the fresh seeds and what dominates it) and the chart; the table."""
    runs = pd.DataFrame(rows)
    diffs = paired_differences(runs, BASELINE, kpis, level=level_per_objective(kpis))
    cols = ["arm", "kpi", "n", "baseline_mean", "arm_mean", "mean_diff", "ci_low", "ci_high"]
    table = diffs[[*cols, "verdict", "family_size", "interval_level"]].copy()
    table["joint_level"] = JOINT_LEVEL
    means = runs[runs["arm"] != BASELINE].groupby("arm", sort=False)[kpis].mean()
    dominating = dominated_by(means, kpis)
    table["on_front"] = [not dominating[a] for a in table["arm"]]
    table["dominated_by"] = [", ".join(dominating[a]) for a in table["arm"]]
    table["values"] = [json.dumps(trials[a]) for a in table["arm"]]
    table.to_csv(root / CSV, index=False)
    (root / "figures").mkdir(exist_ok=True)
    draw(table, kpis[:2], root / "figures" / PNG)
    return table


def correction(table: pd.DataFrame) -> str:
    """The intervals' level and correction, in words."""
    kpis = list(dict.fromkeys(table["kpi"]))
    points, seeds = table["arm"].nunique(), int(table["n"].max())
    joint = table["joint_level"].iloc[0] if "joint_level" in table else JOINT_LEVEL
    text = (
        f"Intervals on {seeds} fresh seeds: simultaneous {joint:.0%} over the {points} front"
        f" points and {len(kpis)} objectives (Bonferroni: {level_per_objective(kpis, joint):.4g}"
        f" over the points of each objective, each interval at {table['interval_level'].min():.4g}"
        ")."
    )
    if seeds < FEW_SEEDS:
        text += f" Fewer than {FEW_SEEDS} fresh seeds: too few for these intervals on skewed KPIs."
    return text


def dropped(table: pd.DataFrame) -> list[str]:
    """A sentence per point dropped from the front on the fresh seeds."""
    wide = table.pivot(index="arm", columns="kpi", values="arm_mean")
    kpis = list(dict.fromkeys(table["kpi"]))
    out = []
    for row in table[~table["on_front"]].drop_duplicates("arm").itertuples(index=False):
        better = row.dominated_by.split(", ")
        mine = ", ".join(f"{k} {wide.loc[row.arm, k]:,.4g}" for k in kpis)
        theirs = "; ".join(
            f"{b}: " + ", ".join(f"{k} {wide.loc[b, k]:,.4g}" for k in kpis) for b in better
        )
        out.append(
            f"{row.arm} dropped from the front: on the fresh seeds {', '.join(better)}"
            f" {'is' if len(better) == 1 else 'are'} at least as good on every objective and"
            f" better on one ({row.arm}: {mine}; {theirs})."
        )
    return out


def console(root: Path) -> str:
    """The Pareto table, the correction, the dropped points and the trials' values, as the
    command prints them."""
    table = pd.read_csv(root / CSV, dtype={"dominated_by": object}).fillna({"dominated_by": ""})
    shown = table.drop(columns=["values", "dominated_by", "family_size", "interval_level"])
    shown = shown.drop(columns=["joint_level"], errors="ignore")
    lines = [shown.to_string(index=False, float_format=lambda v: f"{v:,.4g}")]
    if "on_front" in table:
        lines.append(correction(table))
        kept = table.loc[table["on_front"], "arm"].unique()
        lines.append(f"On the front on the fresh seeds: {', '.join(kept)}.")
        lines += dropped(table)
    for arm, values in table.drop_duplicates("arm")[["arm", "values"]].itertuples(index=False):
        lines.append(f"  {arm}: {values}")
    return "\n".join(lines)


def draw(table: pd.DataFrame, kpis: list[str], path: Path) -> None:
    """Each Pareto trial's difference from the baseline on two objectives (or one), CI bars
    (hollow: dropped from the front on the fresh seeds); the baseline at 0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = kpis[0], kpis[-1]
    wide = {k: table[table["kpi"] == k].set_index("arm") for k in (x, y)}
    kx, ky = REGISTRY[x], REGISTRY[y]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for arm, row in wide[x].iterrows():
        other = wide[y].loc[arm]
        kept = bool(row.get("on_front", True))
        ax.errorbar(
            row.mean_diff * kx.scale,
            other.mean_diff * ky.scale,
            xerr=[
                [(row.mean_diff - row.ci_low) * kx.scale],
                [(row.ci_high - row.mean_diff) * kx.scale],
            ],
            yerr=[
                [(other.mean_diff - other.ci_low) * ky.scale],
                [(other.ci_high - other.mean_diff) * ky.scale],
            ],
            fmt="o",
            capsize=3,
            mfc=None if kept else "white",
            label=arm if kept else f"{arm} (dropped)",
        )
    ax.scatter([0], [0], marker="*", s=200, color="black", label=BASELINE, zorder=3)
    ax.set_xlabel(kx.axis(delta=True))
    ax.set_ylabel(ky.axis(delta=True))
    joint = table["joint_level"].iloc[0] if "joint_level" in table else JOINT_LEVEL
    ax.set_title(f"Pareto front on fresh seeds, vs the baseline (simultaneous {joint:.0%} CIs)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
