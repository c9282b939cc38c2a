"""A product offer: the bank offers the customer one more product (a card, a savings or wealth
product), with ``incentive`` to a customer who takes it.

A customer takes it with the chance ``uptake`` x product fit x satisfaction (the customer's own
draw), as the model's own cross-sell rises with both; a taker holds one more product (at most 6)
for good. The offer works only through what holding it does in the model: the switching hazard
falls with products held (``behaviour.product_hazard``: x2.4, 1.1, 0.7, 0.45 for 1, 2, 3, 4+) and
engagement rises with them. So it does most for one-product customers who take it, nothing for
those who already hold four or more, and nothing for those who decline. Cost: ``cost`` per offer
and ``incentive`` per taker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.compiled import clip01
from sim.config import MAX_CNY
from sim.params import param
from sim.treatments.base import Costs, Treatment, register

MAX_PRODUCTS = 6


@dataclass
class ProductOfferConfig:
    uptake: float = param(
        0.3,
        "chance of taking the product at full fit and satisfaction (x fit x satisfaction: about"
        " 0.1 on the default book)",
        "synthetic; Kamakura, Wedel, de Rosa & Mazzon 2003 (IJRM, cross-selling through database"
        " marketing): who takes a bank's next product follows their needs",
        0.0,
        1.0,
    )
    incentive: float = param(
        50.0, "CNY to a customer who takes the product", "synthetic; an opening gift", 0.0, MAX_CNY
    )
    cost: float = param(
        10.0,
        "CNY per offer",
        "synthetic; a call or a mailing with its follow-up",
        0.0,
        MAX_CNY,
    )


@register
class ProductOffer(Treatment[ProductOfferConfig]):
    """One more product offered; some customers take it."""

    name = "product_offer"
    title = "Product offer"
    Config = ProductOfferConfig

    def apply(self, rows: np.ndarray, month: int) -> Costs:
        cfg, model = self.config, self.model
        c = model.customers
        fit = clip01(c.fit[rows] + model.fit_bonus[c.segment[rows]])
        chance = cfg.uptake * fit * c.satisfaction[rows]
        takes = self.draw("take_up", month, c.key[rows]) < chance
        takes &= c.products[rows] < MAX_PRODUCTS
        c.products[rows[takes]] += 1
        return Costs(np.full(len(rows), cfg.cost), np.where(takes, cfg.incentive, 0.0))
