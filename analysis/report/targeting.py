"""The targeting lab's report section (``experiments.pilot``): the sentences a strategy team reads,
what each policy's list saved, cost and got wrong at the budget, the models' quality on the pilot
against the truth, the budget curve and the uplift curves, from the tables the lab writes into
its policies store (the sentences are also the command's console lines)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.charts import targeting as charts
from analysis.report.document import Bullets, Cell, Figure, Para, Section, Table
from sim.treatments import REGISTRY as TREATMENTS

SETTINGS, SUMMARY, MODELS = "targeting.json", "targeting.csv", "models.csv"
CURVE, UPLIFT = "budget_curve.csv", "uplift_curves.csv"
"""The targeting lab's files in its policies store (``analysis.pilot.analyse`` writes them)."""
SHORT = {
    "random": "Random",
    "risk": "Risk rule",
    "churn": "Top churn score",
    "uplift": "Top uplift",
    "value": "Top value saved",
    "oracle": "Oracle",
    "everyone": "Everyone",
}
"""Each policy's name in tables and charts."""
MODEL_TITLES = {
    "churn_logit": "Churn: logistic regression",
    "churn_gbm": "Churn: gradient boosting",
    "uplift_two_model": "Uplift: two-model",
    "uplift_class_transform": "Uplift: class transformation",
    "uplift_x_learner": "Uplift: X-learner",
    "random": "Random",
    "oracle": "Oracle",
}
MODEL_COLUMNS = {
    "auc_control": "Churn AUC (control, observed)",
    "auc_true_control": "Churn AUC (true, untreated)",
    "qini": "Qini (true; oracle 1)",
    "top_uplift": "Top decile: true uplift",
    "top_persuadable": "Top decile: persuadables",
    "top_sleeping_dog": "Top decile: sleeping dogs",
}
"""The columns of ``models.csv`` the report shows, in words."""


def lists(budget: float) -> dict[str, str]:
    """Each policy's list in words, for "calling <list>"."""
    n = f"{budget:,.0f}"
    return {
        "churn": f"the {n} customers most likely to leave",
        "uplift": f"the {n} the uplift model picks",
        "value": f"the {n} with the most value the uplift model expects to save",
        "risk": f"the {n} the bank's risk rule flags",
        "random": f"{n} customers at random",
        "oracle": "the best possible list",
    }


def ci(row: dict, measure: str, millions: bool = False) -> str:
    """A mean with its 95% interval: a count, or CNY in millions."""
    low, high, mean = (
        row[f"{measure}{s}"] / (1e6 if millions else 1) for s in ("_low", "_high", "")
    )
    if millions:
        return f"CNY {mean:,.1f} M (95% CI {low:,.1f} to {high:,.1f})"
    return f"{mean:,.0f} (95% CI {low:,.0f} to {high:,.0f})"


def money(x: float) -> str:
    return f"CNY {x / 1e6:,.1f} M"


def share(x: float) -> str:
    """A share in percent, to a tenth below 10% (where the lists differ most: 0.4% against
    1.1% sleeping dogs)."""
    return f"{x:.1%}" if abs(x) < 0.1 else f"{x:.0%}"


def sentences(summary: pd.DataFrame, budget: float) -> list[str]:
    """What each list saves, then what each is made of: the plain words of the lab."""
    rows = {r["arm"]: r for r in summary.to_dict("records")}
    words = lists(budget)
    order = [a for a in words if a in rows]
    said = "; ".join(f"calling {words[a]} saves {ci(rows[a], 'saved')}" for a in order)
    lines = [f"{said[0].upper()}{said[1:]} real customers from leaving within the year."]
    for a in order:
        r = rows[a]
        parts = [
            f"{SHORT[a]}: of the customers it calls, {share(r['persuadable'])} stay because they"
            f" were called, {share(r['sure thing'])} would have stayed anyway,"
            f" {share(r['lost cause'])} leave anyway and {share(r['sleeping dog'])} leave because"
            " they were called; it saves"
            f" {ci(r, 'value_saved', millions=True)} of lifetime value"
        ]
        if a != "oracle" and np.isfinite(r.get("of_oracle", np.nan)):
            parts.append(f"{share(r['of_oracle'])} of the best list's")
        if r["saved_low"] > 0:
            parts.append(f"at CNY {r['cost_per_saved']:,.0f} per customer saved")
        lines.append(", ".join(parts) + ".")
    return lines


