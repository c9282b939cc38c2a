"""The report's document, built from the statistics: the verdicts against the baseline (with
NPV in parts, the other retention measures and the arm means), the figures, how long customers
stay (:mod:`.lifetimes`), how much common random numbers narrowed the CIs, the configuration and
provenance (:mod:`.settings`), and how to read it all."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import plausible
from analysis import survival as lifetimes
from analysis.report import harm as harm_report
from analysis.report import targeting
from analysis.report.analyses import optimize_section, robustness_section, sensitivity_section
from analysis.report.calibration import executive, set_labels
from analysis.report.calibration import section as calibration_section
from analysis.report.document import Bullets, Cell, Document, Figure, Heading, Para, Section, Table
from analysis.report.executive import DECISION_KPIS, ranking_rule
from analysis.report.formats import (
    baseline_mark,
    finite,
    integer,
    number,
    records,
    run_counts,
)
from analysis.report.formats import value as value_text
from analysis.report.labels import Labels
from analysis.report.lifetimes import section as lifetime_section
from analysis.report.settings import (
    config_section,
    provenance_section,
    replications,
    scenario,
    sequential_text,
)
from analysis.stats import (
    METHOD,
    ROLES,
    TESTED_SKEWNESS,
    UNDECIDED,
    VERDICTS,
    possibly_small,
    verdict_words,
)
from runner import store
from sim.kpis import NPV_PARTS, Kpi, counted, decimals

ANALYSES = (
    sensitivity_section,
    robustness_section,
    optimize_section,
    targeting.section,
)  # other analyses stored
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
        "Retention of the customers active after burn-in at 12 months, of its mid and high"
        " tiers, and of its AUM.",
    ),
}


def build(
    results: Path,
    tables: dict[str, pd.DataFrame],
    runs: pd.DataFrame,
    charts: list,
    error: str = "",
    survival: lifetimes.Survival | None = None,
) -> Document:
    """The whole report of a store: ``tables`` are ``analysis.report.statistics``', ``runs``
    ``store.load``'s, ``charts`` the drawn charts (name, title, caption, png), ``error`` why
    the figures are missing, if they are, and ``survival`` the retention curves
    (``analysis.survival.survival``; computed when None)."""
    meta = store.experiment_meta(results)
    e = meta.get("experiment", {}) or {}
    baseline = e.get("baseline", "baseline")
    settings = e.get("smallest_effect") or {}
    summary = tables.get("summary", pd.DataFrame())
    calibration = plausible.record(results)
    short = set_labels(calibration) or point_labels(summary)
    arm_names = list(pd.unique(summary["arm"])) if len(summary) else []
    reps, _ = replications(meta, runs)
    labels = Labels.of(runs, meta)
    decision = tuple(e.get("decision_kpis") or DECISION_KPIS)
    across = calibration_section(tables, calibration, e, labels, reps)
    curves = [c for c in charts if c.name in lifetimes.CHARTS]
    others = [c for c in charts if c.name not in lifetimes.CHARTS]
    if survival is None and len(summary):
        survival = lifetimes.survival(results, runs)
    sections = [
        executive(tables, labels, e, reps, short, calibration),
        *([across] if across else []),
        _verdict_section(tables, baseline, short, settings, labels),
        *([harm_report.section(tables["harm"], labels, short)] if "harm" in tables else []),
        _figure_section(others, error),
        *([lifetime_section(survival, curves, len(others) + 1, short)] if survival else []),
        *analysis_sections(results, len(charts) + 1),
        _crn_section(tables, short, labels),
        config_section(meta, scenario(results, runs), runs, arm_names, baseline),
        provenance_section(results, runs),
        _reading_section(
            reps,
            bool(short),
            settings,
            labels,
            decision,
            sequential_text(meta, tables.get("differences")),
        ),
    ]
    title = f"Experiment: {e['name']}" if e.get("name") else f"Results: {results.resolve().name}"
    description = e.get("description") or (
        "" if e else "Runs stored without an experiment plan, grouped by their strategies."
    )
    facts = _facts(meta, runs, arm_names, baseline, len(short))
    return Document(title, description, facts, sections)


def analysis_sections(results: Path, first_figure: int = 1) -> list[Section]:
    """The sections of the other analyses a store holds, their figures numbered after the
    report's charts."""
    found = [s for section in ANALYSES if (s := section(results)) is not None]
    figures = [b for s in found for b in s.blocks if isinstance(b, Figure)]
    for n, figure in enumerate(figures, first_figure):
        figure.number = n
    return found


