"""Partner promotion brings newcomers skewed to each partner's segments, pays subsidies per
participant and runs a partner loan book, paired against the baseline on the same seeds."""

import functools

import numpy as np
import pytest

from sim.api import run_scenario
from sim.customers import CHANNELS
from sim.model import BankModel
from sim.params import ConfigError

SEEDS = (0, 1)
CUSTOMERS = 20_000  # partners reach a share of the city, so a default-sized bank


@pytest.fixture(scope="module")
def make_config(make_config):
    """Configs of a default-sized bank (the conftest factory with its customers)."""
    return functools.partial(make_config, customers=CUSTOMERS)


def run_model(cfg) -> BankModel:
    model = BankModel(cfg)
    model.run()
    return model


def share_of(segments, names, weight) -> float:
    """Share of real customers (simulated ones by their weight) in the named segments."""
    return float(np.average(np.isin(np.asarray(segments, dtype=object), names), weights=weight))


@pytest.mark.parametrize("seed", SEEDS)
def test_rural_partner_brings_mostly_farmers(make_config, seed):
    base = run_scenario(make_config(seed=seed, months=24))
    rural = run_scenario(
        make_config(seed=seed, months=24, strategy={"partner_promotion": {"partners": ["rural"]}})
    )
    assert base.timeseries["new_partner"].sum() == 0
    partner = rural.panel[rural.panel.channel == "partner"]
    organic = base.panel[base.panel.channel == "organic"]
    assert len(partner) > 150
    farmers_partner = share_of(partner.segment, ["farmer"], partner.weight)
    farmers_organic = share_of(organic.segment, ["farmer"], organic.weight)
    assert farmers_partner > 2 * farmers_organic
    assert 0.3 < farmers_partner < 0.55  # weight 4 on a 15% share: ~41%, not only farmers


def test_each_partner_skews_its_newcomers_to_its_segments(make_config):
    many = {"population.weights": {"mass": 2.0, "mid": 2.0, "high": 1.0, "private": 0.25}}
    cfg = make_config(many, months=48, strategy={"partner_promotion": {}})
    model = run_model(cfg)
    strategy = model.strategies[0]
    everyone = model.customers.everyone()
    segment = np.array(model.segment_names, dtype=object)[everyone["segment"]]
    is_organic = everyone["channel"] == CHANNELS.index("organic")
    organic, organic_weight = segment[is_organic], everyone["weight"][is_organic]
    shares = np.array([s.share for s in cfg.population.segments.values()])
    assert strategy.factor == 1.0  # the budget does not bind in this small bank
    for partner in model.partners:
        listed = list(partner.config.skew)
        theirs = np.isin(everyone["key"], strategy.recruits[partner.name])
        recruits, weight = segment[theirs], everyone["weight"][theirs]
        assert len(recruits) > 150, partner.name
        weights = strategy.weights[partner.name]
        expected = (shares * weights)[strategy.targets[partner.name]].sum() / (shares @ weights)
        observed = share_of(recruits, listed, weight)
        assert abs(observed - expected) < 0.07, partner.name
        assert observed > share_of(organic, listed, organic_weight) + 0.1, partner.name


def test_subsidies_are_paid_per_participant_who_gets_the_perk(make_config):
    cfg = make_config(months=12, strategy={"partner_promotion": {}})
    model = BankModel(cfg)
    strategy = model.strategies[0]
    subsidy = {p.name: p.config.subsidy for p in model.partners}
    for t in range(1, cfg.burn_in + cfg.months + 1):
        model.step()
        paid = model.books["cost_partner_promotion.subsidies"]
        if t <= cfg.burn_in:
            assert paid == 0.0
            continue
        participants = strategy.participants  # real customers
        assert sum(participants.values()) > 500
        expected = sum(n * subsidy[name] for name, n in participants.items())
        assert paid == pytest.approx(expected)
        c = model.customers
        real_perks = np.dot(c.perks.astype(np.float64), c.weight)
        assert real_perks / 0.05 == pytest.approx(sum(participants.values()), rel=1e-4)


def test_more_participation_more_participants_and_subsidies(make_config):
    def run(participation):
        params = {"partners": ["rural"], "participation": participation}
        return run_model(make_config(months=12, strategy={"partner_promotion": params}))

    low, high = run(0.05), run(0.3)
    n_low, n_high = (
        low.strategies[0].participants["rural"],
        high.strategies[0].participants["rural"],
    )
    cost_low = low.books["cost_partner_promotion.subsidies"]
    cost_high = high.books["cost_partner_promotion.subsidies"]
    assert n_high > 1.5 * n_low
    assert cost_high / cost_low == pytest.approx(n_high / n_low)


