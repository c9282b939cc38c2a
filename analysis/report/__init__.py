"""The report of a (possibly partial) results store (``python -m experiments.report`` runs it).

:func:`report` reads every stored run, prints per-arm means with 95% CIs and, against the
baseline on the same seeds, a verdict per arm and KPI read off simultaneous intervals (see
``analysis.stats``) with the smallest effects of ``sim.kpis`` (or the experiment's
``experiment.smallest_effect``), and how much common random numbers narrowed the CIs. It writes
``summary.csv`` and ``summary.parquet`` (one row per point and arm), ``differences.csv``/
``.parquet`` (one row per point, arm and KPI) and ``crn.csv`` into the folder (and, for an
experiment run at a calibration's plausible sets, ``plausible_sets.csv`` and
``plausible_summary.csv``: whether each verdict holds across them, ``analysis.plausible``),
draws the figures into ``figures/`` and writes the report: ``report.html`` (self-contained),
``report.md`` and the workbook ``results.xlsx`` (:mod:`.workbook`). Each starts with an
executive summary (:mod:`.executive`): the arms ranked, the recommendation and its caveats (for
plausible sets, read off the verdicts across them: :mod:`.calibration`). Its stages are
logged to go with the progress bars (a command shows them on stderr) and its console lines go to
the caller's ``out``.

One document model (:mod:`.document`), built from the statistics by :func:`.sections.build`, is
rendered three ways: HTML with the Jinja2 templates of ``templates/`` (:mod:`.html`), Markdown
(:mod:`.markdown`) and, in part, console text (:mod:`.console`). KPI labels name the runs'
horizon and arms named after a strategy take its title (:mod:`.labels`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pandas as pd

from analysis import plausible, stats
from analysis.harm import Leavers
from analysis.harm import harm as harm_table
from analysis.inference import Design
from analysis.report import console, html, markdown
from analysis.report import harm as harm_report
from analysis.report.document import Document
from analysis.report.figures import ChartFile, ChartProgress, draw_figures
from analysis.report.labels import Labels
from analysis.report.sections import analysis_sections, build
from analysis.report.settings import replications, sequential_text
from analysis.report.workbook import write_workbook
from analysis.survival import Survival, survival
from runner import store
from runner.config import looks
from sim.progress import PROGRESS

__all__ = [
    "ChartFile",
    "NothingToReport",
    "Written",
    "build",
    "report",
    "statistics",
    "write_report",
]


log = logging.getLogger(__name__)


class NothingToReport(ValueError):
    """A folder with no runs and no analysis to report."""


@dataclass
class Written:
    """What ``write_report`` wrote."""

    html: Path
    md: Path
    figures: Path
    charts: list[ChartFile]
    error: str = ""  # why the figures are missing, if drawing failed
    workbook: Path | None = None


def statistics(results: Path, runs: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The report's tables from the store's successful runs (``runs``: ``store.load(results)``):
    ``arms`` and ``summary`` (empty without successful runs), and with baseline runs
    ``differences``, ``verdicts`` and ``crn``, and for an experiment run at a calibration's
    plausible sets ``plausible_sets`` and ``plausible_summary`` (``analysis.plausible``). KPIs
    missing from the runs (e.g. the NPV parts in older stores) are left out."""
    runs = store.load(results) if runs is None else runs
    meta = store.experiment_meta(results)
    experiment = meta.get("experiment") or {}
    baseline = experiment.get("baseline", "baseline")
    ok = runs[runs["status"] == "ok"] if len(runs) else runs
    if ok.empty:
        return {"summary": pd.DataFrame()}
    kpis = [k for k in stats.KPIS if k in ok.columns]
    tables = {"arms": stats.arm_summary(ok, kpis)}
    if baseline in set(ok["arm"]):
        settings = experiment.get("smallest_effect") or {}
        design = Design(looks(meta))
        tables["differences"] = stats.paired_differences(
            ok, baseline, kpis, smallest_effect=settings, design=design
        )
        labelled = Labels.of(runs, meta).kpis
        tables["verdicts"] = stats.verdicts(tables["differences"], kpis=labelled)
        tables["crn"] = stats.crn_efficiency(ok, baseline)
        if calibration := plausible.record(results):
            by_set = plausible.per_set(tables["differences"], calibration)
            tables["plausible_sets"] = by_set
            tables["plausible_summary"] = plausible.across(
                by_set, list(calibration["parameters"]), labelled
            )
    tables["summary"] = _summary(tables["arms"], tables.get("verdicts"))
    return tables


