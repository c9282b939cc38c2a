"""The strategy interface and the registry that maps names to strategy classes.

A strategy is a policy with a life cycle like a Starsim intervention: ``setup`` once when the
model is built, then ``before_customers`` and ``after_customers`` every month it is active (from
``start`` to ``end``, in measured months). It changes the model through its levers (rebuilt each
month by ``BankModel.reset_levers``, so an ended strategy leaves them) or through lasting state
(skills, branches, balances), and books its costs and revenues on its own ledger lines, named
``<strategy>.<line>``.
"""

from __future__ import annotations

import csv
import dataclasses
import shlex
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import yaml
from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

from sim.config import MAX_MONTHS, check_literal, field_default
from sim.kpis import REGISTRY as KPIS
from sim.params import ConfigError, check_node, describe_allowed, param

if TYPE_CHECKING:
    from sim.config import Config as ModelConfig
    from sim.model import BankModel

REGISTRY: dict[str, type[Strategy[Any]]] = {}


@dataclass
class StrategyConfig:
    """Parameters every strategy has; a strategy's own config subclasses this."""

    start: int = param(
        0,
        "measured months before it first acts (0: acts from month 1)",
        "scenario choice; before the run's last month",
        0,
        MAX_MONTHS - 1,
    )
    end: int | None = param(
        None, "last measured month it acts (empty: to the end)", "scenario choice", 1, MAX_MONTHS
    )


class Strategy[C: StrategyConfig]:
    """Base class: subclass it, set ``name``, ``Config`` and its ledger lines, and register it.
    ``C`` is the type of its config (``class Training(Strategy[TrainingConfig])``), so a type
    checker knows the parameters ``self.config`` has."""

    name: ClassVar[str]
    title: ClassVar[str]  # in a strategy team's words, for reports and the dashboard
    Config: ClassVar[type[StrategyConfig]] = StrategyConfig
    cost_lines: ClassVar[tuple[str, ...]] = ()
    revenue_lines: ClassVar[tuple[str, ...]] = ()
    needs_managers: ClassVar[bool] = False  # works through client managers (idle without them)

    def __init__(self, model: BankModel, config: C):
        self.model, self.config = model, config
        for line in self.cost_lines:
            model.ledger.open_line(f"{self.name}.{line}", "cost")
        for line in self.revenue_lines:
            model.ledger.open_line(f"{self.name}.{line}", "revenue")

    @classmethod
    def check(cls, config: C, scenario: ModelConfig) -> None:
        """Raise ConfigError if the parameters do not fit the scenario (e.g. too many closures);
        a strategy's own check extends this one (``super().check(config, scenario)``)."""
        key = f"strategy.{cls.name}"
        if config.start >= scenario.months:
            raise ConfigError(
                f"{key}.start={config.start} is not before the run's last month, so the strategy"
                f" would never act; allowed 0 to {scenario.months - 1} (months={scenario.months})"
            )
        if cls.needs_managers and scenario.bank.managers == 0:
            raise ConfigError(
                f"bank.managers=0 leaves {key} nothing to act on; it works through client"
                " managers: allowed >= 1, or drop the strategy"
            )

    def uniform(self, purpose: str, month: int, keys) -> np.ndarray:
        """One U(0, 1) per key from this strategy's own stream for ``purpose`` and ``month``
        (``strategy:<name>:<purpose>``), so other processes' draws stay put."""
        return self.model.streams.uniform(f"strategy:{self.name}:{purpose}", month, keys)

    def active(self, month: int) -> bool:
        """Whether the strategy acts in this (absolute) month."""
        measured = month - self.model.config.burn_in
        end = self.config.end
        return measured > self.config.start and (end is None or measured <= end)

    def ended(self, month: int) -> bool:
        """Whether this (absolute) month is after the strategy's last active month."""
        end = self.config.end
        return end is not None and month - self.model.config.burn_in > end

    def book(self, line: str, amount, rows=None) -> None:
        """Book on one of this strategy's lines: a programme cost (fixed group), or, with
        ``rows``, an amount spent on or earned from those customers (``BankModel.book_share``)."""
        if rows is None:
            self.model.ledger.book(f"{self.name}.{line}", amount)
        else:
            self.model.book_share(f"{self.name}.{line}", amount, rows)

    def setup(self) -> None:
        """Once, after the world is built."""

    def before_customers(self, month: int) -> None:
        """Each active month, before the customer step."""

    def after_customers(self, month: int) -> None:
        """Each active month, after the customer step and before the books close."""

    def after_end(self, month: int) -> None:
        """Each month after ``end``, when ``after_customers`` would run: run down what lasts
        (e.g. service a loan book)."""


