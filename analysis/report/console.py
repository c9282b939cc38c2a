"""The report's console summary, printed by ``python -m experiments.report`` and at the end of
``python -m experiments.compare``: the runs' progress, the arm means table of the document
(rendered as text), the verdict of each arm against the baseline in a sentence (with its NPV in
parts), what common random numbers bought, where the report was written and, last, the
executive summary."""

from __future__ import annotations

import textwrap

import pandas as pd

from analysis import stats
from analysis.report import calibration as plausible_report
from analysis.report.document import Bullets, Heading, Para, Table
from analysis.report.formats import run_counts
from analysis.report.labels import Labels
from analysis.report.sections import (
    crn_plain,
    means_blocks,
    point_labels,
    skewed_text,
    thresholds,
)
from sim.kpis import NPV_PARTS

HEADER_LINES = 2  # column headings wrap onto at most this many lines when they can
WIDTH = 100  # paragraphs and bullets wrap at this width
AUM_NOTE = (
    "AUM retention can exceed 100%: it is the AUM that the opening book's customers still with"
    " the bank hold now, over what the whole opening book held at the start, and the balances"
    " of those who stay grow (saving, market returns)."
)
"""Said under the means when an AUM retention there reaches past 100% (``sim.metrics``:
``Cohort.aum_retention``)."""


def summary(
    tables: dict[str, pd.DataFrame],
    runs: pd.DataFrame,
    experiment: dict,
    labels: Labels,
    sequential: str = "",
    calibration: dict | None = None,
    seeds: int = 0,
) -> list[str]:
    """The lines before the report is written: progress, means, verdicts (after
    ``sequential``, the design of replications=auto in words, if any) and CRN. For an
    experiment at a ``calibration``'s plausible sets (its record), the verdicts across the sets
    instead of the means and verdicts by set (on ``seeds`` seeds each), which the report has."""
    lines = [f"Runs: {run_counts(runs)}."]
    means = tables["summary"]
    if means.empty:
        return [*lines, "No successful runs yet."]
    across = calibration is not None and "plausible_summary" in tables
    short = plausible_report.set_labels(calibration) or point_labels(means)
    if not across:
        lines += render(means_blocks(means, short, labels))
        lines += _wrap(AUM_NOTE) if aum_past_100(means) else []
    if len(tables.get("verdicts", [])):
        if across:
            lines += _across(tables, calibration, experiment, labels, seeds)
        else:
            lines += _verdicts(tables, experiment, labels)
        skewed = "" if across else skewed_text(tables["differences"], labels, short)
        for text in (skewed, sequential):  # the report names the skewed ones of each set
            lines += ["", *_wrap(text)] if text else []
        lines += ["", *_wrap(f"Common random numbers: {crn_plain(tables['crn'], labels.months)}")]
    return lines


def aum_past_100(means: pd.DataFrame) -> bool:
    """Whether an arm's AUM retention in the means table (its mean or the top of its 95% CI)
    is above 100%."""
    columns = [c for c in ("aum_retention", "aum_retention_ci_high") if c in means]
    values = means[columns].to_numpy(dtype=float) if columns else []
    return bool(len(values) and (values > 1.0).any())


def _across(tables, calibration: dict, experiment: dict, labels: Labels, seeds: int) -> list:
    """The verdicts across the plausible sets: what they are, then one line per arm."""
    head, arms = plausible_report.console_lines(tables, calibration, experiment, labels, seeds)
    settings = experiment.get("smallest_effect") or {}
    negligible = f" Negligible means within {thresholds(settings, labels)}."
    where = " Means and verdicts by set: the report and plausible_sets.csv."
    return ["", *_wrap(head + negligible + where), *arms]


def written(written) -> list[str]:
    """Where the figures, the report and the workbook went (``written``: an
    ``analysis.report.Written``)."""
    count = f"{len(written.charts)} chart{'s' if len(written.charts) != 1 else ''}"
    drawn = f"not drawn: {written.error}" if written.error else count
    lines = [
        "",
        f"Figures: {written.figures} ({drawn})",
        f"Report: {written.html}",
        f"Report: {written.md}",
    ]
    return lines + ([f"Workbook: {written.workbook}"] if written.workbook else [])


