"""Training and sharing sessions for client managers (playbook: 客户经理培训, 分享型培训).

Every month it is active, each client manager spends ``hours / 12`` hours in training: skill rises
by ``skill_per_hour`` per hour times the gap to full skill (Arthur et al. 2003: d ~ 0.6, about
0.07 skill a year at the default 40 hours). In ``sharing_hours / 12`` hours of sharing sessions
between branches, each manager closes ``sharing`` a year of the gap between its own skill and the
mean skill of the best branch's managers, so practice spreads from the best branch to the rest.
Both come out of the manager's contact budget (``Manager.budget``, ``bank.manager_contacts`` a
month over 170 working hours): the month's regular contacts fall in proportion, and the
managers' customers feel it where desks are full. Skill reaches customers through their manager's
attention (coverage x skill x trust), which drives their satisfaction and, for managed (mid and
high-end) customers, switching, cross-sell and AUM inflows (``behaviour.relationship``).
Cost: trainer, materials and time, per manager-hour of training and of sharing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from sim.config import MAX_CNY
from sim.params import param
from sim.strategies.base import Strategy, StrategyConfig, register


@dataclass
class TrainingConfig(StrategyConfig):
    hours: float = param(
        40.0, "training hours per manager per year", "common bank norm", 0.0, 500.0
    )
    skill_per_hour: float = param(
        0.004,
        "skill gained per training hour, times the gap to full skill",
        "Arthur et al. 2003: training effect on job performance d ~ 0.6 (~0.07 skill a year)",
        0.0,
        0.1,
    )
    sharing_hours: float = param(
        12.0,
        "hours per manager per year in sharing sessions between branches",
        "synthetic; a monthly one-hour session (分享型培训)",
        0.0,
        200.0,
    )
    sharing: float = param(
        0.1,
        "share of the gap to the best branch's mean skill closed per year by sharing sessions",
        "synthetic; peer learning, range only (no published rate for bank sharing sessions)",
        0.0,
        1.0,
    )
    cost_per_hour: float = param(
        400.0, "CNY per manager-hour (trainer, materials, time)", "synthetic", 0.0, MAX_CNY
    )


@register
class Training(Strategy[TrainingConfig]):
    """Training and sharing sessions: skill up, contact time down, cost per hour."""

    name = "training"
    title = "Manager training"
    Config = TrainingConfig
    needs_managers = True
    cost_lines = ("training",)

    def before_customers(self, month: int) -> None:
        cfg, managers = self.config, self.model.desk_list()
        if not managers:
            return
        hours, sharing_hours = cfg.hours / 12.0, cfg.sharing_hours / 12.0
        best = self.best_branch_skill()
        gain = min(cfg.skill_per_hour * hours, 1.0)  # share of the gap to full skill closed
        for m in managers:
            m.budget.draw("training", m.budget.hours(hours + sharing_hours))
            m.skill += gain * (1.0 - m.skill)
            if sharing_hours > 0:
                m.skill += cfg.sharing / 12.0 * max(best - m.skill, 0.0)
        self.book("training", len(managers) * (hours + sharing_hours) * cfg.cost_per_hour)

    def best_branch_skill(self) -> float:
        """Mean skill of the best branch's managers (what sharing sessions pull towards)."""
        by_branch = defaultdict(list)
        for m in self.model.managers:
            by_branch[m.branch].append(m.skill)
        return max(np.mean(s) for s in by_branch.values()) if by_branch else 0.0
