"""A finite market: acquisition comes from the part of the city's market the bank does not have,
so growth stops near saturation; partner reach scales with the market; market-share KPIs."""

import numpy as np
import pytest

from sim.api import run_scenario


def test_growth_stops_at_the_market(make_config):
    """Nobody leaves and many are won each month: the book fills the market and stops there."""
    closed = {
        "behaviour.churn_base": 0.0,
        "behaviour.natural_exit": 0.0,
        "behaviour.old_age_exit": 0.0,
        "population.organic_rate": 0.03,
    }
    ts = run_scenario(make_config(closed, customers=2000, months=120)).timeseries
    share = ts["market_share"].to_numpy()
    assert (share <= 1.0 + 1e-9).all()
    assert (np.diff(share) >= -1e-9).all()
    assert share[-1] > 0.95
    first, last = share[11] - share[0], share[-1] - share[-13]
    assert last < 0.05 * first


def test_better_retention_grows_the_book_to_a_bound_not_without_limit(make_config):
    """Far less switching: the book grows, ever more slowly, towards an equilibrium."""
    kwargs = dict(customers=4000, months=120, seed=1)
    base = run_scenario(make_config(**kwargs)).timeseries
    loyal = run_scenario(make_config({"behaviour.churn_base": 0.03}, **kwargs)).timeseries
    growth = loyal["customers"] / base["customers"]
    assert growth.iloc[-1] > 1.15  # retention gains pay
    early = growth.iloc[59] - growth.iloc[0]
    late = growth.iloc[-1] - growth.iloc[59]
    assert late < 0.85 * early  # but with diminishing returns: the market is finite
    steady = base["market_share"]
    assert steady.iloc[-1] == pytest.approx(steady.iloc[0], abs=0.03)  # the baseline is stable


def test_market_share_is_customers_over_the_market(make_config):
    result = run_scenario(make_config(customers=2000, months=12))
    ts, s = result.timeseries, result.summary
    market = ts["customers"] / ts["market_share"]
    assert np.allclose(market, market.iloc[0])  # the market does not move
    assert s.market_share_start == pytest.approx(result.config.market.opening_share, rel=0.1)
    assert s.market_share_end == ts["market_share"].iloc[-1]


def test_partner_reach_scales_with_the_market(make_config):
    promoted = {"partner_promotion": {"partners": ["supermarket"]}}
    new = [
        run_scenario(make_config(customers=n, months=12, strategy=promoted))
        .timeseries["new_partner"]
        .sum()
        for n in (5_000, 20_000)
    ]
    assert new[1] / new[0] == pytest.approx(4.0, rel=0.25)