def _facts(meta: dict, runs: pd.DataFrame, arm_names: list, baseline: str, points: int) -> list:
    """The line under the title: arms, seeds, points, baseline, runs and when."""
    reps, auto = replications(meta, runs)
    facts = [
        f"{len(arm_names)} arms",
        f"{reps} seeds each{' (replications=auto)' if auto else ''}" if reps else "",
        f"{points} parameter points" if points else "",
        f"baseline: {baseline}" if baseline in arm_names else "no baseline runs",
        f"runs: {run_counts(runs)}",
        f"written {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
    ]
    return [f for f in facts if f]


# --------------------------------------------------------------------------------------------
# Verdicts, differences and means
# --------------------------------------------------------------------------------------------


def skewed_text(differences: pd.DataFrame | None, labels: Labels, short: dict) -> str:
    """The decision KPIs and NPV parts whose per-seed differences are more skewed than the
    intervals are tested for, in a sentence ("" when none)."""
    if differences is None or differences.empty:
        return ""
    kpis = (*DECISION_KPIS, *NPV_PARTS)
    skewed = differences[
        differences["kpi"].isin(kpis) & (differences["skewness"].abs() > TESTED_SKEWNESS)
    ]
    if skewed.empty:
        return ""
    named = [
        f"{labels.arm(r.arm)}{f' at {short.get(r.point, r.point)}' if r.point else ''}:"
        f" {labels.kpi(r.kpi).short} ({r.skewness:+.1f})"
        for r in skewed.itertuples()
    ]
    return (
        f"Skewed differences (per-seed skewness beyond ±{TESTED_SKEWNESS:g}, more than the"
        " intervals are tested for at 10-20 seeds, docs/experiments.md; read these verdicts with"
        f" care, or run more seeds): {'; '.join(named)}."
    )


def _verdict_section(
    tables, baseline: str, short: dict[str, str], settings: dict, labels: Labels
) -> Section:
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
        section.blocks.append(Para(_headline(verdicts, baseline, labels)))
    section.blocks.append(_verdict_table(summary, verdicts, baseline, short, labels))
    if skewed := skewed_text(tables.get("differences"), labels, short):
        section.blocks.append(Para(skewed))
    section.blocks.append(
        Para(
            f"{labels.kpi(ROLES['retention']).label} (of the customers active after burn-in)"
            f" and {labels.kpi(ROLES['profit']).label}, means over seeds"
            " ± the 95% CI half-width; Δ is arm − baseline paired on the same seeds, with its"
            " simultaneous 95% CI below (one interval per arm, all holding together). The"
            " verdict is read off that interval: negligible when it lies within the smallest"
            f" effect worth acting on ({thresholds(settings, labels)}), better or worse when it"
            " excludes 0 (the difference is real; 'possibly small' unless it also excludes the"
            " smallest effect), undecided otherwise.",
            note=True,
        )
    )
    section.blocks += _more_differences(tables.get("differences"), short, labels)
    section.blocks += means_blocks(summary, short, labels)
    return section


def _verdict_table(summary, verdicts, baseline: str, short: dict[str, str], labels) -> Table:
    """Per arm (and point): the mean, difference and verdict of each decision role's KPI."""
    by_key = {} if verdicts is None else {(r["point"], r["arm"]): r for r in records(verdicts)}
    columns = ["Strategy", "Runs"]
    for kpi in map(labels.kpi, ROLES.values()):
        columns += [f"{kpi.label}, {kpi.unit}", f"Δ, {kpi.unit_label(delta=True)}", "Verdict"]
    rows = []
    for row in records(summary):
        arm = Cell(labels.arm(row["arm"]), sub=baseline_mark(row["arm"], baseline))
        cells = [arm, Cell(integer(row.get("n")))]
        v = by_key.get((row["point"], row["arm"]))
        for role, kpi in ROLES.items():
            cells.append(_mean_cell(row, labels.kpi(kpi)))
            if v is None:
                cells += [Cell("—"), Cell("—" if row["arm"] == baseline else "no pairs")]
                continue
            keys = ("n", "ci_low", "ci_high", "verdict", "clears", "seeds_needed")
            d = {k: v[f"{role}_{k}"] for k in keys}
            d["mean_diff"] = v[f"{role}_diff"]
            cells += [_diff_cell(labels.kpi(kpi), d), _verdict_cell(d)]
        rows.append(cells)
    numeric = frozenset({1, 2, 3, 5, 6})
    return Table(columns, rows, numeric, kind="verdicts", groups=_groups(summary, short))


