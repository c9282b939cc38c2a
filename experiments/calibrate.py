"""``python -m experiments.calibrate bank=<name> targets=<file|name> [key=value ...]``: fit a bank's
parameters to its targets.

Composes ``configs/calibrate.yaml`` (population, bank and executor groups, the scenario schema
plus this command's keys: ``targets``, ``trials``, ``seeds``, ``parameters``, ``workers``,
``write``); any scenario override applies to every run. Everything is validated before any run
(one line, exit 2, nothing written). Each trial sets the ``parameters`` (dotted config keys, list
elements as ``key.<index>``, each with ``[low, high]``) and runs ``seeds`` seeds, the same for every
trial (common random numbers); its loss is the sum over targets of ((model - value) /
half-width)^2 on the pooled runs (``sim.calibration``). Optuna's TPE sampler (seeded by ``seed``)
asks ``workers`` trials at a time and their runs go to the executor together. The study lives in
``<output.dir>/<bank>/study.sqlite3`` under a name hashed from the settings, so rerunning a
command resumes it (``trials`` is the total of finished trials wanted) and changed settings start
anew; trial 0 is the bank's current values. The best trial is re-measured with the targets'
sensitivity to each parameter around it (``sim.identify``: 95% intervals, which parameters the
targets identify and which trade off), and its fit table printed. Next to the study go
``provenance.json``, the fit ``calibrated.yaml`` (``bank=<name>`` runs the one in
``results/calibration/<name>/``: ``sim.scenario.FITS``) and ``plausible.yaml``, the trials as
plausible as the best (``write=false`` skips these two). ``trials=0`` only prints the current
config's fit table. ``-h`` prints this text. docs/calibration.md has more.
"""

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import yaml
from hydra.core.config_store import ConfigStore

from experiments.study import (
    best_value,
    error_line,
    finished,
    hashed_name,
    run_trials,
)
from experiments.study import evaluate as evaluate_points
from experiments.study import open_study as open_named_study
from runner.config import ExecutorConfig, check_machine, workers
from runner.executors import mapper
from sim import bankdata, calibration, identify, targets
from sim.config import Config
from sim.folders import check_study_folder, replacing, write_json
from sim.overrides import HELP, check_overrides, command, split_flags
from sim.params import ConfigError, describe_allowed, param
from sim.provenance import code_version
from sim.resources import LimitsConfig
from sim.scenario import (
    FITS,
    GROUPS,
    compose_replacing,
    fit_files,
    scenario_text,
    to_config,
    value_at,
)
from sim.values import is_number, numeric_key, with_values

DEFAULT_BANK = "synthetic"  # configs/calibrate.yaml's bank
DIGITS = 6  # significant digits of a fitted value
BOOTSTRAP = 1_000  # resamples of the bank's extract for the targets' error covariance


@dataclass
class CalibrateConfig(Config):
    targets: str = param(
        "", "targets file, or a name in configs/targets/ (empty: the bank's name)", "workflow"
    )
    trials: int = param(
        60, "finished trials the study should hold (0: only measure)", "workflow", 0, 100_000
    )
    seeds: int = param(
        calibration.SEEDS,
        "runs per trial: seeds seed ... seed + seeds - 1, the same for every trial",
        "common random numbers",
        1,
        1_000,
    )
    parameters: dict[str, Any] = param(
        {}, "config key -> [low, high] (nested maps are joined with dots)", "workflow"
    )
    workers: int = param(
        0, "trials asked and run at a time (0: the executor's workers)", "machine", 0, 4_096
    )
    write: bool = param(
        True,
        "write the fit and the plausible sets next to the study (for other commands)",
        "workflow",
    )
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)


