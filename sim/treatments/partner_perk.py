"""A partner perk: a perk through one of the bank's partner businesses (``partner``, a name in
``market.partners``: supermarket discounts, travel offers ...) for ``months`` months.

A customer uses it with the chance ``uptake`` x the perk's appeal to their segment (the partner's
``skew`` weight for it over the largest; unlisted segments weigh 1): a supermarket perk appeals
to families more than to young professionals. Each month a user has it, it adds ``perk`` to
their experience and ``engagement`` to their engagement target (everyday transactions). So it
does most for customers near the engagement threshold, whom it keeps engaged (the switching hazard
of the disengaged is x1.4, of the engaged x0.72), little for those engaged anyway, and nothing for
those who never use it. Cost: ``cost`` per customer told, and the partner's ``subsidy`` per user
each month they have it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.config import MAX_CNY
from sim.params import ConfigError, param
from sim.treatments.base import Costs, Draw, Lasting, Treatment, register

if TYPE_CHECKING:
    from sim.config import Config as ModelConfig
    from sim.model import BankModel


@dataclass
class PartnerPerkConfig:
    partner: str = param(
        "supermarket",
        "partner whose perk is offered (a name in market.partners)",
        "playbook item 3's partners (跨界合作)",
    )
    uptake: float = param(
        0.4,
        "share of the customers told who use the perk, in the partner's favourite segment"
        " (others: x their skew weight over the largest)",
        "synthetic; card-linked offers are activated by a minority",
        0.0,
        1.0,
    )
    months: int = param(6, "months a user has the perk", "synthetic; a season's promotion", 1, 60)
    perk: float = param(
        0.05,
        "experience added each month a customer uses the perk",
        "synthetic, as partner_promotion's perk; Meyer-Waarden 2007 (Journal of Retailing):"
        " loyalty-programme members stay longer",
        0.0,
        1.0,
    )
    engagement: float = param(
        0.1,
        "engagement target 0-1 added each month a customer uses the perk",
        "synthetic, as partner_promotion's; Liu 2007 (Journal of Marketing): a programme moves"
        " light and moderate users most, heavy users little",
        0.0,
        1.0,
    )
    cost: float = param(
        2.0, "CNY per customer told", "synthetic; an SMS or app message", 0.0, MAX_CNY
    )


@register
class PartnerPerk(Treatment[PartnerPerkConfig]):
    """A perk through a partner business for some months."""

    name = "partner_perk"
    title = "Partner perk"
    Config = PartnerPerkConfig

    def __init__(self, model: BankModel, config: PartnerPerkConfig, draw: Draw):
        super().__init__(model, config, draw)
        partner = model.config.market.partners[config.partner]
        weights = [partner.skew.get(s, 1.0) for s in model.segment_names]
        self.appeal = np.array(weights) / max(max(weights), 1e-12)
        self.subsidy = partner.subsidy
        self.users = Lasting(config.months)

    @classmethod
    def check(cls, config: PartnerPerkConfig, scenario: ModelConfig, key: str) -> None:
        partners = sorted(scenario.market.partners)
        if config.partner not in partners:
            raise ConfigError(
                f"{key}partner={config.partner!r} is not a partner; allowed: {partners}"
                " (market.partners)"
            )

    def apply(self, rows: np.ndarray, month: int) -> Costs:
        c = self.model.customers
        chance = self.config.uptake * self.appeal[c.segment[rows]]
        uses = self.draw("perk_use", month, c.key[rows]) < chance
        self.users.add(self.model, rows[uses], month)
        offer = np.zeros(len(rows))
        offer[uses] = self._give(rows[uses])
        return Costs(np.full(len(rows), self.config.cost), offer)

    def carry(self, month: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.users.rows(self.model, month)
        return rows, self._give(rows)

    def _give(self, rows: np.ndarray) -> np.ndarray:
        """This month's perk for the users at ``rows``; their cost this month."""
        c, cfg = self.model.customers, self.config
        c.perks[rows] += np.float32(cfg.perk)
        c.engagement_lift[rows] += np.float32(cfg.engagement)
        return np.full(len(rows), self.subsidy)
