"""The model side of calibration: measure a bank's quantities (``sim.targets``) in its runs.

Each run goes through burn-in and at least 12 measured months. Its CRM extract (reference: the end
of burn-in, horizon 12 months) gives every quantity a bank's own extract gives, computed by the
same code (``sim.targets``); the customers of ``seeds`` runs (seeds ``seed`` ...
``seed + seeds - 1``) are pooled first. The model-side quantities come from the run itself: the
books checks over the 12 months (branch cost, deposit margin, digital share) and ``kpi.<name>``,
a monthly KPI's mean over the measured months, averaged over the runs.
``python -m experiments.calibrate trials=0`` prints a bank's fit table against its targets.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim import metrics, targets
from sim.config import Config
from sim.mechanisms.books import lines_now
from sim.model import BankModel
from sim.scenario import with_values

SEEDS = 3  # runs pooled by default
HORIZON = 12  # months: the year after burn-in the targets describe
EXTRACT_COLUMNS = ("weight", "aum", "products", "tenure_months", "churned", "exit_reason")


@dataclass
class RunMeasure:
    """What one run gives the calibration: its CRM extract (the columns the quantities need) and
    its model-side quantities."""

    extract: pd.DataFrame
    model: dict[str, float]


def measurable(config: Config) -> Config:
    """``config`` set up for measuring: at least 12 measured months, the CRM extract at the end of
    burn-in with a 12-month horizon, no panel."""
    return with_values(
        config,
        {
            "months": max(config.months, HORIZON),
            "output.panel": False,
            "output.crm_extract": True,
            "output.crm_reference_month": 0,
            "output.crm_horizon_months": HORIZON,
        },
    )


def measure_run(config: Config) -> RunMeasure:
    """Run one scenario and measure it."""
    config = measurable(config)
    model = BankModel(config)
    for _ in range(config.burn_in + HORIZON):
        model.step()
    books = _books_checks(model)
    for _ in range(config.months - HORIZON):
        model.step()
    rows = pd.DataFrame(model.kpi_rows)
    kpis = {f"{targets.KPI}{k}": float(rows[k].mean()) for k in targets.MONTHLY_KPIS}
    extract = metrics.crm_extract(model)
    assert extract is not None  # measurable() switches the extract on
    return RunMeasure(extract[list(EXTRACT_COLUMNS)], books | kpis)


def _books_checks(model: BankModel) -> dict[str, float]:
    """Branch cost per branch and the cost-income ratio (costs less credit losses, over
    revenue) over the first 12 measured months; the deposit margin (the 12th month's deposit
    revenue x 12 / real deposits) and the digital share (real sessions / (sessions + visits)) in
    that month."""
    config = model.config
    first_year = model.kpi_rows[:HORIZON]
    deposits = float(np.sum(lines_now(model)["deposit_margin"][1]))  # real, CNY
    sessions, visits = model.events["sessions"], model.events["visits"]
    return {
        "cost_per_branch": sum(row["cost_branches"] for row in first_year) / config.bank.branches,
        "cost_income_ratio": sum(row["cost"] - row["cost_credit_losses"] for row in first_year)
        / sum(row["revenue"] for row in first_year),
        "margin_on_deposits": model.books["revenue_deposit_margin"] * 12 / deposits,
        "digital_share": sessions / (sessions + visits),
    }


def pooled(runs: list[RunMeasure]) -> dict[str, float]:
    """Every quantity of ``runs`` pooled: the extracts' customers together, the model-side
    quantities averaged over the runs."""
    extract = pd.concat([r.extract for r in runs], ignore_index=True)
    measured = targets.quantities(extract)
    return measured | {k: float(np.mean([r.model[k] for r in runs])) for k in runs[0].model}


def seeded(config: Config, seeds: int) -> list[Config]:
    """``config`` with seeds ``seed`` ... ``seed + seeds - 1``."""
    return [dataclasses.replace(config, seed=config.seed + k) for k in range(seeds)]


def measure(config: Config, seeds: int = SEEDS) -> dict[str, float]:
    """Every quantity, pooled over ``seeds`` runs of ``config`` (seed, seed + 1 ...)."""
    return pooled([measure_run(c) for c in seeded(config, seeds)])


def loss(measured: dict[str, float], wanted: dict[str, targets.Target]) -> float:
    """Sum over targets of ((model - value) / half-width)^2; NaN if a quantity is NaN."""
    return sum(((measured[k] - t.value) / t.half_width) ** 2 for k, t in wanted.items())


def table(measured: dict[str, float], wanted: dict[str, targets.Target]) -> str:
    """The fit table: quantity, target value, band, model, within the band."""
    lines = [f"{'quantity':<40} {'target':>10} {'band':>21} {'model':>10}  within  source"]
    for key, t in wanted.items():
        v = measured[key]
        ok = "yes" if t.within(v) else "NO"
        band = f"{t.lo:.4g}-{t.hi:.4g}"
        shown = f"{v:.4g}" if math.isfinite(v) else "n/a"
        lines.append(f"{t.what:<40} {t.value:>10.4g} {band:>21} {shown:>10}  {ok:<6}  {t.source}")
    return "\n".join(lines)
