"""Speed of the runner around the model: start-up, a month's parts, planning and saving (CPU).

    python benchmarks/runner_speed.py                   # all of them, planning 500 points
    python benchmarks/runner_speed.py --points 100      # a quicker planning figure
    python benchmarks/runner_speed.py --parts startup month  # some parts only (startup month
                                                        # planning saving bank)

- **start-up**: ``python -m sim.run population=small`` in a fresh process, CPU (user + sys, its
  children included), median and best of 5; with the heaviest imports of ``import sim.run``
  (``python -X importtime``, cumulative, best of 3; the engine's compiler loads later, at the
  first month).
- **month**: a month of the default bank (20,000 customers, burn-in and measured months), part
  by part: the compiled customer pass against each part of ``BankModel.step`` around it
  (staffing, acquisition, the tally, the books, the KPIs, strategies, and the rest: archiving
  leavers, levers, rivals), CPU and wall milliseconds a month, median of 3 fresh models.
- **planning**: validating and planning an experiment of N Latin-hypercube points (20 seeds),
  without running it: ``digital_lhs`` (2 arms, 2 strategy keys), the playbook's 11 arms over 2
  strategy keys, and the 11 arms over 3 scenario keys (every arm moves).
- **saving**: one default run of the default comparison (``experiment.overrides``: no panel, no
  CRM extract) and one first-seed run (with both), stepped then saved; the save's share of the
  run, best of 3.
- **bank**: a bank from files (``bank=city_bank``): reading and checking its three files (a cold
  cache), and building the model (the opening book resampled from the extract), against the
  synthetic bank's build; best of 3.

CPU time is what is compared: on a busy machine, run it before and after a change side by side
(the machine's load average is printed with each part).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 3
SWEEPS = {  # name -> (arms' preset and overrides, sample ranges)
    "digital_lhs, 2 arms x 2 strategy keys": (
        ["experiment=digital_lhs"],
        None,
    ),
    "playbook, 11 arms x 2 strategy keys": (
        ["experiment=playbook"],
        "{strategy.training.hours: [10.0, 80.0], strategy.mentoring.mentor_hours: [1.0, 8.0]}",
    ),
    "playbook, 11 arms x 3 scenario keys": (
        ["experiment=playbook"],
        "{months: [24, 60], bank.branches: [6, 18], economics.discount_rate: [0.02, 0.08]}",
    ),
    "city_bank (files), 11 arms x 2 scenario keys": (
        ["experiment=playbook", "bank=city_bank"],
        "{months: [24, 60], economics.discount_rate: [0.02, 0.08]}",
    ),
}
PARTS = ("startup", "month", "planning", "saving", "bank")


def startup(folder: str, repeats: int = 5) -> list[float]:
    """CPU seconds of ``python -m sim.run population=small`` in fresh processes, one a run."""
    from sim.resources import die_with_parent

    seconds = []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [sys.executable, "-m", "sim.run", "population=small", f"output.dir={folder}"],
            preexec_fn=partial(die_with_parent, os.getpid()),  # killed with this script
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return seconds


def imports(top: int = 8) -> list[tuple[str, float]]:
    """``import sim.run`` and the heaviest packages it loads: (name, cumulative s, so a package
    another one imports is counted in both), best of 3."""
    best: dict[str, float] = {}
    for _ in range(REPEATS):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import sim.run"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        for line in proc.stderr.splitlines():
            found = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( +)(\S+)$", line)
            if found and ("." not in found[3] or found[3] == "sim.run"):  # packages, the total
                name, seconds = found[3], int(found[1]) / 1e6
                best[name] = min(best.get(name, float("inf")), seconds)
    return sorted(best.items(), key=lambda item: -item[1])[:top]


MONTH_PARTS = (
    "customer pass", "staffing", "acquisition", "tally", "books", "KPIs", "strategies", "the rest",
)  # fmt: skip


def month(repeats: int = REPEATS) -> dict[str, tuple[float, float]]:
    """A month of the default bank, part by part: part -> (CPU ms, wall ms) a month over the
    run's months (burn-in included), median of ``repeats`` fresh models of the same seed."""
    from sim.model import BankModel
    from sim.scenario import load_config

    BankModel(load_config(["population.customers=300", "burn_in=0", "months=1"])).step()
    config = load_config([])
    runs = [_month_parts(BankModel(config), config.burn_in + config.months) for _ in range(repeats)]
    return {
        part: tuple(statistics.median(run[part][i] for run in runs) for i in range(2))
        for part in runs[0]
    }


