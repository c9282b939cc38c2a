"""Churn and uplift models fitted as a bank's analyst would on a retention pilot extract, and their
evaluation against the truth the simulation knows (each customer's potential outcomes).

The pilot extract has one row per simulated customer (standing for ``weight`` real customers:
every sum, mean, AUC and fit is weighted by it), the observable :data:`FEATURES`, the randomised
``treated``, the observed ``churned`` and ``value_lost``, and the potential outcomes
:data:`UNOBSERVABLE`, read only by the evaluation. Uplift is the reduction in churn probability
from treating, ``tau = P(churn | control) - P(churn | treated)`` (positive: treating keeps the
customer); a row's true uplift is ``true_churned_control - true_churned_treated``.

- Churn models (the bank's churn score), fitted on the control rows' ``churned`` as a bank fits on
  untreated history: scaled logistic regression (``churn_logit``) and histogram gradient boosting
  (``churn_gbm``).
- Uplift models on scikit-learn, base learner histogram gradient boosting: the two-model
  T-learner (``uplift_two_model``: the control arm's model is ``churn_gbm``); the class
  transformation of Jaskowski & Jaroszewicz (2012) in its general form for a treated share
  ``p != 0.5`` (``uplift_class_transform``: ``Z = 1`` for treated stayers and control churners,
  the arms reweighted to equal total weight by ``1 / p`` and ``1 / (1 - p)``, so
  ``tau = 2 P(Z = 1 | x) - 1``); the X-learner of Künzel et al. (2019, PNAS)
  (``uplift_x_learner``: the other arm's predicted churn minus the observed outcome as imputed
  effects, one regression per arm, combined with the propensity ``p``: ``p tau_0 + (1 - p) tau_1``).
  ``p`` is the pilot's weighted treated share (the randomisation's, known to the bank).
- :func:`cross_scores`: out-of-fold scores of the pilot rows, K folds (:func:`fold_of`) stratified
  by treated x churned and grouped by ``customer_key`` (a customer in several replications lands
  in one fold).
- :func:`evaluate`, :func:`curves` and :func:`budget_curve`: churn AUCs, the true-uplift Qini
  coefficient, the top decile's customer types, and the true customers and value saved by each
  ranking. Rows with equal scores are taken in proportion (a random order within ties, on
  average), and so is the agent at a budget's edge: the curves are piecewise linear in the real
  customers contacted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

log = logging.getLogger(__name__)

FEATURES = (
    "age", "tenure_months", "products", "aum", "tier", "segment", "digital", "months_since_use",
    "complaints", "has_manager", "channel", "clv",
)  # fmt: skip
"""What a bank sees of a customer: the models' inputs."""
LOGGED = ("aum", "clv")
"""Skewed amounts entered as ``sign(x) log1p(|x|)``."""
HIDDEN = ("engagement", "engaged", "satisfaction")
"""The simulation's hidden states: never a feature."""
UNOBSERVABLE = (
    "true_churned_treated", "true_churned_control", "true_value_lost_treated",
    "true_value_lost_control",
)  # fmt: skip
"""The potential outcomes: for the evaluation only (as is every ``true_`` column)."""
NOT_FEATURES = ("seed", "customer_key", "weight", "treated", "churned", "value_lost", *HIDDEN)
"""Identity, design and outcome columns, and the hidden states: never a feature."""
CHURN_MODELS = ("churn_logit", "churn_gbm")
UPLIFT_MODELS = ("uplift_two_model", "uplift_class_transform", "uplift_x_learner")
MODELS = CHURN_MODELS + UPLIFT_MODELS
"""The score columns: P(churn) for the churn models, tau for the uplift models."""
TYPES = ("persuadable", "sure thing", "lost cause", "sleeping dog")
"""Customer types by potential outcomes: churns if control and not if treated; never; always;
only if treated."""
BASE = {
    "learning_rate": 0.05,
    "max_iter": 100,
    "max_leaf_nodes": 4,
    "min_samples_leaf": 200,
    "l2_regularization": 1.0,
    "max_bins": 32,
    "early_stopping": False,
}
"""The gradient boosting settings of every base learner: small trees, a fixed number of rounds
(32 bins: weighted binning costs a weighted percentile per bin)."""
TOP = 0.1
"""The share of customers (by weight) whose composition :func:`evaluate` reports."""
ONE_THREAD = threadpool_limits.wrap(limits=1)
"""Fits and scores run on one OpenMP/BLAS thread: quicker for these small models, with no
contention with other processes, and the process stays safe to fork (as in :mod:`runner`)."""


