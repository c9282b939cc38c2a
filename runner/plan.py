"""From an experiment config to the list of runs: arms x parameter points x seeds.

Every arm composes the same scenario (the preset's and the command line's overrides), then its
own overrides, once per arm; a point's values are then set on the arm's config. Seeds
``seed .. seed + replications - 1`` are shared by every arm and point (common random numbers);
``replications=auto`` plans ``replications_max`` seeds, of which the runner runs the first
batches only. A bad arm or point is refused here, before any run starts; so is a plan above the
caps of ``sim.resources`` (counted before it is expanded) or one this machine cannot hold.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import qmc

from runner.config import AUTO, CompareConfig, check_machine, seeds_planned
from sim.config import Config
from sim.params import ConfigError
from sim.resources import MAX_POINTS, MAX_RUNS, check_count
from sim.scenario import MISSING, Derivations, load_config, scenario_text, seeded_hashes
from sim.values import value_at, with_values


@dataclass
class RunSpec:
    """One run of the experiment."""

    arm: str
    point: str  # "key=value,..." or "" without a grid or sample
    seed: int
    config: Config
    run_id: str  # sim.scenario.run_id(config), computed once
    scenario: str  # sim.scenario.scenario_text(config), shared by the point's seeds


def arms(cfg: CompareConfig) -> list[str]:
    e = cfg.experiment
    return [a for a in e.arms if not e.only or a in e.only or a == e.baseline]


def points(cfg: CompareConfig, configs: list[Config]) -> list[tuple[str, dict[str, Any]]]:
    """(label, values) of every parameter point: the grid's combinations, or the sample
    (rounded where the arms' ``configs`` hold integers)."""
    e = cfg.experiment
    if e.grid:
        keys = list(e.grid)
        combos = itertools.product(*(e.grid[k] for k in keys))
        return _unique([_point(dict(zip(keys, values, strict=True))) for values in combos])
    if e.sample.method == "none":
        return [("", {})]
    keys = list(e.sample.ranges)
    low, high = np.array([e.sample.ranges[k] for k in keys], np.float64).T
    if e.sample.method == "lhs":
        unit = qmc.LatinHypercube(d=len(keys), seed=cfg.seed).random(e.sample.points)
    else:
        unit = np.random.default_rng(cfg.seed).random((e.sample.points, len(keys)))
    values = qmc.scale(unit, low, high)
    integer = [any(isinstance(value_at(c, k), int) for c in configs) for k in keys]
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


def _unique(points: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """Each point once (a repeated grid value, or sample values that round alike)."""
    return list(dict(points).items())


def _point(values: dict) -> tuple[str, dict]:
    return point_label(values), values


def point_label(values: dict[str, Any]) -> str:
    """A point's label: "key=value,..." in the order of ``values``."""
    return ",".join(f"{k}={v}" for k, v in values.items())


def plan(
    cfg: CompareConfig, cli_overrides: list[str], design: list[dict[str, Any]] | None = None
) -> list[RunSpec]:
    """Every run of the experiment, validated; raises ConfigError naming the arm and point.
    ``design``: the parameter points (dotted key -> value), instead of the experiment's grid or
    sample (a sensitivity design, a set of futures, a calibration's plausible sets).

    Each arm is composed once (Hydra); a point's values are then set on the arm's config
    (``sim.values.with_values``: a key may name a list's element, ``key.<index>``); each scenario
    is validated and serialised once, and its text hashed once for all its seeds.
    A point's keys apply to the arms that have them: a grid over ``strategy.<name>.<key>`` moves
    the arms running that strategy, while the baseline stays one set of runs (same run ids).
    """
    e = cfg.experiment
    check_size(cfg, *(planned_points(cfg) if design is None else (len(design), "the design")))
    common = [*e.overrides, *cli_overrides]
    configs = {arm: _at(arm, "", load_config, [*common, *e.arms[arm]]) for arm in arms(cfg)}
    if design is None:
        grid = points(cfg, list(configs.values()))
    else:
        grid = _unique([_point(values) for values in design])
    for key in sorted({key for _, values in grid for key in values}):
        if all(value_at(config, key) is MISSING for config in configs.values()):
            raise ConfigError(f"experiment: {key!r} is not a key of any arm's config")
    seen = Derivations()  # what the points share is serialised and validated once
    texts = {arm: scenario_text(config, seen.forms) for arm, config in configs.items()}
    seeds = [cfg.seed + k for k in range(seeds_planned(cfg))]
    specs = []
    for label, values in grid:
        for arm, config in configs.items():
            mine = {k: v for k, v in values.items() if value_at(config, k) is not MISSING}
            scenario = _at(arm, label, with_values, config, mine, seen) if mine else config
            text = scenario_text(scenario, seen.forms) if mine else texts[arm]
            for k, (seed, run_id) in enumerate(zip(seeds, seeded_hashes(text, seeds), strict=True)):
                run = dataclasses.replace(scenario, seed=seed)
                if k == 0:  # the first seed keeps its customer panel (maps) and CRM extract
                    run.output = dataclasses.replace(run.output, panel=True, crm_extract=True)
                specs.append(RunSpec(arm, label, seed, run, run_id, text))
    unique = {s.run_id: s.config for s in specs}
    check_machine(list(unique.values()), cfg.executor, cfg.limits)
    return specs


def planned_points(cfg: CompareConfig) -> tuple[int, str]:
    """How many points the grid or sample makes at most (before repeats are merged), and the
    setting that makes them."""
    e = cfg.experiment
    if e.grid:
        sizes = " x ".join(str(len(values)) for values in e.grid.values())
        count = math.prod(len(values) for values in e.grid.values())
        return count, f"experiment.grid ({sizes} values)"
    if e.sample.method != "none":
        return e.sample.points, f"experiment.sample.points={e.sample.points}"
    return 1, ""


def check_size(cfg: CompareConfig, points: int, what: str) -> None:
    """Refuse (ConfigError) more than MAX_POINTS points or MAX_RUNS runs (arms x points x
    seeds), counted before anything is planned; ``what`` names the points' setting."""
    force, seeds, n = cfg.limits.force, seeds_planned(cfg), len(arms(cfg))
    check_count(what, points, MAX_POINTS, "points", force, "values or points")
    runs = n * points * seeds
    where = f"{n} arms x {points:,} points" if points > 1 else f"{n} arms"
    key = "replications_max" if cfg.replications == AUTO else "replications"
    fewer = "seeds, arms or points"
    check_count(f"{key}={seeds} with {where}", runs, MAX_RUNS, "runs", force, fewer)


def _at(arm: str, label: str, make, *args):
    """``make(*args)``, its ConfigError naming the arm and point."""
    try:
        return make(*args)
    except ConfigError as exc:
        where = f" at {label}" if label else ""
        raise ConfigError(f"experiment.arms.{arm}{where}: {exc}") from None
