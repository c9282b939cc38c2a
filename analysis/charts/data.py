"""The data behind the charts: the stored runs, the report's tables, the arms in order with their
styles, and the arm and point of the single-arm charts."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.charts.common import arm_styles, short_point
from analysis.stats import BETTER, NEGLIGIBLE, UNDECIDED, WORSE
from experiments import store
from sim.kpis import REGISTRY

MAX_ARMS = 6  # non-baseline arms overlaid in one axes; more are ranked by effect
VERDICT_SCORE = {BETTER: 1, NEGLIGIBLE: 0, UNDECIDED: 0, WORSE: -1}
"""How an arm ranks by a verdict, when choosing the arm of the single-arm charts."""


class ChartData:
    """Stored runs, the report's tables, arm order and styles, and the chosen arm and point."""

    def __init__(self, results: Path, tables: dict[str, pd.DataFrame], arm: str | None):
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
        self.points = list(pd.unique(self.runs["point"]))
        self.grid = {k: list(v) for k, v in (experiment.get("grid") or {}).items()}
        sample = experiment.get("sample") or {}
        self.sampled = list(sample.get("ranges") or {}) if sample.get("method") != "none" else []
        self.arm, self.point = self._select(arm)
        self.arm_given = arm is not None

    def _select(self, arm: str | None) -> tuple[str, str]:
        """The chosen arm (best retention verdict, else the first after the baseline) and its
        point (its best verdicts: retention first, then profit, then the retention gain)."""
        if arm is not None and arm not in self.arms:
            raise ValueError(f"arm {arm!r} is not in the results; arms: {self.arms}")
        others = [a for a in self.arms if a != self.baseline]
        ranked = self._ranked_verdicts()
        if arm is None:
            better = ranked[ranked["r"] > 0]
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
        parts = [arm] if many_arms or arm == self.baseline or not self.multi_point else []
        if self.multi_point and arm != self.baseline:
            parts.append(short_point(point))
        return " · ".join(parts)

    def shown(self, kpi: str) -> tuple[list[str], str, str]:
        """The arms overlaid in one axes at the chosen point: the baseline and up to MAX_ARMS
        others (those with the largest |difference| in ``kpi`` when there are more), a caption
        note and a legend title saying so."""
        here = set(self.ts["arm"]) if not self.ts.empty else set()
        others = [a for a in self.arms if a != self.baseline and a in here]
        base = [self.baseline] if self.baseline in here else []
        if len(others) <= MAX_ARMS:
            return base + others, "", "Arm"
        diffs = self.tables.get("differences")
        keep, why = others[:MAX_ARMS], "the first in the experiment."
        if diffs is not None:
            rows = diffs[(diffs["point"] == self.point) & (diffs["kpi"] == kpi)]
            size = rows.set_index("arm")["mean_diff"].abs().reindex(others).fillna(0)
            keep = list(size.sort_values(ascending=False, kind="stable").index[:MAX_ARMS])
            label = REGISTRY[kpi].label.lower()
            why = f"the largest {label} changes; every arm is in the forest plot."
        shown = f"{MAX_ARMS} of {len(others)} arms"
        note = f" {shown} shown: {why}"
        return base + [a for a in others if a in keep], note, f"Arm ({shown})"
