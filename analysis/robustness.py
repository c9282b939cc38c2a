"""Robustness of arms across sampled futures: regret, low percentiles, targets met, and PRIM boxes.

``analyse`` reads an ``experiments.robustness`` store (its runs and plan), writes
``futures.csv`` (per arm and future: the uncertainties, the KPIs' means over seeds, the regret and
whether the targets are met), ``robustness.csv`` (per arm) and ``prim.csv`` (per arm that misses
its targets often enough: the first PRIM box, in words), and draws
``figures/robustness/`` (regret per future, PRIM boxes); ``show`` prints them, ``section``
shows them in the HTML report.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.store import load, without_damaged
from sim.kpis import REGISTRY

FUTURES, SUMMARY, PRIM, SETTINGS = "futures.csv", "robustness.csv", "prim.csv", "robustness.json"
FIGURES = Path("figures", "robustness")  # its own folder: the report's removes charts not its own
REGRET_PNG, PRIM_PNG = "robustness_regret.png", "robustness_prim.png"


def point_values(label: str) -> dict[str, float]:
    """A point's label ("key=value,...") as its values."""
    return {k: float(v) for k, v in (part.split("=", 1) for part in label.split(",") if part)}


def per_future(runs: pd.DataFrame, kpis: list[str]) -> pd.DataFrame:
    """One row per (future, arm): the uncertainties and the KPIs' means over the seeds."""
    ok = runs[runs["status"] == "ok"]
    table = ok.groupby(["point", "arm"], sort=False)[kpis].mean().reset_index()
    values = pd.DataFrame([point_values(p) for p in table["point"]], index=table.index)
    return pd.concat([table[["point", "arm"]], values, table[kpis]], axis=1)


def regret(table: pd.DataFrame, kpi: str) -> pd.Series:
    """The best arm's ``kpi`` in each future minus the arm's (the other way if lower is better)."""
    sign = 1 if REGISTRY[kpi].higher_is_better else -1
    value = sign * table[kpi]
    return value.groupby(table["point"]).transform("max") - value


def meets(table: pd.DataFrame, targets: dict[str, float]) -> pd.Series:
    """Whether each row meets every target (at least the threshold; at most if lower is better)."""
    met = pd.Series(True, index=table.index)
    for kpi, threshold in targets.items():
        met &= (
            table[kpi] >= threshold if REGISTRY[kpi].higher_is_better else table[kpi] <= threshold
        )
    return met


def summarise(table: pd.DataFrame, kpi: str, percentile: float) -> pd.DataFrame:
    """Per arm, over futures: mean and low percentile of ``kpi``, mean and max regret, share of
    futures meeting the targets (``table`` has ``regret`` and ``meets``)."""
    groups = table.groupby("arm", sort=False)
    return pd.DataFrame(
        {
            "futures": groups.size(),
            f"mean_{kpi}": groups[kpi].mean(),
            f"p{percentile:g}_{kpi}": groups[kpi].quantile(percentile / 100),
            "mean_regret": groups["regret"].mean(),
            "max_regret": groups["regret"].max(),
            "share_meeting": groups["meets"].mean(),
        }
    ).reset_index()


def prim_box(x: pd.DataFrame, misses: np.ndarray, threshold: float, peel_alpha: float) -> dict:
    """The first PRIM box of the misses: of the peeling trajectory's boxes with at least
    ``threshold`` density (else all), the one with the largest coverage + density; its limits on
    the restricted uncertainties (None: unrestricted end), coverage and density."""
    with warnings.catch_warnings():  # ema-workbench's about ipyparallel and pandas deprecations
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

        box = prim.Prim(x, misses.astype(int), peel_alpha=peel_alpha).find_box()
    trajectory = box.peeling_trajectory
    dense = trajectory[trajectory["density"] >= threshold]
    dense = dense if len(dense) else trajectory
    i = (dense["coverage"] + dense["density"]).idxmax()
    box.select(int(i))
    lower, upper = box.box_lim.iloc[0], box.box_lim.iloc[1]
    low, high = x.min(), x.max()
    limits = {
        k: (
            float(lower[k]) if lower[k] > low[k] else None,
            float(upper[k]) if upper[k] < high[k] else None,
        )
        for k in x.columns
    }
    limits = {k: v for k, v in limits.items() if v != (None, None)}
    return {"coverage": float(box.coverage), "density": float(box.density), "limits": limits}


def in_words(arm: str, box: dict) -> str:
    """A PRIM box as a sentence."""
    parts = []
    for key, (lo, hi) in box["limits"].items():
        if lo is not None and hi is not None:
            parts.append(f"{key} is between {lo:.3g} and {hi:.3g}")
        else:
            parts.append(
                f"{key} is {'above' if lo is not None else 'below'} {lo if hi is None else hi:.3g}"
            )
    where = " and ".join(parts) or "in any future"
    return (
        f"{arm} misses its targets when {where} (coverage {box['coverage']:.0%} of its misses,"
        f" density {box['density']:.0%} of the futures in the box miss)."
    )


