"""Product innovation (playbook item 9, 绿色金融 / 投资银行 / 财富银行 / 共同富裕): new products.

At launch (its first active month) the bank develops the chosen ``products`` at a one-off cost,
then runs them at a monthly cost. Each is designed for its ``<product>_segments``: green products
for young professionals and families, investment banking for business owners, inclusive wealth
for farmers and retirees. Over ``ramp_months`` after launch, product fit of the target segments
rises by ``fit_gain`` per product (experience and cross-sell), and each month a share ``uptake``
of their active customers brings ``inflow_months`` of income into their balances (AUM).
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

PRODUCTS = ("green", "investment_banking", "inclusive_wealth")


@dataclass
class ProductInnovationConfig(StrategyConfig):
    products: list[str] = param(
        list(PRODUCTS),
        "products launched",
        "playbook item 9: green finance, investment banking, inclusive wealth",
        choices=PRODUCTS,
        length=ANY_LENGTH,
    )
    green_segments: list[str] = param(
        ["young_professional", "family"],
        "segments the green products (green loans, ESG funds) are designed for",
        "green consumption and ESG investing appeal most to younger, urban households",
        length=ANY_LENGTH,
    )
    investment_banking_segments: list[str] = param(
        ["business_owner"],
        "segments the investment-banking products (financing, listings, M&A) are designed for",
        "business owners need company finance alongside private wealth",
        length=ANY_LENGTH,
    )
    inclusive_wealth_segments: list[str] = param(
        ["farmer", "retiree"],
        "segments the inclusive wealth products (共同富裕: low threshold, low risk) serve",
        "common-prosperity policy targets rural and older savers",
        length=ANY_LENGTH,
    )
    fit_gain: float = param(
        0.08,
        "product fit 0-1 added to a target segment per product, at full ramp",
        "synthetic; a product designed for a segment closes part of its fit gap",
        0.0,
        1.0,
    )
    ramp_months: float = param(
        12.0,
        "months from launch to the full fit gain and uptake",
        "synthetic; awareness and distribution build over about a year",
        1.0,
        120.0,
    )
    uptake: float = param(
        0.01,
        "share of a target segment's active customers who bring money in each month, at full ramp",
        "synthetic; ~12% of the target customers a year",
        0.0,
        1.0,
    )
    inflow_months: float = param(
        2.0,
        "months of income each of them brings in",
        "synthetic; savings moved from other institutions (~+15% cohort AUM in 5 years, defaults)",
        0.0,
        120.0,
    )
    development_cost: float = param(
        3_000_000.0,
        "CNY per product, once at launch",
        "synthetic; design, systems and approval of a retail product",
        0.0,
        MAX_CNY,
    )
    running_cost: float = param(
        200_000.0,
        "CNY per product per month",
        "synthetic; product team, marketing and compliance",
        0.0,
        MAX_CNY,
    )


@register
class ProductInnovation(Strategy[ProductInnovationConfig]):
    """Product innovation: green, investment-banking and inclusive wealth products."""

    name = "product_innovation"
    title = "Product innovation"
    Config = ProductInnovationConfig
    cost_lines = ("development", "running")

    @classmethod
    def check(cls, config: ProductInnovationConfig, scenario: ModelConfig) -> None:
        super().check(config, scenario)
        key, known = f"strategy.{cls.name}", sorted(scenario.population.segments)
        if not config.products:
            raise ConfigError(f"{key}.products=[] launches nothing; choose from {list(PRODUCTS)}")
        for product in config.products:
            if product not in PRODUCTS:  # also caught by the choices of the range check
                valid = list(PRODUCTS)
                raise ConfigError(f"{key}.products: {product!r} is not a product; valid: {valid}")
        if len(set(config.products)) < len(config.products):
            raise ConfigError(f"{key}.products={config.products} names a product twice")
        for product in PRODUCTS:
            for segment in getattr(config, f"{product}_segments"):
                if segment not in known:
                    raise ConfigError(
                        f"{key}.{product}_segments: {segment!r} is not a segment; known: {known}"
                    )
            if product in config.products and not getattr(config, f"{product}_segments"):
                raise ConfigError(f"{key}.{product}_segments is empty; the product needs targets")

    def setup(self) -> None:
        names = self.model.segment_names
        self.launched: int | None = None  # month of launch
        self.ramp = 0.0
        self.targets = {
            p: np.isin(names, getattr(self.config, f"{p}_segments")) for p in self.config.products
        }
        self.inflow = 0.0  # real CNY brought in this month

    def before_customers(self, month: int) -> None:
        cfg, model = self.config, self.model
        c = model.customers
        if self.launched is None:
            self.launched = month
            self.book("development", cfg.development_cost * len(cfg.products))
        self.book("running", cfg.running_cost * len(cfg.products))
        self.ramp = min((month - self.launched + 1) / cfg.ramp_months, 1.0)
        self.inflow = 0.0
        for product, target in self.targets.items():
            model.fit_bonus[target] += np.float32(cfg.fit_gain * self.ramp)
            u = self.uniform(f"uptake:{product}", month, c.key)
            movers = np.flatnonzero(c.active & target[c.segment] & (u < cfg.uptake * self.ramp))
            amount = cfg.inflow_months * c.income[movers].astype(np.float64)
            c.aum[movers] += amount
            self.inflow += float(np.dot(amount, c.weight[movers]))
