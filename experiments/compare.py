"""``python -m experiments.compare [experiment=NAME] [key=value ...]``: compare strategies.

Runs every arm of the experiment on the same seeds (common random numbers), stores each run under
``<output.dir>/<experiment name>/runs/<run id>``, skips runs already stored (so an interrupted or
partly failed experiment resumes), takes those another experiment under the same ``output.dir`` ran
from the run cache (``runner.store.take_cached``), then reports per-arm statistics and paired
differences against the baseline. With ``replications=auto`` it runs batches of seeds until every
verdict on the decision KPIs is decided or ``replications_max`` is reached. The whole experiment is
validated before any run starts; a run that fails is recorded with its traceback while the others
go on, and the command then exits 1. Values are literal (``sim.overrides``); Hydra's flags (``-m``,
``--cfg`` ...) are refused, since an experiment grid is how to sweep;
``-h``/``--help`` prints this text. ``dry_run=true`` validates and plans the experiment, prints how
many runs it would execute, how many the store already holds and how many the run cache would
give (naming damaged ones, which it would rerun), and stops: nothing is run or written (no
folder, lock or plan), exit code 0.
``calibration=<bank>`` (or a plausible.yaml's path) runs every arm at each of a calibration's
plausible parameter sets on the same seeds, and the report says whether each verdict holds
across them (``runner.plausible``, ``analysis.plausible``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from runner import plausible
from runner.config import (
    AUTO,
    EXPERIMENT_KEYS,
    CompareConfig,
    check_experiment,
    compose,
    looks,
    register,
    seeds_planned,
    workers,
)
from runner.executors import Outcome, run_all
from runner.plan import RunSpec, arms, plan
from runner.store import (
    DAMAGED,
    cache_of,
    check_store,
    in_cache,
    load,
    open_store,
    planned_arms,
    release,
    reporting,
    stored,
    take_cached,
    write_plan,
)
from sim.kpis import counted
from sim.overrides import check_overrides, console_log, refuse, split_flags
from sim.params import ConfigError
from sim.scenario import GROUPS, config_yaml, load_config, to_config

register()
NOT_SCENARIO = (*EXPERIMENT_KEYS, "hydra")
HELP = ("-h", "--help")
GRID_ADVICE = "to sweep, use an experiment grid (experiment=closure_sweep; docs/experiments.md)"


def scenario_overrides(overrides: list[str]) -> list[str]:
    """The command line's overrides that shape the scenario of every arm."""

    def key(override: str) -> str:
        return override.lstrip("+~").partition("=")[0].split(".")[0].split("/")[0]

    return [o for o in overrides if key(o) not in NOT_SCENARIO]


def prepare(cfg: DictConfig, overrides: list[str]) -> tuple[CompareConfig, list[RunSpec], Path]:
    """Validate everything and plan every run, before anything is run (raises ConfigError);
    opens (creates and locks) the experiment folder, or with ``dry_run`` only checks it. With
    ``calibration=``, the experiment is composed again with the settings the calibration implies
    (read before the bank is, so that a bank it refuses is never loaded) and runs at its
    plausible sets (``runner.plausible``), recorded in the folder."""
    named = cfg.get("calibration")
    calibration = plausible.read(named) if named and isinstance(named, str) else None
    if calibration:
        overrides = [
            *overrides,
            *plausible.implied(calibration, overrides, str(cfg.experiment.name)),
        ]
        cfg = compose(overrides)
    compare = to_config(cfg, schema=CompareConfig)
    check_experiment(compare)
    scenario = scenario_overrides(overrides)
    sets = _plausible_sets(compare, calibration, scenario) if calibration else []
    specs = plan(compare, scenario, [dict(s.values) for s in sets] if calibration else None)
    root = Path(compare.output.dir) / compare.experiment.name
    if compare.dry_run:
        check_store(root, specs)
    else:
        open_store(root, specs, compare.report)
    if calibration:
        if not compare.dry_run:
            plausible.write(root, calibration, sets)
        print(plausible.line(calibration, sets, seeds_planned(compare)))
    return compare, specs, root


def _plausible_sets(
    compare: CompareConfig, calibration: plausible.Calibration, scenario: list[str]
) -> list[plausible.PlausibleSet]:
    """The calibration's sets this experiment runs (its first ``calibration_sets``), checked
    against the baseline arm's scenario."""
    e = compare.experiment
    plausible.check(
        calibration, compare, load_config([*e.overrides, *scenario, *e.arms[e.baseline]])
    )
    return calibration.sets[: compare.calibration_sets]


