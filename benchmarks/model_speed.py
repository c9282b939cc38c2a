"""Model speed and memory, engine by engine: customer-months per second and peak RSS.

    python benchmarks/model_speed.py            # 20k x 72, 100k x 120, 1M x 120 months
    python benchmarks/model_speed.py --quick    # the two smaller sizes only
    python benchmarks/model_speed.py --engines numba --repeat 1

Each measurement runs in a fresh process, so that its peak resident memory is its own; the
engines' runs are interleaved (numpy, numba, numpy, numba ...) so that a noisy machine slows both
alike, and the ratio is their medians'. Time is split into building the world and stepping it;
customer-months count the simulated customers active each month. Compiled kernels come from numba's
cache (a warm-up run fills it first) and are loaded before the clock starts: this measures
throughput; benchmarks/runner_speed.py measures start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from functools import partial

SIZES = [  # (customers, burn-in months, measured months)
    (20_000, 12, 60),
    (100_000, 0, 120),
    (1_000_000, 0, 120),
]
ENGINES = ("numpy", "numba")


def measure(customers: int, burn_in: int, months: int, engine: str) -> dict:
    """Build and run one model in this process; returns timings, throughput and peak RSS."""
    from sim.model import BankModel
    from sim.scenario import load_config

    def config(customers: int, burn_in: int, months: int):
        sizes = [f"population.customers={customers}", f"burn_in={burn_in}", f"months={months}"]
        return load_config([*sizes, f"engine={engine}"])

    BankModel(config(300, 0, 1)).step()  # load the compiled kernels: throughput, not start-up
    config = config(customers, burn_in, months)
    start = time.perf_counter()
    model = BankModel(config)
    built = time.perf_counter()
    customer_months = 0
    for _ in range(burn_in + months):
        model.step()
        customer_months += int(model.customers.active.sum())  # simulated customers
    done = time.perf_counter()
    return {
        "build_s": built - start,
        "steps_s": done - built,
        "customer_months": customer_months,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def in_fresh_process(size: tuple[int, int, int], engine: str) -> dict:
    from sim.resources import die_with_parent

    out = subprocess.run(
        [sys.executable, __file__, "--one", *map(str, size), engine],
        preexec_fn=partial(die_with_parent, os.getpid()),  # killed with this script
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_run(runs: list[dict]) -> dict:
    middle = statistics.median(r["steps_s"] for r in runs)
    return min(runs, key=lambda r: abs(r["steps_s"] - middle))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1M-customer size")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size below 1M (median)")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        *size, engine = args.one
        print(json.dumps(measure(*map(int, size), engine)))
        return
    if "numba" in args.engines:
        in_fresh_process((300, 0, 2), "numba")  # fill the kernel cache
    sizes = SIZES[:2] if args.quick else SIZES
    print(
        f"{'customers':>10} {'months':>7} {'engine':>7} {'build s':>8} {'steps s':>8} "
        f"{'model s':>8} {'cust-months/s':>14} {'peak RSS MB':>12} {'speed-up':>9}"
    )
    for customers, burn_in, months in sizes:
        repeats = 1 if customers >= 1_000_000 else args.repeat
        runs = {engine: [] for engine in args.engines}
        for _ in range(repeats):
            for engine in args.engines:
                runs[engine].append(in_fresh_process((customers, burn_in, months), engine))
        medians = {engine: median_run(r) for engine, r in runs.items()}
        for engine, run in medians.items():
            ratio = (
                f"{medians['numpy']['steps_s'] / run['steps_s']:.2f}x" if "numpy" in medians else ""
            )
            print(
                f"{customers:>10,} {burn_in + months:>7} {engine:>7} {run['build_s']:>8.2f} "
                f"{run['steps_s']:>8.2f} {run['build_s'] + run['steps_s']:>8.2f} "
                f"{run['customer_months'] / run['steps_s']:>14,.0f} "
                f"{run['peak_rss_mb']:>12,.0f} {ratio:>9}"
            )


if __name__ == "__main__":
    main()