def report(
    results: Path, out: Callable[[str], object] = log.info, arms: list[str] | None = None
) -> dict[str, pd.DataFrame]:
    """Compute and write the experiment's statistics and its report, giving ``out`` the console
    summary line by line (a command passes ``print``; by default it is logged); returns the
    tables (with ``figures``: name, title, caption, png and svg of every chart drawn). ``arms``
    chooses the arms of the charts (all by default).

    Raises :class:`NothingToReport` for a folder with neither runs nor another analysis."""
    runs = store.load(results)
    if damaged := store.damaged_line(runs):
        out(damaged)
    runs = store.without_damaged(runs)
    if runs.empty:
        written = _analyses_only(results)
        if written is None:
            raise NothingToReport(
                f"nothing to report in {results}: a results folder holds the runs of an"
                " experiment (runs/ and plan.csv) or of an analysis; make one with"
                " `./testbed compare output.dir=...`"
            )
        out(f"Report: {written}")
        return {}
    stage("Statistics")
    tables = statistics(results, runs)
    meta = store.experiment_meta(results)
    experiment = meta.get("experiment") or {}
    labels = Labels.of(runs, meta)
    sequential = sequential_text(meta, tables.get("differences"))
    calibration = plausible.record(results)
    reps, _ = replications(meta, runs)
    for line in console.summary(tables, runs, experiment, labels, sequential, calibration, reps):
        out(line)
    _write_tables(results, tables)
    written = write_report(results, tables, runs, arms=arms)
    columns = [f.name for f in fields(ChartFile)]
    tables["figures"] = pd.DataFrame([asdict(c) for c in written.charts], columns=columns)
    for line in harm_report.console_lines(tables.get("harm"), labels):
        out(line)
    for line in console.written(written):
        out(line)
    for line in console.executive(tables, experiment, labels, reps, calibration):
        out(line)
    return tables


def write_report(
    results: Path,
    tables: dict[str, pd.DataFrame],
    runs: pd.DataFrame | None = None,
    charts: list | None = None,
    arms: list[str] | None = None,
) -> Written:
    """Draw the figures (unless ``charts`` are given; ``arms`` chooses their arms) and write
    report.html, report.md and results.xlsx; adds ``harm`` (:func:`who_gets_hurt`) to
    ``tables``.

    ``tables`` are :func:`statistics`'; ``runs`` is ``store.load(results)`` (loaded if None).
    A failure to draw the figures does not stop the report: it says why they are missing (and
    the traceback is logged as a warning).
    """
    results = Path(results)
    figures = results / "figures"
    error = ""
    if charts is None:
        stage("Charts")
        charts, failure = draw_figures(results, tables, figures, arms, ChartProgress())
        if failure:
            log.warning("the figures could not be drawn:\n%s", failure.rstrip(), extra=PROGRESS)
            error = failure.strip().splitlines()[-1]
    charts = [ChartFile.of(c) for c in charts]
    runs = store.load(results) if runs is None else runs
    stage("Survival")
    curves = survival(results, runs)  # after the charts: reading panels starts Arrow's threads
    if not (hurt := who_gets_hurt(results, runs)).empty:
        tables["harm"] = hurt  # read after the charts too, for the same reason
    stage("Report")
    doc = build(results, tables, runs, charts, error, curves)
    html_path, md_path = results / "report.html", results / "report.md"
    _write_text(html_path, html.render(doc))
    _write_text(md_path, markdown.render(doc, results))
    stage("Workbook")
    workbook = _workbook(results, tables, runs, curves)
    return Written(html_path, md_path, figures, charts, error, workbook)


