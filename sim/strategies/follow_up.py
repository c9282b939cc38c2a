"""Risk-targeted follow-up and after-sales calls by client managers (跟踪服务和售后服务).

Every month it is active, each manager sets aside ``share`` of its contact budget
(``Manager.budget``; the regular contacts of that month fall accordingly) plus whatever its budget
left idle last month, and spends it on follow-up calls to its managed customers of the followed
``tiers``, ``contacts_per_call`` real contacts each. Who is called is ranked by a risk score the
bank computes from its own data (``targeting=risk``): months since the customer last transacted
(``last_used``), a complaint last month (after-sales follow-up), a product dropped last month, a
balance that fell by ``balance_drop`` or more last month, and a manager change in the last year;
customers called in the last ``recall_months`` wait their turn; ties, and everyone under
``targeting=random``, are ordered by a draw keyed by customer (own
stream), so both targetings call the same number of customers with the same contacts. A customer
called gets an experience perk of ``lift`` x the manager's skill that month, and a save effect: its
switching log-hazard is lowered by ``save`` x the manager's skill, fading with
``behaviour.shock_half_life`` (topped up, not stacked, by further calls). Cost: per contact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim import behaviour
from sim.config import MAX_CNY, TIERS
from sim.customers import masked_sum
from sim.params import ANY_LENGTH, ConfigError, param
from sim.strategies.base import Strategy, StrategyConfig, register

if TYPE_CHECKING:
    from sim.config import Config as ModelConfig
    from sim.customers import Customers
    from sim.model import BankModel

SIGNALS = ("inactive", "complaint", "product_drop", "balance_drop", "manager_change")


@dataclass
class FollowUpConfig(StrategyConfig):
    share: float = param(
        0.1,
        "share of each manager's monthly contact budget set aside for follow-up calls (idle "
        "contacts from last month are added)",
        "synthetic; playbook: follow-up by tier; about one call a day of ~12 contacts a day",
        0.0,
        1.0,
    )
    targeting: str = param(
        "risk",
        "who is called first: risk (highest risk score) or random",
        "BCG 2017: attrition alerts from falling activity and service problems; random for"
        " comparison",
        choices=("risk", "random"),
    )
    tiers: list[str] = param(
        ["mid", "high", "private"],
        "tiers whose managed customers can be called",
        "playbook: the mid- and high-end customers client managers keep",
        choices=TIERS,
        length=ANY_LENGTH,
    )
    contacts_per_call: float = param(
        1.0, "real contacts per follow-up call", "one call or visit", 0.1, 10.0
    )
    risk_weights: dict[str, float] = param(
        {
            "inactive": 1.0,
            "complaint": 1.0,
            "product_drop": 0.8,
            "balance_drop": 0.8,
            "manager_change": 0.6,
        },
        "signal -> weight in the risk score (inactive: x months idle / inactive_months, at most 1)",
        "synthetic weights; signals from BCG 2017 (falling activity, service problems) and"
        " J.D. Power 2013 (account-manager change lowers loyalty)",
        0.0,
        10.0,
    )
    inactive_months: float = param(
        6.0,
        "months without a transaction at which inactivity counts fully",
        "synthetic",
        1.0,
        120.0,
    )
    balance_drop: float = param(
        0.1,
        "fall of AUM in a month that flags a customer",
        "synthetic; ~2 sd of monthly noise",
        0.0,
        1.0,
    )
    recall_months: int = param(
        6,
        "months before a customer called can be called again",
        "synthetic; spreads calls over more customers at risk",
        1,
        60,
    )
    lift: float = param(
        0.1,
        "experience added in the month of a call, x the manager's skill",
        "synthetic; below a month of the manager's full attention (weight 0.15 x span 0.5)",
        0.0,
        0.5,
    )
    save: float = param(
        0.8,
        "switching log-hazard removed by a call, x the manager's skill (fades)",
        "range only: TARP (1986) complaint studies, most complainers whose problem is resolved"
        " stay; Ascarza 2018 (JMR) field experiments, proactive retention outreach cuts churn of"
        " the customers it reaches by a few points, most where the uplift is highest",
        0.0,
        5.0,
    )
    cost_per_contact: float = param(
        20.0,
        "CNY per follow-up contact (calls, messages, small after-sales gifts)",
        "synthetic; the manager's time is in staff cost already",
        0.0,
        MAX_CNY,
    )


@register
class FollowUp(Strategy[FollowUpConfig]):
    """Risk-targeted follow-up from a share of the managers' contact budgets: perks, saves."""

    name = "follow_up"
    title = "Follow-up service"
    Config = FollowUpConfig
    needs_managers = True
    cost_lines = ("contacts",)

    def __init__(self, model: BankModel, config: FollowUpConfig):
        super().__init__(model, config)
        self.followed = np.array(sorted({TIERS.index(t) for t in config.tiers}), np.int64)
        self.watch = RiskWatch(config.risk_weights, config.inactive_months, config.balance_drop)
        self.contacts = 0.0  # real follow-up contacts made this month
        self.reached = 0.0  # real customers called this month
        self.granted = np.zeros(0)  # contacts each desk set aside this month
        self.last_called = (np.zeros(0, np.uint64), np.zeros(0, np.int64))  # keys, months

    @classmethod
    def check(cls, config: FollowUpConfig, scenario: ModelConfig) -> None:
        super().check(config, scenario)
        managed = scenario.bank.managed_tier
        if not config.tiers:
            raise ConfigError(
                f"strategy.follow_up.tiers=[] follows up no one; choose from"
                f" {list(TIERS[TIERS.index(managed) :])}"
            )
        below = [t for t in config.tiers if TIERS.index(t) < TIERS.index(managed)]
        if below:
            raise ConfigError(
                f"strategy.follow_up.tiers={list(config.tiers)}: {below} below "
                f"bank.managed_tier={managed!r} have no client manager to follow them up; "
                f"choose from {list(TIERS[TIERS.index(managed) :])}"
            )
        unknown = set(config.risk_weights) - set(SIGNALS)
        if unknown:
            raise ConfigError(
                f"strategy.follow_up.risk_weights.{sorted(unknown)[0]}: unknown signal; "
                f"allowed {list(SIGNALS)}"
            )

    def risk(self, month: int) -> np.ndarray:
        """Each customer's risk score from the bank's own data (0 = no warning sign)."""
        return self.watch.score(self.model, month)

    def before_customers(self, month: int) -> None:
        cfg, model, c = self.config, self.model, self.model.customers
        self.watch.before(c)
        self.contacts, self.reached = 0.0, 0.0
        desks = model.desk_list()
        self.granted = np.zeros(len(desks))
        if not desks:
            return
        keys, months = self.last_called
        recent = keys[month - months < cfg.recall_months]
        eligible = c.active & (c.manager >= 0) & np.isin(c.tier, self.followed)
        eligible &= ~np.isin(c.key, recent)
        want = np.where(eligible, c.weight * np.float32(cfg.contacts_per_call), 0.0)
        desk = np.where(eligible, c.manager, 0)
        demand = np.bincount(desk, weights=want, minlength=len(desks))
        offer = np.array([cfg.share * m.budget.total + m.budget.idle for m in desks])
        available = np.minimum(np.minimum(offer, [m.budget.left for m in desks]), demand)
        u = self.uniform("order", month, c.key)
        risk = self.risk(month) if cfg.targeting == "risk" else np.zeros(c.n)
        called = first_in_line(desk, risk, u, available, want)
        received = np.where(called, want, 0.0)
        used = np.bincount(desk, weights=received, minlength=len(desks))
        for m, contacts in zip(desks, used, strict=True):
            self.granted[m.desk] = m.budget.draw("follow_up", contacts)
        skill = np.array([m.skill for m in desks], np.float32)[desk]
        c.perks += np.where(called, np.float32(cfg.lift) * skill, np.float32(0))
        save = np.where(called, np.float32(cfg.save) * skill, np.float32(0))
        c.shock -= np.maximum(save + np.minimum(c.shock, 0), 0)  # top up, do not stack
        self.reached = masked_sum(c.weight, called)
        keep = month - months < cfg.recall_months
        self.last_called = (
            np.concatenate([keys[keep], c.key[called]]),
            np.concatenate([months[keep], np.full(int(called.sum()), month)]),
        )
        self.contacts = float(received.sum())
        self.book("contacts", received * cfg.cost_per_contact, slice(None))

    def after_customers(self, month: int) -> None:
        self.watch.after(self.model.customers)


