"""Sensitivity indices (SALib Morris or Sobol) against the dummy's noise floor: the table, one
sentence per parameter that matters, a chart, and the report's section."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from SALib.analyze import morris, sobol

from sim.kpis import REGISTRY

DUMMY = "dummy"
CSV, JSON, PNG = "sensitivity.csv", "sensitivity.json", "sensitivity.png"
INDEX = {"morris": "mu*", "sobol": "total-effect index ST"}


def analyse(s, problem: dict, design: np.ndarray, y: np.ndarray, seed: int) -> pd.DataFrame:
    """One row per KPI and parameter: the index (Morris mu*, Sobol ST) with its bootstrap 95%
    CI, the dummy's index (the noise floor) and whether the parameter matters (CI above it)."""
    frames = []
    for j, kpi in enumerate(s.kpis):
        frame = _indices(s, problem, design, y[:, j], seed).assign(kpi=kpi)
        floor = frame.loc[frame["parameter"] == DUMMY, "index"]
        frame["noise_floor"] = float(floor.iloc[0]) if len(floor) else 0.0
        frame["matters"] = (frame["ci_low"] > frame["noise_floor"]) & (frame["parameter"] != DUMMY)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    bounds = dict(zip(problem["names"], problem["bounds"], strict=True))
    table["low"] = [bounds[p][0] for p in table["parameter"]]
    table["high"] = [bounds[p][1] for p in table["parameter"]]
    first = ["kpi", "parameter", "low", "high", "index", "ci_low", "ci_high", "noise_floor"]
    return table[[*first, *(c for c in table if c not in first)]]


def _indices(s, problem: dict, design: np.ndarray, y: np.ndarray, seed: int) -> pd.DataFrame:
    """SALib's indices of one output, as index, ci_low, ci_high (and sign or S1)."""
    kw = {"num_resamples": s.resamples, "conf_level": 0.95, "seed": seed}
    if s.method == "morris":
        si = morris.analyze(problem, design, y, num_levels=s.levels, **kw)
        index, conf = np.asarray(si["mu_star"]), np.asarray(si["mu_star_conf"])
        extra = {"mu": si["mu"], "sigma": si["sigma"]}
    else:
        si = sobol.analyze(problem, y, calc_second_order=False, **kw)
        index, conf = si["ST"], si["ST_conf"]
        extra = {"s1": si["S1"], "s1_conf": si["S1_conf"]}
    return pd.DataFrame(
        {"parameter": problem["names"], "index": index, "ci_low": index - conf}
        | {"ci_high": index + conf}
        | {k: np.asarray(v, np.float64) for k, v in extra.items()}
    )


def sentences(table: pd.DataFrame, method: str) -> list[str]:
    """One sentence per parameter that matters, the strongest first within each KPI."""
    out = []
    for kpi, rows in table[table["matters"]].groupby("kpi", sort=False):
        k = REGISTRY[kpi]
        for rank, r in enumerate(rows.sort_values("index", ascending=False).itertuples()):
            most = " (the strongest)" if rank == 0 else ""
            times = f"{r.index / r.noise_floor:.1f}x" if r.noise_floor > 0 else "far above"
            if method == "morris":
                unit = k.unit_label(delta=True)
                way = "raises" if r.mu > 0 else "lowers"
                scale = k.scale
                size = f"{way} it by about {r.index * scale:.3g} {unit} over its range".rstrip()
                what = f"mu* = {r.index * scale:.3g} (95% CI {r.ci_low * scale:.3g} to"
                what += f" {r.ci_high * scale:.3g})"
            else:
                size = f"explains {r.index:.0%} of its variance with its interactions"
                what = f"ST = {r.index:.2f} (95% CI {r.ci_low:.2f} to {r.ci_high:.2f})"
            out.append(
                f"{k.label}: {r.parameter} ({r.low:g} to {r.high:g}) {size}{most}:"
                f" {what}, {times} the noise floor."
            )
    return out


def chart(table: pd.DataFrame, method: str, png: Path) -> Path:
    """Bars of each parameter's index with CI whiskers, one panel per KPI, the dummy's level
    dashed."""
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
        ax.axvline(rows["noise_floor"].iloc[0] * scale, ls="--", color="tab:red", label="dummy")
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
    cols = ["kpi", "parameter", "index", "ci_low", "ci_high", "noise_floor", "matters"]
    lines = [table[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}")]
    method = "morris" if "mu" in table else "sobol"
    return "\n".join([*lines, "", *(sentences(table, method) or ["No parameter matters."])])
