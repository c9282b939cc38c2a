"""The figures of "Try a scenario": the city map and the scenario against its baseline.

Drawn on the Agg canvas without pyplot (the server draws for many sessions in threads), in the
reports' arm colours (:mod:`analysis.charts.common`) at the page's size: each figure is about
half of the content's width at 1,280 px (``WIDTH`` inches at ``Animated.DPI``, shown scaled to
its column), its smallest text ``FONT`` points, so no text on the page is under 12 px. Each
session's figures are built once and updated month by month; a month redraws only what changed
over a kept background (:class:`Animated`), a few hundredths of a second a figure.
"""

from __future__ import annotations

import io
import textwrap
import threading
import weakref
from dataclasses import dataclass

import matplotlib as mpl
import numpy as np
import PIL.Image
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text

from analysis.charts.common import BAD, STYLE, arm_styles, new_figure
from dashboard.scenario import BASELINE, SCENARIO, ScenarioPair, at_risk
from sim.config import TIERS
from sim.kpis import decimals, registry
from sim.metrics import discount_factors
from sim.model import BankModel
from sim.strategies import title

TIER_COLOURS = dict(zip(TIERS, ("#7A7A7A", "#56B4E9", "#0072B2", "#CC79A7"), strict=True))
WIDTH, HEIGHT = 5.3, 6.4  # inches, both figures: side by side they end level
FONT = 12  # points: the smallest text (about 13 px where the figure is shown at 1,280 px)
PAGE_STYLE = {
    **STYLE,
    **dict.fromkeys(("font.size", "axes.labelsize", "xtick.labelsize", "ytick.labelsize"), FONT),
    **dict.fromkeys(("legend.fontsize", "legend.title_fontsize", "axes.titlesize"), FONT),
    "figure.titlesize": FONT + 2,
    "lines.linewidth": 2.2,
}
"""The reports' style with the text sized for a figure half the page wide."""
TRENDS = (
    ("retention", "retention_horizon", "Retention"),
    ("retention_mid_high", "retention_mid_high", "Mid/high-tier retention"),
    ("profit", "npv", "Discounted profit so far"),
)
"""(time-series column, KPI of its unit, panel title) of each trend panel."""


def arm_labels(pair: ScenarioPair) -> dict[str, str]:
    """Legend names: the baseline, and the scenario by its strategies' titles."""
    names = pair.settings.strategies
    scenario = " + ".join(title(n) for n in names) if names else "no strategy (as the baseline)"
    return {BASELINE: "Baseline (no strategy)", SCENARIO: f"Scenario: {scenario}"}


def scenario_styles(pair: ScenarioPair) -> dict:
    """The arm styles of the reports: a single strategy in its own colour, a mix in the next."""
    names = pair.settings.strategies
    key = names[0] if len(names) == 1 else SCENARIO
    styles = arm_styles([BASELINE, key], BASELINE)
    return {BASELINE: styles[BASELINE], SCENARIO: styles[key]}


@dataclass(frozen=True)
class Frame:
    """What the page shows of a pair in one month: the month, whether it can go on, and both
    figures as PNG."""

    month: int
    months: int
    running: bool
    city_map: bytes
    trends: bytes


def snapshot(pair: ScenarioPair) -> Frame:
    """The pair's figures as they are now (each built on first use, then updated)."""
    city = _kept(_MAPS, pair.arms[SCENARIO], lambda: CityMap(pair.arms[SCENARIO]))
    panels = _kept(_TRENDS, pair, lambda: Trends(pair))
    return Frame(
        pair.month,
        pair.months,
        pair.running,
        city.update(pair.arms[SCENARIO], pair.month).png(),
        panels.update(pair).png(),
    )


