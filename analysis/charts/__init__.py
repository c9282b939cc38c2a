"""Charts of an experiment's stored results, for reports and slides.

``draw_all(results, tables, out_dir)`` draws every chart the store supports (``tables`` is what
``analysis.report.report`` returns) and saves each as PNG and SVG. One style throughout: large
fonts and thick lines for projection, the Okabe-Ito colour-blind-safe palette, the baseline in
black and every other arm in the same colour (and line style) in every figure, assigned in the
experiment's order of arms; rates in % (differences in percentage points), money in CNY M.
Figures are drawn on the Agg canvas without pyplot, so nothing global is touched.
"""

from __future__ import annotations

import itertools
import math
import textwrap
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import yaml
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from scipy import stats as sps

from experiments import store
from sim.kpis import REGISTRY
from analysis.stats import BETTER, NEGLIGIBLE, UNDECIDED, WORSE
from sim.config import TIERS

BASELINE_COLOUR = "#000000"
PALETTE = (
    *("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9"),  # Okabe-Ito
    *("#332288", "#882255", "#44AA99", "#999933"),  # Paul Tol's, for the 7th to 10th arm
    "#F0E442",  # Okabe-Ito yellow last: it is the hardest to see on white
)
"""Arm colours after the baseline's black; past the 11th arm they repeat with other dashes."""
DASHES = ("-", "--", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
GOOD, BAD, NEUTRAL = "#009E73", "#D55E00", "#444444"
MAX_ARMS = 6  # non-baseline arms overlaid in one axes; more are ranked by effect
DPI = 160
STYLE = {
    "font.size": 15,
    "axes.titlesize": 17,
    "axes.titleweight": "bold",
    "axes.labelsize": 15,
    "xtick.labelsize": 13,
    "ytick.labelsize": 13,
    "legend.fontsize": 13,
    "legend.title_fontsize": 13,
    "legend.frameon": False,
    "figure.titlesize": 21,
    "figure.titleweight": "bold",
    "lines.linewidth": 2.8,
    "lines.markersize": 8,
    "axes.linewidth": 1.2,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.8,
    "svg.fonttype": "none",
}
FOREST_KPIS = ("retention_horizon", "retention_mid_high", "profit", "npv")
SWEEP_KPIS = ("retention_horizon", "npv")
DETECTED = (BETTER, WORSE)
"""Verdicts that found a difference worth acting on: filled dots and starred cells."""
VERDICT_SCORE = {BETTER: 1, NEGLIGIBLE: 0, UNDECIDED: 0, WORSE: -1}
"""How an arm ranks by a verdict, when choosing the arm of the single-arm charts."""


@dataclass
class Chart:
    """A saved chart; ``figure`` is its matplotlib Figure (not registered with pyplot)."""

    name: str  # file stem
    title: str
    caption: str  # one line saying what to read from the chart
    png: Path
    svg: Path
    figure: Figure | None = field(default=None, repr=False, compare=False)


@dataclass
class Style:
    colour: str
    dash: str
    marker: str


def arm_styles(arms: list[str], baseline: str) -> dict[str, Style]:
    """Colour, dash and marker of every arm: black for the baseline, then Okabe-Ito in order."""
    others = [a for a in arms if a != baseline]
    styles = {baseline: Style(BASELINE_COLOUR, "-", "o")}
    for i, arm in enumerate(others):
        k = len(PALETTE)
        styles[arm] = Style(PALETTE[i % k], DASHES[i // k % 3], MARKERS[i % len(MARKERS)])
    return styles


def draw_all(
    results: Path, tables: dict[str, pd.DataFrame], out_dir: Path, arm: str | None = None
) -> list[Chart]:
    """Draw and save every chart the stored results support, in reading order.

    ``arm`` picks the arm of the single-arm charts (ledger waterfall, branch map); by default the
    arm (and, in a sweep, the point) with the best retention verdict, else the first arm after
    the baseline; the map prefers an arm that closed branches.
    """
    results, out_dir = Path(results), Path(out_dir)
    data = _Data(results, tables or {}, arm)
    if data.runs.empty:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    charts = []
    with mpl.rc_context(STYLE):
        for draw in CHARTS:
            for drawn in draw(data):
                charts.append(_save(drawn, out_dir))
    return charts


def chosen(results: Path, tables: dict[str, pd.DataFrame], arm: str | None = None):
    """(arm, point) of the single-arm charts, as ``draw_all`` picks them."""
    data = _Data(Path(results), tables or {}, arm)
    if data.runs.empty:
        raise ValueError(f"no runs stored in {results}")
    return data.arm, data.point


# --------------------------------------------------------------------------------------------
# The data behind the charts
# --------------------------------------------------------------------------------------------


class _Data:
    """Stored runs, the report's tables, arm order and styles, and the chosen arm and point."""

    def __init__(self, results: Path, tables: dict[str, pd.DataFrame], arm: str | None):
        self.results, self.tables = results, tables
        self.meta = store.experiment_meta(results)
        experiment = self.meta.get("experiment", {})
        runs = store.load(results)
        self.runs = runs[runs["status"] == "ok"] if not runs.empty else runs
        if self.runs.empty:
            return
        self.baseline = experiment.get("baseline", "baseline")
        present = list(pd.unique(self.runs["arm"]))
        listed = [a for a in experiment.get("arms", {}) if a in present]
        self.arms = listed + [a for a in present if a not in listed]
        self.styles = arm_styles(self.arms, self.baseline)
        self.points = list(pd.unique(self.runs["point"]))
        self.grid = {k: list(v) for k, v in (experiment.get("grid") or {}).items()}
        sample = experiment.get("sample") or {}
        self.sampled = list(sample.get("ranges") or {}) if sample.get("method") != "none" else []
        self.arm, self.point = self._select(arm)
        self.arm_given = arm is not None

    def _select(self, arm: str | None) -> tuple[str, str]:
        """The chosen arm (best retention verdict, else the first after the baseline) and its
        point (its best verdicts: retention first, then profit, then the retention gain)."""
        if arm is not None and arm not in self.arms:
            raise ValueError(f"arm {arm!r} is not in the results; arms: {self.arms}")
        others = [a for a in self.arms if a != self.baseline]
        ranked = self._ranked_verdicts()
        if arm is None:
            better = ranked[ranked["r"] > 0]
            arm = better["arm"].iloc[0] if len(better) else (others or [self.baseline])[0]
        mine = ranked[ranked["arm"] == arm]
        if len(mine):
            return arm, mine["point"].iloc[0]
        return arm, self.runs.loc[self.runs["arm"] == arm, "point"].iloc[0]

    def _ranked_verdicts(self) -> pd.DataFrame:
        v = self.tables.get("verdicts")
        if v is None or v.empty:
            return pd.DataFrame(columns=["arm", "point", "r"])
        ranked = v.assign(
            r=v["retention_verdict"].map(VERDICT_SCORE).fillna(0),
            p=v["profit_verdict"].map(VERDICT_SCORE).fillna(0),
            d=v["retention_diff"].fillna(-np.inf),
        )
        return ranked.sort_values(["r", "p", "d"], ascending=False, kind="stable")

    @cached_property
    def ts(self) -> pd.DataFrame:
        """Monthly time series of the chosen point's runs."""
        return store.load_timeseries(self.results, self.runs[self.runs["point"] == self.point])

    @property
    def multi_point(self) -> bool:
        return len(self.points) > 1

    def at_point(self) -> str:
        """Title suffix naming the chosen point of a sweep."""
        return f" at {short_point(self.point)}" if self.multi_point else ""

    def label(self, arm: str, point: str) -> str:
        """Row label of an (arm, point): the arm, and the point when there are several."""
        many_arms = len([a for a in self.arms if a != self.baseline]) > 1
        parts = [arm] if many_arms or arm == self.baseline or not self.multi_point else []
        if self.multi_point and arm != self.baseline:
            parts.append(short_point(point))
        return " · ".join(parts)

    def shown(self, kpi: str) -> tuple[list[str], str, str]:
        """The arms overlaid in one axes at the chosen point: the baseline and up to MAX_ARMS
        others (those with the largest |difference| in ``kpi`` when there are more), a caption
        note and a legend title saying so."""
        here = set(self.ts["arm"]) if not self.ts.empty else set()
        others = [a for a in self.arms if a != self.baseline and a in here]
        base = [self.baseline] if self.baseline in here else []
        if len(others) <= MAX_ARMS:
            return base + others, "", "Arm"
        diffs = self.tables.get("differences")
        keep, why = others[:MAX_ARMS], "the first in the experiment."
        if diffs is not None:
            rows = diffs[(diffs["point"] == self.point) & (diffs["kpi"] == kpi)]
            size = rows.set_index("arm")["mean_diff"].abs().reindex(others).fillna(0)
            keep = list(size.sort_values(ascending=False, kind="stable").index[:MAX_ARMS])
            why = f"the largest {kpi_name(kpi).lower()} changes; every arm is in the forest plot."
        shown = f"{MAX_ARMS} of {len(others)} arms"
        note = f" {shown} shown: {why}"
        return base + [a for a in others if a in keep], note, f"Arm ({shown})"


# --------------------------------------------------------------------------------------------
# Shared helpers: figures, saving, units, bands and labels
# --------------------------------------------------------------------------------------------


@dataclass
class _Drawn:
    name: str
    title: str
    caption: str
    figure: Figure


def _figure(width: float, height: float, title: str, **subplots) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(squeeze=False, **subplots)
    fig.suptitle(textwrap.fill(title, 64))
    return fig, axes


def _save(drawn: _Drawn, out_dir: Path) -> Chart:
    png, svg = out_dir / f"{drawn.name}.png", out_dir / f"{drawn.name}.svg"
    for path in (png, svg):
        drawn.figure.savefig(path, dpi=DPI, bbox_inches="tight", pad_inches=0.25)
    return Chart(drawn.name, drawn.title, drawn.caption, png, svg, drawn.figure)


def kpi_name(kpi: str) -> str:
    return REGISTRY[kpi].label


def kpi_axis(kpi: str, delta: bool) -> tuple[str, float]:
    """Axis label with its unit, and the factor from stored values (shares, CNY) to it."""
    return REGISTRY[kpi].axis(delta), REGISTRY[kpi].scale


def signed(value: float, digits: int = 1) -> str:
    return f"{value:+,.{digits}f}".replace("-", "−")


def compact(value) -> str:
    """1000000.0 → 1M, 2500.0 → 2.5k, 3 → 3; text stays text."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"{x / size:g}{suffix}"
    return f"{x:g}"


def point_values(point: str) -> dict[str, str]:
    """``"a.b=1,c.d=2.0"`` → {"a.b": "1", "c.d": "2.0"}."""
    return dict(p.partition("=")[::2] for p in point.split(",")) if point else {}


def key_label(key: str) -> str:
    """``strategy.outlet_closure.count`` → ``outlet closure: count``."""
    parts = key.removeprefix("strategy.").split(".")
    return ": ".join(p.replace("_", " ") for p in parts[-2:])


def short_point(point: str) -> str:
    """``strategy.outlet_closure.count=3,...budget=1000000.0`` → ``count=3, budget=1M``."""
    return ", ".join(f"{k.rsplit('.', 1)[-1]}={compact(v)}" for k, v in point_values(point).items())


def t_band(matrix: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% Student-t interval across the columns (seeds) of each row; NaN for n < 2."""
    n = matrix.count(axis=1)
    mean, sd = matrix.mean(axis=1), matrix.std(axis=1, ddof=1)
    half = sps.t.ppf(0.975, np.maximum(n - 1, 1)) * sd / np.sqrt(n)
    half = half.where(n >= 2)
    return pd.DataFrame({"mean": mean, "low": mean - half, "high": mean + half, "n": n})


def draw_band(ax, band: pd.DataFrame, style: Style, label: str, alpha: float = 0.15) -> None:
    ax.plot(band.index, band["mean"], color=style.colour, ls=style.dash, label=label)
    ax.fill_between(
        band.index, band["low"], band["high"], color=style.colour, alpha=alpha, lw=0, zorder=1
    )


def text_colour(colour: str) -> str:
    """Readable text in an arm's colour: the yellow is darkened."""
    return "#8A7D00" if colour == "#F0E442" else colour


def legend_right(ax, **kwargs) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, **kwargs)


def seed_matrix(ts: pd.DataFrame, arm: str, column: str, cumulative=False, scale=1.0):
    """Month × seed values of one arm (month 0: the start, retention 100% or nothing yet)."""
    m = ts[ts["arm"] == arm].pivot_table(index="month", columns="seed", values=column)
    m = (m.cumsum() if cumulative else m) * scale
    m.loc[0] = 0.0 if cumulative else scale
    return m.sort_index()


# --------------------------------------------------------------------------------------------
# 1-2. Retention and cumulative profit over time
# --------------------------------------------------------------------------------------------


def _over_time(d: _Data, name: str, title: str, column: str, kpi: str, what: str, money: bool):
    if d.ts.empty or column not in d.ts:
        return
    arms, note, legend = d.shown(kpi)
    title += d.at_point()
    scale, unit = REGISTRY[kpi].scale, REGISTRY[kpi].unit_label()
    rows = 2 if arms[:1] == [d.baseline] and len(arms) > 1 else 1
    ratios = {"height_ratios": [3, 2]} if rows == 2 else {}
    fig, axes = _figure(
        14,
        9.5 if rows == 2 else 7,
        title,
        nrows=rows,
        sharex=True,
        gridspec_kw=ratios,
    )
    top = axes[0, 0]
    matrices = {a: seed_matrix(d.ts, a, column, cumulative=money, scale=scale) for a in arms}
    for a in arms:
        draw_band(top, t_band(matrices[a]), d.styles[a], a, alpha=0.3 / max(len(arms), 2))
    top.set_ylabel(f"{what} ({unit})")
    legend_right(top, title=legend)
    if rows == 2:
        bottom = axes[1, 0]
        base = matrices[d.baseline]
        for a in arms[1:]:
            draw_band(bottom, t_band(matrices[a] - base), d.styles[a], a)
        bottom.axhline(0, color=BASELINE_COLOUR, lw=1.5)
        bottom.set_ylabel(f"vs baseline ({REGISTRY[kpi].unit_label(delta=True)})")
    axes[-1, 0].set_xlabel("Month of the measured period")
    axes[-1, 0].set_xlim(0, max(matrices[arms[0]].index))
    n = int(d.ts.groupby("arm")["seed"].nunique().min())
    caption = (
        f"{what} by arm: mean of {n} seeds with 95% t-bands"
        + ("; lower panel: paired difference from the baseline." if rows == 2 else ".")
        + note
    )
    yield _Drawn(name, title, caption, fig)


def retention_over_time(d: _Data):
    yield from _over_time(
        d,
        "retention_over_time",
        "Customer retention over time",
        "retention",
        "retention_horizon",
        "Starting customers still with the bank",
        money=False,
    )


def profit_over_time(d: _Data):
    yield from _over_time(
        d,
        "cumulative_profit",
        "Cumulative profit over time",
        "profit",
        "profit",
        "Cumulative profit",
        money=True,
    )


# --------------------------------------------------------------------------------------------
# 3. Retention vs NPV, with the Pareto front
# --------------------------------------------------------------------------------------------


def pareto_front(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mask of the points no other point beats on both (higher is better on both axes)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    better = (x[None, :] >= x[:, None]) & (y[None, :] >= y[:, None])
    strictly = (x[None, :] > x[:, None]) | (y[None, :] > y[:, None])
    return ~(better & strictly).any(axis=1)


def tradeoff(d: _Data):
    summary = d.tables.get("summary")
    cols = [f"{k}{c}" for k in ("retention_horizon", "npv") for c in ("", "_ci_low", "_ci_high")]
    if summary is None or not set(cols) <= set(summary.columns):
        return
    # identical results (e.g. the baseline at every grid point) are one point
    s = summary.dropna(subset=[cols[0], cols[3]]).drop_duplicates([cols[0], cols[3]])
    if len(s) < 2:
        return
    r = s[cols[:3]].to_numpy() * REGISTRY["retention_horizon"].scale
    n = s[cols[3:]].to_numpy() * REGISTRY["npv"].scale
    title = "Retention vs NPV: the trade-off between arms"
    fig, axes = _figure(14, 9, title)
    ax = axes[0, 0]
    for i, arm in enumerate(s["arm"]):
        st = d.styles[arm]
        ax.errorbar(
            r[i, 0],
            n[i, 0],
            xerr=[[r[i, 0] - r[i, 1]], [r[i, 2] - r[i, 0]]],
            yerr=[[n[i, 0] - n[i, 1]], [n[i, 2] - n[i, 0]]],
            color=st.colour,
            lw=1.4,
            alpha=0.45,
            capsize=3,
            ls="none",
            zorder=2,
        )
        ax.plot(
            r[i, 0],
            n[i, 0],
            marker=st.marker,
            color=st.colour,
            ms=13,
            mec="white",
            mew=1.5,
            ls="",
            zorder=4,
            label=arm,
        )
    front = pareto_front(r[:, 0], n[:, 0])
    order = np.argsort(r[front, 0])
    ax.plot(
        r[front, 0][order],
        n[front, 0][order],
        color=NEUTRAL,
        ls="--",
        lw=2,
        zorder=3,
        label="Pareto front",
    )
    ax.scatter(
        r[front, 0], n[front, 0], s=480, facecolors="none", edgecolors=NEUTRAL, lw=2, zorder=5
    )
    ax.set_xlabel("Retention at horizon (% of starting customers)")
    ax.set_ylabel("NPV of profit (CNY M)")
    labels = [
        d.label(a, p) + (" ★" if f else "")
        for a, p, f in zip(s["arm"], s["point"], front, strict=True)
    ]
    label_points(ax, r[:, 0], n[:, 0], labels, [d.styles[a].colour for a in s["arm"]])
    handles = [
        Line2D(
            [],
            [],
            color=NEUTRAL,
            ls="--",
            marker="o",
            mfc="none",
            ms=16,
            lw=2,
            label="Pareto front (★): no other arm has both higher",
        )
    ]
    if d.multi_point:
        handles += [
            Line2D(
                [], [], color=d.styles[a].colour, marker=d.styles[a].marker, ls="", ms=12, label=a
            )
            for a in pd.unique(s["arm"])
        ]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 3))
    caption = (
        "Mean retention and NPV of each arm with 95% CIs on both axes; arms on the dashed "
        "Pareto front (★) are not beaten on both by any other arm."
    )
    yield _Drawn("retention_vs_npv", title, caption, fig)


def label_points(ax, x, y, labels, colours) -> None:
    """Labels beside their points (left of those near the right edge), pushed apart vertically
    where they would overlap, with thin leaders."""
    ax.autoscale_view()
    ax.set_xlim(*ax.get_xlim())
    ax.set_ylim(*ax.get_ylim())
    fx, fy = (ax.transData + ax.transAxes.inverted()).transform(np.column_stack([x, y])).T
    texts = []
    for i, text in enumerate(labels):
        right = fx[i] < 0.8
        texts.append(
            ax.annotate(
                text,
                (x[i], y[i]),
                xytext=(fx[i] + (0.025 if right else -0.025), fy[i]),
                textcoords="axes fraction",
                ha="left" if right else "right",
                va="center",
                color=text_colour(colours[i]),
                fontsize=13,
                annotation_clip=False,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
                arrowprops={
                    "arrowstyle": "-",
                    "color": colours[i],
                    "lw": 0.9,
                    "alpha": 0.7,
                    "shrinkA": 2,
                    "shrinkB": 9,
                },
            )
        )
    repel(ax, texts)


def repel(ax, texts: list, pad: float = 1.25, steps: int = 400) -> None:
    """Move annotations (placed in axes fraction) apart vertically until none overlap."""
    renderer = ax.figure.canvas.get_renderer()
    boxes = [
        ax.transAxes.inverted().transform_bbox(Text.get_window_extent(t, renderer)) for t in texts
    ]
    x0, x1 = np.array([b.x0 for b in boxes]), np.array([b.x1 for b in boxes])
    height = max(b.height for b in boxes) * pad
    y = np.array([t.xyann[1] for t in texts], float)
    for _ in range(steps):
        moved = False
        for i, j in itertools.combinations(range(len(texts)), 2):
            gap = y[j] - y[i]
            if x0[i] < x1[j] and x0[j] < x1[i] and abs(gap) < height:
                push = (height - abs(gap)) / 2 + 1e-4
                up = gap > 0 or (gap == 0 and j > i)  # j goes up, i down
                y[j] += push if up else -push
                y[i] -= push if up else -push
                moved = True
        if not moved:
            break
    for t, yi in zip(texts, y, strict=True):
        t.xyann = (t.xyann[0], yi)


# --------------------------------------------------------------------------------------------
# 4. Forest plot of paired differences
# --------------------------------------------------------------------------------------------


def forest(d: _Data):
    diffs = d.tables.get("differences")
    if diffs is None or diffs.empty:
        return
    kpis = [k for k in FOREST_KPIS if k in set(diffs["kpi"])]
    rows = diffs[["point", "arm"]].drop_duplicates().reset_index(drop=True)
    if not kpis or rows.empty:
        return
    title = "Differences from the baseline (paired on seeds, simultaneous 95% CIs)"
    ncols = min(len(kpis), 2)
    nrows = math.ceil(len(kpis) / ncols)
    fig, axes = _figure(
        16, 1.2 + nrows * (1.1 + 0.45 * len(rows)), title, nrows=nrows, ncols=ncols, sharey=True
    )
    ypos = np.arange(len(rows))[::-1]
    for ax, kpi in zip(axes.flat, kpis, strict=False):
        label, scale = kpi_axis(kpi, delta=True)
        k = rows.merge(diffs[diffs["kpi"] == kpi], on=["point", "arm"], how="left")
        for i, r in k.iterrows():
            st = d.styles[r["arm"]]
            mean, low, high = r["mean_diff"] * scale, r["ci_low"] * scale, r["ci_high"] * scale
            smallest = r["smallest_effect"] * scale
            y = [ypos[i] - 0.4, ypos[i] + 0.4]
            ax.fill_betweenx(y, -smallest, smallest, color=NEUTRAL, alpha=0.15, lw=0)
            ax.errorbar(
                mean,
                ypos[i],
                xerr=[[mean - low], [high - mean]],
                color=st.colour,
                marker="o",
                ms=12,
                lw=2.6,
                capsize=4,
                mew=2.4,
                mfc=st.colour if r["verdict"] in DETECTED else "white",
                label=r["arm"],
            )
        ax.axvline(0, color=BASELINE_COLOUR, lw=1.5, ls="--")
        ax.set_title(kpi_name(kpi))
        ax.set_xlabel(label)
        ax.grid(axis="y", visible=False)
        ax.set_yticks(
            ypos, [d.label(a, p) for a, p in zip(rows["arm"], rows["point"], strict=True)]
        )
    for ax in axes.flat[len(kpis) :]:
        ax.set_visible(False)
    marker = {"color": NEUTRAL, "marker": "o", "ms": 12, "mew": 2.4, "lw": 2.6}
    handles = [
        Line2D([], [], **marker, label="better or worse"),
        Line2D([], [], **marker, mfc="white", label="negligible or undecided"),
        Patch(color=NEUTRAL, alpha=0.15, label="± smallest effect worth acting on"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3)
    n = int(diffs["n"].max())
    caption = (
        f"Mean arm − baseline difference over {n} paired seeds with its simultaneous 95% CI."
        " Grey: ± the smallest effect worth acting on; an interval inside it is negligible. A"
        " filled dot is better or worse: its interval excludes 0, its mean is outside the grey."
    )
    yield _Drawn("differences_forest", title, caption, fig)


# --------------------------------------------------------------------------------------------
# 8. Sweeps over grid or sampled parameters
# --------------------------------------------------------------------------------------------


def _sweep_table(d: _Data) -> tuple[pd.DataFrame, bool] | None:
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


def sweep_heatmap(d: _Data):
    table = _sweep_table(d)
    if table is None or len(d.grid) != 2:
        return
    t, delta = table
    xkey, ykey = sorted(d.grid, key=lambda k: -len(d.grid[k]))
    values = t.groupby("arm", sort=False)["value"].nunique()
    arms = [a for a in d.arms if values.get(a, 0) > 1]  # the arms the grid moves
    for arm in arms:
        title = f"{arm}: {'difference from baseline' if delta else 'means'} over the grid"
        name = "sweep_heatmap" + ("" if len(arms) == 1 else f"_{arm}")
        fig, axes = _figure(16, 7, title, ncols=len(SWEEP_KPIS))
        for ax, kpi in zip(axes[0], SWEEP_KPIS, strict=True):
            _heatmap(ax, t[(t["arm"] == arm) & (t["kpi"] == kpi)], xkey, ykey, kpi, delta)
        caption = (
            f"{'Paired difference from the baseline' if delta else 'Mean'} of each KPI at "
            f"every grid point for {arm}; * marks a better or worse verdict."
        )
        yield _Drawn(name, title, caption, fig)


def _heatmap(ax, t: pd.DataFrame, xkey: str, ykey: str, kpi: str, delta: bool) -> None:
    label, scale = kpi_axis(kpi, delta)
    values = t.pivot_table(index=ykey, columns=xkey, values="value") * scale
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
                (signed(v) if delta else f"{v:,.1f}") + star,
                ha="center",
                va="center",
                fontsize=14,
                color="white" if dark else "black",
            )
    ax.set_xticks(range(values.shape[1]), [compact(v) for v in values.columns])
    ax.set_yticks(range(values.shape[0]), [compact(v) for v in values.index])
    ax.set_xlabel(key_label(xkey))
    ax.set_ylabel(key_label(ykey))
    ax.set_title(kpi_name(kpi))
    ax.grid(False)
    ax.figure.colorbar(image, ax=ax, label=label)


def sweep_lines(d: _Data):
    table = _sweep_table(d)
    if table is None or len(d.grid) > 2:
        return
    t, delta = table
    numeric = [k for k in (d.grid or d.sampled) if pd.api.types.is_numeric_dtype(t[k])]
    if not numeric:
        return
    if d.grid:
        xkey = max(numeric, key=lambda k: len(d.grid[k]))
        columns, slices = [xkey], [k for k in d.grid if k != xkey]
    else:
        columns, slices = d.sampled, []
    arms = [a for a in d.arms if a in set(t["arm"]) and (a != d.baseline or not delta)]
    what = "Difference from the baseline" if delta else "Arm means"
    where = key_label(columns[0]) if d.grid else "the sampled parameters"
    who = f"{arms[0]} vs baseline" if len(arms) == 1 and delta else what
    title = f"{who} across {where}"
    fig, axes = _figure(
        6.5 * len(columns) + 6, 10, title, nrows=len(SWEEP_KPIS), ncols=len(columns), sharex="col"
    )
    for row, kpi in enumerate(SWEEP_KPIS):
        label, scale = kpi_axis(kpi, delta)
        for col, xkey in enumerate(columns):
            ax = axes[row, col]
            for arm in arms:
                rows = t[(t["arm"] == arm) & (t["kpi"] == kpi)]
                _sweep_series(
                    ax,
                    rows,
                    xkey,
                    slices,
                    d.styles[arm],
                    arm if len(arms) > 1 else "",
                    scale,
                    band=bool(d.grid),
                )
            if delta:
                ax.axhline(0, color=BASELINE_COLOUR, lw=1.5, ls="--")
            ax.set_ylabel(label if col == 0 else "")
            axes[-1, col].set_xlabel(key_label(xkey))
            if d.grid and t[xkey].notna().all():
                ax.set_xticks(sorted(t[xkey].unique()))
            ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: compact(v)))
    if axes[0, -1].get_legend_handles_labels()[0]:
        legend_right(axes[0, -1], title=key_label(slices[0]) if slices else "Arm")
    caption = f"{what} in each KPI against " + (
        "the swept parameter, one line per value of the other, with 95% CI bands."
        if d.grid
        else "each sampled parameter (the others vary too), with 95% CIs."
    )
    yield _Drawn("sweep_lines", title, caption, fig)