class RiskWatch:
    """The bank's risk rule: a score from its own data, the weighted warning signs of
    ``SIGNALS`` (``weights``): months since the customer last transacted (full at
    ``inactive_months``), a complaint, a product dropped and a balance fallen by ``balance_drop``
    or more in the month watched, and a manager change within ``behaviour.manager_change_months``.
    Watch a month with :meth:`before` (before the customer step) and :meth:`after` (after it);
    :meth:`score` then flags that month's events. Shared by ``follow_up`` and ``campaign``."""

    def __init__(self, weights: dict[str, float], inactive_months: float, balance_drop: float):
        self.weights, self.inactive_months = weights, inactive_months
        self.balance_drop = balance_drop
        # (rows, key, products, complaints, aum) before the customer step
        self.snapshot: tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self.flags: dict[str, np.ndarray] = {}  # signal -> keys flagged in the month watched

    def before(self, c: Customers) -> None:
        """Note the customers' state before the customer step of the month watched."""
        self.snapshot = (c.n, c.key.copy(), c.products.copy(), c.complaints.copy(), c.aum.copy())

    def after(self, c: Customers) -> None:
        """Flag the events of the month watched (after its customer step)."""
        assert self.snapshot is not None  # taken before the customer step of this month
        rows, key, products, complaints, aum = self.snapshot
        active = c.active[:rows]
        events = {
            "complaint": c.complaints[:rows] > complaints,
            "product_drop": c.products[:rows] < products,
            "balance_drop": c.aum[:rows] < (1.0 - self.balance_drop) * aum,
        }
        self.flags = {name: key[e & active] for name, e in events.items()}

    def score(self, model: BankModel, month: int) -> np.ndarray:
        """Each customer's risk score in ``month`` (0 = no warning sign)."""
        c, w = model.customers, self.weights
        idle = np.clip((month - 1 - c.last_used) / self.inactive_months, 0.0, 1.0)
        score = w.get("inactive", 0.0) * idle
        for signal in ("complaint", "product_drop", "balance_drop"):
            if signal in self.flags and w.get(signal, 0.0):
                score += w[signal] * np.isin(c.key, self.flags[signal])
        changed = month - c.manager_change < model.config.behaviour.manager_change_months
        return score + w.get("manager_change", 0.0) * changed


def first_in_line(cell, risk, u, available, want) -> np.ndarray:
    """Who is called: in each cell (desk), the customers who want a call (``want`` > 0, real
    contacts), highest ``risk`` first, then lowest draw ``u``, while the cell's ``available``
    contacts cover them all (never more)."""
    idx = np.flatnonzero(want > 0)
    order = idx[np.lexsort((u[idx], -risk[idx], cell[idx]))]
    served = behaviour.serve_in_order(cell[order], want[order], available, whole=True)
    called = np.zeros(len(cell), bool)
    called[order[served > 0]] = True
    return called
