"""Typed configuration schema of the model, registered in Hydra's ConfigStore, and its validation.

Every leaf parameter is declared with :func:`sim.params.param`, which records its unit, allowed
range and source, and a list's length or a map's fixed keys (one value per tier, per number of
products held, per engagement state, per experience or engagement component). Validation
(:func:`validate`) walks the schema and reports the first bad value as one line naming the key,
the value and what is allowed. ``docs/parameters.md`` is generated from the same metadata
(``python -m sim.config``), so the reference cannot drift from the code.

The schema is split by area, one module each: ``constants`` (tiers and shared bounds),
``population``, ``bank`` (and :func:`scaled_bank`, the default bank's network for
another book), ``market``, ``economics``, ``behaviour``, ``output``, ``schema`` (the
whole scenario, :class:`Config`, and :func:`register`), ``validation`` and ``reference`` (the
parameter reference). Import from ``sim.config``: every public name is re-exported here.
"""

from __future__ import annotations

from sim.config.bank import BankConfig, BankDataConfig, CostToServeConfig, scaled_bank
from sim.config.behaviour import BehaviourConfig, LoyaltyConfig, RelationshipConfig
from sim.config.constants import (
    ENGAGEMENT_COMPONENTS,
    ENGAGEMENT_STATES,
    EXPERIENCE_COMPONENTS,
    MAX_CNY,
    MAX_MONTHS,
    PER_TIER,
    PRODUCT_COUNTS,
    TIER_BOUNDS,
    TIERS,
)
from sim.config.economics import EconomicsConfig
from sim.config.market import (
    DEFAULT_COMPETITORS,
    DEFAULT_PARTNERS,
    CompetitorConfig,
    MarketConfig,
    PartnerConfig,
)
from sim.config.output import OutputConfig
from sim.config.population import DEFAULT_SEGMENTS, PopulationConfig, SegmentConfig
from sim.config.reference import parameter_markdown, parameter_rows
from sim.config.schema import Config, register
from sim.config.validation import (
    check_literal,
    check_literals,
    field_default,
    schema_field,
    validate,
)

__all__ = [
    "DEFAULT_COMPETITORS",
    "DEFAULT_PARTNERS",
    "DEFAULT_SEGMENTS",
    "ENGAGEMENT_COMPONENTS",
    "ENGAGEMENT_STATES",
    "EXPERIENCE_COMPONENTS",
    "MAX_CNY",
    "MAX_MONTHS",
    "PER_TIER",
    "PRODUCT_COUNTS",
    "TIERS",
    "TIER_BOUNDS",
    "BankConfig",
    "BankDataConfig",
    "BehaviourConfig",
    "CompetitorConfig",
    "Config",
    "CostToServeConfig",
    "EconomicsConfig",
    "LoyaltyConfig",
    "MarketConfig",
    "OutputConfig",
    "PartnerConfig",
    "PopulationConfig",
    "RelationshipConfig",
    "SegmentConfig",
    "check_literal",
    "check_literals",
    "field_default",
    "parameter_markdown",
    "parameter_rows",
    "register",
    "scaled_bank",
    "schema_field",
    "validate",
]
