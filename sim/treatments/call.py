"""A retention call: the customer's client manager calls, or the call centre for a customer
without one.

The call lowers the part of the switching hazard that is not the rivals' price pull by ``save``
x the caller's persuasiveness (a manager's skill x the customer's trust in them, so a desk the
customer does not trust does less; the centre's ``centre``): a call answers a grievance, not a
better price elsewhere, so a customer pulled by a rival's price gains little. It also wakes
customers who would have let things be: it adds ``annoy_disengaged`` to the log-hazard of a
disengaged customer (engagement below ``behaviour.engagement_threshold``) and
``annoy_complained`` to one who has complained (the ``complaints`` the bank holds). Both act
through the customer's ``shock``, so they fade with ``behaviour.shock_half_life``. The calls are
made by a retention team: they take no time from the desks' contact budgets, so calling one
customer changes no other customer's service. Cost: ``cost`` per call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config import MAX_CNY
from sim.params import param
from sim.treatments.base import Costs, Treatment, price_log_hazard, register


@dataclass
class CallConfig:
    save: float = param(
        0.8,
        "switching log-hazard a call removes from the part of the hazard not due to the rivals'"
        " price pull, x the caller's persuasiveness (fades)",
        "synthetic size; Ascarza 2018 (JMR, retention futility) and Lemmens & Gupta 2020"
        " (Marketing Science): retention contacts cut churn by a few points for some customers"
        " and not for others, and the riskiest are not the most responsive",
        0.0,
        5.0,
    )
    centre: float = param(
        0.5,
        "persuasiveness 0-1 of the call centre, for a customer without a client manager (a"
        " manager's: skill x the customer's trust)",
        "synthetic; below a trusted manager of average skill (0.6 x 0.9)",
        0.0,
        1.0,
    )
    annoy_disengaged: float = param(
        0.4,
        "switching log-hazard a call adds for a disengaged customer (fades)",
        "Ascarza, Iyengar & Schleicher 2016 (JMR, the perils of proactive churn prevention):"
        " proactive contact raised churn by lowering inert customers' inertia; size synthetic",
        0.0,
        5.0,
    )
    annoy_complained: float = param(
        0.2,
        "switching log-hazard a call adds for a customer who has complained (fades)",
        "synthetic; a retention pitch reopens a grievance (after Ascarza, Iyengar & Schleicher"
        " 2016: contact can raise churn)",
        0.0,
        5.0,
    )
    cost: float = param(
        25.0,
        "CNY per call",
        "synthetic; 5-10 minutes of an outbound agent or a manager, with its overhead",
        0.0,
        MAX_CNY,
    )


@register
class Call(Treatment[CallConfig]):
    """A retention call by the client manager or the call centre."""

    name = "call"
    title = "Retention call"
    Config = CallConfig

    def apply(self, rows: np.ndarray, month: int) -> Costs:
        cfg, model = self.config, self.model
        c = model.customers
        skill = np.array([m.skill for m in model.desk_list()] or [0.0], np.float32)
        desk = c.manager[rows]
        managed = desk >= 0
        persuasion = np.where(
            managed, skill[np.maximum(desk, 0)] * c.trust[rows], np.float32(cfg.centre)
        )
        save = cfg.save * persuasion
        price = price_log_hazard(model, rows)
        # exp(-price): the share of the hazard that is not the rivals' price pull
        saved = np.log1p(-(1.0 - np.exp(-save)) * np.exp(-price))
        threshold = np.float32(model.config.behaviour.engagement_threshold)
        annoyed = cfg.annoy_disengaged * (c.engagement[rows] < threshold)
        annoyed += cfg.annoy_complained * (c.complaints[rows] > 0)
        c.shock[rows] += (saved + annoyed).astype(np.float32)
        return Costs(np.full(len(rows), cfg.cost), np.zeros(len(rows)))
