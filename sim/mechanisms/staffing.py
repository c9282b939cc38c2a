"""Staffing (step 3): client managers quit (their customers may follow them out), learn, are
assigned to the customers who expect one, and share the contacts left in their budgets (after
training, mentoring and reserved follow-up) among them, richer tiers first; that sets each
customer's manager attention, which drives satisfaction (experience) and, through the
relationship gap (:func:`attend`), switching, cross-sell and AUM inflows of managed customers."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sim import behaviour
from sim.agents import Manager
from sim.compiled import F0, F1, formula, kernel

NEUTRAL_ATTENTION = 0.5  # attention of a customer who neither gets nor misses a manager


def staff(model, t: int) -> None:
    """Quits, learning and assignment: who serves whom this month."""
    desks = model.desk_list()
    if desks:
        quits(model, t, desks)
        rate = model.config.bank.learning_rate
        for manager in model.desk_list():
            manager.learn(rate)
    assign_managers(model, trust=model.config.behaviour.trust_after_change)


class Params(NamedTuple):
    """This month's attention tables, as the customer pass reads them."""

    trust_months: np.float32  # trust closes 1/trust_months of its gap to 1 a month
    reference: np.float32  # attention at which a relationship neither holds nor pushes
    cell_base: np.ndarray  # attention by (desk + 1, tier) cell: base + span x trust
    cell_span: np.ndarray


def params(model, cells: np.ndarray) -> Params:
    """The month's :class:`Params`; ``cells``: real active customers per cell. Draws the regular
    contacts from the desks' budgets (:func:`attention_tables`)."""
    base, span = attention_tables(model, cells)
    reference = model.config.behaviour.relationship.reference
    return Params(np.float32(model.config.bank.trust_months), np.float32(reference), base, span)


@formula
def attend(p, manager, tier, trust):
    """A customer's trust, attention and relationship gap this month: trust grows with a manager;
    attention follows the desk's coverage and skill; the gap is attention less the reference for
    managed customers, 0 for the rest (positive for a well-run relationship)."""
    if manager >= 0:
        trust += (F1 - trust) / p.trust_months
    cell = (manager + 1) * 4 + tier
    attention = p.cell_base[cell] + p.cell_span[cell] * trust
    return trust, attention, gap(attention, p.reference, manager)


@formula
def gap(attention, reference, manager):
    """The relationship gap of a customer: attention less the reference for a managed customer
    (positive for a well-run relationship), 0 without a manager."""
    return attention - reference if manager >= 0 else F0


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


def quits(model, t: int, desks: list[Manager]) -> None:
    """Managers quit at random; some of their customers follow them out, the rest lose trust; a
    new hire takes each empty desk."""
    c, bank = model.customers, model.config.bank
    u = model.streams.uniform("manager_quits", t, [m.desk for m in desks])
    rate = behaviour.monthly(bank.manager_quit_rate)
    leaving = [m for m, draw in zip(desks, u, strict=True) if draw < rate * m.quit_multiplier]
    if not leaving:
        return
    quitting = np.zeros(max(m.desk for m in desks) + 2, bool)  # by desk + 1 (0: no manager)
    quitting[[m.desk + 1 for m in leaving]] = True
    theirs = c.active & quitting[c.manager + 1]
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
    its desks, least loaded in real customers first), starting with ``trust``. Branches are
    served in index order; one without desks deals over every desk."""
    c = model.customers
    desk_branch = np.array([m.branch for m in model.desk_list()], np.int64)
    _assign(
        c.tier, c.manager, c.active, c.weight, c.branch, c.trust,
        model.managed_tier, desk_branch, np.float32(trust),
    )  # fmt: skip


@kernel
def _assign(tier, manager, active, weight, branch, trust, managed_tier, desk_branch, start_trust):
    """:func:`assign_managers` in one pass over the customers (then over those who need a
    manager, branch by branch). A desk's load is its real active customers, added in row order
    and then, after each branch, by what that branch dealt it."""
    desks = desk_branch.size
    load = np.zeros(desks + 1)  # bin 0: no manager
    need = np.empty(tier.size, np.int64)
    count = 0
    for i in range(tier.size):
        if tier[i] < managed_tier:
            manager[i] = -1
        elif active[i] and manager[i] < 0:
            need[count] = i
            count += 1
        if active[i]:
            load[manager[i] + 1] += np.float64(weight[i])
    if desks == 0 or count == 0:
        return
    need = need[:count]
    trust[need] = start_trust
    load = load[1:]
    where = branch[need]
    by_branch = np.argsort(where, kind="mergesort")  # stable: rows ascending within a branch
    dealt = np.zeros(desks)
    first = 0
    while first < count:
        b = where[by_branch[first]]
        last = first
        while last < count and where[by_branch[last]] == b:
            last += 1
        candidates = np.flatnonzero(desk_branch == b)
        if candidates.size == 0:
            candidates = np.arange(desks)
        order = candidates[np.argsort(load[candidates], kind="mergesort")]
        dealt[:] = 0.0
        for k in range(last - first):
            row = need[by_branch[first + k]]
            desk = order[k % order.size]
            manager[row] = desk
            dealt[desk] += np.float64(weight[row])
        load += dealt
        first = last
