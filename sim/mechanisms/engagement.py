"""Engagement (step 8): satisfied customers refer friends, take up or drop products, complain;
engagement, a 0-1 state, drifts towards a target set by products, satisfaction, digital habits and
a lifelong habit, is jolted by life events, and sets how often customers transact.

A customer is *engaged* when engagement is at least ``behaviour.engagement_threshold``; the
switching hazard (:mod:`sim.mechanisms.exits`) reads the flag through :func:`log_hazard`.
Strategies move engagement by adding to the column ``engagement_lift`` in ``before_customers``
(a lift of this month's target), a lever the model rebuilds each month like perks.
"""

from __future__ import annotations

import numpy as np

from sim.customers import masked_sum
from sim.mechanisms.staffing import relationship


def step(model, t: int, fee, fit) -> np.ndarray:
    """Referrals, cross-sell and drops, complaints and usage; returns the referrers' rows."""
    c, b = model.customers, model.config.behaviour
    sat = c.satisfaction
    p_refer = b.referral_rate * np.clip(
        (sat - b.referral_threshold) / (1.0 - b.referral_threshold + 1e-9), 0.0, 1.0
    )
    referrers = np.flatnonzero(c.active & (model.streams.uniform("referrals", t, c.key) < p_refer))
    u = model.streams.uniform("products", t, c.key)
    manager = np.maximum(1.0 + b.relationship.cross_sell * relationship(model), 0.0)  # RM's pull
    add = c.active & (u < b.cross_sell_rate * sat * fit * manager) & (c.products < 6)
    drop = c.active & (u > 1.0 - b.drop_rate * (1.0 - sat)) & (c.products > 1)
    c.products[:] += add.astype(np.int8) - drop.astype(np.int8)
    p_complain = b.complaint_rate * (1.0 - sat) + b.complaint_fee * fee
    complain = c.active & (model.streams.uniform("complaints", t, c.key) < p_complain)
    c.complaints[:] += complain
    model.events["complaints"] += masked_sum(c.weight, complain)
    model.events["fee_complaints"] += masked_sum(c.weight, complain & fee)
    evolve(model, t)
    use = -np.expm1(-b.usage_rate * c.products * c.engagement)
    used = c.active & (model.streams.uniform("usage", t, c.key) < use)
    np.copyto(c.last_used, t, where=used)
    return referrers


def target(model) -> np.ndarray:
    """Engagement each customer drifts towards, 0-1: weighted products held, satisfaction,
    digital habit and the lifelong ``habit`` drawn at arrival, plus strategies' lifts."""
    c, w = model.customers, model.config.behaviour.engagement_weights
    f32 = np.float32
    products = (np.minimum(c.products, 4) - 1).astype(f32) / f32(3)
    level = (
        f32(w.get("products", 0.0)) * products
        + f32(w.get("satisfaction", 0.0)) * c.satisfaction
        + f32(w.get("digital", 0.0)) * c.digital
        + f32(w.get("habit", 0.0)) * c.habit
        + c.engagement_lift
    )
    return np.clip(level, f32(0), f32(1))


def evolve(model, t: int) -> None:
    """Active customers' engagement closes ``engagement_speed`` of the gap to its target; a life
    event (stream ``life_events``) then disengages or re-engages. Leavers keep their last state."""
    c, b = model.customers, model.config.behaviour
    f32 = np.float32
    level = c.engagement + f32(b.engagement_speed) * (target(model) - c.engagement)
    u = model.streams.uniform("life_events", t, c.key)
    event = c.active & (u < b.life_event_rate)
    down = event & (u < b.life_event_rate * b.life_event_disengage)
    size = f32(b.life_event_size)
    level = np.where(down, level * (f32(1) - size), level)
    level = np.where(event & ~down, level + size * (f32(1) - level), level)
    np.copyto(c.engagement, np.clip(level, f32(0), f32(1)), where=c.active)
    model.events["life_events"] += masked_sum(c.weight, event)


def engaged(engagement: np.ndarray, behaviour) -> np.ndarray:
    """The engaged flag: engagement at or above ``behaviour.engagement_threshold``."""
    return engagement >= np.float32(behaviour.engagement_threshold)


def log_hazard(model) -> np.ndarray:
    """Each customer's log switching-hazard multiplier from engagement (disengaged, engaged)."""
    c, b = model.customers, model.config.behaviour
    return hazard_logs(b)[engaged(c.engagement, b).view(np.int8)]


def hazard_logs(behaviour) -> np.ndarray:
    """Log switching-hazard multipliers (float32) of the disengaged and the engaged."""
    multipliers = np.maximum(np.asarray(behaviour.engagement_hazard, np.float64), 1e-30)
    return np.log(multipliers).astype(np.float32)
