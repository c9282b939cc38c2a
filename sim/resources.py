"""The machine's resources and what work takes of them, checked before any work starts.

:func:`estimate` gives a run's peak memory and time from its size: customers, months (burn-in
included), the arrivals that add customers over those months and the CRM extract. Leavers stay in
memory (the panel lists everyone ever served), so memory grows with the months. The constants
below were measured with ``run_scenario(config, save=folder)``, each in a fresh process (peak
RSS and wall time), on the project's machine: 2 cores, 24 GB, Python 3.12.

The caps bound what a command plans (:data:`MAX_POINTS`, :data:`MAX_RUNS`, :data:`MAX_SWEEP`) and
the local workers (:data:`WORKERS_PER_CORE`); ``limits.force=true`` lifts every limit, for those
who mean it. :func:`die_with_parent` makes a forked child die with the process that forked it.
"""

from __future__ import annotations

import ctypes
import math
import os
import re
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from sim.params import ConfigError, param

MB = 2**20
BASE_BYTES = 420 * MB  # a process with the model loaded: 256-260 MB measured, and compiling the
# kernels (an empty numba cache) adds ~50 MB: 482 against 438 MB at 100k x 120; in a clean clone's
# full test suite on a loaded machine that run peaked at 773 MB (the one-source pass, 2026-12).
# The leavers table (who gets hurt) added ~40 MB that does not grow with the book: 100k x 120
# peaked at 483 MB (569 with an empty numba cache, against 532 before), 200k x 120 at 598 MB
ROW_BYTES = 500  # per customer ever served: 468 B at 1M x 120 months, 484 B at 100k x 480
CRM_BYTES = 250  # per opening customer, the CRM extract's snapshot: 236 B (1M x 120, on vs off)
GROWTH = 0.015  # customers ever served per opening customer and month: 0.0100-0.0103 for the
# baseline (20k x 72, 100k x 120 and x 480, 1M x 12, 3M x 24), 0.0147 with every strategy
ORGANIC_RATE = 0.00168  # population.organic_rate of GROWTH; arrivals scale with a higher rate
# (an upper bound: 0.01 measured 0.047 a month, below 6x GROWTH; 0.05 measured 0.118)
THROUGHPUT = 5.0e6  # customer-months/s: 4.8-7.4 M (1M x 120, 300k x 612, 100k x 480;
# benchmarks/model_speed.py: 5.8 M at 100k)
BUILD_SECONDS = 1.5e-6  # per opening customer, building the world (1M x 1 month: 1.5 s)
LONG_SECONDS = 60.0  # work longer than this has its estimate printed before it starts

MAX_POINTS = 10_000  # a plan's parameter points: ~0.6 ms each to derive and validate (6 s),
# as many as experiment.sample.points and robustness.futures allow
MAX_RUNS = 100_000  # a plan's runs: planned in ~0.5 s, run in 14 h or more on 2 cores
MAX_SWEEP = 1_000  # runs of a sim.run -m sweep: each is composed up front, ~70 ms (70 s)
WORKERS_PER_CORE = 2  # 44 default runs on 2 busy cores: 2 workers 0.71-0.95 runs/s, 4 workers
# 1.05-1.26 (a second per core covers a run's writing), 8 workers 0.87
FORCE = "limits.force=true"
PR_SET_PDEATHSIG = 1  # Linux prctl option: a signal for this process when its parent dies


@dataclass
class LimitsConfig:
    force: bool = param(
        False,
        "start work past the limits: more memory than is available, more workers than two per"
        " core, plans above 10,000 points or 100,000 runs, sweeps above 1,000 runs",
        "for those who mean it (docs/experiments.md#resource-limits)",
    )


@dataclass(frozen=True)
class Estimate:
    """Peak memory (bytes) and wall time (seconds) of some work."""

    seconds: float
    bytes: float

    def __str__(self) -> str:
        return f"about {duration(self.seconds)}, {size(self.bytes)}"