def _sweep_series(ax, t, xkey, slices, style: Style, prefix: str, scale: float, band: bool):
    """Grid: a line with a 95% band per value of the slicing key (at most 4). Sample: points
    with 95% error bars (the other sampled parameters vary along x too)."""
    groups = list(t.groupby(slices[0], sort=True)) if slices else [(None, t)]
    if len(groups) > 4:
        groups = [groups[i] for i in np.linspace(0, len(groups) - 1, 4).round().astype(int)]
    for k, (value, g) in enumerate(groups):
        g = g.sort_values(xkey)
        parts = [prefix] * bool(prefix) + ([] if value is None else [compact(value)])
        label = " · ".join(parts) or None
        x, y = g[xkey], g["value"] * scale
        low, high = g["ci_low"] * scale, g["ci_high"] * scale
        if band:
            hollow = {"mfc": "white", "mew": 2} if k % 2 else {}  # coinciding lines stay visible
            ax.plot(
                x,
                y,
                color=style.colour,
                ls=DASHES[k % 3],
                marker=MARKERS[k],
                ms=10 + 2 * k,
                label=label,
                **hollow,
            )
            ax.fill_between(x, low, high, color=style.colour, alpha=0.12, lw=0)
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


# --------------------------------------------------------------------------------------------
# 5. Ledger waterfall: the chosen arm against the baseline
# --------------------------------------------------------------------------------------------


