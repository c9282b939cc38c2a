"""Exits (step 7): customers switch to a rival by a hazard of satisfaction, products, tenure,
tier, competitor pull, a recent manager change, being referred, engagement, the client-manager
relationship and strategy shocks, or leave naturally (death, relocation)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from sim import behaviour
from sim.compiled import F0, F1, formula
from sim.mechanisms.engagement import engaged

if TYPE_CHECKING:
    from sim.model import BankModel

f32 = np.float32
STAY, SWITCHED, NATURAL, CLOSURE = 0, 1, 3, 4  # sim.customers.EXIT_REASONS' indices


class Params(NamedTuple):
    """The hazards' parameters (log multipliers in float32), as the customer pass reads them."""

    log_churn_base: np.float32  # monthly base hazard of switching
    satisfaction_coef: np.float32
    satisfaction_ref: np.float32
    competitor_coef: np.float32
    log_manager_change: np.float32  # in the months after a manager change
    manager_change_months: int
    log_referred: np.float32  # customers who came by referral
    engaged_at: np.float32  # the engagement threshold
    rel_switching: np.float32  # log hazard less per unit of relationship gap
    natural_exit: np.float32  # annual
    old_age_exit: np.float32  # annual, per ten years over 70
    shock_decay: np.float32  # strategies' shocks decay by this each month
    product_log: np.ndarray  # by products held, 1-4+
    tier_log: np.ndarray  # by tier
    tenure_log: np.ndarray  # by months of tenure (model.tenure_log_hazard)
    engaged_log: np.ndarray  # disengaged, engaged
    mature_months: np.float32  # tenure to full maturity (behaviour.loyalty)
    price_tenure: np.float32  # the pull's effect falls by this share at full maturity
    price_engaged: np.float32  # and by this share for an engaged customer


def params(model: BankModel) -> Params:
    b = model.config.behaviour
    return Params(
        f32(log(behaviour.monthly(b.churn_base))),
        f32(b.satisfaction_coef),
        f32(b.satisfaction_ref),
        f32(b.competitor_coef),
        f32(log(b.manager_change_hazard)),
        int(b.manager_change_months),
        f32(log(b.referred_hazard)),
        f32(b.engagement_threshold),
        f32(b.relationship.switching),
        f32(b.natural_exit),
        f32(b.old_age_exit),
        f32(0.5 ** (1.0 / b.shock_half_life)),
        log(b.product_hazard),
        log(b.tier_hazard),
        model.tenure_log_hazard,
        log(b.engagement_hazard),
        f32(b.loyalty.mature_months),
        f32(b.loyalty.price_tenure),
        f32(b.loyalty.price_engaged),
    )


@formula
def hazards(p, satisfaction, products, tenure, tier, pull, since_change, referred, shock,
            engagement, gap, age):  # fmt: skip
    """A customer's monthly hazards of switching and of leaving naturally. A rival's pull moves
    a mature or engaged customer less (behaviour.loyalty)."""
    is_engaged = engaged(engagement, p.engaged_at)
    price = (F1 - p.price_tenure * behaviour.maturity(tenure, p.mature_months)) * (
        F1 - p.price_engaged if is_engaged else F1
    )
    log_hazard = (
        p.log_churn_base
        + p.satisfaction_coef * (p.satisfaction_ref - satisfaction)
        + p.product_log[min(products, 4) - 1]
        + p.tenure_log[tenure]
        + p.tier_log[tier]
        + p.competitor_coef * pull * price
        + (p.log_manager_change if since_change < p.manager_change_months else F0)
        + (p.log_referred if referred else F0)
        + shock
        + p.engaged_log[1 if is_engaged else 0]  # disengaged switch more
        - p.rel_switching * gap  # a well-run relationship holds customers
    )
    old_age = p.old_age_exit * max(age - np.float32(70.0), F0) / np.float32(10.0)
    return np.exp(log_hazard), (p.natural_exit + old_age) / np.float32(12.0)


@formula
def leave(u, switching, natural, displaced):
    """Whether a customer whose draw is ``u`` leaves, and why (STAY, SWITCHED, NATURAL or
    CLOSURE: a switch by a customer ``displaced`` by a branch closure, one whose home branch
    closed under them; how many of those a closure caused is a comparison's question)."""
    total = switching + natural
    # the chance of leaving, 1 - exp(-total), is below total: most draws need no expm1
    p_leave = -np.expm1(-total) if u < total else F0
    if u >= p_leave:
        return STAY
    if u < p_leave * (natural / total):
        return NATURAL
    return CLOSURE if displaced else SWITCHED


def tenure_logs(behaviour_config, months: int) -> np.ndarray:
    """The log hazard multiplier of tenure (float32) for tenures 0 .. ``months`` - 1."""
    b = behaviour_config
    tenure = np.arange(months, dtype=np.float32)
    multiplier = behaviour.tenure_multiplier(
        tenure, b.new_customer_hazard, max(b.long_tenure_hazard, 1e-12), b.tenure_months
    )
    return np.log(multiplier)


def log(value) -> np.ndarray:
    """Natural log as float32, with zero mapped to a tiny positive number (no hazard)."""
    return np.log(np.maximum(np.asarray(value, np.float64), 1e-30)).astype(np.float32)
