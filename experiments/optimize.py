"""``python -m experiments.optimize [strategy=[a,b]] [key=value ...]``: multi-objective search over
strategy parameters and a budget split.

Composes ``configs/optimize.yaml`` (the scenario schema plus ``parameters``, ``budget``,
``objectives``, ``trials``, ``seeds``, ``fresh_seeds``, ``workers``, ``name``); the ``strategy``
group names the strategies optimised. Each trial sets the ``parameters`` (dotted keys, e.g.
``strategy.training.hours: [10, 80]``) and splits ``budget.total`` (CNY) across the
``budget.levers`` (lever -> a money key): it draws a weight in [0, 1] per lever and gives each
lever its share of the total. A trial runs ``seeds`` seeds, the same for every trial, and scores
the mean of each ``objectives`` KPI (a KPI where lower is better, e.g. cost, is minimised).
Optuna's multi-objective TPE sampler (seeded by ``seed``) works in
``<output.dir>/<name>/study.sqlite3``, a study named by a hash of the settings: rerunning resumes
it. The Pareto front is then re-run on ``fresh_seeds`` new seeds (default 20) with a baseline (no
strategy) on the same seeds: the differences with intervals simultaneous over the front's points
and objectives (Bonferroni), and the front rechecked on the fresh means (a point another
re-evaluated point dominates is dropped), go to ``pareto.csv``, ``optimize.json`` (provenance)
and ``figures/pareto.png``. Everything is validated first (one line, exit 2, nothing written).
``-h`` prints this text; docs/optimize.md has a worked example.
"""

import dataclasses
import json
import math
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna
from hydra.core.config_store import ConfigStore

from experiments.calibrate import parameter_ranges, rounded
from experiments.study import error_line, finished, hashed_name, results, run_trials
from experiments.study import evaluate as evaluate_points
from experiments.study import open_study as open_named_study
from runner.config import ExecutorConfig, check_folder_name, check_machine, workers
from runner.executors import mapper
from sim.api import run_scenario
from sim.config import Config
from sim.folders import check_study_folder
from sim.kpis import REGISTRY, counted, registry
from sim.overrides import HELP, check_overrides, command, split_flags
from sim.params import ConfigError, param
from sim.provenance import code_version
from sim.resources import LimitsConfig
from sim.scenario import GROUPS, compose_replacing, scenario_text, to_config
from sim.values import numeric_key, with_values

WHOLE = ("parameters", "budget.levers", "objectives")  # given whole, they replace the preset's
SHARE = "share."  # a lever's weight in the study's parameters


@dataclass
class BudgetConfig:
    total: float = param(
        0.0, "CNY split across the levers (each lever's key gets its share)", "the bank's choice", 0
    )
    levers: dict[str, str] = param({}, "lever name -> dotted money key it sets", "choice")


@dataclass
class OptimizeConfig(Config):
    name: str = param("optimize", "the study's folder under output.dir", "workflow")
    parameters: dict[str, Any] = param({}, "config key -> [low, high]", "workflow")
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    objectives: list[str] = param(
        ["retention_mid_high", "npv"],
        "KPIs optimised (higher or lower is better: sim.kpis)",
        "issue 14",
    )
    trials: int = param(40, "finished trials the study should hold", "workflow", 1, 100_000)
    seeds: int = param(3, "runs per trial, seeds seed ... seed + seeds - 1", "CRN", 1, 1_000)
    fresh_seeds: int = param(
        20, "new seeds re-running the Pareto front (under 10: too few)", "statistics", 2, 1_000
    )
    workers: int = param(0, "trials run at a time (0: the executor's)", "machine", 0, 4_096)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)


@dataclass
class Plan:
    """A validated optimisation."""

    settings: OptimizeConfig
    scenario: Config  # with the strategies
    ranges: dict[str, tuple[float, float]]  # parameters and lever shares
    start: dict[str, float]
    folder: Path
    command: str


