"""Economics: margins, fees, credit losses and the discount rate."""

from __future__ import annotations

from dataclasses import dataclass

from sim.config.constants import MAX_CNY, PER_TIER
from sim.params import param


@dataclass
class EconomicsConfig:
    deposit_margin: float = param(
        0.015, "per year on deposits", "net interest margin ~1.5% (2024)", 0.0, 1.0
    )
    wealth_fee: float = param(
        0.003, "per year on wealth-product AUM", "wealth-management fee ~0.3%", 0.0, 1.0
    )
    wealth_share: list[float] = param(
        [0.05, 0.25, 0.45, 0.55],
        "share of AUM in wealth products by tier",
        "richer customers hold more wealth products",
        0.0,
        1.0,
        length=PER_TIER,
    )
    loan_margin: float = param(
        0.03, "net interest per year on loans", "consumer lending spread", 0.0, 1.0
    )
    loan_to_income: float = param(
        0.8,
        "years of income borrowed by a loan holder",
        "consumer and mortgage debt-to-income, rounded",
        0.0,
        50.0,
    )
    default_rate: float = param(0.01, "loan defaults per year", "retail credit risk", 0.0, 1.0)
    loss_given_default: float = param(
        0.45, "share of balance lost on default", "Basel foundation LGD", 0.0, 1.0
    )
    payment_income: float = param(
        3.0, "CNY per active customer per month", "card and payment fees", 0.0, MAX_CNY
    )
    discount_rate: float = param(0.08, "per year, for NPV", "bank cost of equity", 0.0, 1.0)
