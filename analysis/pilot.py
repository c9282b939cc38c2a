"""The targeting lab's tables from its two stores (``experiments.pilot``).

Every run keeps its CRM extract (``crm_extract.parquet``: the customers at the reference month,
their attributes then, whether they left within the horizon, the value lost and whether the
campaign treated them). Runs of one seed share every draw up to the campaign and every draw keyed
to a customer after it, so a customer's row in the run without the campaign (``control``) and in
the run that treats every eligible customer (``everyone``) are its two potential outcomes:

- the **pilot extract**: the randomised pilot's rows (what a bank sees: attributes, the treatment
  flag, who left, value lost) with the truth beside them in ``true_*`` columns, which no bank has;
- the **book**: the customers of a policy bank at the reference month with the same truth, which
  the models score and the oracle ranks;
- the **outcomes** of each policy arm against the baseline on the same seed: the real customers it
  contacted, kept (exits less than the baseline's) and the value it saved, its campaign cost and
  what its list was made of.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.harm import t_interval
from analysis.report.targeting import CURVE, MODELS, SETTINGS, SUMMARY, UPLIFT
from analysis.targeting import TYPES, cross_scores, curves, customer_types, evaluate
from analysis.targeting import budget_curve as true_curve
from runner import store
from sim.folders import replacing

TRUTH = {"churned": "true_churned", "value_lost": "true_value_lost"}
"""Outcome -> the stem of its true potential outcomes (``<stem>_treated``, ``<stem>_control``)."""
CONTROL, EVERYONE, PILOT = "control", "everyone", "pilot"  # the pilot store's arms
BASELINE = "baseline"  # the policies store's control arm
COST_PREFIX = "cost_campaign."  # the campaign's ledger lines in the time series
CURVE_POINTS = 20  # budgets on the budget curve, besides the policies' own


def extracts(root: Path) -> dict[tuple[str, int], pd.DataFrame]:
    """(arm, seed) -> the CRM extract of each successful run of a store, with ``value_lost``: the
    lifetime value at the reference month (``clv``) of a customer who left within the horizon.
    Valued before the treatment, it is the same in every arm, so a treatment that changes what a
    customer is worth (a fee waiver cuts the fees) saves value only by keeping customers."""
    runs = store.load(root)
    found = {}
    for row in runs[runs["status"] == "ok"].itertuples():
        table = store.load_run_table(root, row.run_id, "crm_extract")
        if table is not None:
            found[(row.arm, int(row.seed))] = table.assign(
                value_lost=table["clv"] * table["churned"]
            )
    return found


def with_truth(rows: pd.DataFrame, control: pd.DataFrame, treated: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with each customer's true outcomes if untreated (``control``'s) and if treated
    (``treated``'s), matched by customer key."""
    out = rows
    for world, frame in (("control", control), ("treated", treated)):
        truth = frame.set_index("customer_key")[list(TRUTH)].rename(
            columns={k: f"{v}_{world}" for k, v in TRUTH.items()}
        )
        out = out.join(truth, on="customer_key")
    missing = out[[f"{v}_{w}" for v in TRUTH.values() for w in ("control", "treated")]].isna()
    if missing.any(axis=None):
        raise ValueError("a customer of the extract is missing from a paired run (not one seed?)")
    return out


def pilot_extract(root: Path) -> pd.DataFrame:
    """The pilot store's randomised rows with their true potential outcomes, banks stacked."""
    found = extracts(root)
    seeds = sorted({seed for arm, seed in found if arm == PILOT})
    frames = [
        with_truth(found[PILOT, s], found[CONTROL, s], found[EVERYONE, s]).assign(seed=s)
        for s in seeds
        if (CONTROL, s) in found and (EVERYONE, s) in found
    ]
    return _typed(pd.concat(frames, ignore_index=True))


