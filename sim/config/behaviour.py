"""Customer behaviour: experience, satisfaction, switching, engagement, referrals, cross-sell,
complaints, and the client-manager relationship."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.config.constants import (
    ENGAGEMENT_COMPONENTS,
    ENGAGEMENT_STATES,
    EXPERIENCE_COMPONENTS,
    PER_TIER,
    PRODUCT_COUNTS,
)
from sim.params import Per, param


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
    loyalty: LoyaltyConfig = field(default_factory=lambda: LoyaltyConfig())


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
class LoyaltyConfig:
    """How tenure changes a customer (docs/model.md, "What a loyal customer is worth"): a
    customer grows into the bank over ``mature_months`` (maturity 0 at joining, 1 from then on),
    moving more of their wallet in while engaged, buying more, and minding rivals' offers less.
    Sized at the low end of the evidence, which for banks is weaker than the loyalty-profit
    claims of Reichheld & Sasser (1990) (Reinartz & Kumar 2000, 2002)."""

    mature_months: float = param(
        120.0,
        "months of tenure to full maturity",
        "Reichheld & Sasser 1990: profit per customer still rises in years 5-10 of tenure",
        1.0,
        1_200.0,
    )
    wallet_growth: float = param(
        0.02,
        "AUM log-growth per year of a fully engaged customer not yet mature (x engagement 0-1)",
        "range only: 0-5%/yr; Reichheld & Sasser 1990 (balances and purchases grow with"
        " tenure); Cooil et al. 2007 (share of wallet follows satisfaction, Canadian bank"
        " households); Reinartz & Kumar 2000 (long-life customers are not always bigger spenders)",
        0.0,
        1.0,
    )
    cross_sell: float = param(
        0.3,
        "relative rise of the cross-sell probability at full maturity",
        "range only: 0-1; Verhoef, Franses & Hoekstra 2002 (cross-buying rises with relationship"
        " age in financial services, modestly); Reichheld & Sasser 1990 (increased purchases)",
        0.0,
        10.0,
    )
    price_tenure: float = param(
        0.3,
        "relative fall of the competitor pull's effect on switching at full maturity",
        "range only: 0-0.6; Reichheld & Sasser 1990 (a price premium from loyal customers);"
        " against it Reinartz & Kumar 2002 (long-term customers often expect lower prices); UK"
        " CMA 2016 retail banking investigation: long-tenured current-account customers rarely"
        " switch (inertia rather than price)",
        0.0,
        1.0,
    )
    price_engaged: float = param(
        0.2,
        "relative fall of the competitor pull's effect on switching for an engaged customer",
        "range only: 0-0.5; Gallup retail-banking surveys (engaged customers defect less and"
        " shop around less)",
        0.0,
        1.0,
    )
