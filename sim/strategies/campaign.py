"""A retention campaign (the targeting lab's pilot): one treatment, once, to the customers chosen.

In its first active month (measured month ``start`` + 1; with ``start`` =
``output.crm_reference_month`` right after the CRM extract's snapshot) it applies ``treatment``
(``call``, ``fee_waiver``, ``product_offer`` or ``partner_perk``; their mechanisms in
docs/model.md, "Treatments and the campaign"; their parameters are the ``<treatment>_<parameter>``
keys below) to the active customers of the ``tiers`` chosen by ``select``:

- ``random``: in each tier, round(``share`` x its customers) simulated customers, those with the
  lowest draws keyed by customer (the strategy's own stream), so the split is stratified and
  reproducible; with a ``budget``, customers in the order of their draws while their real
  customers fit in it;
- ``everyone``: all of them;
- ``risk``: the bank's risk rule (``follow_up``'s, with the ``risk_weights``, ``inactive_months``
  and ``balance_drop`` below; last month's complaints, product and balance drops are watched in
  month ``start``), highest first, ties by draw, while they fit in the ``budget``;
- ``scores``: highest score first from the Parquet file ``scores`` (columns ``seed``,
  ``customer_key``, ``score``; the rows of the run's seed; customers it lacks rank last), while
  they fit in the ``budget``. The file must be named by the SHA-256 of its bytes
  (``<digest>.parquet``), so that the run's id, a hash of its config, changes with the scores.

A ranking needs a ``budget`` (real customers). The contact month is recorded in the customer
column ``contacted`` (the CRM extract's ``treated``). What lasts (a waiver's months, a perk's)
is applied again each month while it lasts, up to ``end``. Costs: reaching the customers on
``contacts``, what they were given on ``offers``.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim import bankdata
from sim.config import TIERS, field_default
from sim.folders import read_parquet
from sim.params import ANY_LENGTH, ConfigError, param
from sim.strategies.base import Strategy, StrategyConfig, register
from sim.strategies.follow_up import FollowUpConfig, RiskWatch
from sim.treatments import REGISTRY as TREATMENTS

if TYPE_CHECKING:
    import pandas as pd

    from sim.config import Config as ModelConfig
    from sim.model import BankModel

SELECTS = ("random", "everyone", "risk", "scores")
RANKED = ("risk", "scores")  # selections that need a budget
SCORE_COLUMNS = ("seed", "customer_key", "score")
RISK_RULE = ("risk_weights", "inactive_months", "balance_drop")  # follow_up's parameters
MAX_BUDGET = 1e9


@dataclass
class CampaignSettings(StrategyConfig):
    """The campaign's own parameters; :data:`CampaignConfig` adds the risk rule's and the
    treatments'."""

    treatment: str = param(
        "call",
        "the treatment applied (its parameters: <treatment>_<parameter>)",
        "the targeting lab: one treatment a retention pilot tests",
        choices=tuple(TREATMENTS),
    )
    select: str = param(
        "random",
        "who is treated: random (a share of each tier), everyone, risk (the bank's risk rule)"
        " or scores (a file's, highest first)",
        "a retention pilot: randomised, then targeted by rule or model",
        choices=SELECTS,
    )
    share: float = param(
        0.5,
        "share of each tier's eligible customers treated (select=random, no budget)",
        "a randomised pilot's treatment share",
        0.0,
        1.0,
    )
    budget: float | None = param(
        None,
        "real customers to contact, in order while they fit (empty: random uses share; risk and"
        " scores need one)",
        "scenario choice",
        0.0,
        MAX_BUDGET,
    )
    tiers: list[str] = param(
        list(TIERS),
        "tiers whose active customers are eligible",
        "scenario choice",
        choices=TIERS,
        length=ANY_LENGTH,
    )
    scores: str | None = param(
        None,
        "select=scores: Parquet file with columns seed, customer_key, score, named"
        " <SHA-256 of its bytes>.parquet",
        "a churn or uplift model's scores (analysis/targeting.py)",
    )