@dataclass
class Plan:
    """A validated calibration: the scenario, what to fit and to what."""

    settings: CalibrateConfig
    scenario: Config  # the bank as composed: the start of the fit
    bank: str
    wanted: targets.Targets
    ranges: dict[str, tuple[float, float]]
    start: dict[str, float]  # the current values of the parameters
    folder: Path  # <output.dir>/<bank>
    command: str  # as typed, for the record
    fits: list[Path]  # the fits the bank composed (the last wins): the start's


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def prepare(args: list[str]) -> Plan:
    """Compose and check everything (one-line ConfigError) before any work."""
    ConfigStore.instance().store(name="calibrate_schema", node=CalibrateConfig)
    _, overrides = split_flags(
        args, "experiments.calibrate", HELP, "see ./testbed experiments.calibrate -h"
    )
    parsed = check_overrides(overrides, GROUPS)
    bank = next((o.value() for o in reversed(parsed) if o.key_or_group == "bank"), DEFAULT_BANK)
    cfg = compose_replacing(
        parsed, lambda o: o.key_or_group in ("targets", "parameters"), "calibrate"
    )
    settings = to_config(cfg, schema=CalibrateConfig)
    scenario = Config(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(Config)})
    if scenario.bank.data.customers and not any(o.key_or_group == "burn_in" for o in parsed):
        scenario.burn_in = 0  # the targets describe the extract's customers: measure them
    ranges = parameter_ranges(scenario, settings.parameters)
    if settings.trials and not ranges:
        raise ConfigError("parameters is empty; give key: [low, high] (or trials=0 to measure)")
    found = targets.read_targets(targets.resolve(settings.targets or str(bank)))
    start = {key: numeric_key(scenario, key, key)[0] for key in ranges}
    folder = Path(settings.output.dir) / str(bank)
    check_study_folder(folder, "output.dir")
    check_machine([scenario] * workers(settings.executor), settings.executor, settings.limits)
    command = " ".join(["./testbed experiments.calibrate", *args])
    fits = fit_files(str(bank))
    return Plan(settings, scenario, str(bank), found, ranges, start, folder, command, fits)


def _measured_from(scenario: Config) -> str:
    if scenario.burn_in:
        return f"a {scenario.burn_in}-month burn-in"
    return "the opening book (burn_in=0)"


def flat(node: dict, prefix: str = "") -> dict[str, Any]:
    """A nested map as dotted keys: ``{behaviour: {churn_base: x}}`` -> ``behaviour.churn_base``."""
    out = {}
    for key, value in node.items():
        if isinstance(value, dict):
            out |= flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def parameter_ranges(
    config: Config, parameters: dict, setting: str = "parameters"
) -> dict[str, tuple[float, float]]:
    """Each parameter's [low, high], checked: a numeric scenario key, low < high, within what the
    key allows; errors name the key as ``<setting>.<key>``."""
    ranges = {}
    for key, bounds in flat(parameters).items():
        name = f"{setting}.{key}"
        value, meta = numeric_key(config, key, name)
        numbers = isinstance(bounds, list) and len(bounds) == 2
        if not numbers or not all(is_number(b) for b in bounds) or not bounds[0] < bounds[1]:
            raise ConfigError(f"{name}={bounds}; allowed [low, high] with low < high")
        lo_ok = meta.get("lo") is None or bounds[0] >= meta["lo"]
        if not lo_ok or meta.get("hi") is not None and bounds[1] > meta["hi"]:
            raise ConfigError(
                f"{name}={bounds} is out of range; {key} allows {describe_allowed(meta)}"
            )
        if isinstance(value, int) and math.ceil(bounds[0]) > math.floor(bounds[1]):
            raise ConfigError(f"{name}={bounds} holds no integer; {key} is an integer")
        ranges[key] = (bounds[0], bounds[1])
    return ranges


def study_name(plan: Plan) -> str:
    """A hash of what makes a study: bank, targets, parameters, seeds and the scenario (with
    the parameters at their lows, so the current values do not count)."""
    s = plan.settings
    canonical = with_values(plan.scenario, {k: lo for k, (lo, _) in plan.ranges.items()})
    return hashed_name(
        [
            plan.bank,
            plan.wanted.sha256,
            sorted(plan.ranges.items()),
            [s.seed + k for k in range(s.seeds)],
            scenario_text(canonical),
        ]
    )


# --------------------------------------------------------------------------------------------
# Measuring trials
# --------------------------------------------------------------------------------------------


def measured_run(config: Config) -> calibration.RunMeasure | str:
    """One run measured, or the last line of its traceback if it failed (on a worker)."""
    try:
        return calibration.measure_run(config)
    except Exception:  # noqa: BLE001 - a failing run fails its trial; the study goes on
        return error_line()


def evaluate(plan: Plan, run, points: list[dict[str, float]]) -> list[dict[str, float] | str]:
    """The pooled quantities of each point (parameter values) on the plan's seeds, its runs
    done together by ``run`` (an executor's map); an error line for a point whose run failed."""
    seeded = [
        calibration.seeded(with_values(plan.scenario, point), plan.settings.seeds)
        for point in points
    ]
    return evaluate_points(run, measured_run, seeded, calibration.pooled)


