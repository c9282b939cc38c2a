"""Customer lifetime value (``sim.clv``, docs/model.md "Customer lifetime value"): the value
against a brute-force simulation of the same customers' futures, its directions, the blocks
against the month-by-month sum, and the KPIs and the CRM column it feeds."""

from __future__ import annotations

import numpy as np
import pytest

from sim import clv, metrics
from sim.api import run_scenario
from sim.config import TIERS
from sim.customers import EXIT_REASONS
from sim.kpis import REGISTRY, VALUE_LOST_PARTS
from sim.mechanisms import books, exits, experience, service
from sim.mechanisms.wealth import MONTH_YEARS
from sim.model import BankModel

PATHS = 20_000


@pytest.fixture(scope="module")
def model(make_config):
    """A small bank four months after burn-in."""
    m = BankModel(make_config(customers=800, months=6, burn_in=2, seed=5))
    for _ in range(6):
        m.step()
    return m


def brute_force(model: BankModel, i: int, rng: np.random.Generator) -> tuple[float, float]:
    """Mean and standard error of the discounted margin less cost over simulated futures of row
    ``i``, its state frozen but for tenure, age, a manager change's months and a shock's decay;
    each month it leaves with the chance 1 - exp(-(switching + natural))."""
    c, cfg, t = model.customers, model.config, model.month
    p = exits.params(model)
    p = p._replace(tenure_log=exits.tenure_logs(cfg.behaviour, t - c.joined[i] + clv.HORIZON + 1))
    tier, digital = int(c.tier[i]), np.float32(c.digital[i])
    pull = experience.competitor_pull(experience.params(model), tier, digital)
    managed = c.manager[i] >= 0
    gap = c.attention[i] - np.float32(cfg.behaviour.relationship.reference) if managed else 0.0
    lines = books.customer_lines(
        cfg.economics, model.wealth_share[c.tier[i : i + 1]], c.aum[i : i + 1],
        c.loan[i : i + 1], np.ones(1, np.float32),
    )  # fmt: skip
    margin = float(books.customer_profit(lines)[0])
    ks = np.arange(1, clv.HORIZON + 1)
    leave, net = np.empty(ks.size), np.empty(ks.size)
    for k in ks:
        tenure = t + k - c.joined[i]
        shock = c.shock[i] * p.shock_decay ** np.float32(k - 1)
        age = c.age[i] + np.float32(k) * MONTH_YEARS
        switching, natural = exits.hazards(
            p, c.satisfaction[i], c.products[i], tenure, tier, pull, t + k - c.manager_change[i],
            c.referred[i], shock, c.engagement[i], np.float32(gap), age,
        )  # fmt: skip
        leave[k - 1] = -np.expm1(-(float(switching) + float(natural)))
        cost = service.cost(
            service.params(model), digital, np.float32(1), c.products[i], tenure, tier,
            np.float32(managed),
        )  # fmt: skip
        net[k - 1] = float(margin - cost)
    d = (1.0 + cfg.economics.discount_rate) ** (-ks / 12.0)
    stays = rng.random((ks.size, PATHS)) >= leave[:, None]
    alive = np.logical_and.accumulate(stays, axis=0)
    values = (d * net) @ alive
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(PATHS))


def picks(model: BankModel) -> list[int]:
    """A handful of customers: the richest of each tier, a newcomer and one in a manager change's
    window."""
    c = model.customers
    active = np.flatnonzero(c.active)
    chosen = [int(active[np.argmax(np.where(c.tier[active] == t, c.aum[active], -1))]) for t in
              range(4)]  # fmt: skip
    chosen.append(int(active[np.argmax(c.joined[active])]))
    window = active[model.month - c.manager_change[active] < 6]
    if len(window):
        chosen.append(int(window[0]))
    return chosen


def test_clv_matches_a_brute_force_simulation(model):
    """The month-by-month sum lies within 3 standard errors of the mean of 20,000 simulated
    futures of each customer, the errors a small share of the value; the blocks within 3%."""
    rng = np.random.default_rng(11)
    rows = picks(model)
    exact = clv.clv(model, rows, blocks=clv.MONTHLY)
    fast = clv.clv(model, rows)
    for row, value, quick in zip(rows, exact, fast, strict=True):
        mean, se = brute_force(model, row, rng)
        assert se < 0.02 * abs(mean), (row, mean, se)  # the test has power
        assert abs(value - mean) < 3 * se, (row, value, mean, se)
        assert quick == pytest.approx(value, rel=0.03), row


def test_blocks_close_to_the_monthly_sum(model):
    """On a whole bank the blocks' value is within 0.1% of the month-by-month sum."""
    w = model.customers.weight
    exact = np.sum(clv.clv(model, blocks=clv.MONTHLY) * w)
    assert np.sum(clv.clv(model) * w) == pytest.approx(exact, rel=1e-3)
    assert clv.BLOCKS.sum() == clv.MONTHLY.sum() == clv.HORIZON


def test_leavers_count_zero_unless_asked(model):
    c = model.customers
    values = clv.clv(model)
    gone = np.flatnonzero(~c.active)
    assert len(gone) and np.all(values[gone] == 0)
    assert np.any(clv.clv(model, gone) != 0)


