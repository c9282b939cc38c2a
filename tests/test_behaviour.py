"""Behavioural directions under common random numbers: paired on seeds, direction and rough size."""

from __future__ import annotations

import numpy as np
import pytest

from sim.api import run_scenario
from sim.model import BankModel

SEEDS = (0, 1, 2)


def paired(make_config, key, better, worse, metric="retention_horizon", seeds=SEEDS, **size):
    """(better, worse) summary metric per seed for two values of one parameter."""
    size = {"customers": 5000, "months": 24} | size
    return np.array(
        [
            [
                run_scenario(make_config({key: value}, seed=seed, **size)).summary[metric]
                for value in (better, worse)
            ]
            for seed in seeds
        ]
    ).T


@pytest.mark.parametrize("key", ["bank.branch_quality", "bank.digital_quality"])
def test_worse_service_raises_churn(make_config, key):
    good, bad = paired(make_config, key, 0.9, 0.3)
    assert (good - bad > 0.01).all(), (good, bad)
    assert (good - bad).mean() > 0.025


def test_more_manager_quits_lower_affluent_retention(make_config):
    stable, churning = paired(make_config, "bank.manager_quit_rate", 0.0, 0.5, "retention_mid_high")
    assert (stable - churning > 0.03).all(), (stable, churning)


def run_with_forced_quits(make_config, seed: int, follow: float, months: int = 12):
    """Customers of even desks, and their exits over ``months`` with and without those desks'
    managers quitting at the first measured month (same seed: common random numbers)."""
    cfg = make_config(
        {"bank.manager_quit_rate": 1e-6, "bank.follow_manager": follow},
        customers=10_000,
        burn_in=6,
        months=months,
        seed=seed,
    )
    quit_world, stay_world = BankModel(cfg), BankModel(cfg)
    for _ in range(cfg.burn_in):
        quit_world.step()
        stay_world.step()
    c = quit_world.customers
    quitting = [m.desk for m in quit_world.desk_list() if m.desk % 2 == 0]
    theirs = c.id[c.active & np.isin(c.manager, quitting)].copy()
    assert len(theirs) > 200
    quit_month = cfg.burn_in + 1
    reset_levers = quit_world.reset_levers

    def reset_levers_then_force_quits():  # levers are rebuilt monthly, as a strategy would
        reset_levers()
        if quit_world.month == quit_month:
            for manager in quit_world.desk_list():
                if manager.desk in quitting:
                    manager.quit_multiplier = 1e12  # certain to quit this month

    quit_world.reset_levers = reset_levers_then_force_quits
    for _ in range(months):
        quit_world.step()
        stay_world.step()
    exits = []
    for model in (quit_world, stay_world):
        everyone = model.customers.everyone()
        exits.append(int(np.count_nonzero(everyone["left"][theirs] >= 0)))
    everyone = quit_world.customers.everyone()
    changed = everyone["manager_change"][theirs]
    still_there = everyone["left"][theirs] < 0
    still_there |= everyone["left"][theirs] > quit_month
    assert (changed[still_there] == quit_month).all()
    reasons = everyone["exit_reason"][theirs]
    return exits, reasons


@pytest.mark.parametrize("seed", [0, 1])
def test_manager_departure_raises_churn_of_their_customers(make_config, seed):
    """Even with nobody following the manager out, a new manager raises their customers' churn."""
    (after_quit, without_quit), reasons = run_with_forced_quits(make_config, seed, follow=0.0)
    assert after_quit > 1.3 * without_quit, (after_quit, without_quit)
    assert not (reasons == 2).any()  # nobody followed


def test_some_customers_follow_a_departing_manager(make_config):
    (after_quit, without_quit), reasons = run_with_forced_quits(make_config, 0, follow=0.5)
    followed = int(np.count_nonzero(reasons == 2))  # EXIT_REASONS index of followed_manager
    assert followed > 20
    assert after_quit > without_quit + followed // 2


@pytest.mark.parametrize("seed", [0, 1])
def test_more_products_lower_attrition(make_config, seed):
    """Give the same customers 1, 2, 3 or 4 products after burn-in; exits fall with products."""
    cfg = make_config(customers=5000, burn_in=6, months=12, seed=seed)
    exits = []
    for products in (1, 2, 3, 4):
        model = BankModel(cfg)
        for _ in range(cfg.burn_in):
            model.step()
        c = model.customers
        c.products[:] = products
        cohort = c.id[c.active].copy()
        for _ in range(cfg.months):
            model.step()
        exits.append(int(np.count_nonzero(model.customers.everyone()["left"][cohort] >= 0)))
    assert exits == sorted(exits, reverse=True) and len(set(exits)) == 4, exits
    assert exits[0] > 2.5 * exits[3], exits


def test_fee_surprises_raise_complaints(make_config):
    for seed in (0, 1):
        runs = [
            run_scenario(
                make_config({"behaviour.fee_surprise_rate": rate}, customers=3000, seed=seed)
            )
            for rate in (0.0, 0.03, 0.2)
        ]
        complaints = [r.summary.complaints for r in runs]
        fee_complaints = [r.timeseries["fee_complaints"].sum() for r in runs]
        assert fee_complaints[0] == 0
        assert 0 < fee_complaints[1] < fee_complaints[2]
        assert complaints[0] < complaints[1] < complaints[2]
        assert complaints[2] > 2 * complaints[0], complaints


def test_perks_strategy_raises_satisfaction_and_retention(make_config, changed):
    for seed in (0, 1):
        base = make_config(customers=3000, months=24, seed=seed)
        b = run_scenario(base)
        s = run_scenario(changed(base, {"strategy": {"test_perks": {"perk": 0.15}}}))
        assert s.summary.retention_horizon > b.summary.retention_horizon + 0.02
        assert s.summary.satisfaction > b.summary.satisfaction + 0.05


def test_strategy_cost_line_is_booked_and_ledger_balances(make_config):
    cfg = make_config(
        customers=2000, months=12, strategy={"test_perks": {"start": 3, "end": 8, "cost": 25.0}}
    )
    ts = run_scenario(cfg).timeseries
    line = "cost_test_perks.perks"
    assert line in ts
    active = ts["month"].between(4, 8)  # active for measured months start < m <= end
    expected = ts["customers"] * 25.0  # real customers
    assert np.allclose(ts.loc[active, line], expected[active])
    assert (ts.loc[~active, line] == 0).all()
    cost_lines = [c for c in ts if c.startswith("cost_")]
    assert np.allclose(ts["cost"], ts[cost_lines].sum(axis=1))
    assert np.allclose(ts["profit"], ts["revenue"] - ts["cost"])
    assert (ts.loc[active, "cost"] > ts.loc[active, line]).all()


@pytest.mark.parametrize(("start", "end"), [(0, None), (0, 1), (2, 5), (7, 9)])
def test_strategy_acts_only_between_start_and_end(make_config, start, end):
    cfg = make_config(
        customers=300, months=8, burn_in=4, strategy={"test_perks": {"start": start, "end": end}}
    )
    model = BankModel(cfg)
    model.run()
    (strategy,) = model.strategies
    last = cfg.months if end is None else min(end, cfg.months)
    months = [cfg.burn_in + m for m in range(start + 1, last + 1)]
    assert strategy.calls == [(hook, t) for t in months for hook in ("before", "after")]
