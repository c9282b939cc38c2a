"""Branch experience, paired against the baseline on the same seed: better service and shorter
waits at the chosen branches only, at its cost."""

import numpy as np
import pytest

from sim import metrics
from sim.model import BankModel
from sim.params import ConfigError

CUSTOMERS, BURN_IN, MONTHS = 20_000, 6, 6


def step_through(cfg):
    """Run a model month by month; returns it and each measured month's branch quality and wait
    (months x branches)."""
    model = BankModel(cfg)
    for _ in range(cfg.burn_in):
        model.step()
    quality, wait = [], []
    for _ in range(cfg.months):
        model.step()
        quality.append([b.quality for b in model.branch_list()])
        wait.append([b.wait for b in model.branch_list()])
    return model, np.array(quality), np.array(wait)


def timeseries(model):
    return metrics.timeseries(model)


@pytest.fixture(scope="module")
def pair(make_config):
    kwargs = dict(customers=CUSTOMERS, months=MONTHS, burn_in=BURN_IN, seed=0)
    return step_through(make_config(**kwargs)), step_through(
        make_config(**kwargs, strategy={"branch_experience": {}})
    )


def test_better_service_and_shorter_waits_at_chosen_branches_only(pair):
    (base, q0, w0), (upgraded, q1, w1) = pair
    strategy = upgraded.strategies[0]
    chosen = np.zeros(12, bool)
    chosen[strategy.chosen] = True
    assert chosen.sum() == strategy.config.count == 3
    gain = q1 - q0
    assert (gain[:, chosen] > 0.05).all()  # the bonus, and more from the shorter wait
    assert (gain[:, chosen] < 0.15).all()
    assert (np.abs(gain[:, ~chosen]) < 0.005).all()
    ratio = w1 / w0
    assert np.allclose(ratio[:, chosen], 0.7, atol=0.03)
    assert np.allclose(ratio[:, ~chosen], 1.0, atol=0.03)
    # their customers end up more satisfied than the same customers in the baseline
    sat = []
    for m in (base, upgraded):
        c = m.customers
        mine = c.active & np.isin(c.branch, strategy.chosen) & (c.joined <= BURN_IN)
        sat.append(dict(zip(c.id[mine], c.satisfaction[mine], strict=True)))
    both = sorted(set(sat[0]) & set(sat[1]))
    diff = np.array([sat[1][i] - sat[0][i] for i in both])
    assert len(both) > 1000 and 0.003 < diff.mean() < 0.05


def test_busiest_rule_picks_the_most_visited_branches(make_config):
    strategy = {"branch_experience": {"count": 4}}
    cfg = make_config(customers=5_000, months=2, burn_in=3, seed=4, strategy=strategy)
    model = BankModel(cfg)
    for _ in range(cfg.burn_in):
        model.step()
    visits = model.branch_visits()
    model.step()
    assert model.strategies[0].chosen == sorted(np.argsort(-visits)[:4].tolist())


def test_costs_are_booked(pair):
    _, (upgraded, _, _) = pair
    ts, cfg = timeseries(upgraded), upgraded.strategies[0].config
    assert np.allclose(ts["cost_branch_experience.service_managers"], 3 * cfg.monthly_cost)
    redesign = ts["cost_branch_experience.redesign"]
    assert redesign.iloc[0] == 3 * cfg.redesign_cost > 0
    assert (redesign.iloc[1:] == 0).all()


def test_a_closed_branch_drops_out(make_config):
    cfg = make_config(
        customers=3_000,
        months=3,
        burn_in=3,
        strategy={
            "outlet_closure": {"branches": [2], "month": 2},
            "branch_experience": {"branches": [2, 5]},
        },
    )
    model = BankModel(cfg)
    model.run()
    ts, exp = timeseries(model), model.strategies[1].config
    assert ts["cost_branch_experience.service_managers"].tolist() == [
        2 * exp.monthly_cost,
        exp.monthly_cost,
        exp.monthly_cost,
    ]
    assert model.branch_list()[5].quality_bonus == exp.quality_bonus
    assert model.branch_list()[2].quality_bonus == 0.0


@pytest.mark.parametrize(
    ("params", "needles"),
    [
        ({"count": 13}, ["strategy.branch_experience.count=13", "1 to 12"]),
        ({"branches": [1, 12]}, ["strategy.branch_experience.branches", "12", "0 to 11"]),
        ({"branches": [4, 4]}, ["strategy.branch_experience.branches", "4", "once"]),
        ({"wait_factor": 1.5}, ["strategy.branch_experience.wait_factor=1.5"]),
        ({"rule": "prettiest"}, ["strategy.branch_experience.rule", "busiest"]),
    ],
)
def test_bad_inputs_are_refused(make_config, params, needles):
    with pytest.raises(ConfigError) as err:
        make_config(strategy={"branch_experience": params})
    for needle in needles:
        assert needle in str(err.value)
