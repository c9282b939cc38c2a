"""The Optuna study that ``experiments.calibrate`` and ``experiments.optimize`` share.

A study lives in ``<folder>/study.sqlite3`` under a name hashed from what makes it
(:func:`hashed_name`), so rerunning a command resumes it and changed settings start anew.
:func:`open_study` creates or resumes it: trials an interrupted run left running are failed and
asked again, a new study's first trial is the plan's start (clipped into the ranges), and its
TPE sampler is seeded by the trials so far. :func:`run_trials` asks ``workers`` trials at a time,
runs them together on the executor and tells their values, until the study holds the finished
trials wanted. :func:`evaluate` runs each point's configs through an executor's map and combines
their results, or gives the error line of a failed run.

A command's plan gives ``settings`` (``seed``, ``trials``, ``workers``, ``executor``),
``ranges`` (key -> [low, high]), ``start`` (key -> the value trial 0 takes) and ``folder``.
"""

from __future__ import annotations

import hashlib
import json
import math
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import optuna

from runner.config import workers
from sim.config import Config
from sim.folders import mark
from sim.progress import bar as progress_bar

Value = float | list[float]
"""A trial's value: its loss, or one value per objective."""


class Plan(Protocol):
    settings: Any  # seed, trials, workers, executor
    ranges: dict[str, tuple[float, float]]
    start: dict[str, float]
    folder: Path


def hashed_name(parts: list) -> str:
    """A study's name: a hash of what makes it (JSON-able ``parts``)."""
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def distributions(plan: Plan) -> dict[str, optuna.distributions.BaseDistribution]:
    """Optuna's search space: integer keys (an integer start) as integers."""
    return {
        key: optuna.distributions.IntDistribution(math.ceil(lo), math.floor(hi))
        if isinstance(plan.start[key], int)
        else optuna.distributions.FloatDistribution(lo, hi)
        for key, (lo, hi) in plan.ranges.items()
    }


def open_study(plan: Plan, name: str, directions: list[str], **sampler: Any) -> optuna.Study:
    """The study ``name`` in ``plan.folder``, created or resumed: trials an interrupted run left
    running are failed and asked again; a new study's first trial is ``plan.start`` clipped into
    the ranges. Its TPE sampler (``sampler``: more of its options) is seeded by the trials so
    far, so that a resumed study does not repeat its first draws."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    mark(plan.folder)  # the folder then holds a folder of this project's
    study = optuna.create_study(
        study_name=name,
        storage=f"sqlite:///{plan.folder / 'study.sqlite3'}",
        directions=directions,
        load_if_exists=True,
    )
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study.tell(t.number, state=optuna.trial.TrialState.FAIL)
        study.enqueue_trial(t.params)  # interrupted, not broken: asked again
    if not study.trials:
        space = distributions(plan)
        study.enqueue_trial(
            {k: min(max(v, space[k].low), space[k].high) for k, v in plan.start.items()}
        )
    seed = (plan.settings.seed + len(study.trials)) % 2**32
    study.sampler = optuna.samplers.TPESampler(seed=seed, **sampler)
    return study


def finished(study: optuna.Study) -> int:
    """The study's finished (complete) trials."""
    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))


def best_value(study: optuna.Study) -> float:
    """A single-objective study's best value; NaN before a trial finished."""
    try:
        return study.best_value
    except ValueError:  # no finished trial yet
        return math.nan


def run_trials(
    plan: Plan,
    study: optuna.Study,
    score: Callable[[list[dict[str, Any]]], list[Value | str]],
    progress: bool = True,
) -> int:
    """Ask, run and tell trials in batches of ``workers`` (the executor's, unless the settings
    give them) until the study holds ``settings.trials`` finished ones; returns how many were
    run. ``score`` takes a batch's parameters and gives each trial's value, or why it failed
    (a text, kept as the trial's ``error``)."""
    todo = max(plan.settings.trials - finished(study), 0)
    batch = plan.settings.workers or workers(plan.settings.executor)
    space = distributions(plan)
    single = len(study.directions) == 1
    with progress_bar(todo, "trials", progress) as bar:
        for first in range(0, todo, batch):
            asked = [study.ask(space) for _ in range(min(batch, todo - first))]
            for trial, value in zip(asked, score([t.params for t in asked]), strict=True):
                if isinstance(value, str):
                    trial.set_user_attr("error", value)
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(trial, value)
            if single:
                bar.set_postfix(best=f"{best_value(study):.4g}", refresh=False)
            bar.update(len(asked))
    return todo


def error_line() -> str:
    """The last line of the exception being handled: why a run failed (on a worker)."""
    return traceback.format_exc().strip().splitlines()[-1]


def results(run, fn: Callable[[Config], Any], configs: Sequence[Config]) -> list[Any]:
    """``fn`` of every config through ``run`` (an executor's map), in the configs' order."""
    out: list[Any] = [None] * len(configs)
    for i, result in run(fn, configs):
        out[i] = result
    return out


def evaluate(
    run,
    fn: Callable[[Config], Any],
    points: list[list[Config]],
    combine: Callable[[list[Any]], Any],
) -> list[Any]:
    """Each point's runs (its configs, one per seed) done together through ``run`` by ``fn``
    (which gives an error line, a text, for a run that failed), and combined by ``combine``;
    a point with a failed run gets that run's error line."""
    done = results(run, fn, [config for configs in points for config in configs])
    out, first = [], 0
    for configs in points:
        runs, first = done[first : first + len(configs)], first + len(configs)
        error = next((r for r in runs if isinstance(r, str)), None)
        out.append(error or combine(runs))
    return out
