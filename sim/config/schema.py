"""The top-level :class:`Config` (a whole scenario) and its registration in Hydra's
ConfigStore."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

from sim.config.bank import BankConfig
from sim.config.behaviour import BehaviourConfig
from sim.config.constants import MAX_MONTHS
from sim.config.economics import EconomicsConfig
from sim.config.market import MarketConfig
from sim.config.output import OutputConfig
from sim.config.population import PopulationConfig
from sim.params import param


@dataclass
class Config:
    """A whole scenario."""

    seed: int = param(0, "integer", "run seed", 0, 2**32 - 1)
    months: int = param(60, "measured months", "five years measured", 1, MAX_MONTHS)
    burn_in: int = param(12, "months before strategies act", "one year of warm-up", 0, 600)
    population: PopulationConfig = field(default_factory=PopulationConfig)
    bank: BankConfig = field(default_factory=BankConfig)
    market: MarketConfig = field(default_factory=MarketConfig)
    economics: EconomicsConfig = field(default_factory=EconomicsConfig)
    behaviour: BehaviourConfig = field(default_factory=BehaviourConfig)
    strategy: dict[str, Any] = param(
        {}, "strategy name -> its parameters", "none by default: the baseline"
    )
    output: OutputConfig = field(default_factory=OutputConfig)


def register() -> None:
    """Register the schema so Hydra's ``configs/`` tree is typed by it."""
    ConfigStore.instance().store(name="schema", node=Config)
