"""The experiment report as one page: ``report.html`` (self-contained) and ``report.md``.

``write_report(results, tables)`` draws the charts (``plots.draw_all`` into ``figures/``), reads
the runs' provenance and the experiment's config, and writes both files into the results folder.
Both come from one document model, so they carry the same content: the experiment's title and
description; the verdict table (per arm, and point, the retention and NPV differences against the
baseline with simultaneous 95% CIs and the verdicts read off them; NPV in parts and the other
retention measures; the arm means); the figures with their titles and
captions; how much common random numbers narrowed the CIs; the configuration (arms and their
overrides, replications and seeds, grid or sample, key scenario settings); provenance (git
commit, package versions, run counts, time span); and how to read it all.

``report.html`` loads nothing from anywhere: the figures are embedded as base64 PNG data URIs,
the CSS is inline, there are no scripts, fonts, stylesheets or links to other pages. Every text
that goes into it is escaped. ``report.md`` references ``figures/*.png`` by relative path.
"""

from __future__ import annotations

import base64
import html
import json
import math
import multiprocessing
import os
import re
import sys
import threading
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from experiments import store
from experiments.config import AUTO, EXPERIMENT_KEYS
from sim.kpis import NPV_PARTS, REGISTRY, Kpi, decimals, thresholds_text
from analysis.stats import BETTER, NEGLIGIBLE, UNDECIDED, VERDICTS, WORSE

MEANS = ("retention_12m", "retention_horizon", "retention_mid_high", "aum_retention", "npv")
"""The KPIs of the arm means table."""
MORE_KPIS = {  # tables of differences after the verdict table: heading -> (KPIs, note)
    "NPV in parts": (
        (*NPV_PARTS, "npv"),
        "Opening book: the customers active when burn-in ends; newcomers: those who joined"
        " later, net of their acquisition cost; fixed costs: branches, staff and strategies'"
        " fixed costs. The three add up to NPV.",
    ),
    "Other retention measures": (
        ("retention_12m", "retention_mid_high", "aum_retention"),
        "Retention of the cohort at 12 months, of its mid and high tiers, and of its AUM.",
    ),
}
SCENARIO_KEYS = (  # shown whatever their value, when the scenario has them
    "seed",
    "months",
    "burn_in",
    "population.customers",
    "population.weights",
    "bank.branches",
    "bank.managers",
    "economics.discount_rate",
)
NOT_SCENARIO = ("seed", "output", "strategy", *EXPERIMENT_KEYS)
TONES = {BETTER: "better", WORSE: "worse", NEGLIGIBLE: "neutral", UNDECIDED: "undecided"}
"""The colour of each verdict."""


# --------------------------------------------------------------------------------------------
# The document model, rendered as HTML and as Markdown
# --------------------------------------------------------------------------------------------


@dataclass
class Cell:
    text: str
    sub: str = ""  # a second, smaller line (e.g. a CI)
    tone: str = ""  # "better", "worse", "neutral" or "" (the verdict's colour)
    code: bool = False  # monospace (config keys and overrides)
    title: str = ""  # the full text, when ``text`` is shortened


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Cell]]
    numeric: frozenset[int] = frozenset()  # right-aligned columns
    kind: str = ""  # CSS class
    groups: list[str] | None = None  # each row's parameter point: a heading row in HTML whenever
    # it changes, a first column in Markdown


@dataclass
class Para:
    text: str
    note: bool = False  # smaller, muted


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Figure:
    number: int
    name: str
    title: str
    caption: str
    png: Path


@dataclass
class Heading:
    text: str


@dataclass
class Section:
    id: str
    title: str
    blocks: list = field(default_factory=list)


@dataclass
class Document:
    title: str
    description: str
    facts: list[str]  # one line under the title
    sections: list[Section]


@dataclass
class ChartFile:
    """A drawn chart (``plots.Chart`` without its matplotlib figure)."""

    name: str
    title: str
    caption: str
    png: Path
    svg: Path


@dataclass
class Written:
    """What ``write_report`` wrote."""

    html: Path
    md: Path
    figures: Path
    charts: list[ChartFile]
    error: str = ""  # why the figures are missing, if drawing failed


def write_report(
    results: Path,
    tables: dict[str, pd.DataFrame],
    runs: pd.DataFrame | None = None,
    charts: list | None = None,
) -> Written:
    """Draw the figures (unless ``charts`` are given) and write report.html and report.md.

    ``tables`` are ``report.report``'s; ``runs`` is ``store.load(results)`` (loaded if None).
    A failure to draw the figures does not stop the report: it says why they are missing (and
    the traceback goes to stderr).
    """
    results = Path(results)
    figures = results / "figures"
    error = ""
    if charts is None:
        charts, failure = draw_figures(results, tables, figures)
        if failure:
            print(failure, file=sys.stderr, end="")
            error = failure.strip().splitlines()[-1]
    charts = [_chart_file(c) for c in charts]
    if runs is None:
        runs = store.load(results)
    doc = build(results, tables, runs, charts, error)
    html_path, md_path = results / "report.html", results / "report.md"
    _write_text(html_path, render_html(doc))
    _write_text(md_path, render_markdown(doc, results))
    return Written(html_path, md_path, figures, charts, error)