def _more_differences(differences: pd.DataFrame | None, short: dict[str, str], labels) -> list:
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
            [
                Cell(labels.arm(arm)),
                *(_diff_cell(labels.kpi(k), wide.loc[(point, arm, k)], verdict=True) for k in kpis),
            ]
            for point, arm in keys.itertuples(index=False)
        ]
        columns = ["Strategy", *(labels.kpi(k).axis(delta=True) for k in kpis)]
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


def means_blocks(summary: pd.DataFrame, short: dict[str, str], labels: Labels) -> list:
    """The arm means table (under its heading, with its note): each arm's KPIs of MEANS with
    their 95% CI half-widths, one group of rows per parameter point."""
    kpis = [labels.kpi(k) for k in MEANS if k in summary.columns]
    columns = ["Strategy", "Runs", *(f"{k.label}, {k.unit}" for k in kpis)]
    rows = [
        [
            Cell(labels.arm(row["arm"])),
            Cell(integer(row.get("n"))),
            *(_mean_cell(row, k) for k in kpis),
        ]
        for row in records(summary)
    ]
    numeric = frozenset(range(1, len(columns)))
    return [
        Heading("Arm means"),
        Table(columns, rows, numeric, kind="means", groups=_groups(summary, short)),
        Para("Means over seeds ± the 95% CI half-width.", note=True),
    ]


def _mean_cell(row: dict, k: Kpi) -> Cell:
    """A KPI's mean ± its 95% CI half-width, in display units."""
    mean, low, high = row.get(k.name), row.get(f"{k.name}_ci_low"), row.get(f"{k.name}_ci_high")
    if not finite(mean):
        return Cell("—")
    text = k.number(mean)
    if finite(low) and finite(high):
        text += " ± " + k.number((float(high) - float(low)) / 2)
    return Cell(text)


def _diff_cell(k: Kpi, d, verdict: bool = False) -> Cell:
    """A difference with its interval below (and its verdict, when asked), in its colour."""
    diff, low, high = d["mean_diff"], d["ci_low"], d["ci_high"]
    digits = decimals(*(x * k.scale for x in (diff, low, high)))
    words = verdict_words(d["verdict"], d.get("clears", True))
    sub = _interval(k, low, high, digits) + (f" · {words}" if verdict else "")
    return Cell(k.number(diff, digits, sign=True), sub=sub, verdict=d["verdict"])


def _interval(kpi: Kpi, low, high, digits: int = 1) -> str:
    if not (finite(low) and finite(high)):
        return "no CI"
    return f"{kpi.number(low, digits, sign=True)} to {kpi.number(high, digits, sign=True)}"


def _verdict_cell(d) -> Cell:
    """The verdict, with the seeds it used (or would need) below."""
    verdict, n, needed = d["verdict"], d["n"], d["seeds_needed"]
    sub = f"{integer(n)} seeds"
    if verdict == UNDECIDED and finite(needed):
        sub = f"{integer(n)} seeds; about {int(needed):,} would decide"
    elif possibly_small(verdict, d.get("clears", True)):
        sub = f"possibly small; {sub}"
    return Cell(verdict, sub=sub, verdict=verdict)


def _headline(verdicts: pd.DataFrame, baseline: str, labels: Labels) -> str:
    """How many arms got each verdict, per decision role."""
    parts = []
    for role, kpi in ROLES.items():
        said = verdicts[f"{role}_verdict"]
        clear = verdicts[f"{role}_clears"]
        small = np.array([possibly_small(*p) for p in zip(said, clear, strict=True)], dtype=bool)
        told = []
        for v in VERDICTS:
            count, of_them = int((said == v).sum()), int(((said == v) & small).sum())
            told.append(f"{count} {v}" + (f" ({of_them} possibly small)" if of_them else ""))
        parts.append(f"{labels.kpi(kpi).label}: {', '.join(told)}.")
    points = verdicts["point"].astype(bool).any()
    what = ("strategy-and-point comparison", "") if points else ("strategy", "strategies")
    against = "the baseline" if baseline == "baseline" else labels.arm(baseline)
    return f"{counted(len(verdicts), *what)} against {against} on the same seeds. " + " ".join(
        parts
    )


