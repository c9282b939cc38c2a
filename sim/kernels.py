"""Compiled kernels of the ``numba`` engine: the customers' month in one pass over the rows.

:func:`customer_month` does, row by row, what steps 4-8 of :class:`sim.model.BankModel` do with
whole-array NumPy operations (:mod:`sim.mechanisms` service, wealth, experience, exits and
engagement): the same formulas in the same float32/float64 types and order, the same random
numbers (:func:`uniform` is :meth:`sim.rng.Streams.uniform`, keyed by customer), drawn only for
customers still with the bank. :func:`tally` sums what the month's books and KPIs need in one
pass. The NumPy modules stay the reference (``engine=numpy``); tests/test_engine.py holds the two
to the same exits and the same KPIs.

Numba compiles each kernel on first use and caches the machine code on disk next to this file
(or under ``NUMBA_CACHE_DIR``), so a machine pays the compilation once, not every run or worker.

Debug mode: with the environment variable ``BANK_TESTBED_BOUNDSCHECK=1`` (read once, when this
module is imported) the kernels are compiled with bounds checks, so an index out of range raises
IndexError as the NumPy engine's does, instead of reading past the end of an array. That build is
slower and is not cached (Numba's cache does not tell the two builds apart), so each process
compiles it afresh.
"""

from __future__ import annotations

import os

import numpy as np
from numba import njit

BOUNDSCHECK = os.environ.get("BANK_TESTBED_BOUNDSCHECK") == "1"
_JIT = {"cache": not BOUNDSCHECK, "boundscheck": BOUNDSCHECK, "error_model": "numpy"}

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S40 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(40)
_UNIT = np.float32(2.0**-24)
F0, F1 = np.float32(0.0), np.float32(1.0)


@njit(inline="always", **_JIT)
def uniform(base, key):
    """U(0, 1) float32 for one customer key in the stream whose base is ``base``
    (:meth:`sim.rng.Streams.base`): SplitMix64's output function, as in :mod:`sim.rng`."""
    x = key * _GAMMA + base
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return np.float32(x >> _S40) * _UNIT


@njit(inline="always", **_JIT)
def _clip01(x):
    return min(max(x, F0), F1)


@njit(**_JIT)
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
            load[branch[i]] += visits * (F1 - digital[i]) * w
            sessions += digital[i] * w
    return cells, load, sessions