def executive(
    tables: dict[str, pd.DataFrame],
    experiment: dict,
    labels: Labels,
    seeds: int,
    calibration: dict | None = None,
) -> list[str]:
    """The executive summary as text (nothing without verdicts); for an experiment at a
    ``calibration``'s plausible sets, read off the verdicts across them."""
    if not len(tables.get("differences", [])):
        return []
    short = plausible_report.set_labels(calibration) or point_labels(tables["summary"])
    section = plausible_report.executive(tables, labels, experiment, seeds, short, calibration)
    return ["", section.title.upper(), *render(section.blocks)]


def render(blocks: list) -> list[str]:
    """Document blocks as plain text lines (headings, paragraphs and bullets wrapped at WIDTH,
    tables)."""
    lines = []
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["", block.text]
        elif isinstance(block, Para):
            lines += ["", *_wrap(block.text)] if block.note else _wrap(block.text)
        elif isinstance(block, Bullets):
            for n, item in enumerate(block.items, 1):
                lines += _wrap(item, f"  {n}. " if block.ordered else "  - ")
        elif isinstance(block, Table):
            lines += _table(block)
        else:
            raise TypeError(f"no text for block {block!r}")
    return lines


def _wrap(text: str, first: str = "") -> list[str]:
    indent = " " * len(first)
    lines = textwrap.wrap(
        text, WIDTH, initial_indent=first, subsequent_indent=indent, break_on_hyphens=False
    )
    return lines or [""]


def _verdicts(tables: dict[str, pd.DataFrame], experiment: dict, labels: Labels) -> list[str]:
    """The verdict header, then each arm's verdicts in a sentence and its NPV parts in another."""
    differences = tables["differences"]
    parts = differences[differences["kpi"].isin(NPV_PARTS)]
    lines = _verdict_header(differences, experiment, labels)
    for row in tables["verdicts"].itertuples():
        lines.append(f"  {_label(row.point, labels.arm(row.arm))}: {row.sentence}")
        mine = parts[(parts["point"] == row.point) & (parts["arm"] == row.arm)]
        if len(mine):
            rows = [d for _, d in mine.iterrows()]
            lines.append(f"    {stats.sentence(rows, first=False, kpis=labels.kpis)}")
    return lines


def _verdict_header(differences: pd.DataFrame, experiment: dict, labels: Labels) -> list[str]:
    level = differences["level"].iloc[0] * 100
    arms = int(differences["family_size"].max())
    baseline = labels.arm(experiment.get("baseline", "baseline"))
    settings = experiment.get("smallest_effect") or {}
    return [
        "",
        *_wrap(
            f"Against the {baseline.lower()} on the same seeds: simultaneous {level:g}% CIs for"
            f" the {arms} strateg{'ies' if arms != 1 else 'y'} of each KPI ({stats.METHOD}),"
            f" verdicts read off them; negligible means within {thresholds(settings, labels)}:"
        ),
    ]


def _label(point: str, arm: str) -> str:
    return f"{arm} @ {point}" if point else arm


def _table(table: Table) -> list[str]:
    """Aligned columns (numbers to the right), headings wrapped, a line before each group."""
    body = [[c.text + (f" ({c.sub})" if c.sub else "") for c in row] for row in table.rows]
    widths, heads = [], []
    for i, column in enumerate(table.columns):
        width, head = _heading(column, max((len(r[i]) for r in body), default=0))
        widths.append(width)
        heads.append(head)
    height = max(map(len, heads))
    heads = [[""] * (height - len(h)) + h for h in heads]

    def line(texts: list[str]) -> str:
        cells = [
            text.rjust(width) if i in table.numeric else text.ljust(width)
            for i, (text, width) in enumerate(zip(texts, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    lines = [line(list(texts)) for texts in zip(*heads, strict=True)]
    for (group, _), texts in zip(table.headed_rows(), body, strict=True):
        if group is not None:
            lines.append(f"Point: {group}")
        lines.append(line(texts))
    return lines


def _heading(column: str, width: int) -> tuple[int, list[str]]:
    """The narrowest width, at least ``width``, at which a column heading takes at most
    HEADER_LINES lines (without breaking words), and its lines."""
    for w in range(max(width, 1), len(column) + 1):
        head = textwrap.wrap(column, w, break_long_words=False)
        if len(head) <= HEADER_LINES:
            return max(w, *map(len, head)), head
    return max(width, len(column)), [column]
