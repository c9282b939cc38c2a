"""Exits (step 7): customers switch to a rival by a hazard of satisfaction, products, tenure,
tier, competitor pull, a recent manager change, being referred and strategy shocks, or leave
naturally (death, relocation)."""

from __future__ import annotations

import numpy as np

from sim import behaviour
from sim.mechanisms import engagement
from sim.mechanisms.staffing import relationship


def step(model, t: int, pull) -> None:
    """Customers leave by their monthly hazard (``pull``: this month's competitor pull)."""
    c, b = model.customers, model.config.behaviour
    f32 = np.float32
    log_hazard = (
        log(behaviour.monthly(b.churn_base))
        + f32(b.satisfaction_coef) * (f32(b.satisfaction_ref) - c.satisfaction)
        + log(b.product_hazard)[np.minimum(c.products, 4) - 1]
        + model.tenure_log_hazard[t - c.joined]
        + log(b.tier_hazard)[c.tier]
        + f32(b.competitor_coef) * pull
        + np.where(
            t - c.manager_change < b.manager_change_months,
            log(b.manager_change_hazard),
            f32(0),
        )
        + np.where(c.referred, log(b.referred_hazard), f32(0))
        + c.shock
        + engagement.log_hazard(model)  # disengaged customers switch more
        - f32(b.relationship.switching) * relationship(model)  # client-manager relationship
    )
    switching = np.exp(log_hazard)
    natural = behaviour.natural_exit_hazard(c.age, b.natural_exit, b.old_age_exit)
    total = switching + natural
    p_leave = -np.expm1(-total)
    p_natural = p_leave * np.divide(natural, total, out=np.zeros_like(total), where=total > 0)
    u = model.streams.uniform("churn", t, c.key)
    leave = c.active & (u < p_leave)
    is_natural = u < p_natural
    model.exit(leave & is_natural, "natural", t)
    model.exit(leave & ~is_natural, "switched", t)
    c.shock[:] *= np.float32(0.5 ** (1.0 / b.shock_half_life))


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
