"""Training and case sharing for client managers (playbook: 客户经理培训, 分享型培训).

Every month it is active, each client manager spends ``hours / 12`` hours in training: skill rises
by ``skill_per_hour`` per hour times the gap to full skill, and case sharing closes part of the
gap to the team's best quarter. Hours in training are hours not spent with customers (contacts
fall in proportion). Cost: trainer, materials and time, per manager-hour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config import param
from sim.strategies.base import Strategy, StrategyConfig, register

WORKING_HOURS = 170.0  # per manager per month


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
    case_sharing: float = param(
        0.1,
        "share of the gap to the team's best quarter closed per year by shared cases",
        "synthetic; peer learning",
        0.0,
        1.0,
    )
    cost_per_hour: float = param(
        400.0, "CNY per manager-hour (trainer, materials, time)", "synthetic", 0.0
    )


@register
class Training(Strategy):
    """Training and case sharing for client managers: skill up, contacts down, cost per hour."""

    name = "training"
    Config = TrainingConfig
    cost_lines = ("training",)

    def before_customers(self, month: int) -> None:
        cfg, managers = self.config, list(self.model.managers)
        if not managers:
            return
        hours = cfg.hours / 12.0
        best = np.quantile([m.skill for m in managers], 0.75)
        for m in managers:
            m.skill += cfg.skill_per_hour * hours * (1.0 - m.skill)
            m.skill += cfg.case_sharing / 12.0 * max(best - m.skill, 0.0)
            m.contacts *= 1.0 - hours / WORKING_HOURS
        self.book("training", len(managers) * hours * cfg.cost_per_hour)
