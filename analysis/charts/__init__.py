"""Charts of an experiment's stored results, for reports and slides.

``draw_all(results, tables, out_dir)`` draws every chart the store supports (``tables`` is what
``analysis.report.report`` returns) and saves each as PNG and SVG. One style throughout
(:mod:`~analysis.charts.common`): large fonts and thick lines for projection, a colour-blind-aware
palette, the baseline in black and every other arm in the same colour (and line style) in every
figure: each strategy's and the playbook's own, other arms the free ones in the experiment's
order; each KPI's label, unit and scale from :func:`sim.kpis.registry` at the runs' horizon.
Charts that overlay arms show the chart arms (``experiment.chart_arms``, or ``arms``) beside the
baseline, else up to ``MAX_ARMS`` with the largest effects, and name the arms they leave out.
Figures are drawn on the Agg canvas without pyplot, so nothing global is touched.

A module per chart family: ``over_time``, ``tradeoff``, ``forest``, ``sweep``, ``ledger``,
``churn``, ``survival``, ``harm_map``, ``skill``; what they share is in ``common`` (style,
figures, labels) and ``data`` (:class:`~analysis.charts.data.ChartData`: the runs, tables, arms
and the chosen arm and point). To add a chart, write a generator in a family module that takes
a ``ChartData`` and yields ``Drawn(name, title, caption, figure)`` (nothing when the data cannot
support it), and add it to ``CHARTS`` at its place in reading order; the report embeds every
chart drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib as mpl
import pandas as pd

from analysis.charts.churn import churn
from analysis.charts.common import STYLE, Chart, Style, applies, arm_styles, save
from analysis.charts.data import MAX_ARMS, ChartData
from analysis.charts.forest import forest
from analysis.charts.harm_map import harm_map
from analysis.charts.ledger import waterfall
from analysis.charts.over_time import profit_over_time, retention_over_time
from analysis.charts.skill import manager_skill
from analysis.charts.survival import retention_curves
from analysis.charts.sweep import sweep_heatmap, sweep_lines
from analysis.charts.tradeoff import tradeoff

__all__ = ["CHARTS", "MAX_ARMS", "Chart", "Style", "arm_styles", "chosen", "draw_all"]

CHARTS = (
    retention_over_time,
    profit_over_time,
    tradeoff,
    forest,
    sweep_heatmap,
    sweep_lines,
    waterfall,
    churn,
    retention_curves,
    harm_map,
    manager_skill,
)
"""Every chart generator, in reading order."""


def draw_all(
    results: Path,
    tables: dict[str, pd.DataFrame],
    out_dir: Path,
    arm: str | None = None,
    arms: list[str] | None = None,
    on_chart: Callable[[str], None] | None = None,
    on_save: Callable[[list[str]], None] | None = None,
    on_plan: Callable[[list[str]], None] | None = None,
) -> list[Chart]:
    """Draw and save every chart the stored results support, in reading order.

    ``arm`` picks the arm of the single-arm charts (a ledger waterfall); by default the arm
    (and, in a sweep, the point) with the best retention verdict, else the first arm after the
    baseline. ``arms`` (arm names)
    replaces the experiment's ``chart_arms``: the arms shown beside the baseline (empty: up to
    ``MAX_ARMS``, those with the largest effects). Only the generators that apply to the data
    run (``common.applies``: no sweep charts without a sweep); ``on_plan(names)`` is called once
    with their names, ``on_chart(name)`` before each of them runs (``name``: the generator's,
    e.g. ``"tradeoff"``), ``on_save(names)`` before a chart's files (``names``) are written.
    """
    results, out_dir = Path(results), Path(out_dir)
    data = ChartData(results, tables or {}, arm, arms)
    if data.runs.empty:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    todo = [draw for draw in CHARTS if applies(draw, data)]
    if on_plan is not None:
        on_plan([draw.__name__ for draw in todo])
    charts = []
    with mpl.rc_context(STYLE):
        for draw in todo:
            if on_chart is not None:
                on_chart(draw.__name__)
            for drawn in draw(data):
                if on_save is not None:
                    on_save([f"{drawn.name}.png", f"{drawn.name}.svg"])
                charts.append(save(drawn, out_dir))
    return charts


def chosen(
    results: Path,
    tables: dict[str, pd.DataFrame],
    arm: str | None = None,
    arms: list[str] | None = None,
):
    """(arm, point) of the single-arm charts, as ``draw_all`` picks them."""
    data = ChartData(Path(results), tables or {}, arm, arms)
    if data.runs.empty:
        raise ValueError(f"no runs stored in {results}")
    return data.arm, data.point
