"""A settled start: the opening book's hidden states at their long-run level before month 0.

A bank's records show each customer's products, AUM, tenure, age, segment and branch, not their
satisfaction, engagement, trust in a manager or how recently they used the bank. Started at a
newcomer's values, every opening customer would be engaged and content, and the first year would
lose far fewer customers than the bank does (a bank rebuilt from its extract with its true
parameters lost 0.115 a year instead of 0.145). So before month 0 the model runs
``population.settle_months`` months of its own staffing and customer mechanisms (steps 3-8:
manager quits, hires and learning, trust and attention, service, wealth, experience, exits,
engagement) with what the records show held: after each month products, AUM, tiers, ages and
the book (nobody leaves, nobody joins) are put back.

Tenure runs on its true clock: a customer with tenure ``k`` below the settling months is reset to
a newcomer's state at the end of month ``-k``, when they joined, so short-tenure customers carry
a short history. Exits during settling are undone rather than selected on (survivors' states are
not reweighted). Managers quit during settling, so some customers have had a recent manager
change and rebuilt their trust, but the team itself is put back: each desk keeps its configured
skill (``bank.manager_skill``), whoever quit or learnt. Nothing is booked: the ledger and the
month's events start afresh at month 0. The draws are keyed to months before 0, so arms of a
comparison whose banks are the same settle identically (common random numbers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import metrics
from sim import month as customer_pass
from sim.ledger import Ledger
from sim.mechanisms import staffing

if TYPE_CHECKING:
    from sim.customers import Customers
    from sim.model import BankModel

HELD = ("products", "aum", "tier", "age", "active", "left", "exit_reason")
FRESH = ("satisfaction", "engagement", "complaints")  # as drawn or set for a newcomer at build


def settle(model: BankModel, months: int) -> None:
    """Run ``months`` settling months ending at month 0 (the model's month must be 0)."""
    if months <= 0:
        return
    c = model.customers
    held = {name: getattr(c, name).copy() for name in HELD}
    fresh = {name: getattr(c, name).copy() for name in FRESH}
    joined, by_segment = c.joined.copy(), model.by_segment.copy()
    skill = {m.desk: m.skill for m in model.managers}
    tenure, trust = -joined, np.float32(model.config.behaviour.trust_after_change)
    c.last_used[:] = -months  # no use seen before settling
    for t in range(1 - months, 1):
        model.month = t
        np.minimum(joined, t, out=c.joined)  # not joined yet: tenure 0 until they join
        model.reset_levers()
        staffing.staff(model, t)
        followed = ~c.active  # followed a manager out: here they stay, as the others did
        c.trust[followed], c.manager_change[followed] = trust, t
        _put_back(c, held)
        customer_pass.run(model, t)
        _put_back(c, held)
        joining = tenure == -t  # they join at the end of this month, as newcomers do
        for name, values in fresh.items():
            getattr(c, name)[joining] = values[joining]
        c.last_used[joining] = t
        c.trust[joining & (c.manager >= 0)] = trust  # a newcomer's first manager
    c.joined[:] = joined
    for manager in model.managers:  # the team as configured: hires and learning undone
        manager.skill = skill[manager.desk]
    model.by_segment[:] = by_segment
    model.month = 0
    model.ledger = Ledger()
    model.events = metrics.new_events()


def _put_back(customers: Customers, held: dict[str, np.ndarray]) -> None:
    """Put back the columns held while settling."""
    for name, values in held.items():
        getattr(customers, name)[:] = values
