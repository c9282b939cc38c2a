"""What every chart shares: the style and palette, arm styles, the ``Drawn``/``Chart`` records,
making and saving a figure, 95% bands, and the labels of points, parameters and numbers."""

from __future__ import annotations

import dataclasses
import itertools
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from scipy import stats as sps

from analysis.stats import BETTER, WORSE
from sim.config import Config
from sim.params import type_hints
from sim.strategies import REGISTRY as STRATEGIES
from sim.strategies import title as arm_title

BASELINE_COLOUR = "#000000"
PALETTE = ("#4477AA", "#EE6677", "#228833", "#AA3377", "#66CCEE", "#CCBB44")
"""Arm colours after the baseline's black: Paul Tol's "bright" qualitative scheme (blue, red,
green, purple, cyan, yellow; its grey left out), designed to stay distinct for colour-blind
readers (https://personal.sron.nl/~pault/#sec:qualitative). Six colours are as many as stay far
apart under deuteranopia and protanopia, so more arms share a colour with another line style and
marker (``arm_styles``); tests/test_chart_palette.py measures every pair."""
REPEAT = (0, 4, 2, 5, 1, 3)
"""The palette's colours in the order the later line styles take them: the four farthest apart
(blue, cyan, green, yellow) first, so that the four arms past the first six stay apart too."""
DASHES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
"""Seven markers for six colours: two arms that share a colour never share a marker."""
FIXED_COLOURS = {
    name: i
    for i, name in enumerate(
        (
            "playbook",  # blue
            "product_innovation",  # red
            "outlet_closure",  # green
            "partner_promotion",  # purple
            "training",  # cyan
            "digital_scenario",  # yellow
            "branch_experience",  # blue, dashed
            "follow_up",  # cyan, dashed
            "lean_service",  # green, dashed
            "mentoring",  # yellow, dashed
        )
    )
}
"""The style slot (``slot_style``) of every strategy's name and the playbook's, in every
experiment: the playbook and the strategies outside it solid first; lean service dashed, so that
it stays visible where its line runs with product innovation's."""
GOOD, BAD, NEUTRAL = "#009E73", "#D55E00", "#444444"
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
DETECTED = (BETTER, WORSE)
"""Verdicts that found a difference worth acting on: filled dots and starred cells."""


def applies_when(check: Callable[[Any], bool]):
    """Mark a chart generator with ``check(data)``: whether the data support the chart (cheap,
    drawing nothing). ``draw_all`` runs, counts and names only the generators whose check passes;
    a generator without one always runs. A generator returns at once when its check fails, so
    the two cannot disagree."""

    def mark(draw):
        draw.applies = check
        return draw

    return mark


def applies(draw, data) -> bool:
    """Whether chart generator ``draw`` applies to ``data`` (``applies_when``)."""
    check = getattr(draw, "applies", None)
    return check is None or bool(check(data))


@dataclass
class Drawn:
    """A chart generator's output: a figure not yet saved."""

    name: str  # file stem
    title: str
    caption: str  # one line saying what to read from the chart
    figure: Figure


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


def slot_style(slot: int) -> Style:
    """The colour, line style and marker of a style slot: the six colours solid, then again
    dashed (in ``REPEAT`` order), dotted, dash-dotted, and so on."""
    group, i = divmod(slot, len(PALETTE))
    colour = PALETTE[i if group == 0 else REPEAT[i]]
    return Style(colour, DASHES[group % len(DASHES)], MARKERS[slot % len(MARKERS)])


def arm_styles(arms: list[str], baseline: str) -> dict[str, Style]:
    """Colour, dash and marker of every arm: black and solid for the baseline, a strategy's or
    the playbook's own slot (``FIXED_COLOURS``) for an arm of that name, and to the other arms,
    in order, the first slots no arm of ``arms`` holds."""
    others = [a for a in arms if a != baseline]
    held = {FIXED_COLOURS[a] for a in others if a in FIXED_COLOURS}
    free = (slot for slot in itertools.count() if slot not in held)
    styles = {baseline: Style(BASELINE_COLOUR, "-", "o")}
    for arm in others:
        styles[arm] = slot_style(FIXED_COLOURS[arm] if arm in FIXED_COLOURS else next(free))
    return styles


