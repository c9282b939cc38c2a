"""The default baseline meets the calibration targets of the model description."""

import pytest

from sim.calibration import SEEDS, TARGETS, measure, table
from sim.scenario import load_config


@pytest.mark.parametrize(("first_seed", "engine"), [(0, "numba"), (3, "numba"), (0, "numpy")])
def test_default_bank_meets_every_target(first_seed, engine):
    measured = measure(load_config([f"seed={first_seed}", f"engine={engine}"]), seeds=SEEDS)
    missed = {k: measured[k] for k, t in TARGETS.items() if not t.lo <= measured[k] <= t.hi}
    assert not missed, "\n" + table(measured)
