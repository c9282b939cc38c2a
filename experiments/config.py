"""The experiment schema: arms x replications x optional parameter points, and the executor.

``python -m experiments.compare`` composes ``configs/compare.yaml``: the scenario schema (so that
``population.customers=5000`` or ``months=36`` apply to every arm) plus ``replications`` (a number
of seeds, or ``auto``: batches of seeds until the verdicts are decided), an ``experiment`` preset
(``configs/experiment/``) and an ``executor`` (``configs/executor/``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from hydra.core.config_store import ConfigStore

from sim.config import Config
from sim.kpis import REGISTRY
from sim.params import ConfigError, param

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
AUTO = "auto"
MAX_REPLICATIONS = 100_000


@dataclass
class SampleConfig:
    """Random or Latin-hypercube sample of points in a box of parameter ranges."""

    method: str = param(
        "none", "how points are drawn", "scenario choice", choices=("none", "random", "lhs")
    )
    points: int = param(8, "points drawn", "scenario choice", 1, 10_000)
    ranges: dict[str, list[float]] = param(
        {}, "config key -> [low, high]", "scenario choice (integers are rounded)"
    )


@dataclass
class ExperimentConfig:
    name: str = param("playbook", "experiment folder under output.dir", "preset name")
    description: str = param("", "one line for reports", "preset")
    baseline: str = param("baseline", "the arm every other arm is compared with", "preset")
    arms: dict[str, list[str]] = param(
        {}, "arm -> scenario overrides (e.g. strategy=[training])", "preset"
    )
    only: list[str] = param([], "run just these arms (and the baseline); empty: all", "choice")
    overrides: list[str] = param(
        ["output.panel=false", "output.crm_extract=false"],
        "scenario overrides for every arm, before the command line's",
        "preset; panels and CRM extracts are skipped to keep stores small",
    )
    grid: dict[str, list[Any]] = param(
        {}, "config key -> values; every combination is a point", "scenario choice"
    )
    sample: SampleConfig = field(default_factory=SampleConfig)
    smallest_effect: dict[str, float] = param(
        {},
        "KPI -> smallest effect worth acting on: absolute for rates and satisfaction, a fraction"
        " of the baseline's |mean| for money and counts",
        "replaces the defaults of sim/kpis.py (docs/experiments.md)",
        0.0,
    )
    decision_kpis: list[str] = param(
        ["retention_horizon", "retention_mid_high", "aum_retention", "npv"],
        "KPIs whose verdicts replications=auto waits for",
        "retention, the affluent, their money and the value of the bank",
    )


@dataclass
class ExecutorConfig:
    kind: str = param(
        "local", "where runs execute", "local pool by default", choices=("local", "ray", "slurm")
    )
    workers: int = param(0, "local worker processes (0: all cores)", "machine", 0, 4_096)
    address: str = param("", "Ray cluster address (empty: start a local Ray)", "cluster")
    partition: str = param("", "SLURM partition (empty: the cluster default)", "cluster")
    timeout_min: int = param(60, "SLURM job time limit, minutes", "cluster", 1, 100_000)
    cpus_per_task: int = param(1, "SLURM CPUs per run", "cluster", 1, 1_024)
    local: bool = param(False, "SLURM through submitit's local executor (for tests)", "testing")


@dataclass
class CompareConfig(Config):
    replications: Any = param(
        20, "seeds per arm, shared by every arm, or auto", "common random numbers"
    )
    replications_min: int = param(10, "auto: seeds of the first batch", "workflow", 2)
    replications_batch: int = param(10, "auto: seeds added per batch", "workflow", 1)
    replications_max: int = param(60, "auto: seeds at most", "workflow", 2, MAX_REPLICATIONS)
    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    report: bool = param(True, "write the report when the runs are done", "workflow")


EXPERIMENT_KEYS = tuple(
    f.name for f in fields(CompareConfig) if f.name not in {g.name for g in fields(Config)}
)
"""The top-level keys of an experiment that are not scenario keys."""


def register() -> None:
    ConfigStore.instance().store(name="compare_schema", node=CompareConfig)


def check_experiment(cfg: CompareConfig) -> None:
    """Refuse what would make a broken experiment, before any run starts."""
    e = cfg.experiment
    if not NAME.match(e.name):
        raise ConfigError(
            f"experiment.name={e.name!r} is not allowed; use letters, digits, '_', '-' and '.',"
            " not starting with '.' (it names a folder under output.dir)"
        )
    if cfg.strategy:
        raise ConfigError(
            f"strategy={sorted(cfg.strategy)}: strategies belong to arms here; set them in"
            " experiment.arms"
        )
    if not e.arms:
        raise ConfigError("experiment.arms is empty; give at least the baseline, e.g. baseline: []")
    if e.baseline not in e.arms:
        raise ConfigError(f"experiment.baseline={e.baseline!r} is not an arm; arms: {list(e.arms)}")
    unknown = [a for a in e.only if a not in e.arms]
    if unknown:
        raise ConfigError(f"experiment.only: {unknown[0]!r} is not an arm; arms: {list(e.arms)}")
    for key, values in e.grid.items():
        if not values:
            raise ConfigError(f"experiment.grid.{key} is empty; give at least one value")
    if e.sample.method != "none":
        if not e.sample.ranges:
            raise ConfigError("experiment.sample.ranges is empty; give key: [low, high]")
        for key, bounds in e.sample.ranges.items():
            if len(bounds) != 2 or not bounds[0] < bounds[1]:
                raise ConfigError(
                    f"experiment.sample.ranges.{key}={bounds}; allowed [low, high] with low < high"
                )
    _check_replications(cfg)
    for name, value in e.smallest_effect.items():
        if name not in REGISTRY:
            raise ConfigError(
                f"experiment.smallest_effect.{name}={value!r}: unknown KPI; allowed: "
                f"{', '.join(REGISTRY)}"
            )
    unknown = [k for k in e.decision_kpis if k not in REGISTRY]
    if unknown or not e.decision_kpis:
        raise ConfigError(
            f"experiment.decision_kpis={e.decision_kpis}: give one or more of {', '.join(REGISTRY)}"
        )


def seeds_planned(cfg: CompareConfig) -> int:
    """Seeds to plan: ``replications``, or at most ``replications_max`` with ``auto``."""
    return cfg.replications_max if cfg.replications == AUTO else cfg.replications


def _check_replications(cfg: CompareConfig) -> None:
    r = cfg.replications
    if r == AUTO:
        if cfg.replications_min > cfg.replications_max:
            raise ConfigError(
                f"replications_min={cfg.replications_min} is above replications_max="
                f"{cfg.replications_max}; allowed replications_min <= replications_max"
            )
    elif isinstance(r, bool) or not isinstance(r, int) or not 2 <= r <= MAX_REPLICATIONS:
        raise ConfigError(
            f"replications={r!r} is not allowed; give a number of seeds from 2 to"
            f" {MAX_REPLICATIONS:,} (fewer than 2 give no confidence intervals) or {AUTO}"
        )
