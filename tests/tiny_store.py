"""Tiny experiments run in this process, each once per session (per xdist worker) by a fixture
of tests/conftest.py.

- The store's tests (200 customers, 3 months, 2 seeds, baseline and training): the fixtures
  ``stored`` and ``copy`` run it and copy it for each test that damages or reuses it.
- The tiny playbook (:func:`playbook`: the baseline and every playbook arm, outlet closure
  opening a new branch, 300 customers, 2 burn-in + 6 measured months, 2 seeds), stored without a
  report: the fixture ``tiny_playbook`` shared by the chart and report tests (a test that
  writes into it, as a report does, works on a copy); the dashboard's tests make one of two
  strategies.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from experiments.compare import prepare, run_experiment
from runner.config import compose

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


PLAYBOOK = [
    "population.customers=300",
    "months=6",
    "burn_in=2",
    "replications=2",
    "executor.workers=1",
    "report=false",
]
OPEN_NEW = '["strategy=[outlet_closure]","strategy.outlet_closure.open_new=true"]'


def playbook(out: Path, *more: str) -> Path:
    """The tiny playbook experiment under ``out`` (``more`` overrides change it: its name, a grid,
    fewer arms), run in this process without a report; its folder."""
    overrides = [
        *PLAYBOOK,
        f"experiment.arms.outlet_closure={OPEN_NEW}",
        f"output.dir={out}",
        *more,
    ]
    compare, specs, root = prepare(compose(overrides), overrides)
    assert run_experiment(compare, specs, root, progress=False) == 0
    return root


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
