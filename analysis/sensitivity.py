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
import textwrap
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from SALib.analyze import morris, sobol

from sim.kpis import DEFAULT_MONTHS, Kpi, counted, decimals, registry

CSV, JSON, PNG = "sensitivity.csv", "sensitivity.json", "sensitivity.png"
INDEX = {"morris": "mu*", "sobol": "total-effect index ST"}
INDEX_WORDS = {
    "morris": "mean absolute elementary effect (mu*)",
    "sobol": "total-effect index (ST): the share of the KPI's variance the parameter explains",
}
"""Each method's index in words."""
AXIS = {
    "morris": "mean absolute elementary effect, mu*",
    "sobol": "total-effect index, ST (share of variance)",
}
"""Each method's index on a chart's axis."""
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


def analyse(
    s, problem: dict, design: np.ndarray, y: np.ndarray, seed: int, months: int = DEFAULT_MONTHS
) -> pd.DataFrame:
    """One row per KPI and parameter. ``y``: design rows x seeds x KPIs (each row on the same
    seeds); ``s``: the settings (method, kpis, levels, resamples); ``months``: the runs'
    measured months (the horizon the KPIs' labels name), kept in the ``months`` column."""
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
    table["months"] = int(months)
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


def months_of(table: pd.DataFrame) -> int:
    """The measured months of the study's runs (the ``months`` column ``analyse`` adds), the
    default horizon for a table without one."""
    if "months" in table and table["months"].notna().any():
        return int(table["months"].dropna().iloc[0])
    return DEFAULT_MONTHS


def kpis_of(table: pd.DataFrame) -> dict[str, Kpi]:
    """The KPIs labelled at the runs' horizon ("Retention at 6 months")."""
    return registry(months_of(table))


@cache
def _descriptions() -> dict[str, str]:
    """Every parameter's words, as docs/parameters.md gives them (``sim.config.reference``), the
    strategies' parameters included."""
    from sim.config.reference import parameter_rows
    from sim.strategies import REGISTRY as STRATEGIES

    rows = parameter_rows()
    for name, strategy in STRATEGIES.items():
        rows += parameter_rows(strategy.Config(), f"strategy.{name}.")
    return {key: unit for key, _, unit, _, _ in rows}


def parameter_name(key: str) -> str:
    """A config key's name in words: ``behaviour.churn_base`` -> "behaviour churn base",
    ``strategy.training.hours`` -> "training hours"."""
    from analysis.charts.common import key_label  # matplotlib: loaded only to show results

    return key_label(key).replace(": ", " ")


def parameter_words(key: str) -> str:
    """What a config key is, in the schema's words (``param``'s description, as in
    docs/parameters.md): "switching probability per year at the reference hazard"; "" for a key
    the schema does not describe. A list's element (``key.<index>``) has its list's words."""
    parts = key.split(".")
    while parts and parts[-1].isdigit():
        parts.pop()
    return _descriptions().get(".".join(parts), "")


def index_words(method: str) -> str:
    """The index in words (a chart's axis, a table's heading)."""
    return INDEX_WORDS[method]


def _digits(rows: pd.DataFrame, kpi: Kpi) -> int:
    """Decimals of a KPI's Morris indices in display units (``sim.kpis.decimals``: two
    significant digits of the largest)."""
    values = rows[["index", "ci_low", "ci_high", "seed_noise"]].to_numpy().ravel()
    return decimals(*(float(v) * kpi.scale for v in values))


def _value(v: float, kpi: Kpi, digits: int, method: str) -> str:
    """An index in the KPI's display units (Morris: pts, CNY M ...; Sobol's ST has none)."""
    return kpi.number(v, digits) if method == "morris" else f"{v:.2f}"


def _with_unit(text: str, kpi: Kpi, method: str) -> str:
    unit = kpi.unit_label(delta=True) if method == "morris" else ""
    if unit == "CNY M":
        return f"CNY {text} M"
    return f"{text} {unit}" if unit else text


