"""Robustness of arms across sampled futures: regret, low percentiles, targets met, and PRIM boxes.

``analyse`` reads an ``experiments.robustness`` store (its runs and plan), writes
``futures.csv`` (per arm and future: the uncertainties, the KPIs' means over seeds, the regret and
whether the targets are met), ``robustness.csv`` (per arm, with seed-bootstrap intervals of the
mean and maximum regret) and ``prim.csv`` (per arm that misses its targets often enough: the
first PRIM box, in words), and draws ``figures/robustness/`` (regret per future, PRIM boxes);
``console`` gives them as the command prints them, ``section`` shows them in the HTML report.

Regret intervals (:func:`bootstrap_regret`). Every arm and every future runs on the same seeds
(common random numbers), so the seed is the unit of resampling: a replicate draws seeds with
replacement once and applies them to every arm in every future, then recomputes each arm's mean
per future, the best arm per future, the regrets, and their mean and maximum over the futures.
The futures are held fixed: the intervals are about seed noise in these futures, not about which
futures were sampled. Both statistics are biased upward by noise: the best arm of a future is a
maximum over noisy means (so even the truly best arm shows a regret above 0), and the maximum
over futures picks the future whose noise happened to be largest (the winner's curse). Each is
therefore reported plainly, bias-corrected (``2 * estimate - mean of the replicates``, at least
0), and with the *basic* bootstrap interval around the bias-corrected estimate (the replicates'
spread reflected about it, widened by ``sqrt(n / (n - 1))`` for ``n`` seeds, as the bootstrap
understates the spread of a mean of few values; clipped at 0, as a regret cannot be negative).
On synthetic futures (tests/test_robustness.py) the 95% intervals of the mean regret cover the
truth in about 90% of repetitions from 3 seeds; those of the maximum in about 70-85% from 3
seeds and 85-90% from 10-20: with few seeds, read the maximum's interval as a lower bound on the
uncertainty.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from runner.store import load, without_damaged
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


REGRET_COLUMNS = [
    f"{stat}_regret{part}" for stat in ("mean", "max") for part in ("", "_bc", "_low", "_high")
]


def summarise(
    table: pd.DataFrame, kpi: str, percentile: float, intervals: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per arm, over futures: mean and low percentile of ``kpi``, mean and max regret, share of
    futures meeting the targets (``table`` has ``regret`` and ``meets``); with ``intervals``
    (:func:`bootstrap_regret`, indexed by arm) also the seeds and the regrets' bias-corrected
    estimates and intervals."""
    groups = table.groupby("arm", sort=False)
    summary = pd.DataFrame(
        {
            "futures": groups.size(),
            f"mean_{kpi}": groups[kpi].mean(),
            f"p{percentile:g}_{kpi}": groups[kpi].quantile(percentile / 100),
            "mean_regret": groups["regret"].mean(),
            "max_regret": groups["regret"].max(),
            "share_meeting": groups["meets"].mean(),
        }
    )
    if intervals is not None:
        extra = intervals.drop(columns=["mean_regret", "max_regret"]).reindex(summary.index)
        summary = pd.concat([summary, extra], axis=1)
        first = ["futures", "seeds", f"mean_{kpi}", f"p{percentile:g}_{kpi}"]
        summary = summary[[*first, *REGRET_COLUMNS, "share_meeting"]]
    return summary.rename_axis("arm").reset_index()


def seed_values(runs: pd.DataFrame, kpi: str) -> tuple[np.ndarray, list[str], list[str]]:
    """``kpi`` of the ok runs as an array (future, arm, seed), NaN where a run is missing; the
    futures (points) and arms in order of first appearance."""
    ok = runs[runs["status"] == "ok"]
    futures, arms = list(dict.fromkeys(ok["point"])), list(dict.fromkeys(ok["arm"]))
    seeds = sorted(set(ok["seed"]))
    values = np.full((len(futures), len(arms), len(seeds)), np.nan)
    f = ok["point"].map({p: i for i, p in enumerate(futures)}).to_numpy()
    a = ok["arm"].map({p: i for i, p in enumerate(arms)}).to_numpy()
    s = ok["seed"].map({p: i for i, p in enumerate(seeds)}).to_numpy()
    values[f, a, s] = ok[kpi].to_numpy(float)
    return values, futures, arms


