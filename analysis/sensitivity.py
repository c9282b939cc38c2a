"""Sensitivity indices (SALib Morris mu* or Sobol ST), each with its own seed noise: the table,
one sentence per parameter that matters, a chart, and the report's section.

Every design row runs the same seeds (common random numbers), so each parameter's index has its
own seed noise, small when the seeds cancel in its differences. Both the interval and the
floor come from one set of draws of that noise: the seed-mean outputs of all rows are moved
together by ``residuals @ g / sqrt(n (n - 1))``, scaled by ``sqrt((n - 1) / chi2_{n-1})``, where
``g`` are standard normal multipliers of the ``n`` seeds (a Gaussian multiplier bootstrap over
seeds whose t scaling carries the uncertainty of a variance estimated from ``n`` seeds).

* ``seed_noise``: the index the seed noise alone produces for this parameter (the draws'
  differences without the parameter's effect), at its ``1 - 0.05 / (parameters x KPIs)``
  quantile; ``p_value`` the share of those draws at or above the index.
* ``matters``: the index is above its seed noise (Bonferroni over parameters x KPIs).
* ``ci_low``, ``ci_high``: the index's simultaneous interval at the same level, over the seed
  noise and over the design (trajectories or base samples resampled, as SALib's CI).

docs/sensitivity.md gives the reasons and what the intervals cover."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from SALib.analyze import morris, sobol

from sim.kpis import REGISTRY

CSV, JSON, PNG = "sensitivity.csv", "sensitivity.json", "sensitivity.png"
INDEX = {"morris": "mu*", "sobol": "total-effect index ST"}
ALPHA = 0.05  # the family error rate over parameters x KPIs
CHUNK = 500  # draws at a time (memory)
FIRST = ["kpi", "parameter", "low", "high", "index", "ci_low", "ci_high", "seed_noise"]


def level(parameters: int, kpis: int) -> float:
    """Each interval's and each test's level: Bonferroni over parameters x KPIs."""
    return 1 - ALPHA / (parameters * kpis)


def table_level(table: pd.DataFrame) -> float:
    return level(table["parameter"].nunique(), table["kpi"].nunique())


def min_resamples(parameters: int, kpis: int) -> int:
    """Draws that leave ten beyond the Bonferroni quantile."""
    return int(np.ceil(10 * parameters * kpis / ALPHA))


def analyse(s, problem: dict, design: np.ndarray, y: np.ndarray, seed: int) -> pd.DataFrame:
    """One row per KPI and parameter. ``y``: design rows x seeds x KPIs (each row on the same
    seeds); ``s``: the settings (method, kpis, levels, resamples)."""
    rows, n, k = y.shape
    if n < 2:
        raise ValueError("seed noise needs two or more seeds a design row")
    names = list(problem["names"])
    p = len(names)
    lvl = level(p, k)
    null = np.empty((k, p, s.resamples))
    boot = np.empty((k, p, s.resamples))
    if s.method == "morris":
        op = _morris_operator(design, p, s.levels)
        est = [_Morris(op, y[:, :, j]) for j in range(k)]
    else:
        est = [_Sobol(p, y[:, :, j]) for j in range(k)]
    index = np.array([e.index for e in est])
    rng = np.random.default_rng(seed)
    for start in range(0, s.resamples, CHUNK):
        b = min(CHUNK, s.resamples - start)
        g = rng.standard_normal((n, b)) / np.sqrt(n * (n - 1))
        g *= np.sqrt((n - 1) / rng.chisquare(n - 1, b))  # the t scaling: n seeds' variance
        counts = _counts(rng, est[0].cells, b)
        for j, e in enumerate(est):
            null[j, :, start : start + b], boot[j, :, start : start + b] = e.draw(g, counts)
    frames = []
    for j, kpi in enumerate(s.kpis):
        floor = np.quantile(null[j], lvl, axis=1)
        frame = pd.DataFrame(
            {
                "kpi": kpi,
                "parameter": names,
                "index": index[j],
                "ci_low": np.quantile(boot[j], (1 - lvl) / 2, axis=1),
                "ci_high": np.quantile(boot[j], (1 + lvl) / 2, axis=1),
                "seed_noise": floor,
                "p_value": (1 + (null[j] >= index[j][:, None]).sum(axis=1)) / (1 + s.resamples),
                "matters": index[j] > floor,
            }
        )
        frames.append(frame.assign(**_salib(s, problem, design, y[:, :, j].mean(axis=1), seed)))
    table = pd.concat(frames, ignore_index=True)
    bounds = dict(zip(names, problem["bounds"], strict=True))
    table["low"] = [bounds[q][0] for q in table["parameter"]]
    table["high"] = [bounds[q][1] for q in table["parameter"]]
    return table[[*FIRST, *(c for c in table if c not in FIRST)]]


def _counts(rng: np.random.Generator, cells: int, draws: int) -> np.ndarray:
    """How often each cell (trajectory, base sample) is drawn in each resample: cells x draws."""
    picks = rng.integers(cells, size=(draws, cells)) + cells * np.arange(draws)[:, None]
    return np.bincount(picks.ravel(), minlength=cells * draws).reshape(draws, cells).T


def _morris_operator(design: np.ndarray, p: int, levels: int) -> np.ndarray:
    """The elementary effects as a linear map of the outputs (trajectories x parameters x
    rows), as SALib computes them: the change over a step, in units of the range, / delta."""
    cells = len(design) // (p + 1)
    delta = levels / (2 * (levels - 1))
    op = np.zeros((cells, p, len(design)))
    for t in range(cells):
        for step in range(p):
            a = t * (p + 1) + step
            moved = design[a + 1] - design[a]
            i = int(np.argmax(np.abs(moved)))
            op[t, i, a + 1] += np.sign(moved[i]) / delta
            op[t, i, a] -= np.sign(moved[i]) / delta
    return op


class _Morris:
    """mu* = mean over trajectories of |elementary effect|, of one KPI (``y``: rows x seeds).
    Each seed's effects first, so that a parameter that changes nothing has effects of 0."""

    def __init__(self, op: np.ndarray, y: np.ndarray):
        self.cells = op.shape[0]
        each = np.einsum("tpr,rn->tpn", op, y)  # trajectories x parameters x seeds
        self.effects = each.mean(axis=2)
        self.index = np.abs(self.effects).mean(axis=0)
        self.noise = each - self.effects[:, :, None]

    def draw(self, g: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """mu* of the seed noise alone, and mu* resampled (seeds and trajectories)."""
        noise = self.noise @ g  # trajectories x parameters x draws
        moved = np.abs(self.effects[:, :, None] + noise)
        return np.abs(noise).mean(axis=0), np.einsum("tb,tpb->pb", counts, moved) / self.cells


class _Sobol:
    """ST = mean over base samples of (f(A) - f(AB_i))^2 / 2 over the variance of f(A), f(B)
    (Jansen's estimator, SALib's), of one KPI; rows come in blocks A, AB_1 ... AB_p, B."""

    def __init__(self, p: int, y: np.ndarray):
        y = y.reshape(-1, p + 2, y.shape[1])  # base samples x blocks x seeds
        self.cells = len(y)
        each = y[:, :1] - y[:, 1:-1]  # base samples x parameters x seeds
        self.diff = each.mean(axis=2)
        self.noise = each - self.diff[:, :, None]
        ends = np.r_[y[:, 0], y[:, -1]]
        self.ends = ends.mean(axis=1)
        self.ends_noise = ends - self.ends[:, None]
        self.var = max(float(np.var(self.ends)), 1e-300)  # a constant output: indices 0
        self.index = 0.5 * np.mean(self.diff**2, axis=0) / self.var

    def draw(self, g: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ST of the seed noise alone, and ST resampled (seeds and base samples)."""
        noise = self.noise @ g  # base samples x parameters x draws
        null = 0.5 * np.mean(noise**2, axis=0) / self.var
        num = 0.5 * np.einsum("nb,npb->pb", counts, (self.diff[:, :, None] + noise) ** 2)
        ends = self.ends[:, None] + self.ends_noise @ g
        both = np.r_[counts, counts]
        mean = np.einsum("nb,nb->b", both, ends) / (2 * self.cells)
        var = np.einsum("nb,nb->b", both, ends**2) / (2 * self.cells) - mean**2
        boot = np.divide(num / self.cells, var, out=np.zeros_like(num), where=var > 0)
        return null, boot


def _salib(s, problem: dict, design: np.ndarray, y: np.ndarray, seed: int) -> dict:
    """SALib's descriptive columns: Morris mu (the sign) and sigma, or Sobol S1 with its 95% CI
    (over the base samples only)."""
    kw = {"num_resamples": 1000, "conf_level": 0.95, "seed": seed}
    if s.method == "morris":
        si = morris.analyze(problem, design, y, num_levels=s.levels, **kw)
        return {"mu": np.asarray(si["mu"]), "sigma": np.asarray(si["sigma"])}
    si = sobol.analyze(problem, y, calc_second_order=False, **kw)
    return {"s1": np.asarray(si["S1"]), "s1_conf": np.asarray(si["S1_conf"])}


def _times(r) -> str:
    if r.seed_noise > 0:
        return f"{r.index / r.seed_noise:.1f}x its seed noise"
    return "with no seed noise"


def sentences(table: pd.DataFrame, method: str) -> list[str]:
    """One sentence per parameter that matters, the strongest first within each KPI."""
    out = []
    pct = f"{table_level(table):.1%}"
    for kpi, rows in table[table["matters"]].groupby("kpi", sort=False):
        k = REGISTRY[kpi]
        for rank, r in enumerate(rows.sort_values("index", ascending=False).itertuples()):
            most = " (the strongest)" if rank == 0 else ""
            if method == "morris":
                unit = k.unit_label(delta=True)
                way = "raises" if r.mu > 0 else "lowers"
                scale = k.scale
                size = f"{way} it by about {r.index * scale:.3g} {unit} over its range".rstrip()
                what = f"mu* = {r.index * scale:.3g} ({pct} CI {r.ci_low * scale:.3g} to"
                what += f" {r.ci_high * scale:.3g}; seed noise {r.seed_noise * scale:.3g})"
            else:
                size = f"explains {r.index:.0%} of its variance with its interactions"
                what = f"ST = {r.index:.2f} ({pct} CI {r.ci_low:.2f} to {r.ci_high:.2f};"
                what += f" seed noise {r.seed_noise:.2g})"
            out.append(
                f"{k.label}: {r.parameter} ({r.low:g} to {r.high:g}) {size}{most}:"
                f" {what}, {_times(r)}."
            )
    return out


def chart(table: pd.DataFrame, method: str, png: Path) -> Path:
    """Bars of each parameter's index with its simultaneous interval, one panel per KPI, each
    parameter's seed noise marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kpis = list(pd.unique(table["kpi"]))
    height = 0.45 * table["parameter"].nunique() + 1.6
    fig, axes = plt.subplots(1, len(kpis), figsize=(3 * len(kpis) + 2, height), sharey=True)
    for ax, kpi in zip(np.atleast_1d(axes), kpis, strict=True):
        rows = table[table["kpi"] == kpi]
        scale = REGISTRY[kpi].scale if method == "morris" else 1.0
        err = np.clip([rows["index"] - rows["ci_low"], rows["ci_high"] - rows["index"]], 0, None)
        colours = ["tab:blue" if m else "0.6" for m in rows["matters"]]
        ax.barh(rows["parameter"], rows["index"] * scale, xerr=err * scale, color=colours)
        ax.scatter(
            rows["seed_noise"] * scale,
            rows["parameter"],
            marker="|",
            s=200,
            color="tab:red",
            zorder=3,
            label="seed noise",
        )
        ax.set_title(REGISTRY[kpi].label)
        unit = REGISTRY[kpi].unit_label(delta=True) if method == "morris" else ""
        ax.set_xlabel(f"{INDEX[method]} ({unit})" if unit else INDEX[method])
    np.atleast_1d(axes)[0].invert_yaxis()
    np.atleast_1d(axes)[0].legend(loc="lower right")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


def write(root: Path, table: pd.DataFrame, record: dict) -> None:
    """``sensitivity.csv``, ``sensitivity.json`` (settings, provenance) and the chart."""
    from sim.provenance import code_version

    table.to_csv(root / CSV, index=False)
    record = record | {"sentences": sentences(table, record["method"]), **code_version()}
    (root / JSON).write_text(json.dumps(record, indent=2, default=str))
    chart(table, record["method"], root / "figures" / PNG)


def console(table: pd.DataFrame) -> str:
    """The table and the sentences as text."""
    cols = ["kpi", "parameter", "index", "ci_low", "ci_high", "seed_noise", "p_value", "matters"]
    lines = [table[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}")]
    lines.append(
        f"Intervals and seed noise at {table_level(table):.2%} each (5% over"
        f" {table['parameter'].nunique()} parameters x {table['kpi'].nunique()} KPIs)."
    )
    method = "morris" if "mu" in table else "sobol"
    return "\n".join([*lines, "", *(sentences(table, method) or ["No parameter matters."])])
