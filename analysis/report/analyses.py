"""The report's sections for the analyses a store may hold besides its comparison: a
sensitivity study (:mod:`analysis.sensitivity`), robustness across futures
(:mod:`analysis.robustness`) and an optimisation's Pareto front (:mod:`analysis.optimize`). Each
is None when the store has none."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pandas as pd

from analysis import optimize, robustness, sensitivity
from analysis.charts.common import compact
from analysis.report.document import Bullets, Cell, Figure, Para, Section, Table
from analysis.report.labels import horizon
from runner.store import experiment_meta, load
from sim.kpis import counted, decimals, registry


def sensitivity_section(root: Path) -> Section | None:
    """The sensitivity section (its chart redrawn if missing), or None without a study: its
    indices in the KPIs' display units at the runs' horizon, the parameters in words, as the
    command prints them (:func:`analysis.sensitivity.console`)."""
    if not (root / sensitivity.CSV).exists():
        return None
    table = pd.read_csv(root / sensitivity.CSV)
    record = json.loads((root / sensitivity.JSON).read_text())
    method = record["method"]
    months = sensitivity.months_of(table)
    if "seed_noise" in table:
        pct = f"{sensitivity.table_level(table):.1%}"
        said = sensitivity.sentences(table, method)
        noise = "red ticks: each parameter's seed noise"
        intro = (
            f"{method.capitalize()} sensitivity over {months} months of"
            f" {counted(record['design_rows'], 'design row')} x"
            f" {counted(record['replications'], 'seed')} ({counted(record['runs'], 'run')}), every"
            " row on the same seeds. Each parameter's seed noise is the"
            f" {sensitivity.INDEX[method]} that the seeds alone produce for it; a parameter"
            f" matters for a KPI when its index is above that noise, each test and interval at"
            f" {pct} (5% over {counted(table['parameter'].nunique(), 'parameter')} x"
            f" {counted(table['kpi'].nunique(), 'KPI')}). The intervals cover the seed noise and"
            " the design."
        )
    else:  # a study analysed with the withdrawn dummy: shown as it was, and said so
        table = table.rename(columns={"noise_floor": "seed_noise"})
        pct, said = "95%", record.get("sentences", [])
        noise = "dashed: the dummy's index"
        intro = (
            f"{method.capitalize()} sensitivity of {record['design_rows']} design rows x"
            f" {record['replications']} seeds, analysed against the withdrawn dummy parameter:"
            " its seed noise column is the dummy's index (the noise between seed blocks, not a"
            " parameter's own) and its intervals are 95% without a correction for the number of"
            " parameters x KPIs. Run the study again under another experiment.name to replace it."
        )
    columns = [
        "KPI",
        "Parameter",
        "Range",
        f"{sensitivity.INDEX[method]} ({pct} CI)",
        "Seed noise",
        "Matters",
    ]
    blocks = [
        Para(intro),
        Bullets(said or ["No parameter is above its seed noise."]),
        Table(columns, _sensitivity_rows(table, method), numeric=frozenset({3, 4})),
    ]
    png = root / "figures" / sensitivity.PNG
    if not png.exists():  # the report removes the charts it did not draw itself
        sensitivity.chart(table, method, png)
    caption = f"Bars: the index, whiskers its {pct} CI; {noise}."
    blocks.append(Figure(1, "sensitivity", "Sensitivity indices", caption, png))
    return Section("sensitivity", "Sensitivity", blocks)


def _sensitivity_rows(table: pd.DataFrame, method: str) -> list[list[Cell]]:
    """A row per KPI and parameter: the KPI labelled at the runs' horizon with the unit of its
    indices, the parameter in words (its key below), the indices in the KPI's display units."""
    kpis = sensitivity.kpis_of(table)
    out = []
    for kpi, rows in table.groupby("kpi", sort=False):
        k = kpis[kpi]
        value = partial(
            sensitivity._value, kpi=k, digits=sensitivity._digits(rows, k), method=method
        )
        unit = k.unit_label(delta=True) if method == "morris" else ""
        out += [
            [
                Cell(k.label, sub=unit and f"in {unit}"),
                Cell(sensitivity.parameter_name(r.parameter), sub=r.parameter),
                Cell(f"{r.low:g} to {r.high:g}"),
                Cell(value(r.index), sub=f"{value(r.ci_low)} to {value(r.ci_high)}"),
                Cell(value(r.seed_noise)),
                Cell("yes" if r.matters else "no"),
            ]
            for r in rows.itertuples()
        ]
    return out