def _regret_stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and max over futures of each arm's regret, from ``values`` (..., future, arm, seed),
    higher better."""
    with warnings.catch_warnings():  # a missing arm in a future: NaN, ignored below
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(values, axis=-1)
        regrets = np.nanmax(means, axis=-1, keepdims=True) - means
        return np.nanmean(regrets, axis=-2), np.nanmax(regrets, axis=-2)


def bootstrap_regret(
    values: np.ndarray,
    arms: list[str],
    higher_is_better: bool = True,
    replicates: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Per arm: the mean and max over futures of its regret, each plainly, bias-corrected and
    with its seed-bootstrap interval (see the module's docstring), from ``values`` (future, arm,
    seed: :func:`seed_values`). Seeds are resampled jointly for every arm and future; a fixed
    ``seed`` makes it reproducible. Columns: arm (index), seeds, and for stat in (mean, max):
    {stat}_regret, {stat}_regret_bc, {stat}_regret_low, {stat}_regret_high."""
    values = values if higher_is_better else -values
    n = values.shape[-1]
    estimates = _regret_stats(values)
    rng = np.random.default_rng(seed)
    draws: list[list[np.ndarray]] = [[], []]
    chunk = max(1, 2_000_000 // max(values.size, 1))  # replicates at a time, bounding memory
    for start in range(0, replicates, chunk):
        picks = rng.integers(0, n, (min(chunk, replicates - start), n))
        resampled = np.moveaxis(values[:, :, picks], 2, 0)  # (replicate, future, arm, seed)
        for kept, stat in zip(draws, _regret_stats(resampled), strict=True):
            kept.append(stat)
    widen = np.sqrt(n / (n - 1)) if n > 1 else np.nan
    columns = {"seeds": np.full(len(arms), n)}
    for name, estimate, kept in zip(("mean", "max"), estimates, draws, strict=True):
        boot = np.concatenate(kept)
        centre = np.nanmean(boot, axis=0)
        low, high = np.nanquantile(boot, [(1 - level) / 2, (1 + level) / 2], axis=0)
        corrected = np.maximum(2 * estimate - centre, 0)
        columns |= {
            f"{name}_regret": estimate,
            f"{name}_regret_bc": corrected,
            f"{name}_regret_low": np.maximum(2 * estimate - centre - widen * (high - centre), 0),
            f"{name}_regret_high": np.maximum(2 * estimate - centre - widen * (low - centre), 0),
        }
    return pd.DataFrame(columns, index=pd.Index(arms, name="arm"))


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
    values, _, arms = seed_values(runs, block.kpi)
    intervals = bootstrap_regret(
        values, arms, REGISTRY[block.kpi].higher_is_better, block.bootstrap, block.level
    )
    summary = summarise(table, block.kpi, block.percentile, intervals)
    boxes = prim_table(table, keys, block.prim)
    table.to_csv(root / FUTURES, index=False)
    summary.to_csv(root / SUMMARY, index=False)
    boxes.to_csv(root / PRIM, index=False)
    ranges = {k: list(v) for k, v in block.uncertainties.items()}
    settings = {
        "kpi": block.kpi,
        "targets": dict(block.targets),
        "ranges": ranges,
        "bootstrap": block.bootstrap,
        "level": block.level,
    }
    (root / SETTINGS).write_text(json.dumps(settings, indent=2))
    figures = root / FIGURES
    figures.mkdir(parents=True, exist_ok=True)
    draw_regret(table, block.kpi, figures / REGRET_PNG, summary)
    if len(boxes):
        draw_boxes(boxes, ranges, figures / PRIM_PNG)
    else:
        (figures / PRIM_PNG).unlink(missing_ok=True)
    return summary


def console(root: Path) -> str:
    """The per-arm table, the regrets with their intervals and the PRIM boxes in words, as the
    command prints them."""
    summary = pd.read_csv(root / SUMMARY)
    number = lambda v: f"{v:,.4g}"  # noqa: E731
    if "mean_regret_low" not in summary:  # a store analysed before the intervals
        lines = [summary.to_string(index=False, float_format=number)]
    else:
        regrets = ["arm", *REGRET_COLUMNS]
        settings = json.loads((root / SETTINGS).read_text())
        lines = [
            summary.drop(columns=regrets[1:]).to_string(index=False, float_format=number),
            regret_note(int(summary["seeds"].max()), settings.get("level", 0.95)),
            summary[regrets].to_string(index=False, float_format=number),
        ]
    lines += list(pd.read_csv(root / PRIM)["sentence"])
    return "\n".join(lines)


def regret_note(seeds: int, level: float) -> str:
    """What the regret intervals are, in words."""
    return (
        f"Regret intervals: {level:.0%} seed bootstrap ({seeds} seeds, resampled jointly for every"
        " arm and future); _bc is the bias-corrected estimate (noise inflates the best arm of a"
        " future and the maximum over futures: the plain values overstate regret), the interval"
        " is around it. With few seeds the maximum's interval is too narrow"
        + (f"; {seeds} seeds: rerun with more replications before deciding." if seeds < 10 else ".")
    )


def draw_regret(
    table: pd.DataFrame, kpi: str, path: Path, summary: pd.DataFrame | None = None
) -> None:
    """Regret of each arm in each future (dots), its maximum marked; with ``summary`` (that has
    intervals) the bias-corrected maximum and its interval below the dots."""
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
        if summary is not None and "max_regret_low" in summary:
            row = summary.set_index("arm").loc[arm]
            ax.errorbar(
                [row.max_regret_bc * k.scale],
                [i - 0.3],
                xerr=[
                    [(row.max_regret_bc - row.max_regret_low) * k.scale],
                    [(row.max_regret_high - row.max_regret_bc) * k.scale],
                ],
                fmt="D",
                ms=4,
                color="tab:red",
                capsize=3,
            )
    ax.set_yticks(range(len(arms)), arms)
    unit = f" ({k.unit_label(delta=True)})" if k.unit else ""
    ax.set_xlabel(f"Regret on {k.short}{unit}: the best arm's value in the future minus the arm's")
    title = "Regret per future (| the maximum"
    title += ";\nred: the bias-corrected maximum and its interval)" if summary is not None else ")"
    ax.set_title(title, fontsize=10)
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
