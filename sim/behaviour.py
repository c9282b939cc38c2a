"""Pure behaviour rules shared by the mechanisms, the strategies and the bank's build: no model
state.

Each function is one rule of the model description (docs/model.md). :func:`tier_index` and
:func:`effort` are compiled formulas (:mod:`sim.compiled`): the customer pass calls them for one
customer, the rest of the code for whole columns, so each is written once.
"""

from __future__ import annotations

import numpy as np

from sim.compiled import F1, HALF, formula
from sim.config import TIER_BOUNDS

LOW, MID, HIGH = TIER_BOUNDS


def monthly(annual_probability: float) -> float:
    """Monthly probability with the same chance of at least one event per year."""
    return 1.0 - (1.0 - min(annual_probability, 1.0)) ** (1.0 / 12.0)


@formula
def tier_index(aum):
    """Tier index (0 mass, 1 mid, 2 high, 3 private) from AUM in CNY: the bounds it reaches."""
    return (aum >= LOW) * 1 + (aum >= MID) * 1 + (aum >= HIGH) * 1


def tiers(aum) -> np.ndarray:
    """:func:`tier_index` of an array of AUM, as int8."""
    return tier_index(np.asarray(aum, np.float64)).astype(np.int8)


def apportion(weights, total: int) -> np.ndarray:
    """Split ``total`` items over groups in proportion to ``weights`` (largest remainders);
    returns each item's group, grouped in order."""
    quota = np.asarray(weights, np.float64) / np.sum(weights) * total
    counts = np.floor(quota).astype(int)
    extra = np.argsort(counts - quota, kind="stable")[: total - counts.sum()]
    counts[extra] += 1
    return np.repeat(np.arange(len(counts)), counts)


def convenience(distance, distance_km):
    """How close the home branch is, 0-1: 1 at the door, 1/e at ``distance_km``."""
    return np.exp(-distance / distance_km)


@formula
def effort(digital, wait, near, digital_quality):
    """Customer effort 0-1 (lower is better): waits and travel for branch users, clunky apps
    (float32 arguments; ``wait`` in minutes)."""
    branch_effort = HALF * wait / (wait + np.float32(30.0)) + HALF * (F1 - near)
    return (F1 - digital) * branch_effort + digital * (F1 - digital_quality)


@formula
def maturity(tenure, mature_months):
    """How far a customer has grown into the bank, 0 at joining to 1 at ``mature_months`` of
    tenure and after (behaviour.loyalty; a scalar or array)."""
    return np.minimum(np.maximum(tenure, 0) / mature_months, F1)


def tenure_multiplier(tenure_months, new, long, months):
    """Hazard multiplier that starts at ``new`` and decays to ``long`` with tenure."""
    return long + (new - long) * np.exp(-tenure_months / months)


def serve_in_order(cell, amount, available, whole: bool = False) -> np.ndarray:
    """Contacts each item gets when every cell (a desk) serves its items in order from its
    ``available`` contacts: items sorted by cell, in priority order within it; an item gets its
    whole ``amount`` while the cell's contacts last, then the one where they run out gets the
    rest (with ``whole``: nothing), and those after it nothing."""
    used = np.cumsum(amount)
    start = np.searchsorted(cell, cell, side="left")
    queued = used - np.where(start > 0, used[np.maximum(start - 1, 0)], 0.0)  # this and before
    cover = np.asarray(available, np.float64)[cell]
    if whole:
        return np.where(queued <= cover * (1 + 1e-9), amount, 0.0)
    return np.clip(cover - (queued - amount), 0.0, amount)


def contact_coverage(customers, need, contacts):
    """Share of wanted contacts each (desk, tier) gets, serving richer tiers first.

    ``customers`` counts each desk's customers by tier (n_desks x 4), ``need`` is contacts wanted
    per customer per month by tier, ``contacts`` each desk's monthly contacts. Returns the
    (n_desks x 4) coverage in [0, 1] and each desk's contacts left over.
    """
    demand = (customers * need)[:, ::-1]  # richest tier first
    desk = np.repeat(np.arange(len(customers)), 4)
    served = serve_in_order(desk, demand.ravel(), contacts).reshape(demand.shape)
    coverage = np.divide(served, demand, out=np.ones(demand.shape), where=demand > 0)
    return coverage[:, ::-1], contacts - served.sum(axis=1)
