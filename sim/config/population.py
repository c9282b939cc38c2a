"""The customer book at the start, its segments, and how new customers arrive."""

from __future__ import annotations

from dataclasses import dataclass

from sim.config.constants import MAX_CNY, PER_TIER
from sim.params import param


@dataclass
class SegmentConfig:
    """One customer segment: who they are, where they live, what they hold."""

    share: float = param(0.2, "fraction of new customers", "synthetic bank", 0.0, 1.0)
    age_mean: float = param(40.0, "years", "synthetic bank", 18.0, 100.0)
    age_sd: float = param(8.0, "years", "synthetic bank", 0.0, 30.0)
    aum_median: float = param(
        20_000.0,
        "CNY",
        "tuned to the AUM concentration targets; at least 1 CNY (log-normal draws)",
        1.0,
        MAX_CNY,
    )
    aum_sigma: float = param(
        2.0,
        "log-CNY",
        "tuned to the AUM concentration targets; at least 0.1 (the tiers divide a spread of"
        " wealth)",
        0.1,
        5.0,
    )
    income: float = param(8_000.0, "CNY per month", "urban wage statistics, rounded", 0.0, MAX_CNY)
    digital: float = param(0.6, "affinity 0-1", "digital serves >90% of transactions", 0.0, 1.0)
    urban: float = param(0.5, "fraction living in the urban core", "synthetic city", 0.0, 1.0)
    rural: float = param(0.1, "fraction living on the rural fringe", "synthetic city", 0.0, 1.0)
    products: float = param(2.2, "mean products held", "2.1-2.3 products per customer", 1.0, 6.0)
    loan_share: float = param(0.3, "fraction holding a loan", "synthetic bank", 0.0, 1.0)
    fit: float = param(0.6, "product fit 0-1", "synthetic bank", 0.0, 1.0)


DEFAULT_SEGMENTS = {
    "young_professional": SegmentConfig(
        share=0.30,
        age_mean=30.0,
        age_sd=5.0,
        aum_median=1_200.0,
        aum_sigma=2.5,
        income=9_000.0,
        digital=0.85,
        urban=0.7,
        rural=0.05,
        products=2.0,
        loan_share=0.3,
        fit=0.55,
    ),
    "family": SegmentConfig(
        share=0.28,
        age_mean=41.0,
        age_sd=7.0,
        aum_median=2_500.0,
        aum_sigma=2.6,
        income=11_000.0,
        digital=0.6,
        urban=0.45,
        rural=0.1,
        products=2.5,
        loan_share=0.4,
        fit=0.6,
    ),
    "business_owner": SegmentConfig(
        share=0.07,
        age_mean=46.0,
        age_sd=9.0,
        aum_median=20_000.0,
        aum_sigma=2.8,
        income=25_000.0,
        digital=0.55,
        urban=0.6,
        rural=0.1,
        products=2.8,
        loan_share=0.45,
        fit=0.5,
    ),
    "retiree": SegmentConfig(
        share=0.20,
        age_mean=67.0,
        age_sd=6.0,
        aum_median=4_000.0,
        aum_sigma=2.6,
        income=4_500.0,
        digital=0.2,
        urban=0.4,
        rural=0.2,
        products=2.1,
        loan_share=0.05,
        fit=0.65,
    ),
    "farmer": SegmentConfig(
        share=0.15,
        age_mean=50.0,
        age_sd=10.0,
        aum_median=500.0,
        aum_sigma=2.3,
        income=3_500.0,
        digital=0.25,
        urban=0.05,
        rural=0.8,
        products=1.7,
        loan_share=0.3,
        fit=0.5,
    ),
}


@dataclass
class PopulationConfig:
    """The customer book at the start and how new customers arrive."""

    customers: int = param(
        20_000,
        "simulated customers at start (real ones: their weights' sum)",
        "a mid-sized city bank",
        1,
        10_000_000,
    )
    weights: dict[str, float] = param(
        {"mass": 25.0, "mid": 3.0, "high": 1.0, "private": 0.25},
        "tier -> real customers per simulated customer (at arrival)",
        "fewer per agent in the affluent tiers, so the mid- and high-end book that strategies"
        " target is simulated with many agents; the defaults give a bank of ~213k real customers"
        " with ~7.6k mass, ~6.7k mid, ~4.7k high and ~1.0k private agents; at least 0.01 (below"
        " it the property tests found market shares above 1)",
        0.01,
        1e6,
        keys=PER_TIER,
    )
    aum_cap: float = param(
        50_000_000.0,
        "CNY, the largest AUM a simulated customer is drawn with",
        "keeps one draw from dominating the book's AUM",
        500_000.0,
        MAX_CNY,
    )
    initial_satisfaction: float = param(
        0.6, "mean satisfaction 0-1 of a new customer (sd 0.1)", "synthetic", 0.0, 1.0
    )
    pareto_alpha: float = param(
        1.2,
        "Pareto index of AUM above 500k CNY",
        "tuned so that ~2.2% hold ~75-80% and ~0.1% hold ~30% of AUM (targets 81%, 0.07%, 31%)",
        1.01,
        10.0,
    )
    tenure_mean_years: float = param(
        6.0, "years, mean tenure of the opening book", "typical retail book age", 0.0, 50.0
    )
    settle_months: int = param(
        36,
        "months of the customer mechanisms run before month 0, with what the records show held,"
        " so hidden states (satisfaction, engagement, trust, use) start settled (0: a newcomer's)",
        "a rebuilt bank's first year matches its truth bank's within sampling error"
        " (docs/calibration.md)",
        0,
        240,
    )
    organic_rate: float = param(
        0.00168,
        "people won per month per potential customer in the city (those already with the bank"
        " do not join again)",
        "at market.opening_share 0.15, 0.0095 newcomers a month per customer: keeps the book"
        " roughly stable against ~12%/yr attrition; at most 0.05 (the whole city would join"
        " within two years, and each month's arrivals are drawn before the market's headroom"
        " turns most away)",
        0.0,
        0.05,
    )
    acquisition_cost: float = param(
        500.0, "CNY per new customer", "200-800 CNY per new customer in China", 0.0, MAX_CNY
    )
    segments: dict[str, SegmentConfig] = param(
        DEFAULT_SEGMENTS, "segment name -> segment", "synthetic bank"
    )
