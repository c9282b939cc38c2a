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
    if "seed_noise" in table:
        pct = f"{sensitivity.table_level(table):.1%}"
        said = sensitivity.sentences(table, method)
        noise = "red ticks: each parameter's seed noise"
        intro = (
            f"{method.capitalize()} sensitivity of {record['design_rows']} design rows x"
            f" {record['replications']} seeds ({record['runs']} runs), every row on the same"
            f" seeds. Each parameter's seed noise is the {sensitivity.INDEX[method]} that the"
            " seeds alone produce for it; a parameter matters for a KPI when its index is above"
            f" that noise, each test and interval at {pct} (5% over"
            f" {table['parameter'].nunique()} parameters x {table['kpi'].nunique()} KPIs). The"
            " intervals cover the seed noise and the design."
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
    rows = [
        [
            Cell(REGISTRY[r.kpi].label),
            Cell(r.parameter, code=True),
            Cell(f"{r.low:g} to {r.high:g}"),
            Cell(f"{r.index:.3g}", sub=f"{r.ci_low:.3g} to {r.ci_high:.3g}"),
            Cell(f"{r.seed_noise:.3g}"),
            Cell("yes" if r.matters else "no"),
        ]
        for r in table.itertuples()
    ]
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
        Table(columns, rows, numeric=frozenset({3, 4})),
    ]
    png = root / "figures" / sensitivity.PNG
    if not png.exists():  # the report removes the charts it did not draw itself
        sensitivity.chart(table, method, png)
    caption = f"Bars: the index, whiskers its {pct} CI; {noise}."
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
        if not intervals:
            return Cell(kpi.number(getattr(row, f"{stat}_regret")))
        low, high = (kpi.number(getattr(row, f"{stat}_regret_{e}")) for e in ("low", "high"))
        plain = kpi.number(getattr(row, f"{stat}_regret"))
        return Cell(kpi.number(getattr(row, f"{stat}_regret_bc")), sub=f"{low} to {high}; {plain}")

    rows = [
        [
            Cell(row.arm),
            Cell(str(row.futures)),
            *([Cell(str(row.seeds))] if intervals else []),
            Cell(kpi.number(getattr(row, f"mean_{settings['kpi']}"))),
            Cell(kpi.number(getattr(row, low_column))),
            regret(row, "mean"),
            regret(row, "max"),
            Cell(f"{row.share_meeting:.0%}"),
        ]
        for row in summary.itertuples(index=False)
    ]
    intro = (
        f"Every arm in {summary['futures'].max()} futures sampled by Latin hypercube over"
        f" {', '.join(settings['ranges'])}; regret on {settings['kpi']} against the best arm of"
        f" each future; targets: {targets}."
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
    """The optimisation's Pareto front vs the baseline (its chart redrawn if missing), or None."""
    if not (root / optimize.CSV).exists():
        return None
    table = pd.read_csv(root / optimize.CSV, dtype={"dominated_by": object})
    record = json.loads((root / optimize.JSON).read_text())
    rechecked = "on_front" in table  # a store analysed before the recheck has none
    if rechecked:
        table["dominated_by"] = table["dominated_by"].fillna("")

    def front(r) -> list[Cell]:
        if not rechecked:
            return []
        return [Cell("yes" if r.on_front else "no", sub=r.dominated_by and f"by {r.dominated_by}")]

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
            *front(r),
            Cell(r.values, code=True),
        ]
        for r in table.itertuples(index=False)
    ]
    intro = (
        f"{record['trials']} trials on seeds {record['seeds']}; the Pareto front re-run on"
        f" {len(record['fresh_seeds'])} fresh seeds ({record['fresh_seeds'][0]} to"
        f" {record['fresh_seeds'][-1]}) with a baseline (no strategy) on the same seeds."
        " Differences are trial − baseline."
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
    columns = ["Trial", "Objective", "Value", "Δ vs baseline (CI)", "Settings"]
    if rechecked:
        columns.insert(4, "On the front (fresh seeds)")
    return Section(
        "optimize",
        "Optimisation",
        [
            Para(intro),
            *([Bullets(dropped)] if (dropped := rechecked and optimize.dropped(table)) else []),
            Table(columns, rows, frozenset({2, 3})),
            Figure(0, "pareto", "Pareto front", caption, png),
        ],
    )
