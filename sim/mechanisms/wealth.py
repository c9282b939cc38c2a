"""Wealth (step 5): balances move with saving, the market return, the client manager's pull and
own noise; customers age; tiers follow AUM."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from sim.behaviour import tier_index
from sim.compiled import formula

if TYPE_CHECKING:
    from sim.model import BankModel

f32 = np.float32
# own noise: uniform on +-sqrt 3 (zero mean, unit variance: cheaper than a normal, and monthly
# shocks add up to a normal over a year)
SHOCK_SPAN, SHOCK_HALF_SPAN = f32(2 * 3**0.5), f32(3**0.5)
MONTH_YEARS = f32(1 / 12)


class Params(NamedTuple):
    """This month's wealth parameters, as the customer pass reads them."""

    drift: np.float32  # monthly log growth from saving, less the volatility's drag
    market_return: np.float32  # this month's return on wealth products (one draw for all)
    volatility: np.float32  # monthly volatility of a customer's own balance
    inflow: np.float32  # monthly log growth per unit of relationship gap (client managers)
    share: np.ndarray  # wealth-product share of AUM by tier (float32)
    wallet: np.float32  # monthly log growth of an engaged customer not yet mature
    mature_months: np.float32  # tenure to full maturity (behaviour.loyalty)


def params(model: BankModel, t: int) -> Params:
    m = model.config.market
    return Params(
        f32(m.deposit_growth / 12.0 - 0.5 * m.balance_volatility**2),
        f32(market_return(model, t)),
        f32(m.balance_volatility),
        f32(model.config.behaviour.relationship.inflow / 12.0),
        model.wealth_share,
        f32(model.config.behaviour.loyalty.wallet_growth / 12.0),
        f32(model.config.behaviour.loyalty.mature_months),
    )


@formula
def month(p, aum, age, tier, u, gap, tenure, engagement):
    """A customer's AUM, age and tier after this month; ``u``: their uniform draw (own noise,
    zero mean and unit variance); ``gap``: their relationship gap (staffing). An engaged customer
    not yet mature moves more of their wallet in (behaviour.loyalty)."""
    noise = SHOCK_SPAN * u - SHOCK_HALF_SPAN
    growth = p.drift + p.share[tier] * p.market_return + p.volatility * noise
    growth += p.inflow * gap
    if tenure < p.mature_months:
        growth += p.wallet * engagement
    aum *= np.exp(growth)
    return aum, age + MONTH_YEARS, tier_index(aum)


def market_return(model: BankModel, t: int) -> float:
    """This month's return on wealth products (the market, one draw for everyone)."""
    m = model.config.market
    z = model.streams.generator("market", t).standard_normal()
    return m.market_return / 12.0 + m.market_volatility * z
