"""The report of an experiment run at a calibration's plausible sets (``calibration=``): its
section ("Across plausible calibrations": the sets, each arm's verdict across them and by set),
its console lines, the sets' labels for the per-set tables, and the executive summary read off
the verdicts across the sets (``analysis.plausible``), so that it recommends no arm at one set."""

from __future__ import annotations

import pandas as pd

from analysis import plausible
from analysis.report.document import Bullets, Cell, Heading, Para, Section, Table
from analysis.report.executive import DECISION_KPIS, executive_section, ranking, recommended
from analysis.report.formats import number, records, value
from analysis.report.labels import Labels
from analysis.stats import METHOD, UNDECIDED, VERDICTS, WORSE, verdict_words
from sim.kpis import decimals


def set_labels(record: dict | None) -> dict[str, str]:
    """Each plausible set's point -> "set 1 (trial 54)" ({} without a calibration)."""
    sets = record["sets"] if record else []
    return {s["point"]: f"set {s['set']} (trial {s['trial']})" for s in sets}


def header(record: dict, tables: dict[str, pd.DataFrame], seeds: int) -> str:
    """What the verdicts across the sets are and what they promise, in a paragraph."""
    k, m = len(record["sets"]), int(tables["differences"]["family_size"].max())
    study = f" of study {record['study']}" if record.get("study") else ""
    of = f"the best {k} of the {record['sets_in_file']}" if k < record["sets_in_file"] else "all"
    return (
        f"Across {k} plausible calibration{'s' if k != 1 else ''} of bank {record['bank']} ({of}"
        f" sets{study}, {record['file']}), every arm on the same {seeds} seeds at each. At each"
        f" set, simultaneous 95% CIs for the {m} strateg{'ies' if m != 1 else 'y'} of each KPI"
        f" ({METHOD}), and verdicts read off them."
        " Across the sets, a verdict holds when every set says it, else it is undecided; the"
        " verdicts that hold on one KPI are right together with at least 95% confidence however"
        " many sets there are (each would need a set's interval to miss), while counts such as"
        " '6 of 10' are descriptive. What a verdict depends on is the fitted parameter that"
        " ranks the sets most like their differences (Spearman's rank correlation): a pointer,"
        " not a test."
    )


def console_lines(
    tables: dict[str, pd.DataFrame], record: dict, experiment: dict, labels: Labels, seeds: int
) -> tuple[str, list[str]]:
    """The header, then each arm and under it its verdict across the sets on each decision
    KPI, a line each."""
    summary = tables["plausible_summary"]
    kpis = _decision(experiment, summary)
    lines = []
    for arm, g in summary[summary["kpi"].isin(kpis)].groupby("arm", sort=False):
        by_kpi = g.set_index("kpi")["sentence"]
        lines += [f"  {labels.arm(arm)}:", *(f"    {by_kpi[k]}" for k in kpis)]
    return header(record, tables, seeds), lines


def _decision(experiment: dict, summary: pd.DataFrame) -> list[str]:
    wanted = experiment.get("decision_kpis") or DECISION_KPIS
    return [k for k in wanted if k in set(summary["kpi"])]


def executive(
    tables: dict[str, pd.DataFrame],
    labels: Labels,
    experiment: dict,
    seeds: int,
    short: dict,
    record: dict | None,
) -> Section:
    """The executive summary; with plausible sets, ranked on the verdicts across them, its
    caveats naming each decision KPI on which the recommended arm's verdict depends on the
    calibration or is worse at some sets (a KPI merely undecided has its caveat already)."""
    if record is None or "plausible_summary" not in tables:
        return executive_section(tables, labels, experiment, seeds, short)
    summary = tables["plausible_summary"]
    differences = plausible.as_differences(summary)
    across = {**tables, "differences": differences}
    section = executive_section(across, labels, experiment, seeds, {})
    k = len(record["sets"])
    section.blocks.insert(
        0,
        Para(
            f"Each strategy was run at {k} plausible calibrations of bank {record['bank']} on the"
            f" same {seeds} seeds; a verdict below counts only where it holds in all {k} (the"
            " amounts are means over them), so a strategy whose verdict depends on the"
            " calibration is undecided there."
        ),
    )
    decision = _decision(experiment, summary)
    chosen = recommended(ranking(differences, tuple(decision)), experiment.get("references") or [])
    if chosen is not None:
        mine = summary[(summary["arm"] == chosen["arm"]) & summary["kpi"].isin(decision)]
        caveats = next(b for b in reversed(section.blocks) if isinstance(b, Bullets))
        split = (mine["verdict"] == UNDECIDED) & ((mine["depends_on"] != "") | (mine[WORSE] > 0))
        caveats.items[:0] = [
            f"{r.sentence[0].upper()}{r.sentence[1:]}." for r in mine[split].itertuples()
        ]
    return section


