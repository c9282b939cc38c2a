"""The report of a (possibly partial) results store (``python -m experiments.report`` runs it).

Reads every stored run, prints per-arm means with 95% CIs and, against the baseline on the same
seeds, a verdict per arm and KPI read off simultaneous intervals (see ``analysis.stats``) with
the smallest effects of ``sim.kpis`` (or the experiment's ``experiment.smallest_effect``),
and how much common random numbers narrowed the CIs. Writes ``summary.csv`` and
``summary.parquet`` (one row per point and arm), ``differences.csv``/``.parquet`` (one row per
point, arm and KPI) and ``crn.csv`` into the folder; then draws the figures into ``figures/`` and
writes the report, ``report.html`` (self-contained) and ``report.md`` (see ``analysis.html``).
"""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import html, stats
from experiments import store
from sim.kpis import NPV_PARTS, REGISTRY, thresholds_text

SHOWN = ("retention_12m", "retention_horizon", "retention_mid_high", "aum_retention", "npv")


def statistics(results: Path, runs: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The report's tables from the store's successful runs (``runs``: ``store.load(results)``):
    ``arms`` and ``summary`` (empty without successful runs), and with baseline runs
    ``differences``, ``verdicts`` and ``crn``. KPIs missing from the runs (e.g. the NPV parts in
    older stores) are left out."""
    runs = store.load(results) if runs is None else runs
    experiment = store.experiment_meta(results).get("experiment") or {}
    baseline = experiment.get("baseline", "baseline")
    ok = runs[runs["status"] == "ok"]
    if ok.empty:
        return {"summary": pd.DataFrame()}
    kpis = [k for k in stats.KPIS if k in ok.columns]
    tables = {"arms": stats.arm_summary(ok, kpis)}
    if baseline in set(ok["arm"]):
        settings = experiment.get("smallest_effect") or {}
        tables["differences"] = stats.paired_differences(
            ok, baseline, kpis, smallest_effect=settings
        )
        tables["verdicts"] = stats.verdicts(tables["differences"])
        tables["crn"] = stats.crn_efficiency(ok, baseline)
    tables["summary"] = _summary(tables["arms"], tables.get("verdicts"))
    return tables


def report(results: Path, out=print) -> dict[str, pd.DataFrame]:
    """Compute, print and write the experiment's statistics and its report; returns the tables
    (with ``figures``: name, title, caption, png and svg of every chart drawn)."""
    runs = store.load(results)
    if runs.empty:
        out(f"No runs stored in {results} yet.")
        return {}
    tables = statistics(results, runs)
    out(_progress(runs))
    out(_table(tables["summary"]) if len(tables["summary"]) else "No successful runs yet.")
    if len(tables.get("verdicts", [])):
        experiment = store.experiment_meta(results).get("experiment") or {}
        out(_verdict_header(tables["differences"], experiment))
        parts = tables["differences"][tables["differences"]["kpi"].isin(NPV_PARTS)]
        for row in tables["verdicts"].itertuples():
            out(f"  {_label(row.point, row.arm)}: {row.sentence}")
            mine = parts[(parts["point"] == row.point) & (parts["arm"] == row.arm)]
            if len(mine):
                out(f"    {stats.sentence([d for _, d in mine.iterrows()], first=False)}")
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


def _verdict_header(differences: pd.DataFrame, experiment: dict) -> str:
    level = differences["level"].iloc[0] * 100
    arms = int(differences["family_size"].max())
    return (
        f"\nAgainst {experiment.get('baseline', 'baseline')!r} on the same seeds: simultaneous"
        f" {level:g}% CIs for the {arms} arm{'s' if arms != 1 else ''} of each KPI (Bonferroni),"
        " verdicts read off them;"
        f" negligible means within {thresholds_text(experiment.get('smallest_effect') or {})}:"
    )


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
        roles = [f"{r}_{c}" for r in ("retention", "profit") for c in ("verdict", "seeds_needed")]
        keep = ["point", "arm", *roles, "sentence"]
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
    text = REGISTRY[kpi].number(mean)
    if np.isfinite(low) and np.isfinite(high):
        text += " ± " + REGISTRY[kpi].number((high - low) / 2)
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