# --------------------------------------------------------------------------------------------
# Design
# --------------------------------------------------------------------------------------------


def _observable(frame: pd.DataFrame, features: Sequence[str]) -> None:
    """Refuses (ValueError) a feature that is hidden, an outcome or a ``true_`` column, or
    missing from the frame."""
    forbidden = [f for f in features if f in NOT_FEATURES or f.startswith("true_")]
    if forbidden:
        raise ValueError(f"not observable or an outcome, so never a feature: {forbidden}")
    missing = [f for f in features if f not in frame]
    if missing:
        raise ValueError(f"the frame lacks the features {missing}")


def categories_of(frame: pd.DataFrame, features: Sequence[str] = FEATURES) -> dict[str, tuple]:
    """The categories of each non-numeric feature: its categorical dtype's, else its sorted
    values."""
    _observable(frame, features)
    out = {}
    for name in features:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            out[name] = tuple(column.cat.categories)
        elif not pd.api.types.is_numeric_dtype(column):
            out[name] = tuple(sorted(column.dropna().unique()))
    return out


def design(
    frame: pd.DataFrame,
    features: Sequence[str] = FEATURES,
    categories: Mapping[str, Sequence] | None = None,
) -> pd.DataFrame:
    """The design matrix: numeric features as they are (:data:`LOGGED` ones logged, booleans as
    0/1), each of ``categories`` (default: :func:`categories_of` the frame) one-hot with one column
    per category, so frames with the same ``categories`` align; a value outside them gets zeros.
    Refuses (ValueError) a feature that is hidden, an outcome or a ``true_`` column."""
    _observable(frame, features)
    if categories is None:
        categories = categories_of(frame, features)
    parts = {}
    for name in features:
        column = frame[name]
        if name in categories:
            known = pd.Categorical(column, categories=list(categories[name]))
            unknown = int((pd.isna(known) & column.notna().to_numpy()).sum())
            if unknown:
                log.warning("%d rows with a %s outside the fitted categories", unknown, name)
            for level in categories[name]:
                parts[f"{name}={level}"] = np.asarray(known == level, dtype=float)
        elif name in LOGGED:
            x = column.to_numpy(dtype=float)
            parts[name] = np.sign(x) * np.log1p(np.abs(x))
        else:
            parts[name] = column.to_numpy(dtype=float)
    return pd.DataFrame(parts, index=frame.index)


# --------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------


