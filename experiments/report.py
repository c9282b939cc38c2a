"""``python -m experiments.report RESULTS_DIR``: statistics of a (possibly partial) results store.

Reads every stored run, prints per-arm means with 95% CIs, a verdict per arm from paired
differences against the baseline (same seeds; paired t and Wilcoxon p-values under Holm's
correction), and how much common random numbers narrowed the CIs. Writes ``summary.csv`` and
``summary.parquet`` (one row per point and arm), ``differences.csv``/``.parquet`` (one row per
point, arm and KPI) and ``crn.csv`` into the folder; then draws the figures into ``figures/`` and
writes the report, ``report.html`` (self-contained) and ``report.md`` (see ``experiments.html``).
"""

from __future__ import annotations

import sys
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import pandas as pd

from experiments import html, stats, store

RATE_KPIS = ("retention_12m", "retention_horizon", "retention_mid_high", "aum_retention")
MONEY_KPIS = ("revenue", "cost", "profit", "npv")
SHOWN = ("retention_12m", "retention_horizon", "retention_mid_high", "aum_retention", "npv")


def report(results: Path, out=print) -> dict[str, pd.DataFrame]:
    """Compute, print and write the experiment's statistics and its report; returns the tables
    (with ``figures``: name, title, caption, png and svg of every chart drawn)."""
    runs = store.load(results)
    if runs.empty:
        out(f"No runs stored in {results} yet.")
        return {}
    baseline = store.experiment_meta(results).get("experiment", {}).get("baseline", "baseline")
    ok = runs[runs["status"] == "ok"]
    kpis = [k for k in stats.KPIS if k in ok.columns]
    arms = stats.arm_summary(ok, kpis)
    tables = {"arms": arms}
    out(_progress(runs))
    if baseline in set(ok["arm"]):
        tables["differences"] = stats.paired_differences(ok, baseline, kpis)
        tables["verdicts"] = stats.verdicts(tables["differences"])
        tables["crn"] = stats.crn_efficiency(ok, baseline)
    tables["summary"] = _summary(arms, tables.get("verdicts"))
    out(_table(tables["summary"]))
    if "verdicts" in tables:
        out(f"\nAgainst {baseline!r} on the same seeds (Holm-corrected paired t-tests, 5%):")
        for row in tables["verdicts"].itertuples():
            out(f"  {_label(row.point, row.arm)}: {row.sentence}")
        out(_crn_line(tables["crn"]))
    _write(results, tables)
    written = html.write_report(results, tables, runs)
    columns = [f.name for f in fields(html.ChartFile)]
    tables["figures"] = pd.DataFrame([asdict(c) for c in written.charts], columns=columns)
    drawn = f"{len(written.charts)} charts" if not written.error else f"not drawn: {written.error}"
    out(f"\nFigures: {written.figures} ({drawn})")
    out(f"Report: {written.html}")
    out(f"Report: {written.md}")
    return tables


def _progress(runs: pd.DataFrame) -> str:
    counts = runs["status"].value_counts()
    parts = [f"{counts.get(s, 0)} {s}" for s in ("ok", "failed", "missing") if counts.get(s, 0)]
    return f"Runs: {', '.join(parts)}."


def _summary(arms: pd.DataFrame, verdicts: pd.DataFrame | None) -> pd.DataFrame:
    """One row per (point, arm): n and each KPI's mean and 95% CI; the verdicts if any."""
    wide = arms.pivot_table(
        index=["point", "arm"], columns="kpi", values=["mean", "ci_low", "ci_high"], sort=False
    )
    wide.columns = [f"{kpi}_{stat}".replace("_mean", "") for stat, kpi in wide.columns]
    n = arms.groupby(["point", "arm"], sort=False)["n"].max().rename("n")
    summary = pd.concat([n, wide], axis=1).reset_index()
    if verdicts is not None:
        keep = ["point", "arm", "retention_verdict", "profit_verdict", "sentence"]
        summary = summary.merge(verdicts[keep], on=["point", "arm"], how="left")
    return summary


def _table(summary: pd.DataFrame) -> str:
    rows = []
    for row in summary.to_dict("records"):
        cells = {"arm": _label(row["point"], row["arm"]), "runs": int(row["n"])}
        for kpi in SHOWN:
            if kpi in row:
                cells[kpi] = _with_ci(kpi, row[kpi], row[f"{kpi}_ci_low"], row[f"{kpi}_ci_high"])
        rows.append(cells)
    header = "\nMeans with 95% CI half-widths (retention in %, NPV in CNY M):"
    return header + "\n" + pd.DataFrame(rows).to_string(index=False)


def _with_ci(kpi: str, mean: float, low: float, high: float) -> str:
    scale, fmt = (100.0, "{:.1f}") if kpi in RATE_KPIS else (1e-6, "{:,.1f}")
    text = fmt.format(mean * scale)
    if np.isfinite(low) and np.isfinite(high):
        text += " ± " + fmt.format((high - low) / 2 * scale)
    return text


def _label(point: str, arm: str) -> str:
    return f"{arm} @ {point}" if point else arm


def _crn_line(crn: pd.DataFrame) -> str:
    finite = crn.replace([np.inf, -np.inf], np.nan).dropna(subset=["ratio"])
    finite = finite[finite["ratio"] > 0]
    if finite.empty:
        return "Common random numbers: too few varying paired runs to measure their effect."
    return (
        f"Common random numbers: paired CIs of the retention difference are"
        f" {finite['ratio'].median():.2f}x as wide as independent seeds would give (median over"
        f" arms), worth about {finite['equivalent_replications'].median():,.0f}x the replications."
    )


def _write(results: Path, tables: dict[str, pd.DataFrame]) -> None:
    for name in ("summary", "differences"):
        if name in tables:
            tables[name].to_csv(results / f"{name}.csv", index=False)
            tables[name].to_parquet(results / f"{name}.parquet", index=False)
    if "crn" in tables:
        tables["crn"].to_csv(results / "crn.csv", index=False)


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: python -m experiments.report RESULTS_DIR")
    results = Path(sys.argv[1])
    if not results.is_dir():
        sys.exit(f"error: {results} is not a folder")
    report(results)


if __name__ == "__main__":
    main()
