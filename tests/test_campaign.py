"""The retention campaign (``sim.strategies.campaign``): who it treats under each ``select``,
that a randomised pilot's potential outcomes are those of treating everyone or no one, the
columns it leaves in the CRM extract, and the configs it refuses."""

from __future__ import annotations

import hashlib
from functools import cache

import numpy as np
import pandas as pd
import pytest

from sim.api import run_scenario
from sim.config import TIERS
from sim.model import BankModel
from sim.params import ConfigError
from sim.scenario import load_config

REFERENCE = 6  # the CRM extract's snapshot; the campaign acts in the next month
DEFAULT_BANK = 20_000  # agents: the default bank, whose desks and branches are busy


@cache
def extract(customers: int = 2000, seed: int = 0, quiet: bool = False, **campaign):
    """The CRM extract (reference month 6, 24 months) of a run with a campaign of these
    parameters (none without; lists as tuples); ``quiet``: no desk budgets or branch queues
    shared."""
    from conftest import small_config

    over = {"output.crm_reference_month": REFERENCE}
    if quiet:
        over |= {"bank.managers": 0, "bank.wait_minutes": 0.0}
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in campaign.items()}
    strategy = {"campaign": {"start": REFERENCE, **params}} if campaign else None
    cfg = small_config(over, customers=customers, months=24, seed=seed, strategy=strategy)
    return run_scenario(cfg).crm_extract


def standardised_difference(x: np.ndarray, treated: np.ndarray) -> float:
    a, b = x[treated], x[~treated]
    return abs(a.mean() - b.mean()) / np.sqrt((a.var() + b.var()) / 2)


# --------------------------------------------------------------------------------------------
# Who is treated
# --------------------------------------------------------------------------------------------


def test_random_split_is_exact_in_every_tier_balanced_and_reproducible():
    x = extract(share=0.3)
    assert len(x) >= 2000
    for tier in TIERS:
        n = int((x["tier"] == tier).sum())
        treated = int(x.loc[x["tier"] == tier, "treated"].sum())
        assert treated == round(0.3 * n), tier
    t = x["treated"].to_numpy()
    for column in ("age", "aum", "products", "tenure_months"):
        assert standardised_difference(x[column].to_numpy(float), t) < 0.1, column
    again = extract.__wrapped__(share=0.3)  # a fresh run of the same config and seed
    pd.testing.assert_series_equal(again["treated"], x["treated"])
    other = extract(seed=1, share=0.3)
    assert not np.array_equal(
        np.sort(other.loc[other["treated"], "customer_key"]),
        np.sort(x.loc[x["treated"], "customer_key"]),
    )


def test_everyone_and_tiers_and_a_random_budget():
    everyone = extract(select="everyone", tiers=("mid", "high"))
    assert (everyone["treated"] == everyone["tier"].isin(["mid", "high"])).all()
    budget = 5000.0
    x = extract(budget=budget)
    weight = x["weight"].astype(float)
    spent = weight[x["treated"]].sum()
    assert budget - 25 < spent <= budget  # the next in line would not fit (weights <= 25)


def test_contacted_records_the_month_and_the_extract_adds_treated(make_config):
    strategy = {"campaign": {"start": REFERENCE, "select": "everyone", "tiers": ["high"]}}
    cfg = make_config({"output.crm_reference_month": REFERENCE}, strategy=strategy)
    model = BankModel(cfg)
    model.run()
    contact = cfg.burn_in + REFERENCE + 1
    everyone = model.customers.everyone()
    assert set(np.unique(everyone["contacted"])) <= {contact, -(10**6)}
    x = extract(select="everyone", tiers=("high",))
    assert (x["treated"] == (x["tier"] == "high")).all()
    assert not extract()["treated"].any()  # no campaign, nobody treated


def test_risk_selection_takes_the_bank_risk_rule_within_the_budget(make_config):
    budget = 3000.0
    strategy = {"campaign": {"start": 3, "select": "risk", "budget": budget}}
    model = BankModel(make_config(strategy=strategy))
    campaign = model.strategies[0]
    for _ in range(model.config.burn_in + 4):  # the watched month 3, then the contact
        if model.month + 1 - model.config.burn_in == 4:
            c = model.customers
            before = c.key.copy()
            risk = campaign.watch.score(model, model.month + 1)
            eligible = c.active.copy()
        model.step()
    assert campaign.watch.flags["complaint"].size > 0  # month 3 was watched
    c = model.customers
    treated = np.isin(before, c.key[c.contacted == model.month])
    assert 0 < campaign.treated <= budget
    assert risk[treated].min() >= np.percentile(risk[eligible], 50)
    assert risk[treated].mean() > 2 * risk[eligible & ~treated].mean()


# --------------------------------------------------------------------------------------------
# Scores from a file
# --------------------------------------------------------------------------------------------


