"""Lean service (playbook item 7: 精细化服务), three components that can each be switched off.

Every month it is active: fee pre-notification (the SMS-fee example) tells every active customer of
coming fees, so ``prevented_share`` of fee surprises (and of the complaints they cause) do not
happen, at a cost per notified customer; a feedback loop collects customers' views, and the product
fit of every segment improves month by month towards ``fit_cap`` as feedback accumulates (the gain
so far is kept by the strategy and lapses when it ends), at a cost per active customer; value-added
services (health checks, lounges, concierge) give customers of the high-end ``vas_tiers`` a perk,
at a cost per served customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.config import MAX_CNY, TIERS
from sim.params import ANY_LENGTH, ConfigError, param
from sim.strategies.base import Strategy, StrategyConfig, register

if TYPE_CHECKING:
    from sim.config import Config as ModelConfig
    from sim.model import BankModel


@dataclass
class LeanServiceConfig(StrategyConfig):
    prenotify: bool = param(True, "switch: pre-notify fees", "playbook: the SMS-fee example")
    prevented_share: float = param(
        0.6,
        "share of fee surprises prevented by pre-notification",
        "synthetic; customers not reached or not reading the notice are still surprised",
        0.0,
        1.0,
    )
    notify_cost: float = param(
        0.2,
        "CNY per notified (active, real) customer per month",
        "a few SMS at ~0.05 CNY each",
        0.0,
        MAX_CNY,
    )
    feedback: bool = param(
        True, "switch: collect feedback that improves product fit", "playbook: feedback loop"
    )
    fit_cap: float = param(
        0.05,
        "product fit 0-1 added to every segment once feedback has fully accumulated",
        "synthetic; a modest share of segment fit 0.5-0.65",
        0.0,
        0.5,
    )
    fit_rate: float = param(
        0.05,
        "share of the remaining gap to fit_cap closed per month of feedback",
        "synthetic; product changes take a year or two (half-way in ~14 months)",
        0.0,
        1.0,
    )
    feedback_cost: float = param(
        0.3,
        "CNY per active real customer per month (surveys, analysis, product changes)",
        "synthetic",
        0.0,
        MAX_CNY,
    )
    value_added: bool = param(
        True, "switch: value-added services for high-end customers", "playbook: 增值服务"
    )
    vas_tiers: list[str] = param(
        ["high", "private"],
        "tiers served by value-added services",
        "playbook",
        choices=TIERS,
        length=ANY_LENGTH,
    )
    vas_perk: float = param(
        0.03,
        "experience added to a served customer each month",
        "synthetic; less than a fee surprise costs (0.5 in the month)",
        0.0,
        0.5,
    )
    vas_cost: float = param(
        150.0,
        "CNY per served (real) customer per month",
        "synthetic; lounges, health checks, concierge, ~1.8k CNY a year",
        0.0,
        MAX_CNY,
    )


@register
class LeanService(Strategy[LeanServiceConfig]):
    """Lean service: fee pre-notification, a feedback loop on product fit, value-added services."""

    name = "lean_service"
    title = "Lean service"
    Config = LeanServiceConfig
    cost_lines = ("notification", "feedback", "value_added")

    def __init__(self, model: BankModel, config: LeanServiceConfig):
        super().__init__(model, config)
        self.fit_gain = 0.0  # product fit accumulated from feedback so far
        self.vas_tier_index = np.array([TIERS.index(t) for t in config.vas_tiers], np.int8)

    @classmethod
    def check(cls, config: LeanServiceConfig, scenario: ModelConfig) -> None:
        super().check(config, scenario)
        if not (config.prenotify or config.feedback or config.value_added):
            raise ConfigError(
                "strategy.lean_service: prenotify, feedback and value_added are all off; "
                "switch one on or drop the strategy"
            )
        if config.value_added and not config.vas_tiers:
            raise ConfigError(
                f"strategy.lean_service.vas_tiers is empty while value_added is on; "
                f"choose from {list(TIERS)}"
            )

    def before_customers(self, month: int) -> None:
        cfg, model, c = self.config, self.model, self.model.customers
        real_active = model.real_active
        if cfg.prenotify:
            model.fee_surprise_factor *= 1.0 - cfg.prevented_share
            self.book("notification", real_active * cfg.notify_cost, c.active)
        if cfg.feedback:
            self.fit_gain += cfg.fit_rate * (cfg.fit_cap - self.fit_gain)
            model.fit_bonus += np.float32(self.fit_gain)
            self.book("feedback", real_active * cfg.feedback_cost, c.active)
        if cfg.value_added:
            served = c.active & np.isin(c.tier, self.vas_tier_index)
            c.perks += np.where(served, np.float32(cfg.vas_perk), np.float32(0))
            self.book("value_added", c.weight[served] * cfg.vas_cost, served)
