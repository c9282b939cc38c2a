"""The pilot's churn and uplift models (analysis/targeting.py) on synthetic pilots with known
potential outcomes: no effect gives no uplift, an effect planted on one observable group is found
by every uplift model, no ranking beats the oracle, churn models rank churners, and the design
refuses hidden columns and aligns frames."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from analysis import targeting
from analysis.targeting import (
    CHURN_MODELS,
    FEATURES,
    MODELS,
    UPLIFT_MODELS,
    budget_curve,
    categories_of,
    cross_scores,
    curves,
    customer_types,
    design,
    evaluate,
    fit,
    true_saved,
)

TIERS = ("mass", "mid", "high", "private")
SEGMENTS = ("young", "family", "affluent", "retired", "business", "student")
CHANNELS = ("opening_book", "organic", "referral", "partner", "digital")
ROWS = 6_000
FOLDS = 5
PLANTED = 0.35
"""The share of the planted group's customers who would stay anyway that churn unless treated."""
NULL_SEEDS = (21, 22, 23)
BUDGETS = (0.1, 0.3, 0.5)
"""Shares of the book's real customers contacted."""
CHANCE = 3.5
"""Standard deviations of chance a ranking may beat random orderings by without an effect:
one-sided 2e-4 each, under 1% over the 36 comparisons of the three pilots (Bonferroni). With 5
folds: with 3, each fold's models shift its scores as a block and the null pilots' Qini spread
about 1.3 times as wide as random orderings'."""


def planted_group(frame: pd.DataFrame) -> np.ndarray:
    return ((frame["products"] == 1) & (frame["months_since_use"] > 3)).to_numpy()


def make_pilot(
    seed: int, effect: str = "planted", risk: bool = True, rows: int = ROWS
) -> pd.DataFrame:
    """A synthetic pilot: a base churn probability ``p`` driven by observable features (``risk``,
    else 0.2; complaints most: lost causes), half of each tier treated, and ``effect`` one of
    ``planted`` (in :func:`planted_group` churn is ``p + PLANTED (1 - p)`` untreated and ``p``
    treated, on common random numbers: persuadables there, no sleeping dogs), ``none`` (identical
    outcomes in both arms) or ``independent`` (each arm's outcome drawn on its own with ``p``: no
    effect, but individual true uplifts of -1, 0 and 1)."""
    rng = np.random.default_rng(seed)
    aum = rng.lognormal(11, 1.5, rows)
    tier = np.searchsorted(np.quantile(aum, [0.6, 0.85, 0.97]), aum)
    frame = pd.DataFrame(
        {
            "seed": seed,
            "customer_key": rng.permutation(rows).astype(np.uint64) + np.uint64(seed * rows),
            "weight": rng.uniform(1, 40, rows),
            "age": rng.uniform(18, 85, rows).round(1),
            "tenure_months": rng.integers(1, 240, rows),
            "products": rng.choice([1, 2, 3, 4], rows, p=[0.5, 0.25, 0.15, 0.1]),
            "aum": aum,
            "tier": pd.Categorical.from_codes(tier, TIERS),
            "segment": pd.Categorical.from_codes(rng.integers(0, 6, rows), SEGMENTS),
            "digital": rng.uniform(0, 1, rows),
            "months_since_use": rng.geometric(0.25, rows) - 1,
            "complaints": rng.poisson(0.3, rows),
            "has_manager": rng.uniform(size=rows) < 0.2,
            "channel": pd.Categorical.from_codes(rng.integers(0, 5, rows), CHANNELS),
            "clv": 0.05 * aum + rng.normal(0, 5_000, rows),
            "engagement": rng.uniform(size=rows),
            "satisfaction": rng.uniform(size=rows),
        }
    )
    frame["engaged"] = frame["engagement"] > 0.5
    group = planted_group(frame)
    logit = -2.6 + 2.5 * frame["complaints"] - 1.0 * frame["digital"] + 0.015 * (frame["age"] - 50)
    p_base = 1 / (1 + np.exp(-logit.to_numpy())) if risk else np.full(rows, 0.2)
    p_control = p_base + PLANTED * group * (1 - p_base) if effect == "planted" else p_base
    u = rng.uniform(size=rows)
    frame["true_churned_control"] = u < p_control
    u_treated = rng.uniform(size=rows) if effect == "independent" else u
    frame["true_churned_treated"] = u_treated < p_base
    value = np.maximum(frame["clv"].to_numpy(), 0) + 1_000
    for arm in ("control", "treated"):
        frame[f"true_value_lost_{arm}"] = value * frame[f"true_churned_{arm}"]
    frame["treated"] = pd.Series(rng.uniform(size=rows)).groupby(tier).rank() % 2 == 0
    treated = frame["treated"].to_numpy()
    for observed, truth in (("churned", "true_churned"), ("value_lost", "true_value_lost")):
        frame[observed] = np.where(treated, frame[f"{truth}_treated"], frame[f"{truth}_control"])
    return frame


