"""Acquisition (step 9): referred friends join, and organic newcomers arrive from the part of the
market the bank does not have yet (see :mod:`sim.arrivals` for who they are and
:mod:`sim.market` for the market)."""

from __future__ import annotations

import numpy as np


def referred(model, referrers: np.ndarray):
    """Referred friends join: keyed to their referrer, in the referrer's segment, living
    nearby, a little richer (:meth:`Arrivals.friends`). Returns them as joining
    (:meth:`BankModel.joining`), or None without referrers."""
    if not len(referrers):
        return None
    c = model.customers
    who, friends = model.arrivals.friends(
        c.key[referrers], c.friends[referrers], c.segment[referrers], c.weight[referrers]
    )
    c.friends[referrers] += 1
    keys = friends.pop("key")
    join = model.market.joins(model, keys, friends["segment"])
    keys, who, friends = keys[join], who[join], {k: v[join] for k, v in friends.items()}
    near = np.column_stack([c.x[referrers], c.y[referrers]])[who]
    xy = model.arrivals.near(keys, near)
    return model.joining(keys, friends, "referral", xy=xy, referrer=referrers[who])


def step(model, referrers: np.ndarray) -> None:
    """This month's referred friends, then organic newcomers (who join as the friends leave the
    market's headroom), added together."""
    friends = referred(model, referrers)
    newcomers = organic(model)
    model.admit([friends, newcomers] if friends is not None else [newcomers])


def organic(model):
    """Organic newcomers: ``population.organic_rate`` of the city's potential customers are won
    each month; those not with the bank yet join. Returns them as joining."""
    potential = model.market.potential.sum()
    return model.newcomers("organic", model.config.population.organic_rate * potential)
