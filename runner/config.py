"""The experiment schema: arms x replications x optional parameter points, and the executor.

``python -m experiments.compare`` composes ``configs/compare.yaml``: the scenario schema (so that
``population.customers=5000`` or ``months=36`` apply to every arm) plus ``replications`` (a number
of seeds, or ``auto``: batches of seeds until the verdicts are decided), an ``experiment`` preset
(``configs/experiment/``), an ``executor`` (``configs/executor/``; :func:`check_machine` holds
local work to this machine's cores and memory) and ``limits`` (``limits.force``: sim.resources).
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig

from sim.config import Config
from sim.kpis import REGISTRY
from sim.overrides import MAX_NAME, shown
from sim.params import ANY_LENGTH, ConfigError, Per, param
from sim.resources import (
    LimitsConfig,
    at_once,
    check_memory,
    check_workers,
    cores,
    heaviest,
    run_size,
)
from sim.scenario import GROUPS, compose_replacing

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
        {},
        "config key -> [low, high]",
        "scenario choice (integers are rounded)",
        length=Per("bound", ("low", "high")),
    )


@dataclass
class ExperimentConfig:
    name: str = param("playbook", "experiment folder under output.dir", "preset name")
    description: str = param("", "one line for reports", "preset")
    baseline: str = param("baseline", "the arm every other arm is compared with", "preset")
    arms: dict[str, list[str]] = param(
        {}, "arm -> scenario overrides (e.g. strategy=[training])", "preset", length=ANY_LENGTH
    )
    only: list[str] = param(
        [], "run just these arms (and the baseline); empty: all", "choice", length=ANY_LENGTH
    )
    chart_arms: list[str] = param(
        [],
        "arms the charts show beside the baseline; empty: up to 6, those with the largest effects",
        "choice",
        length=ANY_LENGTH,
    )
    references: list[str] = param(
        [],
        "arms the report ranks for comparison but never recommends (an oracle, treating everyone)",
        "choice",
        length=ANY_LENGTH,
    )
    overrides: list[str] = param(
        ["output.panel=false", "output.crm_extract=false"],
        "scenario overrides for every arm, before the command line's",
        "preset; panels and CRM extracts are skipped to keep stores small",
        length=ANY_LENGTH,
    )
    grid: dict[str, list[Any]] = param(
        {},
        "config key -> values; every combination is a point",
        "scenario choice",
        length=ANY_LENGTH,
    )
    sample: SampleConfig = field(default_factory=SampleConfig)
    smallest_effect: dict[str, float] = param(
        {},
        "KPI -> smallest effect worth acting on: absolute for rates and scores, a fraction of"
        " a year's revenue for money flows, of the opening AUM for aum_end, of the baseline's"
        " |mean| for counts",
        "replaces the defaults of sim/kpis.py (docs/experiments.md)",
        0.0,
    )
    decision_kpis: list[str] = param(
        ["retention_horizon", "retention_mid_high", "aum_retention", "npv"],
        "KPIs whose verdicts replications=auto waits for",
        "retention, the affluent, their money and the value of the bank",
        length=ANY_LENGTH,
    )


@dataclass
class ExecutorConfig:
    kind: str = param(
        "local", "where runs execute", "local pool by default", choices=("local", "ray", "slurm")
    )
    workers: int = param(
        0, "local worker processes (0: one per core)", "machine; at most two per core", 0, 4_096
    )
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
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    calibration: str = param(
        "",
        "a bank whose calibration's plausible sets every arm runs at (its plausible.yaml under"
        " results/calibration/<bank>/), or a plausible.yaml's path; empty: the bank as configured",
        "workflow",
    )
    calibration_sets: int = param(
        5, "calibration: the file's first (best) sets used", "cost", 1, 10_000
    )
    report: bool = param(True, "write the report when the runs are done", "workflow")
    dry_run: bool = param(
        False, "validate and plan, print the runs to do and stop, writing nothing", "workflow"
    )


def workers(executor: ExecutorConfig) -> int:
    """The local worker processes."""
    return executor.workers or cores()


def check_machine(configs: list[Config], executor: ExecutorConfig, limits: LimitsConfig) -> None:
    """Refuse (ConfigError) local work this machine cannot hold: more workers than its cores can
    use, or runs at a time (``configs``: every run) needing more memory than it has available."""
    if executor.kind != "local" or not configs:
        return
    check_workers("executor.workers", executor.workers, limits.force)
    estimates, largest = heaviest(configs)
    n = min(workers(executor), len(configs))
    what = f"{n} runs at a time (executor.workers={executor.workers}) of {run_size(largest)}"
    check_memory(what, at_once(estimates, n), limits.force, "customers, months or workers")


EXPERIMENT_KEYS = tuple(
    f.name for f in fields(CompareConfig) if f.name not in {g.name for g in fields(Config)}
)
"""The top-level keys of an experiment that are not scenario keys."""


def _maps(schema: type, prefix: str) -> tuple[str, ...]:
    """Dotted paths of the dict-typed fields of ``schema``, nested dataclasses included."""
    found: list[str] = []
    for name, hint in typing.get_type_hints(schema).items():
        if typing.get_origin(hint) is dict:
            found.append(f"{prefix}{name}")
        elif is_dataclass(hint):
            found.extend(_maps(hint, f"{prefix}{name}."))
    return tuple(found)


MAPS = _maps(ExperimentConfig, "experiment.")
"""The experiment's maps: ``MAP={...}`` replaces the preset's map, ``+MAP.KEY=...`` adds to it."""


def register() -> None:
    ConfigStore.instance().store(name="compare_schema", node=CompareConfig)


def compose(overrides: list[str]) -> DictConfig:
    """Compose ``configs/compare.yaml`` with ``overrides``; a map given whole (``MAP={...}``,
    no ``+``) replaces the preset's map instead of merging into it (Hydra merges a dict value
    into the existing node, and the schema's struct flag refuses the new keys)."""
    register()
    parsed = [_parse(override) for override in overrides]
    whole = {
        o.key_or_group: (o.input_line, o.value())
        for o in parsed
        if o.key_or_group in MAPS and _plain_dict(o)
    }
    for o in parsed:
        head = next((m for m in whole if o.key_or_group.startswith(f"{m}.")), None)
        if head:
            raise ConfigError(
                f"{o.input_line}: {head} is also given whole ({whole[head][0]}); put every"
                " entry in that map, or add entries to the preset's with +KEY=... alone"
            )
    return compose_replacing(parsed, lambda o: o.key_or_group in whole, "compare")