def run_experiment(
    compare: CompareConfig, specs: list[RunSpec], root: Path, progress: bool = True
) -> int:
    """Run what is missing (with ``replications=auto``, in batches of seeds until the verdicts
    are decided), then report; returns the exit code (1 if any run failed). Releases the lock
    ``prepare`` took on the experiment folder. With ``dry_run``, only says what it would run."""
    if compare.dry_run:
        return dry_run(compare, specs, root)
    try:
        return _run_and_report(compare, specs, root, progress)
    finally:
        release(root)


def dry_run(compare: CompareConfig, specs: list[RunSpec], root: Path) -> int:
    """Print the runs the experiment would execute and those already stored; write nothing."""
    if compare.replications == AUTO:
        first = [s for s in specs if s.seed < compare.seed + compare.replications_min]
        _todo(compare, first, root)
        print(
            f"replications=auto: up to {len({s.run_id for s in specs})} runs with"
            f" replications_max={compare.replications_max} seeds, if verdicts stay undecided"
        )
    else:
        _todo(compare, specs, root)
    print("Dry run: nothing was run or written.")
    return 0


def _run_and_report(compare: CompareConfig, specs: list[RunSpec], root: Path, progress: bool):
    (root / "experiment.yaml").write_text(config_yaml(compare))
    if compare.replications == AUTO:
        outcomes = run_auto(compare, specs, root, progress)
    else:
        outcomes = run_batch(compare, specs, root, progress)
    failed = failures(outcomes)
    if line := arms_line(specs, root, compare.report):
        print(line)
    if compare.report:
        from analysis import report  # matplotlib and Jinja2: loaded only to report

        with reporting(root, "experiment.name"):
            report.report(root, out=print)
    print(f"Results: {root}")
    if failed:
        print(
            f"{counted(len(failed), 'run')} failed; their tracebacks are in"
            " runs/<run id>/provenance.json. Rerun the same command to retry them."
        )
    return 1 if failed else 0


def failures(outcomes: list[Outcome]) -> list[Outcome]:
    """The runs that failed, each printed on a line of its own."""
    failed = [o for o in outcomes if o.status != "ok"]
    for o in failed:
        print(f"  failed: {o.arm} seed {o.seed} (run {o.run_id}): {o.error}")
    return failed


def arms_line(specs: list[RunSpec], root: Path, reported: bool) -> str:
    """ "This command ran arms A, B; the store holds arms A, B, C (all reported)" when earlier
    commands (e.g. with another ``experiment.only``) stored arms this one did not run, else ""."""
    ran = list(dict.fromkeys(s.arm for s in specs))
    held = list(dict.fromkeys([*planned_arms(root), *ran]))
    if set(held) == set(ran):
        return ""
    note = " (all reported)" if reported else ""
    return f"This command ran arms {', '.join(ran)}; the store holds arms {', '.join(held)}{note}."


def run_batch(
    compare: CompareConfig, specs: list[RunSpec], root: Path, progress: bool = True
) -> list[Outcome]:
    """Plan ``specs`` in the store, take those the run cache holds (``runner.store.take_cached``)
    and run those still not stored; the outcomes of the runs run."""
    write_plan(root, specs)
    todo = _todo(compare, specs, root, reuse=True)
    clock = time.perf_counter()
    outcomes = run_all(todo, root / "runs", compare.executor, progress=progress)
    seconds = time.perf_counter() - clock
    if outcomes:
        ok = sum(o.status == "ok" for o in outcomes)
        print(
            f"Ran {counted(len(outcomes), 'run')} in {seconds:.1f} s"
            f" ({len(outcomes) / seconds:.2f} runs/s): {ok} ok, {len(outcomes) - ok} failed"
        )
    return outcomes


def _todo(
    compare: CompareConfig, specs: list[RunSpec], root: Path, reuse: bool = False
) -> list[RunSpec]:
    """The runs of ``specs`` not stored (or failed, or damaged) yet, once each, less those the
    run cache holds (taken into the store if ``reuse``, else only counted: a dry run); prints how
    many there are of each, and names the damaged ones and the cached ones not reused."""
    unique = list({s.run_id: s for s in specs}.values())
    states = stored(root, unique)
    missing = [s for s in unique if states[s.run_id] != "ok"]
    damaged = sorted(i for i, state in states.items() if state == DAMAGED)
    if damaged:
        print(f"{counted(len(damaged), 'damaged run')}: {', '.join(damaged)} — to be rerun")
    cached = (take_cached if reuse else in_cache)(root, missing)
    taken = set(cached.reused)
    todo = [s for s in missing if s.run_id not in taken]
    e, ex = compare.experiment, compare.executor
    points = len({s.point for s in specs})
    seeds = len({s.seed for s in specs})
    what = f" x {counted(points, 'plausible set' if compare.calibration else 'point')}"
    print(
        f"Experiment {e.name}: {counted(len(arms(compare)), 'arm')} x"
        f" {counted(seeds, 'replication')}"
        f"{what if points > 1 or compare.calibration else ''} = {counted(len(unique), 'run')};"
        f" {len(unique) - len(missing)} already stored,"
        f"{f' {len(taken)} {_reused(reuse)} the run cache,' if taken else ''}"
        f" {len(todo)} to run on {ex.kind}"
        f"{f' ({workers(ex)} workers)' if ex.kind == 'local' else ''}"
    )
    if taken:
        print(
            f"{len(taken)} of {counted(len(unique), 'run')} {_reused(reuse)} the run cache"
            f" {cache_of(root)} (run before, by this or another experiment, with the same"
            " scenario, seed, output settings and code); removing that folder clears it"
        )
    if cached.refused:
        shown = [f"{i} ({why})" for i, why in sorted(cached.refused.items())[:3]]
        more = f" and {len(cached.refused) - 3} more" if len(cached.refused) > 3 else ""
        print(
            f"{counted(len(cached.refused), 'run')} in the run cache not reused, to be run again:"
            f" {', '.join(shown)}{more}"
        )
    return todo


