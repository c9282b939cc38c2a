"""Acquisition (step 9): referred friends join, and organic newcomers arrive in proportion to
the book (see :mod:`sim.arrivals` for who they are)."""

from __future__ import annotations

import numpy as np


def referred(model, referrers: np.ndarray) -> None:
    """Referred friends join: keyed to their referrer, in the referrer's segment, living
    nearby, a little richer (:meth:`Arrivals.friends`)."""
    if not len(referrers):
        return
    c = model.customers
    who, friends = model.arrivals.friends(
        c.key[referrers], c.friends[referrers], c.segment[referrers], c.weight[referrers]
    )
    c.friends[referrers] += 1
    keys = friends.pop("key")
    near = np.column_stack([c.x[referrers], c.y[referrers]])[who]
    model.add_customers(
        keys, friends, "referral", xy=model.arrivals.near(keys, near), referred=True
    )


def step(model, referrers: np.ndarray) -> None:
    """This month's referred friends, then organic newcomers."""
    referred(model, referrers)
    organic(model)


def organic(model) -> None:
    """Organic newcomers: ``population.organic_rate`` real ones per real active customer."""
    model.acquire("organic", model.config.population.organic_rate * model.real_active)
