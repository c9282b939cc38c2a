"""A fee waiver: the customer's payment fees waived and a deposit-rate bonus of ``rate_bonus``
for ``months`` months.

While it lasts it removes ``offset`` of the rivals' price pull on the customer's switching
log-hazard (``behaviour.competitor_coef`` x pull x price sensitivity, as the exits step adds it),
held each month through the customer's ``shock`` and fading with ``behaviour.shock_half_life``
once the waiver ends. So it does most for those a rival's price pulls hardest (richer and more
digital customers, the newly joined and the disengaged) and little for loyal, engaged ones. Cost:
``cost`` per customer told, then each month the fees waived (``economics.payment_income``) and
the bonus on the customer's deposits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.config import MAX_CNY
from sim.mechanisms import exits
from sim.params import param
from sim.treatments.base import Costs, Draw, Lasting, Treatment, price_log_hazard, register

if TYPE_CHECKING:
    from sim.model import BankModel


@dataclass
class FeeWaiverConfig:
    months: int = param(
        6,
        "months the waiver and the bonus last",
        "synthetic; introductory bonus rates and fee-free periods run 3-12 months (FCA 2015,"
        " Cash savings market study)",
        1,
        60,
    )
    rate_bonus: float = param(
        0.005,
        "deposit-rate bonus per year on the customer's deposits while it lasts",
        "synthetic; bonus rates of 0.25-1 point a year (FCA 2015, Cash savings market study)",
        0.0,
        0.05,
    )
    offset: float = param(
        0.5,
        "share of the rivals' price pull on the switching log-hazard removed while it lasts",
        "Keaveney 1995 (Journal of Marketing): price among the main reasons customers switch"
        " services; the share is synthetic",
        0.0,
        1.0,
    )
    cost: float = param(
        2.0, "CNY per customer told", "synthetic; an SMS or app message", 0.0, MAX_CNY
    )


@register
class FeeWaiver(Treatment[FeeWaiverConfig]):
    """Fees waived and a deposit-rate bonus for some months."""

    name = "fee_waiver"
    title = "Fee waiver"
    Config = FeeWaiverConfig

    def __init__(self, model: BankModel, config: FeeWaiverConfig, draw: Draw):
        super().__init__(model, config, draw)
        self.lasting = Lasting(config.months)  # value: the offset held last month

    def apply(self, rows: np.ndarray, month: int) -> Costs:
        self.lasting.add(self.model, rows, month)
        return Costs(np.full(len(rows), self.config.cost), self._hold(rows))

    def carry(self, month: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.lasting.rows(self.model, month)
        return rows, self._hold(rows)

    def _hold(self, rows: np.ndarray) -> np.ndarray:
        """Hold the offset on these customers this month (their part of the shock, decayed
        since last month, topped up to this month's); their cost this month."""
        model, cfg = self.model, self.config
        c = model.customers
        held = self.lasting.value
        at = self.lasting.position(model, rows)
        offset = np.float32(-cfg.offset) * price_log_hazard(model, rows)
        c.shock[rows] += offset - held[at] * exits.params(model).shock_decay
        held[at] = offset
        deposits = c.aum[rows] * (1.0 - model.wealth_share[c.tier[rows]])
        return model.config.economics.payment_income + cfg.rate_bonus / 12.0 * deposits
