"""KPIs: the monthly time series, the run summary, the customer panel, the branches and the CRM
extract.

Retention is measured on the *cohort*: the customers active when burn-in ends. Monthly rows cover
the measured months only; burn-in is warm-up. Counts, shares and means are of real customers:
every simulated customer counts with its weight.

Months: every month in an output (``month``, ``joined_month``, ``left_month``, ``opened_month``,
``closed_month``, ``reference_month``) is a *measured* month, as in the config (strategies'
``start``, ``end`` and ``month``, ``output.crm_reference_month``): 1 is the first month after
burn-in, 0 the end of burn-in, and burn-in months are 0 or less. The model's own clock
(``model.month``, the customer columns ``joined``, ``left``, ``last_used``, ``closed_at``) counts
from the start of burn-in; :func:`measured` converts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.clv import clv
from sim.config import TIERS
from sim.customers import CHANNELS, EXIT_REASONS, REFERRER_CHANNELS, masked_sum
from sim.geography import OpenBranches
from sim.ledger import GROUPS
from sim.mechanisms.engagement import engaged

if TYPE_CHECKING:
    from sim.model import BankModel

SKILL_PERCENTILES = (10, 25, 50, 75, 90)  # of client managers' skill, each month


def measured(model: BankModel, month):
    """A model month (counted from the start of burn-in) as a measured month."""
    return month - model.config.burn_in


def new_events() -> defaultdict:
    """Counters of this month's events (new customers, exits, quits, complaints ...)."""
    return defaultdict(float)


class Cohort:
    """The customers active at the start of the measured period."""

    def __init__(self, model: BankModel):
        c = model.customers
        c.cohort[:] = c.active * (1 + (c.tier >= 1))
        self.size = masked_sum(c.weight, c.cohort >= 1)
        self.size_mid_high = masked_sum(c.weight, c.cohort == 2)
        self.aum = masked_sum(c.aum * c.weight, c.active)
        self.market_share = model.market.share(model.market.bank_customers(model))
        self.tiers = tier_counts(c)
        self.book_value = book_value(model)
        self.retention_12m: float | None = None  # set in measured month 12

    def retention(self, tally: Tally, mid_high: bool = False) -> float:
        """Share of the cohort (or of its mid-and-up part) still active."""
        kept = tally.cohort_mid_high if mid_high else tally.cohort
        total = self.size_mid_high if mid_high else self.size
        return kept / total if total else 1.0

    def aum_retention(self, tally: Tally) -> float:
        """AUM the cohort still holds with the bank, relative to its AUM at the start."""
        return tally.cohort_aum / self.aum if self.aum > 0 else 1.0


@dataclass
class Tally:
    """Sums over the active customers at the end of a month, each counted by its weight (real
    customers), that the books and the KPIs need (one pass: :func:`sim.month.tally`)."""

    customers: float
    agents: int  # simulated customers
    tiers: np.ndarray  # real customers by tier
    segments: np.ndarray  # real customers by segment (the count kept as they join and leave)
    cohort: float  # of the cohort, still active
    cohort_mid_high: float  # of its mid-and-up part
    aum: float  # CNY
    cohort_aum: float  # the cohort's, CNY
    satisfaction: float  # weighted sums, for means
    effort: float
    attention: float  # of customers with a manager
    managed: float  # real customers with a manager
    lines: dict[str, tuple[float, float]]  # book line -> (opening book, newcomers) base amounts


def is_engaged(engagement, behaviour) -> np.ndarray:
    """The engaged flag of each customer (:func:`sim.mechanisms.engagement.engaged`)."""
    threshold = np.float32(behaviour.engagement_threshold)
    return engaged(np.asarray(engagement, np.float32), threshold)


def tier_counts(c) -> dict[str, float]:
    """Real active customers by tier."""
    counts = np.bincount(c.tier, weights=c.weight * c.active, minlength=4)
    return {tier: float(n) for tier, n in zip(TIERS, counts, strict=True)}