def section(
    tables: dict[str, pd.DataFrame], record: dict | None, experiment: dict, labels: Labels, seeds
) -> Section | None:
    """The section "Across plausible calibrations", None without plausible sets."""
    if record is None or "plausible_summary" not in tables:
        return None
    summary, per_set = tables["plausible_summary"], tables["plausible_sets"]
    kpis = _decision(experiment, summary)
    params = list(record["parameters"])
    sets = plausible.sets_table(record)
    set_rows = [
        [
            Cell(str(r["set"])),
            Cell(str(r["trial"])),
            Cell(number(r["loss"], 3)),
            *(Cell(value(float(r[p]))) for p in params),
        ]
        for r in records(sets)
    ]
    blocks = [
        Para(header(record, tables, seeds)),
        Table(
            ["Set", "Trial", "Loss", *params],
            set_rows,
            frozenset(range(len(params) + 3)),
            "plausible",
        ),
        Para(
            f"The sets, best first ({record.get('rule') or 'as the calibration chose them'});"
            f" parameter ranges: {_ranges(record)}.",
            note=True,
        ),
        Heading("Verdicts across the sets"),
        _across_table(summary, kpis, labels),
    ]
    open_ = summary[summary["kpi"].isin(kpis) & (summary["verdict"] == UNDECIDED)]
    if len(open_):
        blocks.append(Bullets([f"{labels.arm(r.arm)}: {r.sentence}" for r in open_.itertuples()]))
    for kpi in kpis:
        blocks += [Heading(f"{labels.kpi(kpi).label} by set"), _by_set(per_set, kpi, labels)]
    blocks.append(
        Para(
            "Δ is strategy − baseline at the set on the same seeds, with the verdict and its"
            " simultaneous 95% CI below. Every number is in plausible_sets.csv and"
            " plausible_summary.csv, and in the workbook.",
            note=True,
        )
    )
    return Section("plausible", "Across plausible calibrations", blocks)


def _ranges(record: dict) -> str:
    ranges = record["parameters"].items()
    return ", ".join(f"{k} {value(float(lo))} to {value(float(hi))}" for k, (lo, hi) in ranges)


def _across_table(summary: pd.DataFrame, kpis: list[str], labels: Labels) -> Table:
    """Per arm, its verdict across the sets on each decision KPI, with the counts below."""
    wide = summary.set_index(["arm", "kpi"])
    rows = []
    for arm in pd.unique(summary["arm"]):
        cells = [Cell(labels.arm(arm))]
        for kpi in kpis:
            r = wide.loc[(arm, kpi)]
            said = ", ".join(f"{v} {int(r[v])}" for v in VERDICTS if r[v])
            cells.append(
                Cell(r["verdict"], sub=f"{said} of {int(r['sets'])}", verdict=r["verdict"])
            )
        rows.append(cells)
    return Table(["Strategy", *(labels.kpi(k).label for k in kpis)], rows, kind="verdicts")


def _by_set(per_set: pd.DataFrame, kpi: str, labels: Labels) -> Table:
    """One KPI: per arm (rows) and set (columns), the difference with its verdict and CI."""
    k = labels.kpi(kpi)
    mine = per_set[per_set["kpi"] == kpi]
    sets = list(dict.fromkeys(zip(mine["set"], mine["trial"], strict=True)))
    columns = ["Strategy", *(f"Set {s} (trial {t}), Δ {k.unit_label(delta=True)}" for s, t in sets)]
    rows = []
    for arm, g in mine.groupby("arm", sort=False):
        cells = [Cell(labels.arm(arm))]
        for r in records(g):
            digits = decimals(*(x * k.scale for x in (r["estimate"], r["ci_low"], r["ci_high"])))
            low, high = (k.number(r[e], digits, sign=True) for e in ("ci_low", "ci_high"))
            ci = f"{low} to {high}" if r["note"] == "" else "no CI"
            words = verdict_words(r["verdict"], r["clears"])
            cells.append(
                Cell(k.number(r["estimate"], digits, sign=True), f"{words}; {ci}", r["verdict"])
            )
        rows.append(cells)
    return Table(columns, rows, frozenset(range(1, len(columns))), "differences")