def test_directions(model):
    """More AUM, a higher churn base, a ten-year customer against a new one."""
    c, t = model.customers, model.month
    active = np.flatnonzero(c.active)
    i = int(active[np.argmax(np.where(c.tier[active] == 2, c.aum[active], -1))])  # high tier
    before = clv.clv(model, [i])[0]
    assert before > 0
    aum, joined = c.aum[i], c.joined[i]
    try:
        c.aum[i] = aum * 1.5  # the same tier, a higher margin
        assert clv.clv(model, [i])[0] > before
        c.aum[i] = aum
        c.joined[i] = t - 120
        ten_years = clv.clv(model, [i])[0]
        c.joined[i] = t
        new = clv.clv(model, [i])[0]
        assert ten_years > new
    finally:
        c.aum[i], c.joined[i] = aum, joined
    behaviour = model.config.behaviour
    base = behaviour.churn_base
    try:
        behaviour.churn_base = base * 2
        assert clv.clv(model, [i])[0] < before
    finally:
        behaviour.churn_base = base
    assert clv.clv(model, [i])[0] == before


def test_same_seed_same_values(make_config):
    def values():
        m = BankModel(make_config(customers=300, months=3, burn_in=1, seed=9))
        for _ in range(3):
            m.step()
        return clv.clv(m)

    np.testing.assert_array_equal(values(), values())


def test_kpis_and_crm_column(make_config):
    """value_lost in the time series, it and book_value in the summary and the registry, without
    NaN; value_lost's parts by reason and by tier add up; the CRM extract's ``clv``."""
    cfg = make_config(
        {"output.crm_extract": True, "output.crm_reference_month": 1},
        customers=400, months=6, burn_in=2, seed=4,
    )  # fmt: skip
    result = run_scenario(cfg)
    ts, summary = result.timeseries, result.summary
    reasons = [f"value_lost_{r}" for r in EXIT_REASONS[1:]]
    tiers = [f"value_lost_{t}" for t in TIERS]
    columns = list(metrics.VALUE_LOST)
    assert set(metrics.VALUE_LOST[1:]) == {f"value_lost_{p}" for p in VALUE_LOST_PARTS}
    assert not ts[columns].isna().any().any()
    assert (ts["value_lost"] > 0).any() and "book_value" not in ts
    np.testing.assert_allclose(ts[reasons].sum(axis=1), ts["value_lost"], rtol=1e-9)
    np.testing.assert_allclose(ts[tiers].sum(axis=1), ts["value_lost"], rtol=1e-9)
    for name in (*columns, "book_value_start", "book_value"):
        assert np.isfinite(summary[name]), name
    assert summary["book_value"] > 0 and summary["book_value_start"] > 0
    for name in (*columns, "book_value"):
        assert name in REGISTRY and REGISTRY[name].kind == "money"
    assert summary["value_lost"] == pytest.approx(sum(summary[r] for r in reasons), rel=1e-9)
    assert summary["value_lost"] == pytest.approx(sum(summary[t] for t in tiers), rel=1e-9)
    crm = result.crm_extract
    assert crm is not None and not crm["clv"].isna().any()
    assert crm.groupby("tier", observed=True)["clv"].mean().is_monotonic_increasing


def test_a_referral_is_credited_to_its_referrers_tier_and_channel(make_config):
    """Friends referred by mid-tier customers who bank digitally carry that referrer's code, and
    their value is the month's referral value of the mid tier and of the digital channel."""
    from sim.customers import REFERRER_CHANNELS, referrer_of
    from sim.mechanisms import acquisition

    model = BankModel(make_config(customers=3000, months=6, burn_in=2, seed=5))
    for _ in range(4):
        model.step()
    c = model.customers
    before = metrics.referral_value(model)
    who = np.flatnonzero(c.active & (c.tier == 1) & (c.digital >= 0.5))
    assert len(who) > 50
    rows = model.admit([acquisition.referred(model, who)])[0]
    assert rows.stop - rows.start > 0
    assert (c.referrer[rows] == referrer_of(np.int8(1), np.float32(0.9))).all()
    after = metrics.referral_value(model)
    gained = {k: after[k] - before[k] for k in after}
    assert gained["referral_value"] > 0
    assert gained["referral_value_mid"] == pytest.approx(gained["referral_value"])
    assert gained["referral_value_digital"] == pytest.approx(gained["referral_value"])
    for other in (*(t for t in TIERS if t != "mid"), REFERRER_CHANNELS[0]):
        assert gained[f"referral_value_{other}"] == 0.0


def test_referral_value_adds_up_and_is_nil_without_referrals(make_config):
    def run(rate: float) -> dict:
        return run_scenario(
            make_config({"behaviour.referral_rate": rate}, customers=1500, months=12, seed=6)
        ).summary

    with_referrals, without = run(0.02), run(0.0)
    tiers = sum(with_referrals[f"referral_value_{t}"] for t in TIERS)
    channels = sum(with_referrals[f"referral_value_{c}"] for c in ("branch", "digital"))
    assert with_referrals["referral_value"] > 0
    assert tiers == pytest.approx(with_referrals["referral_value"], rel=1e-9)
    assert channels == pytest.approx(with_referrals["referral_value"], rel=1e-9)
    assert without["referral_value"] == 0.0
