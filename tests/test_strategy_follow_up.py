"""Risk-targeted follow-up from the managers' contact budgets: calls go to the customers the bank's
own data flag, never exceed the contacts set aside, and keep more mid and high customers than the
same contacts spent at random; paired against the baseline on the same seeds (common random
numbers)."""

import numpy as np
import pytest

from sim import metrics
from sim.api import run_scenario
from sim.model import BankModel
from sim.params import ConfigError


def step_months(make_config, params, overrides=None, months=6, customers=8000, seed=0):
    cfg = make_config(
        overrides, seed=seed, months=months, customers=customers, strategy={"follow_up": params}
    )
    model = BankModel(cfg)
    for _ in range(cfg.burn_in):
        model.step()
    return model


def test_calls_stay_within_what_each_desk_set_aside(make_config):
    no_quits = {"bank.manager_quit_rate": 0.0}  # a leaver's budget leaves with it
    model = step_months(make_config, {}, no_quits, customers=20_000)
    strategy = model.strategies[0]
    share = strategy.config.share
    for _ in range(6):
        idle = np.array([m.budget.left for m in model.desk_list()])  # idle next month
        model.step()
        desks = model.desk_list()
        total = np.array([m.budget.total for m in desks])
        used = np.array([m.budget.used.get("follow_up", 0.0) for m in desks])
        assert (used <= share * total + idle + 1e-6).all()
        assert strategy.contacts == pytest.approx(used.sum())
        assert model.books["cost_follow_up.contacts"] == pytest.approx(strategy.contacts * 20.0)
        assert strategy.contacts > 0.5 * share * total.sum()  # the default bank has takers


def test_risk_targeting_calls_the_flagged_first(make_config):
    model = step_months(make_config, {}, customers=20_000)
    strategy = model.strategies[0]
    for _ in range(3):
        model.step()  # flags from last month, inactivity and manager changes build up
    c = model.customers
    month = model.month + 1
    risk = strategy.risk(month)
    managed, before = c.active & (c.manager >= 0), c.key.copy()
    model.step()
    keys, months = strategy.last_called
    called = np.isin(before, keys[months == month]) & managed
    assert called.any()
    assert risk[called].mean() > 2 * risk[managed & ~called].mean()
    assert len(np.unique(keys)) == len(keys)  # nobody called twice within recall_months


def test_no_budget_set_aside_and_none_idle_means_no_calls(make_config):
    params = {"share": 0.0}
    over = {"bank.manager_contacts": 20.0}  # regular contact needs take every contact
    size = {"seed": 0, "months": 6, "customers": 8000}
    base = BankModel(make_config(over, **size))
    model = BankModel(make_config(over, **size, strategy={"follow_up": params}))
    for _ in range(base.config.burn_in + 6):
        base.step(), model.step()
        assert model.strategies[0].contacts == 0
    ts = metrics.timeseries(model)
    assert (ts["cost_follow_up.contacts"] == 0).all()
    assert np.array_equal(base.customers.satisfaction, model.customers.satisfaction)


def test_targeted_beats_random_at_equal_contacts(make_config):
    """Default bank, 36 measured months, 5 seeds: both targetings call as many customers from the
    same budgets; calling those at risk first keeps more mid and high customers, and both beat
    the baseline."""
    kept, contacts = {"risk": [], "random": [], "none": []}, {"risk": [], "random": []}
    for seed in range(5):
        size = {"seed": seed, "months": 36, "customers": 20_000, "burn_in": 12}
        kept["none"].append(run_scenario(make_config(**size)).summary["retention_mid_high"])
        for targeting in ("risk", "random"):
            strategy = {"follow_up": {"targeting": targeting}}
            run = run_scenario(make_config(**size, strategy=strategy))
            kept[targeting].append(run.summary["retention_mid_high"])
            contacts[targeting].append(run.timeseries["cost_follow_up.contacts"].sum() / 20.0)
    assert np.allclose(contacts["risk"], contacts["random"], rtol=0.03)
    gain = np.array(kept["risk"]) - np.array(kept["random"])
    assert gain.mean() > 0.002 and (gain > 0).sum() >= 4
    lift = np.array(kept["risk"]) - np.array(kept["none"])
    assert lift.mean() > 0.005 and (lift > 0).all()  # points, not hundredths


@pytest.mark.parametrize(
    "params, message",
    [
        ({"tiers": ["vip"]}, "choose one of"),
        ({"tiers": ["mass", "high"]}, "managed_tier"),
        ({"targeting": "luck"}, "choose one of"),
        ({"risk_weights": {"mood": 1.0}}, "unknown signal"),
    ],
)
def test_bad_parameters_are_refused(make_config, params, message):
    with pytest.raises(ConfigError, match=message):
        make_config(strategy={"follow_up": params})
