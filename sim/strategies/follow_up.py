"""Follow-up and after-sales service by client managers (playbook item 6: 跟踪服务和售后服务).

Every month it is active, managed customers of the followed ``tiers`` want ``contacts_per_month``
extra follow-up contacts, and managed customers who bought a product or complained last month want
``after_sales_contacts`` after-sales contacts. Contacts come only from each desk's spare capacity
(``model.spare_contacts``: contacts left after last month's regular contact needs), after-sales
first, then the followed tiers richest first; where a desk cannot serve all, customers are reached
at random (own stream, keyed by customer), so a desk with no spare capacity follows up nobody.
A customer reached gets a perk of ``lift`` x the manager's skill for one contact, saturating with
more contacts. Cost: per follow-up contact (the manager's time is spare capacity already paid for).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.config import TIERS, ConfigError, param
from sim.customers import masked_sum
from sim.strategies.base import Strategy, StrategyConfig, register

SATURATION = 1.0 - math.exp(-1.0)  # perk of n contacts: lift x skill x (1 - e^-n) / SATURATION


@dataclass
class FollowUpConfig(StrategyConfig):
    contacts_per_month: float = param(
        1.0,
        "follow-up contacts wanted per customer of a followed tier per month",
        "synthetic; a monthly call to affluent customers",
        0.0,
        10.0,
    )
    tiers: list[str] = param(
        ["high", "private"],
        "tiers whose managed customers get regular follow-up contacts",
        "playbook: contact frequency by tier; the affluent first",
        choices=TIERS,
    )
    after_sales_contacts: float = param(
        1.0,
        "follow-up contacts in the month after a managed customer buys a product or complains "
        "(0: no after-sales follow-up)",
        "synthetic; playbook: after-sales service",
        0.0,
        10.0,
    )
    lift: float = param(
        0.04,
        "experience added by one follow-up contact, x the manager's skill "
        "(more contacts saturate at 1.6x)",
        "synthetic; below the attention a manager gives (weight 0.15)",
        0.0,
        0.5,
    )
    cost_per_contact: float = param(
        20.0,
        "CNY per follow-up contact (calls, messages, small after-sales gifts)",
        "synthetic; the manager's time is spare capacity already in staff cost",
        0.0,
    )


@register
class FollowUp(Strategy):
    """Follow-up by tier and after sales, from spare manager contacts: perks, cost per contact."""

    name = "follow_up"
    Config = FollowUpConfig
    cost_lines = ("contacts",)

    def __init__(self, model, config: FollowUpConfig):
        super().__init__(model, config)
        # followed tiers, richest first: priority classes 1, 2, ... (0 is after-sales)
        followed = sorted({TIERS.index(t) for t in config.tiers}, reverse=True)
        self.followed = np.array(followed, np.int64)
        self.tier_class = np.zeros(len(TIERS), np.int64)
        self.tier_class[self.followed] = np.arange(1, len(self.followed) + 1)
        self.snapshot = None  # (rows, products, complaints) before this month's customer step
        self.recent = (-1, np.zeros(0, np.uint64))  # (month, keys who bought or complained)
        self.contacts = 0.0  # real follow-up contacts made this month
        self.reached = 0.0  # real customers reached this month

    @classmethod
    def check(cls, config: FollowUpConfig, scenario) -> None:
        managed = scenario.bank.managed_tier
        below = [t for t in config.tiers if TIERS.index(t) < TIERS.index(managed)]
        if below:
            raise ConfigError(
                f"strategy.follow_up.tiers={list(config.tiers)}: {below} below "
                f"bank.managed_tier={managed!r} have no client manager to follow them up; "
                f"choose from {list(TIERS[TIERS.index(managed) :])}"
            )

    def before_customers(self, month: int) -> None:
        cfg, model, c = self.config, self.model, self.model.customers
        self.snapshot = (c.n, c.products.copy(), c.complaints.copy())
        self.contacts, self.reached = 0.0, 0.0
        desks = model.desk_list()
        if not desks:
            return
        managed = c.active & (c.manager >= 0)
        desk = np.where(managed, c.manager, 0)
        want_tier = np.zeros(c.n)  # contacts each simulated customer's real ones want
        if len(self.followed):
            want_tier[managed & np.isin(c.tier, self.followed)] = cfg.contacts_per_month
        want_after = np.zeros(c.n)
        month_of, keys = self.recent
        if month_of == month - 1 and len(keys):
            want_after[managed & np.isin(c.key, keys)] = cfg.after_sales_contacts
        want_tier *= c.weight
        want_after *= c.weight
        n_class = len(self.followed) + 1
        tier_cell = desk * n_class + self.tier_class[c.tier]
        demand = np.bincount(tier_cell, weights=want_tier, minlength=len(desks) * n_class)
        demand += np.bincount(desk * n_class, weights=want_after, minlength=len(desks) * n_class)
        share = served_share(demand.reshape(len(desks), n_class), model.spare_contacts)
        served = share.ravel() * demand  # contacts each (desk, class) can make
        u = model.streams.uniform(f"strategy:{self.name}:reach", month, c.key)
        after_cell = desk * n_class
        reached_tier = take_lowest(tier_cell, u, served, want_tier)
        reached_after = take_lowest(after_cell, u, served, want_after)
        received = want_tier * reached_tier + want_after * reached_after  # real contacts
        each = cfg.contacts_per_month * reached_tier + cfg.after_sales_contacts * reached_after
        skill = np.array([m.skill for m in desks])
        perk = cfg.lift * skill[desk] * -np.expm1(-each) / SATURATION
        c.perks += perk.astype(np.float32)
        self.reached = masked_sum(c.weight, received > 0)
        self.contacts = float(received.sum())
        self.book("contacts", received * cfg.cost_per_contact, slice(None))

    def after_customers(self, month: int) -> None:
        c = self.model.customers
        rows, products, complaints = self.snapshot
        event = (c.products[:rows] > products) | (c.complaints[:rows] > complaints)
        self.recent = (month, c.key[:rows][event & c.active[:rows]])


def take_lowest(cell, u, served, want) -> np.ndarray:
    """Who is reached: in each cell, the customers who want contacts (``want`` > 0, real
    contacts for the real customers a row stands for) with the lowest draws ``u``, while the
    cell's ``served`` contacts cover them all (never more)."""
    idx = np.flatnonzero(want > 0)
    order = idx[np.lexsort((u[idx], cell[idx]))]
    cells = cell[order]
    used = np.cumsum(want[order])
    start = np.searchsorted(cells, cells, side="left")
    before = np.where(start > 0, used[np.maximum(start - 1, 0)], 0.0)
    reached = np.zeros(len(cell), bool)
    reached[order[used - before <= served[cells] * (1 + 1e-9)]] = True
    return reached


def served_share(demand: np.ndarray, spare: np.ndarray) -> np.ndarray:
    """Share of each (desk, class) demand served from each desk's spare contacts, classes in
    priority order (column 0 first). Both in real contacts; no demand counts as served."""
    left = np.maximum(np.asarray(spare, np.float64), 0.0).copy()
    share = np.ones_like(demand)
    for k in range(demand.shape[1]):
        served = np.minimum(demand[:, k], left)
        wanted = demand[:, k]
        share[:, k] = np.divide(served, wanted, out=np.ones(len(left)), where=wanted > 0)
        left -= served
    return share
