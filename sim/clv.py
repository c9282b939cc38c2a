"""Customer lifetime value: each customer's expected remaining value to the bank at a month.

A customer's value at the end of month ``t`` is the expected discounted margin less cost to serve
of the months to come, from ``t + 1`` on, per real customer (CNY):

    clv = sum over k = 1 .. HORIZON of d^k * S_k * (margin - cost_k)

- ``S_k``: the chance of still being a customer after k more months under the model's own monthly
  hazards for this customer (:func:`sim.mechanisms.exits.hazards`, switching plus natural exit;
  staying a month has the chance exp(-(switching + natural)), as :func:`exits.leave` decides);
- ``margin``: the monthly revenue less credit losses of the customer's book lines now
  (:func:`sim.mechanisms.books.bases` times :func:`books.line_rates`, the lines the ledger books);
- ``cost_k``: the month's cost to serve (:func:`sim.mechanisms.service.cost`, with the onboarding
  extra fading with tenure; complaints aside);
- ``d``: the monthly discount factor of ``economics.discount_rate``, (1 + rate) ** -(1 / 12), as
  :func:`sim.metrics.discount_factors` discounts;
- ``HORIZON``: 360 months (30 years).

Tenure and age advance month by month, and with them the months since a manager change and a
strategy's shock, which decays by ``shock_decay`` a month as in the customer pass; every other
state is held as it is now (satisfaction, products, tier and AUM, competitor pull, engagement, the
relationship gap, the referred flag). The value is the model's forecast for a customer left as they
are: what a strategy does to a customer's state shows at once in their value.

The sum is taken in blocks of months (:data:`BLOCKS`): the hazards and the cost of a block's middle
month stand for the block's months, whose discounted chances of staying then sum as a geometric
series. A block of one month is the sum's own term, so ``blocks=MONTHLY`` gives the sum month by
month (360 evaluations a customer); the default's 8 blocks, short first and long later, where
hazards change slowly, are about 40 times faster and within about 0.05% of it on a whole bank's
value (3% at most for one customer; tests/test_clv.py). A block also ends where a manager
change's window does, since the hazard steps there.

:func:`clv` is the one definition, used by the CRM extract's ``clv`` column and the KPIs
``book_value`` and ``value_lost`` (:mod:`sim.metrics`). Its kernel calls the mechanisms'
formulas, so a change to a hazard, a cost or a book line changes the value with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.compiled import F0, F1, kernel
from sim.mechanisms import books, exits, experience, service, staffing
from sim.mechanisms.wealth import MONTH_YEARS

if TYPE_CHECKING:
    from sim.model import BankModel

HORIZON = 360
"""Months of the future a value counts (30 years)."""

BLOCKS = np.array([1, 3, 7, 13, 25, 45, 81, 185], np.int64)
"""The months of each block of the sum (odd, so that each has a middle month; they add up to
:data:`HORIZON`)."""

MONTHLY = np.ones(HORIZON, np.int64)
"""Blocks of one month: the sum term by term."""


def clv(model: BankModel, rows=None, blocks: np.ndarray = BLOCKS) -> np.ndarray:
    """Each row's expected remaining value per real customer (CNY) at the end of the model's
    current month (module docstring). ``rows`` None: every row, leavers 0; otherwise the values of
    those rows (indexes), in their order, leavers valued on their state when they left as if they
    had stayed. ``blocks``: the months of each block of the sum (:data:`BLOCKS`)."""
    c = model.customers
    everyone = rows is None
    which = np.flatnonzero(c.active) if everyone else np.asarray(rows, np.int64)
    values = _values(model, which, np.asarray(blocks, np.int64))
    if not everyone:
        return values
    out = np.zeros(c.n)
    out[which] = values
    return out


def _values(model: BankModel, rows: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """The values of ``rows`` (:func:`clv`)."""
    c, cfg, t = model.customers, model.config, model.month
    p_exits = exits.params(model)
    longest = t - int(c.joined[rows].min(initial=t)) + int(blocks.sum()) + 1
    if len(p_exits.tenure_log) < longest:  # the model's table covers its run only
        p_exits = p_exits._replace(tenure_log=exits.tenure_logs(cfg.behaviour, longest))
    return _kernel(
        rows,
        (
            c.satisfaction, c.products, c.tier, c.digital, c.manager, c.attention,
            c.manager_change, c.referred, c.shock, c.engagement, c.age, c.joined, c.aum, c.loan,
        ),
        p_exits,
        service.params(model),
        experience.params(model),
        np.float32(cfg.behaviour.relationship.reference),
        model.wealth_share,
        books.signed_rates(cfg.economics),
        (1.0 + cfg.economics.discount_rate) ** (-1.0 / 12.0),
        t,
        blocks,
    )  # fmt: skip


@kernel
def _kernel(rows, c, p_exits, p_service, p_experience, reference, wealth_share, signed, d, t,
            blocks):  # fmt: skip
    """The value of each of ``rows`` (:func:`clv`): ``c`` the customer columns in the order of
    :func:`_values`, ``signed`` each book line's monthly rate (credit losses negative), ``d`` the
    monthly discount factor, ``blocks`` the months of each block."""
    (
        satisfaction, products, tier, digital, manager, attention, manager_change, referred,
        shock, engagement, age, joined, aum, loan,
    ) = c  # fmt: skip
    log_d = np.log(d)
    out = np.zeros(rows.size)
    for j in range(rows.size):
        i = rows[j]
        level = tier[i]
        deposits, wealth, loans, customers, losses = books.bases(
            wealth_share[level], aum[i], loan[i], F1
        )
        margin = (
            signed[0] * deposits
            + signed[1] * wealth
            + signed[2] * loans
            + signed[3] * customers
            + signed[4] * losses
        )
        d_i = digital[i]
        pull = experience.competitor_pull(p_experience, level, d_i)
        managed = F1 if manager[i] >= 0 else F0
        gap = staffing.gap(attention[i], reference, manager[i])
        # the last month in a manager change's window: the hazard steps after it
        window = p_exits.manager_change_months - (t - manager_change[i]) - 1
        held = 1.0  # chance of being a customer, discounted, before the block
        value = 0.0
        k0 = end = b = 0  # months before the block, the end of the schedule's block, its index
        while b < blocks.size or k0 < end:
            if k0 == end:
                end += blocks[b]
                b += 1
            stop = window if k0 < window < end else end  # the block: months k0 + 1 .. stop
            n = stop - k0
            k = k0 + (n + 1) // 2  # its middle month
            month = t + k
            tenure = month - joined[i]
            switching, natural = exits.hazards(
                p_exits, satisfaction[i], products[i], tenure, level, pull,
                month - manager_change[i], referred[i],
                shock[i] * p_exits.shock_decay ** np.float32(k - 1) if shock[i] != F0 else F0,
                engagement[i], gap, age[i] + np.float32(k) * MONTH_YEARS,
            )  # fmt: skip
            cost = service.cost(p_service, d_i, F1, products[i], tenure, level, managed)
            log_q = log_d - (np.float64(switching) + np.float64(natural))  # a month's
            q = np.exp(log_q)
            if n == 1:
                value += held * q * (margin - cost)
                held *= q
            else:
                q_n = np.exp(n * log_q)
                value += held * q * (1.0 - q_n) / (1.0 - q) * (margin - cost)
                held *= q_n
            k0 = stop
        out[j] = value
    return out