def scores_file(folder, table: pd.DataFrame, name: str | None = None):
    """``table`` written as Parquet, named by its digest (or ``name``)."""
    path = folder / "scores.parquet"
    table.to_parquet(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return path.rename(folder / (name or f"{digest}.parquet"))


def test_scores_rank_the_seed_rows_highest_first_and_the_missing_last(tmp_path):
    x = extract()
    keys = x["customer_key"].to_numpy(np.uint64)
    score = x["aum"].to_numpy()
    table = pd.DataFrame({"seed": 0, "customer_key": keys, "score": score})
    half = len(table) // 2
    table = pd.concat(
        [
            table.iloc[:half],  # the rest of the book is missing: it ranks last
            table.iloc[:half].assign(seed=1, score=-table["score"].iloc[:half]),  # another seed
        ]
    )
    path = scores_file(tmp_path, table)
    budget = 4000.0
    y = extract(select="scores", scores=str(path), budget=budget)
    treated = y["treated"].to_numpy()
    listed = np.isin(keys, table["customer_key"].iloc[:half])
    assert treated.any() and not treated[~listed].any()
    assert score[treated].min() >= score[listed & ~treated].max()
    weight = y["weight"].astype(float)
    assert weight[treated].sum() <= budget
    everyone = extract(select="scores", scores=str(path), budget=1e9)
    assert everyone["treated"].all()  # within the budget, those missing are treated too


def test_refusals_name_the_key_the_value_and_what_is_allowed(tmp_path):
    good = pd.DataFrame({"seed": [0], "customer_key": np.array([1], np.uint64), "score": [0.5]})
    renamed = scores_file(tmp_path, good, name="0" * 64 + ".parquet")
    (tmp_path / "lacking").mkdir()
    lacking = scores_file(tmp_path / "lacking", good.drop(columns="score"))
    cases = [
        (["strategy.campaign.treatment=massage"], ["treatment='massage'", "call", "fee_waiver"]),
        (["strategy.campaign.select=risk"], ["budget=None", "select='risk'", "needs a budget"]),
        (
            ["strategy.campaign.select=scores", f"strategy.campaign.scores={renamed}"],
            ["strategy.campaign.scores=", "SHA-256", "named <SHA-256 of its bytes>.parquet"],
        ),
        (
            ["strategy.campaign.select=scores", f"strategy.campaign.scores={lacking}"],
            ["strategy.campaign.scores=", "lacks the columns ['score']", "seed, customer_key"],
        ),
        (
            ["strategy.campaign.select=scores", f"strategy.campaign.scores={tmp_path}/none"],
            ["strategy.campaign.scores=", "is not a file", "allowed"],
        ),
        (["strategy.campaign.select=scores"], ["scores=None", "select='scores'", "allowed"]),
        (
            [f"strategy.campaign.scores={lacking}"],
            ["strategy.campaign.scores=", "select='random'", "allowed: select=scores"],
        ),
        (
            ["strategy.campaign.partner_perk_partner=bakery"],
            ["partner_perk_partner='bakery'", "supermarket"],
        ),
        (["strategy.campaign.tiers=[]"], ["tiers=[]", "mass"]),
        (
            ["strategy.campaign.select=everyone", "strategy.campaign.budget=100"],
            ["budget=100", "select='everyone'", "allowed: no budget"],
        ),
    ]
    for overrides, words in cases:
        with pytest.raises(ConfigError) as caught:
            load_config(["strategy=[campaign]", "population.customers=300", *overrides])
        message = str(caught.value)
        assert "\n" not in message and message.startswith("strategy.campaign."), message
        for word in words:
            assert word in message, (word, message)


# --------------------------------------------------------------------------------------------
# Potential outcomes of a randomised pilot
# --------------------------------------------------------------------------------------------


def agreement(treatment: str, customers: int, quiet: bool = False) -> np.ndarray:
    """Per customer of the randomised run: whether its churn is what its own arm's world
    (everyone treated if treated, no one if not) says."""
    none = extract(customers, quiet=quiet)
    everyone = extract(customers, quiet=quiet, treatment=treatment, select="everyone")
    pilot = extract(customers, quiet=quiet, treatment=treatment)
    assert (pilot["customer_key"].to_numpy() == none["customer_key"].to_numpy()).all()
    assert (everyone["customer_key"].to_numpy() == none["customer_key"].to_numpy()).all()
    treated = pilot["treated"].to_numpy()
    assert 0.45 < treated.mean() < 0.55 and everyone["treated"].all()
    potential = np.where(treated, everyone["churned"], none["churned"])
    return potential == pilot["churned"].to_numpy()


def test_potential_outcomes_hold_up_to_the_model_own_interference():
    """On the default bank (20,000 agents, seed 0) a treated customer's churn in the pilot is its
    churn when everyone is treated, an untreated one's its churn when no one is, for all but a
    few of 20,000: customers share their desks' contact budgets (served richest tier first) and
    their branches' queues, so who stays changes others' attention and waits. Seeds 0-3 and the
    four treatments: 0 to 4 customers differed (at least 99.98% the same)."""
    same = agreement("call", DEFAULT_BANK)
    assert same.mean() >= 0.999


@pytest.mark.parametrize("treatment", ["call", "fee_waiver", "product_offer", "partner_perk"])
def test_potential_outcomes_are_exact_without_shared_desks_or_queues(treatment):
    """Without managers and branch waits nothing customers share moves their churn: the
    treatments themselves cause no interference."""
    assert agreement(treatment, 5000, quiet=True).all()


def test_a_call_makes_persuadables_and_sleeping_dogs_where_it_annoys():
    none = extract(DEFAULT_BANK)
    called = extract(DEFAULT_BANK, treatment="call", select="everyone")
    weight = none["weight"].to_numpy(float)
    stays, stays_called = ~none["churned"].to_numpy(), ~called["churned"].to_numpy()
    types = {
        "persuadable": ~stays & stays_called,
        "sleeping dog": stays & ~stays_called,
        "lost cause": ~stays & ~stays_called,
        "sure thing": stays & stays_called,
    }
    real = {name: weight[m].sum() for name, m in types.items()}
    assert all(count > 0 for count in real.values()), real
    assert real["persuadable"] > real["sleeping dog"]
    annoyed = ~none["engaged"].to_numpy() | (none["complaints"].to_numpy() > 0)
    share = weight[annoyed].sum() / weight.sum()
    dogs, persuadables = types["sleeping dog"], types["persuadable"]
    assert 0.3 < share < 0.7
    assert weight[dogs & annoyed].sum() / real["sleeping dog"] > 0.95
    assert weight[persuadables & annoyed].sum() / real["persuadable"] < 0.2
