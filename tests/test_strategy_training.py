"""Training raises client managers' skill at its cost, paired against the baseline."""

import numpy as np
import pytest

from sim.api import run_scenario
from sim.config import to_config
from sim.model import BankModel

SEEDS = (0, 1, 2)


@pytest.mark.parametrize("seed", SEEDS)
def test_training_raises_skill_at_its_cost(make_config, seed):
    base = run_scenario(make_config(seed=seed, months=24))
    trained = run_scenario(make_config(seed=seed, months=24, strategy={"training": {}}))
    gain = trained.timeseries["manager_skill"] - base.timeseries["manager_skill"]
    assert (gain.iloc[1:] > 0).all()
    assert 0.02 < gain.iloc[11] < 0.25  # about a year of training: a d ~ 0.6 effect, not more
    cost = trained.timeseries["cost_training.training"]
    managers = trained.config.bank.managers
    expected = managers * trained.config.strategy["training"].hours / 12 * 400.0
    assert np.allclose(cost, expected)
    assert base.timeseries.filter(like="training").columns.empty


def test_more_hours_more_skill(make_config):
    runs = [
        run_scenario(make_config(months=12, strategy={"training": {"hours": hours}}))
        for hours in (10.0, 40.0, 120.0)
    ]
    skills = [r.summary["manager_skill"] for r in runs]
    assert skills[0] < skills[1] < skills[2]


def test_training_time_comes_out_of_customer_contacts(make_config):
    no_hires = {"bank.manager_quit_rate": 0.0}  # a new hire starts untrained
    cfg = make_config(no_hires, months=6, strategy={"training": {"hours": 480.0}})
    model = BankModel(to_config(cfg))
    for _ in range(cfg.burn_in + 1):
        model.step()
    contacts = {m.contacts for m in model.managers}
    assert contacts == {cfg.bank.manager_contacts * (1 - 40.0 / 170.0)}
