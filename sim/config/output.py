"""What a run writes: its folder, the customer panel and the CRM extract."""

from __future__ import annotations

from dataclasses import dataclass

from sim.config.constants import MAX_MONTHS
from sim.params import param


@dataclass
class OutputConfig:
    dir: str = param("results/runs", "folder for run folders", "project layout")
    panel: bool = param(True, "write the customer panel", "project layout")
    crm_extract: bool = param(True, "write the CRM extract (crm_extract.parquet)", "project layout")
    crm_reference_month: int = param(
        0,
        "measured month of the CRM extract's snapshot (0: the end of burn-in)",
        "project layout",
        0,
        MAX_MONTHS,
    )
    crm_horizon_months: int = param(
        12,
        "months after the reference in which the CRM extract records exits",
        "project layout",
        1,
        MAX_MONTHS,
    )
