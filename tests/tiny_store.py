"""A tiny experiment for the store's tests (200 customers, 3 months, 2 seeds, baseline and
training), run in this process; the fixtures ``stored`` and ``copy`` (tests/conftest.py) run it
once per module and copy it for each test that damages or reuses it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from experiments.compare import prepare, run_experiment
from experiments.config import compose

ROOT = Path(__file__).resolve().parent.parent
TINY = [
    "population.customers=200",
    "months=3",
    "burn_in=0",
    "replications=2",
    "experiment.only=[training]",
    "executor.workers=1",
    "report=false",
]


def args(out: Path, *more: str) -> list[str]:
    return [*TINY, f"output.dir={out}", *more]


def run(out: Path, *more: str) -> int:
    """The tiny experiment under ``out``, in this process; its exit code."""
    overrides = args(out, *more)
    return run_experiment(*prepare(compose(overrides), overrides), progress=False)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its content."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def training_runs(root: Path) -> list[str]:
    return _runs(root, "training")


def baseline_runs(root: Path) -> list[str]:
    return _runs(root, "baseline")


def _runs(root: Path, arm: str) -> list[str]:
    plan = pd.read_csv(root / "plan.csv")
    return list(plan.loc[plan["arm"] == arm, "run_id"])
