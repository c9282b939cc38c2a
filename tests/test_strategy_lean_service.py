"""Lean service: fee pre-notification, a feedback loop on product fit and value-added services for
high-end customers, each switched on alone and paired against the baseline on the same seeds
(common random numbers)."""

import numpy as np
import pytest

from sim.api import run_scenario
from sim.config import TIERS
from sim.model import BankModel
from sim.params import ConfigError

SEEDS = range(4)
COMPONENTS = ("prenotify", "feedback", "value_added")
LINES = {"prenotify": "notification", "feedback": "feedback", "value_added": "value_added"}


def only(component: str, **params) -> dict:
    return {"lean_service": {c: c == component for c in COMPONENTS} | params}


def test_prenotification_cuts_fee_complaints(make_config):
    base_total = notified_total = 0
    for seed in SEEDS:
        base = run_scenario(make_config(seed=seed, months=24, customers=5000)).timeseries
        run = run_scenario(
            make_config(seed=seed, months=24, customers=5000, strategy=only("prenotify"))
        )
        ts = run.timeseries
        assert ts["fee_complaints"].sum() < base["fee_complaints"].sum()
        assert ts["complaints"].sum() < base["complaints"].sum()
        base_total += base["fee_complaints"].sum()
        notified_total += ts["fee_complaints"].sum()
        # about 0.2 CNY per real active customer per month
        per_customer = ts["cost_lean_service.notification"] / ts["customers"]
        assert np.allclose(per_customer, 0.2, rtol=0.05)
    # 60% of fee surprises prevented: fee complaints fall by about that much
    assert 0.45 < 1 - notified_total / base_total < 0.7


def test_feedback_raises_fit_month_by_month_towards_the_cap(make_config):
    cfg = make_config(seed=0, months=24, customers=5000, strategy=only("feedback"))
    base = BankModel(make_config(seed=0, months=24, customers=5000))
    model = BankModel(cfg)
    fit, gain = [], []
    for month in range(1, cfg.burn_in + 25):
        base.step(), model.step()
        if month > cfg.burn_in:
            fit.append(float(model.fit_bonus.mean()))
            assert np.ptp(model.fit_bonus) == 0  # every segment alike
            gain.append(model.kpi_rows[-1]["satisfaction"] - base.kpi_rows[-1]["satisfaction"])
    fit = np.array(fit)
    cap, rate = cfg.strategy["lean_service"].fit_cap, cfg.strategy["lean_service"].fit_rate
    assert (np.diff(fit) > 0).all() and fit[-1] < cap
    assert fit[0] == pytest.approx(cap * rate, rel=1e-5)
    assert fit[-1] == pytest.approx(cap * (1 - (1 - rate) ** 24), rel=1e-4)
    assert gain[-1] > 3 * gain[2] > 0  # satisfaction follows the growing fit
    assert model.books["cost_lean_service.feedback"] > 0


def test_feedback_lifts_satisfaction_more_with_time(make_config):
    early, late = [], []
    for seed in SEEDS:
        base = run_scenario(make_config(seed=seed, months=24, customers=5000)).timeseries
        run = run_scenario(
            make_config(seed=seed, months=24, customers=5000, strategy=only("feedback"))
        )
        gain = run.timeseries["satisfaction"] - base["satisfaction"]
        early.append(gain.iloc[:3].mean())
        late.append(gain.iloc[-3:].mean())
    assert np.mean(late) > 3 * np.mean(early) > 0
    assert 0.004 < np.mean(late) < 0.02  # fit +0.035 after two years, at weight 0.3: ~+0.01


def lift_by_tier(make_config, seed, params) -> np.ndarray:
    """Satisfaction gain by tier over customers who joined before the strategy started and are
    active in both runs (the same people; their balances, so tiers, do not depend on it)."""
    models = [
        BankModel(make_config(seed=seed, months=12, customers=8000, strategy=s))
        for s in ({}, params)
    ]
    for month in range(1, models[0].config.burn_in + 13):
        for m in models:
            m.step()
        if month == models[0].config.burn_in:
            cutoff = models[0].customers.next_id
    b, c = (m.customers for m in models)
    ids = np.intersect1d(b.id[b.active], c.id[c.active])
    ids = ids[ids < cutoff]
    rb, rc = np.searchsorted(b.id, ids), np.searchsorted(c.id, ids)
    gain, tier = c.satisfaction[rc] - b.satisfaction[rb], b.tier[rb]
    return np.array([gain[tier == t].mean() for t in range(4)])


def test_value_added_services_lift_high_end_satisfaction(make_config):
    lifts = np.mean([lift_by_tier(make_config, s, only("value_added")) for s in SEEDS], axis=0)
    high, private = TIERS.index("high"), TIERS.index("private")
    assert 0.015 < lifts[high] < 0.035  # perk 0.03 a month, satisfaction close to it in a year
    assert lifts[private] > 0.015
    assert abs(lifts[TIERS.index("mass")]) < 0.001 and abs(lifts[TIERS.index("mid")]) < 0.002


def test_value_added_cost_per_served_customer(make_config):
    cfg = make_config(seed=0, months=3, customers=5000, strategy=only("value_added"))
    model = BankModel(cfg)
    for _ in range(cfg.burn_in + 3):
        c = model.customers
        served = c.weight[c.active & (c.tier >= TIERS.index("high"))].sum(dtype=np.float64)
        model.step()
    assert model.books["cost_lean_service.value_added"] == pytest.approx(served * 150.0)


@pytest.mark.parametrize("component", COMPONENTS)
def test_each_component_books_only_its_own_cost(make_config, component):
    ts = run_scenario(make_config(months=6, strategy=only(component))).timeseries
    for other, line in LINES.items():
        cost = ts[f"cost_lean_service.{line}"]
        assert (cost > 0).all() if other == component else (cost == 0).all()


@pytest.mark.parametrize(
    "params, message",
    [
        ({c: False for c in COMPONENTS}, "all off"),
        ({"vas_tiers": ["vip"]}, "choose one of"),
        ({"vas_tiers": []}, "vas_tiers is empty"),
    ],
)
def test_bad_parameters_are_refused(make_config, params, message):
    with pytest.raises(ConfigError, match=message):
        make_config(strategy={"lean_service": params})
