"""Typed configuration schema of the model, registered in Hydra's ConfigStore, and its validation.

Every leaf parameter is declared with :func:`sim.params.param`, which records its unit, allowed
range and source, and a list's length or a map's fixed keys (one value per tier, per number of
products held, per engagement state, per experience or engagement component). Validation
(:func:`validate`) walks the schema and reports the first bad value as one line naming the key,
the value and what is allowed. ``docs/parameters.md`` is generated from the same metadata
(``python -m sim.config``), so the reference cannot drift from the code.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser

from sim.folders import check_output_dir
from sim.params import (
    ConfigError,
    Per,
    check_node,
    describe_allowed,
    describe_shape,
    param,
    type_hints,
    value_text,
)

TIERS = ("mass", "mid", "high", "private")
PER_TIER = Per("tier", TIERS)
PRODUCT_COUNTS = ("1", "2", "3", "4+")  # products held, as the switching hazard reads them
ENGAGEMENT_STATES = ("disengaged", "engaged")  # below and at or above engagement_threshold
EXPERIENCE_COMPONENTS = ("service", "convenience", "effort", "attention", "fit")
ENGAGEMENT_COMPONENTS = ("products", "satisfaction", "digital", "habit")
TIER_BOUNDS = (50_000.0, 500_000.0, 6_000_000.0)  # CNY of AUM; Chinese retail practice
MAX_CNY = 1e9  # the largest amount any money parameter may take, so no total can overflow
MAX_MONTHS = 1_200  # the longest run, and so the latest month a setting can name


# --------------------------------------------------------------------------------------------
# Population
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Bank
# --------------------------------------------------------------------------------------------


@dataclass
class BankDataConfig:
    """Input files of a bank of one's own (CSV or Parquet; docs/bank_data.md). Each is optional:
    an empty path keeps the synthetic default. Relative paths are read from the project folder."""

    branches: str = param(
        "", "file: one row per branch (site, cost, capacity or staff, opening month)", "the bank"
    )
    segments: str = param("", "file: one row per segment (the segment table)", "the bank")
    customers: str = param(
        "", "file: a CRM extract, one row per customer (the opening book)", "the bank"
    )


@dataclass
class BankConfig:
    """Branches, client managers and channels."""

    branches: int = param(12, "branches", "a mid-sized city bank", 1, 10_000)
    managers: int = param(40, "client managers", "a mid-sized city bank", 0, 100_000)
    city_km: float = param(30.0, "km, side of the square city", "synthetic city", 1.0, 1_000.0)
    branch_cost: float = param(
        3_500_000.0, "CNY per branch per year", "a branch costs 2-5M CNY a year", 0.0, MAX_CNY
    )
    branch_utilisation: float = param(
        0.5,
        "opening visits / capacity of each branch",
        "branches are staffed to their catchment with headroom",
        0.01,
        0.95,
    )
    branch_quality: float = param(
        0.7, "service quality 0-1 at low load", "synthetic bank", 0.0, 1.0
    )
    wait_minutes: float = param(
        8.0, "minutes of wait at 50% utilisation", "synthetic bank", 0.0, 240.0
    )
    visit_cost: float = param(
        60.0, "CNY per branch visit", "branch visit far dearer than digital", 0.0, MAX_CNY
    )
    digital_cost: float = param(
        1.5, "CNY per digital session", "branch visit far dearer than digital", 0.0, MAX_CNY
    )
    digital_quality: float = param(0.6, "digital channel quality 0-1", "synthetic bank", 0.0, 1.0)
    visits_per_month: float = param(
        0.6, "branch visits per month of a branch-only customer", "synthetic bank", 0.0, 30.0
    )
    sessions_per_month: float = param(
        12.0, "digital sessions per month of a digital-only customer", "synthetic bank", 0.0, 300.0
    )
    distance_km: float = param(
        5.0, "km at which convenience falls to 1/e", "distance decay of branch use", 0.01, 1_000.0
    )
    manager_salary: float = param(
        300_000.0, "CNY per manager per year, loaded", "city bank pay, rounded", 0.0, MAX_CNY
    )
    manager_contacts: float = param(
        250.0,
        "customer contacts per manager per month",
        "~12 contacts per working day; at most ~1 a minute of a working month",
        0.0,
        10_000.0,
    )
    manager_quit_rate: float = param(
        0.12, "quits per manager per year", "client manager turnover 10-15%/yr", 0.0, 1.0
    )
    manager_skill: float = param(
        0.6, "mean skill 0-1 of the opening team", "synthetic bank", 0.0, 1.0
    )
    manager_skill_sd: float = param(0.12, "skill 0-1", "synthetic bank", 0.0, 0.5)
    hire_skill: float = param(0.35, "skill 0-1 of a new hire", "synthetic bank", 0.0, 1.0)
    opening_trust: float = param(
        0.9, "trust 0-1 of the opening book in its managers", "established relationships", 0.0, 1.0
    )
    learning_rate: float = param(
        0.015,
        "share of the gap to full skill closed per month",
        "on-the-job learning over a few years",
        0.0,
        1.0,
    )
    trust_months: float = param(
        4.0,
        "months, time constant of trust rebuilding",
        "a new manager needs 6-12 months to rebuild trust; at least 1 (trust moves in monthly"
        " steps, and a shorter time constant would overshoot full trust)",
        1.0,
        120.0,
    )
    follow_manager: float = param(
        0.08,
        "probability that a customer with full trust follows a departing manager (x trust)",
        "SEI 2007: >10% turnover loses client assets",
        0.0,
        1.0,
    )
    managed_tier: str = param(
        "mid", "lowest tier given a client manager", "Chinese practice", choices=TIERS
    )
    data: BankDataConfig = field(default_factory=lambda: BankDataConfig())


# --------------------------------------------------------------------------------------------
# Market: competitors and partners
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Economics and behaviour
# --------------------------------------------------------------------------------------------


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


@dataclass
class BehaviourConfig:
    """Experience, satisfaction, churn, referrals, cross-sell and complaints."""

    smoothing: float = param(
        0.25,
        "weight of this month's experience in satisfaction",
        "satisfaction follows a smoothed experience",
        0.0,
        1.0,
    )
    weights: dict[str, float] = param(
        {"service": 0.25, "convenience": 0.15, "effort": 0.15, "attention": 0.15, "fit": 0.30},
        "experience component -> weight (perks add on top)",
        "synthetic; service and product fit dominate; each 0-1 (a negative weight would make a"
        " better experience a worse one)",
        0.0,
        1.0,
        keys=Per("component", EXPERIENCE_COMPONENTS),
    )
    fee_surprise_rate: float = param(
        0.03, "fee surprises per customer per month", "the SMS-fee example", 0.0, 1.0
    )
    fee_surprise_penalty: float = param(
        0.5, "experience lost in a month with a fee surprise", "synthetic", 0.0, 1.0
    )
    competitor_penalty: float = param(
        0.3, "experience lost per unit competitor pull", "synthetic", 0.0, 5.0
    )
    churn_base: float = param(
        0.115,
        "switching probability per year at the reference hazard",
        "calibrated to 10-15%/yr attrition",
        0.0,
        1.0,
    )
    satisfaction_ref: float = param(
        0.5, "satisfaction at which the hazard is at reference", "synthetic", 0.0, 1.0
    )
    satisfaction_coef: float = param(
        5.0,
        "log-hazard per unit satisfaction below reference",
        "satisfaction is the main churn driver",
        0.0,
        50.0,
    )
    product_hazard: list[float] = param(
        [2.4, 1.1, 0.7, 0.45],
        "hazard multiplier at 1, 2, 3, 4+ products",
        "1 product 16-25%/yr vs 4+ ~5%",
        0.0,
        20.0,
        length=Per("number of products held", PRODUCT_COUNTS),
    )
    new_customer_hazard: float = param(
        2.4, "hazard multiplier in month 0 of tenure", "~23%/yr attrition in year 1", 1.0, 50.0
    )
    tenure_months: float = param(
        36.0,
        "months, decay of the new-customer hazard",
        "attrition falls to ~5%/yr after 10 years",
        0.1,
        600.0,
    )
    long_tenure_hazard: float = param(
        0.3, "hazard multiplier at long tenure", "~5%/yr after 10 years", 0.0, 10.0
    )
    tier_hazard: list[float] = param(
        [1.0, 0.75, 0.6, 0.55],
        "hazard multiplier by tier",
        "affluent ~9%/yr vs 10-15% overall",
        0.0,
        10.0,
        length=PER_TIER,
    )
    competitor_coef: float = param(
        1.5, "log-hazard per unit competitor pull", "synthetic", 0.0, 50.0
    )
    manager_change_hazard: float = param(
        1.6,
        "hazard multiplier after a manager change",
        "a new manager needs 6-12 months to rebuild trust",
        1.0,
        20.0,
    )
    manager_change_months: float = param(
        12.0, "months the manager-change effect lasts", "6-12 months to rebuild trust", 0.0, 120.0
    )
    neglect_penalty: float = param(
        0.1,
        "attention lost when none of the wanted manager contacts happen",
        "synthetic; unmet expectations of richer customers",
        0.0,
        0.5,
    )
    trust_after_change: float = param(
        0.3,
        "trust 0-1 in a newly assigned manager",
        "a new manager starts with little trust",
        0.0,
        1.0,
    )
    shock_half_life: float = param(
        8.0,
        "months for a strategy shock to halve",
        "elevated attrition lasts about 2 years",
        0.1,
        600.0,
    )
    referred_hazard: float = param(
        0.8,
        "hazard multiplier of referred customers",
        "Schmitt, Skiera & Van den Bulte 2011",
        0.0,
        10.0,
    )
    natural_exit: float = param(
        0.008, "deaths and relocations per year below age 70", "~1 point of attrition", 0.0, 1.0
    )
    old_age_exit: float = param(
        0.03, "extra exits per year per decade above 70", "mortality rises with age", 0.0, 1.0
    )
    referral_rate: float = param(
        0.012, "referrals per month of a fully satisfied customer", "synthetic", 0.0, 1.0
    )
    referral_threshold: float = param(
        0.55, "satisfaction above which customers refer", "synthetic", 0.0, 1.0
    )
    cross_sell_rate: float = param(
        0.01, "products added per month at full satisfaction and fit", "synthetic", 0.0, 1.0
    )
    usage_rate: float = param(
        0.25,
        "transactions per month per product at full engagement",
        "synthetic; usage is the observable trace of engagement (months since last use)",
        0.0,
        100.0,
    )
    # Engagement (mechanisms.engagement): a 0-1 state that drifts towards a target each month.
    engagement_weights: dict[str, float] = param(
        {"products": 0.2, "satisfaction": 0.3, "digital": 0.15, "habit": 0.35},
        "engagement target = sum of weight x component 0-1 (products: (min(products, 4) - 1) / 3;"
        " habit: a lifelong per-customer draw) plus strategies' lifts",
        "synthetic; Gallup retail-banking surveys: engagement is more than satisfaction, and"
        " grows with products and with channel habits (Gallup 2013, 2015)",
        0.0,
        1.0,
        keys=Per("component", ENGAGEMENT_COMPONENTS),
    )
    engagement_speed: float = param(
        0.15,
        "share of the gap to the target engagement closed each month",
        "synthetic; habits change over months (half-life ~4 months)",
        0.0,
        1.0,
    )
    engagement_threshold: float = param(
        0.45,
        "engagement 0-1 at or above which a customer counts as engaged",
        "range only: Gallup finds 15-35% of bank customers fully engaged and up to 38% actively"
        " disengaged (UK 2009, US 2011-14); the default leaves about 30% disengaged",
        0.0,
        1.0,
    )
    engagement_hazard: list[float] = param(
        [1.4, 0.72],
        "switching hazard multiplier when disengaged, engaged",
        "range only: practitioner churn models rank dormancy (no transactions for 3+ months)"
        " among the strongest attrition signals; disengaged ~1.5-3x engaged after products"
        " and satisfaction (here 1.94x); centred so the baseline's attrition barely moves",
        0.0,
        20.0,
        length=Per("engagement state", ENGAGEMENT_STATES),
    )
    life_event_rate: float = param(
        0.015,
        "life events (move, job, family) per customer per month that shift engagement",
        "range only: the '4 Ds' of attrition (death, divorce, displacement, dissatisfaction,"
        " The Financial Brand 2015); ~10-25% of adults a year move, change job or family",
        0.0,
        1.0,
    )
    life_event_disengage: float = param(
        0.6,
        "share of life events that disengage (the rest re-engage)",
        "synthetic; moves and job changes break banking habits more often than they make them",
        0.0,
        1.0,
    )
    life_event_size: float = param(
        0.5,
        "share of engagement lost (or of the gap to 1 gained) in a life event",
        "synthetic",
        0.0,
        1.0,
    )
    drop_rate: float = param(
        0.004, "products dropped per month at zero satisfaction", "synthetic", 0.0, 1.0
    )
    complaint_rate: float = param(
        0.01, "complaints per month at zero satisfaction", "synthetic", 0.0, 1.0
    )
    complaint_fee: float = param(
        0.15, "probability a fee surprise ends in a complaint", "the SMS-fee example", 0.0, 1.0
    )
    contact_need: list[float] = param(
        [0.0, 0.3, 1.0, 2.0],
        "manager contacts wanted per month by tier",
        "more attention for richer tiers",
        0.0,
        30.0,
        length=PER_TIER,
    )
    relationship: RelationshipConfig = field(default_factory=lambda: RelationshipConfig())


@dataclass
class RelationshipConfig:
    """How the client-manager relationship (a managed customer's attention: contact coverage x
    skill x trust, trust growing with the months with the same manager) moves mid- and high-end
    customers beyond satisfaction: switching, cross-sell and AUM inflows. Each term is zero at
    ``reference``, a typical managed customer, and read only for customers with a manager."""

    reference: float = param(
        0.73,
        "attention 0-1 at which the relationship terms are zero",
        "the default bank's weighted mean attention of managed customers (0.71-0.73 in years"
        " 1-3, seed 0), so the calibrated baseline hardly moves",
        0.0,
        1.0,
    )
    switching: float = param(
        1.5,
        "log-hazard of switching per unit attention below reference",
        "range only: the direction is published (Drexler & Schoar 2014, loan-officer turnover"
        " cuts borrowers' ties to the bank; J.D. Power 2013 small-business banking: an account"
        " manager change lowers intended loyalty and share of wallet; SEI 2007: >10% adviser"
        " turnover loses client assets; Verhoef 2003: affective commitment lowers defection);"
        " sized so a well-run (0.9) vs a neglected (0.45) relationship differ ~x2.2 in hazard"
        " with the attention-satisfaction path, ~6% vs ~15% mid/high annual attrition",
        0.0,
        10.0,
    )
    cross_sell: float = param(
        1.5,
        "relative change of the cross-sell probability per unit attention above reference",
        "range only: Verhoef, Franses & Hoekstra 2002 and Verhoef 2003 (relationship commitment"
        " raises cross-buying and customer share in financial services); Cooil et al. 2007"
        " (satisfaction gains raise share of wallet, 4,319 Canadian bank households); about"
        " +25% well-run vs -40% neglected",
        0.0,
        10.0,
    )
    inflow: float = param(
        0.08,
        "AUM log-growth per year per unit attention above reference",
        "range only: Cooil et al. 2007 (share of wallet follows satisfaction); SEI 2007"
        " (manager turnover loses client assets); about +1.4%/yr well-run vs -2.2%/yr neglected",
        0.0,
        1.0,
    )


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


@dataclass
class Config:
    """A whole scenario."""

    seed: int = param(0, "integer", "run seed", 0, 2**32 - 1)
    months: int = param(60, "measured months", "five years measured", 1, MAX_MONTHS)
    burn_in: int = param(12, "months before strategies act", "one year of warm-up", 0, 600)
    engine: str = param(
        "numba",
        "how the customers' monthly step is computed",
        "numba: compiled, fused (fast); numpy: the reference array code (docs/architecture.md)",
        choices=("numba", "numpy"),
    )
    population: PopulationConfig = field(default_factory=PopulationConfig)
    bank: BankConfig = field(default_factory=BankConfig)
    market: MarketConfig = field(default_factory=MarketConfig)
    economics: EconomicsConfig = field(default_factory=EconomicsConfig)
    behaviour: BehaviourConfig = field(default_factory=BehaviourConfig)
    strategy: dict[str, Any] = param(
        {}, "strategy name -> its parameters", "none by default: the baseline"
    )
    output: OutputConfig = field(default_factory=OutputConfig)


def register() -> None:
    """Register the schema so Hydra's ``configs/`` tree is typed by it."""
    ConfigStore.instance().store(name="schema", node=Config)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def validate(cfg: Config) -> None:
    """Raise ConfigError naming the first bad key, its value and what is allowed (the model's
    parameters; strategies are checked by ``sim.scenario.to_config``)."""
    check_node(cfg, "")
    _check_cross(cfg)
    check_output_dir(cfg.output.dir)


