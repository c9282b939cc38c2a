"""The optimiser's Pareto front re-run on fresh seeds: differences from the baseline with 95% CIs,
a chart of the first two objectives (the report's section: analysis/report/analyses.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis.stats import paired_differences
from sim.kpis import REGISTRY

CSV, JSON, PNG = "pareto.csv", "optimize.json", "pareto.png"
BASELINE = "baseline"


def analyse(root: Path, rows: list[dict], trials: dict[str, dict], kpis: list[str]) -> pd.DataFrame:
    """pareto.csv (one row per Pareto trial and objective: its values, the difference from the
    baseline on the fresh seeds with its 95% CI and verdict) and the chart; the table."""
    runs = pd.DataFrame(rows)
    diffs = paired_differences(runs, BASELINE, kpis)
    cols = ["arm", "kpi", "n", "baseline_mean", "arm_mean", "mean_diff", "ci_low", "ci_high"]
    table = diffs[[*cols, "verdict"]].copy()
    table["values"] = [json.dumps(trials[a]) for a in table["arm"]]
    table.to_csv(root / CSV, index=False)
    (root / "figures").mkdir(exist_ok=True)
    draw(table, kpis[:2], root / "figures" / PNG)
    return table


def show(root: Path) -> None:
    """Print the Pareto table."""
    table = pd.read_csv(root / CSV)
    print(table.drop(columns="values").to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    for arm, values in table.drop_duplicates("arm")[["arm", "values"]].itertuples(index=False):
        print(f"  {arm}: {values}")


def draw(table: pd.DataFrame, kpis: list[str], path: Path) -> None:
    """Each Pareto trial's difference from the baseline on two objectives (or one), CI bars; the
    baseline at 0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = kpis[0], kpis[-1]
    wide = {k: table[table["kpi"] == k].set_index("arm") for k in (x, y)}
    kx, ky = REGISTRY[x], REGISTRY[y]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for arm, row in wide[x].iterrows():
        other = wide[y].loc[arm]
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
            label=arm,
        )
    ax.scatter([0], [0], marker="*", s=200, color="black", label=BASELINE, zorder=3)
    ax.set_xlabel(kx.axis(delta=True))
    ax.set_ylabel(ky.axis(delta=True))
    ax.set_title("Pareto front on fresh seeds, vs the baseline (95% CIs)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
