"""Cost to serve that depends on the customer, and tenure economics (docs/model.md, "Cost to
serve" and "What a loyal customer is worth"): a new customer costs more to serve than one of ten
years, digital banking costs less than branch banking, products, contacts and complaints add
their costs; a mature or engaged customer minds a rival's pull less, buys more and brings more of
their wallet; a cut in defection is worth more over ten years than over five."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import behaviour
from sim.api import run_scenario
from sim.mechanisms import books, engagement, exits, service
from sim.metrics import discount_factors
from sim.model import BankModel

f32 = np.float32
TIERS = np.arange(4, dtype=np.int8)


@pytest.fixture(scope="module")
def model(make_config) -> BankModel:
    """A small bank after a year and a half: customers of every tenure, tier and channel."""
    m = BankModel(make_config(customers=2000, months=18, burn_in=6))
    m.run()
    return m


def serving(model: BankModel, **columns) -> np.ndarray:
    """Each tier's cost to serve a real customer (CNY a month) for the given columns (float32
    scalars: digital, products, tenure, managed), by :func:`service.cost`."""
    given = {"digital": 0.3, "products": 2.0, "tenure": 0.0, "managed": 0.0} | columns
    return service.cost(
        service.params(model),
        np.full(4, given["digital"], np.float32),
        np.ones(4, np.float32),
        np.full(4, given["products"], np.float32),
        np.full(4, given["tenure"], np.float32),
        TIERS,
        np.full(4, given["managed"], np.float32),
    )


def test_a_new_customer_costs_more_to_serve_than_one_of_ten_years(model):
    serving_cfg = model.config.bank.cost_to_serve
    new, old = serving(model, tenure=0.0), serving(model, tenure=120.0)
    assert (new > old).all()
    channel = serving(model, tenure=120.0, products=0.0)  # onboarding gone, no accounts
    # the onboarding extra is onboarding x the channel cost at joining, almost gone at 10 years
    extra = (new - old) / channel
    assert extra == pytest.approx(np.full(4, serving_cfg.onboarding), rel=1e-3)


def test_digital_banking_costs_less_than_branch_banking(model):
    assert (serving(model, digital=0.9) < serving(model, digital=0.1)).all()
    # a bank whose customers move a third of their banking to digital serves them for less
    before = service.cost_now(model)
    c = model.customers
    kept = c.digital.copy()
    try:
        c.digital[:] = np.minimum(kept + f32(0.3), f32(1.0))
        after = service.cost_now(model)
    finally:
        c.digital[:] = kept
    moved = c.active & (kept < 0.7)
    assert (after[moved] < before[moved]).all()
    assert after.sum() < 0.9 * before.sum()


def test_products_and_client_manager_contacts_add_their_costs(model):
    cfg = model.config.bank.cost_to_serve
    more = serving(model, products=3.0) - serving(model, products=2.0)
    assert more == pytest.approx(np.full(4, cfg.account_cost), rel=1e-5)
    managed = serving(model, managed=1.0) - serving(model)
    assert managed == pytest.approx(cfg.contact_cost * model.contact_need, rel=1e-5)


def test_each_complaint_costs_its_handling():
    """Same seed, complaint_cost 250 and 0: the service line differs by 250 a complaint, and
    nothing else moves (costs do not feed back into behaviour)."""
    run = ["population.customers=1500", "months=12", "burn_in=3", "output.panel=false"]
    costly = run_scenario([*run, "bank.cost_to_serve.complaint_cost=250"]).timeseries
    free = run_scenario([*run, "bank.cost_to_serve.complaint_cost=0"]).timeseries
    assert costly["complaints"].sum() > 100
    pd.testing.assert_series_equal(costly["complaints"], free["complaints"])
    difference = costly["cost_service"] - free["cost_service"]
    np.testing.assert_allclose(difference, 250.0 * costly["complaints"], rtol=1e-6)


def test_a_rivals_pull_moves_a_mature_or_engaged_customer_less(model):
    p = exits.params(model)

    def pull_effect(tenure: int, engagement_level: float) -> float:
        """The hazard's multiplier from a rival's pull of 1."""
        args = (f32(0.6), 2, tenure, 1)
        rest = (False, f32(0.0), f32(engagement_level), f32(0.0), f32(40.0))
        pulled, _ = exits.hazards(p, *args, f32(1.0), 999, *rest)
        unpulled, _ = exits.hazards(p, *args, f32(0.0), 999, *rest)
        return float(pulled / unpulled)

    loyalty = model.config.behaviour.loyalty
    assert len(p.tenure_log) > 120
    new, mature = pull_effect(0, 0.0), pull_effect(120, 0.0)
    engaged = pull_effect(0, 1.0)
    assert new > mature > 1.0 and new > engaged > 1.0
    assert np.log(mature) == pytest.approx(np.log(new) * (1 - loyalty.price_tenure), rel=1e-4)
    assert np.log(engaged) == pytest.approx(np.log(new) * (1 - loyalty.price_engaged), rel=1e-4)


def test_a_mature_customer_is_cross_sold_more(model):
    p = engagement.params(model)
    u = np.linspace(0.0, 1.0, 20_001, dtype=np.float32)[1:-1]

    def sold(tenure: int) -> float:
        after = [
            engagement.products_after(p, 2, f32(0.8), f32(0.8), f32(0.0), tenure, x) for x in u
        ]
        return float(np.mean(np.array(after) > 2))

    rise = model.config.behaviour.loyalty.cross_sell
    assert sold(120) == pytest.approx(sold(0) * (1 + rise), rel=0.01)
    assert behaviour.maturity(f32(60.0), f32(120.0)) == pytest.approx(0.5)


def test_a_customer_of_ten_years_earns_more_and_costs_less_than_a_new_one_of_the_same_tier(
    make_config,
):
    """Twelve years on a small bank: within the mass and mid tiers, customers of ten years and
    more earn the bank more a month (larger balances and loans within the tier) and cost less to
    serve (less help, although they hold more products) than customers in their first year."""
    m = BankModel(make_config(customers=3000, months=144, burn_in=0, seed=3))
    m.run()
    c = m.customers
    tenure = m.month - c.joined
    per_customer = np.where(c.weight > 0, 1.0 / np.maximum(c.weight, 1e-12), 0.0)
    earned = books.customer_profit(books.lines_now(m)) * per_customer
    cost = service.cost_now(m) * per_customer
    for tier in (0, 1):
        new = c.active & (c.tier == tier) & (tenure < 12)
        old = c.active & (c.tier == tier) & (tenure >= 120)
        assert new.sum() > 30 and old.sum() > 30, (tier, new.sum(), old.sum())
        assert earned[old].mean() > earned[new].mean(), tier
        assert cost[old].mean() < cost[new].mean(), tier


def test_a_cut_in_defection_is_worth_more_over_ten_years_than_over_five():
    """The opening book's NPV gain from cutting churn_base 0.115 -> 0.06 (same seeds): larger
    after 10 years than after 5, and larger relative to the book's NPV too."""

    def npv(churn: float, seed: int) -> tuple[float, float]:
        ts = run_scenario(
            ["population.customers=3000", "months=120", f"seed={seed}", "output.panel=false",
             "output.crm_extract=false", f"behaviour.churn_base={churn}"]
        ).timeseries  # fmt: skip
        discounted = ts["profit_opening_book"] * discount_factors(ts["month"], 0.08)
        return float(discounted[ts["month"] <= 60].sum()), float(discounted.sum())

    gains5, gains10, base5, base10 = [], [], [], []
    for seed in (0, 1):
        (b5, b10), (l5, l10) = npv(0.115, seed), npv(0.06, seed)
        gains5.append(l5 - b5)
        gains10.append(l10 - b10)
        base5.append(b5)
        base10.append(b10)
    assert min(gains5) > 0
    assert np.mean(gains10) > 1.5 * np.mean(gains5)
    assert np.mean(gains10) / np.mean(base10) > np.mean(gains5) / np.mean(base5)