def check_branch_ids(key: str, ids: list[int], branches: int) -> None:
    """Refuse branch indices that do not exist or repeat."""
    bad = [i for i in ids if not 0 <= i < branches]
    if bad:
        raise ConfigError(
            f"{key}={ids} has unknown branch {bad[0]}; allowed ids 0 to {branches - 1}"
            f" (bank.branches={branches})"
        )
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ConfigError(f"{key}={ids} lists branch {repeated[0]} more than once")


def register[S: type[Strategy[Any]]](cls: S) -> S:
    """Class decorator adding a strategy to the registry under its ``name``."""
    if cls.name in REGISTRY:
        raise ValueError(f"strategy {cls.name!r} is already registered")
    REGISTRY[cls.name] = cls
    return cls


def title(arm: str) -> str:
    """An arm's name in words: a strategy's title ("Outlet closure"), "Baseline", "Playbook
    (service-led mix)", or the arm's own name for any other."""
    if arm in REGISTRY:
        return REGISTRY[arm].title
    return {"baseline": "Baseline", "playbook": "Playbook (service-led mix)"}.get(arm, arm)


def not_a_parameter(name: str, key: str) -> str:
    """The refusal of ``strategy.<name>.<key>`` when the strategy has no such parameter."""
    fields = ", ".join(f.name for f in dataclasses.fields(REGISTRY[name].Config))
    return (
        f"strategy.{name}.{key} is not a parameter of {name}; its parameters: {fields}"
        f" (docs/strategies.md#{name})"
    )


def strategy_config(name: str, params) -> StrategyConfig:
    """The typed, range-checked config of one named strategy."""
    if name not in REGISTRY:
        raise ConfigError(f"strategy={name!r} is unknown; valid strategies: {sorted(REGISTRY)}")
    cls = REGISTRY[name]
    if isinstance(params, cls.Config):
        typed = params
    else:
        check_literals_of(name, cls.Config, params or {})
        try:
            merged = OmegaConf.merge(OmegaConf.structured(cls.Config), params or {})
        except ConfigKeyError as exc:
            raise ConfigError(not_a_parameter(name, str(exc.full_key))) from None
        except OmegaConfBaseException as exc:
            key = getattr(exc, "full_key", None) or "?"
            raise ConfigError(f"strategy.{name}.{key}: {str(exc).splitlines()[0]}") from None
        typed = typing.cast(StrategyConfig, OmegaConf.to_object(merged))
    check_node(typed, f"strategy.{name}.")
    if typed.end is not None and typed.end <= typed.start:
        raise ConfigError(f"strategy.{name}.end={typed.end} is not after start={typed.start}")
    return typed


def check_literals_of(name: str, config_type: type[StrategyConfig], params) -> None:
    """Refuse a strategy's raw values that merging would silently reinterpret
    (``sim.config.check_literal``)."""
    hints = typing.get_type_hints(config_type)
    for f in dataclasses.fields(config_type):
        if f.name in params:
            key = f"strategy.{name}.{f.name}"
            check_literal(key, hints[f.name], field_default(f), params[f.name])


def _yaml(value) -> str:
    """A value as inline YAML (``null``, ``[a, b]``, ``0.5``)."""
    dumped = yaml.safe_dump(value, default_flow_style=True, width=float("inf"))
    return dumped.removesuffix("...\n").strip()


def config_yaml(cls: type[Strategy[Any]]) -> str:
    """The Hydra file of a strategy, generated from its typed config."""
    doc = (cls.__doc__ or cls.name).strip().splitlines()[0]
    lines = [
        f"# @package strategy.{cls.name}",
        f"# {doc}",
        "# Generated from the typed config by `python -m sim.strategies`; edit that, not this.",
    ]
    for f in dataclasses.fields(cls.Config):
        meta, default = f.metadata, _yaml(field_default(f))
        lines.append(f"{f.name}: {default}  # {meta['unit']}; {describe_allowed(meta)}")
    return "\n".join(lines) + "\n"


