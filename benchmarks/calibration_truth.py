"""How far a calibration finds the truth: the table of docs/calibration.md.

    .venv/bin/python benchmarks/calibration_truth.py                     # ~3 min on 2 cores
    .venv/bin/python benchmarks/calibration_truth.py --settle-months 0  # the model without a
                                                                         # settled start

Banks whose truth is known are made by the model (``sim.export.truth_bank``, as the example
bank's files are), their extracts turned into targets (``sim.targets``) and ``churn_base`` fitted
alone through the extract path (``experiments.calibrate``: 20 trials of two seeds, 4,000
simulated customers). Prints, per bank, the truth, the fit, its error and its 95% interval.
``--settle-months`` sets ``population.settle_months`` for the truth banks and the fits alike.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from experiments import calibrate as cal
from sim import export, targets

BANKS = (  # churn_base, seed, agents (about the extract's rows)
    (0.09, 31, 3_000),
    (0.18, 32, 8_000),
    (0.16, 34, 12_000),
    (0.12, 33, 20_000),
)
FIT = [
    "parameters={behaviour.churn_base: [0.06, 0.3]}",
    "trials=20",
    "seeds=2",
    "population.customers=4000",
    "write=false",
]


def fit(folder: Path, files: dict[str, Path], settle: str) -> tuple[float, list[float]]:
    """``churn_base`` fitted to a bank's files: the value and its 95% interval."""
    wanted = folder / "targets.yaml"
    targets.main([str(files["customers"]), "--out", str(wanted)])
    plan = cal.prepare(
        [*(f"bank.data.{k}={p}" for k, p in files.items()), f"targets={wanted}", settle, *FIT,
         f"output.dir={folder / 'fit'}"]
    )  # fmt: skip
    best = cal.calibrate(plan, progress=False)["behaviour.churn_base"]
    told = json.loads((plan.folder / "provenance.json").read_text())["identification"]
    return best, told["parameters"]["behaviour.churn_base"]["interval"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle-months", type=int, default=36)
    settle = f"population.settle_months={parser.parse_args().settle_months}"
    clock, rows = time.perf_counter(), []
    with tempfile.TemporaryDirectory() as tmp:
        for churn, seed, agents in BANKS:
            folder = Path(tmp) / f"bank{seed}"
            truth = [
                *export.design(agents),
                f"seed={seed}",
                f"behaviour.churn_base={churn}",
                settle,
            ]
            files = export.truth_bank(folder, truth)
            extract_rows = sum(1 for _ in files["customers"].open()) - 1
            found, (low, high) = fit(folder, files, settle)
            rows.append(
                f"| {churn:g} | {seed} | {extract_rows:,} | {found:.4g} | {found / churn - 1:+.1%}"
                f" | {low:.3g} to {high:.3g} | {'yes' if low < churn < high else 'NO'} |"
            )
    print(f"\n{settle}; {time.perf_counter() - clock:.0f} s")
    print("| truth | seed | extract rows | fitted | error | 95% interval | holds the truth |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
