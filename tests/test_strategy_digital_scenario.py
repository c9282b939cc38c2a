"""Digital scenario finance lowers digital users' effort, brings young customers and raises the
mass segments' product fit as investment builds up, paired against the baseline on the same
seeds."""

import numpy as np
import pytest

from sim.customers import CHANNELS
from sim.model import BankModel
from sim.params import ConfigError

SEEDS = (0, 1, 2)
DIGITAL = 0.7  # "high-digital" customers: digital affinity above this
DIGITAL_CHANNEL = CHANNELS.index("digital")


def run_model(cfg) -> BankModel:
    model = BankModel(cfg)
    model.run()
    return model


def newcomers(model, segment: str | None = None, channel: int | None = None) -> int:
    """Customers who joined in the measured months (optionally of a segment or channel)."""
    e = model.customers.everyone()
    new = e["joined"] > model.config.burn_in
    if segment is not None:
        new &= e["segment"] == model.segment_names.index(segment)
    if channel is not None:
        new &= e["channel"] == channel
    return int(np.count_nonzero(new))


@pytest.mark.parametrize("seed", SEEDS)
def test_digital_users_spend_less_effort(make_config, seed):
    base = run_model(make_config(seed=seed, months=24))
    digital = run_model(make_config(seed=seed, months=24, strategy={"digital_scenario": {}}))

    def mean_effort(model, mask_of):
        c = model.customers
        mask = c.active & mask_of(c.digital)
        return float(c.effort[mask].mean()), float(c.digital[mask].mean())

    high_base, _ = mean_effort(base, lambda d: d > DIGITAL)
    high, affinity = mean_effort(digital, lambda d: d > DIGITAL)
    low_base, _ = mean_effort(base, lambda d: d < 0.2)
    low, _ = mean_effort(digital, lambda d: d < 0.2)
    strategy = digital.strategies[0]
    # effort of a digital user is d * (1 - digital quality): the gain in quality times d
    expected = affinity * strategy.config.quality_gain * strategy.progress
    assert high < high_base
    assert high_base - high == pytest.approx(expected, rel=0.25)
    assert abs(low_base - low) < 0.3 * (high_base - high)  # branch users barely change


@pytest.mark.parametrize("seed", SEEDS)
def test_more_young_customers_join(make_config, seed):
    base = run_model(make_config(seed=seed, months=24))
    digital = run_model(make_config(seed=seed, months=24, strategy={"digital_scenario": {}}))
    young = "young_professional"
    assert newcomers(base, channel=DIGITAL_CHANNEL) == 0
    through_digital = newcomers(digital, channel=DIGITAL_CHANNEL)
    assert through_digital > 25
    # weight 4 on a 30% share: ~63% young, against ~30% of organic newcomers
    assert newcomers(digital, young, channel=DIGITAL_CHANNEL) > 0.45 * through_digital
    gain = newcomers(digital, young) - newcomers(base, young)
    assert 0.15 * newcomers(base, young) < gain < 0.8 * newcomers(base, young)


def test_quality_and_fit_build_up_with_spend(make_config):
    cfg = make_config(months=24, strategy={"digital_scenario": {}})
    model = BankModel(cfg)
    strategy, params = model.strategies[0], cfg.strategy["digital_scenario"]
    fit_rows = np.isin(model.segment_names, params.fit_segments)
    quality, spend = [], []
    for _ in range(cfg.burn_in + cfg.months):
        model.step()
        quality.append(model.digital_quality)
        spend.append(model.books["cost_digital_scenario.investment"])
    measured = np.array(quality[cfg.burn_in :])
    assert np.allclose(quality[: cfg.burn_in], cfg.bank.digital_quality)
    assert (np.diff(measured) > 0).all()
    assert measured[-1] < cfg.bank.digital_quality + params.quality_gain
    assert np.allclose(spend[cfg.burn_in :], params.investment) and spend[0] == 0.0
    bonus = model.fit_bonus
    assert np.allclose(bonus[fit_rows], params.fit_gain * strategy.progress)
    assert np.all(bonus[~fit_rows] == 0.0)


def test_more_investment_builds_faster(make_config):
    def quality(investment):
        params = {"investment": investment}
        model = run_model(make_config(months=12, strategy={"digital_scenario": params}))
        return model.digital_quality

    low, mid, high = quality(2e5), quality(1e6), quality(5e6)
    assert low < mid < high


def test_unknown_segments_are_refused(make_config):
    with pytest.raises(ConfigError, match="'students' is not a segment"):
        make_config(strategy={"digital_scenario": {"fit_segments": ["students"]}})
    with pytest.raises(ConfigError, match="young_segment='gen_z'"):
        make_config(strategy={"digital_scenario": {"young_segment": "gen_z"}})
