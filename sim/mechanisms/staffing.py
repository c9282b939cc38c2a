"""Staffing (step 3): client managers quit (their customers may follow them out), learn, are
assigned to the customers who expect one, and share the contacts left in their budgets (after
training, mentoring and reserved follow-up) among them, richer tiers first; that sets each
customer's manager attention, which drives satisfaction (experience) and, through
:func:`relationship`, switching, cross-sell and AUM inflows of managed customers."""

from __future__ import annotations

import numpy as np

from sim import behaviour
from sim.agents import Manager

NEUTRAL_ATTENTION = 0.5  # attention of a customer who neither gets nor misses a manager


def step(model, t: int) -> None:
    """Quits, learning, assignment, trust and attention for this month."""
    staff(model, t)
    attend(model)


def staff(model, t: int) -> None:
    """Quits, learning and assignment: who serves whom this month."""
    desks = model.desk_list()
    if desks:
        quits(model, t, desks)
        for manager in model.desk_list():
            manager.learn(model.config.bank.learning_rate)
    assign_managers(model, trust=model.config.behaviour.trust_after_change)


def attend(model) -> None:
    """Trust grows with a manager; attention follows (:func:`attention_tables`)."""
    c = model.customers
    c.trust += (1.0 - c.trust) / np.float32(model.config.bank.trust_months) * (c.manager >= 0)
    cell = (c.manager + 1) * 4 + c.tier
    cells = np.bincount(cell, weights=c.weight * c.active, minlength=n_cells(model))
    base, span = attention_tables(model, cells)
    attention = base[cell]
    attention += span[cell] * c.trust
    c.attention[:] = attention


def n_cells(model) -> int:
    """Attention cells: (desk + 1, tier), desk row 0 being "no manager"."""
    return (len(model.managers) + 1) * 4


def attention_tables(model, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Manager attention 0-1 by cell (``cells``: real active customers per cell) as
    base + span x trust (float32): neutral 0.5 without a manager or need; a manager adds up to 0.5
    by contact coverage x skill x trust; in managed tiers, unmet need for contact costs up to the
    neglect penalty. Draws the regular contacts from the desks' budgets."""
    desks = model.desk_list()
    skill = np.array([m.served_skill for m in desks], np.float32)
    contacts = np.array([m.budget.left for m in desks], np.float64)
    served, spare = behaviour.contact_coverage(
        cells.reshape(-1, 4)[1:], model.contact_need, contacts
    )
    for manager, used in zip(desks, contacts - spare, strict=True):
        manager.budget.draw("service", used)  # regular contacts, real
    coverage = np.vstack([np.zeros(4), served])
    wants = (model.contact_need > 0) & (np.arange(4) >= model.managed_tier)
    base = NEUTRAL_ATTENTION - model.config.behaviour.neglect_penalty * (1 - coverage) * wants
    span = (1.0 - NEUTRAL_ATTENTION) * coverage * np.r_[0.0, skill][:, None]
    return base.astype(np.float32).ravel(), span.astype(np.float32).ravel()


def relationship(model) -> np.ndarray:
    """Each customer's relationship gap: attention less ``behaviour.relationship.reference`` for
    customers with a manager, 0 for the rest (float32). Positive for a well-run relationship."""
    c, ref = model.customers, np.float32(model.config.behaviour.relationship.reference)
    return np.where(c.manager >= 0, c.attention - ref, np.float32(0))


def quits(model, t: int, desks: list[Manager]) -> None:
    """Managers quit at random; some of their customers follow them out, the rest lose trust; a
    new hire takes each empty desk."""
    c, bank = model.customers, model.config.bank
    u = model.streams.uniform("manager_quits", t, [m.desk for m in desks])
    rate = behaviour.monthly(bank.manager_quit_rate)
    leaving = [m for m, draw in zip(desks, u, strict=True) if draw < rate * m.quit_multiplier]
    if not leaving:
        return
    quit_desks = np.array([m.desk for m in leaving])
    theirs = c.active & np.isin(c.manager, quit_desks)
    rows = np.flatnonzero(theirs)
    u = model.streams.uniform("manager_follow", t, c.key[rows])
    follow = np.zeros_like(theirs)
    follow[rows] = u < bank.follow_manager * c.trust[rows]
    model.exit(follow, "followed_manager", t)
    stay = theirs & ~follow
    c.trust[stay] = model.config.behaviour.trust_after_change
    c.manager_change[stay] = t
    for m in leaving:
        m.remove()
        Manager(model, m.desk, m.branch, bank.hire_skill, bank.manager_contacts)
    model.events["manager_quits"] += len(leaving)


def assign_managers(model, trust: float) -> None:
    """Match managers to tiers: customers who fell below the managed tier lose theirs;
    those at or above it without one get a desk at their branch (dealt round-robin over
    its desks, least loaded in real customers first), starting with ``trust``."""
    c, desks = model.customers, model.desk_list()
    expects = c.tier >= model.managed_tier
    np.putmask(c.manager, ~expects, -1)
    need = np.flatnonzero(c.active & (c.manager < 0) & expects)
    if not desks or not len(need):
        return
    c.trust[need] = trust
    desk_branch = np.array([m.branch for m in desks])
    # real customers per desk (bin 0: no manager)
    load = np.bincount(c.manager + 1, weights=c.weight * c.active, minlength=len(desks) + 1)[1:]
    for b in np.unique(c.branch[need]):
        mine = need[c.branch[need] == b]
        candidates = np.flatnonzero(desk_branch == b)
        if not len(candidates):
            candidates = np.arange(len(desks))
        order = candidates[np.argsort(load[candidates], kind="stable")]
        c.manager[mine] = order[np.arange(len(mine)) % len(order)]
        load += np.bincount(c.manager[mine], weights=c.weight[mine], minlength=len(desks))