def prepare(args: list[str]) -> Plan:
    """Compose and check everything (one-line ConfigError) before any work."""
    ConfigStore.instance().store(name="optimize_schema", node=OptimizeConfig)
    _, overrides = split_flags(args, "experiments.optimize", HELP, "see -h")
    parsed = check_overrides(overrides, GROUPS)
    cfg = compose_replacing(parsed, lambda o: o.key_or_group in WHOLE, "optimize")
    s = to_config(cfg, schema=OptimizeConfig)
    scenario = Config(**{f.name: getattr(s, f.name) for f in dataclasses.fields(Config)})
    if not scenario.strategy:
        raise ConfigError(
            "strategy is empty; name the strategies to optimise, e.g. "
            "strategy=[training,partner_promotion]"
        )
    check_folder_name("name", s.name)
    for kpi in s.objectives:
        if kpi not in REGISTRY:
            raise ConfigError(f"objectives: {kpi!r} is not a KPI; allowed: {', '.join(REGISTRY)}")
    if not s.objectives:
        raise ConfigError("objectives is empty; give KPIs, e.g. [retention_mid_high, npv]")
    ranges = parameter_ranges(scenario, s.parameters)
    ranges |= {SHARE + lever: (0.0, 1.0) for lever in check_levers(scenario, s.budget, ranges)}
    if not ranges:
        raise ConfigError("parameters and budget.levers are empty; give something to optimise")
    start = {k: numeric_key(scenario, k, k)[0] for k in ranges if not k.startswith(SHARE)}
    start |= {k: 1.0 for k in ranges if k.startswith(SHARE)}
    folder = Path(s.output.dir) / s.name
    check_study_folder(folder, "name")
    check_machine([scenario] * workers(s.executor), s.executor, s.limits)  # runs at a time
    return Plan(
        s, scenario, ranges, start, folder, " ".join(["python -m experiments.optimize", *args])
    )


def check_levers(scenario: Config, budget: BudgetConfig, ranges: dict) -> list[str]:
    """The levers, checked: money keys of the strategies, not also parameters, a total > 0."""
    for lever, key in budget.levers.items():
        name = f"budget.levers.{lever}"
        if not isinstance(key, str) or not key.startswith("strategy."):
            raise ConfigError(
                f"{name}={key!r}; allowed a strategy key, e.g. strategy.partner_promotion.budget"
            )
        _, meta = numeric_key(scenario, key, name)
        if "CNY" not in str(meta.get("unit", "")):
            raise ConfigError(f"{name}: {key} is not a money (CNY) parameter")
        if key in ranges:
            raise ConfigError(f"{name}: {key} is also in parameters; give it one or the other")
    if budget.levers and not budget.total > 0:
        raise ConfigError(f"budget.total={budget.total}; allowed > 0 CNY when levers are given")
    return list(budget.levers)


def point(plan: Plan, params: dict[str, float]) -> dict[str, float]:
    """A trial's config values: its parameters, and each lever's share of the total."""
    values = {k: v for k, v in params.items() if not k.startswith(SHARE)}
    weights = {k[len(SHARE) :]: v for k, v in params.items() if k.startswith(SHARE)}
    total = sum(weights.values())
    for lever, w in weights.items():
        share = w / total if total > 0 else 1 / len(weights)
        values[plan.settings.budget.levers[lever]] = share * plan.settings.budget.total
    return values


def scored_run(config: Config) -> dict[str, float] | str:
    """One run's summary KPIs and its measured ``months`` (the horizon the results name), or
    the last line of its traceback (on a worker)."""
    try:
        summary = run_scenario(config).summary
        return {k: float(summary[k]) for k in (*REGISTRY, "months") if k in summary}
    except Exception:  # noqa: BLE001 - a failing run fails its trial; the study goes on
        return error_line()


def seeds(plan: Plan, fresh: bool = False) -> list[int]:
    """The optimisation's common seeds, or the fresh ones after them (disjoint)."""
    s = plan.settings
    first = s.seed + (s.seeds if fresh else 0)
    return list(range(first, first + (s.fresh_seeds if fresh else s.seeds)))


def evaluate(plan: Plan, run, points: list[dict[str, float]]) -> list[list[float] | str]:
    """Each point's objectives, the means over the common seeds; an error line if a run failed."""
    n, kpis = plan.settings.seeds, plan.settings.objectives
    configs = [
        [dataclasses.replace(with_values(plan.scenario, p), seed=sd) for sd in seeds(plan)]
        for p in points
    ]
    return evaluate_points(
        run, scored_run, configs, lambda chunk: [sum(r[k] for r in chunk) / n for k in kpis]
    )


def scores(plan: Plan, run, params: list[dict[str, float]]) -> list[list[float] | str]:
    """Each trial's objectives, or why it failed (a run's error, or values not all finite)."""
    out: list[list[float] | str] = []
    for values in evaluate(plan, run, [point(plan, p) for p in params]):
        failed = isinstance(values, str) or not all(map(math.isfinite, values))
        out.append(str(values) if failed else values)
    return out


