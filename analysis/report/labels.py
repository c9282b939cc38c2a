"""The names a strategy team reads: KPI labels that say the runs' horizon ("Retention at 60
months", from :func:`sim.kpis.registry`) and arm titles from the strategies' metadata
(:func:`sim.strategies.title`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pandas as pd

from sim.kpis import DEFAULT_MONTHS, Kpi, registry
from sim.strategies import title


@dataclass(frozen=True)
class Labels:
    """The KPIs labelled for a horizon of ``months`` measured months, and the arms' titles."""

    months: int = DEFAULT_MONTHS

    @property
    def kpis(self) -> dict[str, Kpi]:
        return _registry(self.months)

    def kpi(self, name: str) -> Kpi:
        return self.kpis[name]

    @staticmethod
    def arm(arm: str) -> str:
        """An arm in words: a strategy's title ("Outlet closure"), "Baseline", or the arm's own
        name (:func:`sim.strategies.title`)."""
        return title(arm)

    @classmethod
    def of(cls, runs: pd.DataFrame, meta: dict) -> Labels:
        """The labels of a store: the horizon of its successful runs (their ``months``), else
        of its experiment's scenario, else the default."""
        return cls(horizon(runs, meta))


_registry = cache(registry)


def horizon(runs: pd.DataFrame, meta: dict) -> int:
    """The measured months of the runs (the most common, should they differ)."""
    if "months" in runs and "status" in runs:
        months = runs.loc[runs["status"] == "ok", "months"].dropna()
        if len(months):
            return int(months.mode().iloc[0])
    configured = meta.get("months")
    return int(configured) if isinstance(configured, int) else DEFAULT_MONTHS
