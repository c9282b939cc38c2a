"""``python -m experiments.robustness [experiment=NAME] [key=value ...]``: arms across futures.

Composes ``configs/robustness.yaml``: an experiment (``configs/experiment/``) plus a
``robustness`` block. Its ``uncertainties`` (any scenario key -> [low, high]) are sampled by a
Latin hypercube seeded by ``seed`` (``futures`` points); every arm runs in every future on the
same seeds, stored like ``experiments.compare`` stores them under
``<output.dir>/<experiment.name>/runs/`` (a rerun resumes). Per arm it reports the mean over
futures, the ``percentile`` low percentile, the mean and maximum regret on ``kpi`` against the
best arm of each future (each bias-corrected, with a ``level`` seed-bootstrap interval of
``bootstrap`` replicates), and the share of futures meeting every ``targets`` threshold; PRIM
(ema-workbench) then describes the futures where an arm misses its targets. Tables go to
``robustness.csv``, ``futures.csv`` and ``prim.csv``, charts to ``figures/``. Everything is
validated first (one line, exit 2, nothing written); ``dry_run=true`` only plans. ``-h`` prints
this text; docs/robustness.md has a worked example.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.config_store import ConfigStore

from experiments.compare import dry_run, failures, run_batch, scenario_overrides
from runner.config import AUTO, CompareConfig, SampleConfig, check_experiment
from runner.plan import RunSpec, plan
from runner.store import check_store, open_store, release, reporting
from sim.kpis import REGISTRY
from sim.overrides import HELP, check_overrides, command, split_flags
from sim.params import ConfigError, param
from sim.scenario import GROUPS, compose_replacing, config_yaml, to_config

# the sample's names in the compare checks' messages -> this command's names
RENAMED = {"experiment.sample.ranges": "robustness.uncertainties", "experiment: ": "robustness: "}
MAPS = ("robustness.uncertainties", "robustness.targets")  # given whole, they replace the preset's


@dataclass
class PrimConfig:
    threshold: float = param(0.8, "least density (share of misses) of a box", "EMA default", 0, 1)
    peel_alpha: float = param(0.05, "share of futures peeled at each step", "PRIM default", 0, 0.5)
    min_misses: int = param(3, "fewest futures missed for PRIM to look for a box", "choice", 1)


@dataclass
class RobustnessBlock:
    uncertainties: dict[str, list[float]] = param(
        {}, "scenario key -> [low, high] of the deep uncertainties", "scenario choice"
    )
    futures: int = param(20, "futures sampled (Latin hypercube)", "choice", 2, 10_000)
    percentile: float = param(10.0, "the low percentile reported per arm", "choice", 0, 50)
    targets: dict[str, float] = param(
        {}, "KPI -> threshold every future should meet (>= or, lower is better, <=)", "choice"
    )
    kpi: str = param("npv", "the KPI of the regret", "the value of the bank")
    bootstrap: int = param(
        2000, "seed-bootstrap replicates of the regret intervals", "choice", 200, 100_000
    )
    level: float = param(0.95, "confidence level of the regret intervals", "convention", 0.5, 0.999)
    prim: PrimConfig = field(default_factory=PrimConfig)


@dataclass
class RobustnessConfig(CompareConfig):
    robustness: RobustnessBlock = field(default_factory=RobustnessBlock)


def compose(overrides: list[str]):
    """``configs/robustness.yaml`` with ``overrides``; a whole ``robustness.uncertainties`` or
    ``robustness.targets`` map replaces the preset's."""
    ConfigStore.instance().store(name="robustness_schema", node=RobustnessConfig)
    parsed = check_overrides(overrides, GROUPS)
    whole = {
        o.key_or_group for o in parsed if o.key_or_group in MAPS and isinstance(o.value(), dict)
    }
    return compose_replacing(parsed, lambda o: o.key_or_group in whole, "robustness")


def check_robustness(settings: RobustnessConfig) -> None:
    """Refuse a robustness block that cannot work (one-line ConfigError)."""
    r, e = settings.robustness, settings.experiment
    if not r.uncertainties:
        raise ConfigError("robustness.uncertainties is empty; give key: [low, high]")
    if e.grid or e.sample.method != "none":
        raise ConfigError(
            f"experiment {e.name} has a grid or sample; robustness.uncertainties are its points,"
            " so pick an experiment without (e.g. experiment=playbook)"
        )
    if settings.replications == AUTO:
        raise ConfigError("replications=auto: give a number of seeds, the same in every future")
    for key, name in [("robustness.kpi", r.kpi), *(("robustness.targets", t) for t in r.targets)]:
        if name not in REGISTRY:
            raise ConfigError(f"{key}: {name!r} is not a KPI; allowed: {', '.join(REGISTRY)}")


def prepare(args: list[str]) -> tuple[RobustnessConfig, list[RunSpec], Path]:
    """Validate and plan every run before any work; opens (locks) the experiment folder, or with
    ``dry_run`` only checks it."""
    _, overrides = split_flags(args, "experiments.robustness", HELP, "see -h")
    settings = to_config(compose(overrides), schema=RobustnessConfig)
    check_robustness(settings)
    r = settings.robustness
    settings.experiment.sample = SampleConfig("lhs", r.futures, r.uncertainties)
    scenario = [o for o in scenario_overrides(overrides) if not _ours(o)]
    try:
        check_experiment(settings)
        specs = plan(settings, scenario)
    except ConfigError as exc:
        message = str(exc)
        for old, new in RENAMED.items():
            message = message.replace(old, new)
        raise ConfigError(message) from None
    root = Path(settings.output.dir) / settings.experiment.name
    if settings.dry_run:
        check_store(root, specs)
    else:
        open_store(root, specs, settings.report)
    return settings, specs, root


def _ours(override: str) -> bool:
    return override.lstrip("+~").partition("=")[0].split(".")[0] == "robustness"


def run(settings: RobustnessConfig, specs: list[RunSpec], root: Path, progress=True) -> int:
    """Run what is missing, then analyse (and report); the exit code (1 if a run failed)."""
    if settings.dry_run:
        return dry_run(settings, specs, root)
    try:
        (root / "experiment.yaml").write_text(config_yaml(settings))
        outcomes = run_batch(settings, specs, root, progress)
    finally:
        release(root)
    failed = failures(outcomes)
    if failed:
        print(f"{len(failed)} runs failed; rerun the same command to retry them.")
        return 1
    from analysis import robustness  # pandas, matplotlib and ema-workbench: loaded only here

    robustness.analyse(root, settings.robustness)
    if settings.report:
        from analysis import report

        with reporting(root, "experiment.name"):
            report.report(root, out=print)
    print(robustness.console(root))
    print(f"Results: {root}")
    return 0


def main(args: list[str] | None = None) -> int:
    return command(__doc__, prepare, lambda prepared: run(*prepared), args)


if __name__ == "__main__":
    sys.exit(main())