def study_name(plan: Plan) -> str:
    """A hash of what makes a study: ranges, levers, objectives, seeds, the scenario."""
    s = plan.settings
    return hashed_name(
        [
            sorted(plan.ranges.items()),
            s.budget.total,
            sorted(s.budget.levers.items()),
            s.objectives,
            seeds(plan),
            scenario_text(plan.scenario),
        ]
    )


def open_study(plan: Plan) -> optuna.Study:
    """The plan's study (``experiments.study.open_study``), each objective maximised or
    minimised as its KPI is better; a new study's first trial is the composed values with an
    even split."""
    directions = [
        "maximize" if REGISTRY[k].higher_is_better else "minimize" for k in plan.settings.objectives
    ]
    return open_named_study(plan, study_name(plan), directions, n_startup_trials=5)


def reevaluate(plan: Plan, study: optuna.Study, run) -> tuple[list, list[dict]]:
    """The Pareto trials and the baseline re-run on the fresh seeds: one row per arm and seed."""
    front = sorted(study.best_trials, key=lambda t: t.number)
    arms = [("baseline", dataclasses.replace(plan.scenario, strategy={}))]
    arms += [
        (f"trial {t.number}", with_values(plan.scenario, point(plan, t.params))) for t in front
    ]
    configs = [
        (arm, dataclasses.replace(c, seed=sd)) for arm, c in arms for sd in seeds(plan, True)
    ]
    done = results(run, scored_run, [c for _, c in configs])
    rows = []
    for (arm, config), result in zip(configs, done, strict=True):
        if isinstance(result, str):
            raise RuntimeError(f"{arm} seed {config.seed} failed: {result}")
        rows.append({"arm": arm, "seed": config.seed, **result})
    return front, rows


def optimize(plan: Plan, progress: bool = True) -> Path:
    """Run the study, re-evaluate its Pareto front, write and show the results; the folder."""
    from analysis import optimize as analysis  # pandas and matplotlib: loaded only here

    s = plan.settings
    labels = registry(plan.scenario.months)
    objectives = " and ".join(
        f"{labels[k].short} ({'higher' if labels[k].higher_is_better else 'lower'} is better)"
        for k in s.objectives
    )
    with mapper(s.executor, plan.folder / "slurm") as run:
        study = open_study(plan)
        print(
            f"Optimising {objectives} over {plan.scenario.months} months, by"
            f" {counted(len(plan.ranges), 'parameter')} ({counted(s.seeds, 'seed')} a trial);"
            f" study {study.study_name} in {plan.folder} holds"
            f" {counted(finished(study), 'finished trial')}, {s.trials} wanted"
        )
        run_trials(plan, study, lambda params: scores(plan, run, params), progress)
        if not finished(study):
            raise SystemExit("no trial finished; every run failed (see the study's trials)")
        front, rows = reevaluate(plan, study, run)
    trials = {f"trial {t.number}": rounded(point(plan, t.params)) for t in front}
    table = analysis.analyse(plan.folder, rows, trials, s.objectives)
    write_provenance(plan, study, trials, table, analysis.baseline_npv(rows))
    print(analysis.console(plan.folder))
    print(f"Results: {plan.folder}")
    return plan.folder


def write_provenance(
    plan: Plan,
    study: optuna.Study,
    trials: dict,
    table,
    baseline: dict[str, float],
) -> None:
    """optimize.json: what was run, on which seeds, by which code; the front kept on the fresh
    seeds and the intervals' joint level (from the Pareto ``table``); the runs' horizon, the
    discount rate and the ``baseline``'s NPV with its parts (what explains it)."""
    s = plan.settings
    kept = list(dict.fromkeys(table.loc[table["on_front"], "arm"]))
    record = {
        "command": plan.command,
        "study": study.study_name,
        "trials": len(study.trials),
        "objectives": s.objectives,
        "strategies": list(plan.scenario.strategy),
        "ranges": {k: list(v) for k, v in plan.ranges.items()},
        "budget": {"total": s.budget.total, "levers": dict(s.budget.levers)},
        "seeds": seeds(plan),
        "fresh_seeds": seeds(plan, True),
        "pareto": trials,
        "fresh_front": kept,
        "joint_level": float(table["joint_level"].iloc[0]),
        "months": int(table["months"].iloc[0]),
        "discount_rate": plan.scenario.economics.discount_rate,
        "baseline": baseline,
        "optuna": optuna.__version__,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        **code_version(),
    }
    (plan.folder / "optimize.json").write_text(json.dumps(record, indent=2))


def main(args: list[str] | None = None) -> int:
    return command(__doc__, prepare, optimize, args)


if __name__ == "__main__":
    sys.exit(main())