def thresholds(settings: dict, labels: Labels) -> str:
    """The smallest effects of the decision roles' KPIs in words, with the ``settings`` that
    replace the defaults: "±0.25 pts for retention at 60 months, ±2.5% of a year's revenue of
    the baseline for NPV"."""
    kpis = map(labels.kpi, ROLES.values())
    return ", ".join(f"±{k.describe_threshold(settings.get(k.name))} for {k.short}" for k in kpis)


# --------------------------------------------------------------------------------------------
# Parameter points
# --------------------------------------------------------------------------------------------


def point_labels(summary: pd.DataFrame) -> dict[str, str]:
    """Each parameter point of the summary -> a shorter label: each key by its last part (with
    the list's name for a list's element, ``product_hazard.0``) when that is unambiguous, values
    as in the configuration ({} without points)."""
    points = [p for p in pd.unique(summary.get("point", pd.Series(dtype=str))) if p]
    keys = {k for p in points for k, _, _ in (part.partition("=") for part in p.split(","))}
    lasts = [_last(k) for k in keys]
    short = len(set(lasts)) == len(lasts)
    out = {}
    for p in points:
        parts = [part.partition("=") for part in p.split(",")]
        out[p] = ", ".join(
            f"{_last(k) if short else k}={value_text(_parse(v))}" for k, _, v in parts
        )
    return out


def _last(key: str) -> str:
    """A dotted key's last part, or its last two when the last is a list's index."""
    parts = key.split(".")
    return ".".join(parts[-2:] if parts[-1].isdigit() else parts[-1:])


