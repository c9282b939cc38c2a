"""Partner promotions (playbook item 3, 跨界合作): supermarket, travel, renovation, rural partners.

Every active month each promoted partner reaches ``reach`` of its customers (``customers``, a share
of the city's potential bank customers, skewed to its segments), who convert at its ``conversion``
into new customers (channel ``partner``) unless they are with the bank already. Existing
customers of its segments enrol (a fixed share, the same customers every month) and so do its
recruits: participants get a perk (card instalments, payment discounts) and ``engagement``, and
the bank pays the partner's ``subsidy`` per participant per month; when subsidies would exceed
``budget``, every programme (leads and participants) is scaled down alike. Some recruits and
participants take the partner's loan (``loan_size``), one more product held; the strategy keeps
these loans as its own book per partner, repaid linearly over ``loan_term`` months, earning
``loan_rate`` and losing ``default_rate`` x ``loss_given_default`` a year, funded at
``funding_rate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.config import MAX_CNY
from sim.params import ANY_LENGTH, ConfigError, param
from sim.strategies.base import Strategy, StrategyConfig, register

if TYPE_CHECKING:
    from sim.agents import Partner
    from sim.config import Config as ModelConfig

MAX_PRODUCTS = 6


@dataclass
class PartnerPromotionConfig(StrategyConfig):
    partners: list[str] = param(
        ["supermarket", "travel", "renovation", "rural"],
        "partners promoted (names in market.partners)",
        "playbook item 3: all four partners of the default market",
        length=ANY_LENGTH,
    )
    budget: float = param(
        1_000_000.0,
        "CNY per month, cap on subsidies paid to partners",
        "synthetic; ~4% of the default bank's monthly revenue",
        0.0,
        MAX_CNY,
    )
    participation: float = param(
        0.05,
        "share of a partner's segments' customers enrolled in its programme",
        "synthetic; co-branded card and payment-discount uptake of a few percent",
        0.0,
        1.0,
    )
    perk: float = param(
        0.05,
        "experience added to a participant each month, per programme",
        "synthetic; about a fifth less switching hazard for a participant",
        0.0,
        1.0,
    )
    engagement: float = param(
        0.1,
        "engagement target 0-1 added to a participant each month, per programme",
        "synthetic; card instalments and payment discounts bring everyday transactions",
        0.0,
        1.0,
    )
    other_weight: float = param(
        1.0,
        "lead weight of segments a partner's skew does not list",
        "reading of market.partners.*.skew: unlisted segments keep their plain share",
        0.0,
        100.0,
    )
    loan_share_new: float = param(
        0.25,
        "share of a partner's recruits who join with its loan",
        "synthetic; instalment or cooperative loans are a main reason to join",
        0.0,
        1.0,
    )
    loan_uptake: float = param(
        0.01,
        "monthly probability that a participant takes the partner's loan",
        "synthetic; ~12% of participants a year",
        0.0,
        1.0,
    )
    loan_term: int = param(
        24,
        "months over which a partner loan is repaid (linearly)",
        "consumer instalment loans run 6-36 months",
        1,
        360,
    )
    loss_given_default: float = param(
        0.6,
        "share of a defaulted partner loan lost",
        "unsecured retail credit, typically 0.5-0.75",
        0.0,
        1.0,
    )
    funding_rate: float = param(
        0.02,
        "cost of funds per year on the partner loan book",
        "Chinese banks' cost of interest-bearing liabilities ~2% (2024)",
        0.0,
        1.0,
    )


@register
class PartnerPromotion(Strategy[PartnerPromotionConfig]):
    """Partner promotions: leads, perks and subsidies for participants, a partner loan book."""

    name = "partner_promotion"
    title = "Partner promotion"
    Config = PartnerPromotionConfig
    cost_lines = ("subsidies", "funding", "credit_losses")
    revenue_lines = ("loan_interest",)

    @classmethod
    def check(cls, config: PartnerPromotionConfig, scenario: ModelConfig) -> None:
        super().check(config, scenario)
        key, valid = f"strategy.{cls.name}", sorted(scenario.market.partners)
        if not config.partners:
            raise ConfigError(f"{key}.partners is empty; choose one or more of {valid}")
        for name in config.partners:
            if name not in valid:
                raise ConfigError(
                    f"{key}.partners: {name!r} is not a partner; valid partners: {valid}"
                )
        if len(set(config.partners)) < len(config.partners):
            raise ConfigError(f"{key}.partners={config.partners} names a partner twice")
        segments = scenario.population.segments
        for name in config.partners:
            skew = scenario.market.partners[name].skew
            if unknown := [seg for seg in skew if seg not in segments]:
                raise ConfigError(
                    f"market.partners.{name}.skew.{unknown[0]}: unknown segment, and {key}"
                    f" promotes {name}; known: {sorted(segments)}"
                )
            if not any(s.share * skew.get(n, config.other_weight) for n, s in segments.items()):
                raise ConfigError(
                    f"{key}.other_weight={config.other_weight:g} leaves partner {name!r} no"
                    f" leads: no segment with customers has a positive weight in its skew"
                    f" {dict(skew)}; allowed > 0, or a skew naming a segment with customers"
                )

    def setup(self) -> None:
        by_name = {p.name: p for p in self.model.partners}
        self.partners = [by_name[name] for name in self.config.partners]
        segments = self.model.segment_names
        self.targets, self.weights, self.recruits, self.vintages = {}, {}, {}, {}
        for p in self.partners:
            skew = p.config.skew
            self.targets[p.name] = np.array([s in skew for s in segments])
            self.weights[p.name] = np.array(
                [skew.get(s, self.config.other_weight) for s in segments], np.float64
            )
            self.recruits[p.name] = np.empty(0, np.uint64)  # keys of the partner's newcomers
            self.vintages[p.name] = (np.empty(0, np.int64), np.empty(0))  # month, real CNY
            p.active = False
        self.factor = 1.0  # share of each programme the budget affords this month
        self.rows: dict[str, np.ndarray] = {}  # this month's participants' rows, by partner
        self.participants = dict.fromkeys(self.recruits, 0.0)  # real, this month
        self.new_customers = dict.fromkeys(self.recruits, 0.0)  # real, this month
        self.loans = dict.fromkeys(self.recruits, 0.0)  # outstanding, real CNY

    # Participants: perks and subsidies ---------------------------------------------------------

    def before_customers(self, month: int) -> None:
        c, cfg = self.model.customers, self.config
        wanted, demand = {}, 0.0
        for p in self.partners:
            p.active = True
            # A fixed draw per customer (month 0): the same customers stay enrolled.
            key = self.uniform(f"enrol:{p.name}", 0, c.key)
            key[np.isin(c.key, self.recruits[p.name])] = -1.0  # recruits are enrolled first
            enrolled = (key < 0) | (self.targets[p.name][c.segment] & (key < cfg.participation))
            rows = np.flatnonzero(c.active & enrolled)
            wanted[p.name] = (rows, key[rows])
            demand += float(c.weight[rows].sum(dtype=np.float64)) * p.config.subsidy
        self.factor = 1.0 if demand <= cfg.budget else cfg.budget / demand
        for p in self.partners:
            rows, key = wanted[p.name]
            if self.factor < 1.0 and rows.size:  # the budget affords the lowest draws
                order = rows[np.argsort(key, kind="stable")]
                reach = np.cumsum(c.weight[order], dtype=np.float64)
                rows = np.sort(order[reach <= self.factor * reach[-1]])
            c.perks[rows] += np.float32(cfg.perk)
            c.engagement_lift[rows] += np.float32(cfg.engagement)
            self.rows[p.name] = rows
            self.participants[p.name] = float(c.weight[rows].sum(dtype=np.float64))
            self.book("subsidies", self.participants[p.name] * p.config.subsidy, rows)

    # Leads, new customers and the partner loan books ------------------------------------------

    def after_customers(self, month: int) -> None:
        cfg, model = self.config, self.model
        for p in self.partners:
            pc = p.config
            leads = pc.reach * pc.customers * model.market.potential.sum()
            rate = leads * self.factor * pc.conversion
            new = model.acquire("partner", rate, self.weights[p.name], stream=f"partner:{p.name}")
            c = model.customers  # fresh views: acquiring may have grown the columns
            new_keys = c.key[new]
            self.recruits[p.name] = np.concatenate([self.recruits[p.name], new_keys])
            self.new_customers[p.name] = float(c.weight[new].sum(dtype=np.float64))
            rows = self.rows[p.name]
            rows = rows[c.active[rows]]
            borrowers = np.concatenate(
                [
                    rows[self.uniform(f"loan:{p.name}", month, c.key[rows]) < cfg.loan_uptake],
                    np.arange(new.start, new.stop)[
                        self.uniform(f"new_loan:{p.name}", month, new_keys) < cfg.loan_share_new
                    ],
                ]
            )
            c.products[borrowers] = np.minimum(c.products[borrowers] + 1, MAX_PRODUCTS)
            lent = float(c.weight[borrowers].sum(dtype=np.float64)) * pc.loan_size
            self._run_loan_book(p, month, lent)

    def after_end(self, month: int) -> None:
        """The promotion is over: partners go idle, their loan books run off."""
        for p in self.partners:
            p.active = False
            self._run_loan_book(p, month, 0.0)

    def _run_loan_book(self, partner: Partner, month: int, originated: float) -> None:
        """Book a month of interest, funding and expected losses on the loans made before this
        month, then add this month's loans. A loan is repaid in ``loan_term`` equal parts."""
        cfg, pc = self.config, partner.config
        made, amount = self.vintages[partner.name]
        repaid = np.clip((month - made - 1) / cfg.loan_term, 0.0, 1.0)  # share repaid so far
        balance = float(np.dot(amount, 1.0 - repaid))
        self.book("loan_interest", pc.loan_rate / 12.0 * balance)
        self.book("funding", cfg.funding_rate / 12.0 * balance)
        self.book("credit_losses", pc.default_rate / 12.0 * cfg.loss_given_default * balance)
        live = repaid < 1.0
        made, amount = np.append(made[live], month), np.append(amount[live], originated)
        self.vintages[partner.name] = made, amount
        self.loans[partner.name] = float(
            np.dot(amount, 1.0 - np.clip((month - made) / cfg.loan_term, 0.0, 1.0))
        )
