"""Product innovation raises product fit and satisfaction of its target segments and attracts AUM
to their customers, at its costs, paired against the baseline on the same seeds."""

import numpy as np
import pytest

from sim.model import BankModel
from sim.params import ConfigError

SEEDS = (0, 1, 2)
TARGET = "business_owner"  # investment banking's target segment
IB = {"product_innovation": {"products": ["investment_banking"]}}


def run_model(cfg) -> BankModel:
    model = BankModel(cfg)
    model.run()
    return model


def fit_as_used(model) -> np.ndarray:
    """Product fit as the experience and cross-sell steps use it."""
    c = model.customers
    return np.clip(c.fit + model.fit_bonus[c.segment], 0.0, 1.0)


def common(base, launched):
    """Rows, in each run, of the customers who joined before the strategy acted and are active in
    both runs: the same people under common random numbers (later ids are different newcomers)."""
    b, c, start = base.customers, launched.customers, base.config.burn_in
    keys = np.intersect1d(
        b.key[b.active & (b.joined <= start)], c.key[c.active & (c.joined <= start)]
    )
    return np.isin(b.key, keys), np.isin(c.key, keys)


@pytest.mark.parametrize("seed", SEEDS)
def test_target_segment_fit_and_satisfaction_rise(make_config, seed):
    base = run_model(make_config(seed=seed, months=18))
    launched = run_model(make_config(seed=seed, months=18, strategy=IB))
    in_base, in_launched = common(base, launched)
    target = launched.segment_names.index(TARGET)
    is_target = launched.customers.segment[in_launched] == target
    fit_gain = fit_as_used(launched)[in_launched] - fit_as_used(base)[in_base]
    sat_gain = launched.customers.satisfaction[in_launched] - base.customers.satisfaction[in_base]
    gain = launched.config.strategy["product_innovation"].fit_gain
    assert 0.8 * gain < fit_gain[is_target].mean() <= gain  # full ramp; a few are clipped at 1
    assert np.all(fit_gain[~is_target] == 0.0)
    # satisfaction follows experience, whose fit weight is 0.3: about 0.3 x 0.08 = 0.024
    assert 0.01 < sat_gain[is_target].mean() - sat_gain[~is_target].mean() < 0.04


@pytest.mark.parametrize("seed", SEEDS)
def test_aum_flows_to_target_customers(make_config, seed):
    # balances follow managers' attention and, while not mature, engagement: both off here
    no_rm_inflow = {"behaviour.relationship.inflow": 0.0, "behaviour.loyalty.wallet_growth": 0.0}
    base = run_model(make_config(no_rm_inflow, seed=seed, months=24))
    launched = run_model(make_config(no_rm_inflow, seed=seed, months=24, strategy=IB))
    in_base, in_launched = common(base, launched)
    c = launched.customers
    is_target = c.segment[in_launched] == launched.segment_names.index(TARGET)
    aum_base = base.customers.aum[in_base]
    aum = c.aum[in_launched]
    assert np.allclose(aum[~is_target], aum_base[~is_target])  # others' balances untouched
    inflow = (aum - aum_base)[is_target].sum()
    # Expected: uptake x ramp summed over the months, times inflow_months of income each
    params = launched.config.strategy["product_innovation"]
    ramp = np.minimum(np.arange(1, 25) / params.ramp_months, 1.0).sum()
    expected = params.uptake * ramp * params.inflow_months * c.income[in_launched][is_target].sum()
    assert 0.5 * expected < inflow < 2.0 * expected


def test_all_products_reach_their_segments(make_config):
    model = BankModel(make_config(months=24, strategy={"product_innovation": {}}))
    for _ in range(model.config.burn_in + 13):
        model.step()
    params = model.config.strategy["product_innovation"]
    for segment, bonus in zip(model.segment_names, model.fit_bonus, strict=True):
        assert bonus == pytest.approx(params.fit_gain), segment  # each segment has one product


def test_costs_at_launch_and_every_month(make_config):
    params = {"products": ["green", "inclusive_wealth"], "start": 2}
    model = BankModel(make_config(months=6, strategy={"product_innovation": params}))
    typed = model.config.strategy["product_innovation"]
    development, running = [], []
    for _ in range(model.config.burn_in + 6):
        model.step()
        development.append(model.books["cost_product_innovation.development"])
        running.append(model.books["cost_product_innovation.running"])
    launch = model.config.burn_in + 2  # acts from measured month 3
    assert development[launch] == 2 * typed.development_cost
    assert sum(development) == development[launch]
    assert running[:launch] == [0.0] * launch
    assert running[launch:] == [2 * typed.running_cost] * (len(running) - launch)


@pytest.mark.parametrize(
    "params, words",
    [
        ({"products": ["crypto"]}, ["crypto", "green", "investment_banking", "inclusive_wealth"]),
        ({"products": ["green", "green"]}, ["twice"]),
        ({"green_segments": ["students"]}, ["green_segments", "'students' is not a segment"]),
        ({"products": ["green"], "green_segments": []}, ["green_segments is empty"]),
    ],
)
def test_bad_parameters_are_refused(make_config, params, words):
    with pytest.raises(ConfigError) as err:
        make_config(strategy={"product_innovation": params})
    assert all(w in str(err.value) for w in words), str(err.value)
