"""A scenario and its baseline on the same seed, stepped together month by month.

The scenario is built from the dashboard's settings through :func:`sim.scenario.load_config`
(the one validated path); its baseline is the same config without strategies, so both draw the
same random numbers (common random numbers) and differ only by what the strategies do.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from mesa import Model

from sim.config import scaled_bank
from sim.model import BankModel
from sim.scenario import load_config
from sim.strategies import REGISTRY
from sim.strategies.outlet_closure import ADAPTING

BASELINE, SCENARIO = "baseline", "scenario"
DEFAULT_CUSTOMERS = 5_000
MAIN_LEVERS = {
    "branch_experience": ("count", "quality_bonus", "wait_factor"),
    "digital_scenario": ("investment", "quality_gain", "acquisition_rate"),
    "follow_up": ("share", "lift", "save"),
    "lean_service": ("prevented_share", "fit_cap", "vas_perk"),
    "mentoring": ("ratio", "learning_boost", "quit_reduction"),
    "outlet_closure": ("count", "staff_moved", "shock"),
    "partner_promotion": ("budget", "participation", "perk"),
    "product_innovation": ("fit_gain", "uptake", "ramp_months"),
    "training": ("hours", "skill_per_hour", "cost_per_hour"),
}
"""The strategies the page offers, and the few parameters of each it offers as sliders, in its
typed config's words (the targeting lab's one-off ``campaign`` is left to ``experiments.pilot``)."""
WIDEST = 10  # a slider spans the config's range, or 4x the default if the top is above 10x
RISK_SATISFACTION = 0.5
RISK_ENGAGEMENT = 0.3
AT_RISK_RULE = (
    f"at risk: satisfaction below {RISK_SATISFACTION}, engagement below {RISK_ENGAGEMENT},"
    " or still adapting to a branch closure"
)


@dataclass(frozen=True)
class Lever:
    """One strategy parameter offered as a slider, its range from the typed config."""

    strategy: str
    name: str
    unit: str
    default: float
    lo: float
    hi: float
    integer: bool

    @property
    def key(self) -> str:
        """The scenario key it sets, without the ``strategy.`` prefix: ``training.hours``."""
        return f"{self.strategy}.{self.name}"

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()

    @property
    def step(self) -> float:
        """A slider step of about a hundredth of the range, rounded to a power of ten."""
        if self.integer:
            return 1
        return 10.0 ** math.floor(math.log10((self.hi - self.lo) / 100))


@dataclass(frozen=True)
class Settings:
    """What the page's controls chose: strategies, lever values, seed and population size."""

    strategies: tuple[str, ...] = ("outlet_closure",)
    values: tuple[tuple[str, float], ...] = (("outlet_closure.count", 1),)
    """(Lever.key, value) of the levers moved: by default outlet closure closes one of the 3
    branches of 5,000 customers."""
    seed: int = 0
    customers: int = DEFAULT_CUSTOMERS

    def value(self, lever: Lever) -> float:
        return dict(self.values).get(lever.key, lever.default)

    def with_value(self, lever: Lever, value: float) -> Settings:
        values = {**dict(self.values), lever.key: value}
        return dataclasses.replace(self, values=tuple(sorted(values.items())))


def description(name: str) -> str:
    """What a strategy does: its docstring's first line."""
    return (REGISTRY[name].__doc__ or name).strip().splitlines()[0]


def levers(name: str) -> list[Lever]:
    """The sliders of one strategy, from the metadata of its typed config."""
    fields = {f.name: f for f in dataclasses.fields(REGISTRY[name].Config)}
    return [_lever(name, fields[p]) for p in MAIN_LEVERS.get(name, ())]


def _lever(strategy: str, field: dataclasses.Field) -> Lever:
    meta, default = field.metadata, field.default
    hi = meta["hi"] if not default or meta["hi"] <= WIDEST * abs(default) else 4 * default
    unit = meta["unit"].split(";")[0]
    return Lever(strategy, field.name, unit, default, meta["lo"], hi, isinstance(default, int))


def overrides(settings: Settings, with_strategies: bool = True) -> list[str]:
    """Hydra overrides of the scenario (or, without strategies, of its baseline): the default
    bank's network scaled to the book chosen (:func:`sim.config.scaled_bank`: 3 branches and 10
    client managers for 5,000 simulated customers, as ``population=small``)."""
    network = [f"{key}={value}" for key, value in scaled_bank(settings.customers).items()]
    common = [f"population.customers={settings.customers}", *network, f"seed={settings.seed}"]
    if not with_strategies or not settings.strategies:
        return common
    chosen = set(settings.strategies)
    values = [f"strategy.{k}={v}" for k, v in settings.values if k.split(".")[0] in chosen]
    return [*common, f"strategy=[{','.join(settings.strategies)}]", *values]


class ScenarioPair(Model):
    """The scenario and its baseline (two ``BankModel``), one month each per step, burn-in
    already run; stops after the measured months."""

    def __init__(self, settings: Settings | None = None):
        settings = settings or Settings()
        super().__init__(rng=settings.seed)
        self.settings = settings
        configs = {
            SCENARIO: load_config(overrides(settings)),
            BASELINE: load_config(overrides(settings, with_strategies=False)),
        }
        self.arms = {arm: BankModel(config) for arm, config in configs.items()}
        self.months = configs[SCENARIO].months
        for bank in self.arms.values():
            for _ in range(bank.config.burn_in):
                bank.step()

    @property
    def month(self) -> int:
        """Measured months stepped so far."""
        return len(self.arms[SCENARIO].kpi_rows)

    def step(self) -> None:
        for bank in self.arms.values():
            bank.step()
        self.running = self.month < self.months

    def series(self, arm: str) -> pd.DataFrame:
        """The arm's monthly KPIs so far, from month 0 (everyone still with the bank)."""
        start = {"month": 0, "retention": 1.0, "retention_mid_high": 1.0, "profit": 0.0}
        return pd.DataFrame([start, *self.arms[arm].kpi_rows])


def at_risk(bank: BankModel) -> np.ndarray:
    """Active customers at risk (:data:`AT_RISK_RULE`), as a mask of the used rows."""
    c = bank.customers
    risky = (
        (c.satisfaction < RISK_SATISFACTION)
        | (c.engagement < RISK_ENGAGEMENT)
        | (c.adapt == ADAPTING)
    )
    return c.active & risky