def estimate(config) -> Estimate:
    """A run's peak memory and time from its size (a :class:`sim.config.Config`)."""
    customers, months = config.population.customers, config.burn_in + config.months
    growth = GROWTH * max(1.0, config.population.organic_rate / ORGANIC_RATE)
    crm = CRM_BYTES * customers if config.output.crm_extract else 0
    memory = BASE_BYTES + ROW_BYTES * customers * (1 + growth * months) + crm
    seconds = customers * (BUILD_SECONDS + months / THROUGHPUT)
    return Estimate(seconds, memory)


def heaviest(configs: list) -> tuple[list[Estimate], object]:
    """Each run's estimate, and the config of the run needing the most memory."""
    estimates = [estimate(config) for config in configs]
    return estimates, configs[max(range(len(configs)), key=lambda i: estimates[i].bytes)]


def run_size(config) -> str:
    """The keys that size a run, as a command line sets them."""
    c = config
    return f"population.customers={c.population.customers} burn_in={c.burn_in} months={c.months}"


def at_once(estimates: list[Estimate], workers: int) -> Estimate:
    """Runs on ``workers`` processes forked from this one: the time of their share of the runs,
    the memory of this process and of the ``workers`` largest runs at a time."""
    if not estimates:
        return Estimate(0.0, BASE_BYTES)
    workers = max(1, min(workers, len(estimates)))
    seconds = max(sum(e.seconds for e in estimates) / workers, max(e.seconds for e in estimates))
    largest = sorted((e.bytes for e in estimates), reverse=True)[:workers]
    return Estimate(seconds, BASE_BYTES + sum(largest))


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def size(nbytes: float) -> str:
    gb = nbytes / 2**30
    return f"{gb:.1f} GB" if gb >= 1 else f"{nbytes / MB:.0f} MB"


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def available_memory() -> float | None:
    """Bytes of memory available for new work (Linux: MemAvailable, or what a cgroup limit
    leaves if less); None where unknown."""
    try:
        meminfo = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    found = re.search(r"^MemAvailable:\s+(\d+) kB", meminfo, re.M)
    return min(int(found[1]) * 1024, _cgroup_left()) if found else None


CGROUP_FILES = (  # (limit, usage): cgroup v2, then v1
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
)


def _cgroup_left() -> float:
    """Bytes a cgroup memory limit leaves this process's group (infinity without a limit)."""
    for limit, usage in CGROUP_FILES:
        try:
            cap, used = Path(limit).read_text().strip(), Path(usage).read_text().strip()
        except OSError:
            continue
        if cap.isdigit():
            return int(cap) - int(used)
    return math.inf


def check_count(what: str, count: int, cap: int, unit: str, force: bool, fewer: str) -> None:
    """Refuse ``count`` ``unit`` above ``cap`` (``what`` names the key and value that make them,
    ``fewer`` says what to reduce), unless ``force``."""
    if count > cap and not force:
        raise ConfigError(
            f"{what} makes {count:,} {unit}; allowed at most {cap:,} (fewer {fewer}), or {FORCE}"
            " if you mean it"
        )


def check_memory(what: str, need: Estimate, force: bool, fewer: str) -> None:
    """Refuse work whose estimated memory is above what the machine has available, unless
    ``force``."""
    available = available_memory()
    if force or available is None or need.bytes <= available:
        return
    raise ConfigError(
        f"{what} needs {size(need.bytes)} of memory (estimated) and this machine has"
        f" {size(available)} available; allowed: work that fits (fewer {fewer}), or {FORCE} to"
        " start it anyway"
    )


def check_workers(key: str, workers: int, force: bool) -> None:
    """Refuse more worker processes than :data:`WORKERS_PER_CORE` per core, unless ``force``."""
    n = cores()
    if workers > WORKERS_PER_CORE * n and not force:
        raise ConfigError(
            f"{key}={workers} is more than this machine's {n} cores can use; allowed 0 (one per"
            f" core) to {WORKERS_PER_CORE * n} ({WORKERS_PER_CORE} per core), or {FORCE}"
        )


def die_with_parent(parent: int) -> None:
    """In a forked child: be killed when ``parent`` (the pid that forked it) dies, so a killed
    command leaves no process behind (Linux; elsewhere nothing is done)."""
    if sys.platform != "linux":
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(1)
