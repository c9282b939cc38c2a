"""Branch experience and on-site service managers (playbook item 2: 现场管理, 体验为中心).

At chosen branches (``branches`` by id, or the ``count`` branches picked by ``rule`` in the first
month it acts: ``busiest`` = most branch visits, ``longest_wait`` = longest wait last month), an
on-site service manager triages the queue and an experience-centred redesign (self-service zone,
seating, clear signage) raises service quality by ``quality_bonus`` and multiplies the wait by
``wait_factor``, every month the strategy is active, for every customer whose home branch it is.
The chosen branches stay fixed; one that closes drops out. Cost: the service manager and upkeep
per branch per month, and a one-off redesign per branch in the first month.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.config import MAX_CNY
from sim.params import ANY_LENGTH, ConfigError, param
from sim.strategies.base import Strategy, StrategyConfig, check_branch_ids, register

if TYPE_CHECKING:
    from sim.config import Config as ModelConfig
    from sim.model import BankModel

RULES = ("busiest", "longest_wait")


@dataclass
class BranchExperienceConfig(StrategyConfig):
    branches: list[int] | None = param(
        None,
        "indices of the branches to upgrade (null or empty: choose by rule and count)",
        "scenario choice",
        0,
        length=ANY_LENGTH,
    )
    rule: str = param(
        "busiest",
        "which branches to upgrade when no ids are given, chosen in the first month it acts:"
        " most branch visits, or longest wait last month",
        "scenario choice; the most visited branches reach the most branch users",
        choices=RULES,
    )
    count: int = param(
        3,
        "branches upgraded by the rule",
        "scenario choice; a quarter of the default twelve",
        1,
        10_000,
    )
    quality_bonus: float = param(
        0.05,
        "service quality added at an upgraded branch (quality is 0-1, ~0.6 at a normal load)",
        "synthetic; a few points on the service score",
        0.0,
        1.0,
    )
    wait_factor: float = param(
        0.7,
        "multiplies the wait at an upgraded branch",
        "synthetic; queue triage and self-service machines cut waits by about a third",
        0.0,
        1.0,
    )
    monthly_cost: float = param(
        30_000.0,
        "CNY per upgraded branch per month (service manager, upkeep)",
        "synthetic; one loaded service-manager salary (~300k CNY a year) plus upkeep",
        0.0,
        MAX_CNY,
    )
    redesign_cost: float = param(
        800_000.0,
        "CNY per upgraded branch, once, in the first month (refit of the banking hall)",
        "synthetic; about a quarter of a branch's yearly running cost",
        0.0,
        MAX_CNY,
    )


@register
class BranchExperience(Strategy[BranchExperienceConfig]):
    """Branch experience and on-site service managers: better service, shorter waits."""

    name = "branch_experience"
    title = "Branch experience"
    Config = BranchExperienceConfig
    cost_lines = ("service_managers", "redesign")

    def __init__(self, model: BankModel, config: BranchExperienceConfig):
        super().__init__(model, config)
        self.chosen: list[int] | None = None  # branches upgraded, fixed in the first month

    @classmethod
    def check(cls, config: BranchExperienceConfig, scenario: ModelConfig) -> None:
        super().check(config, scenario)
        key, n = f"strategy.{cls.name}", scenario.bank.branches
        ids = list(config.branches or [])
        if ids:
            check_branch_ids(f"{key}.branches", ids, n)
        elif config.count > n:
            raise ConfigError(
                f"{key}.count={config.count} is more than the bank's {n} branches; allowed 1 to {n}"
            )

    def choose(self) -> list[int]:
        """The open branches to upgrade: the configured ids, or ``count`` by the rule."""
        cfg, branches = self.config, self.model.branch_list()
        is_open = np.array([b.is_open for b in branches])
        if cfg.branches:
            return [i for i in cfg.branches if is_open[i]]
        if cfg.rule == "busiest":
            score = self.model.branch_visits()
        else:
            score = np.array([b.wait for b in branches])
        candidates = np.flatnonzero(is_open)
        order = candidates[np.argsort(-score[candidates], kind="stable")]
        return sorted(int(i) for i in order[: cfg.count])

    def before_customers(self, month: int) -> None:
        cfg, branches = self.config, self.model.branch_list()
        first = self.chosen is None
        if self.chosen is None:
            self.chosen = self.choose()
        live = [branches[i] for i in self.chosen if branches[i].is_open]
        for branch in live:
            branch.quality_bonus += cfg.quality_bonus
            branch.wait_factor *= cfg.wait_factor
        self.book("service_managers", len(live) * cfg.monthly_cost)
        if first:
            self.book("redesign", len(live) * cfg.redesign_cost)
