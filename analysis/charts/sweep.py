"""Sweeps over grid or sampled parameters: a heatmap per arm over a two-parameter grid, and each
KPI against the swept (or each sampled) parameter."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.colors import to_hex, to_rgb

from analysis.charts.common import (
    BASELINE_COLOUR,
    DASHES,
    DETECTED,
    MARKERS,
    Drawn,
    Style,
    applies_when,
    compact,
    key_axis,
    key_label,
    left_out_note,
    legend_right,
    new_figure,
    point_values,
    signed,
)
from analysis.charts.data import ChartData
from sim.kpis import Kpi
from sim.strategies import title as arm_title

SWEEP_KPIS = ("retention_horizon", "npv")


def _sweep_table(d: ChartData) -> tuple[pd.DataFrame, bool] | None:
    """(point, arm, kpi, value, low, high, verdict, <parameter columns>), and whether the values
    are differences from the baseline (else arm means, without verdicts); None without a sweep."""
    keys = list(d.grid) or d.sampled
    if not keys or not d.multi_point:
        return None
    diffs, arms = d.tables.get("differences"), d.tables.get("arms")
    if diffs is not None and not diffs.empty:
        t, delta = diffs.rename(columns={"mean_diff": "value"}), True
    elif arms is not None and not arms.empty:
        t, delta = arms.rename(columns={"mean": "value"}).assign(verdict=""), False
    else:
        return None
    columns = ["point", "arm", "kpi", "value", "ci_low", "ci_high", "verdict"]
    t = t[t["kpi"].isin(SWEEP_KPIS)][columns]
    params = pd.DataFrame([point_values(p) for p in t["point"]], index=t.index)
    params = params.reindex(columns=keys)
    for key in keys:  # numbers as numbers, anything else (e.g. True/False) as text
        number = pd.to_numeric(params[key], errors="coerce")
        params[key] = number if number.notna().all() else params[key]
    return pd.concat([t, params], axis=1), delta


def _heatmap_arms(d: ChartData) -> tuple[list[str], list[str]]:
    """(the arms a heatmap is drawn for, the arms the grid moves); none without a
    two-parameter grid."""
    table = _sweep_table(d) if len(d.grid) == 2 else None
    if table is None:
        return [], []
    values = table[0].groupby("arm", sort=False)["value"].nunique()
    moved = [a for a in d.arms if values.get(a, 0) > 1]  # the arms the grid moves
    return [a for a in moved if not d.chart_arms or a in d.chart_arms], moved


def has_heatmap(d: ChartData) -> bool:
    return bool(_heatmap_arms(d)[0])


@applies_when(has_heatmap)
def sweep_heatmap(d: ChartData):
    arms, moved = _heatmap_arms(d)
    if not arms:
        return
    t, delta = _sweep_table(d)
    xkey, ykey = sorted(d.grid, key=lambda k: -len(d.grid[k]))
    note = left_out_note([a for a in moved if a not in arms])
    for arm in arms:
        title = (
            f"{arm_title(arm)}: {'difference from the baseline' if delta else 'means'} over"
            f" {key_label(xkey)} and {key_label(ykey)}"
        )
        name = "sweep_heatmap" + ("" if len(moved) == 1 else f"_{arm}")
        fig, axes = new_figure(16, 7, title, ncols=len(SWEEP_KPIS))
        for ax, kpi in zip(axes[0], SWEEP_KPIS, strict=True):
            rows = t[(t["arm"] == arm) & (t["kpi"] == kpi)]
            _heatmap(ax, rows, xkey, ykey, d.kpis[kpi], delta)
        caption = (
            f"{'Paired difference from the baseline' if delta else 'Mean'} of each KPI at "
            f"every grid point for {arm_title(arm)}; * marks a better or worse verdict." + note
        )
        yield Drawn(name, title, caption, fig)


def _heatmap(ax, t: pd.DataFrame, xkey: str, ykey: str, kpi: Kpi, delta: bool) -> None:
    """One KPI over the grid: the value in each cell, starred where a verdict found a
    difference."""
    values = t.pivot_table(index=ykey, columns=xkey, values="value") * kpi.scale
    detected = t.assign(detected=t["verdict"].isin(DETECTED).astype(float))
    stars = detected.pivot_table(index=ykey, columns=xkey, values="detected")
    stars = stars.reindex_like(values)
    limit = np.nanmax(np.abs(values.to_numpy())) or 1.0
    norm = (
        mpl.colors.Normalize(-limit, limit)
        if delta
        else mpl.colors.Normalize(np.nanmin(values), np.nanmax(values))
    )
    image = ax.imshow(
        values.to_numpy(),
        cmap="RdBu" if delta else "viridis",
        norm=norm,
        aspect="auto",
        origin="lower",
    )
    for (i, j), v in np.ndenumerate(values.to_numpy()):
        if np.isfinite(v):
            star = "*" if stars.iloc[i, j] == 1 else ""
            dark = abs(norm(v) - 0.5) > 0.3 if delta else norm(v) < 0.5
            ax.text(
                j,
                i,
                (signed(v, kpi.digits) if delta else f"{v:,.{kpi.digits}f}") + star,
                ha="center",
                va="center",
                fontsize=14,
                color="white" if dark else "black",
            )
    ax.set_xticks(range(values.shape[1]), [compact(v) for v in values.columns])
    ax.set_yticks(range(values.shape[0]), [compact(v) for v in values.index])
    ax.set_xlabel(key_axis(xkey))
    ax.set_ylabel(key_axis(ykey))
    ax.set_title(kpi.label)
    ax.grid(False)
    ax.figure.colorbar(image, ax=ax, label=kpi.axis(delta))


def _numeric_keys(d: ChartData) -> list[str]:
    """The swept (or sampled) keys with numbers for values, of a sweep the lines can show (a
    grid of at most two keys, or a sample); none otherwise."""
    table = _sweep_table(d) if len(d.grid) <= 2 else None
    if table is None:
        return []
    return [k for k in (d.grid or d.sampled) if pd.api.types.is_numeric_dtype(table[0][k])]


def has_sweep_lines(d: ChartData) -> bool:
    return bool(_numeric_keys(d))


@applies_when(has_sweep_lines)
def sweep_lines(d: ChartData):
    numeric = _numeric_keys(d)
    if not numeric:
        return
    t, delta = _sweep_table(d)
    if d.grid:
        xkey = max(numeric, key=lambda k: len(d.grid[k]))
        columns, slices = [xkey], [k for k in d.grid if k != xkey]
    else:
        columns, slices = d.sampled, []
    present = [a for a in d.arms if a in set(t["arm"]) and (a != d.baseline or not delta)]
    arms = [a for a in present if not d.chart_arms or a in d.chart_arms or a == d.baseline]
    what = "Difference from the baseline" if delta else "Arm means"
    where = key_label(columns[0]) if d.grid else "the sampled parameters"
    who = f"{arms[0]} vs baseline" if len(arms) == 1 and delta else what
    title = f"{who} across {where}"
    fig, axes = new_figure(
        6.5 * len(columns) + 6, 10, title, nrows=len(SWEEP_KPIS), ncols=len(columns), sharex="col"
    )
    for row, name in enumerate(SWEEP_KPIS):
        kpi = d.kpis[name]
        for col, xkey in enumerate(columns):
            ax = axes[row, col]
            for arm in arms:
                rows = t[(t["arm"] == arm) & (t["kpi"] == name)]
                _sweep_series(
                    ax,
                    rows,
                    xkey,
                    slices,
                    d.styles[arm],
                    arm,
                    kpi.scale,
                    band=bool(d.grid),
                )
            if delta:
                ax.axhline(0, color=BASELINE_COLOUR, lw=1.5, ls="--")
            ax.set_ylabel(kpi.axis(delta) if col == 0 else "")
            axes[-1, col].set_xlabel(key_axis(xkey))
            if d.grid and t[xkey].notna().all():
                ax.set_xticks(sorted(t[xkey].unique()))
            ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: compact(v)))
    legend_right(axes[0, -1], title="Strategy" + (f" · {key_axis(slices[0])}" if slices else ""))
    caption = (
        f"{what} in each KPI against "
        + (
            "the swept parameter, a colour per arm, one line per value of the other, with 95% CI"
            " bands."
            if d.grid
            else "each sampled parameter (the others vary too), a colour per arm, with 95% CIs."
        )
        + left_out_note([a for a in present if a not in arms])
    )
    yield Drawn("sweep_lines", title, caption, fig)


def _sweep_series(ax, t, xkey, slices, style: Style, arm: str, scale: float, band: bool):
    """Grid: a line with a 95% band per value of the slicing key (at most 4). Sample: points
    with 95% error bars (the other sampled parameters vary along x too)."""
    groups = list(t.groupby(slices[0], sort=True)) if slices else [(None, t)]
    if len(groups) > 4:
        groups = [groups[i] for i in np.linspace(0, len(groups) - 1, 4).round().astype(int)]
    for k, (value, g) in enumerate(groups):
        g, colour = g.sort_values(xkey), _shade(style.colour, k, len(groups))
        label = " · ".join([arm_title(arm)] + ([] if value is None else [compact(value)]))
        x, y = g[xkey], g["value"] * scale
        low, high = g["ci_low"] * scale, g["ci_high"] * scale
        if band:
            hollow = {"mfc": "white", "mew": 2} if k % 2 else {}  # coinciding lines stay visible
            ax.plot(
                x,
                y,
                color=colour,
                ls=DASHES[k % 3],
                marker=MARKERS[k],
                ms=10 + 2 * k,
                label=label,
                **hollow,
            )
            ax.fill_between(x, low, high, color=colour, alpha=0.12, lw=0)
        else:
            ax.errorbar(
                x,
                y,
                yerr=[y - low, high - y],
                color=style.colour,
                marker=style.marker,
                ls="",
                capsize=4,
                lw=1.6,
                label=label,
            )


def _shade(colour: str, k: int, n: int) -> str:
    """The k-th of n shades of an arm's colour, lightest first: the slices of one arm are told
    apart and still read as that arm."""
    if n < 2:
        return colour
    rgb = np.array(to_rgb(colour))
    return to_hex(rgb + (1 - rgb) * 0.6 * (1 - k / (n - 1)))
