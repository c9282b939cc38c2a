"""The customers' month (steps 3-8 after staffing) and the end-of-month tally, in compiled passes.

:func:`run` gathers each mechanism's parameters for the month (its ``params``), then
:func:`customer_month` walks the rows once, calling the mechanisms' per-customer formulas in the
model's order: staffing's trust and attention, service cost, wealth, experience, exits, then
engagement (referrals, products, complaints, engagement, usage). Random numbers are keyed by
customer (:func:`sim.rng.keyed_uniform`) and drawn only for customers still with the bank.
:func:`tally` sums what the month's books and KPIs need in one pass.

Each formula lives in its mechanism's module and nowhere else; this module only orders them,
books their sums and says which columns and streams they use (docs/architecture.md).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from sim import metrics
from sim.compiled import F0, F1, kernel
from sim.config import TIERS
from sim.customers import EXIT_REASONS, NEVER
from sim.mechanisms import books, engagement, exits, experience, service, staffing, wealth
from sim.rng import keyed_uniform

if TYPE_CHECKING:
    from sim.model import BankModel

CHUNK = 16_384  # rows a call takes: fixed, so that sums do not depend on the threads
THREADS = int(os.environ.get("BANK_TESTBED_THREADS", os.cpu_count() or 1))

# The customer columns the pass reads and writes, in its argument order.
COLUMNS = (
    "active", "weight", "segment", "digital", "fit", "aum", "age", "products", "tier", "branch",
    "near", "manager", "trust", "manager_change", "satisfaction", "effort", "attention",
    "perks", "shock", "referred", "joined", "engagement", "engagement_lift", "habit",
    "complaints", "last_used", "left", "exit_reason", "cohort", "key", "closed_at",
)  # fmt: skip
# The streams it draws from, in its argument order.
STREAMS = ("churn", "fees", "wealth", "referrals", "products", "complaints", "life_events", "usage")
# The sums it returns: these, exits by segment, then the tail.
_OUT_HEAD = (
    "service_opening", "service_newcomers", "upgrades", "downgrades",
    *(f"exit_{reason}" for reason in EXIT_REASONS[1:]), *(f"exits_{tier}" for tier in TIERS),
)  # fmt: skip
_EXITS = 3  # a leaver for reason r (an index of EXIT_REASONS) adds to the sum at _EXITS + r
_BY_TIER = _EXITS + len(EXIT_REASONS)  # exits by tier start here
_BY_SEGMENT = _BY_TIER + len(TIERS)  # and exits by segment here
_OUT_TAIL = ("complaints", "fee_complaints", "life_events")
# The tally's sums (then the count of simulated customers), in its order.
_TALLY = (
    "customers", "cohort", "cohort_mid_high", "aum", "cohort_aum", "satisfaction", "effort",
    "attention", "managed",
)  # fmt: skip


def run(model: BankModel, t: int) -> np.ndarray:
    """Steps 3 (trust, attention) to 8 for every active customer; returns the referrers' rows."""
    c, bank = model.customers, model.config.bank
    cells, load, digital = start_of_month(
        c.active, c.weight, c.digital, c.manager, c.tier, c.branch,
        staffing.n_cells(model), len(model.branches), np.float32(bank.visits_per_month),
    )  # fmt: skip
    staff = staffing.params(model, cells)
    service.serve(model, load, digital)
    params = (
        staff,
        service.params(model),
        wealth.params(model, t),
        experience.params(model),
        exits.params(model),
        engagement.params(model),
    )
    columns = tuple(getattr(c, name) for name in COLUMNS)
    bases = tuple(np.uint64(model.streams.base(name, t)) for name in STREAMS)
    starts = range(0, c.n, CHUNK)
    sums = np.zeros((len(starts), len(_OUT_HEAD) + len(model.segment_names) + len(_OUT_TAIL)))
    referrer = np.zeros(c.n, np.bool_)

    def chunk(j: int) -> None:
        start = starts[j]
        rows = (start, min(start + CHUNK, c.n))
        customer_month(columns, params, bases, t, sums[j], referrer, *rows)

    threads = min(THREADS, len(starts) // 2)  # two chunks a thread at least: threads cost
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:  # none left running: worker processes fork
            list(pool.map(chunk, range(len(starts))))
    else:
        for j in range(len(starts)):
            chunk(j)
    _book(model, np.add.reduce(sums, axis=0))  # chunk by chunk, in order
    return np.flatnonzero(referrer)


def tally(model: BankModel) -> metrics.Tally:
    """The month's :class:`~sim.metrics.Tally` in one pass."""
    c = model.customers
    sums, tiers, lines = _tally(
        c.active, c.weight, c.tier, c.cohort, c.aum, c.loan, c.satisfaction, c.effort,
        c.attention, c.manager, model.wealth_share,
    )  # fmt: skip
    return metrics.Tally(
        **dict(zip(_TALLY, sums[:-1], strict=True)),
        agents=int(sums[-1]),
        tiers=tiers,
        segments=model.market.bank_customers(model),
        lines=dict(zip(books.LINES, map(tuple, lines), strict=True)),
    )


@kernel
def start_of_month(active, weight, digital, manager, tier, branch, n_cells, n_branches, visits):
    """Real customers per (desk + 1, tier) cell, real branch visits per branch and digital
    customers (weights), of the active customers: what staffing and service share out."""
    cells = np.zeros(n_cells)
    load = np.zeros(n_branches)
    sessions = 0.0
    for i in range(active.size):
        if active[i]:
            w = weight[i]
            cells[(manager[i] + 1) * 4 + tier[i]] += w
            load[branch[i]] += service.visits(visits, digital[i], w)
            sessions += digital[i] * w
    return cells, load, sessions


@kernel
def customer_month(c, params, bases, t, out, referrer, start, stop):
    """One month of the active customers in rows ``start`` to ``stop`` - 1, row by row. ``c``:
    the :data:`COLUMNS`, updated in place; ``params``: the mechanisms' parameters in the order of
    :func:`run`; ``bases``: the :data:`STREAMS`' bases this month. Adds the month's sums to
    ``out`` and flags referrers in ``referrer``."""
    (
        active, weight, segment, digital, fit0, aum, age, products, tier, branch, near, manager,
        trust, manager_change, satisfaction, effort, attention, perks, shock, referred, joined,
        engagement_, lift, habit, complaints, last_used, left, exit_reason, cohort, key, closed_at,
    ) = c  # fmt: skip
    p_staff, p_service, p_wealth, p_experience, p_exits, p_engage = params
    b_churn, b_fees, b_wealth, b_refer, b_products, b_complain, b_life, b_usage = bases
    for i in range(start, stop):
        if not active[i]:
            shock[i] *= p_exits.shock_decay
            continue
        w, d, k = weight[i], digital[i], key[i]
        trust[i], attention[i], gap = staffing.attend(p_staff, manager[i], tier[i], trust[i])
        book = 0 if cohort[i] != 0 else 1  # the service line's opening book or newcomers
        tenure = t - joined[i]
        out[book] += service.cost(
            p_service, d, w, products[i], tenure, tier[i], F1 if manager[i] >= 0 else F0
        )
        old = tier[i]
        aum[i], age[i], new = wealth.month(
            p_wealth, aum[i], age[i], old, keyed_uniform(b_wealth, k), gap, tenure, engagement_[i]
        )
        tier[i] = new
        if new > old:
            out[2] += w
        elif new < old:
            out[3] += w
        fee = keyed_uniform(b_fees, k) < p_experience.fee_rate
        pull = experience.competitor_pull(p_experience, new, d)
        effort[i], sat, fit = experience.month(
            p_experience, satisfaction[i], d, branch[i], near[i], attention[i], fit0[i],
            segment[i], perks[i], fee, pull,
        )  # fmt: skip
        satisfaction[i] = sat
        switching, natural = exits.hazards(
            p_exits, sat, products[i], tenure, new, pull, t - manager_change[i],
            referred[i], shock[i], engagement_[i], gap, age[i],
        )  # fmt: skip
        shock[i] *= p_exits.shock_decay
        reason = exits.leave(keyed_uniform(b_churn, k), switching, natural, closed_at[i] != NEVER)
        if reason != exits.STAY:
            active[i] = False
            left[i] = t
            exit_reason[i] = reason
            out[_EXITS + reason] += w
            out[_BY_TIER + new] += w
            out[_BY_SEGMENT + segment[i]] += w
            continue
        if engagement.refers(p_engage, sat, keyed_uniform(b_refer, k)):
            referrer[i] = True
        products[i] = engagement.products_after(
            p_engage, products[i], sat, fit, gap, tenure, keyed_uniform(b_products, k)
        )
        if engagement.complains(p_engage, sat, fee, keyed_uniform(b_complain, k)):
            complaints[i] += 1
            out[-3] += w
            out[book] += p_service.complaint_cost * w
            if fee:
                out[-2] += w
        engagement_[i], event = engagement.engagement_after(
            p_engage, engagement_[i], products[i], sat, d, habit[i], lift[i],
            keyed_uniform(b_life, k),
        )  # fmt: skip
        if event:
            out[-1] += w
        if engagement.uses(p_engage, products[i], engagement_[i], keyed_uniform(b_usage, k)):
            last_used[i] = t


@kernel
def _tally(
    active, weight, tier, cohort, aum, loan, satisfaction, effort, attention, manager,
    wealth_share,
):  # fmt: skip
    """The end-of-month sums of :class:`sim.metrics.Tally` over the active customers: the scalar
    sums (then the count of simulated customers), real customers by tier, and each book line's
    base amounts (:func:`sim.mechanisms.books.bases`) of the opening book and of newcomers."""
    sums = np.zeros(10)
    tiers = np.zeros(4)
    lines = np.zeros((len(books.LINES), 2))
    for i in range(active.size):
        if not active[i]:
            continue
        w = weight[i]
        group = 1 if cohort[i] == 0 else 0
        deposits, wealth, loans, customers, losses = books.bases(
            wealth_share[tier[i]], aum[i], loan[i], w
        )
        lines[0, group] += deposits
        lines[1, group] += wealth
        lines[2, group] += loans
        lines[3, group] += customers
        lines[4, group] += losses
        tiers[tier[i]] += w
        sums[0] += w
        if cohort[i] >= 1:
            sums[1] += w
            sums[4] += aum[i] * w
        if cohort[i] == 2:
            sums[2] += w
        sums[3] += aum[i] * w
        sums[5] += satisfaction[i] * w
        sums[6] += effort[i] * w
        if manager[i] >= 0:
            sums[7] += attention[i] * w
            sums[8] += w
    sums[9] = np.count_nonzero(active)
    return sums, tiers, lines


def _book(model: BankModel, out: np.ndarray) -> None:
    """Book the pass's sums: service cost on the ledger, the rest in the month's events."""
    sums = dict(zip(_OUT_HEAD, out, strict=False))
    sums |= dict(zip(_OUT_TAIL, out[-len(_OUT_TAIL) :], strict=True))
    by_segment = out[len(_OUT_HEAD) : len(out) - len(_OUT_TAIL)]
    model.ledger.book("service", sums["service_opening"], "opening_book")
    model.ledger.book("service", sums["service_newcomers"], "newcomers")
    e = model.events
    for name in ("upgrades", "downgrades", "complaints", "fee_complaints", "life_events"):
        e[name] += sums[name]
    for reason in ("natural", "switched", "closure"):  # followed_manager: model.exit
        e[f"exit_{reason}"] += sums[f"exit_{reason}"]
    for tier in TIERS:
        e[f"exits_{tier}"] += sums[f"exits_{tier}"]
    for name, n in zip(model.segment_names, by_segment, strict=True):
        e[f"exits_{name}"] += n
    model.by_segment -= by_segment