def draw_figures(
    results: Path, tables: dict[str, pd.DataFrame], figures: Path
) -> tuple[list[ChartFile], str]:
    """``plots.draw_all`` into ``figures`` (stale images of earlier reports removed): the charts
    and, if drawing failed, the traceback.

    Drawing happens in a forked child process when this process has no helper threads yet: the
    charts read the runs' Parquet files, which starts Arrow's thread pool, and the process must
    stay thread-free to fork the workers of a next experiment safely (``experiments/__init__``).
    A process that has threads already gains nothing from that (and should not fork): it draws.
    """
    if (
        "fork" not in multiprocessing.get_all_start_methods()
        or multiprocessing.current_process().daemon  # may not have children
        or _has_threads()
    ):
        return _draw(results, tables, figures)
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_draw_in_child, args=(send, results, tables, figures))
    child.start()
    send.close()
    try:
        charts, failure = receive.recv()
    except EOFError:
        charts, failure = [], "RuntimeError: the process drawing the figures died\n"
    finally:
        receive.close()
        child.join()
    return charts, failure


def _has_threads() -> bool:
    try:
        return len(os.listdir("/proc/self/task")) > 1  # native threads too (Linux)
    except OSError:
        return threading.active_count() > 1


def _draw(results: Path, tables, figures: Path) -> tuple[list[ChartFile], str]:
    try:
        from analysis import charts as plots

        charts = [_chart_file(c) for c in plots.draw_all(results, tables, figures)]
        _remove_stale(figures, charts)
        return charts, ""
    except Exception:  # the statistics are worth a report without figures
        return [], traceback.format_exc()


def _draw_in_child(send, results: Path, tables, figures: Path) -> None:
    try:
        send.send(_draw(results, tables, figures))
    finally:
        send.close()


def _chart_file(chart) -> ChartFile:
    return ChartFile(
        str(chart.name), str(chart.title), str(chart.caption), Path(chart.png), Path(chart.svg)
    )


def _remove_stale(figures: Path, charts: list) -> None:
    """Remove the images of charts an earlier report drew and this one did not."""
    keep = {Path(p).resolve() for c in charts for p in (c.png, c.svg)}
    for path in [*figures.glob("*.png"), *figures.glob("*.svg")]:
        if path.resolve() not in keep:
            path.unlink()


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# Building the document
# --------------------------------------------------------------------------------------------


def build(
    results: Path,
    tables: dict[str, pd.DataFrame],
    runs: pd.DataFrame,
    charts: list,
    error: str = "",
) -> Document:
    meta = store.experiment_meta(results)
    e = meta.get("experiment", {}) or {}
    baseline = e.get("baseline", "baseline")
    records = _provenance(results, runs)
    scenario = meta or _first_config(results, runs)
    summary = tables.get("summary", pd.DataFrame())
    points = [p for p in pd.unique(summary.get("point", pd.Series(dtype=str))) if p]
    short = _short_points(points)
    arm_names = list(pd.unique(summary["arm"])) if len(summary) else []

    title = f"Experiment: {e['name']}" if e.get("name") else f"Results: {results.resolve().name}"
    description = e.get("description") or (
        "" if e else "Runs stored without an experiment plan, grouped by their strategies."
    )
    reps, auto = _replications(meta, runs)
    facts = [
        f"{len(arm_names)} arms",
        f"{reps} seeds each{' (replications=auto)' if auto else ''}" if reps else "",
        f"{len(points)} parameter points" if points else "",
        f"baseline: {baseline}" if baseline in arm_names else "no baseline runs",
        _run_counts(runs),
        f"written {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
    ]
    sections = [
        _verdict_section(tables, baseline, short, e.get("smallest_effect") or {}),
        _figure_section(charts, error),
        _crn_section(tables, short),
        _config_section(meta, scenario, runs, arm_names, baseline),
        _provenance_section(results, runs, records),
        _reading_section(reps, bool(points), e.get("smallest_effect") or {}),
    ]
    return Document(title, description, [f for f in facts if f], sections)