def trial_loss(plan: Plan, measured: dict[str, float] | str) -> float:
    """A trial's loss; NaN (a failed trial) for a failed run or a quantity the runs lack."""
    if isinstance(measured, str):
        return math.nan
    return calibration.loss(measured, plan.wanted.targets)


def scores(plan: Plan, run, points: list[dict[str, float]]) -> list[float | str]:
    """Each trial's loss, or why it failed (its run's error, or the targets its runs could not
    measure)."""
    out: list[float | str] = []
    for measured in evaluate(plan, run, points):
        value = trial_loss(plan, measured)
        out.append(value if math.isfinite(value) else _failure(measured))
    return out


# --------------------------------------------------------------------------------------------
# The study
# --------------------------------------------------------------------------------------------


def open_study(plan: Plan) -> optuna.Study:
    """The plan's study (``experiments.study.open_study``), minimising the loss; a new study's
    first trial is the current values."""
    return open_named_study(plan, study_name(plan), ["minimize"])


def _failure(measured: dict[str, float] | str) -> str:
    """Why a trial failed: its run's error, or the targets its runs could not measure."""
    if isinstance(measured, str):
        return measured
    return "no value (empty group) for " + ", ".join(k for k, v in measured.items() if v != v)


# --------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------


def rounded(values: dict[str, float]) -> dict[str, float]:
    """Fitted values to ``DIGITS`` significant digits (integers stay integers)."""
    return {k: v if isinstance(v, int) else float(f"{v:.{DIGITS}g}") for k, v in values.items()}


@dataclass
class Result:
    """A finished calibration: the best values, their measurement, what the targets tell about
    them and the trials as plausible as the best."""

    best: dict[str, float]
    measured: dict[str, float]
    found: identify.Identification | str  # or why it is unknown
    sets: list[tuple[int, float, dict[str, float]]]  # (trial, loss, values), best first
    qualified: int  # trials within the rule's bound (the sets are at most MAX_SETS of them)
    rule: str  # how the sets were chosen, in words


def identification(
    plan: Plan, best: dict[str, float], measured: dict[str, float], points: list, around: list
) -> identify.Identification | str:
    """What the targets tell about the ``best`` values (``measured``), from the quantities
    ``around`` them at the difference ``points``; or why that is unknown."""
    t = plan.wanted.targets
    failed = next((m for m in around if isinstance(m, str) or _lacks(m, t)), None)
    if failed is not None:
        return f"a run around the best failed: {_failure(failed)}"
    sigma = np.array([target.half_width / 2 for target in t.values()])
    errors, words = target_errors(plan, sigma)
    d = identify.sensitivity(points, around, list(t))
    loss = calibration.loss(measured, t)
    return identify.identify(d, sigma, errors, best, plan.ranges, loss, words)


def _lacks(measured: dict[str, float], wanted: dict) -> bool:
    return any(math.isnan(measured[k]) for k in wanted)