def ledger_lines(ts: pd.DataFrame) -> list[str]:
    return [c for c in ts.columns if c.startswith(("revenue_", "cost_"))]


def line_label(column: str) -> str:
    """``cost_lean_service.notification`` → ``Cost: lean service · notification``."""
    kind, _, rest = column.partition("_")
    return f"{kind.capitalize()}: " + rest.replace(".", " · ").replace("_", " ")


def waterfall(d: _Data, top: int = 9):
    if d.ts.empty or d.arm == d.baseline or d.baseline not in set(d.ts["arm"]):
        return
    lines = ledger_lines(d.ts)
    totals = d.ts.groupby(["arm", "seed"])[lines].sum().fillna(0.0)
    if d.arm not in totals.index.get_level_values(0):
        return
    diff = (totals.loc[d.arm] - totals.loc[d.baseline]).dropna().mean()  # paired on seeds
    revenue = np.array([c.startswith("revenue_") for c in diff.index])
    effect = diff.where(revenue, -diff) * 1e-6
    if not (effect.abs() > 1e-9).any():
        return
    big = effect.abs().sort_values(ascending=False, kind="stable")
    big = big[big >= 0.02 * big.iloc[0]].index[:top]
    shown = pd.concat(
        [
            effect[[c for c in big if c.startswith(p)]].sort_values(key=abs, ascending=False)
            for p in ("revenue_", "cost_")
        ]
    )
    rest = effect.drop(big).sum()
    if abs(rest) > 1e-9:
        shown["Other lines"] = rest
    profit = float(effect.sum())
    digits = 1 if effect.abs().max() >= 10 else 2
    title = f"Profit difference by ledger line: {d.arm} vs baseline{d.at_point()}"
    fig, axes = _figure(14, 2.5 + 0.62 * (len(shown) + 1), title)
    ax = axes[0, 0]
    starts = np.concatenate([[0.0], np.cumsum(shown.to_numpy())[:-1]])
    y = np.arange(len(shown) + 1)
    ax.barh(y[:-1], shown, left=starts, color=[GOOD if v >= 0 else BAD for v in shown], height=0.65)
    ax.barh(y[-1], profit, color=NEUTRAL, height=0.65)
    for yi, start, value in zip(y, [*starts, 0.0], [*shown, profit], strict=True):
        ax.text(max(start, start + value), yi, f"  {signed(value, digits)}", va="center")
    ax.axvline(0, color=BASELINE_COLOUR, lw=1.5)
    ax.set_yticks(
        y, [line_label(c) if c != "Other lines" else c for c in shown.index] + ["Profit difference"]
    )
    ax.invert_yaxis()
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(f"Effect on profit over {int(d.ts['month'].max())} months (CNY M)")
    edges = np.concatenate([[0.0, profit], starts, starts + shown.to_numpy()])
    span = edges.max() - edges.min() or 1.0
    ax.set_xlim(edges.min() - 0.03 * span, edges.max() + 0.13 * span)
    handles = [
        Patch(color=GOOD, label="raises profit"),
        Patch(color=BAD, label="lowers profit"),
        Patch(color=NEUTRAL, label="profit difference"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3)
    caption = (
        f"Mean {d.arm} − baseline difference per ledger line over the measured period "
        "(more revenue or less cost raises profit), adding up to the profit difference."
    )
    yield _Drawn("ledger_waterfall", title, caption, fig)


# --------------------------------------------------------------------------------------------
# 6. Churn by segment and by tier
# --------------------------------------------------------------------------------------------


def attrition(ts: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    """Annual attrition (%) per run and group: exits / mean customers × 12 / months."""
    per_run = ts.groupby(["arm", "seed"])
    exits = per_run[[f"exits_{g}" for g in groups]].sum().to_numpy()
    customers = per_run[[f"customers_{g}" for g in groups]].mean().to_numpy()
    months = per_run["month"].count().to_numpy()[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(customers > 0, exits / customers * 12 / months * 100, np.nan)
    return pd.DataFrame(rate, index=per_run.size().index, columns=groups)


def churn(d: _Data):
    if d.ts.empty:
        return
    exits = [c.removeprefix("exits_") for c in d.ts.columns if c.startswith("exits_")]
    groups = [g for g in exits if f"customers_{g}" in d.ts]
    panels = [
        (name, members)
        for name, members in (
            ("By segment", [g for g in groups if g not in TIERS]),
            ("By tier", [t for t in TIERS if t in groups]),
        )
        if members
    ]
    if not panels:
        return
    arms, note, legend = d.shown("retention_horizon")
    title = "Annual attrition by segment and tier" + d.at_point()
    rows = max(len(m) for _, m in panels)
    fig, axes = _figure(15, 3 + 0.22 * len(arms) * rows, title, ncols=len(panels), sharex=True)
    half = min(0.36, 0.12 * (len(arms) - 1))
    offsets = np.linspace(half, -half, len(arms))  # the first arm on top
    right = 0.0
    for ax, (name, members) in zip(axes[0], panels, strict=True):
        rates = attrition(d.ts, members)
        y = np.arange(len(members))[::-1]
        for arm, off in zip(arms, offsets, strict=True):
            band, st = t_band(rates.loc[arm].T), d.styles[arm]
            ax.errorbar(
                band["mean"],
                y + off,
                xerr=[band["mean"] - band["low"], band["high"] - band["mean"]],
                color=st.colour,
                marker=st.marker,
                ls="",
                ms=9,
                capsize=3,
                lw=1.8,
                label=arm,
            )
        ax.set_yticks(y, [g.replace("_", " ").capitalize() for g in members])
        for sep in y[:-1] - 0.5:
            ax.axhline(sep, color="#cccccc", lw=0.8)
        ax.grid(axis="y", visible=False)
        ax.set_title(name)
        ax.set_xlabel("Annual attrition (% per year)")
        means = rates.groupby(level="arm").mean().to_numpy()
        right = max(right, np.nanmax(means) * 1.5)
    axes[0, 0].set_xlim(0, right)  # a CI from very few customers may run off the right edge
    legend_right(axes[0, -1], title=legend)
    n = int(d.ts.groupby("arm")["seed"].nunique().min())
    caption = (
        "Exits per year as a share of the group's mean customer count (newcomers "
        f"included), mean of {n} seeds with 95% CIs." + note
    )
    yield _Drawn("churn_by_segment_tier", title, caption, fig)


# --------------------------------------------------------------------------------------------
# 7. Branch map before and after
# --------------------------------------------------------------------------------------------

OUTCOMES = {"stayed": "#A0A0A0", "left": "#D55E00", "joined": "#0072B2"}
BRANCH_MARKERS = {  # state: (marker, colour, edge, size in points², legend size)
    "open branch": ("s", BASELINE_COLOUR, "white", 170, 13),
    "closed branch": ("X", BAD, "white", 380, 17),
    "new branch": ("*", "#F0E442", "black", 700, 24),
}


def _burn_in(d: _Data, run_id: str) -> int:
    if "burn_in" in d.meta:
        return int(d.meta["burn_in"])
    runs_dir = d.results / "runs" if (d.results / "runs").is_dir() else d.results
    return int(yaml.safe_load((runs_dir / run_id / "config.yaml").read_text()).get("burn_in", 0))


def _map_run(d: _Data) -> tuple[str, str, str, pd.DataFrame, pd.DataFrame] | None:
    """(arm, point, run id, panel, branches) of the map: the chosen arm and point first, then
    its other points, then (unless the arm was given) the other arms, the baseline last; the
    first whose first seed closed branches, else the first with a panel."""
    firsts = d.runs.sort_values("seed", kind="stable").drop_duplicates(["arm", "point"])
    if d.arm_given:
        firsts = firsts[firsts["arm"] == d.arm]
    rank = [
        (a == d.baseline, a != d.arm, p != d.point, d.arms.index(a))
        for a, p in zip(firsts["arm"], firsts["point"], strict=True)
    ]
    fallback = None
    for i in sorted(range(len(firsts)), key=rank.__getitem__):
        r = firsts.iloc[i]
        panel = store.load_run_table(d.results, r["run_id"], "panel")
        branches = store.load_run_table(d.results, r["run_id"], "branches")
        if panel is None or branches is None:
            continue
        found = (r["arm"], r["point"], r["run_id"], panel, branches)
        if branches["closed_month"].notna().any():
            return found
        fallback = fallback or found
    return fallback


def branch_map(d: _Data):
    found = _map_run(d)
    if found is None:
        return
    arm, point, run_id, panel, branches = found
    burn_in = _burn_in(d, run_id)  # panel months count from the start of burn-in
    joined, left = panel["joined_month"], panel["left_month"]
    still = left.isna().to_numpy()
    at_start = ((joined <= burn_in) & (left.isna() | (left > burn_in))).to_numpy(bool)
    # real customers: a panel row stands for its weight of them (1 in panels without weights)
    real = panel["weight"].to_numpy() if "weight" in panel else np.ones(len(panel))
    outcome = {
        "stayed": at_start & still,
        "left": at_start & ~still,
        "joined": (joined > burn_in).to_numpy() & still,
    }
    opened, closed = branches["opened_month"].fillna(0), branches["closed_month"]
    state = {
        "before": {"open branch": (opened <= 0) & ~(closed <= 0).fillna(False)},
        "after": {
            "open branch": closed.isna(),
            "closed branch": (closed > 0).fillna(False),
            "new branch": opened > 0,
        },
    }
    at = f" at {short_point(point)}" if d.multi_point else ""
    title = f"Customers and branches before and after: {arm}{at}"
    fig, axes = _figure(17, 9.5, title, ncols=2, sharex=True, sharey=True)
    months = int(d.ts["month"].max()) if not d.ts.empty else None
    panels = {
        "before": (axes[0, 0], ("stayed", "left"), "Before: customers at the start, by outcome"),
        "after": (
            axes[0, 1],
            ("stayed", "joined"),
            f"After: customers at the end{f' of month {months}' if months else ''}",
        ),
    }
    dot = float(np.clip(4e4 / len(panel), 4, 30))  # dots fill the map whatever the population
    alpha = float(np.clip(4e3 / len(panel), 0.35, 0.8))
    for key, (ax, shown, subtitle) in panels.items():
        for name in shown:
            m = outcome[name]
            ax.scatter(
                panel["home_x"][m],
                panel["home_y"][m],
                s=dot,
                alpha=alpha,
                lw=0,
                color=OUTCOMES[name],
                rasterized=True,
                zorder=1,
            )
        for name, mask in state[key].items():
            marker, colour, edge, size, _ = BRANCH_MARKERS[name]
            rows = branches[mask.to_numpy(bool)]
            ax.scatter(
                rows["x"],
                rows["y"],
                marker=marker,
                s=size,
                color=colour,
                edgecolors=edge,
                lw=1.5,
                zorder=3,
            )
        ax.set_aspect("equal")
        ax.set_xlabel("km")
        ax.set_title(subtitle, fontsize=15)
        ax.grid(False)
    axes[0, 0].set_ylabel("km")
    handles = [
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            ms=10,
            color=colour,
            label=f"{name} ({real[outcome[name]].sum():,.0f})",
        )
        for name, colour in OUTCOMES.items()
    ]
    present = {n for s in state.values() for n, m in s.items() if m.any()}
    handles += [
        Line2D([], [], ls="", marker=mk, ms=ms, color=c, mec=e, label=n)
        for n, (mk, c, e, _, ms) in BRANCH_MARKERS.items()
        if n in present
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles))
    caption = (
        f"Homes of {arm}'s customers in its first seed ({panel.shape[0]:,} simulated customers;"
        " the legend counts the real customers they stand for) by outcome over the measured"
        " period, with open, closed and new branches."
    )
    yield _Drawn("branch_map", title, caption, fig)


# --------------------------------------------------------------------------------------------
# 9. Client managers' skill
# --------------------------------------------------------------------------------------------

SKILL_STRATEGIES = {"mentoring", "training"}
QUANTILES = [f"manager_skill_p{q}" for q in (10, 25, 50, 75, 90)]


def manager_skill(d: _Data):
    if d.ts.empty or not set(QUANTILES) <= set(d.ts.columns):
        return
    strategies = d.runs.drop_duplicates("arm").set_index("arm")["strategies"].fillna("")
    here = set(d.ts["arm"])
    skilled = [a for a in d.arms if a in here and set(strategies[a].split(",")) & SKILL_STRATEGIES]
    if not skilled:
        return
    arms = ([d.baseline] if d.baseline in here else []) + skilled[:3]
    ncols = 2 if len(arms) == 4 else len(arms)
    nrows = math.ceil(len(arms) / ncols)
    title = "Client managers' skill over time" + d.at_point()
    fig, axes = _figure(
        5.5 * ncols + 3, 1 + 5.5 * nrows, title, nrows=nrows, ncols=ncols, sharey=True, sharex=True
    )
    mean = d.ts.groupby(["arm", "month"])[QUANTILES].mean()
    for ax, arm in zip(axes.flat, arms, strict=True):
        m, colour = mean.loc[arm], d.styles[arm].colour
        ax.fill_between(m.index, m[QUANTILES[0]], m[QUANTILES[4]], color=colour, alpha=0.15, lw=0)
        ax.fill_between(m.index, m[QUANTILES[1]], m[QUANTILES[3]], color=colour, alpha=0.3, lw=0)
        ax.plot(m.index, m[QUANTILES[2]], color=colour)
        if arm != d.baseline and d.baseline in arms:
            base = mean.loc[d.baseline]
            ax.plot(base.index, base[QUANTILES[2]], color=BASELINE_COLOUR, ls=":", lw=2.2)
            ax.plot(base.index, base[QUANTILES[0]], color=BASELINE_COLOUR, ls=":", lw=1.3)
        ax.set_title(arm, color=text_colour(colour))
    for ax in axes[-1]:
        ax.set_xlabel("Month of the measured period")
    for ax in axes[:, 0]:
        ax.set_ylabel("Skill (0–1; 1 = full skill)")
    handles = [
        Patch(color=NEUTRAL, alpha=0.15, label="p10–p90"),
        Patch(color=NEUTRAL, alpha=0.3, label="p25–p75"),
        Line2D([], [], color=NEUTRAL, label="median"),
        Line2D([], [], color=BASELINE_COLOUR, ls=":", lw=2.2, label="baseline median"),
        Line2D([], [], color=BASELINE_COLOUR, ls=":", lw=1.3, label="baseline p10"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles))
    n = int(d.ts.groupby("arm")["seed"].nunique().min())
    caption = (
        f"Client managers' skill each month: median, p25–p75 and p10–p90 (means over {n} "
        "seeds) for the mentoring and training arms, the baseline's dotted for reference."
    )
    yield _Drawn("manager_skill", title, caption, fig)


CHARTS = (
    retention_over_time,
    profit_over_time,
    tradeoff,
    forest,
    sweep_heatmap,
    sweep_lines,
    waterfall,
    churn,
    branch_map,
    manager_skill,
)
