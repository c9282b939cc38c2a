"""The default baseline meets the calibration targets of the model description."""

import pytest

from sim.api import load_config
from sim.calibration import TARGETS, measure, table


@pytest.mark.parametrize("seed", [0, 1])
def test_default_baseline_meets_every_target(seed):
    measured = measure(load_config(["population.customers=60000", f"seed={seed}"]))
    missed = {k: measured[k] for k, t in TARGETS.items() if not t.lo <= measured[k] <= t.hi}
    assert not missed, "\n" + table(measured)
