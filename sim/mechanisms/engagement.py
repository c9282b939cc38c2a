"""Engagement (step 8): satisfied customers refer friends, take up or drop products, complain;
engagement, a 0-1 state, drifts towards a target set by products, satisfaction, digital habits and
a lifelong habit, is jolted by life events, and sets how often customers transact.

A customer is *engaged* when engagement is at least ``behaviour.engagement_threshold``
(:func:`engaged`); the switching hazard (:mod:`sim.mechanisms.exits`) reads the flag.
Strategies move engagement by adding to the column ``engagement_lift`` in ``before_customers``
(a lift of this month's target), a lever the model rebuilds each month like perks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from sim import behaviour
from sim.compiled import F0, F1, clip01, formula

if TYPE_CHECKING:
    from sim.model import BankModel

f32 = np.float32


class Params(NamedTuple):
    """The engagement step's parameters, as the customer pass reads them."""

    referral_rate: np.float32  # monthly chance of a referral by a fully satisfied customer
    referral_threshold: np.float32  # satisfaction below which nobody refers
    referral_span: np.float32  # 1 - the threshold (never 0)
    rel_cross_sell: np.float32  # cross-sell pull per unit of relationship gap
    mature_months: np.float32  # tenure to full maturity (behaviour.loyalty)
    tenure_cross_sell: np.float32  # relative rise of cross-sell at full maturity
    cross_sell_rate: np.float32
    drop_rate: np.float32
    complaint_rate: np.float32
    complaint_fee: float  # extra chance of a complaint in a month with a fee surprise
    e_products: np.float32  # the target's weights (behaviour.engagement_weights)
    e_satisfaction: np.float32
    e_digital: np.float32
    e_habit: np.float32
    speed: np.float32  # the share of the gap to the target closed a month
    life_event_rate: np.float32
    life_event_down: np.float32  # the chance of a life event that disengages
    life_event_size: np.float32
    minus_usage_rate: float  # transactions: -(monthly rate per product and unit of engagement)


def params(model: BankModel) -> Params:
    b = model.config.behaviour
    return Params(
        f32(b.referral_rate),
        f32(b.referral_threshold),
        f32(1.0 - b.referral_threshold + 1e-9),
        f32(b.relationship.cross_sell),
        f32(b.loyalty.mature_months),
        f32(b.loyalty.cross_sell),
        f32(b.cross_sell_rate),
        f32(b.drop_rate),
        f32(b.complaint_rate),
        float(b.complaint_fee),
        f32(b.engagement_weights["products"]),
        f32(b.engagement_weights["satisfaction"]),
        f32(b.engagement_weights["digital"]),
        f32(b.engagement_weights["habit"]),
        f32(b.engagement_speed),
        f32(b.life_event_rate),
        f32(b.life_event_rate * b.life_event_disengage),
        f32(b.life_event_size),
        -float(b.usage_rate),
    )


@formula
def engaged(engagement, threshold):
    """The engaged flag: engagement at or above the threshold (a scalar or array)."""
    return engagement >= threshold


@formula
def refers(p, satisfaction, u):
    """Whether a customer refers a friend this month (draw ``u``)."""
    share = clip01((satisfaction - p.referral_threshold) / p.referral_span)
    return u < p.referral_rate * share


@formula
def products_after(p, products, satisfaction, fit, gap, tenure, u):
    """Products held after this month's cross-sell (more likely when satisfied, well fitted,
    well managed and long with the bank) or drop (when dissatisfied); one draw ``u`` decides
    both."""
    manager = max(F1 + p.rel_cross_sell * gap, F0)  # the client manager's pull
    loyal = F1 + p.tenure_cross_sell * behaviour.maturity(tenure, p.mature_months)
    add = u < p.cross_sell_rate * satisfaction * fit * manager * loyal and products < 6
    drop = u > F1 - p.drop_rate * (F1 - satisfaction) and products > 1
    return products + np.int8(add) - np.int8(drop)


@formula
def complains(p, satisfaction, fee, u):
    """Whether a customer complains this month: dissatisfaction, and a fee surprise."""
    chance = np.float64(p.complaint_rate * (F1 - satisfaction)) + (p.complaint_fee if fee else 0.0)
    return u < chance


@formula
def engagement_after(p, level, products, satisfaction, digital, habit, lift, u):
    """Engagement after this month, and whether a life event struck (draw ``u``): it closes
    ``speed`` of the gap to its target (weighted products held, satisfaction, digital habit, the
    lifelong habit and strategies' lifts); a life event then disengages or re-engages."""
    held = np.float32(min(products, 4) - 1) / np.float32(3.0)
    target = clip01(
        p.e_products * held
        + p.e_satisfaction * satisfaction
        + p.e_digital * digital
        + p.e_habit * habit
        + lift
    )
    level = level + p.speed * (target - level)
    event = u < p.life_event_rate
    if event:
        if u < p.life_event_down:
            level = level * (F1 - p.life_event_size)
        else:
            level = level + p.life_event_size * (F1 - level)
    return clip01(level), event


@formula
def uses(p, products, engagement, u):
    """Whether a customer transacts this month: more often with more products and engagement."""
    return u < -np.expm1(p.minus_usage_rate * products * np.float64(engagement))