def robustness_section(root: Path) -> Section | None:
    """The robustness section of the HTML report, None without robustness results: in the KPI's
    display units, labelled at the runs' horizon (their ``months``)."""
    if not (root / robustness.SUMMARY).exists():
        return None
    summary = pd.read_csv(root / robustness.SUMMARY)
    settings = json.loads((root / robustness.SETTINGS).read_text())
    months = horizon(load(root), experiment_meta(root))
    kpis = registry(months)
    targets = ", ".join(
        f"{kpis[k].short} at {'least' if kpis[k].higher_is_better else 'most'} {kpis[k].text(v)}"
        for k, v in settings["targets"].items()
    )
    kpi = kpis[settings["kpi"]]
    regrets = summary[[c for c in summary if "regret" in c]].stack()
    digits = decimals(*(regrets * kpi.scale))
    low_column = next(c for c in summary.columns if c[0] == "p" and c.endswith(settings["kpi"]))
    percentile = low_column.split("_")[0].upper()
    unit = f" ({kpi.unit})" if kpi.unit else ""
    intervals = "max_regret_low" in summary  # a store analysed before them has none
    level = settings.get("level", 0.95)
    columns = ["Arm", "Futures", f"Mean {kpi.short}{unit}", f"{percentile} {kpi.short}{unit}"]
    if intervals:
        columns.insert(2, "Seeds")
        columns += [
            f"Mean regret{unit}, bias-corrected ({level:.0%} CI; plain)",
            f"Max regret{unit}, bias-corrected ({level:.0%} CI; plain)",
        ]
    else:
        columns += [f"Mean regret{unit}", f"Max regret{unit}"]
    columns.append("Futures meeting the targets")

    def regret(row, stat: str) -> Cell:
        def shown(part: str) -> str:
            return kpi.number(getattr(row, f"{stat}_regret{part}"), digits)

        if not intervals:
            return Cell(shown(""))
        return Cell(shown("_bc"), sub=f"{shown('_low')} to {shown('_high')}; {shown('')}")

    rows = [
        [
            Cell(row.arm),
            Cell(str(row.futures)),
            *([Cell(str(row.seeds))] if intervals else []),
            Cell(kpi.number(getattr(row, f"mean_{settings['kpi']}"), kpi.digits)),
            Cell(kpi.number(getattr(row, low_column), kpi.digits)),
            regret(row, "mean"),
            regret(row, "max"),
            Cell(f"{row.share_meeting:.0%}"),
        ]
        for row in summary.itertuples(index=False)
    ]
    intro = (
        f"Every arm in {summary['futures'].max()} futures sampled by Latin hypercube over"
        f" {', '.join(settings['ranges'])}, each run over {months} months; regret on {kpi.short}"
        f" against the best arm of each future; targets: {targets or 'none'}."
    )
    if intervals:
        seeds = int(summary["seeds"].max())
        intro += (
            f" Regret intervals: {level:.0%} seed bootstrap ({settings.get('bootstrap', 2000)}"
            f" replicates of the {seeds} seeds, resampled together for every arm and future, the"
            " futures held fixed). Noise inflates regret (the best arm of a future and the"
            " maximum over futures are maxima of noisy means: the winner's curse), so each"
            " regret is shown bias-corrected, with its interval around that and the plain value"
            " after it."
        )
        if seeds < 10:
            intro += (
                f" With {seeds} seeds the maximum's interval is too narrow (it covered the truth"
                " in 70-85% of synthetic tests at 95%): rerun with more replications before"
                " deciding."
            )
    blocks = [
        Para(intro),
        Table(columns, rows, frozenset(range(1, len(columns))), "robustness"),
    ]
    figures = root / robustness.FIGURES
    if (figures / robustness.REGRET_PNG).exists():
        caption = "Each dot: an arm's regret in one future (mean over seeds); the bar: its maximum."
        if intervals:
            caption += " Red: the bias-corrected maximum with its interval."
        blocks.append(
            Figure(
                0,
                "robustness_regret",
                "Regret per future",
                caption,
                figures / robustness.REGRET_PNG,
            )
        )
    boxes = pd.read_csv(root / robustness.PRIM)
    blocks += [Para(s) for s in boxes["sentence"]]
    if len(boxes) and (figures / robustness.PRIM_PNG).exists():
        caption = "Red: where each uncertainty lies in the futures the arm misses (PRIM's box)."
        blocks.append(
            Figure(0, "robustness_prim", "Where arms miss", caption, figures / robustness.PRIM_PNG)
        )
    return Section("robustness", "Robustness across futures", blocks)