def _verdict_section(tables, baseline: str, short: dict[str, str], settings: dict) -> Section:
    section = Section("verdicts", "Verdicts against the baseline")
    summary = tables.get("summary")
    if summary is None or summary.empty:
        section.blocks.append(Para("No successful runs yet."))
        return section
    verdicts = tables.get("verdicts")
    if verdicts is None:
        section.blocks.append(
            Para(f"No runs of the baseline arm {baseline!r}: no differences or verdicts.")
        )
    else:
        section.blocks.append(Para(_headline(verdicts, baseline)))
    by_key = {} if verdicts is None else {(r["point"], r["arm"]): r for r in _records(verdicts)}
    columns = [
        "Arm",
        "Runs",
        "Retention, %",
        "Δ retention, pts",
        "Retention verdict",
        "NPV, CNY M",
        "Δ NPV, CNY M",
        "NPV verdict",
    ]
    rows = []
    for row in _records(summary):
        cells = [
            Cell(row["arm"], sub=_baseline_mark(row["arm"], baseline)),
            Cell(_int(row.get("n"))),
        ]
        v = by_key.get((row["point"], row["arm"]))
        for role, kpi in (("retention", "retention_horizon"), ("profit", "npv")):
            cells.append(_mean_cell(row, kpi))
            if v is None:
                empty = "—" if row["arm"] == baseline else "no pairs"
                cells += [Cell("—"), Cell(empty, tone="")]
                continue
            d = {k: v[f"{role}_{k}"] for k in ("n", "ci_low", "ci_high", "verdict", "seeds_needed")}
            d["mean_diff"] = v[f"{role}_diff"]
            cells += [_diff_cell(kpi, d), _verdict_cell(d)]
        rows.append(cells)
    numeric = frozenset({1, 2, 3, 5, 6})
    groups = _groups(summary, short)
    section.blocks.append(Table(columns, rows, numeric, kind="verdicts", groups=groups))
    section.blocks.append(
        Para(
            "Retention at the horizon (the cohort active after burn-in) and NPV, means over seeds"
            " ± the 95% CI half-width; Δ is arm − baseline paired on the same seeds, with its"
            " simultaneous 95% CI below (one interval per arm, all holding together). The"
            " verdict is read off that interval: negligible when it lies within the smallest"
            f" effect worth acting on ({thresholds_text(settings)}), better or worse when it"
            " excludes 0 and the difference is at least that effect, undecided otherwise.",
            note=True,
        )
    )
    section.blocks += _more_differences(tables.get("differences"), short)
    section.blocks.append(Heading("Arm means"))
    kpis = [k for k in MEANS if k in summary.columns]
    columns = ["Arm", "Runs", *(f"{REGISTRY[k].label}, {REGISTRY[k].unit_label()}" for k in kpis)]
    rows = [
        [Cell(row["arm"]), Cell(_int(row.get("n"))), *(_mean_cell(row, k) for k in kpis)]
        for row in _records(summary)
    ]
    numeric = frozenset(range(1, len(columns)))
    section.blocks.append(Table(columns, rows, numeric, kind="means", groups=groups))
    section.blocks.append(Para("Means over seeds ± the 95% CI half-width.", note=True))
    return section


def _more_differences(differences: pd.DataFrame | None, short: dict[str, str]) -> list:
    """A table of differences and verdicts per heading of MORE_KPIS whose KPIs the runs have
    (beyond NPV, which the verdict table shows)."""
    blocks = []
    if differences is None or differences.empty:
        return blocks
    wide = differences.set_index(["point", "arm", "kpi"])
    keys = differences[["point", "arm"]].drop_duplicates()
    for heading, (wanted, note) in MORE_KPIS.items():
        kpis = [k for k in wanted if k in set(differences["kpi"])]
        if not set(kpis) - {"npv"}:
            continue
        rows = [
            [Cell(arm), *(_diff_cell(k, wide.loc[(point, arm, k)], verdict=True) for k in kpis)]
            for point, arm in keys.itertuples(index=False)
        ]
        columns = ["Arm", *(REGISTRY[k].axis(delta=True) for k in kpis)]
        numeric = frozenset(range(1, len(columns)))
        blocks.append(Heading(heading))
        blocks.append(Table(columns, rows, numeric, "differences", _groups(keys, short)))
        blocks.append(
            Para(
                "Arm − baseline on the same seeds, with its simultaneous 95% CI and verdict"
                f" below. {note}",
                note=True,
            )
        )
    return blocks


def _diff_cell(kpi: str, d, verdict: bool = False) -> Cell:
    """A difference with its interval below (and its verdict, when asked), in its tone."""
    k = REGISTRY[kpi]
    diff, low, high = d["mean_diff"], d["ci_low"], d["ci_high"]
    digits = decimals(*(x * k.scale for x in (diff, low, high)))
    sub = _interval(k, low, high, digits) + (f" · {d['verdict']}" if verdict else "")
    return Cell(k.number(diff, digits, sign=True), sub=sub, tone=TONES.get(d["verdict"], ""))


def _verdict_cell(d) -> Cell:
    """The verdict, with the seeds it used (or would need) below."""
    verdict, n, needed = d["verdict"], d["n"], d["seeds_needed"]
    sub = f"{_int(n)} seeds"
    if verdict == UNDECIDED and _finite(needed):
        sub = f"{_int(n)} seeds; about {int(needed):,} would decide"
    return Cell(verdict, sub=sub, tone=TONES.get(verdict, ""))


def _headline(verdicts: pd.DataFrame, baseline: str) -> str:
    n = len(verdicts)
    parts = []
    for role, label in (("retention", "Retention"), ("profit", "NPV")):
        counts = verdicts[f"{role}_verdict"].value_counts()
        told = [f"{counts.get(v, 0)} {v}" for v in VERDICTS]
        parts.append(f"{label}: {', '.join(told)}.")
    what = "arm-and-point comparisons" if verdicts["point"].astype(bool).any() else "arms"
    return f"{n} {what} against {baseline!r} on the same seeds. " + " ".join(parts)


def _figure_section(charts: list, error: str) -> Section:
    section = Section("figures", "Figures")
    if error:
        section.blocks.append(Para(f"The figures could not be drawn: {error}"))
    elif not charts:
        section.blocks.append(Para("No figures for these runs."))
    for number, chart in enumerate(charts, 1):
        section.blocks.append(
            Figure(number, str(chart.name), str(chart.title), str(chart.caption), Path(chart.png))
        )
    return section