def new_figure(width: float, height: float, title: str, **subplots) -> tuple[Figure, np.ndarray]:
    """A titled figure on the Agg canvas (no pyplot) and its 2-d array of axes."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(squeeze=False, **subplots)
    fig.suptitle(textwrap.fill(title, 64))
    return fig, axes


def save(drawn: Drawn, out_dir: Path) -> Chart:
    """Write a drawn chart as PNG and SVG into ``out_dir``."""
    png, svg = out_dir / f"{drawn.name}.png", out_dir / f"{drawn.name}.svg"
    for path in (png, svg):
        drawn.figure.savefig(path, dpi=DPI, bbox_inches="tight", pad_inches=0.25)
    return Chart(drawn.name, drawn.title, drawn.caption, png, svg, drawn.figure)


def t_band(matrix: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% Student-t interval across the columns (seeds) of each row; NaN for n < 2."""
    n = matrix.count(axis=1)
    mean, sd = matrix.mean(axis=1), matrix.std(axis=1, ddof=1)
    half = sps.t.ppf(0.975, np.maximum(n - 1, 1)) * sd / np.sqrt(n)
    half = half.where(n >= 2)
    return pd.DataFrame({"mean": mean, "low": mean - half, "high": mean + half, "n": n})


def draw_band(ax, band: pd.DataFrame, style: Style, label: str, alpha: float = 0.15) -> None:
    """A mean line with its shaded interval; a dashed or dotted line over the solid ones, so
    that where two lines run together both show."""
    ax.plot(
        band.index,
        band["mean"],
        color=style.colour,
        ls=style.dash,
        label=label,
        zorder=line_zorder(style),
    )
    ax.fill_between(
        band.index, band["low"], band["high"], color=style.colour, alpha=alpha, lw=0, zorder=1
    )


def legend_right(ax, **kwargs) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, **kwargs)


def line_zorder(style: Style) -> float:
    """Lines above bands (1); a broken line (dashed, dotted) above the solid ones (2)."""
    return 2.0 if style.dash == "-" else 2.2


TEXT_CONTRAST = 3.0
"""The least contrast with white of text in an arm's colour (WCAG 2's for large text)."""


def contrast(colour: str, background: str = "#FFFFFF") -> float:
    """WCAG 2 contrast ratio of two colours (1 to 21)."""

    def luminance(c: str) -> float:
        rgb = np.asarray(to_rgb(c))
        linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
        return float(linear @ [0.2126, 0.7152, 0.0722])

    high, low = sorted((luminance(colour), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def text_colour(colour: str) -> str:
    """Readable text in an arm's colour: a light colour (the cyan, the yellow) darkened, its hue
    kept, until its contrast with white is at least TEXT_CONTRAST."""
    rgb = np.asarray(to_rgb(colour))
    for k in range(21):
        darker = to_hex(rgb * (1 - 0.05 * k))
        if contrast(darker) >= TEXT_CONTRAST:
            return colour if k == 0 else darker
    return BASELINE_COLOUR


def signed(value: float, digits: int = 1) -> str:
    """A number already in display units with its sign and a true minus: +1.2, −0.4."""
    return f"{value:+,.{digits}f}".replace("-", "−")


def compact(value) -> str:
    """1000000.0 → 1M, 2500.0 → 2.5k, 3 → 3, 3980790.0 → 3.98M (3 significant digits); text
    stays text."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"{x / size:.3g}{suffix}"
    return f"{x:.3g}"


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


MONEY_KEY = re.compile(r"(budget|cost|fee|reward|investment|spend|stipend)$")
"""Keys in CNY when the schema does not say (a money key's last part ends so)."""


def param_unit(key: str) -> str:
    """A config key's unit in a few words from the schema: "CNY per month", "km", "per year";
    "CNY" for a money key the schema does not document, "" when the unit is a long description."""
    unit = _schema_unit(key)
    short = re.split(r",| \(| by | of | in | at | for ", unit)[0].strip()
    if short.startswith("CNY"):
        return "CNY per month" if "per month" in short else "CNY"
    if short and len(short) <= 24:
        return short
    return "CNY" if MONEY_KEY.search(key) else ""


def _schema_unit(key: str) -> str:
    """The ``unit`` a config key's ``param`` declares; "" for a key outside the schema."""
    parts = key.split(".")
    if parts[0] == "strategy" and len(parts) == 3 and parts[1] in STRATEGIES:
        schema, parts = STRATEGIES[parts[1]].Config, parts[2:]
    else:
        schema = Config
    for i, part in enumerate(parts):
        found = {f.name: f for f in dataclasses.fields(schema)}.get(part)
        if found is None:
            return ""
        if i == len(parts) - 1:
            return found.metadata.get("unit", "")
        schema = type_hints(schema)[part]
        if not dataclasses.is_dataclass(schema):
            return ""
    return ""


def key_axis(key: str) -> str:
    """``strategy.partner_promotion.budget`` → ``partner promotion: budget (CNY per month)``."""
    unit = param_unit(key)
    return f"{key_label(key)} ({unit})" if unit else key_label(key)


def left_out_note(left_out: list[str]) -> str:
    """The caption's note naming the arms a chart leaves out; "" when it shows them all."""
    if not left_out:
        return ""
    return f" Not shown: {', '.join(map(arm_title, left_out))}; every arm is in the forest plot."