STRATEGIES_INTRO = """# Strategies

Generated by `.venv/bin/python -m sim.strategies` from the strategies' docstrings and typed configs.

Run one or several: `.venv/bin/python -m sim.run strategy=[training,follow_up]`, or the preset
`strategy=playbook`; set parameters with `strategy.<name>.<parameter>=<value>` (for example
`strategy=[outlet_closure] strategy.outlet_closure.count=3`). Every strategy has `start` (measured
months before it first acts) and `end` (the last measured month it acts; empty for the whole
run). The active strategies and all their parameters are recorded in the run's `config.yaml`,
their names in `summary.json`.

## How strategies compose

The model rebuilds its levers every month, then each active strategy applies its own, in the
order given. So effects on the same lever combine: customer perks, product-fit bonuses, branch
quality bonuses and digital quality **add** (experience, fit and quality are clipped to 0-1);
fee-surprise, wait, manager learning, quit and contact factors **multiply**. Lasting changes
(manager skill, closed or opened branches, balances, a strategy's own loan book) persist after a
strategy ends; flow effects stop with it. Each strategy books its costs (and any revenues) on its
own ledger lines, `cost_<strategy>.<line>` and `revenue_<strategy>.<line>` in the time series.
"""


EFFECTS = Path(__file__).resolve().parents[2] / "docs" / "strategy_effects.csv"
EFFECT_KPIS = {"retention": "retention_horizon", "mid_high": "retention_mid_high", "npv": "npv"}
"""The measures of ``EFFECTS`` (its columns) and the KPI each is (``python -m experiments.effects``
writes them, in stored units; the table shows them in the KPI's display unit)."""


def effects_markdown(path: Path = EFFECTS) -> list[str]:
    """The measured effects of the strategies at their defaults (``docs/strategy_effects.csv``,
    written by ``python -m experiments.effects``) as a table; nothing if there is no file."""
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))

    kpis = {name: KPIS[kpi] for name, kpi in EFFECT_KPIS.items()}

    def cell(row, name):
        keys = (name, f"{name}_low", f"{name}_high")
        value, low, high = (float(row[k]) * kpis[name].scale for k in keys)
        return f"{value:+.2f} ({low:+.2f} to {high:+.2f}), {row[f'{name}_verdict']}"

    def unit(name):
        return kpis[name].unit_label(delta=True)

    seeds = rows[0]["seeds"] if rows else "?"
    return [
        "## Effects at the defaults",
        "",
        "Each strategy at its defaults against the baseline on the default bank (60 measured"
        f" months, {seeds} seeds, common random numbers): the mean difference with its"
        " simultaneous 95% CI and the verdict (see docs/experiments.md). Regenerate with"
        " `.venv/bin/python -m experiments.compare`, `.venv/bin/python -m experiments.effects"
        " results/experiments/playbook` and `.venv/bin/python -m sim.strategies`.",
        "",
        f"| strategy | retention ({unit('retention')}) | mid/high retention"
        f" ({unit('mid_high')}) | NPV ({unit('npv')}) | why a banker would find it plausible |",
        "|---|---|---|---|---|",
        *(
            f"| `{r['strategy']}` | {cell(r, 'retention')} | "
            f"{cell(r, 'mid_high')} | {cell(r, 'npv')} | {r['why']} |"
            for r in rows
        ),
        "",
    ]


def strategies_markdown(names: list[str]) -> str:
    """The strategies reference: measured effects, then mechanism, parameters and an example
    command for each."""
    parts = [STRATEGIES_INTRO, *effects_markdown()]
    for name in sorted(names):
        cls = REGISTRY[name]
        fields = dataclasses.fields(cls.Config)
        parts += [
            f"## `{name}`",
            "",
            (sys.modules[cls.__module__].__doc__ or "").strip(),
            "",
            "| parameter | default | unit | allowed | source |",
            "|---|---|---|---|---|",
            *(
                f"| `{f.name}` | {_yaml(field_default(f))} | {f.metadata['unit']} | "
                f"{describe_allowed(f.metadata)} | {f.metadata['source']} |"
                for f in fields
            ),
            "",
        ]
        own = [f for f in fields if f.name not in ("start", "end")]
        example = f".venv/bin/python -m sim.run strategy=[{name}]"
        if own:
            example += " " + shlex.quote(
                f"strategy.{name}.{own[0].name}={_yaml(field_default(own[0]))}"
            )
        parts += [f"Example: `{example}`", ""]
    return "\n".join(parts).rstrip() + "\n"


def build(model: BankModel) -> list[Strategy[Any]]:
    """Instantiate the configured strategies through the registry, in config order; their
    configs are already typed (``sim.scenario.to_config``)."""
    return [REGISTRY[name](model, config) for name, config in model.config.strategy.items()]
