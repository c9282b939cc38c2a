"""Speed of the default comparison: 11 arms x 20 replications on the default bank, run on one
worker and on all cores, each into a fresh store.

    python benchmarks/compare_speed.py                   # the full default comparison, twice
    python benchmarks/compare_speed.py --replications 4  # a quicker look
    python benchmarks/compare_speed.py --workers 2       # on 2 workers only
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from experiments.compare import prepare, run_experiment
from sim.scenario import compose_config


def timed(replications: int, workers: int, folder: str) -> tuple[float, int]:
    args = [
        f"replications={replications}",
        f"executor.workers={workers}",
        "report=false",
        f"output.dir={folder}",
    ]
    start = time.perf_counter()
    compare, specs, root = prepare(compose_config(args, name="compare"), args)
    code = run_experiment(compare, specs, root, progress=False)
    if code:
        raise SystemExit(f"the comparison failed on {workers} workers")
    return time.perf_counter() - start, len({s.run_id for s in specs})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=20)
    cores = os.cpu_count() or 1
    parser.add_argument(
        "--workers", type=int, nargs="+", default=sorted({1, cores}), help="worker counts to time"
    )
    args = parser.parse_args()
    results = {}
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as folder:
            results[workers] = timed(args.replications, workers, folder)
    print(f"\n{'workers':>8} {'runs':>6} {'wall s':>8} {'runs/s':>8}")
    for workers, (seconds, runs) in results.items():
        print(f"{workers:>8} {runs:>6} {seconds:>8.1f} {runs / seconds:>8.2f}")
    if 1 in results and len(results) > 1:
        most = max(results)
        print(f"Parallel speed-up on {most} workers: {results[1][0] / results[most][0]:.2f}x")


if __name__ == "__main__":
    main()
