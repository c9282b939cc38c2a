"""Invariants that hold for every valid config: bookkeeping, conservation, finite numbers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.api import RunResult, run_scenario
from sim.behaviour import tiers
from sim.config import TIERS, Config
from sim.customers import CHANNELS, EXIT_REASONS
from sim.ledger import GROUPS
from sim.metrics import panel
from sim.model import BankModel
from sim.scenario import to_config
from sim.strategies import REGISTRY

NEW = [f"new_{ch}" for ch in CHANNELS[1:]]
EXITS = [f"exit_{r}" for r in EXIT_REASONS[1:]]
PANEL_NUMERIC = ["customer_id", "age", "tenure_months", "products", "aum", "satisfaction"]
SEED_MAX = next(f for f in dataclasses.fields(Config) if f.name == "seed").metadata["hi"]


@st.composite
def small_configs(draw) -> Config:
    """Random valid small configs (strategies typed), with behaviour rates drawn within their
    allowed ranges."""
    months = draw(st.integers(1, 24))
    cfg = Config(
        seed=draw(st.integers(0, SEED_MAX)), months=months, burn_in=draw(st.integers(0, 6))
    )
    cfg.population.customers = draw(st.integers(50, 1500))
    # Growth rates are kept modest so that the book stays small and runs stay fast.
    cfg.population.organic_rate = draw(st.floats(0.0, 0.03))
    bank = cfg.bank
    bank.branches = draw(st.integers(1, 6))
    bank.managers = draw(st.integers(0, 10))
    bank.managed_tier = draw(st.sampled_from(TIERS))
    bank.manager_quit_rate = draw(st.floats(0.0, 1.0))
    bank.follow_manager = draw(st.floats(0.0, 1.0))
    bank.branch_quality = draw(st.floats(0.0, 1.0))
    bank.digital_quality = draw(st.floats(0.0, 1.0))
    b = cfg.behaviour
    b.churn_base = draw(st.floats(0.0, 1.0))
    b.smoothing = draw(st.floats(0.0, 1.0))
    b.satisfaction_coef = draw(st.floats(0.0, 50.0))
    b.fee_surprise_rate = draw(st.floats(0.0, 1.0))
    b.natural_exit = draw(st.floats(0.0, 1.0))
    b.referral_rate = draw(st.floats(0.0, 0.05))
    b.cross_sell_rate = draw(st.floats(0.0, 1.0))
    b.drop_rate = draw(st.floats(0.0, 1.0))
    cfg.market.balance_volatility = draw(st.floats(0.0, 0.5))
    if draw(st.booleans()):
        start = draw(st.integers(0, months - 1))  # a strategy must act at least once
        end = draw(st.one_of(st.none(), st.integers(start + 1, start + 30)))
        cfg.strategy = {"test_perks": {"start": start, "end": end}}
    return to_config(cfg)


def assert_invariants(result: RunResult) -> None:
    """Every invariant of one run's outputs."""
    cfg, ts, s, panel = result.config, result.timeseries, result.summary, result.panel

    # One row per measured month.
    assert ts["month"].tolist() == list(range(1, cfg.months + 1))

    # No NaN or inf anywhere (left_month is NA exactly for customers still with the bank).
    numeric = ts.select_dtypes("number")
    assert numeric.shape[1] == ts.shape[1], "timeseries has non-numeric columns"
    finite = np.isfinite(numeric.to_numpy(float)).all(axis=0)
    assert finite.all(), f"non-finite columns: {numeric.columns[~finite].tolist()}"
    for key, value in s.drop("strategies").items():
        assert value is not None and np.isfinite(float(value)), f"summary {key}={value!r}"
    assert np.isfinite(panel[PANEL_NUMERIC].to_numpy(float)).all()

    # Ledger identity, month by month.
    revenue_lines = [c for c in ts if c.startswith("revenue_")]
    cost_lines = [c for c in ts if c.startswith("cost_")]
    assert revenue_lines and cost_lines
    for name in cfg.strategy:
        assert {f"cost_{name}.{line}" for line in REGISTRY[name].cost_lines} <= set(cost_lines)
    assert np.allclose(ts["revenue"], ts[revenue_lines].sum(axis=1), rtol=1e-9, atol=1e-6)
    assert np.allclose(ts["cost"], ts[cost_lines].sum(axis=1), rtol=1e-9, atol=1e-6)
    assert np.allclose(ts["profit"], ts["revenue"] - ts["cost"], rtol=1e-9, atol=1e-6)
    assert (ts[revenue_lines + cost_lines] >= 0).all().all()
    assert np.isclose(s.revenue, ts["revenue"].sum())
    assert np.isclose(s.cost, ts["cost"].sum())
    assert np.isclose(s.profit, s.revenue - s.cost)

    # Profit splits into the opening book, newcomers and fixed lines; so does NPV.
    parts = [f"profit_{g}" for g in GROUPS]
    assert np.allclose(ts[parts].sum(axis=1), ts["profit"], rtol=1e-9, atol=1e-3)
    assert np.isclose(sum(s[f"npv_{g}"] for g in GROUPS), s.npv, rtol=1e-9, atol=1e-3)
    if not cfg.strategy:
        assert (ts["profit_fixed"] <= 0).all()  # branches and staff: costs only

    # Tier counts add up to the customers (real ones: weights), in the series and the summary.
    close = {"rtol": 1e-6, "atol": 1e-3}
    assert np.allclose(ts[[f"customers_{t}" for t in TIERS]].sum(axis=1), ts["customers"], **close)
    assert np.isclose(sum(s[f"customers_start_{t}"] for t in TIERS), s.customers_start, **close)
    assert np.isclose(sum(s[f"customers_end_{t}"] for t in TIERS), s.customers_end, **close)
    assert s.customers_end == ts["customers"].iloc[-1]

    # Conservation: the book moves only by joiners and leavers.
    flow = (ts[NEW].sum(axis=1) - ts[EXITS].sum(axis=1)).cumsum()
    assert np.allclose(ts["customers"], s.customers_start + flow, **close)

    # Retention is a share of a cohort that can only shrink.
    for col in ("retention", "retention_mid_high"):
        assert ts[col].between(0.0, 1.0).all()
        assert (ts[col].diff().dropna() <= 1e-12).all()
    assert 0.0 <= s.retention_12m <= 1.0
    assert s.retention_horizon == ts["retention"].iloc[-1]
    assert (ts["aum_retention"] >= 0).all() and (ts["aum"] >= 0).all()

    # The panel: one row per customer ever served, NA left_month exactly for those still here.
    assert panel["customer_id"].tolist() == list(range(len(panel)))
    assert (panel["channel"] == "opening_book").sum() == cfg.population.customers
    assert (panel["weight"] > 0).all()
    weight = panel["weight"].astype(float)
    joined = weight[panel["joined_month"] > 0].sum()  # measured months, as the time series
    assert np.isclose(joined, ts[NEW].to_numpy().sum(), **close)
    stayed = panel["left_month"].isna()
    assert np.isclose(weight[stayed].sum(), s.customers_end, **close)
    assert (stayed == panel["exit_reason"].isna()).all()
    assert (
        panel.loc[stayed, "tenure_months"] == cfg.months - panel.loc[stayed, "joined_month"]
    ).all()
    left = panel.loc[~stayed, "left_month"].astype(int)
    assert (left >= 1 - cfg.burn_in).all() and (left <= cfg.months).all()
    assert (left >= panel.loc[~stayed, "joined_month"]).all()
    gone = weight[~stayed][(left > 0).to_numpy()].sum()
    assert np.isclose(gone, ts[EXITS].to_numpy().sum(), **close)
    # Engagement is 0-1; leavers keep the state they had before they left (engaged or not).
    assert panel["engagement"].between(0.0, 1.0).all()
    threshold = np.float32(cfg.behaviour.engagement_threshold)
    assert (panel["engaged_at_exit_or_end"] == (panel["engagement"] >= threshold)).all()

    # The CRM extract (reference: end of burn-in) holds the cohort, its exits within the horizon.
    crm = result.crm_extract
    assert crm["customer_id"].is_unique and (crm["reference_month"] == 0).all()
    real = crm["weight"].astype(float)
    assert np.isclose(real.sum(), s.customers_start, **close)
    observed = min(cfg.output.crm_horizon_months, cfg.months)
    assert (crm["observed_months"] == observed).all()
    churn = real[crm["churned"]].sum() / real.sum() if real.sum() else 0.0
    assert np.isclose(1.0 - churn, ts["retention"].iloc[observed - 1], **close)
    assert (crm["churned"] == crm["exit_reason"].notna()).all()
    assert crm["months_to_exit"].dropna().between(1, observed).all()
    assert (panel["aum"] >= 0).all()
    assert (panel["tenure_months"] >= 0).all()
    assert panel["products"].between(1, 6).all()
    assert panel["satisfaction"].between(0.0, 1.0).all()
    assert panel["age"].between(18.0, 100.0 + (cfg.burn_in + cfg.months) / 12 + 0.1).all()
    assert panel[["segment", "tier", "channel"]].notna().all().all()