def section(root: Path) -> Section | None:
    """The targeting section of a policies store's report (its charts drawn from the stored
    tables), None in any other store."""
    if not (root / SETTINGS).exists():
        return None
    settings = json.loads((root / SETTINGS).read_text())
    summary = pd.read_csv(root / SUMMARY)
    models = pd.read_csv(root / MODELS)
    figures = root / "figures"
    figures.mkdir(exist_ok=True)
    budget = charts.budget_curve(
        pd.read_csv(root / CURVE), summary, SHORT, settings["budget"], figures
    )
    uplift = charts.uplift_curves(pd.read_csv(root / UPLIFT), MODEL_TITLES, figures)
    treatment = TREATMENTS[settings["treatment"]].title.lower()
    intro = (
        f"A pilot of one {treatment} on {settings['banks']} banks"
        f" ({settings['treated']:,.0f} real customers treated at random, {settings['control']:,.0f}"
        f" in control), churn and uplift models fitted to it, and each targeting policy run as"
        f" an arm on {settings['seeds']} other banks contacting {settings['budget']:,.0f} real"
        " customers. Every customer's potential outcomes come from runs of the same seed with"
        " and without the treatment, so the truth is known (the model's truth, not a bank's)."
    )
    return Section(
        "targeting",
        "Targeting: whom to contact",
        [
            Para(intro),
            Bullets(sentences(summary, settings["budget"])),
            policy_table(summary),
            Para("The models on the pilot, out of fold, scored against the truth:"),
            model_table(models),
            Figure(1, budget.name, budget.title, budget.caption, budget.png),
            Figure(2, uplift.name, uplift.title, uplift.caption, uplift.png),
        ],
    )


def policy_table(summary: pd.DataFrame) -> Table:
    from analysis.targeting import TYPES  # scikit-learn: loaded only for a lab's store

    rows = [
        [
            Cell(SHORT.get(r["arm"], r["arm"])),
            Cell(f"{r['contacted']:,.0f}"),
            Cell(f"{r['saved']:,.0f}", sub=f"{r['saved_low']:,.0f} to {r['saved_high']:,.0f}"),
            Cell(
                money(r["value_saved"]),
                sub=f"{money(r['value_saved_low'])} to {money(r['value_saved_high'])}",
            ),
            Cell(money(r["cost"])),
            Cell(share(r["of_oracle"]) if np.isfinite(r.get("of_oracle", np.nan)) else "-"),
            *(Cell(share(r[t])) for t in TYPES),
        ]
        for r in summary.to_dict("records")
    ]
    columns = [
        "Policy",
        "Contacted",
        "Customers saved (95% CI)",
        "Lifetime value saved (95% CI)",
        "Cost",
        "Of the oracle's value",
        *(f"{t.capitalize()}s" for t in TYPES),
    ]
    return Table(columns, rows, frozenset(range(1, len(columns))))


def _model_cell(column: str, value: float) -> str:
    """An AUC or a Qini to two decimals, a top-decile figure as a share."""
    if not np.isfinite(value):
        return "-"
    return share(value) if column.startswith("top_") else f"{value:.2f}"


def model_table(models: pd.DataFrame) -> Table:
    rows = [
        [Cell(MODEL_TITLES.get(r["model"], r["model"]))]
        + [Cell(_model_cell(c, r[c])) for c in MODEL_COLUMNS]
        for r in models.to_dict("records")
    ]
    return Table(
        ["Model", *MODEL_COLUMNS.values()], rows, frozenset(range(1, len(MODEL_COLUMNS) + 1))
    )
