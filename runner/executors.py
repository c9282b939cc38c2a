"""Where runs execute: a local process pool (default), Ray, or SLURM through submitit.

Every executor calls the same ``execute`` on each run, which writes the run's folder into the
store itself, so results are identical whichever executor ran them. A run that raises is recorded
as failed with its traceback; the others go on. :func:`mapper` maps any picklable function over
items on the configured executor (the calibration's runs use it).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from runner.config import ExecutorConfig, workers
from runner.plan import RunSpec
from runner.store import NO_CACHE, forget_locks, publish, write_failure
from sim.api import now, run_scenario
from sim.config import Config
from sim.progress import PROGRESS
from sim.progress import bar as progress_bar
from sim.resources import LONG_SECONDS, at_once, die_with_parent, estimate

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    run_id: str
    arm: str
    seed: int
    status: str  # "ok" or "failed"
    seconds: float
    error: str = ""


def execute(spec: RunSpec, runs_dir: str) -> Outcome:
    """Run one scenario and store it (or its failure); a run that succeeded also goes into the
    store's run cache (``runner.store.publish``), for other experiments to reuse."""
    started, clock = now(), time.perf_counter()
    try:
        run_scenario(spec.config, run_id=spec.run_id).save(runs_dir)
        status, error = "ok", ""
    except Exception:  # noqa: BLE001 - any failure of a run is recorded, the sweep goes on
        error = traceback.format_exc()
        write_failure(Path(runs_dir), spec, started, now(), error)
        status = "failed"
    if status == "ok":
        _publish(Path(runs_dir), spec)
    last_line = error.strip().splitlines()[-1] if error else ""
    return Outcome(spec.run_id, spec.arm, spec.seed, status, time.perf_counter() - clock, last_line)


def _publish(runs_dir: Path, spec: RunSpec) -> None:
    """Put a stored run into the run cache; a cache that cannot take it is logged, never fatal
    (the run is stored in its experiment either way)."""
    try:
        why = publish(runs_dir, spec)
    except (OSError, ValueError) as exc:  # ConfigError is a ValueError
        why = str(exc)
    if why and why != NO_CACHE:
        log.warning("Run %s not put into the run cache: %s", spec.run_id, why)


def run_all(
    specs: list[RunSpec], runs_dir: Path, executor: ExecutorConfig, progress: bool = True
) -> list[Outcome]:
    """Execute every spec on the configured executor, with a progress bar and ETA (and first,
    for long local work, its estimate)."""
    outcomes = []
    call = partial(execute, runs_dir=str(runs_dir))
    if progress and executor.kind == "local":
        _announce([s.config for s in specs], workers(executor))
    with (
        progress_bar(len(specs), "runs", progress) as bar,
        mapper(executor, Path(runs_dir).parent / "slurm", len(specs)) as run,
    ):
        for _, outcome in run(call, specs):
            outcomes.append(outcome)
            failed = sum(o.status != "ok" for o in outcomes)
            bar.set_postfix(failed=failed, refresh=False)
            bar.update()
    return outcomes


def _announce(configs: list[Config], n: int) -> None:
    """Say how long and how much memory the runs will take, when that is long (logged to go
    with the progress bar: a command shows it on stderr)."""
    n = min(n, len(configs))
    need = at_once([estimate(config) for config in configs], n)
    if need.seconds > LONG_SECONDS:
        log.info("Estimated: %s (%d runs, %d at a time)", need, len(configs), n, extra=PROGRESS)


Map = Callable[[Callable[[Any], Any], Sequence[Any]], Iterator[tuple[int, Any]]]


@contextmanager
def mapper(executor: ExecutorConfig, folder: Path, size: int = 0) -> Iterator[Map]:
    """``map(fn, items)`` on the configured executor, yielding ``(index, fn(item))`` as each call
    finishes; ``fn`` and the items must pickle and ``fn`` should not raise. The local pool (at
    most ``size`` workers, when given) and a Ray started here stay up for every call in the
    block; SLURM keeps its job folders under ``folder``."""
    if executor.kind == "local":
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        size = min(workers(executor), size or workers(executor))
        start = {"initializer": _start_worker, "initargs": (os.getpid(),)}
        with ProcessPoolExecutor(size, mp_context=context, **start) as pool:
            yield partial(_local, pool)
    elif executor.kind == "ray":
        with _ray_started(executor):
            yield _ray
    else:
        yield partial(_slurm, executor, folder / "%j")


def _call(fn, item):
    return fn(item)


def _local(pool: ProcessPoolExecutor, fn, items) -> Iterator[tuple[int, Any]]:
    """A pool of warm worker processes: each imports the model once and takes call after call."""
    futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
    for future in as_completed(futures):
        yield futures[future], future.result()


def _start_worker(parent: int) -> None:
    """A local pool worker drops the parent's experiment locks and, on Linux, dies with its
    parent, so a killed experiment leaves no orphan writing into its store."""
    forget_locks()
    die_with_parent(parent)


@contextmanager
def _ray_started(executor: ExecutorConfig) -> Iterator[None]:
    """Ray on the cluster at ``executor.address``, or a Ray started here (and shut down after)."""
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=executor.address or None,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    try:
        yield
    finally:
        if started_here:
            ray.shutdown()


def _ray(fn, items) -> Iterator[tuple[int, Any]]:
    """Ray tasks."""
    import ray

    remote = ray.remote(_call)
    pending = {remote.remote(fn, item): i for i, item in enumerate(items)}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        yield pending.pop(done[0]), ray.get(done[0])


def _slurm(executor: ExecutorConfig, folder: Path, fn, items) -> Iterator[tuple[int, Any]]:
    """A SLURM job array through submitit (its local executor with ``executor.local``)."""
    import submitit

    if executor.local:
        pool = submitit.LocalExecutor(folder=folder)
        pool.update_parameters(timeout_min=executor.timeout_min)
    else:
        pool = submitit.AutoExecutor(folder=folder, cluster="slurm")
        pool.update_parameters(
            timeout_min=executor.timeout_min,
            cpus_per_task=executor.cpus_per_task,
            **({"slurm_partition": executor.partition} if executor.partition else {}),
        )
    jobs = pool.map_array(_call, [fn] * len(items), list(items))
    pending = dict(enumerate(jobs))
    while pending:
        finished = [i for i, job in pending.items() if job.done()]
        for i in finished:
            yield i, pending.pop(i).result()
        if pending and not finished:
            time.sleep(0.5)