def _fitted(estimator: Any, x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> Any:
    """A clone of ``estimator`` fitted with the weights scaled to mean 1 (for every step of a
    pipeline), so the regularisation does not depend on how many real customers an agent is."""
    w = weight / weight.mean()
    model = clone(estimator)
    if isinstance(model, Pipeline):
        return model.fit(x, y, **{f"{step}__sample_weight": w for step, _ in model.steps})
    return model.fit(x, y, sample_weight=w)


def _churn(model: Any, x: np.ndarray) -> np.ndarray:
    return model.predict_proba(x)[:, 1]


@dataclass(frozen=True)
class Fitted:
    """The models fitted on a pilot, and the design they read (``features``, ``categories``).

    ``control``/``treated``: gradient boosting of P(churn) in each arm (``control`` is the
    ``churn_gbm`` score); ``transformed``: the class-transformation classifier; ``effect_control``
    and ``effect_treated``: the X-learner's regressions of the imputed effects; ``share``: the
    treated share (the propensity)."""

    features: tuple[str, ...]
    categories: dict[str, tuple]
    logit: Any
    control: Any
    treated: Any
    transformed: Any
    effect_control: Any
    effect_treated: Any
    share: float

    @ONE_THREAD
    def score(self, book: pd.DataFrame) -> pd.DataFrame:
        """One column per model of :data:`MODELS` for the rows of ``book``."""
        x = design(book, self.features, self.categories).to_numpy()
        control, treated = _churn(self.control, x), _churn(self.treated, x)
        x_learner = self.share * self.effect_control.predict(x)
        x_learner += (1 - self.share) * self.effect_treated.predict(x)
        scores = {
            "churn_logit": _churn(self.logit, x),
            "churn_gbm": control,
            "uplift_two_model": control - treated,
            "uplift_class_transform": 2 * _churn(self.transformed, x) - 1,
            "uplift_x_learner": x_learner,
        }
        return pd.DataFrame(scores, index=book.index)


@ONE_THREAD
def _fit(
    pilot: pd.DataFrame,
    features: Sequence[str],
    categories: dict[str, tuple],
    random_state: int,
) -> Fitted:
    x = design(pilot, features, categories).to_numpy()
    t = pilot["treated"].to_numpy(dtype=bool)
    y = pilot["churned"].to_numpy(dtype=float)
    w = pilot["weight"].to_numpy(dtype=float)
    if t.all() or not t.any():
        raise ValueError("the pilot needs treated and control rows")
    share = float(w[t].sum() / w.sum())
    c = ~t
    classifier = HistGradientBoostingClassifier(**BASE, random_state=random_state)
    regressor = HistGradientBoostingRegressor(**BASE, random_state=random_state)
    logit = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1_000))
    control = _fitted(classifier, x[c], y[c], w[c])
    treated = _fitted(classifier, x[t], y[t], w[t])
    # class transformation: Z = 1 for treated stayers and control churners, arms weighted equally
    z = np.where(t, 1 - y, y)
    balanced = w * np.where(t, 0.5 / share, 0.5 / (1 - share))
    # X-learner: imputed effects, the other arm's predicted churn against the observed outcome
    imputed = np.where(t, _churn(control, x) - y, y - _churn(treated, x))
    log.debug("fitting on %d rows (%d treated, treated share %.3f)", len(t), t.sum(), share)
    return Fitted(
        features=tuple(features),
        categories=categories,
        logit=_fitted(logit, x[c], y[c], w[c]),
        control=control,
        treated=treated,
        transformed=_fitted(classifier, x, z, balanced),
        effect_control=_fitted(regressor, x[c], imputed[c], w[c]),
        effect_treated=_fitted(regressor, x[t], imputed[t], w[t]),
        share=share,
    )


def fit(pilot: pd.DataFrame, random_state: int = 0, features: Sequence[str] = FEATURES) -> Fitted:
    """Every model fitted on all the pilot's rows, to score a new book (:meth:`Fitted.score`)."""
    return _fit(pilot, features, categories_of(pilot, features), random_state)


def fold_of(pilot: pd.DataFrame, folds: int = 5, random_state: int = 0) -> np.ndarray:
    """Each row's fold (0 to ``folds - 1``), grouped by ``customer_key`` (a customer's rows in
    several replications go together) and stratified by treated x churned: the customers of each
    stratum (of their first row) dealt to the folds in turn, in a random order."""
    keys = pilot["customer_key"].to_numpy()
    _, first, customer = np.unique(keys, return_index=True, return_inverse=True)
    strata = 2 * pilot["treated"].to_numpy(dtype=int) + pilot["churned"].to_numpy(dtype=int)
    stratum = strata[first]
    order = np.lexsort((np.random.default_rng(random_state).random(len(first)), stratum))
    rank = np.empty(len(first), dtype=int)
    rank[order] = np.arange(len(first))
    dealt = rank - np.searchsorted(stratum[order], stratum)  # the rank within the stratum
    return (dealt % folds)[customer]