def book(found: dict[tuple[str, int], pd.DataFrame]) -> pd.DataFrame:
    """The policy banks' customers at the reference month (the baseline's rows) with their true
    potential outcomes, banks stacked."""
    seeds = sorted(s for arm, s in found if arm == BASELINE and (EVERYONE, s) in found)
    frames = [
        with_truth(found[BASELINE, s], found[BASELINE, s], found[EVERYONE, s]).assign(seed=s)
        for s in seeds
    ]
    return _typed(pd.concat(frames, ignore_index=True))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Booleans as bool (Parquet may give objects)."""
    for col in ("churned", "treated", "true_churned_control", "true_churned_treated"):
        frame[col] = frame[col].astype(bool)
    return frame


def outcomes(
    found: dict[tuple[str, int], pd.DataFrame], costs: pd.DataFrame, truth: pd.DataFrame
) -> pd.DataFrame:
    """One row per policy arm and seed: real customers contacted, customers kept and value saved
    against the baseline on that seed, campaign cost (``costs``: arm, seed, cost) and the shares
    of its contacts that were each type (``truth``: the book)."""
    kinds = customer_types(truth).to_numpy()
    kind_of = pd.Series(
        kinds, index=pd.MultiIndex.from_arrays([truth["seed"], truth["customer_key"]])
    )
    rows = []
    for (arm, seed), frame in found.items():
        if arm == BASELINE or (BASELINE, seed) not in found:
            continue
        base = found[BASELINE, seed]
        w, bw = frame["weight"].to_numpy(), base["weight"].to_numpy()
        contacted = frame["treated"].astype(bool).to_numpy()
        row = {
            "arm": arm,
            "seed": seed,
            "contacted": float(w[contacted].sum()),
            "saved": float((bw * base["churned"]).sum() - (w * frame["churned"]).sum()),
            "value_saved": float((bw * base["value_lost"]).sum() - (w * frame["value_lost"]).sum()),
        }
        listed = kind_of.reindex(
            pd.MultiIndex.from_arrays(
                [np.full(contacted.sum(), seed), frame["customer_key"][contacted]]
            )
        )
        for kind in TYPES:
            row[kind] = float(w[contacted][listed.to_numpy() == kind].sum()) / max(
                row["contacted"], 1e-12
            )
        rows.append(row)
    out = pd.DataFrame(rows).merge(costs, on=["arm", "seed"], how="left")
    out["net_value"] = out["value_saved"] - out["cost"]
    return out


def campaign_costs(root: Path) -> pd.DataFrame:
    """Each successful run's campaign cost over the run (arm, seed, cost; CNY)."""
    runs = store.load(root)
    series = store.load_timeseries(root, runs)
    lines = [c for c in series.columns if c.startswith(COST_PREFIX)]
    series["cost"] = series[lines].sum(axis=1) if lines else 0.0
    return series.groupby(["arm", "seed"], as_index=False)["cost"].sum()


def summary(per_seed: pd.DataFrame, oracle: str = "oracle") -> pd.DataFrame:
    """Per arm: the mean over seeds of each measure with a Student-t 95% interval, the share of
    the oracle's value saved it captured (seed by seed) and its cost per customer kept."""
    frame = per_seed.copy()
    if oracle in set(frame["arm"]):
        best = frame[frame["arm"] == oracle].set_index("seed")["value_saved"]
        frame["of_oracle"] = frame["value_saved"] / frame["seed"].map(best)
    grouped = frame.groupby("arm", sort=False)
    out = grouped.size().rename("seeds").reset_index()
    for measure in ("contacted", "saved", "value_saved", "cost", "net_value", "of_oracle"):
        if measure not in frame:
            continue
        mean, sd = grouped[measure].mean().to_numpy(), grouped[measure].std().to_numpy()
        out[measure] = mean
        out[f"{measure}_low"], out[f"{measure}_high"] = t_interval(
            mean, sd, out["seeds"].to_numpy()
        )
    for kind in TYPES:
        out[kind] = grouped[kind].mean().to_numpy()
    out["cost_per_saved"] = out["cost"] / out["saved"].where(out["saved"] > 0)
    return out


def analyse(root: Path, extract: pd.DataFrame, book: pd.DataFrame, scores: dict, p, seed: int):
    """Write the lab's tables into the policies store ``root``: the models evaluated out of fold
    on the pilot (``extract``) against the truth, their uplift curves, each policy's outcomes at
    the budget and the budget curve from the ``book``'s potential outcomes (``scores``: policy ->
    each book row's score; ``p``: the pilot block)."""
    oof = cross_scores(extract, folds=p.folds, random_state=seed)
    found = extracts(root)
    summary_table = summary(outcomes(found, campaign_costs(root), book))
    tables = {
        MODELS: evaluate(extract, oof),
        UPLIFT: curves(extract, oof),
        SUMMARY: summary_table,
        CURVE: budget_curve(book, scores, p.budget),
    }
    for name, frame in tables.items():
        with replacing(root / name) as tmp:
            frame.to_csv(tmp, index=False)
    treated = extract["treated"]
    settings = {
        "treatment": p.treatment,
        "budget": p.budget,
        "banks": int(extract["seed"].nunique()),
        "seeds": int(book["seed"].nunique()),
        "treated": float(extract["weight"][treated].sum()),
        "control": float(extract["weight"][~treated].sum()),
    }
    with replacing(root / SETTINGS) as tmp:
        tmp.write_text(json.dumps(settings, indent=2))
    return summary_table


def budget_curve(book: pd.DataFrame, scores: dict, budget: float) -> pd.DataFrame:
    """Customers kept and value saved per policy, seed and budget (up to the whole book, and in
    detail up to three times the ``budget``), from the potential outcomes; random ranks by a
    seeded draw."""
    rankings = pd.DataFrame(
        {"random": np.random.default_rng(0).random(len(book)), **scores}, index=book.index
    )
    most = book.groupby("seed")["weight"].sum().max()
    near = np.linspace(0, min(3 * budget, most), CURVE_POINTS + 1)  # in detail around the budget
    budgets = np.unique(np.concatenate([near, np.linspace(0, most, CURVE_POINTS + 1)]))
    return true_curve(book, rankings, budgets)
