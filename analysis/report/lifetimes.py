"""The report's section on how long customers stay: the Kaplan-Meier retention curves' figures
(:mod:`analysis.charts.survival`) and the median lifetime by segment and arm, with survival at 12
months and at the horizon (:mod:`analysis.survival`)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from analysis.report.document import Cell, Figure, Para, Section, Table
from analysis.report.formats import records
from analysis.report.labels import Labels
from analysis.survival import CHARTS, Survival


def section(found: Survival, charts: list, first_figure: int, short: dict[str, str]) -> Section:
    """The section: its figures (``charts`` named in ``survival.CHARTS``, numbered from
    ``first_figure``), the medians table (rows grouped by parameter point, ``short``'s labels),
    and what they mean; a sentence instead when no run stored a panel."""
    blocks: list = []
    if coverage := found.coverage():
        blocks.append(Para(coverage))
    if found.curves.empty:
        return Section("survival", "How long customers stay", blocks)
    blocks.append(Para(_intro(found.months)))
    mine = [c for c in charts if c.name in CHARTS]
    for number, chart in enumerate(mine, first_figure):
        blocks.append(Figure(number, str(chart.name), chart.title, chart.caption, Path(chart.png)))
    blocks.append(medians_table(found, short))
    blocks.append(Para(_note(found.months), note=True))
    return Section("survival", "How long customers stay", blocks)


def _intro(months: int) -> str:
    return (
        "Kaplan-Meier retention curves: the share of customers still with the bank month by month,"
        " counted from the start of the measured period for the opening book and from the month"
        " they joined for newcomers, with those still customers at the horizon (month"
        f" {months}) counted as far as they were seen. The table gives each segment's median"
        " lifetime: the month by which half of its customers had left."
    )


def _note(months: int) -> str:
    return (
        "Median lifetime in months ('not reached': more than half were still customers when"
        " followed as long as the runs allow); below it, survival at 12 months and at month"
        f" {months}. Every run of an arm with a customer panel is pooled, each simulated"
        " customer weighted by the real customers it stands for; the 95% bands reflect how many"
        " customers were simulated. Segment as recorded in the panel; tier (in the workbook and"
        " the figures) as of the customer's exit or the run's end. Every curve is in the"
        " workbook's Survival curves sheet."
    )


def medians_table(found: Survival, short: dict[str, str]) -> Table:
    """A row per (point, arm), a column per segment: the median lifetime, with survival at 12
    months and at the horizon below."""
    medians = found.medians
    segments = list(pd.unique(medians["segment"]))
    keys = medians[["point", "arm"]].drop_duplicates()
    wide = medians.set_index(["point", "arm", "segment"])
    rows = []
    for key in records(keys):
        cells = [Cell(Labels.arm(key["arm"]))]
        for segment in segments:
            at = (key["point"], key["arm"], segment)
            cells.append(_cell(wide.loc[at], found.months) if at in wide.index else Cell("—"))
        rows.append(cells)
    columns = ["Strategy", *(s.replace("_", " ").capitalize() for s in segments)]
    groups = [short.get(p, p) or "—" for p in keys["point"]] if short else None
    return Table(columns, rows, frozenset(range(1, len(columns))), "lifetimes", groups)


def _cell(row: pd.Series, months: int) -> Cell:
    """The median (months) with survival at 12 months and at the horizon below."""
    median = float(row["median"])
    text = "not reached" if math.isinf(median) else f"{median:.0f} months"
    at = [(12, row["survival_12m"]), (months, row["survival_horizon"])]
    sub = " · ".join(f"{m} m: {s * 100:.1f}%" for m, s in dict(at).items() if pd.notna(s))
    return Cell(text, sub=sub)