def _reused(done: bool) -> str:
    return "reused from" if done else "to be reused from"


def run_auto(
    compare: CompareConfig, specs: list[RunSpec], root: Path, progress: bool = True
) -> list[Outcome]:
    """``replications=auto``: a group-sequential design. Run the seeds of each planned look
    (``experiment.config.looks``: replications_min, then replications_batch more at a time up to
    replications_max) until no verdict on ``experiment.decision_kpis`` is undecided. Each look's
    intervals spend part of the 5% by O'Brien-Fleming-type alpha spending (Lan-DeMets), so that
    stopping at the first decided look keeps the verdicts' promise. Stored runs are reused; a
    failed run stops it."""
    planned, outcomes = looks(compare), []
    print(
        f"replications=auto: group-sequential, looks at {', '.join(map(str, planned))} seeds"
        f" until every verdict on {', '.join(compare.experiment.decision_kpis)} is decided;"
        " each look's intervals at the level O'Brien-Fleming-type alpha spending leaves it"
        " (Lan-DeMets), so stopping early keeps the 95% promise"
    )
    for n in planned:
        batch = [s for s in specs if s.seed < compare.seed + n]
        outcomes += run_batch(compare, batch, root, progress)
        if any(o.status != "ok" for o in outcomes):
            print(f"Stopped adding seeds at {n}: runs failed.")
            return outcomes
        open_, total, level = _undecided(root, batch, compare.experiment.decision_kpis)
        print(
            f"{n} seeds: {open_} of {total} verdicts on the decision KPIs undecided"
            f" (look {planned.index(n) + 1} of {len(planned)}, each interval at {level}%)"
        )
        if not open_:
            return outcomes
    print(f"replications_max={n} reached; the report says about how many seeds would do.")
    return outcomes


def _undecided(root: Path, batch: list[RunSpec], kpis: list[str]) -> tuple[int, int, str]:
    """(undecided, all) verdicts on ``kpis`` (those the runs have) of the runs of ``batch`` (this
    look's seeds and this command's arms; the store may hold more), and the level of each
    interval in words."""
    from analysis import report
    from analysis.stats import UNDECIDED

    differences = report.statistics(root, _runs_of(load(root), batch)).get("differences")
    if differences is None:
        return 0, 0, "—"
    chosen = differences[differences["kpi"].isin(kpis)]
    verdicts = chosen["verdict"]
    level = f"{chosen['interval_level'].min() * 100:.6g}" if len(chosen) else "—"
    return int((verdicts == UNDECIDED).sum()), len(verdicts), level


def _runs_of(runs: pd.DataFrame, batch: list[RunSpec]) -> pd.DataFrame:
    """The rows of ``runs`` (``store.load``) that ``batch`` planned."""
    if runs.empty:
        return runs
    planned = {(s.run_id, s.arm, s.point) for s in batch}
    rows = runs[["run_id", "arm", "point"]].itertuples(index=False, name=None)
    return runs[[row in planned for row in rows]]


def main() -> None:
    """Check the command line, compose and validate with one-line errors (exit 2), then run.
    Hydra's flags (``-m``, ``--cfg`` ...) are refused: an experiment grid sweeps instead;
    ``-h``/``--help`` prints the usage."""
    args = sys.argv[1:]
    if set(args) & set(HELP):
        print(__doc__)
        return
    with console_log():
        try:
            _, overrides = split_flags(args, "experiments.compare", HELP, GRID_ADVICE)
            check_overrides(overrides, GROUPS)
            prepared = prepare(compose(overrides), overrides)
            code = run_experiment(*prepared)
        except ConfigError as exc:
            refuse(exc)
    sys.exit(code)


if __name__ == "__main__":
    main()