def _crn_section(tables, short: dict[str, str]) -> Section:
    section = Section("crn", "Common random numbers")
    crn = tables.get("crn")
    if crn is None or crn.empty:
        section.blocks.append(Para("No paired runs against a baseline to measure."))
        return section
    finite = crn.replace([np.inf, -np.inf], np.nan).dropna(subset=["ratio"])
    finite = finite[finite["ratio"] > 0]
    if finite.empty:
        if (crn["ratio"] == 0).any():
            text = (
                "The paired differences in retention are constant across seeds for every arm"
                " that could be measured: the paired CIs have no width at all, while independent"
                " seeds would have given the widths below."
            )
        else:
            text = "Too few varying paired runs to measure the effect of common random numbers."
    else:
        text = (
            "Every arm runs on the baseline's seeds, so differences are paired seed by seed."
            f" The paired 95% CIs of the retention difference are {finite['ratio'].median():.2f}x"
            " as wide as independent seeds would give (median over arms), worth about"
            f" {finite['equivalent_replications'].median():,.0f}x the replications."
        )
    section.blocks.append(Para(text))
    columns = [
        "Arm",
        "Pairs",
        "Correlation",
        "Paired CI ±, pts",
        "Independent CI ±, pts",
        "Width ratio",
        "Worth × replications",
    ]
    retention = REGISTRY["retention_horizon"]
    rows = []
    for row in _records(crn):
        eq = row["equivalent_replications"]
        rows.append(
            [
                Cell(row["arm"]),
                Cell(_int(row["n"])),
                Cell(_num(row["correlation"], 3)),
                Cell(retention.number(row["paired_half_width"], 2)),
                Cell(retention.number(row["independent_half_width"], 2)),
                Cell(_num(row["ratio"], 2)),
                Cell("∞" if eq == math.inf else _num(eq, 0)),
            ]
        )
    numeric = frozenset(range(1, len(columns)))
    section.blocks.append(Table(columns, rows, numeric, kind="crn", groups=_groups(crn, short)))
    section.blocks.append(
        Para(
            "Retention at the horizon. Paired: the CI of the per-seed differences. Independent:"
            " the Welch CI the same runs give when treated as unpaired, an estimate of what"
            " independent seeds would give. Worth: (independent / paired)², the factor of"
            " independent replications that would give the paired CI's width.",
            note=True,
        )
    )
    return section


def _config_section(meta: dict, scenario: dict, runs, arm_names, baseline) -> Section:
    section = Section("config", "Configuration")
    e = meta.get("experiment", {}) or {}
    ok = runs[runs["status"] == "ok"] if len(runs) else runs
    pairs: list[tuple[str | Cell, Cell]] = []
    if e:
        pairs.append(("Experiment", Cell(str(e.get("name", "")))))
        pairs.append(("Baseline arm", Cell(str(baseline))))
    reps, auto = _replications(meta, runs)
    seeds = sorted({int(s) for s in runs["seed"].dropna()}) if len(runs) else []
    if reps:
        rule = (
            f"auto (first {meta.get('replications_min')} seeds, then"
            f" {meta.get('replications_batch')} at a time up to {meta.get('replications_max')},"
            f" until every verdict on {', '.join(e.get('decision_kpis') or [])} is decided): "
            if auto
            else ""
        )
        where = " and point" if _has_points(e) else ""
        text = f"{rule}{reps} per arm{where}, seeds {_ranges(seeds)}, the same for every arm"
        pairs.append(("Replications", Cell(text)))
    if e:
        pairs.append(("Parameter points", Cell(_points_text(e))))
        common = e.get("overrides") or []
        pairs.append(
            ("Overrides for every arm", Cell(" ".join(map(str, common)) or "none", code=True))
        )
        executor = meta.get("executor", {}) or {}
        if executor.get("kind"):
            pairs.append(("Executor", Cell(str(executor["kind"]))))
    for key in SCENARIO_KEYS:
        value = _setting(scenario, key)
        if value is not None and not (key == "seed" and seeds):
            pairs.append((Cell(key, code=True), Cell(_value(value))))
    changed = _changed_from_defaults(dict(_flatten(scenario)))
    if changed:
        pairs.append(("Changed from the default scenario", Cell("; ".join(changed), code=True)))
    section.blocks.append(_pairs_table(pairs))

    arms_cfg = e.get("arms") or {}
    section.blocks.append(Heading("Arms"))
    rows = []
    planned = runs.groupby("arm").size() if len(runs) else pd.Series(dtype=int)
    done = ok.groupby("arm").size() if len(ok) else pd.Series(dtype=int)
    for arm in arm_names or list(arms_cfg):
        overrides = arms_cfg.get(arm)
        if overrides is None:
            text = "strategies: " + arm if not e else "—"
        else:
            text = " ".join(map(str, overrides)) or "none (the scenario as it is)"
        rows.append(
            [
                Cell(arm, sub=_baseline_mark(arm, baseline)),
                Cell(text, code=overrides is not None and bool(overrides)),
                Cell(f"{int(done.get(arm, 0))} / {int(planned.get(arm, 0))}"),
            ]
        )
    section.blocks.append(Table(["Arm", "Overrides", "Runs ok / planned"], rows, frozenset({2})))
    skipped = [a for a in arms_cfg if a not in arm_names]
    if skipped and e.get("only"):
        section.blocks.append(Para(f"Not run (experiment.only): {', '.join(skipped)}.", note=True))

    grid = e.get("grid") or {}
    sample = e.get("sample") or {}
    if grid:
        section.blocks.append(Heading("Grid"))
        rows = [[Cell(k, code=True), Cell(", ".join(map(_value, v)))] for k, v in grid.items()]
        section.blocks.append(Table(["Key", "Values"], rows))
    elif sample.get("method", "none") != "none":
        section.blocks.append(
            Heading(f"Sample ({sample['method']}, {sample.get('points')} points)")
        )
        rows = [
            [Cell(k, code=True), Cell(_value(lo)), Cell(_value(hi))]
            for k, (lo, hi) in (sample.get("ranges") or {}).items()
        ]
        section.blocks.append(Table(["Key", "Low", "High"], rows, frozenset({1, 2})))
    return section


