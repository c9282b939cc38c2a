"""Engagement as a state: it follows products, satisfaction and life events, and disengaged
customers switch more (common random numbers: the same customers in both arms)."""

from __future__ import annotations

import numpy as np

from sim.api import run_scenario
from sim.mechanisms import engagement
from sim.metrics import is_engaged
from sim.model import BankModel


def real_mean(values, weight, mask) -> float:
    weight = weight.astype(np.float64)
    return float(np.sum(values * weight, where=mask) / np.sum(weight, where=mask))


def targets(model, level: float = 0.0, u: float = 1.0) -> np.ndarray:
    """Each customer's engagement after a month that starts at ``level`` (draw ``u``: 1 for no
    life event), by the customer pass's own formula."""
    c, p = model.customers, engagement.params(model)
    return np.array([
        engagement.engagement_after(
            p, np.float32(level), c.products[i], c.satisfaction[i], c.digital[i], c.habit[i],
            c.engagement_lift[i], np.float32(u),
        )[0]
        for i in range(c.n)
    ])  # fmt: skip


def test_target_rises_with_products_and_satisfaction(make_config):
    model = BankModel(make_config(customers=1000, burn_in=0, months=1))
    c = model.customers
    base = targets(model)
    c.products[:] = 4
    more_products = targets(model)
    c.satisfaction[:] = np.minimum(c.satisfaction + 0.2, 1.0)
    more_satisfied = targets(model)
    assert (more_products >= base).all() and (more_products > base).mean() > 0.5
    assert (more_satisfied >= more_products).all() and (more_satisfied > more_products).any()
    c.engagement_lift[:] = -1.0  # a strategy's lift moves the target, within 0-1
    assert (targets(model) == 0.0).all()


def test_engagement_drifts_towards_target_and_lift_is_a_monthly_lever(make_config):
    cfg = make_config(customers=500, burn_in=0, months=1)
    model = BankModel(cfg)
    c = model.customers
    speed = np.float32(cfg.behaviour.engagement_speed)
    c.engagement_lift[:] = 0.1
    rising, falling = targets(model, 0.0), targets(model, 1.0)
    target = rising / speed  # from 0, a month closes ``speed`` of the gap to the target
    assert target.min() > 0.1 and target.max() <= 1.0
    np.testing.assert_allclose(falling, 1.0 - speed * (1.0 - target), rtol=1e-5)
    model.reset_levers()
    assert (c.engagement_lift == 0).all()  # rebuilt each month, like perks
    assert (targets(model, 0.0) < rising).all()


def test_life_events_jolt_engagement_by_their_size(make_config):
    cfg = make_config({"behaviour.life_event_disengage": 0.5}, customers=200, burn_in=0, months=1)
    model = BankModel(cfg)
    b, c = cfg.behaviour, model.customers
    level = float(c.engagement[0])
    quiet = targets(model, level, u=1.0)
    down = targets(model, level, u=b.life_event_rate * 0.25)  # in the disengaging half
    up = targets(model, level, u=b.life_event_rate * 0.75)
    np.testing.assert_allclose(down, quiet * (1 - b.life_event_size), rtol=1e-5)
    np.testing.assert_allclose(up, quiet + b.life_event_size * (1 - quiet), rtol=1e-5)


def test_engagement_in_a_run_follows_products(make_config):
    model = BankModel(make_config(customers=3000, burn_in=12, months=1))
    model.run()
    c = model.customers
    means = [real_mean(c.engagement, c.weight, c.active & (c.products == k)) for k in (1, 2, 3)]
    assert means[0] < means[1] < means[2], means
    share = real_mean(is_engaged(c.engagement, model.config.behaviour), c.weight, c.active)
    assert 0.5 < share < 0.9, share  # most customers engaged, a sizeable minority not


def test_life_events_move_engagement(make_config):
    """Same customers: only disengaging life events lower engagement, only re-engaging ones
    raise it, against a world without life events."""

    def mean_engagement(rate: float, down: float) -> float:
        cfg = make_config(
            {"behaviour.life_event_rate": rate, "behaviour.life_event_disengage": down},
            customers=2000,
            burn_in=6,
            months=1,
        )
        model = BankModel(cfg)
        model.run()
        c = model.customers
        return real_mean(c.engagement, c.weight, c.active)

    none = mean_engagement(0.0, 0.5)
    down, up = mean_engagement(0.1, 1.0), mean_engagement(0.1, 0.0)
    assert down < none - 0.02 < none + 0.02 < up, (down, none, up)


def test_disengaged_customers_leave_more(make_config, changed):
    """Common random numbers: lowering every customer's engagement (no habit term in the target)
    raises the opening book's attrition; within a run, the disengaged leave more than the
    engaged."""
    cfg = make_config(
        {"output.crm_reference_month": 6}, customers=5000, burn_in=0, months=24, seed=4
    )
    weights = dict(cfg.behaviour.engagement_weights, habit=0.0)
    low = changed(cfg, {"behaviour.engagement_weights": weights})
    base, lowered = run_scenario(cfg), run_scenario(low)
    x = base.crm_extract
    assert lowered.crm_extract["engaged"].mean() < x["engaged"].mean() - 0.2
    attrition = 1 - base.summary.retention_horizon
    attrition_low = 1 - lowered.summary.retention_horizon
    assert attrition_low > attrition + 0.01, (attrition, attrition_low)
    w = x["weight"].astype(float)
    churn = {
        flag: (w * x["churned"])[x["engaged"] == flag].sum() / w[x["engaged"] == flag].sum()
        for flag in (True, False)
    }
    assert churn[False] > 1.3 * churn[True] > 0, churn


def test_hazard_multipliers_order_retention(make_config, changed):
    """Everyone disengaged (threshold 1) keeps fewer customers than everyone engaged (0)."""
    cfg = make_config(customers=2000, burn_in=3, months=12, seed=2)
    none = run_scenario(changed(cfg, {"behaviour.engagement_threshold": 1.0}))
    everyone = run_scenario(changed(cfg, {"behaviour.engagement_threshold": 0.0}))
    assert not none.crm_extract["engaged"].any() and everyone.crm_extract["engaged"].all()
    assert none.summary.retention_horizon < everyone.summary.retention_horizon - 0.03


def test_strategies_raise_engagement(make_config):
    """Scenario finance and partner perks act through engagement (opening book, same people)."""

    def engagement_at_end(strategy: dict) -> float:
        cfg = make_config(customers=2000, burn_in=3, months=12, strategy=strategy)
        model = BankModel(cfg)
        model.run()
        c = model.customers
        return real_mean(c.engagement, c.weight, c.active & (c.channel == 0))

    base = engagement_at_end({})
    digital = engagement_at_end({"digital_scenario": {}})
    partners = engagement_at_end({"partner_promotion": {}})
    assert digital > base + 0.01, (base, digital)
    assert partners > base, (base, partners)