def target_errors(plan: Plan, sigma: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The targets' error covariance in sigma units (``sim.identify``) and how it was taken:
    ``BOOTSTRAP`` resamples of the bank's extract when the targets file was computed from it
    (its ``source.sha256``); else None, independent errors."""
    extract, source = plan.scenario.bank.data.customers, plan.wanted.source
    digest = source.get("sha256") if isinstance(source, dict) else None
    if not extract or digest != bankdata.digest(bankdata.path_of(extract)):
        return None, "independent, each with a standard error of half its half-width"
    names = list(plan.wanted.targets)
    x = targets.columns(bankdata.read_extract(extract))
    draws = targets.bootstrap(x, BOOTSTRAP, plan.settings.seed).reindex(columns=names)
    known = draws.notna().any().to_numpy()
    values = draws.to_numpy()[draws.loc[:, known].notna().all(axis=1).to_numpy()]
    if len(values) < BOOTSTRAP // 2:
        return None, "independent (resamples of the extract leave a target's group empty)"
    return (
        identify.error_covariance(values, sigma, known),
        f"from {len(values):,} bootstrap resamples of the extract {extract} the targets came from",
    )


def plausible_sets(
    plan: Plan, study: optuna.Study, found: identify.Identification | str
) -> tuple[list[tuple[int, float, dict[str, float]]], int, str]:
    """The finished trials as plausible as the best (``sim.identify.plausible``), how many
    qualified and the rule in words; independent errors assumed when the identification is
    unknown."""
    p = len(plan.ranges)
    if isinstance(found, str):
        bound, law = identify.threshold(np.ones(p), p)
        law += " (independent errors assumed: what the targets tell is unknown)"
    else:
        bound, law = found.threshold()
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    sets, qualified = identify.plausible([(t.number, t.value, t.params) for t in done], bound)
    rule = (
        f"every finished trial whose loss is within {bound:.3g} of the best, 4 x that being the"
        f" {identify.LEVEL:.0%} point of 4 x (loss - best loss) at the true parameters ({law});"
        f" at most {identify.MAX_SETS} kept: the best, each parameter's lowest and highest, then"
        " the rest by loss"
    )
    return sets, qualified, rule


def calibrated_yaml(plan: Plan, best: dict[str, float], header: list[str]) -> str:
    """The fit: ``# @package _global_`` first (Hydra reads a header only from the top), the
    comments, then the keys of the fit the bank composed with the fitted ones set."""
    keys = yaml.safe_load(plan.fits[-1].read_text()) if plan.fits else None
    keys = keys or {}
    fitted = with_values(plan.scenario, best)
    for key in best:
        head, _, last = key.rpartition(".")
        whole = head if isinstance(value_at(fitted, head), list) else key
        node = keys
        for part in whole.split(".")[:-1]:
            node = node.setdefault(part, {})
        value = value_at(fitted, whole)
        node[whole.split(".")[-1]] = list(value) if isinstance(value, list) else value
    body = yaml.safe_dump(keys, sort_keys=False, default_flow_style=None)
    return "\n".join(["# @package _global_", *(f"# {line}" for line in header), body])


def plausible_yaml(plan: Plan, study: optuna.Study, result: Result) -> str:
    """The plausible sets: bank, study, rule, the fitted keys' ranges and a line per set."""
    doc = {
        "bank": plan.bank,
        "study": study.study_name,
        "rule": result.rule,
        "parameters": {k: list(v) for k, v in plan.ranges.items()},
    }
    sets = [
        {"trial": number, "loss": float(f"{loss:.4g}"), "values": rounded(values)}
        for number, loss, values in result.sets
    ]
    flow = [
        yaml.safe_dump(x, default_flow_style=True, sort_keys=False, width=math.inf).strip()
        for x in sets
    ]
    return "".join(
        [
            f"# written by {plan.command}\n",
            yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=math.inf),
            "sets:  # best first; values rounded to 6 significant digits\n",
            *(f"  - {line}\n" for line in flow),
        ]
    )


def data_files(config: Config) -> dict[str, str]:
    """sha256 of the bank's data files (``bank.data``), by key."""
    return {f"bank.data.{k}": v for k, v in bankdata.digests(config).items()}


def write_outputs(plan: Plan, study: optuna.Study, result: Result, report: list[str]) -> None:
    """provenance.json and, unless ``write=false``, the fit and the plausible sets, each
    written whole (a temporary file renamed into place); ``report``: the printed fit."""
    s, t = plan.settings, plan.wanted
    loss = calibration.loss(result.measured, t.targets)
    fit_file, sets_file = plan.folder / "calibrated.yaml", plan.folder / "plausible.yaml"
    found = result.found
    record = {
        "bank": plan.bank,
        "command": plan.command,
        "study": study.study_name,
        "trials": len(study.trials),
        "seeds": [s.seed + k for k in range(s.seeds)],
        "ranges": {k: list(v) for k, v in plan.ranges.items()},
        "started_from": [str(path) for path in plan.fits],  # the last won
        "start": plan.start,
        "best": result.best,
        "loss": loss,
        "fit": {
            k: {"target": tv.value, "lo": tv.lo, "hi": tv.hi, "model": result.measured[k]}
            for k, tv in t.targets.items()
        },
        "identification": (
            {"unknown": found}
            if isinstance(found, str)
            else identify.record(found, list(t.targets))
        ),
        "plausible": {"rule": result.rule, "qualified": result.qualified, "sets": len(result.sets)},
        "targets": {"file": str(t.path), "sha256": t.sha256},
        "data": data_files(plan.scenario),
        "optuna": optuna.__version__,
        "written": [str(fit_file), str(sets_file)] if s.write else None,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        **code_version(),
    }
    write_json(plan.folder / "provenance.json", record)
    n = len(result.sets)
    which = f"{result.qualified} trials qualify" if n > 1 else "only the best trial qualifies"
    count = f"{n} plausible parameter set{'s' * (n > 1)} ({which}; rule: {result.rule})"
    if not s.write:
        print(f"{count}; nothing written for other commands (write=false)")
        return
    header = [
        f"Calibrated by ./testbed experiments.calibrate on {record['timestamp']} (study"
        f" {study.study_name}, {record['trials']} trials, seeds {s.seed}-{s.seed + s.seeds - 1});"
        f" loss {loss:.4g}",
        f"command: {plan.command}",
        f"started from: {_started_from(plan)}",
        f"targets: {t.path} (sha256 {t.sha256})",
        *(f"data: {k} (sha256 {v})" for k, v in record["data"].items()),
        "fit of the written values:",
        *report,
    ]
    with replacing(fit_file) as tmp:
        tmp.write_text(calibrated_yaml(plan, result.best, header))
    with replacing(sets_file) as tmp:
        tmp.write_text(plausible_yaml(plan, study, result))
    print(f"{count} written to {sets_file}")
    if plan.folder.resolve() == (FITS / plan.bank).resolve():
        print(f"Fit written to {fit_file}: bank={plan.bank} runs it from now on")
    else:
        print(
            f"Fit written to {fit_file}; bank={plan.bank} runs only the fit in"
            f" {FITS / plan.bank}/, so copy it there to use it"
        )