def monthly_kpis(model: BankModel, tally: Tally) -> dict[str, float]:
    """One row of the time series: state, flows and the month's books."""
    e, cohort = model.events, model.cohort
    assert cohort is not None  # taken when burn-in ends, before the first measured month
    month = measured(model, model.month)
    retention = cohort.retention(tally)
    if month == min(12, model.config.months):
        cohort.retention_12m = retention
    skills = np.array([m.skill for m in model.team()])  # in hiring order, as ever
    quantiles = (
        percentiles(skills, SKILL_PERCENTILES) if len(skills) else [0.0] * len(SKILL_PERCENTILES)
    )
    waits = [b.wait for b in model.branches if b.is_open] or [0.0]
    counts, flows, exits = _kpi_names(tuple(model.segment_names))
    row = {
        "month": month,
        "customers": tally.customers,
        "agents": tally.agents,
        **{name: float(n) for name, n in zip(counts[: len(TIERS)], tally.tiers, strict=True)},
        **{name: e[name] for name in flows},
        **{name: float(n) for name, n in zip(counts[len(TIERS) :], tally.segments, strict=True)},
        **{name: e[name] for name in exits},
        "retention": retention,
        "retention_mid_high": cohort.retention(tally, mid_high=True),
        "aum": tally.aum,
        "aum_retention": cohort.aum_retention(tally),
        "market_share": model.market.share(tally.segments),
        "satisfaction": _mean(tally.satisfaction, tally.customers),
        "effort": _mean(tally.effort, tally.customers),
        "attention": _mean(tally.attention, tally.managed),
        "complaints": e["complaints"],
        "fee_complaints": e["fee_complaints"],
        "upgrades": e["upgrades"],
        "downgrades": e["downgrades"],
        "manager_skill": _average(skills) if len(skills) else 0.0,
        **{
            f"manager_skill_p{q}": float(value)
            for q, value in zip(SKILL_PERCENTILES, quantiles, strict=True)
        },
        "manager_quits": e["manager_quits"],
        "branches_open": sum(b.is_open for b in model.branches),
        "branch_wait": _average(np.array(waits)),
        "branch_visits": e["visits"],
        **model.books,
        **value_lost(model),
        **referral_value(model),
    }
    return row


def book_value(model: BankModel) -> float:
    """The value of the book (CNY): every active customer's lifetime value (:func:`sim.clv.clv`)
    times the real customers the row stands for."""
    c = model.customers
    return masked_sum(clv(model) * c.weight, c.active)


VALUE_LOST = (
    "value_lost",
    *(f"value_lost_{r}" for r in EXIT_REASONS[1:]),
    *(f"value_lost_{t}" for t in TIERS),
)
"""The time series' and summary's columns of the value lost to exits: in all, by exit reason,
by tier."""


def value_lost(model: BankModel) -> dict[str, float]:
    """The value of this month's leavers (CNY, :data:`VALUE_LOST`): each one's lifetime value
    (:func:`sim.clv.clv`) on their state when they left, as if they had stayed, times the real
    customers the row stands for; in all, by exit reason and by tier. Each leaver's value is
    kept in the ``exit_value`` column (:func:`leavers`)."""
    c = model.customers
    rows = np.flatnonzero(c.left == model.month)
    lost = clv(model, rows) * c.weight[rows]
    c.exit_value[rows] = lost
    reasons = np.bincount(c.exit_reason[rows], lost, len(EXIT_REASONS))[1:]
    tiers = np.bincount(c.tier[rows], lost, len(TIERS))
    return dict(zip(VALUE_LOST, (lost.sum(), *reasons, *tiers), strict=True))


REFERRAL_VALUE = (
    "referral_value",
    *(f"referral_value_{t}" for t in TIERS),
    *(f"referral_value_{c}" for c in REFERRER_CHANNELS),
)
"""The time series' and summary's columns of the value referrals bring: in all, credited to the
referrer's tier, and to the referrer's channel (branch or digital)."""


