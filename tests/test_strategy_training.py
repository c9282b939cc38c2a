"""Training raises client managers' skill at its cost, paired against the baseline."""

import numpy as np
import pytest

from sim.api import run_scenario
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
    params = trained.config.strategy["training"]
    expected = managers * (params.hours + params.sharing_hours) / 12 * 400.0
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
    model = BankModel(cfg)
    for _ in range(cfg.burn_in + 1):
        model.step()
    drawn = [m.budget.used["training"] for m in model.managers]  # training and sharing hours
    assert drawn == pytest.approx([cfg.bank.manager_contacts * (40.0 + 1.0) / 170.0] * len(drawn))
    assert all(m.budget.total == cfg.bank.manager_contacts for m in model.managers)


def test_sharing_sessions_pull_skill_towards_the_best_branch(make_config):
    no_hires = {"bank.manager_quit_rate": 0.0}
    params = {"hours": 0.0, "sharing": 0.5}
    model = BankModel(make_config(no_hires, months=6, strategy={"training": params}))
    for _ in range(model.config.burn_in):
        model.step()
    best = model.strategies[0].best_branch_skill()
    before = np.array([m.skill for m in model.desk_list()])
    model.step()
    after = np.array([m.skill for m in model.desk_list()])
    rate = model.config.bank.learning_rate  # on-the-job learning follows the session
    shared = (after - rate) / (1 - rate) - before
    behind = before < best
    assert np.allclose(shared[behind], 0.5 / 12 * (best - before[behind]), atol=1e-6)
    assert np.allclose(shared[~behind], 0.0, atol=1e-6)


def test_trained_managers_keep_more_of_their_mid_and_high_customers(mid_high_gains):
    """Trained managers keep more mid and high customers (at least a tenth of a point, paired
    on 4 seeds of the default bank)."""
    gains = mid_high_gains({"training": {}})
    assert np.mean(gains) > 0.001 and sum(g > 0 for g in gains) >= 3
