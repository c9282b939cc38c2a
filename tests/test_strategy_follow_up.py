"""Follow-up by tier and after sales: lifts the followed customers' satisfaction, only as far as
the desks' spare contacts go; paired against the baseline on the same seeds (common random
numbers), customer by customer."""

import numpy as np
import pytest

from sim.config import TIERS, ConfigError, to_config
from sim.model import BankModel

SEEDS = range(4)
CUSTOMERS = 8000  # with the default 40 desks: spare contacts at every desk, ~200 high and private
HIGH, MID, MASS = TIERS.index("high"), TIERS.index("mid"), TIERS.index("mass")


def paired_runs(make_config, params, overrides=None, seed=0, months=12):
    """Baseline and follow-up models run side by side; returns them, the strategy's monthly real
    contacts and the desks' spare contacts it saw."""
    size = {"seed": seed, "months": months, "customers": CUSTOMERS}
    base = BankModel(to_config(make_config(overrides, **size)))
    cfg = make_config(overrides, **size, strategy={"follow_up": params})
    model = BankModel(to_config(cfg))
    contacts, spare = [], []
    for month in range(1, cfg.burn_in + months + 1):
        spare_before = model.spare_contacts.sum()
        base.step(), model.step()
        if month == cfg.burn_in:
            base.cutoff = model.cutoff = model.customers.next_id  # newcomers' ids differ later
        if month > cfg.burn_in:
            contacts.append(model.strategies[0].contacts)
            spare.append(spare_before)
    return base, model, np.array(contacts), np.array(spare)


def lift_by_tier(base, model) -> np.ndarray:
    """Mean satisfaction gain by tier over customers who joined before the strategy started and
    are active in both runs (the same people; balances, so tiers, do not depend on strategies)."""
    b, c = base.customers, model.customers
    ids = np.intersect1d(b.id[b.active], c.id[c.active])
    ids = ids[ids < base.cutoff]
    rb, rc = np.searchsorted(b.id, ids), np.searchsorted(c.id, ids)
    assert np.array_equal(b.tier[rb], c.tier[rc])
    gain = c.satisfaction[rc] - b.satisfaction[rb]
    tier = b.tier[rb]
    return np.array([gain[tier == t].mean() if (tier == t).any() else 0.0 for t in range(4)])


def followed_lift(lifts: np.ndarray) -> float:
    return float(lifts[HIGH])  # the high tier: many customers, followed by default


def mean_lift(make_config, params, overrides=None):
    return np.mean(
        [lift_by_tier(*paired_runs(make_config, params, overrides, seed)[:2]) for seed in SEEDS],
        axis=0,
    )


def test_follow_up_lifts_the_followed_tiers_only(make_config):
    lifts = mean_lift(make_config, {"after_sales_contacts": 0.0})
    assert 0.01 < lifts[HIGH] < 0.04  # one monthly call at skill ~0.65: experience +0.026
    assert lifts[TIERS.index("private")] > 0.01
    assert abs(lifts[MID]) < 0.05 * lifts[HIGH] and abs(lifts[MASS]) < 0.05 * lifts[HIGH]
    mid_only = mean_lift(make_config, {"tiers": ["mid"], "after_sales_contacts": 0.0})
    assert mid_only[MID] > 0.01
    # the high tier gains only through customers who were mid until recently
    assert abs(mid_only[HIGH]) < 0.1 * mid_only[MID] and abs(mid_only[MASS]) < 0.001


def test_follow_up_is_capped_by_spare_capacity(make_config):
    params = {"after_sales_contacts": 0.0}
    runs = {
        contacts: [
            paired_runs(make_config, params, {"bank.manager_contacts": contacts}, seed)
            for seed in SEEDS
        ]
        for contacts in (250.0, 120.0)
    }
    lift = {k: np.mean([followed_lift(lift_by_tier(*r[:2])) for r in v]) for k, v in runs.items()}
    made = {k: np.mean([r[2].sum() for r in v]) for k, v in runs.items()}
    assert 0 < lift[120.0] < 0.6 * lift[250.0]
    assert 0 < made[120.0] < 0.6 * made[250.0]
    for v in runs.values():
        for _, _, contacts, spare in v:
            assert (contacts <= spare + 1e-6).all()  # never more than the desks had spare


def test_no_spare_capacity_no_follow_up_and_no_cost(make_config):
    base, model, contacts, spare = paired_runs(make_config, {}, {"bank.manager_contacts": 20.0})
    assert (spare == 0).all()  # regular contact needs take every contact
    assert (contacts == 0).all()
    ts = model.datacollector.get_model_vars_dataframe()
    assert (ts["cost_follow_up.contacts"] == 0).all()
    assert np.array_equal(base.customers.satisfaction, model.customers.satisfaction)


def test_after_sales_follow_up_reaches_last_months_buyers_and_complainers(make_config):
    cfg = make_config(customers=CUSTOMERS, months=6, strategy={"follow_up": {"tiers": []}})
    model = BankModel(to_config(cfg))
    strategy = model.strategies[0]
    for _ in range(cfg.burn_in + 1):
        model.step()
    assert strategy.contacts == 0  # nothing recorded before the strategy started
    for _ in range(3):
        _, recent = strategy.recent
        c = model.customers
        managed = c.active & (c.manager >= 0)
        ids, desks = c.key[managed], c.manager[managed]  # as the strategy sees them
        weight = c.weight[managed]
        skill = np.array([m.skill for m in model.desk_list()])
        model.step()
        c = model.customers  # perks stay set until the next month's levers are rebuilt
        followed = np.intersect1d(recent, ids)
        assert len(followed) and np.array_equal(np.sort(c.key[c.perks > 0]), followed)
        mine = np.isin(ids, followed)
        expected = strategy.config.lift * skill[desks[mine]]
        assert np.allclose(c.perks[np.isin(c.key, followed)], expected, rtol=1e-5)
        assert strategy.contacts == pytest.approx(weight[mine].sum())  # one each, real
        assert model.books["cost_follow_up.contacts"] == pytest.approx(strategy.contacts * 20.0)


def test_after_sales_follow_up_lifts_managed_customers_a_little(make_config):
    lifts = mean_lift(make_config, {"tiers": []})
    assert lifts[MID] > 0.0001 and lifts[HIGH] > 0.0001  # about 1% have an event a month
    assert abs(lifts[MASS]) < 0.2 * lifts[MID]  # no manager, no follow-up


def test_cost_is_per_contact_at_bank_scale(make_config):
    _, model, contacts, _ = paired_runs(make_config, {}, months=3)
    ts = model.datacollector.get_model_vars_dataframe()
    assert (contacts > 0).all()
    assert np.allclose(ts["cost_follow_up.contacts"], contacts * 20.0)
    reached = model.strategies[0].reached
    assert contacts[-1] >= reached > 0  # >= one contact for each real customer reached


@pytest.mark.parametrize(
    "tiers, message",
    [(["vip"], "choose one of"), (["mass", "high"], "managed_tier")],
)
def test_tiers_must_exist_and_have_managers(make_config, tiers, message):
    with pytest.raises(ConfigError, match=message):
        make_config(strategy={"follow_up": {"tiers": tiers}})
