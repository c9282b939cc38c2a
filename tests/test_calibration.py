"""The default baseline meets the default calibration targets (configs/targets/synthetic.yaml)."""

import pytest

from sim.calibration import SEEDS, measure, table
from sim.scenario import load_config
from sim.targets import read_targets, resolve

TARGETS = read_targets(resolve("synthetic")).targets


@pytest.mark.parametrize("first_seed", [0, 3])
def test_default_bank_meets_every_target(first_seed):
    config = load_config([f"seed={first_seed}", "months=12"])
    measured = measure(config, seeds=SEEDS)
    missed = {k: measured[k] for k, t in TARGETS.items() if not t.within(measured[k])}
    assert not missed, "\n" + table(measured, TARGETS)
