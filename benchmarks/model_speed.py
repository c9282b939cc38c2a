"""Model speed and memory: customer-months per second and peak RSS, beside a NumPy reference.

    python benchmarks/model_speed.py            # 20k x 72, 100k x 120, 1M x 120 months
    python benchmarks/model_speed.py --quick    # the two smaller sizes only
    python benchmarks/model_speed.py --repeat 1

The reference is what NumPy does at best with as many customers and months: each customer-month,
REFERENCE_OPS float32 array operations in place (no temporaries) and REFERENCE_DRAWS float32
uniform draws from NumPy's generator, about the arithmetic and randomness of the model's month
written as array code. Its ratio to the model (model time / reference time) says how close the
model comes to the machine's array speed; the ratio, not the seconds, compares across machines.

Each measurement runs in a fresh process, so that its peak resident memory is its own; the model's
and the reference's runs are interleaved so that a noisy machine slows both alike, and the ratio is
their medians'. Time is split into building the world and stepping it; customer-months count the
simulated customers active each month. Compiled kernels come from numba's cache (a warm-up run
fills it first) and are loaded before the clock starts: this measures throughput;
benchmarks/runner_speed.py measures start-up.
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
KINDS = ("reference", "model")
REFERENCE_OPS, REFERENCE_DRAWS = 235, 7


def measure(customers: int, burn_in: int, months: int, kind: str) -> dict:
    """Build and run one model (or the reference) in this process; returns timings, throughput
    and peak RSS."""
    if kind == "reference":
        return reference(customers, burn_in + months)
    from sim.model import BankModel
    from sim.scenario import load_config

    def config(customers: int, burn_in: int, months: int):
        sizes = [f"population.customers={customers}", f"burn_in={burn_in}", f"months={months}"]
        return load_config(sizes)

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


def reference(customers: int, months: int) -> dict:
    """The NumPy reference: REFERENCE_OPS in-place float32 operations and REFERENCE_DRAWS
    uniform draws per customer-month."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random(customers, dtype=np.float32)
    u = np.empty_like(x)
    scale, shift = np.float32(0.999), np.float32(0.001)
    start = time.perf_counter()
    for _ in range(months):
        for _ in range(REFERENCE_DRAWS):
            rng.random(dtype=np.float32, out=u)
        for op in range(REFERENCE_OPS):
            if op % 2:
                np.add(x, shift, out=x)
            else:
                np.multiply(x, scale, out=x)
    done = time.perf_counter()
    return {
        "build_s": 0.0,
        "steps_s": done - start,
        "customer_months": customers * months,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def in_fresh_process(size: tuple[int, int, int], kind: str) -> dict:
    from sim.resources import die_with_parent

    out = subprocess.run(
        [sys.executable, __file__, "--one", *map(str, size), kind],
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
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        *size, kind = args.one
        print(json.dumps(measure(*map(int, size), kind)))
        return
    in_fresh_process((300, 0, 2), "model")  # fill the kernel cache
    sizes = SIZES[:2] if args.quick else SIZES
    print(
        f"{'customers':>10} {'months':>7} {'run':>9} {'build s':>8} {'steps s':>8} "
        f"{'cust-months/s':>14} {'peak RSS MB':>12} {'/ reference':>12}"
    )
    for customers, burn_in, months in sizes:
        repeats = 1 if customers >= 1_000_000 else args.repeat
        runs = {kind: [] for kind in KINDS}
        for _ in range(repeats):
            for kind in KINDS:
                runs[kind].append(in_fresh_process((customers, burn_in, months), kind))
        medians = {kind: median_run(r) for kind, r in runs.items()}
        speed = {kind: r["customer_months"] / r["steps_s"] for kind, r in medians.items()}
        for kind, run in medians.items():
            print(
                f"{customers:>10,} {burn_in + months:>7} {kind:>9} {run['build_s']:>8.2f} "
                f"{run['steps_s']:>8.2f} {speed[kind]:>14,.0f} {run['peak_rss_mb']:>12,.0f} "
                f"{speed['reference'] / speed[kind]:>11.2f}x"
            )


if __name__ == "__main__":
    main()