def assert_model_state(model: BankModel) -> None:
    """Invariants of the customer columns of a model (active rows and archived leavers)."""
    c = model.customers.everyone()
    assert (c["id"] == np.arange(len(c["id"]))).all()
    assert (c["aum"] >= 0).all() and np.isfinite(c["aum"]).all()
    assert (c["loan"] >= 0).all() and np.isfinite(c["loan"]).all()
    assert (c["active"] == (c["left"] < 0)).all()
    assert (c["active"] == (c["exit_reason"] == 0)).all()
    assert (c["tier"] == tiers(c["aum"])).all(), "tier does not follow AUM"
    assert ((c["satisfaction"] >= 0) & (c["satisfaction"] <= 1)).all()
    assert ((c["trust"] >= 0) & (c["trust"] <= 1)).all()
    assert ((c["effort"] >= 0) & (c["effort"] <= 1)).all()
    assert ((c["attention"] >= 0) & (c["attention"] <= 1)).all()
    assert (c["manager"] < max(len(model.managers), 1)).all()
    assert (c["manager"] >= -1).all()
    assert (c["branch"] >= 0).all() and (c["branch"] < model.config.bank.branches).all()


@settings(max_examples=20, deadline=None)
@given(cfg=small_configs())
def test_outputs_satisfy_invariants(cfg):
    assert_invariants(run_scenario(cfg))


