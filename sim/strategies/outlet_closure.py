"""Outlet closure and relocation (playbook item 1: 调整物理网点布局).

In measured month ``month`` the bank closes branches, chosen by id (``branches``) or by rule
(``count`` branches with the lowest annual profit, from its customers' real weighted revenue net
of credit losses less branch cost, or the fewest visits), and can open one new branch
(``open_new``) where it serves the most uncovered real customers (those farther than ``far_km``
from every open branch, within ``far_km`` of the site), at least ``gap_km`` from the branches it
just closed. Customers and desks move to the nearest open branch (``model.close_branches``), and
``staff_moved`` of the counter staff move with them (capacity and its share of cost, split by the
visits each receiving branch takes over); the rest of the closed branches' cost is saved. When
less than all the staff move, the receiving branches get busier: utilisation, waits and their own
customers' service quality worsen.

What a closure loses depends on the local situation. Each affected customer's risk (0-1) is their
branch dependence (low digital affinity, old age) x the weight of their extra travel to the new
home branch x the local rival presence (``rival_floor`` with no rival branch nearby, rising to 1
with one at the door; ``rival_branches`` rival sites are drawn once per city at homes, by real
customers, from the ``rival_sites`` stream). At the closure, a customer moves ``flight_share`` of
their AUM out with probability ``deposit_flight`` x risk (all or nothing per customer, so closures
with many exposed, wealthy customers near a rival lose most of their deposits and the rest lose
less), and gets a churn shock (log-hazard ``shock`` x risk, halving every
``behaviour.shock_half_life`` months; a pre-notice softens it).

Affected customers then adapt over months (column ``adapt``: 1 adapting, 2 settled, 3 went
digital): each month an adapting customer resolves with probability 1 - exp(-1 /
``adapt_months``); with probability 1 - dependence they go digital (their ``digital`` affinity
rises just enough that the lost convenience and travel effort are made up), otherwise they settle
at the receiving branch (the experience the extra travel cost them is given back as a perk each
month). While adapting they feel the longer trip in full and leave more often, so the excess
attrition fades over about two years. The adaptation runs on after ``end``: a closure is lasting.
Cost, once, in the closure month: per closed branch, per new branch, and notice letters and calls
per affected real customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim import behaviour, geography
from sim.config import MAX_CNY, MAX_MONTHS
from sim.mechanisms import books
from sim.params import ANY_LENGTH, ConfigError, param
from sim.strategies.base import Strategy, StrategyConfig, check_branch_ids, register

if TYPE_CHECKING:
    from sim.config import Config as ModelConfig
    from sim.model import BankModel

RULES = ("lowest_profit", "lowest_visits")
OLD_FROM, OLD_TO = 40.0, 70.0  # years: the age part of branch dependence rises from 0 to 1
ADAPTING, SETTLED, DIGITAL = 1, 2, 3  # values of the ``adapt`` column


@dataclass
class OutletClosureConfig(StrategyConfig):
    branches: list[int] | None = param(
        None,
        "indices of the branches to close (null or empty: choose by rule and count)",
        "scenario choice",
        0,
        length=ANY_LENGTH,
    )
    rule: str = param(
        "lowest_profit",
        "which branches to close when no ids are given: lowest annual profit (revenue of their"
        " customers net of expected credit losses, less branch cost) or fewest visits",
        "scenario choice",
        choices=RULES,
    )
    count: int = param(
        2,
        "branches closed by the rule (0: none, e.g. a sweep's reference point)",
        "scenario choice; two of the default twelve",
        0,
        10_000,
    )
    month: int = param(
        1, "measured month in which the branches close", "scenario choice", 1, MAX_MONTHS
    )
    open_new: bool = param(
        False,
        "open one branch where it serves the most uncovered real customers",
        "scenario choice (relocation)",
    )
    site_cell_km: float = param(
        1.0,
        "km between the candidate sites (a grid) searched for the new branch",
        "synthetic; a block or two",
        0.1,
        100.0,
    )
    far_km: float = param(
        5.0,
        "km from every open branch beyond which a customer counts as uncovered; also the reach"
        " of the new branch when counting whom it serves",
        "bank.distance_km default: convenience has fallen to 1/e",
        0.1,
        1_000.0,
    )
    gap_km: float = param(
        3.0,
        "smallest distance, km, between the new branch and the branches closed with it",
        "scenario choice: a relocation goes to another neighbourhood, not next door",
        0.0,
        1_000.0,
    )
    staff_moved: float = param(
        0.5,
        "share of a closed branch's counter capacity (and its staff cost) moved to the branches"
        " that take over its customers, split by the visits they take over",
        "synthetic: consolidations redeploy part of the closed outlets' staff and save the rest;"
        " 1 keeps the receiving branches' utilisation about unchanged",
        0.0,
        1.0,
    )
    staff_cost_share: float = param(
        0.5,
        "share of a branch's running cost that is counter staff (moves with them)",
        "staff are about half of a Chinese bank's operating expenses",
        0.0,
        1.0,
    )
    shock: float = param(
        0.1,
        "log-hazard added at the closure for a fully exposed customer (risk 1: fully"
        " branch-dependent, far more travel, a rival branch at the door)",
        "Bain 2016: affected customers switch ~14% more in the next year; most of it comes from"
        " the model's own loss of convenience while customers adapt, this adds a little",
        0.0,
        10.0,
    )
    age_weight: float = param(
        0.3,
        "weight of age (0 below 40 to 1 above 70) against low digital affinity in dependence",
        "synthetic; older and less digital customers rely on branches",
        0.0,
        1.0,
    )
    travel_km: float = param(
        5.0,
        "km of extra travel at which the distance part reaches 1 - 1/e of its full size",
        "bank.distance_km default (distance decay of branch use)",
        0.01,
        1_000.0,
    )
    near_share: float = param(
        0.2,
        "share of the shock and deposit flight kept when travel does not increase",
        "synthetic; a closure breaks habits and ties to staff even next door",
        0.0,
        1.0,
    )
    rival_branches: int = param(
        24,
        "rival bank branches in the city, each at a home drawn by real customers (the local"
        " rival presence a closure meets)",
        "synthetic; rival banks together have about twice the bank's branches",
        0,
        10_000,
    )
    rival_km: float = param(
        1.5,
        "km from the closed branch to the nearest rival branch at which the rival's pull on"
        " its customers falls to 1/e (a rival next door keeps their old trip)",
        "synthetic; a rival branch within a short walk or drive is a ready alternative",
        0.01,
        1_000.0,
    )
    rival_floor: float = param(
        0.05,
        "share of a customer's closure exposure kept with no rival branch nearby",
        "synthetic; digital rivals and distant branches still attract some",
        0.0,
        1.0,
    )
    deposit_flight: float = param(
        6.0,
        "probability, per unit of exposure ((1 - digital) x travel weight x rival weight), that"
        " an affected customer moves their deposits out at once (capped at 1)",
        "FMCG 2012: about a fifth of consolidations lose over half of the moved deposits; with"
        " the defaults about that share of closures do, the median loses about a quarter",
        0.0,
        100.0,
    )
    flight_share: float = param(
        0.9,
        "share of AUM a customer who moves their deposits takes out (the rest stays with an"
        " account kept for payments)",
        "synthetic",
        0.0,
        1.0,
    )
    adapt_months: float = param(
        12.0,
        "mean months an affected customer takes to settle at the new branch or go digital",
        "DESIGN.md after Bain 2016: elevated attrition lasts about two years (with 12 months,"
        " 86% have adapted after 24)",
        0.1,
        600.0,
    )
    pre_notice: bool = param(
        False, "notify affected customers before the closure", "scenario choice"
    )
    notice_cut: float = param(
        0.3,
        "share of the closure shock avoided with a pre-notice",
        "synthetic; early, explained closures lose fewer customers",
        0.0,
        1.0,
    )
    closure_cost: float = param(
        2_000_000.0,
        "CNY per closed branch, once (lease exit, write-off, redeployment)",
        "synthetic; about half a year of a branch's running cost",
        0.0,
        MAX_CNY,
    )
    opening_cost: float = param(
        3_000_000.0,
        "CNY per new branch, once (fit-out, equipment, launch)",
        "synthetic; about a year of a branch's running cost",
        0.0,
        MAX_CNY,
    )
    notice_cost: float = param(
        30.0,
        "CNY per affected real customer for a pre-notice (letters, calls)",
        "synthetic",
        0.0,
        MAX_CNY,
    )


def branch_profit(branch: np.ndarray, lines: dict, branch_cost: np.ndarray) -> np.ndarray:
    """Annual profit of each branch (CNY): what its customers earn the bank (their
    ``books.customer_lines``: deposit margin, wealth fees, loan interest net of credit losses,
    payment income) at this month's rate, less its running cost ``branch_cost`` (one value per
    branch, 0 for closed ones)."""
    n = len(branch_cost)
    earn = 12.0 * books.customer_profit(lines)
    return np.bincount(branch, weights=earn, minlength=n)[:n] - np.asarray(branch_cost, np.float64)


def dependence(digital: np.ndarray, age: np.ndarray, age_weight: float) -> np.ndarray:
    """Branch dependence 0-1: low digital affinity, and (with ``age_weight``) old age."""
    old = np.clip((age - OLD_FROM) / (OLD_TO - OLD_FROM), 0.0, 1.0)
    return (1.0 - age_weight) * (1.0 - digital) + age_weight * old


def travel_weight(extra_km: np.ndarray, travel_km: float, near_share: float) -> np.ndarray:
    """0-1 weight of the extra travel: ``near_share`` with none, towards 1 with much more."""
    grow = -np.expm1(-np.maximum(extra_km, 0.0) / travel_km)
    return near_share + (1.0 - near_share) * grow


def rival_weight(rival_km: np.ndarray, scale_km: float, floor: float) -> np.ndarray:
    """0-1 weight of the local rival presence: ``floor`` with none near, 1 with one at the door."""
    return floor + (1.0 - floor) * np.exp(-np.asarray(rival_km, np.float64) / scale_km)


def digital_to_restore(digital, before_km, now_km, distance_km: float) -> np.ndarray:
    """Digital affinity at which a customer whose branch moved from ``before_km`` to ``now_km``
    has the convenience and travel effort of before: (1 - d') (1 - near_now) = (1 - d) (1 -
    near_before); never below ``digital``."""
    near0 = behaviour.convenience(before_km, distance_km)
    near1 = behaviour.convenience(now_km, distance_km)
    restored = 1.0 - (1.0 - digital) * (1.0 - near0) / np.maximum(1.0 - near1, 1e-6)
    return np.clip(restored, digital, 1.0).astype(np.float32)


def travel_loss(digital, before_km, now_km, distance_km: float, weights, digital_quality):
    """Experience (0-1 units) the longer trip costs a customer: the convenience and effort
    components at ``now_km`` against ``before_km`` (0 if the trip is no longer)."""
    near0 = behaviour.convenience(before_km, distance_km)
    near1 = behaviour.convenience(now_km, distance_km)
    convenience = (1.0 - digital) * (near0 - near1)
    effort = behaviour.effort(digital, 0.0, near1, digital_quality) - behaviour.effort(
        digital, 0.0, near0, digital_quality
    )
    loss = weights.get("convenience", 0.0) * convenience + weights.get("effort", 0.0) * effort
    return np.maximum(loss, 0.0).astype(np.float32)


@register
class OutletClosure(Strategy[OutletClosureConfig]):
    """Outlet closure and relocation: close branches, rehome customers, who then adapt."""

    name = "outlet_closure"
    title = "Outlet closure"
    Config = OutletClosureConfig
    cost_lines = ("closure", "opening", "notice")

    def __init__(self, model: BankModel, config: OutletClosureConfig):
        super().__init__(model, config)
        self.closed: list[int] = []  # branches this strategy closed
        self.opened: int | None = None  # index of the branch it opened
        self.rivals = np.zeros((0, 2), np.float32)  # rival branch sites, km
        # per affected customer (whose branch closed), in the order of their keys at closure:
        self.affected_keys = np.zeros(0, np.uint64)
        self.from_branch = np.zeros(0, np.int32)  # the branch that closed under them
        self.extra_km = np.zeros(0, np.float32)  # their extra travel, km
        self.site_rival_km: dict[int, float] = {}  # closed branch -> km to the nearest rival
        self.rival_km = np.zeros(0, np.float32)  # km from their closed branch to a rival
        self.risk = np.zeros(0, np.float64)  # their closure risk, 0-1
        self.shocks = np.zeros(0, np.float32)  # their closure shock, log-hazard
        self.flight = np.zeros(0, np.float64)  # their share of AUM moved out

    def setup(self) -> None:
        """Site the rival branches once, from the opening book's homes (the same in every arm)."""
        c = self.model.customers
        homes = np.column_stack([c.x, c.y])
        rng = self.model.streams.generator("rival_sites")
        self.rivals = geography.rival_sites(rng, homes, c.weight, self.config.rival_branches)

    def active(self, month: int) -> bool:
        """Acts from ``start`` to ``end``; once branches have closed, their customers adapt on."""
        return super().active(month) or bool(self.closed)

    @classmethod
    def check(cls, config: OutletClosureConfig, scenario: ModelConfig) -> None:
        super().check(config, scenario)
        key, n = f"strategy.{cls.name}", scenario.bank.branches
        ids = list(config.branches or [])
        if ids:
            check_branch_ids(f"{key}.branches", ids, n)
            if len(ids) >= n:
                raise ConfigError(
                    f"{key}.branches={ids} would close all {n} branches; allowed at most"
                    f" {n - 1} (one must stay open)"
                )
        elif config.count >= n:
            raise ConfigError(
                f"{key}.count={config.count} would close all {n} branches; allowed 1 to"
                f" {n - 1} (one must stay open)"
            )
        last = scenario.months if config.end is None else min(config.end, scenario.months)
        if not config.start < config.month <= last:
            raise ConfigError(
                f"{key}.month={config.month} is outside the months the strategy acts;"
                f" allowed {config.start + 1} to {last} (start={config.start}, end={config.end},"
                f" months={scenario.months})"
            )

    def choose(self) -> list[int]:
        """The open branches to close: the configured ids, or ``count`` by the rule."""
        cfg, model = self.config, self.model
        branches = model.branch_list()
        is_open = np.array([b.is_open for b in branches])
        if cfg.branches:
            return [i for i in cfg.branches if is_open[i]]
        if cfg.rule == "lowest_visits":
            score = model.branch_visits()
        else:
            cost = np.array([b.cost if b.is_open else 0.0 for b in branches])
            score = branch_profit(model.customers.branch, books.lines_now(model), cost)
        candidates = np.flatnonzero(is_open)
        order = candidates[np.argsort(score[candidates], kind="stable")]
        return [int(i) for i in order[: min(cfg.count, len(candidates) - 1)]]

    def move_staff(self, closed: list[int], gained: np.ndarray) -> None:
        """Move ``staff_moved`` of the closed branches' capacity and staff cost to the open
        branches, in proportion to the visits each gained (before any new branch opens)."""
        branches = self.model.branch_list()
        gained = np.where([b.is_open for b in branches], np.maximum(gained, 0.0), 0.0)
        if gained.sum() <= 0.0:
            return
        share = self.config.staff_moved * gained / gained.sum()
        capacity = sum(branches[i].capacity for i in closed)
        cost = self.config.staff_cost_share * sum(branches[i].cost for i in closed)
        for b in branches:
            if share[b.index] > 0.0:
                b.capacity += share[b.index] * capacity
                b.cost += share[b.index] * cost

    def before_customers(self, month: int) -> None:
        if month - self.model.config.burn_in == self.config.month and not self.closed:
            self.close(month)
        if self.closed:
            self.adapt(month)
            self.relieve()

    def close(self, month: int) -> None:
        """Close the chosen branches (and open a new one): customers, desks and staff move; the
        affected customers' risk sets their deposit flight and shock; they start adapting."""
        cfg, model, c = self.config, self.model, self.model.customers
        closing = self.choose()
        sites = np.array([(b.x, b.y) for b in model.branch_list()], np.float64)
        before, home, visits = c.distance.copy(), c.branch.copy(), model.branch_visits()
        rows = model.close_branches(closing)
        self.closed = closing
        self.move_staff(closing, model.branch_visits() - visits)
        if cfg.open_new:
            uncovered = c.active & (c.distance >= cfg.far_km)
            x, y = geography.best_site(
                np.column_stack([c.x, c.y])[uncovered],
                c.weight[uncovered],
                model.config.bank.city_km,
                cfg.site_cell_km,
                cfg.far_km,
                sites[closing],
                cfg.gap_km,
            )
            self.opened = model.open_branch(x, y).index
            self.book("opening", cfg.opening_cost)
        self.book("closure", len(closing) * cfg.closure_cost)

        extra = c.distance[rows] - before[rows]
        site_km = np.zeros(len(sites), np.float32)
        site_km[closing] = geography.nearest_km(self.rivals, sites[closing])
        self.site_rival_km = {b: float(site_km[b]) for b in closing}
        rival_km = site_km[home[rows]]
        local = travel_weight(extra, cfg.travel_km, cfg.near_share) * rival_weight(
            rival_km, cfg.rival_km, cfg.rival_floor
        )
        risk = dependence(c.digital[rows], c.age[rows], cfg.age_weight) * local
        shock = (cfg.shock * risk * (1.0 - cfg.notice_cut * cfg.pre_notice)).astype(np.float32)
        exposure = (1.0 - c.digital[rows]) * local
        u = self.uniform("flight", month, c.key[rows])
        flight = cfg.flight_share * (u < cfg.deposit_flight * exposure)
        c.shock[rows] += shock
        c.aum[rows] *= 1.0 - flight
        c.adapt[rows] = ADAPTING
        c.closed_at[rows] = month
        c.before_km[rows] = before[rows]
        if cfg.pre_notice:
            self.book("notice", c.weight[rows] * cfg.notice_cost, rows)
        self.affected_keys = c.key[rows].copy()
        self.from_branch = home[rows]
        self.extra_km, self.rival_km, self.risk = extra, rival_km, risk
        self.shocks, self.flight = shock, flight

    def adapt(self, month: int) -> None:
        """Adapting customers resolve at rate 1 / ``adapt_months``: the less branch-dependent go
        digital (just enough to make up the longer trip), the rest settle at the new branch."""
        cfg, model, c = self.config, self.model, self.model.customers
        rows = np.flatnonzero(c.active & (c.adapt == ADAPTING) & (c.closed_at < month))
        if not len(rows):
            return
        u = self.uniform("adapt", month, c.key[rows])
        rows = rows[u < -np.expm1(-1.0 / cfg.adapt_months)]
        dep = dependence(c.digital[rows], c.age[rows], cfg.age_weight)
        u = self.uniform("route", month, c.key[rows])
        digital, settle = rows[u >= dep], rows[u < dep]
        c.digital[digital] = digital_to_restore(
            c.digital[digital],
            c.before_km[digital],
            c.distance[digital],
            model.config.bank.distance_km,
        )
        c.adapt[digital] = DIGITAL
        c.adapt[settle] = SETTLED

    def relieve(self) -> None:
        """Settled customers no longer feel the longer trip: this month's perk gives back the
        experience it costs them."""
        model, c = self.model, self.model.customers
        rows = np.flatnonzero(c.active & (c.adapt == SETTLED))
        if not len(rows):
            return
        c.perks[rows] += travel_loss(
            c.digital[rows],
            c.before_km[rows],
            c.distance[rows],
            model.config.bank.distance_km,
            model.config.behaviour.weights,
            min(model.digital_quality, 1.0),
        )