def sentences(table: pd.DataFrame, method: str) -> list[str]:
    """One sentence per parameter that matters, the strongest first within each KPI, in the
    KPI's display units and the parameter's words."""
    out = []
    kpis = kpis_of(table)
    pct = f"{table_level(table):.1%}"
    for kpi, rows in table[table["matters"]].groupby("kpi", sort=False):
        k = kpis[kpi]
        digits = _digits(table[table["kpi"] == kpi], k)
        for rank, r in enumerate(rows.sort_values("index", ascending=False).itertuples()):
            most = " (the strongest)" if rank == 0 else ""
            v = {c: _value(getattr(r, c), k, digits, method) for c in _SHOWN}
            if method == "morris":
                way = "raises" if r.mu > 0 else "lowers"
                size = f"{way} it by about {_with_unit(v['index'], k, method)} over its range"
                what = f"mu* {_with_unit(v['index'], k, method)} ({pct} CI {v['ci_low']} to"
                what += f" {v['ci_high']}; seed noise {v['seed_noise']})"
            else:
                size = f"explains {r.index:.0%} of its variance with its interactions"
                what = f"ST = {v['index']} ({pct} CI {v['ci_low']} to {v['ci_high']};"
                what += f" seed noise {v['seed_noise']})"
            words = parameter_words(r.parameter)
            out.append(
                f"{k.label}: {parameter_name(r.parameter)} ({f'{words}; ' if words else ''}"
                f"{r.parameter} from {r.low:g} to {r.high:g}) {size}{most}: {what}, {_times(r)}."
            )
    return out


_SHOWN = ("index", "ci_low", "ci_high", "seed_noise")


def chart(table: pd.DataFrame, method: str, png: Path) -> Path:
    """Draw :func:`figure` and save it as ``png`` (claimed as the project's first)."""
    import matplotlib as mpl

    from analysis.charts.common import DPI, STYLE
    from sim.folders import claim

    with mpl.rc_context(STYLE):
        fig = figure(table, method)
        claim(png.parent, [png.name])
        fig.savefig(png, dpi=DPI, bbox_inches="tight", pad_inches=0.25)
    return png


def figure(table: pd.DataFrame, method: str):
    """Bars of each parameter's index with its simultaneous interval, one panel per KPI (in its
    display units, labelled at the runs' horizon), each parameter's seed noise marked, the
    parameters in words, and a legend for every kind of mark; the Figure (Agg, no pyplot)."""
    import matplotlib as mpl
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from analysis.charts.common import BAD, NEUTRAL, PALETTE, STYLE, new_figure

    kpis, labels = kpis_of(table), list(pd.unique(table["kpi"]))
    names = list(pd.unique(table["parameter"]))
    ticks = [_tick(q) for q in names]
    lines = sum(t.count("\n") + 1 for t in ticks)
    pct = f"{table_level(table):.2%}"
    matters, inert, noise = PALETTE[0], "#BBBBBB", BAD
    title = (
        f"{method.capitalize()} sensitivity over {months_of(table)} months: which parameters move"
        " each KPI beyond their seed noise"
    )
    with mpl.rc_context(STYLE):
        fig, axes = new_figure(
            5.2 * len(labels) + 4.5, 0.42 * lines + 4.2, title, ncols=len(labels), sharey=True
        )
        for ax, kpi in zip(axes[0], labels, strict=True):
            rows = table[table["kpi"] == kpi].set_index("parameter").loc[names]
            k = kpis[kpi]
            scale = k.scale if method == "morris" else 1.0
            err = np.clip(
                [rows["index"] - rows["ci_low"], rows["ci_high"] - rows["index"]], 0, None
            )
            at = np.arange(len(names))
            colours = [matters if m else inert for m in rows["matters"]]
            ax.barh(at, rows["index"] * scale, color=colours, height=0.6, zorder=2)
            ax.errorbar(
                rows["index"] * scale,
                at,
                xerr=err * scale,
                fmt="none",
                ecolor=NEUTRAL,
                elinewidth=1.8,
                capsize=5,
                zorder=3,
            )
            ax.scatter(
                rows["seed_noise"] * scale, at, marker="|", s=500, lw=3, color=noise, zorder=4
            )
            ax.set_title(k.label)
            unit = k.unit_label(delta=True) if method == "morris" else ""
            ax.set_xlabel(f"{AXIS[method]}{f' ({unit})' if unit else ''}")
            ax.set_yticks(at, ticks)
            ax.set_xlim(left=0)
            ax.grid(axis="y", visible=False)
        axes[0, 0].invert_yaxis()
        handles = [
            Patch(color=matters, label=f"{index_words(method)}: matters (above its seed noise)"),
            Patch(color=inert, label=f"{index_words(method)}: not above its seed noise"),
            Line2D(
                [], [], color=NEUTRAL, marker="|", ms=14, lw=1.8, label=f"simultaneous {pct} CI"
            ),
            Line2D(
                [],
                [],
                color=noise,
                marker="|",
                ms=22,
                mew=3,
                ls="",
                label=f"seed noise: the {INDEX[method]} the seeds alone give ({pct} quantile)",
            ),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncol=2)
    return fig