def _provenance_section(results: Path, runs: pd.DataFrame, records: dict) -> Section:
    section = Section("provenance", "Provenance")
    pairs: list[tuple[str, Cell]] = [("Results folder", Cell(str(results.resolve()), code=True))]
    pairs.append(("Runs", Cell(_run_counts(runs, planned=True))))
    started = [_time(r.get("started")) for r in records.values()]
    finished = [_time(r.get("finished")) for r in records.values()]
    started = [t for t in started if t is not None]
    finished = [t for t in finished if t is not None]
    if started and finished:
        first, last = min(started), max(finished)
        span = f"{first:%Y-%m-%d %H:%M:%S} to {last:%Y-%m-%d %H:%M:%S} UTC"
        pairs.append(("Time span of the runs", Cell(span, sub=_duration(last - first))))
    commits: dict[tuple, int] = {}
    for r in records.values():
        key = (r.get("git_commit"), r.get("git_dirty"))
        commits[key] = commits.get(key, 0) + 1
    for (commit, dirty), n in sorted(commits.items(), key=lambda kv: -kv[1]):
        state = {True: "dirty: uncommitted changes", False: "clean", None: "unknown"}[dirty]
        where = f"{n} runs" if len(commits) > 1 else ""
        pairs.append(
            (
                "Git commit",
                Cell(
                    str(commit or "not in a git checkout"),
                    sub=", ".join(filter(None, [state, where])),
                    code=True,
                ),
            )
        )
    pythons = sorted({str(r.get("python")) for r in records.values() if r.get("python")})
    if pythons:
        pairs.append(("Python", Cell(", ".join(pythons))))
    packages: dict[str, set] = {}
    for r in records.values():
        for name, version in (r.get("packages") or {}).items():
            packages.setdefault(name, set()).add(str(version))
    if packages:
        text = ", ".join(f"{k} {' / '.join(sorted(v))}" for k, v in packages.items())
        pairs.append(("Packages", Cell(text)))
    section.blocks.append(_pairs_table(pairs))

    failed = runs[runs["status"] == "failed"] if len(runs) else runs
    if len(failed):
        section.blocks.append(Heading("Failed runs"))
        rows = []
        for row in _records(failed.head(20)):
            error = str(row.get("error") or "").strip().splitlines()
            rows.append(
                [
                    Cell(str(row["arm"])),
                    Cell(_value(row.get("seed"))),
                    Cell(str(row["run_id"]), code=True),
                    Cell(error[-1] if error else ""),
                ]
            )
        section.blocks.append(Table(["Arm", "Seed", "Run", "Error"], rows))
        if len(failed) > 20:
            section.blocks.append(Para(f"… and {len(failed) - 20} more.", note=True))
        section.blocks.append(Para("Tracebacks are in runs/<run id>/provenance.json.", note=True))
    return section


def _reading_section(reps, points: bool, settings: dict) -> Section:
    section = Section("reading", "How to read this report")
    at = " and point" if points else ""
    each = " at each point" if points else ""
    items = [
        "Every arm runs on the same seeds as the baseline (common random numbers), so each"
        f" difference is paired seed by seed{at}: arm − baseline.",
        f"A mean is shown ± the half-width of its 95% Student-t CI over the {reps or 'n'} seeds."
        " A difference is shown with its simultaneous 95% CI, 'low to high': the intervals of"
        f" all arms for one KPI{each} are Bonferroni-adjusted so that they hold together, with"
        " 95% confidence, however many arms are compared.",
        "The verdict is read off that interval. Negligible: the whole interval lies within the"
        f" smallest effect worth acting on ({thresholds_text(settings)}); better or worse: the"
        " interval excludes 0, so the difference is real in this model, not seed noise, and it"
        " is at least the smallest effect; undecided: the seeds run cannot tell yet, and the"
        " report says about how many would.",
        "Retention is the share of the customers active after burn-in still with the bank at"
        " the horizon, in %; differences in percentage points (pts). NPV is the discounted"
        " profit over the measured months, in CNY millions for the real bank.",
    ]
    section.blocks.append(Bullets(items))
    return section


# --------------------------------------------------------------------------------------------
# Reading runs and configs
# --------------------------------------------------------------------------------------------


def _provenance(results: Path, runs: pd.DataFrame) -> dict[str, dict]:
    """run id -> provenance record of every stored run in ``runs``."""
    out = {}
    if runs.empty:
        return out
    for run_id in pd.unique(runs.loc[runs["status"] != "missing", "run_id"]):
        path = store.runs_folder(results) / str(run_id) / "provenance.json"
        if path.exists():
            out[str(run_id)] = json.loads(path.read_text())
    return out