def uplift_scores(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[list(UPLIFT_MODELS)]


def random_orderings(frame: pd.DataFrame, n: int = 100) -> pd.DataFrame:
    """``n`` random orderings of the rows: what chance gives."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.uniform(size=(len(frame), n)), index=frame.index).add_prefix("random")


def top_share(frame: pd.DataFrame, score: pd.Series, rows: np.ndarray, top: float = 0.1) -> float:
    """The weighted share of ``rows`` among the top ``top`` of customers by ``score``, ties
    broken against them."""
    order = np.lexsort((rows, -score.to_numpy()))
    w = frame["weight"].to_numpy()[order]
    within = np.cumsum(w) <= top * w.sum()
    return float(w[within & rows[order]].sum() / w[within].sum())


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, pd.DataFrame]:
    pilot = make_pilot(1)
    return pilot, cross_scores(pilot, folds=FOLDS, random_state=0)


@pytest.fixture(scope="module")
def null_pilots() -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """Pilots without an effect (independent outcomes of one probability, which no feature moves)
    and their out-of-fold scores."""
    pilots = [make_pilot(seed, "independent", risk=False, rows=4_000) for seed in NULL_SEEDS]
    return [(pilot, cross_scores(pilot, folds=FOLDS, random_state=0)) for pilot in pilots]


def test_customer_types():
    frame = pd.DataFrame(
        {"true_churned_control": [1, 0, 1, 0], "true_churned_treated": [0, 0, 1, 1]}
    )
    assert list(customer_types(frame)) == [
        "persuadable",
        "sure thing",
        "lost cause",
        "sleeping dog",
    ]


@pytest.mark.parametrize(
    "column", ["true_churned_control", "true_anything", "engagement", "engaged", "satisfaction",
               "churned", "value_lost", "treated", "weight"]
)  # fmt: skip
def test_hidden_and_outcome_columns_are_refused_as_features(column):
    pilot = make_pilot(3, rows=400)
    features = (*FEATURES, column)
    with pytest.raises(ValueError, match="never a feature"):
        fit(pilot, features=features)
    with pytest.raises(ValueError, match="never a feature"):
        cross_scores(pilot, folds=2, features=features)


def test_design_aligns_a_book_with_missing_and_unknown_categories(caplog):
    pilot = make_pilot(3, rows=1_000)
    book = pilot[(pilot["tier"] == "mass") & pilot["channel"].isin(["organic", "referral"])].copy()
    for name in ("tier", "segment", "channel"):
        book[name] = book[name].astype(str)  # plain strings, some categories absent
    categories = categories_of(pilot)
    expected = design(pilot).loc[book.index]
    pd.testing.assert_frame_equal(design(book, categories=categories), expected)
    assert design(book).shape[1] < expected.shape[1]  # its own categories: fewer columns

    book.loc[book.index[0], "channel"] = "carrier pigeon"
    with caplog.at_level(logging.WARNING, logger=targeting.__name__):
        x = design(book, categories=categories)
    assert "outside the fitted categories" in caplog.text
    assert (x.loc[book.index[0], x.columns.str.startswith("channel=")] == 0).all()
    scores = fit(pilot).score(book)
    assert list(scores.columns) == list(MODELS)
    assert scores.index.equals(book.index) and np.isfinite(scores.to_numpy()).all()


def test_budget_curve_takes_ties_and_the_budgets_edge_in_proportion():
    truth = pd.DataFrame(
        {
            "seed": 0,
            "weight": [1.0, 2.0, 3.0, 4.0],
            "true_churned_control": [True, False, True, True],
            "true_churned_treated": [False, False, False, True],
            "true_value_lost_control": [10.0, 0.0, 20.0, 5.0],
            "true_value_lost_treated": [0.0, 0.0, 0.0, 5.0],
        }
    )
    rankings = pd.DataFrame({"ordered": [4, 3, 2, 1], "tied": [1, 1, 1, 1]})
    table = budget_curve(truth, rankings, [0, 2, 4, 10, 20]).set_index(["policy", "budget"])
    # ordered: row 0 (1 saved, 10 CNY) then half of row 1 (none), then row 2 (3 saved, 60 CNY)
    assert list(table.loc["ordered", "saved"]) == [0, 1, 2, 4, 4]
    assert list(table.loc["ordered", "value_saved"]) == [0, 10, 30, 70, 70]
    # tied: each real customer contacted saves the book's mean, 0.4 customers and 7 CNY
    np.testing.assert_allclose(table.loc["tied", "saved"], [0, 0.8, 1.6, 4, 4])
    np.testing.assert_allclose(table.loc["tied", "value_saved"], [0, 14, 28, 70, 70])
    assert list(table.loc["tied", "contacted"]) == [0, 2, 4, 10, 10]


def test_the_oracle_scores_one_and_a_constant_score_zero(planted):
    pilot, _ = planted
    references = pd.DataFrame(
        {"oracle": true_saved(pilot)["saved"], "constant": 0.0}, index=pilot.index
    )
    table = evaluate(pilot, references).set_index("model")
    assert table.loc["oracle", "qini"] == pytest.approx(1)
    assert table.loc["constant", "qini"] == pytest.approx(0, abs=1e-12)
    # the oracle's top decile: every persuadable (under a tenth of the book), then ties
    w = pilot["weight"]
    persuadable = w[customer_types(pilot) == "persuadable"].sum() / w.sum()
    assert persuadable < 0.1
    assert table.loc["oracle", "top_persuadable"] == pytest.approx(persuadable / 0.1)
    assert table.loc["oracle", "top_uplift"] == pytest.approx(persuadable / 0.1)


def test_every_uplift_model_finds_the_planted_group(planted):
    pilot, scores = planted
    table = evaluate(pilot, scores).set_index("model")
    group = planted_group(pilot)
    best_churn = table.loc[list(CHURN_MODELS), "qini"].max()
    for model in UPLIFT_MODELS:
        assert top_share(pilot, scores[model], group) > 0.6, model
        assert table.loc[model, "qini"] > best_churn + 0.1, model
        assert (
            table.loc[model, "top_persuadable"]
            > 2 * table.loc[list(CHURN_MODELS), "top_persuadable"].max()
        ), model


def test_churn_models_rank_churners(planted):
    pilot, scores = planted
    table = evaluate(pilot, scores).set_index("model")
    for model in CHURN_MODELS:
        assert table.loc[model, "auc_control"] > 0.7, model
        assert table.loc[model, "auc_true_control"] > 0.7, model


def test_churn_models_do_not_rank_noise(null_pilots):
    for pilot, scores in null_pilots:
        table = evaluate(pilot, scores).set_index("model")
        for model in CHURN_MODELS:
            assert abs(table.loc[model, "auc_control"] - 0.5) < 0.07, model
            assert abs(table.loc[model, "auc_true_control"] - 0.5) < 0.07, model


def test_identical_outcomes_give_no_uplift():
    """Each model's mean uplift within 3 standard errors of the arms' difference in churn rates
    (zero but for the draw of the arms), its spread under a third of the planted effect."""
    pilot = make_pilot(11, effect="none", rows=4_000)
    scores = cross_scores(pilot, folds=FOLDS, random_state=0)
    w = pilot["weight"].to_numpy()
    arms = pilot.assign(churn=w * pilot["churned"], square=w**2).groupby("treated")
    sums = arms[["weight", "churn", "square"]].sum()
    rate, kish = sums["churn"] / sums["weight"], sums["weight"] ** 2 / sums["square"]
    se = np.sqrt((rate * (1 - rate) / kish).sum())
    for model in UPLIFT_MODELS:
        tau = scores[model].to_numpy()
        assert abs(np.average(tau, weights=w)) < 3 * se, model
        assert np.average(np.abs(tau), weights=w) < PLANTED / 3, model
    assert evaluate(pilot, scores)["qini"].isna().all()  # nothing to find: no reference
    assert (curves(pilot, scores)[["saved", "value_saved"]] == 0).all().all()


def test_no_uplift_ranking_beats_chance_without_an_effect(null_pilots):
    """Each uplift model's Qini and customers saved at each budget against those of random
    orderings: within CHANCE standard deviations of their mean."""
    for pilot, scores in null_pilots:
        chance = random_orderings(pilot)
        qini = evaluate(pilot, uplift_scores(scores)).set_index("model")["qini"]
        null = evaluate(pilot, chance)["qini"]
        assert (qini < null.mean() + CHANCE * null.std()).all(), qini
        budgets = [b * pilot["weight"].sum() for b in BUDGETS]
        saved = budget_curve(pilot, uplift_scores(scores), budgets)
        null = budget_curve(pilot, chance, budgets).groupby("budget")["saved"].agg(["mean", "std"])
        z = (saved["saved"] - saved["budget"].map(null["mean"])) / saved["budget"].map(null["std"])
        assert (z < CHANCE).all(), saved.assign(z=z)


def test_no_ranking_beats_the_oracle(planted):
    pilot, scores = planted
    drawn = curves(pilot, scores, points=51).pivot(index="share", columns="model")
    for measure in ("saved", "value_saved"):
        excess = drawn[measure].sub(drawn[measure, "oracle"], axis=0)
        assert (excess <= 1e-9 * drawn[measure, "oracle"].max()).all().all(), measure

    book = pd.concat([make_pilot(seed) for seed in (4, 5)], ignore_index=True)
    scored = fit(pilot, random_state=0).score(book)
    rng = np.random.default_rng(0)
    rankings = scored.assign(
        random=rng.uniform(size=len(book)),
        risk_rule=(book["complaints"] > 0) + (book["months_since_use"] > 6),
        expected_value=scored["uplift_x_learner"] * book["clv"],
        oracle=true_saved(book)["saved"],
        oracle_value=true_saved(book)["value_saved"],
    )
    budgets = [b * book.groupby("seed")["weight"].sum().min() for b in BUDGETS]
    table = budget_curve(book, rankings, budgets).set_index(["seed", "budget", "policy"])
    best = table.groupby(["seed", "budget"]).max()
    oracle = table.xs("oracle", level="policy")
    oracle_value = table.xs("oracle_value", level="policy")
    assert (best["saved"] <= oracle["saved"] * (1 + 1e-9)).all()
    assert (best["value_saved"] <= oracle_value["value_saved"] * (1 + 1e-9)).all()
    # scored out of sample, the uplift models beat chance on the new books
    for model in UPLIFT_MODELS:
        assert (
            table.xs(model, level="policy")["saved"] > table.xs("random", level="policy")["saved"]
        ).all()


def test_folds_keep_a_customer_together_and_balance_the_strata():
    seeds = [make_pilot(seed, rows=600) for seed in (6, 7)]
    seeds[1]["customer_key"] = seeds[0]["customer_key"]  # the same customers in two replications
    pilot = pd.concat(seeds).set_axis(np.arange(1_200)[::-1])  # an index out of order
    fold = targeting.fold_of(pilot, folds=4, random_state=0)
    assert (pd.Series(fold).groupby(pilot["customer_key"].to_numpy()).nunique() == 1).all()
    strata = pilot["treated"].astype(str) + pilot["churned"].astype(str)
    shares = pd.crosstab(fold, strata.to_numpy(), normalize="index")
    assert (shares.max() - shares.min()).max() < 0.05

    scores = cross_scores(pilot, folds=4, random_state=0)
    assert scores.index.equals(pilot.index)
    row = pilot.index[0]  # scored by the models fitted without its fold
    alone = fit(pilot[fold != fold[0]], random_state=0).score(pilot.loc[[row]])
    np.testing.assert_allclose(scores.loc[row], alone.loc[row])
    pd.testing.assert_frame_equal(scores, cross_scores(pilot, folds=4, random_state=0))
