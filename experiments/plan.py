"""From an experiment config to the list of runs: arms x parameter points x seeds.

Every arm composes the same scenario (the preset's and the command line's overrides), then its
own overrides, then the point's; seeds ``seed .. seed + replications - 1`` are shared by every arm
and point (common random numbers); ``replications=auto`` plans ``replications_max`` seeds, of
which the runner runs the first batches only. A bad arm or point is refused here, before any run
starts.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np
from omegaconf import OmegaConf
from scipy.stats import qmc

from experiments.config import CompareConfig, seeds_planned
from sim.config import Config
from sim.params import ConfigError
from sim.scenario import load_config, scenario_text, seeded_hash


@dataclass
class RunSpec:
    """One run of the experiment."""

    arm: str
    point: str  # "key=value,..." or "" without a grid or sample
    seed: int
    config: Config
    run_id: str  # sim.scenario.run_id(config), computed once


def arms(cfg: CompareConfig) -> list[str]:
    e = cfg.experiment
    return [a for a in e.arms if not e.only or a in e.only or a == e.baseline]


def points(cfg: CompareConfig, nodes: list) -> list[tuple[str, list[str]]]:
    """(label, overrides) of every parameter point: the grid's combinations, or the sample
    (rounded where the arms' configs, ``nodes``, hold integers)."""
    e = cfg.experiment
    if e.grid:
        keys = list(e.grid)
        combos = itertools.product(*(e.grid[k] for k in keys))
        return _unique([_point(dict(zip(keys, values, strict=True))) for values in combos])
    if e.sample.method == "none":
        return [("", [])]
    keys = list(e.sample.ranges)
    low, high = np.array([e.sample.ranges[k] for k in keys], np.float64).T
    if e.sample.method == "lhs":
        unit = qmc.LatinHypercube(d=len(keys), seed=cfg.seed).random(e.sample.points)
    else:
        unit = np.random.default_rng(cfg.seed).random((e.sample.points, len(keys)))
    values = qmc.scale(unit, low, high)
    integer = [
        any(isinstance(OmegaConf.select(n, k, default=None), int) for n in nodes) for k in keys
    ]
    return _unique(
        [
            _point(
                {
                    k: int(round(v)) if whole else float(f"{v:.6g}")
                    for k, v, whole in zip(keys, row, integer, strict=True)
                }
            )
            for row in values
        ]
    )


def _unique(points: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """Each point once (a repeated grid value, or sample values that round alike)."""
    return list(dict(points).items())


def _point(values: dict) -> tuple[str, list[str]]:
    overrides = [f"{k}={v}" for k, v in values.items()]
    return ",".join(overrides), overrides


def plan(cfg: CompareConfig, cli_overrides: list[str]) -> list[RunSpec]:
    """Every run of the experiment, validated; raises ConfigError naming the arm and point.

    A point's keys apply to the arms that have them: a grid over ``strategy.<name>.<key>`` moves
    the arms running that strategy, while the baseline stays one set of runs (same run ids).
    """
    e = cfg.experiment
    common = [*e.overrides, *cli_overrides]
    configs = {arm: _compose(arm, [*common, *e.arms[arm]], "") for arm in arms(cfg)}
    nodes = {arm: OmegaConf.structured(config) for arm, config in configs.items()}
    grid = points(cfg, list(nodes.values()))
    for key in sorted({o.partition("=")[0] for _, overrides in grid for o in overrides}):
        if not any(_has(node, key) for node in nodes.values()):
            raise ConfigError(f"experiment: {key!r} is not a key of any arm's config")
    specs = []
    for label, point_overrides in grid:
        for arm, node in nodes.items():
            mine = [o for o in point_overrides if _has(node, o.partition("=")[0])]
            scenario = (
                _compose(arm, [*common, *e.arms[arm], *mine], label) if mine else configs[arm]
            )
            text = scenario_text(scenario)
            for k in range(seeds_planned(cfg)):
                seed = cfg.seed + k
                run = dataclasses.replace(scenario, seed=seed)
                if k == 0:  # the first seed keeps its customer panel (maps) and CRM extract
                    run.output = dataclasses.replace(run.output, panel=True, crm_extract=True)
                specs.append(RunSpec(arm, label, seed, run, seeded_hash(text, seed)))
    return specs


def _compose(arm: str, overrides: list[str], label: str) -> Config:
    try:
        return load_config(overrides)
    except ConfigError as exc:
        where = f" at {label}" if label else ""
        raise ConfigError(f"experiment.arms.{arm}{where}: {exc}") from None


def _has(node, key: str) -> bool:
    return OmegaConf.select(node, key, default="__missing__") != "__missing__"
