"""The customers' month (steps 3-8 after staffing): two engines, chosen by ``engine``.

- ``numpy``: the reference. Each mechanism of :mod:`sim.mechanisms` updates whole columns in
  turn; easy to read and to change.
- ``numba``: the same month fused into one compiled pass over the rows (:mod:`sim.kernels`),
  which draws random numbers only for customers still with the bank. Several times faster; it
  gives the same exits and the same KPIs to float rounding (tests/test_engine.py says how close).

Both read and write the same columns, agents, events and ledger, so everything before and after
(strategies, acquisition, the books, the KPIs) is shared. A new mechanism is written for the
NumPy engine first; the numba kernel follows it formula by formula (docs/architecture.md).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sim import behaviour, metrics
from sim.config import ENGAGEMENT_COMPONENTS, EXPERIENCE_COMPONENTS, TIER_BOUNDS, TIERS
from sim.mechanisms import books, engagement, exits, experience, service, staffing, wealth

f32 = np.float32


def numpy_month(model, t: int) -> np.ndarray:
    """Steps 3 (trust, attention) to 8 with NumPy; returns the referrers' rows."""
    staffing.attend(model)
    service.step(model)
    wealth.step(model, t)
    pull, fee, fit = experience.step(model, t)
    exits.step(model, t, pull)
    return engagement.step(model, t, fee, fit)


def numba_month(model, t: int) -> np.ndarray:
    """Steps 3 (trust, attention) to 8 in one compiled pass; returns the referrers' rows."""
    from sim import kernels

    c, bank = model.customers, model.config.bank
    cells, load, digital = kernels.start_of_month(
        c.active, c.weight, c.digital, c.manager, c.tier, c.branch,
        staffing.n_cells(model), len(model.branches), f32(bank.visits_per_month),
    )  # fmt: skip
    base, span = staffing.attention_tables(model, cells)
    service.serve(model, load, digital)
    out = np.zeros(len(_OUT_HEAD) + len(model.segment_names) + len(_OUT_TAIL))
    referrers = kernels.customer_month(
        tuple(getattr(c, name) for name in COLUMNS),
        _params(model, t),
        _tables(model, base, span),
        tuple(np.uint64(model.streams.base(name, t)) for name in STREAMS),
        t,
        out,
    )
    _book(model, out)
    return referrers


