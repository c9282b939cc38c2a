"""A results store for the page "Results": its verdicts in a strategy team's words, its arms
and its charts (the report's generators, :data:`analysis.charts.CHARTS`, drawn one at a time
for the arms picked, as PNG in memory)."""

from __future__ import annotations

import io
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl
import pandas as pd

from analysis.charts import CHARTS
from analysis.charts.common import STYLE
from analysis.charts.data import ChartData
from analysis.report import statistics, who_gets_hurt
from analysis.report.harm import arm_sentences
from analysis.stats import ROLES, verdict_words
from runner import store
from sim.kpis import DEFAULT_MONTHS, Kpi, decimals, registry
from sim.strategies import title

RESULTS = Path(os.environ.get("DASHBOARD_RESULTS", "results/experiments"))
"""Where the stores are listed from: ``python -m dashboard --results DIR`` sets it; by default
where the comparisons write them (``output.dir`` of ``experiments.compare``)."""
SUMMARY_KPIS = ("retention_horizon", "retention_mid_high", "npv")
CHART_DPI = 100
"""Pixels per inch of the charts on the page (the report's are sharper and slower to encode)."""
TEXT_SIZES = (
    *("font.size", "axes.titlesize", "axes.labelsize", "figure.titlesize"),
    *("xtick.labelsize", "ytick.labelsize", "legend.fontsize", "legend.title_fontsize"),
)
CHART_TEXT = 1.3
"""The report's text sizes times this on the page: a report chart shown across the content of a
1,280 px window is about half its size on a slide, and its 13-point text would read as 10 px."""
CHART_STYLE = {
    key: value * CHART_TEXT if key in TEXT_SIZES else value for key, value in STYLE.items()
}
STORE_FILES = ("experiment.yaml", "plan.csv", "runs")
"""What a comparison writes into its store; the newest of them dates the store."""
KEEP = 8
"""Opened stores and drawn chart sets kept in memory (the latest used), for every session: a
store is read and its charts drawn once until it changes, not at every visit of the page."""
_OPENED: OrderedDict[tuple[str, float], Store] = OrderedDict()
_DRAWN: OrderedDict[tuple[str, float, tuple[str, ...]], list[ChartImage]] = OrderedDict()
_READING: dict[tuple[str, float], threading.Lock] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Store:
    """An opened store: its folder, the report's tables, its arms (baseline first), horizon
    and when it was last written (a time stamp)."""

    path: Path
    tables: dict[str, pd.DataFrame]
    baseline: str
    arms: list[str]
    months: int
    written: float = 0.0

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
    """The stores under ``root`` (folders with an experiment config or stored runs), the most
    recently written first."""
    if not root.is_dir():
        return []
    found = (p for p in root.iterdir() if (p / "experiment.yaml").exists() or (p / "runs").is_dir())
    return sorted(found, key=lambda p: (-_written(p), p.name))


def _written(path: Path) -> float:
    """When the comparison last wrote into the store (its files' newest modification time)."""
    times = [(path / name).stat().st_mtime for name in STORE_FILES if (path / name).exists()]
    return max(times, default=0.0)


def store_name(path: Path) -> str:
    """The store's experiment name (``experiment.name``), else its folder's name."""
    experiment = store.experiment_meta(Path(path)).get("experiment") or {}
    return str(experiment.get("name") or Path(path).name)


def store_names(paths: list[Path]) -> dict[str, Path]:
    """Each store by its experiment name; a name shared by several stores gets its folder's
    name after it."""
    names = [store_name(p) for p in paths]
    return {
        name if names.count(name) == 1 else f"{name} ({p.name})": p
        for name, p in zip(names, paths, strict=True)
    }


def open_store(path: Path) -> Store:
    """The store's statistics (read once until the store is written again); ValueError if the
    folder holds no successful runs."""
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"{path} is not a folder")
    key = (str(path.resolve()), _written(path))
    with _LOCK:
        reading = _READING.setdefault(key, threading.Lock())
    with reading:  # one reader at a time: a second waits for the first's result
        with _LOCK:
            opened = _OPENED.get(key)
        if opened is None:
            opened = _read(path, key[1])
            _keep(_OPENED, key, opened)
    return opened


def warm(root: Path = RESULTS) -> threading.Thread:
    """Open the newest store under ``root`` in the background (its statistics take a few
    seconds for the full comparison), so that the page "Results" opens it at once."""

    def read() -> None:
        with suppress(Exception):  # the page reports a store it cannot open
            if found := stores(root):
                open_store(found[0])

    thread = threading.Thread(target=read, name="dashboard-warm", daemon=True)
    thread.start()
    return thread


def _keep(kept: OrderedDict, key, value) -> None:
    with _LOCK:
        kept[key] = value
        kept.move_to_end(key)
        while len(kept) > KEEP:
            kept.popitem(last=False)


def _read(path: Path, written: float) -> Store:
    runs = store.load(path)
    ok = runs[runs["status"] == "ok"] if "status" in runs else runs.iloc[:0]
    if ok.empty:
        raise ValueError(f"{path} holds no successful runs")
    experiment = store.experiment_meta(path).get("experiment") or {}
    baseline = experiment.get("baseline", "baseline")
    arms = list(dict.fromkeys(ok["arm"]))
    arms = sorted(arms, key=lambda a: a != baseline)
    months = int(ok["months"].mode().iloc[0]) if "months" in ok else DEFAULT_MONTHS
    tables = statistics(path, runs)
    if not (hurt := who_gets_hurt(path, runs)).empty:
        tables["harm"] = hurt
    return Store(path, tables, baseline, arms, months, written)


def who_gets_hurt_lines(opened: Store) -> list[str]:
    """Per arm (and point), who it hurts or spares, in the report's words."""
    harm = opened.tables.get("harm")
    if harm is None or harm.empty:
        return []
    return arm_sentences(harm, opened.months)


def verdict_table(opened: Store) -> pd.DataFrame:
    """Per arm (and point): the difference from the baseline with its simultaneous 95% CI, and
    the verdict, of retention and of NPV, labelled for the store's horizon."""
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
        low, high = (kpi.number(end, digits, sign=True) for end in (low, high))
        span = f"{low}\u00a0to\u00a0{high}"  # broken, if at all, before the bracket
        row[f"{kpi.axis(delta=True)} (95% CI)"] = f"{kpi.number(diff, digits, sign=True)} ({span})"
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


def charts(
    opened: Store, arms: list[str], cancel: threading.Event | None = None
) -> Iterator[ChartImage]:
    """Every chart the store supports, in the report's order, showing ``arms`` beside the
    baseline (none: those with the largest effects): yielded one at a time as each is drawn,
    until ``cancel`` is set (a set drawn to the end is kept: the next time it comes at once).
    The report's style holds only while a chart is drawn."""
    key = (str(opened.path.resolve()), opened.written, tuple(arms))
    with _LOCK:
        kept = _DRAWN.get(key)
    if kept is not None:
        yield from kept
        return
    data = ChartData(opened.path, opened.tables, None, arms)
    drawn: list[ChartImage] = []
    for draw in CHARTS if not data.runs.empty else ():
        if cancel is not None and cancel.is_set():
            return
        with mpl.rc_context(CHART_STYLE):
            images = [ChartImage(d.title, d.caption, _png(d.figure)) for d in draw(data)]
        drawn.extend(images)
        yield from images
    _keep(_DRAWN, key, drawn)


def _png(figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=CHART_DPI, bbox_inches="tight", pad_inches=0.2)
    return out.getvalue()