def _first_config(results: Path, runs: pd.DataFrame) -> dict:
    """The scenario of a store without experiment.yaml: its first run's config."""
    for run_id in runs.get("run_id", []):
        path = store.runs_folder(results) / str(run_id) / "config.yaml"
        if path.exists():
            return yaml.safe_load(path.read_text()) or {}
    return {}


def _flatten(node: dict, prefix: str = ""):
    for key, value in (node or {}).items():
        if isinstance(value, dict) and value:
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _setting(scenario: dict, key: str):
    """The value of a dotted key in a nested config, or None when it has no such key."""
    node = scenario
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _changed_from_defaults(flat: dict) -> list[str]:
    """'key: default -> value' of the scenario settings that differ from configs/' defaults."""
    try:
        from sim.api import config_yaml, load_config

        defaults = dict(_flatten(yaml.safe_load(config_yaml(load_config([])))))
    except Exception:  # a report is still a report without this line
        return []
    changed = []
    for key, value in flat.items():
        if key.split(".")[0] in NOT_SCENARIO:
            continue
        if key not in defaults:
            changed.append(f"{key}={_value(value)}")
        elif defaults[key] != value:
            changed.append(f"{key}: {_value(defaults[key])} → {_value(value)}")
    return changed


def _replications(meta: dict, runs: pd.DataFrame) -> tuple[int, bool]:
    """Seeds per arm (the configured number, else the most any arm and point has) and whether
    they were chosen by ``replications=auto``."""
    configured = meta.get("replications")
    if isinstance(configured, int) and not isinstance(configured, bool):
        return configured, False
    if runs.empty or "point" not in runs:
        return 0, configured == AUTO
    return int(runs.groupby(["point", "arm"])["seed"].nunique().max()), configured == AUTO


def _has_points(e: dict) -> bool:
    return bool(e.get("grid")) or (e.get("sample") or {}).get("method", "none") != "none"


def _points_text(e: dict) -> str:
    grid = e.get("grid") or {}
    sample = e.get("sample") or {}
    if grid:
        sizes = [len(v) for v in grid.values()]
        return f"grid over {len(grid)} keys, {' × '.join(map(str, sizes))} = {math.prod(sizes)}"
    if sample.get("method", "none") != "none":
        return f"{sample['method']} sample of {sample.get('points')} points"
    return "none: one scenario"


def _run_counts(runs: pd.DataFrame, planned: bool = False) -> str:
    if runs.empty:
        return "no runs"
    unique = runs.drop_duplicates("run_id")
    counts = unique["status"].value_counts()
    text = ", ".join(f"{int(counts.get(s, 0))} {s}" for s in ("ok", "failed", "missing"))
    return f"runs: {text}" if not planned else f"{text} (of {len(unique)} planned)"


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


def _records(df: pd.DataFrame) -> list[dict]:
    records = df.to_dict("records")
    for r in records:
        r["point"] = "" if pd.isna(r.get("point", "")) else str(r.get("point", ""))
        r["arm"] = str(r["arm"]) if "arm" in r else ""
    return records


def _finite(x) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _num(x, digits: int = 1) -> str:
    return f"{float(x) + 0.0:,.{digits}f}" if _finite(x) else "—"  # no "-0.0" for a zero


def _int(x) -> str:
    return str(int(x)) if _finite(x) else "—"


def _interval(kpi: Kpi, low, high, digits: int = 1) -> str:
    if not (_finite(low) and _finite(high)):
        return "no CI"
    return f"{kpi.number(low, digits, sign=True)} to {kpi.number(high, digits, sign=True)}"


def _mean_cell(row: dict, kpi: str) -> Cell:
    k = REGISTRY[kpi]
    mean, low, high = row.get(kpi), row.get(f"{kpi}_ci_low"), row.get(f"{kpi}_ci_high")
    if not _finite(mean):
        return Cell("—")
    text = k.number(mean)
    if _finite(low) and _finite(high):
        text += " ± " + k.number((float(high) - float(low)) / 2)
    return Cell(text)


def _short_points(points: list[str]) -> dict[str, str]:
    """Point label -> a shorter one: each key by its last part when that is unambiguous."""
    keys = {k for p in points for k, _, _ in (part.partition("=") for part in p.split(","))}
    lasts = [k.rsplit(".", 1)[-1] for k in keys]
    short = len(set(lasts)) == len(lasts)
    out = {}
    for p in points:
        parts = [part.partition("=") for part in p.split(",")]
        out[p] = ", ".join(
            f"{k.rsplit('.', 1)[-1] if short else k}={_value(_parse(v))}" for k, _, v in parts
        )
    return out


def _parse(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _baseline_mark(arm: str, baseline: str) -> str:
    return "the baseline" if arm == baseline and arm != "baseline" else ""


def _groups(df: pd.DataFrame, short: dict[str, str]) -> list[str] | None:
    """Each row's parameter point, shortened, when there are points."""
    if not short:
        return None
    return [short.get(p, p) or "—" for p in (r["point"] for r in _records(df))]


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:,.0f}" if v.is_integer() and abs(v) >= 1e4 else f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(map(_value, v)) + "]"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_value(x)}" for k, x in v.items())
    if v is None:
        return "none"
    return str(v)