def numba_tally(model) -> metrics.Tally:
    """The month's :class:`~sim.metrics.Tally` in one compiled pass."""
    from sim import kernels

    c = model.customers
    sums, tiers, lines = kernels.tally(
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


ENGINES = {"numpy": (numpy_month, metrics.tally), "numba": (numba_month, numba_tally)}

# The customer columns the kernel reads and writes, in its argument order.
COLUMNS = (
    "active", "weight", "segment", "digital", "fit", "aum", "age", "products", "tier", "branch",
    "near", "manager", "trust", "manager_change", "satisfaction", "effort", "attention",
    "perks", "shock", "referred", "joined", "engagement", "engagement_lift", "habit",
    "complaints", "last_used", "left", "exit_reason", "cohort", "key",
)  # fmt: skip
# The streams it draws from, in its argument order (the NumPy mechanisms' names).
STREAMS = ("churn", "fees", "wealth", "referrals", "products", "complaints", "life_events", "usage")
# The sums it returns: these, exits by segment, then the tail.
_OUT_HEAD = (
    "service_opening", "service_newcomers", "upgrades", "downgrades", "exit_natural",
    "exit_switched", *(f"exits_{tier}" for tier in TIERS),
)  # fmt: skip
_OUT_TAIL = ("complaints", "fee_complaints", "life_events")
# The tally kernel's sums (then the count of simulated customers) and book lines, in its order.
_TALLY = (
    "customers", "cohort", "cohort_mid_high", "aum", "cohort_aum", "satisfaction", "effort",
    "attention", "managed",
)  # fmt: skip


class Params(NamedTuple):
    """The kernel's scalars, typed as the NumPy engine computes with them."""

    shock_decay: np.float32
    trust_months: np.float32
    rel_reference: np.float32
    visits: np.float32
    visit_cost: np.float32
    sessions: np.float32
    digital_cost: np.float32
    shock_span: np.float32
    shock_half_span: np.float32
    drift: np.float32
    market_return: np.float32
    volatility: np.float32
    inflow: np.float32
    month_years: np.float32
    tier_low: float
    tier_mid: float
    tier_high: float
    digital_quality: np.float32
    fee_rate: np.float32
    fee_penalty: np.float32
    competitor_penalty: np.float32
    w_service: np.float32
    w_convenience: np.float32
    w_effort: np.float32
    w_attention: np.float32
    w_fit: np.float32
    smoothing: np.float32
    log_churn_base: np.float32
    satisfaction_coef: np.float32
    satisfaction_ref: np.float32
    competitor_coef: np.float32
    log_manager_change: np.float32
    manager_change_months: int
    log_referred: np.float32
    engaged_at: np.float32
    rel_switching: np.float32
    natural_exit: np.float32
    old_age_exit: np.float32
    referral_rate: np.float32
    referral_threshold: np.float32
    referral_span: np.float32
    rel_cross_sell: np.float32
    cross_sell_rate: np.float32
    drop_rate: np.float32
    complaint_rate: np.float32
    complaint_fee: float
    e_products: np.float32
    e_satisfaction: np.float32
    e_digital: np.float32
    e_habit: np.float32
    engagement_speed: np.float32
    life_event_rate: np.float32
    life_event_down: np.float32
    life_event_size: np.float32
    minus_usage_rate: float


def _params(model, t: int) -> Params:
    cfg = model.config
    b, m, bank, rel = cfg.behaviour, cfg.market, cfg.bank, cfg.behaviour.relationship
    weight, engage = b.weights, b.engagement_weights
    return Params(
        shock_decay=f32(0.5 ** (1.0 / b.shock_half_life)),
        trust_months=f32(bank.trust_months),
        rel_reference=f32(rel.reference),
        visits=f32(bank.visits_per_month),
        visit_cost=f32(bank.visit_cost),
        sessions=f32(bank.sessions_per_month),
        digital_cost=f32(bank.digital_cost),
        shock_span=f32(2 * 3**0.5),
        shock_half_span=f32(3**0.5),
        drift=f32(m.deposit_growth / 12.0 - 0.5 * m.balance_volatility**2),
        market_return=f32(wealth.market_return(model, t)),
        volatility=f32(m.balance_volatility),
        inflow=f32(rel.inflow / 12.0),
        month_years=f32(1 / 12),
        tier_low=float(TIER_BOUNDS[0]),
        tier_mid=float(TIER_BOUNDS[1]),
        tier_high=float(TIER_BOUNDS[2]),
        digital_quality=f32(min(model.digital_quality, 1.0)),
        fee_rate=f32(b.fee_surprise_rate * model.fee_surprise_factor),
        fee_penalty=f32(b.fee_surprise_penalty),
        competitor_penalty=f32(b.competitor_penalty),
        **{f"w_{name}": f32(weight[name]) for name in EXPERIENCE_COMPONENTS},
        smoothing=f32(b.smoothing),
        log_churn_base=exits.log(behaviour.monthly(b.churn_base)),
        satisfaction_coef=f32(b.satisfaction_coef),
        satisfaction_ref=f32(b.satisfaction_ref),
        competitor_coef=f32(b.competitor_coef),
        log_manager_change=exits.log(b.manager_change_hazard),
        manager_change_months=int(b.manager_change_months),
        log_referred=exits.log(b.referred_hazard),
        engaged_at=f32(b.engagement_threshold),
        rel_switching=f32(rel.switching),
        natural_exit=f32(b.natural_exit),
        old_age_exit=f32(b.old_age_exit),
        referral_rate=f32(b.referral_rate),
        referral_threshold=f32(b.referral_threshold),
        referral_span=f32(1.0 - b.referral_threshold + 1e-9),
        rel_cross_sell=f32(rel.cross_sell),
        cross_sell_rate=f32(b.cross_sell_rate),
        drop_rate=f32(b.drop_rate),
        complaint_rate=f32(b.complaint_rate),
        complaint_fee=float(b.complaint_fee),
        **{f"e_{name}": f32(engage[name]) for name in ENGAGEMENT_COMPONENTS},
        engagement_speed=f32(b.engagement_speed),
        life_event_rate=f32(b.life_event_rate),
        life_event_down=f32(b.life_event_rate * b.life_event_disengage),
        life_event_size=f32(b.life_event_size),
        minus_usage_rate=-float(b.usage_rate),
    )


def _tables(model, base: np.ndarray, span: np.ndarray) -> tuple:
    b = model.config.behaviour
    branches = model.branch_list()
    competitors = list(model.competitors)
    return (
        np.array([br.quality for br in branches], f32),
        np.array([br.wait for br in branches], f32),
        model.fit_bonus,
        model.wealth_share,
        exits.log(b.product_hazard),
        exits.log(b.tier_hazard),
        model.tenure_log_hazard,
        engagement.hazard_logs(b),
        np.array([comp.by_tier() for comp in competitors], f32).reshape(-1, 4),
        np.array([comp.config.digital_tilt for comp in competitors], f32),
        base,
        span,
    )


def _book(model, out: np.ndarray) -> None:
    """Book the kernel's sums as the NumPy mechanisms book theirs."""
    sums = dict(zip(_OUT_HEAD, out, strict=False))
    sums |= dict(zip(_OUT_TAIL, out[-len(_OUT_TAIL) :], strict=True))
    by_segment = out[len(_OUT_HEAD) : len(out) - len(_OUT_TAIL)]
    model.ledger.book("service", sums["service_opening"], "opening_book")
    model.ledger.book("service", sums["service_newcomers"], "newcomers")
    e = model.events
    for name in ("upgrades", "downgrades", "complaints", "fee_complaints", "life_events"):
        e[name] += sums[name]
    for reason in ("natural", "switched"):
        e[f"exit_{reason}"] += sums[f"exit_{reason}"]
    for tier in TIERS:
        e[f"exits_{tier}"] += sums[f"exits_{tier}"]
    for name, n in zip(model.segment_names, by_segment, strict=True):
        e[f"exits_{name}"] += n
    model.by_segment -= by_segment
