"""The figures of "Try a scenario": the city map and the scenario against its baseline.

Drawn on the Agg canvas without pyplot (the server draws for many sessions in threads), in the
reports' style and arm colours (:mod:`analysis.charts.common`). Each session's figures are built
once and updated month by month; a month redraws only what changed over a kept background
(:class:`Animated`), so that a month of the default bank costs about a tenth of a second to
draw rather than half a second.
"""

from __future__ import annotations

import io
import textwrap
import threading
import weakref

import matplotlib as mpl
import numpy as np
import PIL.Image
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from analysis.charts.common import BAD, STYLE, arm_styles, new_figure
from dashboard.scenario import AT_RISK_RULE, BASELINE, SCENARIO, ScenarioPair, at_risk
from sim.config import TIERS
from sim.kpis import decimals, registry
from sim.metrics import discount_factors
from sim.model import BankModel
from sim.strategies import title

TIER_COLOURS = dict(zip(TIERS, ("#C8C8C8", "#56B4E9", "#0072B2", "#CC79A7"), strict=True))
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


def trends(pair: ScenarioPair) -> Figure:
    """Retention, mid/high-tier retention and cumulative discounted profit by month: the
    scenario's difference from its baseline (the zero line), with both levels in the titles.
    The pair's figure is built once and updated month by month (:class:`Trends`)."""
    return trends_chart(pair).figure


def trends_chart(pair: ScenarioPair) -> Trends:
    """The pair's trend panels, updated to its months so far."""
    return _kept(_TRENDS, pair, lambda: Trends(pair)).update(pair)


def city_map(bank: BankModel, heading: str) -> Figure:
    """Customers by tier (at-risk ones ringed) and branches open and closed. The bank's figure
    is built once and updated month by month (:class:`CityMap`)."""
    return city_map_chart(bank, heading).figure


def city_map_chart(bank: BankModel, heading: str) -> CityMap:
    """The bank's map, updated to the bank as it is now."""
    return _kept(_MAPS, bank, lambda: CityMap(bank)).update(bank, heading)


class Animated:
    """A figure drawn month after month as a still background and the artists that change.

    The background (axes, ticks, labels, the layout) is drawn only when :meth:`still` changes;
    each month restores it and draws the ``changing`` artists over it (matplotlib's blitting),
    then encodes the PNG cropped as ``bbox_inches="tight"`` cropped the first one. The figure
    itself stays an ordinary one: ``figure.savefig`` draws it whole.
    """

    DPI = 80
    PAD_INCHES = 0.1

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
        PIL.Image.fromarray(np.ascontiguousarray(rgb)).save(out, format="png", compress_level=1)
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
        with mpl.rc_context(STYLE):
            fig, axes = new_figure(11, 11, "", nrows=3, sharex=True)
            self.lines = []
            for ax, (_, name, _) in zip(axes[:, 0], TRENDS, strict=True):
                ax.axhline(0, color=styles[BASELINE].colour, lw=2)
                (line,) = ax.plot([], [], color=styles[SCENARIO].colour)
                self.lines.append(line)
                ax.set_ylabel(f"vs baseline ({self.kpis[name].unit_label(delta=True)})")
            axes[-1, 0].set_xlim(0, pair.months)
            axes[-1, 0].set_xlabel("Measured month")
            handles = [Line2D([], [], color=styles[a].colour, ls=styles[a].dash) for a in styles]
            labels = [textwrap.fill(label, 60) for label in arm_labels(pair).values()]
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
        self.heading.set_text(f"Month {pair.month} of {pair.months}")
        for ax, line, (column, name, heading) in zip(self.axes, self.lines, TRENDS, strict=True):
            kpi = self.kpis[name]
            values = {arm: _values(ts, column, self.rate) for arm, ts in series.items()}
            diff = values[SCENARIO] - values[BASELINE]
            shown = diff * kpi.scale
            line.set_data(months, shown)
            end = {arm: float(v[-1]) for arm, v in values.items()}
            ax.title.set_text(
                f"{heading}: {kpi.text(end[SCENARIO])} vs {kpi.text(end[BASELINE])}"
                f" ({kpi.amount(diff[-1], decimals(diff[-1] * kpi.scale))})"
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
    are markers of lines, which Agg stamps far faster than a scatter's paths)."""

    def __init__(self, bank: BankModel):
        with mpl.rc_context(STYLE):
            fig, axes = new_figure(11, 11, "")
            ax = axes[0, 0]
            dots = {"ls": "none", "marker": "o", "ms": 7**0.5, "mew": 0}
            self.tiers = [ax.plot([], [], color=TIER_COLOURS[t], **dots)[0] for t in TIERS]
            (self.ring,) = ax.plot([], [], "o", ms=26**0.5, mfc="none", mec=BAD, mew=0.9, ls="none")
            (self.open,) = ax.plot([], [], "s", ms=15, color="black", mec="white", mew=1.5)
            (self.closed,) = ax.plot([], [], "X", ms=16, color=BAD, mec="white", mew=1.5)
            side = bank.config.bank.city_km
            ax.set(xlim=(0, side), ylim=(0, side), xlabel="km", ylabel="km", aspect="equal")
            ax.grid(False)
            fig.legend(handles=_map_legend(), loc="outside lower center", ncols=2)
            self.heading = fig.suptitle("")
        changing = [*self.tiers, self.ring, self.open, self.closed, self.heading]
        super().__init__(fig, changing)

    def update(self, bank: BankModel, heading: str) -> CityMap:
        """Show the bank as it is now, under ``heading`` and its share of customers at risk."""
        c = bank.customers
        active, risky = c.active, at_risk(bank)
        for i, points in enumerate(self.tiers):
            here = active & (c.tier == i)
            points.set_data(c.x[here], c.y[here])
        self.ring.set_data(c.x[risky], c.y[risky])
        branches = bank.branch_list()
        for line, is_open in ((self.open, True), (self.closed, False)):
            sites = [(b.x, b.y) for b in branches if b.is_open == is_open]
            line.set_data([x for x, _ in sites], [y for _, y in sites])
        n = np.count_nonzero(active)
        share = np.count_nonzero(risky) / n if n else 0.0
        self.heading.set_text(textwrap.fill(f"{heading}: {share:.0%} at risk", 64))
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


def _map_legend() -> list[Line2D]:
    dot = {"ls": "none", "marker": "o", "ms": 9}
    tiers = [Line2D([], [], color=TIER_COLOURS[t], label=f"{t} tier", **dot) for t in TIERS]
    ring = Line2D([], [], mfc="none", mec=BAD, label=textwrap.fill(AT_RISK_RULE, 44), **dot)
    return [
        *tiers,
        Line2D([], [], ls="none", marker="s", ms=12, color="black", label="branch open"),
        Line2D([], [], ls="none", marker="X", ms=12, color=BAD, label="branch closed"),
        ring,
    ]
