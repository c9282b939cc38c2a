"""Outlet closure and relocation (playbook item 1: 调整物理网点布局).

In measured month ``month`` the bank closes branches, chosen by id (``branches``) or by rule
(``count`` branches with the lowest annual profit or the fewest visits), and can open one new
branch where most customers live far from the remaining ones (``open_new``). Customers and desks
move to the nearest open branch (``model.close_branches``), and so do the counter staff
(``staff_moved``: capacity and its share of cost go to the branches that take over the visits);
closed branches cost nothing from then on. The customers whose branch closed lose convenience
through the model's own distance and wait effects, get a churn shock (log-hazard in the ``shock``
column, halving every ``behaviour.shock_half_life`` months) and move part of their AUM out at once;
shock and outflow grow with branch dependence (low digital affinity, old age) and with the extra
travel to the new home branch; a pre-notice softens the shock. Cost, once, in the closure month:
per closed branch, per new branch, and notice letters and calls per affected customer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config import ConfigError, param
from sim.strategies.base import Strategy, StrategyConfig, check_branch_ids, register

RULES = ("lowest_profit", "lowest_visits")
OLD_FROM, OLD_TO = 40.0, 70.0  # years: the age part of branch dependence rises from 0 to 1


@dataclass
class OutletClosureConfig(StrategyConfig):
    branches: list[int] | None = param(
        None,
        "indices of the branches to close (null or empty: choose by rule and count)",
        "scenario choice",
        0,
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
    )
    month: int = param(1, "measured month in which the branches close", "scenario choice", 1, 1_200)
    open_new: bool = param(
        False,
        "open one branch where most customers live far from the remaining branches",
        "scenario choice (relocation)",
    )
    site_cell_km: float = param(
        3.0,
        "km, side of the grid cells searched for the new site",
        "synthetic; a neighbourhood a branch can serve",
        0.5,
        100.0,
    )
    far_km: float = param(
        5.0,
        "km from the home branch beyond which a customer counts as far when siting a new branch",
        "bank.distance_km default: convenience has fallen to 1/e",
        0.0,
        1_000.0,
    )
    staff_moved: float = param(
        1.0,
        "share of a closed branch's counter capacity (and its staff cost) moved to the branches"
        " that take over its customers, split by the visits they take over",
        "Chinese banks redeploy the staff of closed outlets rather than lay them off",
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
        "log-hazard added for a fully branch-dependent customer with far more travel",
        "Bain 2016: affected customers switch ~14% more; the model's own loss of convenience"
        " gives ~+14% at the defaults, this fading part adds ~2 points",
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
    deposit_flight: float = param(
        0.5,
        "share of AUM moved out at once by a fully branch-dependent customer with far more travel",
        "FMCG 2012: a fifth of consolidations lose over half of the moved deposits",
        0.0,
        1.0,
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
    )
    opening_cost: float = param(
        3_000_000.0,
        "CNY per new branch, once (fit-out, equipment, launch)",
        "synthetic; about a year of a branch's running cost",
        0.0,
    )
    notice_cost: float = param(
        30.0,
        "CNY per affected real customer for a pre-notice (letters, calls)",
        "synthetic",
        0.0,
    )


def branch_profit(
    branch: np.ndarray,
    weight: np.ndarray,
    tier: np.ndarray,
    aum: np.ndarray,
    loan: np.ndarray,
    branch_cost: np.ndarray,
    economics,
    wealth_share: np.ndarray,
) -> np.ndarray:
    """Annual profit of each branch (CNY): what its customers (``weight``: real customers per
    row, 0 for those who left) earn (deposit
    margin, wealth fees, loan interest net of expected credit losses, payment income) less its
    running cost ``branch_cost`` (one value per branch, 0 for closed ones)."""
    e = economics
    share = np.asarray(wealth_share, np.float64)[tier]
    loan_net = e.loan_margin - e.default_rate * e.loss_given_default
    earn = (
        e.deposit_margin * aum * (1.0 - share)
        + e.wealth_fee * aum * share
        + loan_net * loan
        + 12.0 * e.payment_income
    )
    n = len(branch_cost)
    revenue = np.bincount(branch, weights=earn * weight, minlength=n)[:n]
    return revenue - np.asarray(branch_cost, np.float64)


def dependence(digital: np.ndarray, age: np.ndarray, age_weight: float) -> np.ndarray:
    """Branch dependence 0-1: low digital affinity, and (with ``age_weight``) old age."""
    old = np.clip((age - OLD_FROM) / (OLD_TO - OLD_FROM), 0.0, 1.0)
    return (1.0 - age_weight) * (1.0 - digital) + age_weight * old


def travel_weight(extra_km: np.ndarray, travel_km: float, near_share: float) -> np.ndarray:
    """0-1 weight of the extra travel: ``near_share`` with none, towards 1 with much more."""
    grow = -np.expm1(-np.maximum(extra_km, 0.0) / travel_km)
    return near_share + (1.0 - near_share) * grow


def new_site(x, y, distance, active, city_km: float, cell_km: float, far_km: float):
    """Site (x, y) km of a new branch: in the grid cell (side ``cell_km``) with the most active
    customers living at least ``far_km`` from their home branch, at those customers' mean home.
    If nobody lives that far, the cell with the most total distance, at the distance-weighted
    mean home."""
    cells = int(np.ceil(city_km / cell_km))
    ix = np.clip((x / cell_km).astype(np.int64), 0, cells - 1)
    iy = np.clip((y / cell_km).astype(np.int64), 0, cells - 1)
    cell = ix * cells + iy
    far = active & (distance >= far_km)
    weight = far.astype(np.float64) if far.any() else distance * active
    score = np.bincount(cell, weights=weight, minlength=cells * cells)
    chosen = (cell == int(np.argmax(score))) & (weight > 0)
    w = weight[chosen]
    if w.sum() <= 0.0:  # nobody to serve: the city centre
        return city_km / 2.0, city_km / 2.0
    return float(np.dot(x[chosen], w) / w.sum()), float(np.dot(y[chosen], w) / w.sum())


@register
class OutletClosure(Strategy):
    """Outlet closure and relocation: close branches, rehome customers, a fading churn shock."""

    name = "outlet_closure"
    Config = OutletClosureConfig
    cost_lines = ("closure", "opening", "notice")

    def __init__(self, model, config):
        super().__init__(model, config)
        self.closed: list[int] = []  # branches this strategy closed
        self.opened: int | None = None  # index of the branch it opened
        self.affected_keys = np.zeros(0, np.uint64)  # keys of customers whose branch closed
        self.extra_km = np.zeros(0, np.float32)  # their extra travel, km
        self.shocks = np.zeros(0, np.float32)  # their closure shock, log-hazard
        self.flight = np.zeros(0, np.float64)  # their share of AUM moved out

    @classmethod
    def check(cls, config: OutletClosureConfig, scenario) -> None:
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
            c = model.customers
            cost = np.array([b.cost if b.is_open else 0.0 for b in branches])
            score = branch_profit(
                c.branch,
                c.weight * c.active,
                c.tier,
                c.aum,
                c.loan,
                cost,
                model.config.economics,
                model.wealth_share,
            )
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
        cfg, model = self.config, self.model
        if month - model.config.burn_in != cfg.month:
            return
        closing = self.choose()
        c = model.customers
        before, visits = c.distance.copy(), model.branch_visits()
        rows = model.close_branches(closing)
        self.closed = closing
        self.move_staff(closing, model.branch_visits() - visits)
        if cfg.open_new:
            x, y = new_site(
                c.x,
                c.y,
                c.distance,
                c.active,
                model.config.bank.city_km,
                cfg.site_cell_km,
                cfg.far_km,
            )
            self.opened = model.open_branch(x, y).index
            self.book("opening", cfg.opening_cost)
        self.book("closure", len(closing) * cfg.closure_cost)

        extra = c.distance[rows] - before[rows]
        weight = dependence(c.digital[rows], c.age[rows], cfg.age_weight) * travel_weight(
            extra, cfg.travel_km, cfg.near_share
        )
        shock = cfg.shock * weight * (1.0 - cfg.notice_cut * cfg.pre_notice)
        flight = cfg.deposit_flight * weight
        c.shock[rows] += shock.astype(np.float32)
        c.aum[rows] *= 1.0 - flight
        if cfg.pre_notice:
            self.book("notice", c.weight[rows] * cfg.notice_cost, rows)
        self.affected_keys = c.key[rows].copy()
        self.extra_km, self.shocks, self.flight = extra, shock.astype(np.float32), flight
