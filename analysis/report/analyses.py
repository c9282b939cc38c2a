"""The report's sections for the analyses a store may hold besides its comparison: a
sensitivity study (:mod:`analysis.sensitivity`), robustness across futures
(:mod:`analysis.robustness`) and an optimisation's Pareto front (:mod:`analysis.optimize`). Each
is None when the store has none."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis import optimize, robustness, sensitivity
from analysis.report.document import Bullets, Cell, Figure, Para, Section, Table
from sim.kpis import REGISTRY


def sensitivity_section(root: Path) -> Section | None:
    """The sensitivity section (its chart redrawn if missing), or None without a study."""
    if not (root / sensitivity.CSV).exists():
        return None
    table = pd.read_csv(root / sensitivity.CSV)
    record = json.loads((root / sensitivity.JSON).read_text())
    method = record["method"]
    intro = (
        f"{method.capitalize()} sensitivity of {record['design_rows']} design rows x"
        f" {record['replications']} seeds ({record['runs']} runs). The dummy changes no setting"
        " but the seeds: its index is the noise floor, and a parameter matters when the lower end"
        f" of its {sensitivity.INDEX[method]}'s 95% CI is above it."
    )
    rows = [
        [
            Cell(REGISTRY[r.kpi].label),
            Cell(r.parameter, code=True),
            Cell(f"{r.low:g} to {r.high:g}"),
            Cell(f"{r.index:.3g}", sub=f"{r.ci_low:.3g} to {r.ci_high:.3g}"),
            Cell(f"{r.noise_floor:.3g}"),
            Cell("yes" if r.matters else "no"),
        ]
        for r in table.itertuples()
    ]
    columns = [
        "KPI",
        "Parameter",
        "Range",
        f"{sensitivity.INDEX[method]} (95% CI)",
        "Noise floor",
        "Matters",
    ]
    blocks = [
        Para(intro),
        Bullets(sensitivity.sentences(table, method) or ["No parameter is above the noise floor."]),
        Table(columns, rows, numeric=frozenset({3, 4})),
    ]
    png = root / "figures" / sensitivity.PNG
    if not png.exists():  # the report removes the charts it did not draw itself
        sensitivity.chart(table, method, png)
    caption = "Bars: the index, whiskers its 95% CI; dashed: the dummy's (noise floor)."
    blocks.append(Figure(1, "sensitivity", "Sensitivity indices", caption, png))
    return Section("sensitivity", "Sensitivity", blocks)


def robustness_section(root: Path) -> Section | None:
    """The robustness section of the HTML report, None without robustness results."""
    if not (root / robustness.SUMMARY).exists():
        return None
    summary = pd.read_csv(root / robustness.SUMMARY)
    settings = json.loads((root / robustness.SETTINGS).read_text())
    targets = ", ".join(f"{k} {v:g}" for k, v in settings["targets"].items()) or "none"
    kpi = REGISTRY[settings["kpi"]]
    percentile = summary.columns[3].split("_")[0].upper()
    unit = f" ({kpi.unit})" if kpi.unit else ""
    columns = ["Arm", "Futures", f"Mean {kpi.short}{unit}", f"{percentile} {kpi.short}{unit}"]
    columns += [f"Mean regret{unit}", f"Max regret{unit}", "Futures meeting the targets"]
    rows = [
        [
            Cell(row.arm),
            Cell(str(row.futures)),
            *(Cell(kpi.number(v)) for v in row[2:6]),
            Cell(f"{row.share_meeting:.0%}"),
        ]
        for row in summary.itertuples(index=False)
    ]
    blocks = [
        Para(
            f"Every arm in {summary['futures'].max()} futures sampled by Latin hypercube over"
            f" {', '.join(settings['ranges'])}; regret on {settings['kpi']} against the best arm of"
            f" each future; targets: {targets}."
        ),
        Table(columns, rows, frozenset(range(1, len(columns))), "robustness"),
    ]
    figures = root / robustness.FIGURES
    if (figures / robustness.REGRET_PNG).exists():
        caption = "Each dot: an arm's regret in one future (mean over seeds); the bar: its maximum."
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
    """The optimisation's Pareto front vs the baseline (its chart redrawn if missing), or None."""
    if not (root / optimize.CSV).exists():
        return None
    table = pd.read_csv(root / optimize.CSV)
    record = json.loads((root / optimize.JSON).read_text())
    rows = [
        [
            Cell(r.arm),
            Cell(REGISTRY[r.kpi].axis()),
            Cell(REGISTRY[r.kpi].number(r.arm_mean)),
            Cell(
                REGISTRY[r.kpi].number(r.mean_diff, sign=True),
                sub=f"{REGISTRY[r.kpi].number(r.ci_low)} to {REGISTRY[r.kpi].number(r.ci_high)}",
                verdict=r.verdict,
            ),
            Cell(r.values, code=True),
        ]
        for r in table.itertuples(index=False)
    ]
    intro = (
        f"{record['trials']} trials on seeds {record['seeds']}; the Pareto front re-run on fresh"
        f" seeds {record['fresh_seeds']} with a baseline (no strategy) on the same seeds."
        " Differences are trial − baseline with 95% CIs."
    )
    png = root / "figures" / optimize.PNG
    if not png.exists():  # the report removes the charts it did not draw itself
        png.parent.mkdir(exist_ok=True)
        optimize.draw(table, record["objectives"][:2], png)
    caption = "Each Pareto trial's difference from the baseline (star), with 95% CI bars."
    columns = ["Trial", "Objective", "Value", "Δ vs baseline (95% CI)", "Settings"]
    return Section(
        "optimize",
        "Optimisation",
        [
            Para(intro),
            Table(columns, rows, frozenset({2, 3})),
            Figure(0, "pareto", "Pareto front", caption, png),
        ],
    )