def _tick(key: str, width: int = 40) -> str:
    """A parameter's name on the chart's axis, its words below (wrapped)."""
    name = parameter_name(key)
    words = parameter_words(key)
    below = textwrap.wrap(f"({words})", width) if words else []
    return "\n".join([name[:1].upper() + name[1:], *below])


def write(root: Path, table: pd.DataFrame, record: dict) -> None:
    """``sensitivity.csv``, ``sensitivity.json`` (settings, provenance) and the chart."""
    from sim.provenance import code_version

    table.to_csv(root / CSV, index=False)
    record = record | {"sentences": sentences(table, record["method"]), **code_version()}
    (root / JSON).write_text(json.dumps(record, indent=2, default=str))
    chart(table, record["method"], root / "figures" / PNG)


def text_table(columns: list[str], rows: list[list[str]], numeric: set[int]) -> list[str]:
    """Cells already formatted, as aligned lines: numbers (the columns ``numeric``) to the
    right, words to the left, two spaces between columns."""
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(columns), *map(line, rows)]


def console(table: pd.DataFrame) -> str:
    """The table as the command prints it: a block per KPI, labelled at the runs' horizon, its
    indices in the KPI's display units (``sim.kpis``), the parameters in words with their keys
    listed below; then the level and one sentence per parameter that matters."""
    method = "morris" if "mu" in table else "sobol"
    kpis = kpis_of(table)
    pct = f"{table_level(table):.2%}"
    lines = []
    for kpi, rows in table.groupby("kpi", sort=False):
        k = kpis[kpi]
        digits = _digits(rows, k)
        unit = k.unit_label(delta=True) if method == "morris" else ""
        lines += ["", f"{k.label}: {index_words(method)}{f', in {unit}' if unit else ''}"]
        columns = ["Parameter", "Range", INDEX[method], f"{pct} CI", "Seed noise", "p-value"]
        rows_text = [
            [
                parameter_name(r.parameter),
                f"{r.low:g} to {r.high:g}",
                _value(r.index, k, digits, method),
                f"{_value(r.ci_low, k, digits, method)} to {_value(r.ci_high, k, digits, method)}",
                _value(r.seed_noise, k, digits, method),
                f"{r.p_value:.2g}",
                "yes" if r.matters else "no",
            ]
            for r in rows.itertuples()
        ]
        lines += text_table([*columns, "Matters"], rows_text, numeric={2, 3, 4, 5})
    names = list(pd.unique(table["parameter"]))
    lines += ["", "Parameters:"]
    for q in names:
        words = parameter_words(q)
        lines += wrap(f"{parameter_name(q)}: {q}" + (f", {words}" if words else ""), "  ")
    lines += wrap(
        f"Intervals and seed noise at {pct} each (5% over {counted(len(names), 'parameter')} x"
        f" {counted(table['kpi'].nunique(), 'KPI')}). Seed noise: the {INDEX[method]} the seeds"
        " alone give a parameter with no effect; a parameter matters when its"
        f" {INDEX[method]} is above it."
    )
    said = sentences(table, method) or ["No parameter matters."]
    return "\n".join([*lines, "", *(line for text in said for line in wrap(text))])


WIDTH = 100  # the console's paragraphs wrap here, as the comparison's do


def wrap(text: str, first: str = "") -> list[str]:
    """A paragraph as console lines (``first`` before it, its width indenting the rest)."""
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=first,
        subsequent_indent=" " * (len(first) + 2 * bool(first)),
        break_on_hyphens=False,
    )