def _parse(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _groups(df: pd.DataFrame, short: dict[str, str]) -> list[str] | None:
    """Each row's parameter point, shortened, when there are points."""
    if not short:
        return None
    return [short.get(p, p) or "—" for p in (r["point"] for r in records(df))]


# --------------------------------------------------------------------------------------------
# Figures, common random numbers, how to read
# --------------------------------------------------------------------------------------------


def _figure_section(charts: list, error: str) -> Section:
    section = Section("figures", "Figures")
    if error:
        section.blocks.append(Para(f"The figures could not be drawn: {error}"))
    elif not charts:
        section.blocks.append(Para("No figures for these runs."))
    for position, chart in enumerate(charts, 1):
        section.blocks.append(
            Figure(position, str(chart.name), str(chart.title), str(chart.caption), Path(chart.png))
        )
    return section


def crn_sentence(crn: pd.DataFrame, kpi: Kpi) -> str:
    """How much common random numbers narrowed the CIs of the difference in ``kpi`` (the
    retention role's): the median over arms of the paired CI's width relative to independent
    seeds'."""
    measured = crn.replace([np.inf, -np.inf], np.nan).dropna(subset=["ratio"])
    measured = measured[measured["ratio"] > 0]
    if len(measured):
        return (
            f"The paired 95% CIs of the difference in {kpi.short} are"
            f" {measured['ratio'].median():.2f}x"
            " as wide as independent seeds would give (median over arms), worth about"
            f" {measured['equivalent_replications'].median():,.0f}x the replications."
        )
    if (crn["ratio"] == 0).any():
        return (
            f"The paired differences in {kpi.short} are constant across seeds for every arm"
            " that could be measured: their CIs have no width at all."
        )
    return "Too few varying paired runs to measure the effect of common random numbers."


def crn_plain(crn: pd.DataFrame, months: int) -> str:
    """What common random numbers bought, in a strategy team's words: how many times more
    precisely the retention differences are measured (the median over arms of independent /
    paired CI width) and how many unpaired runs the paired ones did the work of."""
    measured = crn.replace([np.inf, -np.inf], np.nan).dropna(subset=["ratio"])
    measured = measured[measured["ratio"] > 0]
    pairs = int(crn["n"].median()) if len(crn) else 0
    same = (
        f"Every strategy was tested on the same {pairs} simulated {months}-month histories of"
        " customers and events as the baseline"
    )
    if not len(measured):
        return f"{same}, so each difference is measured on identical conditions."
    precision = 1 / measured["ratio"].median()
    work = pairs * measured["equivalent_replications"].median()
    return (
        f"{same}, so the differences are measured about {precision:,.0f} times more precisely"
        f" than with separate simulations; {pairs} paired runs did the work of about"
        f" {_round(work):,} unpaired ones."
    )


def _round(x: float) -> int:
    """Two significant digits: 3,412 -> 3,400."""
    digits = max(0, math.floor(math.log10(max(x, 1))) - 1)
    return int(round(x, -digits))


def _crn_section(tables, short: dict[str, str], labels: Labels) -> Section:
    section = Section("crn", "Common random numbers")
    crn = tables.get("crn")
    if crn is None or crn.empty:
        section.blocks.append(Para("No paired runs against a baseline to measure."))
        return section
    section.blocks.append(Para(crn_plain(crn, labels.months)))
    section.blocks.append(
        Para(
            "For researchers: every arm runs on the baseline's seeds, so differences are paired"
            " seed by seed. " + crn_sentence(crn, labels.kpi(ROLES["retention"])),
            note=True,
        )
    )
    kpi = labels.kpi(ROLES["retention"])
    unit = kpi.unit_label(delta=True)
    columns = [
        "Strategy",
        "Pairs",
        "Correlation",
        f"Paired CI ±, {unit}",
        f"Independent CI ±, {unit}",
        "Width ratio",
        "Worth × replications",
    ]
    rows = [_crn_row(row, kpi, labels) for row in records(crn)]
    numeric = frozenset(range(1, len(columns)))
    section.blocks.append(Table(columns, rows, numeric, kind="crn", groups=_groups(crn, short)))
    section.blocks.append(
        Para(
            f"{kpi.label}. Paired: the CI of the per-seed differences. Independent:"
            " the Welch CI the same runs give when treated as unpaired, an estimate of what"
            " independent seeds would give. Worth: (independent / paired)², the factor of"
            " independent replications that would give the paired CI's width.",
            note=True,
        )
    )
    return section


def _crn_row(row: dict, kpi: Kpi, labels: Labels) -> list[Cell]:
    worth = row["equivalent_replications"]
    return [
        Cell(labels.arm(row["arm"])),
        Cell(integer(row["n"])),
        Cell(number(row["correlation"], 3)),
        Cell(kpi.number(row["paired_half_width"], 2)),
        Cell(kpi.number(row["independent_half_width"], 2)),
        Cell(number(row["ratio"], 2)),
        Cell("∞" if worth == math.inf else number(worth, 0)),
    ]


def _reading_section(
    reps: int,
    points: bool,
    settings: dict,
    labels: Labels,
    decision: tuple[str, ...],
    sequential: str = "",
) -> Section:
    at = " and point" if points else ""
    each = " at each point" if points else ""
    items = [
        "Every arm runs on the same seeds as the baseline (common random numbers), so each"
        f" difference is paired seed by seed{at}: arm − baseline.",
        f"A mean is shown ± the half-width of its 95% Student-t CI over the {reps or 'n'} seeds."
        " A difference is shown with its simultaneous 95% CI, 'low to high': the intervals of"
        f" all arms for one KPI{each} hold together, with 95% confidence, however many arms are"
        f" compared ({METHOD}; docs/experiments.md).",
        "The verdict is read off that interval. Negligible: the whole interval lies within the"
        f" smallest effect worth acting on ({thresholds(settings, labels)}); better or worse: the"
        " interval excludes 0, so the difference is real in this model, not seed noise, and its"
        " near end says by at least how much; when the interval also reaches inside the smallest"
        " effect it is called possibly small; undecided: the seeds run cannot tell yet, and the"
        " report says about how many would, or why no interval could be drawn.",
        *([sequential] if sequential else []),
        f"{labels.kpi(ROLES['retention']).label} is the share of the customers active after"
        f" burn-in still with the bank {labels.months} months later, in %; differences in"
        " percentage points (pts: 1 pt is one customer in every 100). NPV is the discounted"
        f" profit over the {labels.months} measured months, in CNY millions for the real bank.",
        ranking_rule(labels, decision),
        "The numbers behind this report are in results.xlsx beside it: a summary per strategy,"
        " every difference with its interval and verdict, the monthly series, and a sheet that"
        " says what each holds.",
    ]
    return Section("reading", "How to read this report", [Bullets(items)])
