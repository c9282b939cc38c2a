"""Where runs execute: a local process pool (default), Ray, or SLURM through submitit.

Every executor calls the same ``execute`` on each run, which writes the run's folder into the
store itself, so results are identical whichever executor ran them. A run that raises is recorded
as failed with its traceback; the others go on.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from experiments.config import ExecutorConfig
from experiments.plan import RunSpec
from experiments.store import forget_locks, write_failure
from sim.api import now, run_scenario

tqdm.monitor_interval = 0  # no monitor thread: the pool forks workers from a thread-free process
PR_SET_PDEATHSIG = 1  # Linux prctl option: a signal for this process when its parent dies


@dataclass
class Outcome:
    run_id: str
    arm: str
    seed: int
    status: str  # "ok" or "failed"
    seconds: float
    error: str = ""


def execute(spec: RunSpec, runs_dir: str) -> Outcome:
    """Run one scenario and store it (or its failure)."""
    started, clock = now(), time.perf_counter()
    try:
        run_scenario(spec.config, run_id=spec.run_id).save(runs_dir)
        status, error = "ok", ""
    except Exception:  # noqa: BLE001 - any failure of a run is recorded, the sweep goes on
        error = traceback.format_exc()
        write_failure(Path(runs_dir), spec, started, now(), error)
        status = "failed"
    last_line = error.strip().splitlines()[-1] if error else ""
    return Outcome(spec.run_id, spec.arm, spec.seed, status, time.perf_counter() - clock, last_line)


def run_all(
    specs: list[RunSpec], runs_dir: Path, executor: ExecutorConfig, progress: bool = True
) -> list[Outcome]:
    """Execute every spec on the configured executor, with a progress bar and ETA."""
    runner = {"local": _local, "ray": _ray, "slurm": _slurm}[executor.kind]
    outcomes = []
    with tqdm(total=len(specs), desc="runs", unit="run", disable=not progress) as bar:
        for outcome in runner(specs, str(runs_dir), executor):
            outcomes.append(outcome)
            failed = sum(o.status != "ok" for o in outcomes)
            bar.set_postfix(failed=failed, refresh=False)
            bar.update()
    return outcomes


def workers(executor: ExecutorConfig) -> int:
    return executor.workers or os.cpu_count() or 1


def _local(specs, runs_dir: str, executor: ExecutorConfig) -> Iterator[Outcome]:
    """A pool of warm worker processes: each imports the model once and takes run after run."""
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    size = min(workers(executor), max(len(specs), 1))
    with ProcessPoolExecutor(
        max_workers=size, mp_context=context, initializer=_start_worker
    ) as pool:
        futures = [pool.submit(execute, spec, runs_dir) for spec in specs]
        for future in as_completed(futures):
            yield future.result()


def _start_worker() -> None:
    """A local pool worker drops the parent's experiment locks and, on Linux, dies with its
    parent, so a killed experiment leaves no orphan writing into its store."""
    forget_locks()
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _ray(specs, runs_dir: str, executor: ExecutorConfig) -> Iterator[Outcome]:
    """Ray tasks, on the cluster at ``executor.address`` or on a Ray started here."""
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
        remote = ray.remote(execute)
        pending = [remote.remote(spec, runs_dir) for spec in specs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    finally:
        if started_here:
            ray.shutdown()


def _slurm(specs, runs_dir: str, executor: ExecutorConfig) -> Iterator[Outcome]:
    """A SLURM job array through submitit (its local executor with ``executor.local``)."""
    import submitit

    folder = Path(runs_dir).parent / "slurm" / "%j"
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
    jobs = pool.map_array(execute, specs, [runs_dir] * len(specs))
    pending = list(jobs)
    while pending:
        finished = [job for job in pending if job.done()]
        for job in finished:
            pending.remove(job)
            yield job.result()
        if pending and not finished:
            time.sleep(0.5)