@settings(max_examples=15, deadline=None)
@given(cfg=small_configs())
def test_model_state_satisfies_invariants(cfg):
    model = BankModel(cfg)
    assert_model_state(model)
    model.run()
    assert_model_state(model)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"bank.branches": 1}, id="one_branch"),
        pytest.param({"bank.managers": 0}, id="no_managers"),
        pytest.param({"bank.managers": 1, "bank.managed_tier": "mass"}, id="one_manager_for_all"),
        pytest.param({"bank.branches": 6, "bank.managers": 10, "burn_in": 0}, id="no_burn_in"),
        pytest.param(
            {
                "behaviour.churn_base": 0.0,
                "behaviour.natural_exit": 0.0,
                "behaviour.old_age_exit": 0.0,
            },
            id="nobody_leaves",
        ),
        pytest.param(
            {"behaviour.churn_base": 1.0, "behaviour.satisfaction_coef": 50.0}, id="everyone_leaves"
        ),
        pytest.param({"market.competitors": {}}, id="no_competitors"),
        pytest.param({"market.partners": {}}, id="no_partners"),
        pytest.param({"bank.manager_quit_rate": 1.0, "bank.follow_manager": 1.0}, id="all_quit"),
    ],
)
@pytest.mark.parametrize("months", [1, 3])
def test_extreme_valid_configs_run_without_nan(make_config, overrides, months):
    cfg = make_config(overrides, customers=100, months=months, burn_in=2)
    result = run_scenario(cfg)
    assert_invariants(result)


@pytest.mark.parametrize("customers", [1, 2, 7])
def test_tiny_books_run_without_nan(make_config, customers):
    cfg = make_config({"bank.branches": 3, "bank.managers": 2}, customers=customers, months=3)
    assert_invariants(run_scenario(cfg))


def test_default_size_run_satisfies_invariants(make_config):
    """One run of the default book (20k customers) through the default horizon."""
    cfg = make_config(customers=20_000, months=60, burn_in=12)
    model = BankModel(cfg)
    assert_model_state(model)
    result = run_scenario(cfg)
    assert_invariants(result)


def test_opening_satisfaction_is_within_bounds(make_config):
    """Satisfaction is 0-1 from the start, even in the far tail of a large opening book."""
    model = BankModel(make_config(customers=200_000, seed=0))
    sat = model.customers.satisfaction
    assert sat.min() >= 0.0 and sat.max() <= 1.0, (float(sat.min()), float(sat.max()))


def test_panel_left_month_matches_model(make_config):
    """left_month is NA exactly for active customers, and equals the measured month they left."""
    cfg = make_config(customers=1500, months=12, burn_in=3)
    model = BankModel(cfg)
    model.run()
    c = model.customers.everyone()
    p = panel(model)
    assert len(p) == len(c["id"]) == model.customers.next_id
    assert (p["left_month"].isna().to_numpy() == c["active"]).all()
    gone = ~c["active"]
    assert (p.loc[gone, "left_month"].astype(int).to_numpy() == c["left"][gone] - 3).all()
    assert isinstance(p["left_month"].dtype, pd.Int32Dtype)
