"""The data behind the charts: the stored runs, the report's tables, the arms in order with their
styles, and the arm and point of the single-arm charts."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.charts.common import arm_styles, left_out_note, short_point
from analysis.stats import BETTER, NEGLIGIBLE, UNDECIDED, WORSE
from runner import store
from sim.kpis import DEFAULT_MONTHS, Kpi, registry
from sim.strategies import title as arm_title

MAX_ARMS = 6  # non-baseline arms overlaid in one axes; more are ranked by effect
VERDICT_SCORE = {BETTER: 1, NEGLIGIBLE: 0, UNDECIDED: 0, WORSE: -1}
"""How an arm ranks by a verdict, when choosing the arm of the single-arm charts."""


class ChartData:
    """Stored runs, the report's tables, arm order and styles, the arms the charts show, and
    the chosen arm and point. ``chart_arms``: the arms shown beside the baseline (None: the
    experiment's ``chart_arms``; empty: up to MAX_ARMS, those with the largest effects)."""

    def __init__(
        self,
        results: Path,
        tables: dict[str, pd.DataFrame],
        arm: str | None,
        chart_arms: list[str] | None = None,
    ):
        self.results, self.tables = results, tables
        self.meta = store.experiment_meta(results)
        experiment = self.meta.get("experiment", {})
        runs = store.load(results)
        self.runs = runs[runs["status"] == "ok"] if not runs.empty else runs
        if self.runs.empty:
            return
        self.baseline = experiment.get("baseline", "baseline")
        present = list(pd.unique(self.runs["arm"]))
        listed = [a for a in experiment.get("arms", {}) if a in present]
        self.arms = listed + [a for a in present if a not in listed]
        self.styles = arm_styles(self.arms, self.baseline)
        stored = [a for a in experiment.get("chart_arms") or [] if a in present]
        self.chart_arms = self._chart_arms(stored if chart_arms is None else chart_arms)
        self.points = list(pd.unique(self.runs["point"]))
        self.grid = {k: list(v) for k, v in (experiment.get("grid") or {}).items()}
        sample = experiment.get("sample") or {}
        self.sampled = list(sample.get("ranges") or {}) if sample.get("method") != "none" else []
        self.arm, self.point = self._select(arm)
        self.arm_given = arm is not None

    def _chart_arms(self, names: list[str]) -> list[str]:
        """The chart arms in the experiment's order; refuses a name that is not an arm with
        runs (the stored config's arms without runs, e.g. left out by ``only``, are dropped)."""
        unknown = [a for a in names if a not in self.arms]
        if unknown:
            raise ValueError(
                f"chart_arms: {unknown[0]!r} is not an arm of the results; arms: {self.arms}"
            )
        return [a for a in self.arms if a in names and a != self.baseline]

    def _select(self, arm: str | None) -> tuple[str, str]:
        """The chosen arm (of the chart arms if any: the best retention verdict, else the first)
        and its point (its best verdicts: retention first, then profit, then the retention
        gain)."""
        if arm is not None and arm not in self.arms:
            raise ValueError(f"arm {arm!r} is not in the results; arms: {self.arms}")
        others = self.chart_arms or [a for a in self.arms if a != self.baseline]
        ranked = self._ranked_verdicts()
        if arm is None:
            better = ranked[(ranked["r"] > 0) & ranked["arm"].isin(others)]
            arm = better["arm"].iloc[0] if len(better) else (others or [self.baseline])[0]
        mine = ranked[ranked["arm"] == arm]
        if len(mine):
            return arm, mine["point"].iloc[0]
        return arm, self.runs.loc[self.runs["arm"] == arm, "point"].iloc[0]

    def _ranked_verdicts(self) -> pd.DataFrame:
        v = self.tables.get("verdicts")
        if v is None or v.empty:
            return pd.DataFrame(columns=["arm", "point", "r"])
        ranked = v.assign(
            r=v["retention_verdict"].map(VERDICT_SCORE).fillna(0),
            p=v["profit_verdict"].map(VERDICT_SCORE).fillna(0),
            d=v["retention_diff"].fillna(-np.inf),
        )
        return ranked.sort_values(["r", "p", "d"], ascending=False, kind="stable")

    @cached_property
    def ts(self) -> pd.DataFrame:
        """Monthly time series of the chosen point's runs."""
        return store.load_timeseries(self.results, self.runs[self.runs["point"] == self.point])

    @cached_property
    def months(self) -> int:
        """Measured months of the chosen point's runs (the horizon the KPI labels name)."""
        here = self.runs[self.runs["point"] == self.point]
        if "months" not in here or here["months"].isna().all():
            return DEFAULT_MONTHS
        return int(here["months"].max())

    @cached_property
    def kpis(self) -> dict[str, Kpi]:
        """The KPIs, labelled with the horizon of the chosen point."""
        return registry(self.months)

    @cached_property
    def discount_rate(self) -> float:
        """The NPV's annual discount rate of the chosen point's runs (``economics``)."""
        run_id = self.runs.loc[self.runs["point"] == self.point, "run_id"].iloc[0]
        config = store.run_config(self.results, run_id)
        return float(config["economics"]["discount_rate"])

    @property
    def multi_point(self) -> bool:
        return len(self.points) > 1

    @property
    def seeds(self) -> int:
        """Seeds per arm in the chosen point's time series (the fewest of any arm)."""
        return int(self.ts.groupby("arm")["seed"].nunique().min())

    def at_point(self) -> str:
        """Title suffix naming the chosen point of a sweep."""
        return f" at {short_point(self.point)}" if self.multi_point else ""

    def label(self, arm: str, point: str) -> str:
        """Row label of an (arm, point): the arm, and the point when there are several."""
        many_arms = len([a for a in self.arms if a != self.baseline]) > 1
        parts = (
            [arm_title(arm)] if many_arms or arm == self.baseline or not self.multi_point else []
        )
        if self.multi_point and arm != self.baseline:
            parts.append(short_point(point))
        return " · ".join(parts)

    def shown(self, kpi: str) -> tuple[list[str], str, str]:
        """The arms shown in one axes at the chosen point: the baseline and the chart arms, or
        up to MAX_ARMS others (those with the largest |difference| in ``kpi`` when there are
        more); a caption note naming the arms left out, and a legend title."""
        here = set(self.ts["arm"]) if not self.ts.empty else set()
        others = [a for a in self.arms if a != self.baseline and a in here]
        base = [self.baseline] if self.baseline in here else []
        keep = self.chosen_arms(others, kpi)
        left_out = [a for a in others if a not in keep]
        legend = f"Strategy ({len(keep)} of {len(others)} shown)" if left_out else "Strategy"
        return base + keep, self._why(kpi, left_out) + left_out_note(left_out), legend

    def _why(self, kpi: str, left_out: list[str]) -> str:
        """How the arms shown were chosen, when some are left out by effect size."""
        if not left_out or self.chart_arms:
            return ""
        if self.tables.get("differences") is None:
            return f" Shown: the first {MAX_ARMS} arms."
        return f" Shown: the {MAX_ARMS} arms that change {self.kpis[kpi].short} most."

    def chosen_arms(self, others: list[str], kpi: str) -> list[str]:
        """Of ``others`` (in order), the chart arms, else all when they are few, else the
        MAX_ARMS with the largest |difference| in ``kpi`` at the chosen point."""
        if self.chart_arms:
            return [a for a in others if a in self.chart_arms]
        diffs = self.tables.get("differences")
        if len(others) <= MAX_ARMS or diffs is None or diffs.empty:
            return others[:MAX_ARMS]
        rows = diffs[(diffs["point"] == self.point) & (diffs["kpi"] == kpi)]
        size = rows.set_index("arm")["mean_diff"].abs().reindex(others).fillna(0)
        keep = set(size.sort_values(ascending=False, kind="stable").index[:MAX_ARMS])
        return [a for a in others if a in keep]