def optimize_section(root: Path) -> Section | None:
    """The optimisation's Pareto front vs the baseline (its chart redrawn if missing), or None:
    in the KPIs' display units at the runs' horizon, as the command prints it
    (:func:`analysis.optimize.console`)."""
    if not (root / optimize.CSV).exists():
        return None
    table = pd.read_csv(root / optimize.CSV, dtype={"dominated_by": object})
    record = json.loads((root / optimize.JSON).read_text())
    rechecked = "on_front" in table  # a store analysed before the recheck has none
    if rechecked:
        table["dominated_by"] = table["dominated_by"].fillna("")
    intro = (
        f"{record['trials']} trials on seeds {record['seeds']}; the Pareto front re-run on"
        f" {len(record['fresh_seeds'])} fresh seeds ({record['fresh_seeds'][0]} to"
        f" {record['fresh_seeds'][-1]}) with a baseline (no strategy) on the same seeds, over"
        f" {optimize.months_of(table)} months. Differences are trial − baseline."
    )
    if rechecked:
        intro += (
            f" {optimize.correction(table)} A point stays on the front only if no other"
            " re-evaluated point is at least as good on every objective and better on one, on"
            " the fresh means."
        )
    else:
        intro += " 95% CIs."
    png = root / "figures" / optimize.PNG
    if not png.exists():  # the report removes the charts it did not draw itself
        png.parent.mkdir(exist_ok=True)
        optimize.draw(table, record["objectives"][:2], png)
    caption = "Each Pareto trial's difference from the baseline (star), with CI bars"
    caption += " (simultaneous; hollow: dropped on the fresh seeds)." if rechecked else "."
    columns = ["Trial", "Objective", "Mean", "Δ vs baseline (CI)"]
    columns += ["On the front (fresh seeds)"] if rechecked else []
    dropped = optimize.dropped(table) if rechecked else []
    return Section(
        "optimize",
        "Optimisation",
        [
            Para(intro),
            *([Bullets(dropped)] if dropped else []),
            *map(Para, optimize.npv_words(table, record)),
            Table(columns, _pareto_rows(table, rechecked), frozenset({2, 3})),
            *_settings(table),
            Figure(0, "pareto", "Pareto front", caption, png),
        ],
    )


def _pareto_rows(table: pd.DataFrame, rechecked: bool) -> list[list[Cell]]:
    """Per objective, the baseline's mean, then each Pareto trial's mean and difference from it
    with its interval (in the KPI's display units, labelled at the runs' horizon, as
    :func:`analysis.optimize.objective_blocks`) and whether it is on the front."""
    labels = optimize.kpis_of(table)
    out = []
    for kpi, rows in table.groupby("kpi", sort=False):
        k = labels[kpi]
        digits = decimals(*(x * k.scale for x in rows[["mean_diff", "ci_low", "ci_high"]].stack()))
        base = k.number(rows["baseline_mean"].iloc[0], k.digits)
        out.append([Cell("Baseline"), Cell(k.axis()), Cell(base), *[Cell("")] * (1 + rechecked)])
        out += [
            [
                Cell(r.arm),
                Cell(k.axis()),
                Cell(k.number(r.arm_mean, k.digits)),
                Cell(
                    k.number(r.mean_diff, digits, sign=True),
                    sub=optimize._interval(k, r.ci_low, r.ci_high, digits),
                    verdict=r.verdict,
                ),
                *([_front(r)] if rechecked else []),
            ]
            for r in rows.itertuples(index=False)
        ]
    return out


def _front(r) -> Cell:
    return Cell("yes" if r.on_front else "no", sub=r.dominated_by and f"by {r.dominated_by}")


def _settings(table: pd.DataFrame) -> list[Table | Para]:
    """The Pareto trials' settings: a column per parameter in words, the values shortened
    (2M, 318), and what each parameter is."""
    trials = {a: json.loads(v) for a, v in table.drop_duplicates("arm")[["arm", "values"]].values}
    keys = list(dict.fromkeys(q for values in trials.values() for q in values))
    if not keys:
        return []
    rows = [
        [Cell(arm), *(Cell(compact(values[q]) if q in values else "") for q in keys)]
        for arm, values in trials.items()
    ]
    said = "; ".join(
        f"{sensitivity.parameter_name(q)}: {q}"
        + (f", {w}" if (w := sensitivity.parameter_words(q)) else "")
        for q in keys
    )
    names = [sensitivity.parameter_name(q) for q in keys]
    return [
        Table(["Trial", *names], rows, frozenset(range(1, len(keys) + 1))),
        Para(f"Settings of the Pareto trials. {said[:1].upper()}{said[1:]}."),
    ]