def prim_table(table: pd.DataFrame, keys: list[str], prim_cfg) -> pd.DataFrame:
    """Per arm with at least ``min_misses`` misses (and some futures met): its first box."""
    rows = []
    for arm, futures in table.groupby("arm", sort=False):
        misses = ~futures["meets"].to_numpy(bool)
        if misses.sum() < prim_cfg.min_misses or misses.all():
            continue
        x = futures[keys].reset_index(drop=True)
        box = prim_box(x, misses, prim_cfg.threshold, prim_cfg.peel_alpha)
        rows.append(
            {
                "arm": arm,
                "misses": int(misses.sum()),
                "coverage": box["coverage"],
                "density": box["density"],
                "limits": json.dumps(box["limits"]),
                "sentence": in_words(arm, box),
            }
        )
    return pd.DataFrame(
        rows, columns=["arm", "misses", "coverage", "density", "limits", "sentence"]
    )


def analyse(root: Path, block) -> pd.DataFrame:
    """Write the tables and charts of the store at ``root`` for the robustness ``block``; returns
    the per-arm table."""
    keys = list(block.uncertainties)
    kpis = list(dict.fromkeys([block.kpi, *block.targets]))
    runs = without_damaged(load(root))
    table = per_future(runs, kpis)
    table["regret"] = regret(table, block.kpi)
    table["meets"] = meets(table, dict(block.targets))
    summary = summarise(table, block.kpi, block.percentile)
    boxes = prim_table(table, keys, block.prim)
    table.to_csv(root / FUTURES, index=False)
    summary.to_csv(root / SUMMARY, index=False)
    boxes.to_csv(root / PRIM, index=False)
    ranges = {k: list(v) for k, v in block.uncertainties.items()}
    settings = {"kpi": block.kpi, "targets": dict(block.targets), "ranges": ranges}
    (root / SETTINGS).write_text(json.dumps(settings, indent=2))
    figures = root / FIGURES
    figures.mkdir(parents=True, exist_ok=True)
    draw_regret(table, block.kpi, figures / REGRET_PNG)
    if len(boxes):
        draw_boxes(boxes, ranges, figures / PRIM_PNG)
    else:
        (figures / PRIM_PNG).unlink(missing_ok=True)
    return summary


def show(root: Path) -> None:
    """Print the per-arm table and the PRIM boxes in words."""
    summary = pd.read_csv(root / SUMMARY)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    for sentence in pd.read_csv(root / PRIM)["sentence"]:
        print(sentence)


def draw_regret(table: pd.DataFrame, kpi: str, path: Path) -> None:
    """Regret of each arm in each future (dots), its maximum marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(dict.fromkeys(table["arm"]))
    k = REGISTRY[kpi]
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(arms) + 1.5))
    jitter = np.random.default_rng(0)
    for i, arm in enumerate(arms):
        values = table.loc[table["arm"] == arm, "regret"] * k.scale
        ax.scatter(values, i + jitter.uniform(-0.15, 0.15, len(values)), s=14, alpha=0.6)
        ax.scatter([values.max()], [i], marker="|", s=300, color="black")
    ax.set_yticks(range(len(arms)), arms)
    unit = f" ({k.unit_label(delta=True)})" if k.unit else ""
    ax.set_xlabel(f"Regret on {k.short}{unit}: the best arm's value in the future minus the arm's")
    ax.set_title("Regret per future (| the maximum)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_boxes(boxes: pd.DataFrame, ranges: dict[str, list[float]], path: Path) -> None:
    """Each arm's PRIM box over the uncertainties' ranges (0 = low end, 1 = high end)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(ranges)
    fig, axes = plt.subplots(len(boxes), 1, figsize=(7, 1.2 + 0.4 * len(keys) * len(boxes)))
    for ax, row in zip(np.atleast_1d(axes), boxes.itertuples(), strict=True):
        limits = json.loads(row.limits)
        for j, key in enumerate(keys):
            low, high = ranges[key]
            lo, hi = limits.get(key, (None, None))
            a = 0.0 if lo is None else (lo - low) / (high - low)
            b = 1.0 if hi is None else (hi - low) / (high - low)
            ax.barh(j, b - a, left=a, color="tab:red" if key in limits else "lightgrey")
        ax.set_yticks(range(len(keys)), keys, fontsize=7)
        ax.set_xlim(0, 1)
        ax.set_title(
            f"{row.arm}: coverage {row.coverage:.0%}, density {row.density:.0%}", fontsize=9
        )
    fig.supxlabel("Share of each uncertainty's range")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
