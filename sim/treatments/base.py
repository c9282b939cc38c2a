"""The treatment interface and the registry that maps names to treatment classes.

A treatment is what a bank does to a chosen set of customers once (a call, a fee waiver, a
product offer, a partner perk). It acts only through the model's own mechanisms: the lasting
``shock`` (extra switching log-hazard, fading with ``behaviour.shock_half_life``), the monthly
levers ``perks`` and ``engagement_lift`` (rebuilt each month, so an effect that lasts is applied
again every month it lasts: :meth:`Treatment.carry`), and lasting state such as ``products``. Its
effect on a customer depends on that customer's own state and on nobody else's, and its random
numbers are keyed by customer, so a customer treated is treated alike whoever else is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sim.compiled import F0, kernel
from sim.mechanisms import exits, experience

if TYPE_CHECKING:
    from sim.config import Config as ModelConfig
    from sim.model import BankModel

type Draw = Callable[[str, int, np.ndarray], np.ndarray]
"""One U(0, 1) per key for a purpose and a month, from the campaign's own stream
(``Strategy.uniform``)."""

REGISTRY: dict[str, type[Treatment[Any]]] = {}


@dataclass
class Costs:
    """CNY per real customer, one value per treated row: reaching them (``contact``) and what
    they were given (``offer``: fees waived, a bonus, an incentive, a subsidy)."""

    contact: np.ndarray
    offer: np.ndarray


class Treatment[C]:
    """Base class: subclass it, set ``name``, ``title`` and ``Config`` (the type ``C`` of its
    parameters), and register it."""

    name: ClassVar[str]
    title: ClassVar[str]  # in a banker's words
    Config: ClassVar[type]  # a dataclass of ``sim.params.param`` fields

    def __init__(self, model: BankModel, config: C, draw: Draw):
        self.model, self.config, self.draw = model, config, draw

    @classmethod
    def check(cls, config: C, scenario: ModelConfig, key: str) -> None:
        """Raise ConfigError if the parameters do not fit the scenario (``key``: where the
        treatment's parameters start, e.g. ``strategy.campaign.partner_perk_``)."""

    def apply(self, rows: np.ndarray, month: int) -> Costs:
        """Treat the active customers at ``rows`` this month (before the customer step)."""
        raise NotImplementedError

    def carry(self, month: int) -> tuple[np.ndarray, np.ndarray]:
        """Each later month (before the customer step): apply again what still lasts; returns
        the rows it applied to and their cost this month (CNY per real customer)."""
        return np.zeros(0, np.int64), np.zeros(0)


def register[T: type[Treatment[Any]]](cls: T) -> T:
    """Class decorator adding a treatment to the registry under its ``name``."""
    if cls.name in REGISTRY:
        raise ValueError(f"treatment {cls.name!r} is already registered")
    REGISTRY[cls.name] = cls
    return cls


def price_log_hazard(model: BankModel, rows: np.ndarray) -> np.ndarray:
    """The rivals' pull on these customers' switching log-hazard this month (float32): what
    :func:`sim.mechanisms.exits.hazards` adds for this month's pull
    (:func:`sim.mechanisms.experience.competitor_pull`), ``behaviour.competitor_coef`` x pull x
    price sensitivity (less for a mature or an engaged customer)."""
    c = model.customers
    return _price_log_hazard(
        experience.params(model), exits.params(model), model.month, c.tier[rows],
        c.digital[rows], c.joined[rows], c.engagement[rows], c.satisfaction[rows],
        c.products[rows], c.age[rows],
    )  # fmt: skip


@kernel
def _price_log_hazard(
    p_experience, p_exits, t, tier, digital, joined, engagement, satisfaction, products, age
):  # fmt: skip
    """:func:`price_log_hazard`'s pass: the log of the switching hazard with this month's pull
    less that without it (the other terms cancel)."""
    out = np.zeros(tier.size, np.float32)
    for i in range(tier.size):
        pull = experience.competitor_pull(p_experience, tier[i], digital[i])
        hazard = [
            exits.hazards(
                p_exits, satisfaction[i], products[i], t - joined[i], tier[i], x,
                p_exits.manager_change_months, False, F0, engagement[i], F0, age[i],
            )[0]
            for x in (pull, F0)
        ]  # fmt: skip
        out[i] = np.log(hazard[0]) - np.log(hazard[1])
    return out


class Lasting:
    """Customers under a treatment for ``months`` months from the month they were treated, by
    id (rows move when leavers are archived), with one number each the treatment keeps
    (``value``, 0 at first)."""

    def __init__(self, months: int):
        self.months = months
        self.ids = np.zeros(0, np.int64)  # ascending
        self.since = np.zeros(0, np.int64)
        self.value = np.zeros(0, np.float32)

    def add(self, model: BankModel, rows: np.ndarray, month: int) -> None:
        ids = np.concatenate([self.ids, model.customers.id[rows]])
        order = np.argsort(ids, kind="stable")
        self.ids = ids[order]
        self.since = np.concatenate([self.since, np.full(len(rows), month)])[order]
        self.value = np.concatenate([self.value, np.zeros(len(rows), np.float32)])[order]

    def rows(self, model: BankModel, month: int) -> np.ndarray:
        """The rows of the active customers still under it in ``month``."""
        c = model.customers
        live = self.ids[month - self.since < self.months]
        return np.flatnonzero(np.isin(c.id, live) & c.active)

    def position(self, model: BankModel, rows: np.ndarray) -> np.ndarray:
        """Where the customers at ``rows`` (all under it) are in ``ids``."""
        return np.searchsorted(self.ids, model.customers.id[rows])