class Animated:
    """A figure drawn month after month as a still background and the artists that change.

    The background (axes, ticks, labels) is drawn only when :meth:`still` changes, in the
    layout of the first drawing; each month restores it and draws the ``changing`` artists over
    it (matplotlib's blitting), then encodes the PNG cropped as ``bbox_inches="tight"`` cropped
    the first one, in a palette of ``COLOURS`` (a third of the bytes and half the time of full
    colour). The figure itself stays an ordinary one: ``figure.savefig`` draws it whole.
    """

    DPI = 120  # about 640 px a figure: a month encodes in a few hundredths of a second
    COLOURS = 256
    PAD_INCHES = 0.08

    def __init__(self, figure: Figure, changing: list):
        self.figure, self.changing = figure, changing
        figure.set_dpi(self.DPI)
        self._background = self._key = self._crop = None

    def still(self):
        """What the background depends on (drawn afresh when it changes)."""
        return None

    def png(self) -> bytes:
        """The figure as it is now, as PNG."""
        canvas = self.figure.canvas
        if self._background is None or self.still() != self._key:
            for artist in self.changing:
                artist.set_animated(True)  # left out of the background
            canvas.draw()
            self.figure.set_layout_engine("none")  # laid out once: a redraw costs half as much
            for artist in self.changing:
                artist.set_animated(False)
            self._background, self._key = canvas.copy_from_bbox(self.figure.bbox), self.still()
            if self._crop is None:  # the layout keeps the figure's margins: crop as at first
                self._crop = self._tight(canvas)
        else:
            canvas.restore_region(self._background)
        for artist in self.changing:
            self.figure.draw_artist(artist)
        out = io.BytesIO()
        rgb = np.asarray(canvas.buffer_rgba())[self._crop][..., :3]
        image = PIL.Image.fromarray(np.ascontiguousarray(rgb))
        image.quantize(self.COLOURS, method=PIL.Image.Quantize.FASTOCTREE).save(
            out, format="png", compress_level=1
        )
        return out.getvalue()

    def _tight(self, canvas) -> tuple[slice, slice]:
        """The rows and columns of the canvas within the figure's tight box (padded)."""
        box = self.figure.get_tightbbox(canvas.get_renderer()).padded(self.PAD_INCHES)
        height, width = canvas.get_width_height()[::-1]
        x0, x1 = max(int(box.x0 * self.DPI), 0), min(int(np.ceil(box.x1 * self.DPI)), width)
        y0, y1 = max(int(box.y0 * self.DPI), 0), min(int(np.ceil(box.y1 * self.DPI)), height)
        return slice(height - y1, height - y0), slice(x0, x1)


class Trends(Animated):
    """The trend panels of one scenario pair: built once, their lines and titles updated. A
    panel's y-range leaves room for its line to grow and widens only when the line outgrows it,
    so that most months redraw the lines and titles alone."""

    HEADROOM = 1.0  # of the line's autoscaled range, added on each side of zero it reaches

    def __init__(self, pair: ScenarioPair):
        self.styles = styles = scenario_styles(pair)
        self.kpis = registry(pair.months)
        self.rate = pair.arms[SCENARIO].config.economics.discount_rate
        with mpl.rc_context(PAGE_STYLE):
            fig, axes = new_figure(WIDTH, HEIGHT, "", nrows=3, sharex=True)
            self.lines = []
            for ax, (_, name, _) in zip(axes[:, 0], TRENDS, strict=True):
                ax.axhline(0, color=styles[BASELINE].colour, lw=1.6)
                (line,) = ax.plot([], [], color=styles[SCENARIO].colour)
                self.lines.append(line)
                ax.set_ylabel(self.kpis[name].unit_label(delta=True))
                ax.title.set_fontweight("normal")
            axes[-1, 0].set_xlim(0, pair.months)
            axes[-1, 0].set_xlabel("Month")
            handles = [Line2D([], [], color=styles[a].colour, ls=styles[a].dash) for a in styles]
            labels = [textwrap.fill(label, 44) for label in arm_labels(pair).values()]
            fig.legend(handles, labels, loc="outside lower center", ncols=1)
            self.heading = fig.suptitle("")
        self.axes = axes[:, 0]
        super().__init__(fig, [*self.lines, self.heading, *(ax.title for ax in self.axes)])

    def still(self):
        return tuple(ax.get_ylim() for ax in self.axes)

    def update(self, pair: ScenarioPair) -> Trends:
        """Show the pair's months so far."""
        series = {arm: pair.series(arm) for arm in (BASELINE, SCENARIO)}
        months = series[SCENARIO]["month"]
        self.heading.set_text(f"Scenario minus baseline, month {pair.month}")
        for ax, line, (column, name, heading) in zip(self.axes, self.lines, TRENDS, strict=True):
            kpi = self.kpis[name]
            values = {arm: _values(ts, column, self.rate) for arm, ts in series.items()}
            diff = values[SCENARIO] - values[BASELINE]
            shown = diff * kpi.scale
            line.set_data(months, shown)
            end = {arm: float(v[-1]) for arm, v in values.items()}
            ax.title.set_text(
                f"{heading}: {kpi.amount(diff[-1], decimals(diff[-1] * kpi.scale))}\n"
                f"{kpi.text(end[SCENARIO])} against {kpi.text(end[BASELINE])}"
            )
            self._y_range(ax, months, min(shown.min(), 0.0), max(shown.max(), 0.0))
        return self

    def _y_range(self, ax, months, low: float, high: float) -> None:
        """Keep the panel's y-range while it holds the line and the zero line and they fill a
        quarter of it or more; else autoscale to them (as a fresh figure would) and leave the
        line as much room again on each side of zero it has reached."""
        bottom, top = ax.get_ylim()
        if bottom <= low and high <= top and high - low >= (top - bottom) / 4:
            return
        ax.dataLim.set_points(np.array([[months.min(), low], [months.max(), high]]))
        ax.set_autoscaley_on(True)
        ax.autoscale_view(scalex=False)
        bottom, top = ax.get_ylim()
        room = (top - bottom) * self.HEADROOM
        ax.set_ylim(bottom - room * (low < 0), top + room * (high > 0))