def _month_parts(model, months: int) -> dict[str, tuple[float, float]]:
    """Step ``model`` ``months`` times, timing each part of its month: part -> (CPU ms, wall ms)
    a month. The parts are the functions ``BankModel.step`` calls, wrapped for the run."""
    from sim import model as model_module
    from sim.mechanisms import acquisition, books, staffing

    spent: dict[str, list[float]] = {part: [0.0, 0.0] for part in MONTH_PARTS}

    def timed(part: str, function):
        def run(*args, **kwargs):
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[part][0] += time.process_time() - cpu
                spent[part][1] += time.perf_counter() - wall

        return run

    wrapped = [
        (staffing, "staff", "staffing"),
        (acquisition, "step", "acquisition"),
        (books, "step", "books"),
        (model, "_record", "KPIs"),
        (model, "_strategies", "strategies"),
    ]
    if hasattr(model, "customer_month"):  # the pass as an engine the model holds
        wrapped += [(model, "customer_month", "customer pass"), (model, "tally", "tally")]
    else:  # the pass as the module the model's month calls
        passes = model_module.customer_pass
        wrapped += [(passes, "run", "customer pass"), (passes, "tally", "tally")]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in wrapped]
    for owner, name, part in wrapped:
        setattr(owner, name, timed(part, getattr(owner, name)))
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        for _ in range(months):
            model.step()
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
    total = (time.process_time() - cpu, time.perf_counter() - wall)
    for i in range(2):
        spent["the rest"][i] = total[i] - sum(v[i] for k, v in spent.items() if k != "the rest")
    spent["outside the pass"] = [total[i] - spent["customer pass"][i] for i in range(2)]
    spent["whole month"] = list(total)
    return {part: (cpu * 1e3 / months, wall * 1e3 / months) for part, (cpu, wall) in spent.items()}


def load() -> str:
    """The machine's load averages (1, 5 and 15 minutes)."""
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def planning(points: int) -> list[tuple[str, float]]:
    """(sweep, CPU seconds) of validating and planning each sweep of ``points`` points."""
    from experiments.compare import scenario_overrides
    from runner.config import CompareConfig, check_experiment, compose
    from runner.plan import plan
    from sim.scenario import to_config

    rows = []
    for name, (preset, ranges) in SWEEPS.items():
        args = [*preset, "experiment.sample.method=lhs", f"experiment.sample.points={points}"]
        if ranges:
            args.append(f"experiment.sample.ranges={ranges}")
        start = time.process_time()
        compare = to_config(compose(args), schema=CompareConfig)
        check_experiment(compare)
        plan(compare, scenario_overrides(args))
        rows.append((name, time.process_time() - start))
    return rows


def saving(folder: str) -> list[tuple[str, float, float]]:
    """(run, step s, save s) of a default comparison run and a first-seed run, best of 3."""
    from sim.api import run_scenario
    from sim.scenario import load_config

    rows = []
    for name, overrides in (
        (
            "default run (no panel, no CRM extract)",
            ["output.panel=false", "output.crm_extract=false"],
        ),
        ("first seed (panel and CRM extract)", []),
    ):
        config = load_config(overrides)
        step = save = float("inf")
        for _ in range(REPEATS):
            start = time.process_time()
            result = run_scenario(config)
            stepped = time.process_time()
            result.save(folder)
            step, save = min(step, stepped - start), min(save, time.process_time() - stepped)
        rows.append((name, step, save))
    return rows


def bank() -> list[tuple[str, float]]:
    """(step, CPU seconds, best of 3): the example bank's files read and checked from a cold
    cache; the model built for the synthetic bank and for the example bank."""
    from sim import bankdata
    from sim.model import BankModel
    from sim.scenario import load_config

    files, synthetic = load_config(["bank=city_bank"]), load_config([])
    steps = {
        "read and check the three files": lambda: bankdata.load(files),
        "build the synthetic bank (20,000 agents)": lambda: BankModel(synthetic),
        "build the bank from its files (20,000 agents)": lambda: BankModel(files),
    }
    rows = []
    for name, step in steps.items():
        best = float("inf")
        for _ in range(REPEATS):
            for cache in (bankdata._read, bankdata._load):
                cache.cache_clear()
            start = time.process_time()
            step()
            best = min(best, time.process_time() - start)
        rows.append((name, best))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=500, help="points to plan (default 500)")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=PARTS, help="what to time")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # time this checkout (e.g. a copy, side by side)
    with tempfile.TemporaryDirectory() as folder:
        if "startup" in args.parts:
            print(f"({load()})")
            runs = startup(folder)
            median, best = statistics.median(runs), min(runs)
            print(
                "Start-up: python -m sim.run population=small"
                f"  {median:.2f} s CPU (median of {len(runs)}, best {best:.2f})"
            )
            for name, seconds in imports():
                print(f"  import {name:<20} {seconds:6.2f} s")
        if "month" in args.parts:
            print(f"({load()})")
            print("A month of the default bank (20,000 customers), ms a month, median of 3 runs:")
            print(f"  {'':<18} {'CPU':>7} {'wall':>7}")
            for name, (cpu, wall) in month().items():
                print(f"  {name:<18} {cpu:7.2f} {wall:7.2f}")
        if "planning" in args.parts:
            print(f"Planning {args.points} Latin-hypercube points, 20 seeds (CPU s):")
            for name, seconds in planning(args.points):
                print(f"  {name:<46} {seconds:6.2f} s")
        if "saving" in args.parts:
            print("A run of the default bank, stepped then saved (CPU s, best of 3):")
            for name, step, save in saving(folder):
                share = save / (step + save)
                print(f"  {name:<40} step {step:5.2f}  save {save:5.3f}  ({share:.1%})")
        if "bank" in args.parts:
            print("A bank from files (CPU s, best of 3):")
            for name, seconds in bank():
                print(f"  {name:<48} {seconds:6.3f} s")


if __name__ == "__main__":
    main()