def _check_cross(cfg: Config) -> None:
    if cfg.output.crm_reference_month > cfg.months:
        raise ConfigError(
            f"output.crm_reference_month={cfg.output.crm_reference_month} is after the run's"
            f" last measured month; allowed 0 to months={cfg.months}"
        )
    segments = cfg.population.segments
    if not segments:
        raise ConfigError("population.segments is empty; at least one segment is required")
    total = sum(s.share for s in segments.values())
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise ConfigError(f"population.segments shares sum to {total:g}; they must sum to 1")
    for name, s in segments.items():
        if name in TIERS:
            raise ConfigError(f"population.segments.{name}: a tier's name; choose another name")
        if s.urban + s.rural > 1.0:
            raise ConfigError(
                f"population.segments.{name}: urban + rural = {s.urban + s.rural:g};"
                " allowed at most 1"
            )


def check_literals(overrides: list[str]) -> None:
    """Refuse override values that Hydra would silently reinterpret against the schema (see
    :func:`check_literal`); strategies' parameters are checked when typed."""
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        if override.is_sweep_override() or override.is_delete():
            continue
        found = schema_field(Config, override.key_or_group.split("."))
        if found is not None:
            check_literal(override.key_or_group, *found, override.value())


def check_literal(key: str, hint, default, value) -> None:
    """Refuse anything but true or false for a switch (``2`` would become True), and ``{}`` for
    a table with default entries (merged into them, it would change nothing)."""
    if hint is bool and not isinstance(value, bool):
        raise ConfigError(f"{key}={value!r} is not a switch value; allowed true or false")
    if isinstance(default, dict) and default and value == {}:
        raise ConfigError(
            f"{key}={{}} would change nothing (an empty table is merged into the default"
            f" entries {sorted(default)}); set the entries you mean, e.g."
            f" {key}.{next(iter(default))}=..."
        )


