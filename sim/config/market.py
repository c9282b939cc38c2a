"""The market: competitors, partner businesses, the bank's share of the city and returns."""

from __future__ import annotations

from dataclasses import dataclass

from sim.config.constants import MAX_CNY
from sim.params import param


@dataclass
class CompetitorConfig:
    """A rival whose pull on customers varies over time."""

    pull: float = param(0.15, "pull 0-1 on a targeted customer", "synthetic market", 0.0, 1.0)
    trend: float = param(0.0, "change of pull per year", "synthetic market", -1.0, 1.0)
    volatility: float = param(0.02, "monthly sd of pull", "synthetic market", 0.0, 1.0)
    tier_tilt: float = param(
        0.0,
        "extra pull per tier above mass (tiers are about a decade of AUM apart)",
        "rivals target high-AUM customers",
        -1.0,
        1.0,
    )
    digital_tilt: float = param(
        0.0, "extra pull per unit digital affinity", "synthetic market", -1.0, 1.0
    )


DEFAULT_COMPETITORS = {
    "rival_bank": CompetitorConfig(
        pull=0.08, trend=0.0, volatility=0.01, tier_tilt=0.03, digital_tilt=-0.05
    ),
    "internet_platform": CompetitorConfig(
        pull=0.05, trend=0.01, volatility=0.015, tier_tilt=0.02, digital_tilt=0.12
    ),
}


@dataclass
class PartnerConfig:
    """A partner business; idle unless a strategy uses it."""

    customers: float = param(
        0.05,
        "the partner's customers, as a share of the city's potential bank customers",
        "synthetic partner",
        0.0,
        1.0,
    )
    reach: float = param(
        0.03,
        "share of the partner's customers reached by a promotion per month (leads)",
        "synthetic partner",
        0.0,
        1.0,
    )
    conversion: float = param(
        0.05, "share of leads that open an account", "synthetic partner", 0.0, 1.0
    )
    skew: dict[str, float] = param(
        {}, "segment name -> lead weight", "synthetic partner", 0.0, 100.0
    )
    subsidy: float = param(
        100.0, "CNY per participant per month", "synthetic partner", 0.0, MAX_CNY
    )
    loan_rate: float = param(0.08, "loan interest per year", "consumer loan rates", 0.0, 1.0)
    default_rate: float = param(0.02, "loan defaults per year", "consumer loan risk", 0.0, 1.0)
    loan_size: float = param(30_000.0, "CNY per loan", "synthetic partner", 0.0, MAX_CNY)


DEFAULT_PARTNERS = {
    "supermarket": PartnerConfig(
        customers=0.15,
        reach=0.02,
        conversion=0.03,
        skew={"family": 2.0, "retiree": 1.5},
        subsidy=30.0,
        loan_rate=0.12,
        default_rate=0.03,
        loan_size=5_000.0,
    ),
    "travel": PartnerConfig(
        customers=0.04,
        reach=0.03,
        conversion=0.05,
        skew={"young_professional": 2.0},
        subsidy=80.0,
        loan_rate=0.10,
        default_rate=0.025,
        loan_size=15_000.0,
    ),
    "renovation": PartnerConfig(
        customers=0.015,
        reach=0.04,
        conversion=0.06,
        skew={"family": 2.0, "business_owner": 1.5},
        subsidy=150.0,
        loan_rate=0.07,
        default_rate=0.015,
        loan_size=80_000.0,
    ),
    "rural": PartnerConfig(
        customers=0.03,
        reach=0.03,
        conversion=0.08,
        skew={"farmer": 4.0},
        subsidy=50.0,
        loan_rate=0.06,
        default_rate=0.03,
        loan_size=30_000.0,
    ),
}


@dataclass
class MarketConfig:
    competitors: dict[str, CompetitorConfig] = param(
        DEFAULT_COMPETITORS,
        "competitor name -> competitor",
        "a rival bank and an internet platform",
    )
    partners: dict[str, PartnerConfig] = param(
        DEFAULT_PARTNERS, "partner name -> partner", "supermarket, travel, renovation, rural"
    )
    opening_share: float = param(
        0.15,
        "the bank's share of the city's potential retail customers at the start (the rest bank"
        " with rivals); sets the city's market size",
        "synthetic; a city commercial bank's share of its home city's retail customers,"
        " typically ~10-20%; at least 0.05, so the market, and with it the book (which cannot"
        " outgrow it), is at most 20 times the opening book",
        0.05,
        1.0,
    )
    market_return: float = param(
        0.03, "mean return per year on wealth products", "balanced wealth products", -1.0, 1.0
    )
    market_volatility: float = param(
        0.03, "monthly sd of the market return", "balanced wealth products", 0.0, 1.0
    )
    deposit_growth: float = param(
        0.02, "drift of balances per year", "household deposit growth, net of spending", -1.0, 1.0
    )
    balance_volatility: float = param(
        0.05,
        "monthly sd of a customer's log balance",
        "synthetic; moves customers across tier bounds",
        0.0,
        1.0,
    )