def _started_from(plan: Plan) -> str:
    if not plan.fits:
        return "the bank's own values (no fit yet)"
    path = plan.fits[-1].absolute()
    return f"the fit {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}"


def calibrate(plan: Plan, progress: bool = True) -> dict[str, float]:
    """Run the calibration (or with ``trials=0`` only measure) and print the fit table and what
    the targets tell; the fitted values (the current ones with ``trials=0``)."""
    s = plan.settings
    t = plan.wanted
    with mapper(s.executor, plan.folder / "slurm") as run:
        if not s.trials:
            print(f"Bank {plan.bank}, pooled over seeds {s.seed}-{s.seed + s.seeds - 1}:")
            measured = evaluate(plan, run, [{}])[0]
            _check_measured(measured)
            print(calibration.table(measured, t.targets))
            print(_fit_line(measured, t.targets))
            return plan.start
        study = open_study(plan)
        print(
            f"Calibrating bank {plan.bank}: {len(plan.ranges)} parameters to {len(t.targets)}"
            f" targets ({t.path}), {s.seeds} seeds a trial, starting from {_started_from(plan)};"
            f" study {study.study_name} in {plan.folder} holds {finished(study)} finished"
            f" trials, {s.trials} wanted; measuring the 12 months after"
            f" {_measured_from(plan.scenario)}"
        )
        run_trials(plan, study, lambda points: scores(plan, run, points), progress)
        if math.isnan(best_value(study)):
            raise ConfigError("no trial finished; every run failed (see the study's trials)")
        best = rounded(study.best_params)
        points = identify.difference_points(best, plan.ranges)
        print(
            f"Measuring the best trial and the targets' sensitivity around it ({len(points)} more"
            f" points of {s.seeds} runs)"
        )
        measured, *around = evaluate(plan, run, [best, *points])
        _check_measured(measured)
    found = identification(plan, best, measured, points, around)
    result = Result(best, measured, found, *plausible_sets(plan, study, found))
    print(
        f"Best trial {study.best_trial.number} (loss {calibration.loss(measured, t.targets):.4g}):"
    )
    for key, value in best.items():
        print(f"  {key} = {value:g} (was {plan.start[key]:g}, range {plan.ranges[key]})")
    report = [
        *calibration.table(measured, t.targets).splitlines(),
        *(identify.report(found) if not isinstance(found, str) else [f"Identification: {found}"]),
        _fit_line(measured, t.targets, found),
    ]
    print("\n".join(report))
    write_outputs(plan, study, result, report)
    return best


def _fit_line(
    measured: dict[str, float],
    wanted: dict[str, targets.Target],
    found: identify.Identification | str | None = None,
) -> str:
    """``k of m targets within their bands (loss x)``, then what the targets tell (if known)."""
    within = sum(t.within(measured[k]) for k, t in wanted.items())
    loss = calibration.loss(measured, wanted)
    line = f"{within} of {len(wanted)} targets within their bands (loss {loss:.4g})"
    if found is None:
        return line
    if isinstance(found, str):
        return f"{line}; what the targets tell is unknown"
    return f"{line}; {identify.summary(found)}"


def _check_measured(measured) -> None:
    if isinstance(measured, str):
        raise RuntimeError(f"a run failed: {measured}")


def main(args: list[str] | None = None) -> int:
    return command(__doc__, prepare, calibrate, args)


if __name__ == "__main__":
    sys.exit(main())
