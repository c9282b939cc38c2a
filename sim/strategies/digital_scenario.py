"""Digital scenario finance (playbook item 8, 场景金融 / 科技研发): app and embedded finance.

Every active month the bank invests ``investment``; what it has built grows with cumulative spend
towards a ceiling (half of it after ``half_spend``). The build-up raises digital quality by up to
``quality_gain`` (less effort and better service for digital users), brings extra newcomers through
the ``digital`` channel (up to ``acquisition_rate`` per active customer a month, skewed to
``young_segment``), and low-threshold, flexible, principal-protected products raise product fit of
``fit_segments`` by up to ``fit_gain``. Embedded finance also raises engagement (by up to
``engagement_gain`` x digital affinity). Cost: the monthly investment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.config import MAX_CNY
from sim.params import ANY_LENGTH, ConfigError, param
from sim.strategies.base import Strategy, StrategyConfig, register

if TYPE_CHECKING:
    from sim.config import Config as ModelConfig


@dataclass
class DigitalScenarioConfig(StrategyConfig):
    investment: float = param(
        1_000_000.0,
        "CNY per month invested in the app, embedded finance and their products",
        "Chinese banks spend ~3-4% of operating income on IT; ~4% of the default bank's revenue",
        0.0,
        MAX_CNY,
    )
    half_spend: float = param(
        15_000_000.0,
        "CNY of cumulative investment that builds half of the full effect",
        "synthetic; about 15 months at the default investment",
        1.0,
        MAX_CNY,
    )
    quality_gain: float = param(
        0.2,
        "rise of digital quality 0-1 at full build-up",
        "synthetic; from the default 0.6 towards a leading app's 0.8",
        0.0,
        1.0,
    )
    acquisition_rate: float = param(
        0.003,
        "extra digital newcomers per active customer per month at full build-up",
        "synthetic; about a third more than organic acquisition (0.0095)",
        0.0,
        0.1,
    )
    young_segment: str = param(
        "young_professional",
        "segment that scenario finance attracts most",
        "playbook item 8: scenario finance attracts young customers",
    )
    young_weight: float = param(
        4.0,
        "lead weight of the young segment (other segments weigh 1)",
        "synthetic; most users of embedded finance are under 35",
        1.0,
        100.0,
    )
    fit_gain: float = param(
        0.05,
        "product fit 0-1 added to the fit segments at full build-up",
        "synthetic; low-threshold, flexible, principal-protected products",
        0.0,
        1.0,
    )
    engagement_gain: float = param(
        0.1,
        "engagement target 0-1 added at full build-up, x the customer's digital affinity",
        "synthetic; embedded finance puts the bank in everyday payments and apps",
        0.0,
        1.0,
    )
    fit_segments: list[str] = param(
        ["young_professional", "family", "farmer"],
        "segments whose product fit the new products raise",
        "the mass-market segments of the default population (lowest AUM medians)",
        length=ANY_LENGTH,
    )


@register
class DigitalScenario(Strategy[DigitalScenarioConfig]):
    """Digital scenario finance: digital quality, young newcomers and mass-market fit build up."""

    name = "digital_scenario"
    title = "Digital scenario finance"
    Config = DigitalScenarioConfig
    cost_lines = ("investment",)

    @classmethod
    def check(cls, config: DigitalScenarioConfig, scenario: ModelConfig) -> None:
        super().check(config, scenario)
        key, known = f"strategy.{cls.name}", sorted(scenario.population.segments)
        if config.young_segment not in known:
            raise ConfigError(
                f"{key}.young_segment={config.young_segment!r} is not a segment; known: {known}"
            )
        for segment in config.fit_segments:
            if segment not in known:
                raise ConfigError(
                    f"{key}.fit_segments: {segment!r} is not a segment; known: {known}"
                )

    def setup(self) -> None:
        names, cfg = self.model.segment_names, self.config
        self.spent = 0.0  # cumulative investment, CNY
        self.progress = 0.0  # share of the full effect built, 0-1
        self.fit_segments = np.isin(names, cfg.fit_segments)
        self.weights = np.where(np.array(names) == cfg.young_segment, cfg.young_weight, 1.0)
        self.new_customers = 0.0  # real, this month

    def before_customers(self, month: int) -> None:
        cfg = self.config
        self.spent += cfg.investment
        self.book("investment", cfg.investment)
        self.progress = 1.0 - 0.5 ** (self.spent / cfg.half_spend)
        self.model.digital_quality += cfg.quality_gain * self.progress
        self.model.fit_bonus[self.fit_segments] += np.float32(cfg.fit_gain * self.progress)
        c = self.model.customers
        c.engagement_lift += np.float32(cfg.engagement_gain * self.progress) * c.digital

    def after_customers(self, month: int) -> None:
        rate = self.config.acquisition_rate * self.progress * self.model.real_active
        rows = self.model.acquire("digital", rate, self.weights)
        self.new_customers = float(self.model.customers.weight[rows].sum())