def test_budget_caps_subsidies_and_scales_the_programme_down(make_config):
    budget = 30_000.0
    free = run_scenario(make_config(months=12, strategy={"partner_promotion": {}}))
    capped = run_scenario(
        make_config(months=12, strategy={"partner_promotion": {"budget": budget}})
    )
    free_paid = free.timeseries["cost_partner_promotion.subsidies"]
    capped_paid = capped.timeseries["cost_partner_promotion.subsidies"]
    assert (free_paid > budget).all()
    assert (capped_paid <= budget).all() and (capped_paid > 0.8 * budget).all()
    assert capped.timeseries["new_partner"].sum() < 0.5 * free.timeseries["new_partner"].sum()


@pytest.mark.parametrize("seed", SEEDS)
def test_participants_are_more_satisfied_than_in_the_baseline(make_config, seed):
    base = run_model(make_config(seed=seed, months=18))
    params = {"partners": ["rural"], "participation": 0.5}
    cfg = make_config(seed=seed, months=18, strategy={"partner_promotion": params})
    promoted = run_model(cfg)
    c, b = promoted.customers, base.customers
    rows = promoted.strategies[0].rows["rural"]
    keys = c.key[rows][c.active[rows] & (c.joined[rows] <= cfg.burn_in)]  # enrolled, from the book
    both = np.intersect1d(keys, b.key[b.active])
    assert len(both) > 40
    mine, theirs = (np.argsort(x.key)[np.searchsorted(np.sort(x.key), both)] for x in (c, b))
    gain = c.satisfaction[mine] - b.satisfaction[theirs]
    assert 0.03 < gain.mean() < 0.07  # the 0.05 perk, nearly fully smoothed in after 18 months


def test_partner_loans_earn_interest_and_lose_credit(make_config):
    cfg = make_config(months=12, strategy={"partner_promotion": {"partners": ["rural"]}})
    result = run_scenario(cfg)
    ts = result.timeseries
    interest = ts["revenue_partner_promotion.loan_interest"]
    losses = ts["cost_partner_promotion.credit_losses"]
    funding = ts["cost_partner_promotion.funding"]
    assert interest.iloc[0] == 0.0  # loans made in month 1 earn from month 2
    assert (interest.iloc[1:] > 0).all() and (losses.iloc[1:] > 0).all()
    assert interest.iloc[-1] > 3 * interest.iloc[1]  # the book grows while the promotion runs
    rural, params = cfg.market.partners["rural"], cfg.strategy["partner_promotion"]
    loss_rate = rural.default_rate * params.loss_given_default
    assert losses.sum() / interest.sum() == pytest.approx(loss_rate / rural.loan_rate)
    assert funding.sum() / interest.sum() == pytest.approx(params.funding_rate / rural.loan_rate)


def test_loan_book_is_repaid_over_the_term(make_config):
    params = {"partners": ["renovation"], "loan_term": 6, "end": 4}
    model = BankModel(make_config(months=12, strategy={"partner_promotion": params}))
    strategy = model.strategies[0]
    for _ in range(model.config.burn_in + 4):
        model.step()
    made, amount = strategy.vintages["renovation"]
    assert amount.sum() > 0
    left = strategy.loans["renovation"]
    assert 0 < left < amount.sum()
    assert left == pytest.approx(float(np.dot(amount, 1 - (model.month - made) / 6)))


def test_partners_are_switched_on_only_while_promoted(make_config):
    cfg = make_config(months=12, strategy={"partner_promotion": {"partners": ["travel"], "end": 3}})
    model = BankModel(cfg)
    on = {}
    for _ in range(cfg.burn_in + 5):
        model.step()
        on[model.month - cfg.burn_in] = {p.name for p in model.partners if p.active}
    assert on[0] == set() and on[1] == on[2] == on[3] == {"travel"}
    assert on[4] == set()  # idle from the month after its end, while its loans run off


@pytest.mark.parametrize(
    "params, words",
    [
        ({"partners": ["casino"]}, ["'casino'", "supermarket", "travel", "renovation", "rural"]),
        ({"partners": []}, ["partners is empty"]),
        ({"partners": ["rural", "rural"]}, ["twice"]),
        ({"budget": -1.0}, ["budget", "-1.0"]),
    ],
)
def test_bad_parameters_are_refused(make_config, params, words):
    with pytest.raises(ConfigError) as err:
        make_config(strategy={"partner_promotion": params})
    assert all(w in str(err.value) for w in words), str(err.value)


def test_loan_book_runs_off_after_the_promotion_ends(make_config):
    cfg = make_config(months=24, strategy={"partner_promotion": {"partners": ["rural"], "end": 6}})
    ts = run_scenario(cfg).timeseries
    interest = ts["revenue_partner_promotion.loan_interest"].to_numpy()
    assert (ts["cost_partner_promotion.subsidies"].to_numpy()[6:] == 0).all()
    assert (interest[7:12] > 0).all()  # outstanding loans still earn after the end
    assert (np.diff(interest[7:]) <= 1e-9).all()  # ... less and less as they are repaid