def cross_scores(
    pilot: pd.DataFrame,
    folds: int = 5,
    random_state: int = 0,
    features: Sequence[str] = FEATURES,
) -> pd.DataFrame:
    """Out-of-fold scores of the pilot rows (one column per model of :data:`MODELS`): each fold
    of :func:`fold_of` scored by the models fitted on the others."""
    categories = categories_of(pilot, features)
    fold = fold_of(pilot, folds, random_state)
    parts = [
        _fit(pilot[fold != k], features, categories, random_state).score(pilot[fold == k])
        for k in range(folds)
    ]
    stacked = np.argsort(fold, kind="stable")  # the pilot's rows in the order of the parts
    return pd.concat(parts).iloc[np.argsort(stacked)]


# --------------------------------------------------------------------------------------------
# Evaluation against the truth
# --------------------------------------------------------------------------------------------


def true_saved(frame: pd.DataFrame) -> pd.DataFrame:
    """Per row and real customer, what treating rather than not does: ``saved`` (the true uplift,
    -1, 0 or 1) and ``value_saved`` (CNY of lifetime value not lost)."""
    control = frame["true_churned_control"].to_numpy(dtype=int)
    treated = frame["true_churned_treated"].to_numpy(dtype=int)
    value = frame["true_value_lost_control"].to_numpy(dtype=float)
    value = value - frame["true_value_lost_treated"].to_numpy(dtype=float)
    return pd.DataFrame({"saved": control - treated, "value_saved": value}, index=frame.index)


def customer_types(frame: pd.DataFrame) -> pd.Series:
    """Each row's type of :data:`TYPES` by its potential outcomes."""
    control = frame["true_churned_control"].to_numpy(dtype=int)
    treated = frame["true_churned_treated"].to_numpy(dtype=int)
    codes = np.array([1, 3, 0, 2])[2 * control + treated]  # (control, treated) -> TYPES
    return pd.Series(pd.Categorical.from_codes(codes, TYPES), index=frame.index, name="type")


Curve = tuple[np.ndarray, np.ndarray]
"""Real customers contacted and the cumulative values at the ends of a ranking's tie blocks."""


def _curve(score: np.ndarray, weight: np.ndarray, values: np.ndarray) -> Curve:
    """The real customers contacted (``x``) and the cumulative weighted ``values`` (one column
    each, ``y``) down the ranking by ``score``, highest first, at the ends of its tie blocks:
    linear in between, as a random order within ties gives on average."""
    if np.isnan(score).any():
        raise ValueError("a score is missing")
    order = np.argsort(-score, kind="stable")
    ranked = score[order]
    ends = np.r_[np.flatnonzero(ranked[1:] != ranked[:-1]), len(ranked) - 1]
    x = np.r_[0.0, np.cumsum(weight[order])[ends]]
    y = np.cumsum(weight[order, None] * values[order], axis=0)[ends]
    return x, np.vstack([np.zeros(values.shape[1]), y])


def _at(curve: Curve, contacted: np.ndarray) -> np.ndarray:
    """The curve's values at the given numbers of real customers contacted (rows)."""
    x, y = curve
    return np.column_stack([np.interp(contacted, x, column) for column in y.T])


def _excess_area(curve: Curve) -> float:
    """The area between the curve (its first value) and the random ranking's straight line."""
    x, y = curve
    return float(np.trapezoid(y[:, 0], x) - x[-1] * y[-1, 0] / 2)


def _auc(y: np.ndarray, score: np.ndarray, weight: np.ndarray) -> float:
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, score, sample_weight=weight))


def _aligned(pilot: pd.DataFrame, scores: pd.DataFrame) -> None:
    if not scores.index.equals(pilot.index):
        raise ValueError("the scores' index is not the pilot's")