def _values(ts, column: str, rate: float) -> np.ndarray:
    """A panel's monthly values: the level, or the profit discounted like the NPV and summed."""
    if column == "profit":
        return np.cumsum(ts["profit"].to_numpy() * discount_factors(ts["month"], rate))
    return ts[column].to_numpy(dtype=float)


class CityMap(Animated):
    """The map of one bank: built once, its points, branches and heading updated (the points
    are markers of lines, which Agg stamps far faster than a scatter's paths). The tiers are
    drawn the most numerous first, so the few dots of a tier stay on top; a customer at risk
    gets a thin orange halo under its dot, which leaves the dot's colour showing."""

    DOT = 2.6  # points: a customer's dot
    HALO = 1.0  # points: how far the at-risk halo reaches beyond the dot

    def __init__(self, bank: BankModel):
        c = bank.customers
        counts = [np.count_nonzero(c.active & (c.tier == i)) for i in range(len(TIERS))]
        self.order = sorted(range(len(TIERS)), key=lambda i: -counts[i])
        with mpl.rc_context(PAGE_STYLE):
            fig, axes = new_figure(WIDTH, HEIGHT, "")
            ax = axes[0, 0]
            ring = {"mfc": "none", "mec": BAD, "mew": self.HALO, "ms": self.DOT + self.HALO}
            (self.ring,) = ax.plot([], [], "o", ls="none", zorder=2, **ring)
            dots = {"ls": "none", "marker": "o", "ms": self.DOT, "mew": 0, "zorder": 3}
            self.tiers = {
                i: ax.plot([], [], color=TIER_COLOURS[TIERS[i]], **dots)[0] for i in self.order
            }
            (self.open,) = ax.plot([], [], "s", ms=9, color="black", mec="white", mew=1, zorder=4)
            (self.closed,) = ax.plot([], [], "X", ms=10, color=BAD, mec="white", mew=1, zorder=4)
            side = bank.config.bank.city_km
            ax.set(xlim=(0, side), ylim=(0, side), xlabel="km", ylabel="km", aspect="equal")
            ax.grid(False)
            fig.legend(handles=_map_legend(bank), loc="outside lower center", ncols=2)
            self.heading = fig.suptitle("")
        changing = [self.ring, *self.tiers.values(), self.open, self.closed, self.heading]
        super().__init__(fig, changing)

    def update(self, bank: BankModel, month: int) -> CityMap:
        """Show the bank as it is now, in measured month ``month``, with its share of customers
        at risk."""
        c = bank.customers
        active, risky = c.active, at_risk(bank)
        for i, points in self.tiers.items():
            here = active & (c.tier == i)
            points.set_data(c.x[here], c.y[here])
        self.ring.set_data(c.x[risky], c.y[risky])
        branches = bank.branch_list()
        for line, is_open in ((self.open, True), (self.closed, False)):
            sites = [(b.x, b.y) for b in branches if b.is_open == is_open]
            line.set_data([x for x, _ in sites], [y for _, y in sites])
        n = np.count_nonzero(active)
        share = np.count_nonzero(risky) / n if n else 0.0
        self.heading.set_text(f"The scenario's city, month {month}: {share:.0%} at risk")
        return self


_TRENDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # pair -> its Trends
_MAPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # bank -> its CityMap
_LOCK = threading.Lock()


def _kept(charts: weakref.WeakKeyDictionary, owner, build):
    """The chart kept for ``owner`` (a session's pair or bank), built on first use."""
    with _LOCK:
        if owner not in charts:
            charts[owner] = build()
        return charts[owner]


def smallest_text(figure: Figure) -> float:
    """The size in points of the smallest text the figure shows."""
    texts = figure.findobj(lambda a: isinstance(a, Text) and a.get_visible() and a.get_text())
    return min(t.get_fontsize() for t in texts)


def _map_legend(bank: BankModel) -> list[Line2D]:
    """Each tier with the real customers one of its dots stands for, branches and the halo."""
    c = bank.customers
    dot = {"ls": "none", "marker": "o", "ms": 7}
    tiers = []
    for i, tier in enumerate(TIERS):
        weights = c.weight[c.active & (c.tier == i)]
        each = f" ({_per_dot(float(np.median(weights)))})" if weights.size else ""
        tiers.append(Line2D([], [], color=TIER_COLOURS[tier], label=f"{tier}{each}", **dot))
    halo = {"mfc": "white", "mec": BAD, "mew": 1.5}
    return [
        *tiers,
        Line2D([], [], ls="none", marker="s", ms=8, color="black", label="branch open"),
        Line2D([], [], ls="none", marker="X", ms=9, color=BAD, label="branch closed"),
        Line2D([], [], label="at risk (halo)", **{**dot, **halo}),
    ]


def _per_dot(weight: float) -> str:
    """How many real customers one dot stands for, in words."""
    if weight >= 1.5:
        return f"1 dot: {weight:.0f} customers"
    if weight >= 0.75:
        return "1 dot: 1 customer"
    return f"{1 / weight:.0f} dots: 1 customer"
