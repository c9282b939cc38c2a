"""Common random numbers for newcomers, and weighted customers.

The k-th arrival of a channel is the same person in every arm; referred friends are keyed to
their referrer; per-customer draws depend on the customer's key alone; weights make the affluent
tiers many agents while weighted totals stay those of the real bank.
"""

import numpy as np
import pytest

from sim.api import run_scenario
from sim.arrivals import Arrivals
from sim.config import TIER_BOUNDS, TIERS
from sim.model import BankModel, _segment_table
from sim.rng import Streams, channel_key

FIXED = ["customer_key", "segment", "weight", "home_x", "home_y", "branch"]


def newcomers(panel, channel):
    """A channel's newcomers in order of arrival (the panel is in id order)."""
    return panel[panel["channel"] == channel].reset_index(drop=True)


def test_draws_depend_on_the_key_alone():
    streams = Streams(7)
    keys = channel_key("organic", np.arange(1000))
    u = streams.uniform("churn", 3, keys)
    perm = np.random.default_rng(0).permutation(1000)
    assert np.array_equal(streams.uniform("churn", 3, keys[perm]), u[perm])
    assert np.array_equal(streams.uniform("churn", 3, keys[::7]), u[::7])
    assert not np.array_equal(streams.uniform("churn", 4, keys), u)  # months differ
    assert not np.array_equal(streams.uniform("fees", 3, keys), u)  # streams differ
    assert not np.array_equal(Streams(8).uniform("churn", 3, keys), u)  # seeds differ
    assert u.dtype == np.float32 and (u >= 0).all() and (u < 1).all()


def test_uniform_stream_is_uniform_and_uncorrelated():
    streams = Streams(1)
    keys = channel_key("opening_book", np.arange(200_000))
    a, b = streams.uniform("a", 1, keys), streams.uniform("b", 1, keys)
    counts = np.histogram(a, bins=20, range=(0, 1))[0]
    assert np.abs(counts / len(a) - 0.05).max() < 0.003
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.01
    assert abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < 0.01  # neighbouring keys
    z = streams.normal("z", 0, keys)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01


def test_kth_arrival_is_the_same_person_whatever_came_before(make_config):
    cfg = make_config()
    arrivals = [Arrivals(cfg, _segment_table(cfg), Streams(cfg.seed)) for _ in range(2)]
    cells = arrivals[0].cells()
    first = arrivals[0].keys("organic", 50)  # one arm acquires 50, then 30
    second = arrivals[0].keys("organic", 30)
    other = arrivals[1].keys("organic", 80)  # the other 80 at once
    assert np.array_equal(np.concatenate([first, second]), other)
    one = arrivals[0].sampled(np.concatenate([first, second]), cells)
    two = arrivals[1].sampled(other, cells)
    for name in one:
        assert np.array_equal(one[name], two[name]), name
    assert np.array_equal(
        arrivals[0].person(other, two["segment"])["income"],
        arrivals[1].person(other, two["segment"])["income"],
    )


@pytest.fixture(scope="module")
def arms(make_config):
    """The baseline and an arm whose perks keep more customers, so that it leaves less of the
    market to win and acquires fewer organic newcomers."""
    kwargs = dict(customers=3000, months=24, burn_in=6, seed=4)
    base = run_scenario(make_config(**kwargs))
    perks = run_scenario(make_config(**kwargs, strategy={"test_perks": {"perk": 0.2}}))
    return base, perks


def test_arm_that_acquires_more_gets_the_same_newcomers_plus_more(arms):
    base, perks = (newcomers(r.panel, "organic") for r in arms)
    assert len(base) > len(perks) > 100  # the same people reached; fewer left to win in perks
    assert perks["customer_key"].isin(base["customer_key"]).all()
    same = base.set_index("customer_key").loc[perks["customer_key"]].reset_index()
    for column in [*FIXED, "joined_month"]:
        assert np.array_equal(same[column].to_numpy(), perks[column].to_numpy()), column


def test_referred_friends_are_keyed_to_their_referrer(arms):
    base, perks = (newcomers(r.panel, "referral").set_index("customer_key") for r in arms)
    both = base.index.intersection(perks.index)
    assert len(both) > 0.5 * len(base) > 20  # the same referrers bring the same friends
    for column in ("segment", "weight", "home_x", "home_y", "aum"):
        if column == "aum":  # balances move with the months they spent with the bank
            joined_same = base.loc[both, "joined_month"] == perks.loc[both, "joined_month"]
            assert joined_same.mean() > 0.9
            continue
        assert base.loc[both, column].equals(perks.loc[both, column]), column


def test_weights_give_many_affluent_agents_and_the_real_mix(make_config):
    """Default weights: many more high and private agents than real shares would give, and the
    weighted book matches one simulated with equal weights (the real bank) in mix and wealth."""
    even = {"population.weights": dict.fromkeys(TIERS, 1.0)}
    weighted = BankModel(make_config(customers=60_000, seed=11)).customers
    plain = BankModel(make_config(even, customers=60_000, seed=12)).customers

    def real_share(c, mask):
        return float(np.average(mask, weights=c.weight))

    private = TIER_BOUNDS[2]
    assert np.mean(weighted.aum >= private) > 30 * np.mean(plain.aum >= private)
    for bound in TIER_BOUNDS:
        ratio = real_share(weighted, weighted.aum >= bound) / real_share(plain, plain.aum >= bound)
        assert 0.8 < ratio < 1.25, bound
    mean_aum = [np.average(c.aum, weights=c.weight) for c in (weighted, plain)]
    assert 0.8 < mean_aum[0] / mean_aum[1] < 1.25
    weights = make_config().population.weights
    expected = np.array([weights[t] for t in TIERS], np.float32)[weighted.tier]
    assert np.array_equal(weighted.weight, expected)  # at arrival, each tier's weight


def test_weight_is_kept_when_the_tier_changes(make_config):
    model = BankModel(make_config({"market.balance_volatility": 0.3}, customers=2000, months=12))
    start = dict(zip(model.customers.key, model.customers.weight, strict=True))
    tiers = model.customers.tier.copy()
    model.run()
    c = model.customers.everyone()
    opening = c["channel"] == 0
    assert (c["tier"][opening] != tiers).any()  # some moved tier
    assert all(start[k] == w for k, w in zip(c["key"][opening], c["weight"][opening], strict=True))