def _time(text) -> datetime | None:
    try:
        t = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def _duration(delta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _ranges(values: list[int]) -> str:
    """[0, 1, 2, 5] -> '0–2, 5'."""
    if not values:
        return "—"
    parts, start = [], values[0]
    for prev, cur in zip(values, [*values[1:], None], strict=True):
        if cur is None or cur != prev + 1:
            parts.append(str(start) if start == prev else f"{start}–{prev}")
            start = cur
    return ", ".join(parts)


def _pairs_table(pairs: list[tuple[str | Cell, Cell]]) -> Table:
    rows = [[k if isinstance(k, Cell) else Cell(k), v] for k, v in pairs]
    return Table(["Setting", "Value"], rows, kind="pairs")


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

CSS = """
:root { --ink: #1a1a1a; --muted: #555; --rule: #c9ced6; --head: #eef1f5;
  --better: #d6f0da; --better-ink: #135c22; --worse: #f8d7d5; --worse-ink: #8a1a12;
  --neutral: #eceff2; --neutral-ink: #3d4650; --undecided: #fdf3d0; --undecided-ink: #5c4600;
  --accent: #1f4e8c;
  --sans: "Segoe UI", "Helvetica Neue", Arial, "Liberation Sans", "DejaVu Sans", sans-serif; }
* { box-sizing: border-box; }
html { font-size: 19px; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
  font-family: var(--sans); }
main { max-width: 1440px; margin: 0 auto; padding: 1.5rem 2rem 3rem; }
header { border-bottom: 4px solid var(--accent); padding-bottom: 0.8rem; margin-bottom: 0.6rem; }
h1 { font-size: 2.1rem; margin: 0 0 0.3rem; color: var(--accent); }
h2 { font-size: 1.55rem; margin: 2.2rem 0 0.7rem; padding-bottom: 0.2rem;
  border-bottom: 2px solid var(--rule); break-after: avoid; }
h3 { font-size: 1.2rem; margin: 1.4rem 0 0.5rem; break-after: avoid; }
p { margin: 0.5rem 0; max-width: 72rem; }
.description { font-size: 1.2rem; margin: 0.2rem 0 0.5rem; }
.facts { color: var(--muted); margin: 0; }
.facts span + span::before { content: " · "; }
nav { margin: 0.6rem 0 0; font-size: 0.95rem; }
nav a { color: var(--accent); margin-right: 1.1rem; text-decoration: none; }
.note { color: var(--muted); font-size: 0.85rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.6rem 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--rule); padding: 0.35rem 0.6rem; vertical-align: baseline;
  text-align: left; }
th { background: var(--head); font-size: 0.9rem; }
td.num, th.num { text-align: right; white-space: nowrap; }
td .sub { display: block; font-size: 0.78rem; color: var(--muted); font-family: var(--sans); }
td.better { background: var(--better); color: var(--better-ink); }
td.worse { background: var(--worse); color: var(--worse-ink); }
td.neutral { background: var(--neutral); color: var(--neutral-ink); }
td.undecided { background: var(--undecided); color: var(--undecided-ink); }
td.better .sub, td.worse .sub, td.neutral .sub, td.undecided .sub { color: inherit;
  opacity: 0.85; }
td.verdict { font-weight: 600; }
tr.group th { background: #fff; border-left-color: #fff; border-right-color: #fff;
  padding-top: 0.9rem; font-size: 1rem; text-align: left; color: var(--accent); }
tbody tr.group:first-child th { padding-top: 0.4rem; }
table.verdicts td { font-size: 1.05rem; }
@media screen and (max-width: 1300px) { html { font-size: 16px; } main { padding: 1rem 1.2rem; } }
@media screen and (max-width: 900px) { html { font-size: 14px; } }
table.pairs th:first-child, table.pairs td:first-child { white-space: nowrap; }
table.pairs td:first-child { font-weight: 600; }
code, td.code { font-family: "DejaVu Sans Mono", Consolas, "Liberation Mono", monospace;
  font-size: 0.9rem; overflow-wrap: anywhere; }
table.pairs td.code { font-weight: 400; }
figure { margin: 1.2rem 0 2rem; break-inside: avoid; }
figure img { display: block; max-width: 100%; max-height: 88vh; width: auto; height: auto;
  border: 1px solid var(--rule); }
figcaption { font-size: 1rem; color: var(--muted); margin-top: 0.5rem; max-width: 72rem; }
figcaption strong { color: var(--ink); }
ul { padding-left: 1.3rem; max-width: 72rem; }
li { margin: 0.35rem 0; }
@media print {
  @page { size: A4; margin: 14mm; }
  html { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  nav { display: none; }
  .scroll { overflow: visible; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  tr, figure { break-inside: avoid; }
  thead { display: table-header-group; }
  figure img { max-height: 235mm; width: auto; }
  table { width: 100%; }
  th, td, table.verdicts td { font-size: 8pt; padding: 0.1rem 0.3rem; }
  th { font-size: 7.5pt; }
  td .sub { font-size: 6.5pt; }
  code, td.code { font-size: 7.5pt; }
  h2 { break-before: auto; }
}
"""


def render_html(doc: Document) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(doc.title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        "<header>",
        f"<h1>{e(doc.title)}</h1>",
    ]
    if doc.description:
        out.append(f'<p class="description">{e(doc.description)}</p>')
    out.append('<p class="facts">' + "".join(f"<span>{e(f)}</span>" for f in doc.facts) + "</p>")
    links = "".join(f'<a href="#{e(s.id)}">{e(s.title)}</a>' for s in doc.sections)
    out += [f"<nav>{links}</nav>", "</header>"]
    for section in doc.sections:
        out.append(f'<section id="{e(section.id)}">')
        out.append(f"<h2>{e(section.title)}</h2>")
        out += [_html_block(block) for block in section.blocks]
        out.append("</section>")
    out += ["</main>", "</body>", "</html>", ""]
    return "\n".join(out)


def _html_block(block) -> str:
    e = html.escape
    if isinstance(block, Para):
        return f'<p class="note">{e(block.text)}</p>' if block.note else f"<p>{e(block.text)}</p>"
    if isinstance(block, Heading):
        return f"<h3>{e(block.text)}</h3>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{e(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Figure):
        data = base64.b64encode(block.png.read_bytes()).decode("ascii")
        return (
            f'<figure id="figure-{e(block.name)}">'
            f'<img src="data:image/png;base64,{data}" alt="{e(block.title)}">'
            f"<figcaption><strong>Figure {block.number}. {e(block.title)}.</strong>"
            f" {e(block.caption)}</figcaption></figure>"
        )
    if isinstance(block, Table):
        return _html_table(block)
    raise TypeError(f"unknown block {block!r}")


def _html_table(table: Table) -> str:
    e = html.escape
    kind = f' class="{e(table.kind)}"' if table.kind else ""
    head = "".join(
        f'<th class="num">{e(c)}</th>' if i in table.numeric else f"<th>{e(c)}</th>"
        for i, c in enumerate(table.columns)
    )
    body = []
    groups = table.groups or [None] * len(table.rows)
    previous = None
    for row, group in zip(table.rows, groups, strict=True):
        if group is not None and group != previous:
            body.append(
                f'<tr class="group"><th colspan="{len(table.columns)}" scope="colgroup">'
                f"Point: {e(group)}</th></tr>"
            )
        previous = group
        cells = []
        for i, cell in enumerate(row):
            classes = [
                "num" if i in table.numeric else "",
                cell.tone,
                "verdict" if cell.tone and cell.text in TONES else "",
                "code" if cell.code else "",
            ]
            cls = " ".join(c for c in classes if c)
            attrs = (f' class="{cls}"' if cls else "") + (
                f' title="{e(cell.title)}"' if cell.title else ""
            )
            sub = f'<span class="sub">{e(cell.sub)}</span>' if cell.sub else ""
            cells.append(f"<td{attrs}>{e(cell.text)}{sub}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="scroll"><table{kind}><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------


def render_markdown(doc: Document, results: Path) -> str:
    out = [f"# {_md_text(doc.title)}", ""]
    if doc.description:
        out += [_md_text(doc.description), ""]
    out += [" · ".join(_md_text(f) for f in doc.facts), ""]
    for section in doc.sections:
        out += [f"## {_md_text(section.title)}", ""]
        for block in section.blocks:
            out += [*_md_block(block, results), ""]
    return "\n".join(out).rstrip() + "\n"


def _md_block(block, results: Path) -> list[str]:
    if isinstance(block, Para):
        text = re.sub(r"^([#+>-])", r"\\\1", _md_text(block.text))  # not a heading, list, quote
        return [f"*{text}*" if block.note else text]
    if isinstance(block, Heading):
        return [f"### {_md_text(block.text)}"]
    if isinstance(block, Bullets):
        return [f"- {_md_text(i)}" for i in block.items]
    if isinstance(block, Figure):
        try:
            rel = block.png.resolve().relative_to(results.resolve()).as_posix()
        except ValueError:
            rel = Path(os.path.relpath(block.png.resolve(), results.resolve())).as_posix()
        return [
            f"![{_md_text(block.title)}]({rel})",
            "",
            f"**Figure {block.number}. {_md_text(block.title)}.** {_md_text(block.caption)}",
        ]
    if isinstance(block, Table):
        return _md_table(block)
    raise TypeError(f"unknown block {block!r}")


def _md_table(table: Table) -> list[str]:
    def cell(c: Cell) -> str:
        text = _md_code(c.text) if c.code else _md_text(c.text)
        if c.tone in ("better", "worse") and c.text in TONES:
            text = f"**{text}**"
        if c.sub:
            text += f" ({_md_text(c.sub)})"
        return text.replace("|", "\\|")

    columns, rows = table.columns, [[cell(c) for c in row] for row in table.rows]
    align = ["---:" if i in table.numeric else "---" for i in range(len(columns))]
    if table.groups:
        columns = ["Point", *columns]
        rows = [
            [_md_text(g).replace("|", "\\|"), *r] for g, r in zip(table.groups, rows, strict=True)
        ]
        align = ["---", *align]
    lines = [
        "| " + " | ".join(_md_text(c).replace("|", "\\|") for c in columns) + " |",
        "| " + " | ".join(align) + " |",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _md_text(text: str) -> str:
    """Plain text safe in Markdown: no line breaks, no HTML, no emphasis or link syntax."""
    text = " ".join(str(text).split())
    text = re.sub(r"([\\`*\[\]])", r"\\\1", text)
    text = re.sub(r"([<&])(?=[A-Za-z/!?#])", r"\\\1", text)  # no HTML tags or entities
    return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)


def _md_code(text: str) -> str:
    text = " ".join(str(text).split())
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`"
