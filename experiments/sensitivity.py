"""``python -m experiments.sensitivity [key=value ...]``: which parameters move the KPIs.

Composes ``configs/sensitivity.yaml``: the experiment schema (scenario keys apply to the runs,
``strategy=[...]`` included) plus a ``sensitivity`` block: ``method`` (morris or sobol),
``parameters`` (dotted config key -> [low, high]), ``trajectories`` and ``levels`` (Morris),
``samples`` (Sobol's base sample, a power of 2), ``kpis``, ``resamples`` (draws of the seed
noise) and ``arm`` (the experiment's arm whose scenario is varied). SALib draws the design from
``seed``; each design point runs ``replications`` seeds (two or more), the same for every point
(common random numbers), stored under ``<output.dir>/<experiment.name>/runs/`` so a rerun
resumes. Each parameter's index gets its own seed noise, drawn over the seeds: a parameter
matters for a KPI when its index is above that noise at level 1 - 0.05 / (parameters x KPIs),
and its interval, at the same level, covers the seed noise and the design. Writes
``sensitivity.csv``, ``sensitivity.json`` and a chart into the experiment folder and prints the
table. Everything is validated before any run (one line,
exit 2, nothing written). ``-h`` prints this text; docs/sensitivity.md has a worked example.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hydra.core.config_store import ConfigStore
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample

from analysis.sensitivity import min_resamples
from experiments.calibrate import parameter_ranges
from experiments.compare import scenario_overrides
from runner.config import CompareConfig, check_experiment, workers
from runner.executors import Outcome, run_all
from runner.plan import RunSpec, check_size, plan
from runner.store import DAMAGED, load, open_store, release, stored, write_plan
from sim.kpis import REGISTRY, counted
from sim.overrides import HELP, check_overrides, command, split_flags
from sim.params import ConfigError, param
from sim.scenario import (
    GROUPS,
    compose_replacing,
    config_yaml,
    load_config,
    to_config,
    value_at,
)

WHOLE = "sensitivity.parameters"  # given whole on the command line, it replaces the preset's
KPIS = ["retention_horizon", "retention_mid_high", "npv"]


@dataclass
class SensitivitySettings:
    method: str = param("morris", "SALib method", "workflow", choices=("morris", "sobol"))
    parameters: dict[str, Any] = param(
        {}, "config key -> [low, high] (nested maps are joined with dots)", "workflow"
    )
    trajectories: int = param(10, "Morris trajectories", "workflow", 2, 10_000)
    levels: int = param(4, "Morris grid levels", "workflow", 2, 100)
    samples: int = param(64, "Sobol base samples N (a power of 2)", "workflow", 2, 1_048_576)
    kpis: list[str] = param(list(KPIS), "KPIs analysed", "retention, the affluent, NPV")
    dummy: bool = param(False, "withdrawn: each parameter has its own seed noise", "workflow")
    resamples: int = param(10_000, "draws of the seed noise", "workflow", 10, 10_000_000)
    arm: str = param("baseline", "the experiment's arm whose scenario is varied", "workflow")


@dataclass
class SensitivityConfig(CompareConfig):
    sensitivity: SensitivitySettings = field(default_factory=SensitivitySettings)


@dataclass
class Study:
    """A validated sensitivity study: the design, its runs and where they go."""

    settings: SensitivityConfig
    problem: dict  # SALib's problem: names (the parameters) and bounds
    design: np.ndarray  # SALib's sample, one row per design row
    rows: list[tuple[str, list[int]]]  # each design row's point label and its seeds
    specs: list[RunSpec]
    root: Path
    command: str


def compose(args: list[str]) -> SensitivityConfig:
    """``configs/sensitivity.yaml`` with the overrides (``sensitivity.parameters={...}`` replaces
    the preset's map)."""
    ConfigStore.instance().store(name="sensitivity_schema", node=SensitivityConfig)
    parsed = check_overrides(args, GROUPS)
    cfg = compose_replacing(parsed, lambda o: o.key_or_group == WHOLE, "sensitivity")
    return to_config(cfg, schema=SensitivityConfig)


def prepare(args: list[str]) -> Study:
    """Compose, check and plan everything (one-line ConfigError) before any run."""
    _, overrides = split_flags(args, "experiments.sensitivity", HELP, "see -h")
    cfg = compose(overrides)
    s, e = cfg.sensitivity, cfg.experiment
    check_experiment(dataclasses.replace(cfg, strategy={}))  # strategy=[...] is the scenario
    if s.arm not in e.arms:
        raise ConfigError(f"sensitivity.arm={s.arm!r} is not an arm; arms: {list(e.arms)}")
    if s.dummy:
        raise ConfigError(
            "sensitivity.dummy=true is withdrawn: the dummy's seed blocks measured the noise"
            " between independent seeds, not a parameter's on common seeds; each parameter now"
            " has its own seed_noise (docs/sensitivity.md); drop the key"
        )
    if cfg.replications == "auto":
        raise ConfigError("replications=auto is not allowed here; give a number of seeds")
    if cfg.replications < 2:
        raise ConfigError(
            f"replications={cfg.replications} is not allowed here: seed noise needs 2 or more"
            " seeds a design point (5 or more to find small effects)"
        )
    unknown = [k for k in s.kpis if k not in REGISTRY]
    if unknown or not s.kpis:
        raise ConfigError(f"sensitivity.kpis={s.kpis}: give one or more of {', '.join(REGISTRY)}")
    if s.method == "sobol" and s.samples & (s.samples - 1):
        raise ConfigError(f"sensitivity.samples={s.samples} is not allowed; give a power of 2")
    cli = [o for o in scenario_overrides(overrides) if not o.lstrip("+~").startswith("sensit")]
    scenario = load_config([*e.overrides, *cli, *e.arms[s.arm]])
    ranges = parameter_ranges(scenario, s.parameters, "sensitivity.parameters")
    if not ranges:
        raise ConfigError("sensitivity.parameters is empty; give key: [low, high]")
    needed = min_resamples(len(ranges), len(s.kpis))
    if s.resamples < needed:
        raise ConfigError(
            f"sensitivity.resamples={s.resamples} is too few for {len(ranges)} parameters x"
            f" {len(s.kpis)} KPIs; give {needed} or more"
        )
    one_arm = dataclasses.replace(
        cfg, experiment=dataclasses.replace(e, arms={s.arm: e.arms[s.arm]}, baseline=s.arm, only=[])
    )
    check_size(one_arm, *design_size(s, len(ranges)))
    problem, design = sample(s, ranges, cfg.seed)
    integer = {k for k in ranges if isinstance(value_at(scenario, k), int)}
    rows, specs = design_runs(one_arm, cli, problem, design, integer)
    root = Path(cfg.output.dir) / e.name
    command = " ".join(["python -m experiments.sensitivity", *args])
    return Study(cfg, problem, design, rows, specs, root, command)


def design_size(s: SensitivitySettings, parameters: int) -> tuple[int, str]:
    """The design's rows, counted before SALib draws them, and the setting that makes them."""
    if s.method == "morris":
        key, rows = f"trajectories={s.trajectories}", s.trajectories * (parameters + 1)
    else:
        key, rows = f"samples={s.samples}", s.samples * (parameters + 2)
    return rows, f"sensitivity.{key} over {parameters} parameters"


def sample(s: SensitivitySettings, ranges: dict, seed: int) -> tuple[dict, np.ndarray]:
    """SALib's problem and its design (seeded)."""
    problem = {
        "num_vars": len(ranges),
        "names": list(ranges),
        "bounds": [list(b) for b in ranges.values()],
    }
    if s.method == "morris":
        design = morris_sample.sample(problem, s.trajectories, num_levels=s.levels, seed=seed)
    else:
        design = sobol_sample.sample(problem, s.samples, calc_second_order=False, seed=seed)
    return problem, design


def design_runs(
    cfg: CompareConfig, cli: list[str], problem: dict, design: np.ndarray, integer: set[str]
) -> tuple[list[tuple[str, list[int]]], list[RunSpec]]:
    """Each design row's (point label, seeds) and the runs of all rows: a row's parameter values
    are its point (integers rounded); every row runs the same ``replications`` seeds."""
    seeds = [cfg.seed + k for k in range(cfg.replications)]
    points, rows = [], []
    for row in design:
        values = {
            k: int(round(v)) if k in integer else float(f"{v:.6g}")
            for k, v in zip(problem["names"], row, strict=True)
        }
        points.append(values)
        rows.append((",".join(f"{k}={v}" for k, v in values.items()), seeds))
    return rows, plan(cfg, cli, points)


def outputs(study: Study, runs: pd.DataFrame | None = None) -> np.ndarray | None:
    """Each design row's KPIs on each seed (rows x seeds x kpis) of the store's ``runs``
    (``runner.store.load``, by default read here); None if a run is missing."""
    runs = load(study.root) if runs is None else runs
    arm = study.settings.sensitivity.arm
    ok = runs[(runs["status"] == "ok") & (runs["arm"] == arm)]
    means = ok.groupby(["point", "seed"])[study.settings.sensitivity.kpis].mean()
    out = []
    for label, seeds in study.rows:
        keys = [(label, seed) for seed in seeds]
        if not all(k in means.index for k in keys):
            return None
        out.append(means.loc[keys].to_numpy(np.float64))
    return np.array(out)


def design_line(study: Study) -> str:
    """The design in words, its numbers multiplying to the runs it makes: design rows, the
    distinct points they hold (Morris trajectories share points), the distinct scenarios those
    make (points a scenario does not tell apart are one set of runs), each on the same seeds."""
    s = study.settings.sensitivity
    unique = {spec.run_id for spec in study.specs}
    points = len({spec.point for spec in study.specs})
    scenarios = len({spec.scenario for spec in study.specs})
    seeds = sorted({spec.seed for spec in study.specs})
    rows = len(study.rows)
    parameters = len(study.problem["names"])
    line = (
        f"{s.method.capitalize()} design on the {s.arm} arm's scenario:"
        f" {counted(rows, 'design row')} over {counted(parameters, 'parameter')}"
    )
    if points != rows:
        line += f", {points} of them distinct points (a Morris design repeats some)"
    if scenarios != points:
        line += (
            f", which make {counted(scenarios, 'distinct scenario')}"
            " (some points make the same one)"
        )
    what = "scenarios" if scenarios != points else "points"
    line += f"; {scenarios} {what} x {counted(len(seeds), 'seed')}"
    line += f" ({_seeds(seeds)}, the same for every point) = {counted(len(unique), 'run')}"
    return line


def _seeds(seeds: list[int]) -> str:
    if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"seeds {seeds[0]} to {seeds[-1]}"
    return f"seed{'s' if len(seeds) != 1 else ''} {', '.join(map(str, seeds))}"


def run_missing(study: Study, progress: bool = True) -> list[Outcome]:
    """Plan the study's runs in the store and run those not stored yet (as
    ``experiments.compare.run_batch``), saying first what the design makes and what is left."""
    cfg, root = study.settings, study.root
    write_plan(root, study.specs)
    unique = list({spec.run_id: spec for spec in study.specs}.values())
    states = stored(root, unique)
    todo = [spec for spec in unique if states[spec.run_id] != "ok"]
    damaged = sorted(i for i, state in states.items() if state == DAMAGED)
    if damaged:
        print(f"{len(damaged)} damaged runs: {', '.join(damaged)} — to be rerun")
    ex = cfg.executor
    print(
        f"{design_line(study)}; {len(unique) - len(todo)} already stored, {len(todo)} to run on"
        f" {ex.kind}{f' ({workers(ex)} workers)' if ex.kind == 'local' else ''}"
    )
    clock = time.perf_counter()
    outcomes = run_all(todo, root / "runs", ex, progress=progress)
    if outcomes:
        seconds = time.perf_counter() - clock
        ok = sum(o.status == "ok" for o in outcomes)
        print(
            f"Ran {len(outcomes)} runs in {seconds:.1f} s ({len(outcomes) / seconds:.2f} runs/s):"
            f" {ok} ok, {len(outcomes) - ok} failed"
        )
    return outcomes


def run(study: Study, progress: bool = True) -> int:
    """Run what is missing, analyse, write and print; the exit code (1 if a run failed)."""
    from analysis import sensitivity as analysis  # matplotlib: loaded only to analyse
    from analysis.report.labels import horizon

    cfg = study.settings
    open_store(study.root, study.specs)
    try:
        (study.root / "experiment.yaml").write_text(config_yaml(cfg))
        outcomes = run_missing(study, progress)
    finally:
        release(study.root)
    for o in outcomes:
        if o.status != "ok":
            print(f"  failed: seed {o.seed} (run {o.run_id}): {o.error}")
    runs = load(study.root)
    y = outputs(study, runs)
    if y is None or not np.isfinite(y).all():
        print("Some runs failed or gave no value; rerun the same command to retry them.")
        return 1
    months = horizon(runs, {"months": cfg.months})
    table = analysis.analyse(cfg.sensitivity, study.problem, study.design, y, cfg.seed, months)
    record = {
        "command": study.command,
        "method": cfg.sensitivity.method,
        "problem": study.problem,
        "seeds": [cfg.seed, cfg.seed + cfg.replications - 1],
        "replications": cfg.replications,
        "design_rows": len(study.rows),
        "points": len({s.point for s in study.specs}),
        "runs": len({s.run_id for s in study.specs}),
        "months": months,
        "settings": dataclasses.asdict(cfg.sensitivity),
        "level": analysis.table_level(table),
    }
    analysis.write(study.root, table, record)
    print(analysis.console(table))
    print(f"Results: {study.root}")
    return 0


def main(args: list[str] | None = None) -> int:
    return command(__doc__, prepare, run, args)  # run's ConfigErrors too: the store's


if __name__ == "__main__":
    sys.exit(main())
