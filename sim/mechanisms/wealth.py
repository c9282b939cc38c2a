"""Wealth (step 5): balances move with saving, the market return and own noise; tiers follow
AUM; customers age."""

from __future__ import annotations

import numpy as np

from sim import behaviour
from sim.customers import masked_sum
from sim.mechanisms.staffing import relationship


def step(model, t: int) -> None:
    """Move balances (leavers' stay frozen), age customers, let tiers follow AUM."""
    c, m = model.customers, model.config.market
    noise = model.streams.shock("wealth", t, c.key)
    log_growth = behaviour.log_growth(
        model.wealth_share[c.tier],
        market_return(model, t),
        noise,
        m.deposit_growth / 12.0,
        m.balance_volatility,
    )
    log_growth += model.config.behaviour.relationship.inflow / 12.0 * relationship(model)  # RM
    c.aum *= np.exp(log_growth * c.active)  # leavers' balances stay frozen
    c.age[:] += np.float32(1 / 12) * c.active
    tier = behaviour.tiers(c.aum)
    model.events["upgrades"] += masked_sum(c.weight, tier > c.tier)
    model.events["downgrades"] += masked_sum(c.weight, tier < c.tier)
    c.tier[:] = tier


def market_return(model, t: int) -> float:
    """This month's return on wealth products (the market, one draw for everyone)."""
    m = model.config.market
    z = model.streams.generator("market", t).standard_normal()
    return m.market_return / 12.0 + m.market_volatility * z
