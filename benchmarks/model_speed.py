"""Model speed and memory: customer-months per second and peak RSS at three book sizes.

    python benchmarks/model_speed.py            # 20k x 72, 100k x 120, 1M x 120 months
    python benchmarks/model_speed.py --quick    # the two smaller sizes only

Each measurement runs in a fresh process so that its peak resident memory is its own. Time is
split into building the world and stepping it; customer-months count active customers each month.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

SIZES = [  # (customers, burn-in months, measured months)
    (20_000, 12, 60),
    (100_000, 0, 120),
    (1_000_000, 0, 120),
]
TARGETS = {100_000: 2.0, 1_000_000: 25.0}  # seconds for the model (build + steps)


def measure(customers: int, burn_in: int, months: int) -> dict:
    """Build and run one model in this process; returns timings, throughput and peak RSS."""
    from sim.model import BankModel
    from sim.scenario import load_config

    config = load_config(
        [f"population.customers={customers}", f"burn_in={burn_in}", f"months={months}"]
    )
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


def in_fresh_process(size: tuple[int, int, int]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--one", *map(str, size)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1M-customer size")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size below 1M (median)")
    parser.add_argument("--one", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(*args.one)))
        return
    sizes = SIZES[:2] if args.quick else SIZES
    print(
        f"{'customers':>10} {'months':>7} {'build s':>8} {'steps s':>8} {'model s':>8} "
        f"{'cust-months/s':>14} {'peak RSS MB':>12} {'target':>8}"
    )
    for customers, burn_in, months in sizes:
        repeats = 1 if customers >= 1_000_000 else args.repeat
        runs = [in_fresh_process((customers, burn_in, months)) for _ in range(repeats)]
        run = min(
            runs, key=lambda r: abs(r["steps_s"] - statistics.median(x["steps_s"] for x in runs))
        )
        model_s = run["build_s"] + run["steps_s"]
        target = TARGETS.get(customers)
        verdict = (
            ""
            if target is None
            else (f"<= {target:g}s ok" if model_s <= target else f"> {target:g}s")
        )
        print(
            f"{customers:>10,} {burn_in + months:>7} {run['build_s']:>8.2f} "
            f"{run['steps_s']:>8.2f} {model_s:>8.2f} "
            f"{run['customer_months'] / run['steps_s']:>14,.0f} "
            f"{run['peak_rss_mb']:>12,.0f} {verdict:>8}"
        )


if __name__ == "__main__":
    main()