def who_gets_hurt(results: Path, runs: pd.DataFrame) -> pd.DataFrame:
    """The store's who-gets-hurt table (:func:`analysis.harm.harm`; empty without a baseline or
    leavers): its runs' leavers against the baseline's on the same seeds."""
    baseline = (store.experiment_meta(results).get("experiment") or {}).get("baseline", "baseline")
    return harm_table(Leavers.load(results, runs), baseline)


def stage(name: str) -> None:
    """Announce a stage of the report ("Charts…"), with the progress bars."""
    log.info("%s…", name, extra=PROGRESS)


def _workbook(
    results: Path, tables: dict[str, pd.DataFrame], runs: pd.DataFrame, curves: Survival
) -> Path:
    """results.xlsx of the report's tables, the runs' monthly series and retention curves."""
    meta = store.experiment_meta(results)
    config = meta or (store.run_config(results, str(runs["run_id"].iloc[0])) if len(runs) else {})
    rate = (config.get("economics") or {}).get("discount_rate")
    reps, _ = replications(meta, runs)
    facts = {"Seeds": f"{reps} per strategy, the same for every strategy (common random numbers)"}
    if rate is not None:
        facts["Discount rate"] = f"{float(rate):.1%} a year, for NPV and discounted profit"
    monthly = store.load_timeseries(results, _with_timeseries(results, runs)) if len(runs) else None
    path = results / "results.xlsx"
    return write_workbook(path, tables, monthly, Labels.of(runs, meta), facts, rate, curves)


def _with_timeseries(results: Path, runs: pd.DataFrame) -> pd.DataFrame:
    """The runs whose folder holds a time series."""
    folder = store.runs_folder(results)
    return runs[runs["run_id"].map(lambda i: (folder / str(i) / "timeseries.parquet").is_file())]


def _analyses_only(results: Path) -> Path | None:
    """report.html and report.md of a folder whose analysis keeps no runs in a store (an
    optimisation's Pareto front); the HTML report's path, or None without any analysis."""
    sections = analysis_sections(results)
    if not sections:
        return None
    doc = Document(f"Results: {results.resolve().name}", "", [], sections)
    html_path = results / "report.html"
    _write_text(html_path, html.render(doc))
    _write_text(results / "report.md", markdown.render(doc, results))
    return html_path


def _summary(arms: pd.DataFrame, verdicts: pd.DataFrame | None) -> pd.DataFrame:
    """One row per (point, arm): n and each KPI's mean and 95% CI; the verdicts if any."""
    wide = arms.pivot_table(
        index=["point", "arm"], columns="kpi", values=["mean", "ci_low", "ci_high"], sort=False
    )
    wide.columns = [f"{kpi}_{stat}".replace("_mean", "") for stat, kpi in wide.columns]
    n = arms.groupby(["point", "arm"], sort=False)["n"].max().rename("n")
    summary = pd.concat([n, wide], axis=1).reset_index()
    if verdicts is not None:
        roles = [f"{r}_{c}" for r in stats.ROLES for c in ("verdict", "seeds_needed")]
        keep = ["point", "arm", *roles, "sentence"]
        summary = summary.merge(verdicts[keep], on=["point", "arm"], how="left")
    return summary


def _write_tables(results: Path, tables: dict[str, pd.DataFrame]) -> None:
    for name in ("summary", "differences"):
        if name in tables:
            tables[name].to_csv(results / f"{name}.csv", index=False)
            tables[name].to_parquet(results / f"{name}.parquet", index=False)
    for name, file in CSV.items():
        if name in tables:
            tables[name].to_csv(results / file, index=False)


CSV = {
    "crn": "crn.csv",
    "plausible_sets": plausible.SETS_CSV,
    "plausible_summary": plausible.SUMMARY_CSV,
}
"""The tables written as CSV only, and their files."""


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