def copied(config_type: type, prefix: str = "", names: tuple[str, ...] = ()) -> list:
    """Fields for ``dataclasses.make_dataclass``: the fields of ``config_type`` (those in
    ``names``, if given) with their types, defaults and metadata, renamed ``prefix<name>``."""
    hints = typing.get_type_hints(config_type)
    return [
        (prefix + f.name, hints[f.name], param(field_default(f), **f.metadata))
        for f in dataclasses.fields(config_type)
        if not names or f.name in names
    ]


CampaignConfig = typing.cast(
    type[CampaignSettings],
    dataclasses.make_dataclass(
        "CampaignConfig",
        copied(FollowUpConfig, names=RISK_RULE)
        + [f for name, t in TREATMENTS.items() for f in copied(t.Config, f"{name}_")],
        bases=(CampaignSettings,),
        module=__name__,
    ),
)
"""The campaign's parameters: its own, the risk rule's (declared by ``follow_up``) and each
treatment's as ``<treatment>_<parameter>`` (declared by the treatment)."""


def treatment_config(config: CampaignSettings, name: str) -> Any:
    """The typed parameters of treatment ``name`` from the campaign's."""
    kind = TREATMENTS[name].Config
    return kind(**{f.name: getattr(config, f"{name}_{f.name}") for f in dataclasses.fields(kind)})


def read_scores(value: str, seed: int) -> pd.DataFrame:
    """The rows of ``seed`` of the scores file ``value``, refused (ConfigError naming
    ``strategy.campaign.scores``) unless it exists, is named by its digest and has the columns."""
    key, path = f"strategy.campaign.scores={value!r}", Path(value)
    allowed = f"allowed: a Parquet file with columns {', '.join(SCORE_COLUMNS)}"
    if not path.is_file():
        raise ConfigError(f"{key} is not a file; {allowed}, named <SHA-256 of its bytes>.parquet")
    digest = bankdata.digest(path)
    if path.name != f"{digest}.parquet":
        raise ConfigError(
            f"{key}: the file's SHA-256 is {digest}, not its name; allowed: a file named"
            f" <SHA-256 of its bytes>.parquet ({digest}.parquet), so that runs of other scores"
            " are never taken for its runs"
        )
    table = read_parquet(path)
    if missing := [col for col in SCORE_COLUMNS if col not in table.columns]:
        raise ConfigError(f"{key} lacks the columns {missing}; {allowed}")
    rows = table[table["seed"] == seed]
    repeated = rows["customer_key"].duplicated()
    if repeated.any():
        first = rows["customer_key"][repeated].iloc[0]
        raise ConfigError(
            f"{key}: customer_key {first} has several scores for seed {seed}; allowed: one"
            " score per customer and seed"
        )
    return rows