@njit(**_JIT)
def customer_month(c, p, tables, bases, t, out):
    """One month of service cost, wealth, experience, exits and engagement for every active
    customer. ``c``: the customer columns (:data:`sim.mechanisms.fused.COLUMNS`), updated in
    place; ``p``: scalar parameters (float32 where the NumPy path computes in float32);
    ``tables``: small lookup arrays; ``bases``: the streams' bases this month. Writes the
    month's sums into ``out`` (:data:`sim.mechanisms.fused.OUT`) and returns the referrers' rows.
    """
    (
        active,
        weight,
        segment,
        digital,
        fit0,
        aum,
        age,
        products,
        tier,
        branch,
        near,
        manager,
        trust,
        manager_change,
        satisfaction,
        effort,
        attention,
        perks,
        shock,
        referred,
        joined,
        engagement,
        lift,
        habit,
        complaints,
        last_used,
        left,
        exit_reason,
        cohort,
        key,
    ) = c
    (
        quality,
        wait,
        fit_bonus,
        wealth_share,
        product_log,
        tier_log,
        tenure_log,
        engaged_log,
        pull_tier,
        pull_tilt,
        cell_base,
        cell_span,
    ) = tables
    b_churn, b_fees, b_wealth, b_refer, b_products, b_complain, b_life, b_usage = bases
    referrers = np.empty(active.size, np.int64)
    n_referrers = 0
    half = np.float32(0.5)
    for i in range(active.size):
        if not active[i]:
            shock[i] *= p.shock_decay
            continue
        w, d, k = weight[i], digital[i], key[i]
        newcomer = cohort[i] == 0
        # staffing: trust grows with a manager; attention from the desk's coverage and skill
        if manager[i] >= 0:
            trust[i] += (F1 - trust[i]) / p.trust_months
        cell = (manager[i] + 1) * 4 + tier[i]
        attention[i] = cell_base[cell] + cell_span[cell] * trust[i]
        rel = attention[i] - p.rel_reference if manager[i] >= 0 else F0
        # service: the cost of this month's branch visits and digital sessions
        cost = (p.visits * (F1 - d) * p.visit_cost + p.sessions * d * p.digital_cost) * w
        out[0 if not newcomer else 1] += cost
        # wealth: balances move, customers age, tiers follow AUM
        noise = p.shock_span * uniform(b_wealth, k) - p.shock_half_span
        growth = p.drift + wealth_share[tier[i]] * p.market_return + p.volatility * noise
        growth += p.inflow * rel
        aum[i] *= np.exp(growth)
        age[i] += p.month_years
        old = tier[i]
        new = (aum[i] >= p.tier_low) + (aum[i] >= p.tier_mid) + (aum[i] >= p.tier_high)
        tier[i] = new
        if new > old:
            out[2] += w
        elif new < old:
            out[3] += w
        # experience and satisfaction
        q, wt = quality[branch[i]], wait[branch[i]]
        branch_effort = half * wt / (wt + np.float32(30.0)) + half * (F1 - near[i])
        effort[i] = (F1 - d) * branch_effort + d * (F1 - p.digital_quality)
        fit = _clip01(fit0[i] + fit_bonus[segment[i]])
        fee = uniform(b_fees, k) < p.fee_rate
        pull = F0
        for j in range(pull_tier.shape[0]):
            pull += _clip01(pull_tier[j, new] + pull_tilt[j] * (d - half))
        penalty = (p.fee_penalty if fee else F0) + p.competitor_penalty * pull
        now = (
            p.w_service * ((F1 - d) * q + d * p.digital_quality)
            + p.w_convenience * (d + (F1 - d) * near[i])
            + p.w_effort * (F1 - effort[i])
            + p.w_attention * attention[i]
            + p.w_fit * fit
        )
        now = _clip01(now + (perks[i] - penalty))
        sat = satisfaction[i] + p.smoothing * (now - satisfaction[i])
        satisfaction[i] = sat
        # exits: the switching hazard, natural exits
        log_hazard = (
            p.log_churn_base
            + p.satisfaction_coef * (p.satisfaction_ref - sat)
            + product_log[min(products[i], 4) - 1]
            + tenure_log[t - joined[i]]
            + tier_log[new]
            + p.competitor_coef * pull
            + (p.log_manager_change if t - manager_change[i] < p.manager_change_months else F0)
            + (p.log_referred if referred[i] else F0)
            + shock[i]
            + engaged_log[1 if engagement[i] >= p.engaged_at else 0]
            - p.rel_switching * rel
        )
        shock[i] *= p.shock_decay
        switching = np.exp(log_hazard)
        natural = (
            p.natural_exit + p.old_age_exit * max(age[i] - np.float32(70.0), F0) / np.float32(10.0)
        ) / np.float32(12.0)
        total = switching + natural
        u = uniform(b_churn, k)
        # the chance of leaving, 1 - exp(-total), is below total: most draws need no expm1
        p_leave = -np.expm1(-total) if u < total else F0
        if u < p_leave:
            p_natural = p_leave * (natural / total)
            reason = 3 if u < p_natural else 1
            active[i] = False
            left[i] = t
            exit_reason[i] = reason
            out[4 if reason == 3 else 5] += w
            out[6 + new] += w
            out[10 + segment[i]] += w
            continue
        # engagement: referrals, cross-sell and drops, complaints, engagement, usage
        p_refer = p.referral_rate * _clip01((sat - p.referral_threshold) / p.referral_span)
        if uniform(b_refer, k) < p_refer:
            referrers[n_referrers] = i
            n_referrers += 1
        u = uniform(b_products, k)
        pull_manager = max(F1 + p.rel_cross_sell * rel, F0)
        add = u < p.cross_sell_rate * sat * fit * pull_manager and products[i] < 6
        drop = u > F1 - p.drop_rate * (F1 - sat) and products[i] > 1
        products[i] += np.int8(add) - np.int8(drop)
        p_complain = np.float64(p.complaint_rate * (F1 - sat)) + (p.complaint_fee if fee else 0.0)
        if uniform(b_complain, k) < p_complain:
            complaints[i] += 1
            out[-3] += w
            if fee:
                out[-2] += w
        held = np.float32(min(products[i], 4) - 1) / np.float32(3.0)
        target = _clip01(
            p.e_products * held
            + p.e_satisfaction * sat
            + p.e_digital * d
            + p.e_habit * habit[i]
            + lift[i]
        )
        level = engagement[i] + p.engagement_speed * (target - engagement[i])
        u = uniform(b_life, k)
        if u < p.life_event_rate:
            out[-1] += w
            if u < p.life_event_down:
                level = level * (F1 - p.life_event_size)
            else:
                level = level + p.life_event_size * (F1 - level)
        engagement[i] = _clip01(level)
        use = -np.expm1(p.minus_usage_rate * products[i] * np.float64(engagement[i]))
        if uniform(b_usage, k) < use:
            last_used[i] = t
    return referrers[:n_referrers]


@njit(**_JIT)
def tally(
    active, weight, tier, cohort, aum, loan, satisfaction, effort, attention, manager,
    wealth_share,
):  # fmt: skip
    """The end-of-month sums of :class:`sim.metrics.Tally` over the active customers: the scalar
    sums (then the count of simulated customers), real customers by tier, and each book line's
    base amounts (:data:`sim.mechanisms.books.LINES`) of the opening book and of newcomers."""
    sums = np.zeros(10)
    tiers = np.zeros(4)
    lines = np.zeros((5, 2))
    for i in range(active.size):
        if not active[i]:
            continue
        w = weight[i]
        wealth = aum[i] * wealth_share[tier[i]] * w
        loans = loan[i] * w
        group = 1 if cohort[i] == 0 else 0
        lines[0, group] += aum[i] * w - wealth
        lines[1, group] += wealth
        lines[2, group] += loans
        lines[3, group] += w
        lines[4, group] += loans
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
        sums[9] += 1
    return sums, tiers, lines