def evaluate(pilot: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """One row per score column (``model``; every column a ranking, churn scores too):
    ``auc_control`` (of the observed ``churned``, control rows), ``auc_true_control`` (of
    ``true_churned_control``, all rows), ``qini`` (the true-uplift Qini coefficient: the area
    between the score's cumulative true uplift curve and random's over the oracle's, so the oracle
    is 1 and random about 0; NaN when every true uplift is the same), and the weighted shares of
    each type among the top :data:`TOP` by score (``top_persuadable``, ...) and their mean true
    uplift (``top_uplift``)."""
    _aligned(pilot, scores)
    w = pilot["weight"].to_numpy(dtype=float)
    control = ~pilot["treated"].to_numpy(dtype=bool)
    churned = pilot["churned"].to_numpy(dtype=int)
    truth = pilot["true_churned_control"].to_numpy(dtype=int)
    saved = true_saved(pilot)["saved"].to_numpy(dtype=float)
    types = customer_types(pilot).cat.codes.to_numpy()
    values = np.column_stack([saved, types[:, None] == np.arange(len(TYPES))])
    oracle = _excess_area(_curve(saved, w, values))
    top = TOP * w.sum()
    rows = {}
    for name, column in scores.items():
        s = column.to_numpy(dtype=float)
        curve = _curve(s, w, values)
        shares = _at(curve, np.array([top]))[0] / top
        rows[name] = {
            "auc_control": _auc(churned[control], s[control], w[control]),
            "auc_true_control": _auc(truth, s, w),
            "qini": _excess_area(curve) / oracle if oracle > 0 else float("nan"),
            "top_uplift": shares[0],
            **{
                f"top_{t.replace(' ', '_')}": share
                for t, share in zip(TYPES, shares[1:], strict=True)
            },
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model").reset_index()


def curves(pilot: pd.DataFrame, scores: pd.DataFrame, points: int = 101) -> pd.DataFrame:
    """The true customers ``saved`` and ``value_saved`` (CNY) against the ``share`` of customers
    contacted (and their number, ``contacted``), at ``points`` even shares from 0 to 1, for each
    score column highest first, ``random`` (the expected straight line) and ``oracle`` (ranked by
    true uplift for ``saved``, by true value saved for ``value_saved``: each the best possible)."""
    _aligned(pilot, scores)
    w = pilot["weight"].to_numpy(dtype=float)
    values = true_saved(pilot).to_numpy(dtype=float)
    share = np.linspace(0, 1, points)
    contacted = share * w.sum()
    drawn = {
        name: _at(_curve(s.to_numpy(dtype=float), w, values), contacted)
        for name, s in scores.items()
    }
    drawn["random"] = share[:, None] * (w[:, None] * values).sum(axis=0)
    by_uplift, by_value = (_at(_curve(values[:, i], w, values), contacted)[:, i] for i in (0, 1))
    drawn["oracle"] = np.column_stack([by_uplift, by_value])
    return pd.concat(
        pd.DataFrame(
            {
                "model": name,
                "share": share,
                "contacted": contacted,
                "saved": y[:, 0],
                "value_saved": y[:, 1],
            }
        )
        for name, y in drawn.items()
    ).reset_index(drop=True)


def budget_curve(
    truth: pd.DataFrame, rankings: pd.DataFrame, budgets: Sequence[float]
) -> pd.DataFrame:
    """Per ``seed`` of ``truth`` (a book with the potential outcomes), policy (a column of
    ``rankings``, aligned with ``truth``: higher is contacted first) and budget (real customers
    contacted), the true customers ``saved`` and ``value_saved`` (CNY) by contacting the top of the
    ranking up to the budget (at most the book: ``contacted``)."""
    _aligned(truth, rankings)
    spend = np.asarray(budgets, dtype=float)
    values = true_saved(truth).to_numpy(dtype=float)
    w = truth["weight"].to_numpy(dtype=float)
    parts = []
    for seed, rows in truth.groupby("seed", sort=True).indices.items():
        contacted = np.minimum(spend, w[rows].sum())
        for policy, ranking in rankings.items():
            curve = _curve(ranking.to_numpy(dtype=float)[rows], w[rows], values[rows])
            y = _at(curve, contacted)
            parts.append(
                pd.DataFrame(
                    {
                        "seed": seed,
                        "policy": policy,
                        "budget": spend,
                        "contacted": contacted,
                        "saved": y[:, 0],
                        "value_saved": y[:, 1],
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)