def schema_field(node_type: type, parts: list[str]):
    """(type, default) of the schema field at a dotted key's ``parts``, or None if none."""
    f = next((f for f in dataclasses.fields(node_type) if f.name == parts[0]), None)
    if f is None:
        return None
    hint, default, rest = type_hints(node_type)[f.name], field_default(f), parts[1:]
    if not rest:
        return hint, default
    if dataclasses.is_dataclass(hint):
        return schema_field(hint, rest)
    item = next(iter(default.values()), None) if isinstance(default, dict) else None
    if dataclasses.is_dataclass(item) and len(rest) > 1:
        return schema_field(type(item), rest[1:])
    return None


def field_default(f: dataclasses.Field):
    """A config field's default, also when it comes from a factory (lists, dicts)."""
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


# --------------------------------------------------------------------------------------------
# Parameter reference
# --------------------------------------------------------------------------------------------


def parameter_rows(node=None, prefix: str = "") -> list[tuple[str, str, str, str, str]]:
    """(key, default, unit, allowed, source) for every leaf parameter of the schema."""
    node = Config() if node is None else node
    rows = []
    for f in dataclasses.fields(node):
        key, value = f"{prefix}{f.name}", getattr(node, f.name)
        if dataclasses.is_dataclass(value):
            rows += parameter_rows(value, key + ".")
            continue
        meta = f.metadata
        if (
            isinstance(value, dict)
            and value
            and dataclasses.is_dataclass(next(iter(value.values())))
        ):
            for name, item in value.items():
                rows += parameter_rows(item, f"{key}.{name}.")
            continue
        allowed = "; ".join(filter(None, (describe_allowed(meta), describe_shape(meta))))
        rows.append((key, value_text(value), meta["unit"], allowed, meta["source"]))
    return rows


def parameter_markdown() -> str:
    lines = [
        "# Parameter reference",
        "",
        "Generated by `.venv/bin/python -m sim.config > docs/parameters.md` from the typed schema"
        " in `sim/config.py`; every parameter with its default, unit, allowed values and "
        "source or rationale.",
        "",
        "| key | default | unit | allowed | source |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| `{k}` | {d} | {u} | {a} | {s} |" for k, d, u, a, s in parameter_rows()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(parameter_markdown(), end="")