def referral_value(model: BankModel) -> dict[str, float]:
    """The value of this month's referred friends (CNY, :data:`REFERRAL_VALUE`): each one's
    lifetime value (:func:`sim.clv.clv`) as they join, times the real customers the row stands
    for; in all, by the tier of their referrer and by the referrer's channel."""
    c = model.customers
    rows = np.flatnonzero((c.joined == model.month) & (c.referrer >= 0))
    value = clv(model, rows) * c.weight[rows]
    code = c.referrer[rows]
    tiers = np.bincount(code // 2, value, len(TIERS))
    channels = np.bincount(code % 2, value, len(REFERRER_CHANNELS))
    return dict(zip(REFERRAL_VALUE, (value.sum(), *tiers, *channels), strict=True))


def _mean(weighted_sum: float, weight: float) -> float:
    return weighted_sum / weight if weight > 0 else 0.0


def _average(values: np.ndarray) -> float:
    """``np.mean`` of a float64 array, the same number (its sum over its count) without its
    overhead."""
    return float(np.add.reduce(values) / len(values))


@cache
def _kpi_names(segments: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Names of the time series' columns of customers (by tier, then by segment), of flows (new
    customers by channel, exits by reason and by tier) and of exits by segment."""
    counts = (*(f"customers_{t}" for t in TIERS), *(f"customers_{s}" for s in segments))
    flows = (
        *(f"new_{ch}" for ch in CHANNELS[1:]),
        *(f"exit_{r}" for r in EXIT_REASONS[1:]),
        *(f"exits_{t}" for t in TIERS),
    )
    return counts, flows, tuple(f"exits_{s}" for s in segments)


def percentiles(values: np.ndarray, q) -> np.ndarray:
    """``np.percentile(values, q)`` (its default, linear method) of a 1-D float64 array without
    NaNs: the same numbers, without its overhead (each month's skill percentiles)."""
    prev, following, gamma = _percentile_plan(len(values), tuple(q))
    ordered = np.sort(values)
    a, b = ordered[prev], ordered[following]
    diff = b - a
    out = a + diff * gamma
    np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5)
    return out


@cache
def _percentile_plan(n: int, q: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where ``np.percentile`` interpolates for ``n`` values: the indexes below and above each
    percentile's virtual index, and the weight of the one above (numpy's ``_get_indexes`` and
    ``_get_gamma``)."""
    virtual = (n - 1) * np.true_divide(np.asarray(q, np.float64), 100)
    prev = np.floor(virtual)
    following = prev + 1
    above = virtual >= n - 1
    prev[above] = following[above] = -1
    prev, following = prev.astype(np.intp), following.astype(np.intp)
    return prev, following, virtual - prev


def timeseries(model: BankModel) -> pd.DataFrame:
    """The monthly time series: the ``monthly_kpis`` rows of the measured months so far."""
    return pd.DataFrame(model.kpi_rows)


def discount_factors(months, annual_rate: float) -> np.ndarray:
    """Each measured month's factor in the NPV: (1 + annual rate) ** -(month / 12)."""
    return (1.0 + annual_rate) ** -(np.asarray(months, np.float64) / 12.0)


def summarise(model: BankModel, timeseries: pd.DataFrame) -> dict:
    """End-of-run summary: retention, AUM, money, flows and customers by tier. The book's value
    at the end (``book_value``; at month 0, ``book_value_start``; valued at those two months
    only, since valuing every customer costs as much as a month's customer pass); the value lost
    to exits
    (``value_lost`` and its parts by reason and tier) adds the months' values discounted to month
    0 as the NPV discounts profits (each month's leavers valued at that month)."""
    cfg, cohort, c = model.config, model.cohort, model.customers
    assert cohort is not None  # taken when burn-in ends
    discount = discount_factors(timeseries["month"], cfg.economics.discount_rate)
    end = timeseries.iloc[-1]
    summary: dict[str, Any] = {
        "seed": cfg.seed,
        "months": cfg.months,
        "retention_12m": cohort.retention_12m,
        "retention_horizon": float(end["retention"]),
        "retention_mid_high": float(end["retention_mid_high"]),
        "aum_retention": float(end["aum_retention"]),
        "aum_start": cohort.aum,
        "aum_end": float(end["aum"]),
        "revenue": float(timeseries["revenue"].sum()),
        "cost": float(timeseries["cost"].sum()),
        "profit": float(timeseries["profit"].sum()),
        "npv": float(np.dot(timeseries["profit"].to_numpy(), discount)),
        "book_value_start": cohort.book_value,
        "book_value": book_value(model),
        **{
            name: float(np.dot(timeseries[name].to_numpy(), discount))
            for name in (*VALUE_LOST, *REFERRAL_VALUE)
        },
        **{
            f"npv_{group}": float(np.dot(timeseries[f"profit_{group}"].to_numpy(), discount))
            for group in GROUPS
        },
        "new_customers": float(timeseries[[f"new_{ch}" for ch in CHANNELS[1:]]].sum().sum()),
        "complaints": float(timeseries["complaints"].sum()),
        "satisfaction": float(end["satisfaction"]),
        "effort": float(end["effort"]),
        "manager_skill": float(end["manager_skill"]),
        "customers_start": cohort.size,
        "customers_end": float(end["customers"]),
        "market_share_start": cohort.market_share,
        "market_share_end": float(end["market_share"]),
    }
    summary |= {f"customers_start_{t}": n for t, n in cohort.tiers.items()}
    summary |= {f"customers_end_{t}": n for t, n in tier_counts(c).items()}
    summary["strategies"] = list(cfg.strategy)
    return summary


def panel(model: BankModel) -> pd.DataFrame:
    """One row per customer ever served (plus home and branch for maps); attributes as of the end
    of the run, or for leavers as they were when they left (engagement: the last state before
    the month they left). ``joined_month`` and ``left_month`` are measured months (the opening
    book joined at 0 or before; ``left_month`` is NA for customers still with the bank)."""
    c, t = model.customers.everyone(), model.month
    gone = c["left"] >= 0
    return pd.DataFrame(
        {
            "customer_id": c["id"],
            "customer_key": c["key"],
            "weight": c["weight"],
            "segment": pd.Categorical.from_codes(c["segment"], model.segment_names),
            "tier": pd.Categorical.from_codes(c["tier"], TIERS),
            "age": c["age"].astype(np.float64).round(1),
            "tenure_months": np.where(gone, c["left"], t) - c["joined"],
            "products": c["products"],
            "aum": c["aum"].round(2),
            "engagement": c["engagement"],
            "engaged_at_exit_or_end": is_engaged(c["engagement"], model.config.behaviour),
            "satisfaction": c["satisfaction"],
            "joined_month": measured(model, c["joined"]),
            "left_month": pd.Series(measured(model, c["left"])).where(gone).astype("Int32"),
            "exit_reason": pd.Categorical.from_codes(
                np.where(gone, c["exit_reason"] - 1, -1), EXIT_REASONS[1:]
            ),
            "channel": pd.Categorical.from_codes(c["channel"], CHANNELS),
            "home_x": c["x"],
            "home_y": c["y"],
            "branch": c["branch"],
        }
    )


AREAS = 8
"""The leavers table's map grid: the city's square split into AREAS x AREAS areas."""
LEAVER_GROUPS = ("book", "reason", "tier", "segment", "banks_by", "catchment", "area_x", "area_y")
LEAVER_COLUMNS = (
    "left", "cohort", "exit_reason", "tier", "segment", "digital", "x", "y", "weight", "exit_value",
)  # fmt: skip
"""The customer columns the leavers table reads."""
"""What the leavers table groups by (:func:`leavers`)."""


def leavers(model: BankModel) -> pd.DataFrame:
    """The measured months' leavers, grouped (:data:`LEAVER_GROUPS`): by book (the opening
    book, customers when burn-in ended, the same people in every arm; or newcomers), exit
    reason, tier and segment as they left, the channel they banked by (``branch``, or
    ``digital`` with a digital share of at least a half), the catchment they live in (the index
    of the nearest of the bank's own branches, open at the start whatever closed later) and the
    area of their home (column and row of an :data:`AREAS` x :data:`AREAS` grid over the city);
    ``exits`` in real customers and ``value_lost`` their lifetime value discounted to month 0 as
    ``value_lost`` in the summary. Every arm of a comparison is grouped alike, so arms can be
    subtracted."""
    c, cfg = model.customers.everyone(LEAVER_COLUMNS), model.config
    month = measured(model, c["left"])
    gone = np.flatnonzero((c["left"] >= 0) & (month >= 1))
    homes = np.column_stack([c["x"][gone], c["y"][gone]]).astype(np.float64)
    cell = np.clip((homes / cfg.bank.city_km * AREAS).astype(np.int64), 0, AREAS - 1)
    table = pd.DataFrame(
        {
            "book": pd.Categorical.from_codes((c["cohort"][gone] == 0).astype(np.int8), GROUPS[:2]),
            "reason": pd.Categorical.from_codes(c["exit_reason"][gone] - 1, EXIT_REASONS[1:]),
            "tier": pd.Categorical.from_codes(c["tier"][gone], TIERS),
            "segment": pd.Categorical.from_codes(c["segment"][gone], model.segment_names),
            "banks_by": pd.Categorical.from_codes(
                (c["digital"][gone] >= 0.5).astype(np.int8), REFERRER_CHANNELS
            ),
            "catchment": catchments(model, homes),
            "area_x": cell[:, 0].astype(np.int8),
            "area_y": cell[:, 1].astype(np.int8),
            "exits": c["weight"][gone].astype(np.float64),
            "value_lost": c["exit_value"][gone]
            * discount_factors(month[gone], cfg.economics.discount_rate),
        }
    )
    grouped = table.groupby(list(LEAVER_GROUPS), observed=True, sort=True)
    return grouped[["exits", "value_lost"]].sum().reset_index()


def catchments(model: BankModel, homes: np.ndarray) -> np.ndarray:
    """The index of the nearest of the bank's own branches (those it opened with, closed later
    or not) to each home; -1 for a bank without branches."""
    branches = model.branch_list()
    own = [b.index for b in branches if b.opened == 0]
    if not own:
        return np.full(len(homes), -1, np.int32)
    sites = np.array([(b.x, b.y) for b in branches], np.float64)
    return OpenBranches(sites, np.array(own)).nearest(homes)[0]


# The customer columns the CRM extract copies at its reference month.
CRM_COLUMNS = (
    "id",
    "key",
    "weight",
    "segment",
    "tier",
    "age",
    "joined",
    "products",
    "aum",
    "engagement",
    "last_used",
    "complaints",
    "manager",
    "satisfaction",
    "digital",
    "branch",
    "channel",
)


class CrmSnapshot:
    """The customers active at the CRM extract's reference month, their columns copied then."""

    def __init__(self, model: BankModel):
        c = model.customers
        rows = np.flatnonzero(c.active)
        self.month = model.month  # absolute model month
        self.columns = {name: getattr(c, name)[rows].copy() for name in CRM_COLUMNS}
        self.columns["clv"] = clv(model, rows)


def crm_reference(model: BankModel) -> int:
    """Absolute model month of the CRM extract's snapshot."""
    return model.config.burn_in + model.config.output.crm_reference_month


def crm_snapshot(model: BankModel) -> None:
    """Take the CRM extract's snapshot if this is its month (called at the end of each month and
    when the model is built); the extract is filled with outcomes at the end of the run."""
    if model.config.output.crm_extract and model.month == crm_reference(model):
        model.crm = CrmSnapshot(model)  # type: ignore[assignment]  # BankModel.crm: typed None


def crm_extract(model: BankModel) -> pd.DataFrame | None:
    """One row per customer active at the reference month (``output.crm_reference_month``
    measured months after burn-in), attributes as of then, and whether, when (months after the
    reference) and why they left within ``output.crm_horizon_months``; None when switched off.

    ``observed_months`` is the follow-up the run allows (less than the horizon when the run ends
    first); ``churned`` counts exits within it. ``clv``: the customer's lifetime value at the
    reference month (CNY per real customer, :func:`sim.clv.clv`). ``treated``:
    a campaign contacted the customer after the reference month, within the follow-up (the
    ``contacted`` column: its last contact). Weight rows by ``weight`` for real customers.
    """
    snap = getattr(model, "crm", None)
    if snap is None:
        return None
    s, t0, cfg = snap.columns, snap.month, model.config
    observed = min(cfg.output.crm_horizon_months, cfg.burn_in + cfg.months - t0)
    everyone = model.customers.everyone()
    at = np.searchsorted(everyone["id"], s["id"])  # ids ascend in both
    left = everyone["left"][at]
    churned = (left > t0) & (left <= t0 + observed)
    contacted = everyone["contacted"][at]
    return pd.DataFrame(
        {
            "customer_id": s["id"],
            "customer_key": s["key"],
            "weight": s["weight"],
            "reference_month": np.full(len(at), measured(model, t0), np.int32),
            "segment": pd.Categorical.from_codes(s["segment"], model.segment_names),
            "tier": pd.Categorical.from_codes(s["tier"], TIERS),
            "age": s["age"].astype(np.float64).round(1),
            "tenure_months": t0 - s["joined"],
            "products": s["products"],
            "aum": s["aum"].round(2),
            "engagement": s["engagement"],
            "engaged": is_engaged(s["engagement"], cfg.behaviour),
            "months_since_use": t0 - s["last_used"],
            "complaints": s["complaints"],
            "has_manager": s["manager"] >= 0,
            "manager_desk": pd.Series(s["manager"]).where(s["manager"] >= 0).astype("Int32"),
            "satisfaction": s["satisfaction"],
            "digital": s["digital"],
            "branch": s["branch"],
            "channel": pd.Categorical.from_codes(s["channel"], CHANNELS),
            "clv": s["clv"],
            "observed_months": np.full(len(at), observed, np.int32),
            "churned": churned,
            "months_to_exit": pd.Series(left - t0).where(churned).astype("Int32"),
            "exit_reason": pd.Categorical.from_codes(
                np.where(churned, everyone["exit_reason"][at] - 1, -1), EXIT_REASONS[1:]
            ),
            "treated": (contacted > t0) & (contacted <= t0 + observed),
        }
    )


def branches(model: BankModel) -> pd.DataFrame:
    """One row per branch ever open: site (km), the measured months it opened and closed (NA for
    the opening branches and for those still open)."""
    return pd.DataFrame(
        {
            "branch": b.index,
            "label": b.label,
            "x": b.x,
            "y": b.y,
            "opened_month": measured(model, b.opened) if b.opened else pd.NA,
            "closed_month": measured(model, b.closed) if b.closed else pd.NA,
        }
        for b in model.branch_list()
    ).astype({"opened_month": "Int32", "closed_month": "Int32"})