def _parse(override: str):
    try:
        return OverridesParser.create().parse_override(override)
    except HydraException as exc:
        first = str(exc).strip().splitlines()[0]
        raise ConfigError(f"{override}: {first} (see Hydra's override grammar)") from None


def _plain_dict(override) -> bool:
    """``KEY={...}`` without ``+``/``++``/``~``: a whole map."""
    plain = not (override.is_add() or override.is_force_add() or override.is_delete())
    return plain and isinstance(override.value(), dict)


def check_folder_name(key: str, name: str) -> None:
    """Refuse a name that cannot name one folder under output.dir."""
    if not NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise ConfigError(
            f"{key}='{shown(name)}' is not allowed; use at most {MAX_NAME} letters, digits, '_',"
            " '-' and '.', not starting with '.' (it names a folder under output.dir)"
        )


def check_experiment(cfg: CompareConfig) -> None:
    """Refuse what would make a broken experiment, before any run starts."""
    e = cfg.experiment
    check_folder_name("experiment.name", e.name)
    if cfg.calibration and type(cfg) is not CompareConfig:  # a command built on compare's
        raise ConfigError(
            f"calibration={cfg.calibration}: only ./testbed compare runs an experiment"
            " over a calibration's plausible sets; drop calibration="
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
    for key in ("chart_arms", "references"):
        unknown = [a for a in getattr(e, key) if a not in e.arms]
        if unknown:
            raise ConfigError(
                f"experiment.{key}: {unknown[0]!r} is not an arm; arms: {list(e.arms)}"
            )
    _check_scenario_keys(e)
    for key, values in e.grid.items():
        if not values:
            raise ConfigError(f"experiment.grid.{key} is empty; give at least one value")
    if e.grid and e.sample.method != "none":
        raise ConfigError(
            f"experiment.sample.method={e.sample.method} with experiment.grid={dict(e.grid)}:"
            " choose one, a grid or a sample (set experiment.sample.method=none for the grid)"
        )
    if e.sample.ranges and e.sample.method == "none":
        raise ConfigError(
            f"experiment.sample.ranges={dict(e.sample.ranges)} with experiment.sample.method=none"
            " would be ignored; set experiment.sample.method=lhs or random"
        )
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


def _check_scenario_keys(e: ExperimentConfig) -> None:
    """Grid and sample keys and the arms' overrides must be scenario keys; a point sets values,
    so grid and sample keys cannot be config groups."""
    points = {f"experiment.grid.{k}={v}": k for k, v in e.grid.items()}
    points |= {f"experiment.sample.ranges.{k}={v}": k for k, v in e.sample.ranges.items()}
    for what, key in points.items():
        _refuse_if_not_scenario(key, what)
        if key in GROUPS:
            raise ConfigError(
                f"{what}: {key} is a config group; a point sets values of keys (e.g."
                f" {key}.<key>), so give each choice of {key} its own arm instead"
            )
    for arm, overrides in e.arms.items():
        for override in overrides:
            key = override.lstrip("+~").partition("=")[0]
            _refuse_if_not_scenario(key, f"experiment.arms.{arm} has {override}")


def _refuse_if_not_scenario(key: str, what: str) -> None:
    """Refuse ``key`` where only scenario keys belong: the seed, output and experiment keys."""
    top = re.split(r"[./]", key, maxsplit=1)[0]
    if top == "seed":
        raise ConfigError(
            f"{what}: seeds are the replications, shared by every arm and point; set"
            " replications=N (and seed=S, the first, on the command line)"
        )
    if top == "output":
        raise ConfigError(
            f"{what}: output settings do not change a run's results; set output.* on the"
            " command line for the whole experiment"
        )
    if top in EXPERIMENT_KEYS:
        raise ConfigError(
            f"{what}: {top} is a setting of the whole experiment, not of a scenario; set it once"
            " on the command line"
        )


def seeds_planned(cfg: CompareConfig) -> int:
    """Seeds to plan: ``replications``, or at most ``replications_max`` with ``auto``."""
    return cfg.replications_max if cfg.replications == AUTO else cfg.replications


def looks(cfg) -> tuple[int, ...]:
    """The seed counts at which ``replications=auto`` checks the verdicts: replications_min,
    then every replications_batch more, up to replications_max (empty for a fixed number).
    ``cfg`` is the experiment's config or its stored mapping (experiment.yaml)."""
    get = cfg.get if isinstance(cfg, dict) else lambda key, default=None: getattr(cfg, key)
    if get("replications") != AUTO:
        return ()
    low, step, high = (int(get(f"replications_{k}")) for k in ("min", "batch", "max"))
    return (*range(low, high, step), high)


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