@register
class Campaign(Strategy[CampaignSettings]):
    """A retention campaign: one treatment, once, to customers chosen by draw, rule or scores."""

    name = "campaign"
    title = "Retention campaign"
    Config = CampaignConfig
    cost_lines = ("contacts", "offers")

    def __init__(self, model: BankModel, config: CampaignSettings):
        super().__init__(model, config)
        kind = TREATMENTS[config.treatment]
        self.treatment = kind(model, treatment_config(config, config.treatment), self.uniform)
        self.tiers = np.array(sorted(TIERS.index(t) for t in config.tiers), np.int8)
        rule = [getattr(config, name) for name in RISK_RULE]
        self.watch = RiskWatch(*rule) if config.select == "risk" else None
        self.scores: tuple[np.ndarray, np.ndarray] | None = None  # keys (sorted), scores
        self.treated = 0.0  # real customers treated

    @classmethod
    def check(cls, config: CampaignSettings, scenario: ModelConfig) -> None:
        super().check(config, scenario)
        key = f"strategy.{cls.name}"
        if not config.tiers:
            raise ConfigError(f"{key}.tiers=[] treats no one; choose from {list(TIERS)}")
        if config.select == "scores" and config.scores is None:
            raise ConfigError(
                f"{key}.scores=None with select='scores'; allowed: a Parquet file of scores"
                " named <SHA-256 of its bytes>.parquet"
            )
        if config.scores is not None and config.select != "scores":
            raise ConfigError(
                f"{key}.scores={config.scores!r} is given with select={config.select!r}, which"
                " reads no scores; allowed: select=scores, or no scores"
            )
        if config.scores is not None:
            read_scores(config.scores, scenario.seed)
        if config.select in RANKED and config.budget is None:
            raise ConfigError(
                f"{key}.budget=None with select={config.select!r}: a ranking needs a budget;"
                f" allowed: real customers to contact, 0 to {MAX_BUDGET:g}"
            )
        if config.select == "everyone" and config.budget is not None:
            raise ConfigError(
                f"{key}.budget={config.budget:g} with select='everyone', which treats every"
                " eligible customer; allowed: no budget, or select random, risk or scores"
            )
        for name, kind in TREATMENTS.items():
            kind.check(treatment_config(config, name), scenario, f"{key}.{name}_")

    def setup(self) -> None:
        if self.config.scores is not None:
            rows = read_scores(self.config.scores, self.model.config.seed)
            keys = rows["customer_key"].to_numpy(np.uint64)
            order = np.argsort(keys)
            self.scores = keys[order], rows["score"].to_numpy(np.float64)[order]

    def watching(self, month: int) -> bool:
        """Whether ``month`` is the month before the contact, when the risk rule watches."""
        return self.watch is not None and month - self.model.config.burn_in == self.config.start

    def active(self, month: int) -> bool:
        return self.watching(month) or super().active(month)

    def before_customers(self, month: int) -> None:
        c = self.model.customers
        if self.watching(month):
            assert self.watch is not None
            self.watch.before(c)
            return
        if month - self.model.config.burn_in == self.config.start + 1:
            rows = self.chosen(month)
            c.contacted[rows] = month
            self.treated = float(c.weight[rows].sum(dtype=np.float64))
            costs = self.treatment.apply(rows, month)
            self.book("contacts", costs.contact * c.weight[rows], rows)
            offer = costs.offer
        else:
            rows, offer = self.treatment.carry(month)
        self.book("offers", offer * c.weight[rows], rows)

    def after_customers(self, month: int) -> None:
        if self.watching(month):
            assert self.watch is not None
            self.watch.after(self.model.customers)

    def chosen(self, month: int) -> np.ndarray:
        """The rows of the customers treated in ``month``: eligible ones as ``select`` says."""
        cfg, c = self.config, self.model.customers
        eligible = np.flatnonzero(c.active & np.isin(c.tier, self.tiers))
        if cfg.select == "everyone":
            return eligible
        u = self.uniform("assign", month, c.key[eligible])
        if cfg.budget is None:  # random: a share of each tier
            order = np.lexsort((u, c.tier[eligible]))
            tier = c.tier[eligible][order]
            first = np.searchsorted(tier, tier, side="left")
            counts = np.bincount(tier, minlength=len(TIERS))
            take = np.rint(cfg.share * counts)[tier]
            return np.sort(eligible[order][np.arange(len(order)) - first < take])
        order = np.lexsort((u, -self.priority(month, eligible)))
        ranked = eligible[order]
        reach = np.cumsum(c.weight[ranked], dtype=np.float64)
        return np.sort(ranked[reach <= cfg.budget * (1 + 1e-9)])

    def priority(self, month: int, rows: np.ndarray) -> np.ndarray:
        """The rank of each row under ``select`` (highest first; random: all equal)."""
        if self.watch is not None:
            return self.watch.score(self.model, month)[rows]
        if self.scores is None:
            return np.zeros(len(rows))
        keys, scores = self.scores
        wanted = self.model.customers.key[rows]
        at = np.searchsorted(keys, wanted)
        inside = at < len(keys)
        found = np.zeros(len(rows), bool)
        found[inside] = keys[at[inside]] == wanted[inside]
        value = np.full(len(rows), -np.inf)  # customers the file lacks rank last
        value[found] = scores[at[found]]
        return np.where(np.isnan(value), -np.inf, value)
