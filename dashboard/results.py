"""A results store for the page "Results": its verdicts in a strategy team's words, its arms
and its charts (drawn by :func:`analysis.charts.draw_all` for the arms picked)."""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.charts import draw_all
from analysis.report import statistics
from analysis.stats import ROLES, verdict_words
from runner import store
from sim.kpis import DEFAULT_MONTHS, Kpi, decimals, registry
from sim.strategies import title

RESULTS = Path(os.environ.get("DASHBOARD_RESULTS", "results/experiments"))
"""Where the stores are listed from: ``python -m dashboard --results DIR`` sets it; by default
where the comparisons write them (``output.dir`` of ``experiments.compare``)."""
SUMMARY_KPIS = ("retention_horizon", "retention_mid_high", "npv")


@dataclass(frozen=True)
class Store:
    """An opened store: its folder, the report's tables, its arms (baseline first) and horizon."""

    path: Path
    tables: dict[str, pd.DataFrame]
    baseline: str
    arms: list[str]
    months: int

    @property
    def others(self) -> list[str]:
        """The arms beside the baseline."""
        return [a for a in self.arms if a != self.baseline]


@dataclass(frozen=True)
class ChartImage:
    """One drawn chart, kept in memory: its title, caption and PNG bytes."""

    title: str
    caption: str
    png: bytes


def stores(root: Path = RESULTS) -> list[Path]:
    """The stores under ``root``: folders with an experiment config or stored runs."""
    if not root.is_dir():
        return []
    found = (p for p in root.iterdir() if (p / "experiment.yaml").exists() or (p / "runs").is_dir())
    return sorted(found)


def open_store(path: Path) -> Store:
    """The store's statistics; ValueError if the folder holds no successful runs."""
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"{path} is not a folder")
    runs = store.load(path)
    ok = runs[runs["status"] == "ok"] if "status" in runs else runs.iloc[:0]
    if ok.empty:
        raise ValueError(f"{path} holds no successful runs")
    experiment = store.experiment_meta(path).get("experiment") or {}
    baseline = experiment.get("baseline", "baseline")
    arms = list(dict.fromkeys(ok["arm"]))
    arms = sorted(arms, key=lambda a: a != baseline)
    months = int(ok["months"].mode().iloc[0]) if "months" in ok else DEFAULT_MONTHS
    return Store(path, statistics(path, runs), baseline, arms, months)


def verdict_table(opened: Store) -> pd.DataFrame:
    """Per arm (and point): the difference from the baseline, its simultaneous 95% CI and the
    verdict of retention and of NPV, labelled for the store's horizon."""
    verdicts = opened.tables.get("verdicts")
    if verdicts is None or verdicts.empty:
        return pd.DataFrame()
    kpis = registry(opened.months)
    rows = [_verdict_row(record, kpis) for record in verdicts.to_dict("records")]
    table = pd.DataFrame(rows)
    return table if verdicts["point"].astype(str).str.len().any() else table.drop(columns="Point")


def _verdict_row(record: dict, kpis: dict[str, Kpi]) -> dict[str, str]:
    row = {"Point": str(record["point"]), "Strategy": title(record["arm"])}
    for role in ROLES:
        kpi = kpis[record[f"{role}_kpi"]]
        diff, low, high = (record[f"{role}_{k}"] for k in ("diff", "ci_low", "ci_high"))
        digits = decimals(diff * kpi.scale, low * kpi.scale, high * kpi.scale)
        name = kpi.short[:1].upper() + kpi.short[1:]
        row[kpi.axis(delta=True)] = kpi.number(diff, digits, sign=True)
        row[f"{name}: 95% CI"] = (
            f"{kpi.number(low, digits, sign=True)} to {kpi.number(high, digits, sign=True)}"
        )
        row[f"{name}: verdict"] = _verdict(record[f"{role}_verdict"], record, role)
    row["Seeds"] = str(record["retention_n"])
    return row


def _verdict(word: str, record: dict, role: str) -> str:
    needed = record[f"{role}_seeds_needed"]
    if isinstance(needed, float) and math.isfinite(needed):
        return f"{word} (~{int(needed)} seeds)"
    return verdict_words(str(word), bool(record.get(f"{role}_clears", True)))


def summary_table(opened: Store) -> pd.DataFrame:
    """Per arm (and point): runs and the mean with its 95% CI of retention, mid/high-tier
    retention and NPV."""
    summary = opened.tables["summary"]
    kpis = registry(opened.months)
    rows = []
    for record in summary.to_dict("records"):
        row = {"Strategy": title(record["arm"]), "Runs": str(record["n"])}
        for name in SUMMARY_KPIS:
            kpi = kpis[name]
            low, high = (kpi.number(record[f"{name}_{b}"]) for b in ("ci_low", "ci_high"))
            row[kpi.axis()] = f"{kpi.number(record[name])} ({low} to {high})"
        rows.append(row)
    return pd.DataFrame(rows)


def charts(opened: Store, arms: list[str]) -> list[ChartImage]:
    """Every chart the store supports, showing ``arms`` beside the baseline (none: those with
    the largest effects)."""
    with tempfile.TemporaryDirectory(prefix="dashboard-charts-") as tmp:
        drawn = draw_all(opened.path, opened.tables, Path(tmp), arms=arms)
        return [ChartImage(c.title, c.caption, Path(c.png).read_bytes()) for c in drawn]
