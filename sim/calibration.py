"""Calibration check: the default baseline against the targets of the model description.

``python -m sim.calibration [key=value ...]`` prints model vs target. Attrition is the 12-month
attrition of the customers active when burn-in ends, split by what they were then (tier, tenure,
products), pooled over a few seeds of the same bank; every share counts real customers (each
simulated customer by its weight). Each target has a tolerance band;
``tests/test_calibration.py`` asserts them. Branch cost and deposit margin check the books.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass

import numpy as np

from sim.config import TIER_BOUNDS, Config
from sim.customers import EXIT_REASONS, masked_sum
from sim.model import BankModel
from sim.scenario import load_config


@dataclass(frozen=True)
class Target:
    lo: float
    hi: float
    what: str
    source: str


TARGETS = {
    "attrition": Target(
        0.10,
        0.15,
        "annual attrition, all customers",
        "J.D. Power 2012: 9.6% actual; industry 13-15%",
    ),
    "attrition_affluent": Target(
        0.06, 0.11, "annual attrition, AUM >= 500k", "J.D. Power: affluent ~9%/yr"
    ),
    "affluent_vs_mass": Target(0.4, 0.95, "affluent / mass attrition", "affluent below mass"),
    "attrition_year1": Target(
        0.17, 0.30, "annual attrition, tenure < 1 year", "Harland Clarke 2017: ~23% in year 1"
    ),
    "attrition_10y": Target(
        0.03,
        0.08,
        "annual attrition, tenure >= 10 years",
        "Harland Clarke 2017: ~5% after 10 years",
    ),
    "year1_vs_10y": Target(2.0, 6.0, "year-1 / 10-year attrition", "2-4x or more"),
    "attrition_1_product": Target(
        0.14, 0.27, "annual attrition, 1 product", "Harland Clarke; RPM: 16-25%"
    ),
    "attrition_4_products": Target(0.025, 0.08, "annual attrition, 4+ products", "~5%"),
    "one_vs_4_products": Target(3.0, 5.5, "1-product / 4+-product attrition", "3-5x"),
    "natural_exits": Target(0.005, 0.02, "annual exits by death or relocation", "~1 point"),
    "products": Target(2.0, 2.4, "products per customer", "2.1-2.3"),
    "affluent_share": Target(
        0.015, 0.035, "customers with AUM >= 500k", "large Chinese bank: ~2.2%"
    ),
    "affluent_aum_share": Target(0.65, 0.90, "AUM held by AUM >= 500k", "~81%"),
    "private_share": Target(0.0002, 0.0025, "customers with AUM >= 6M", "~0.07%"),
    "private_aum_share": Target(0.15, 0.50, "AUM held by AUM >= 6M", "~31%"),
    "cost_per_branch": Target(2e6, 5e6, "CNY per branch per year (books check)", "2-5M CNY"),
    "margin_on_deposits": Target(0.012, 0.018, "deposit revenue / deposits per year", "NIM ~1.5%"),
    "digital_share": Target(0.80, 0.98, "digital share of transactions", "> 90% in China"),
}


def measure(config: Config, seeds: int = 1) -> dict[str, float]:
    """Measure every target quantity, pooling the customers of ``seeds`` runs (seed, seed+1 ...).

    Pooling seeds of the same bank steadies the estimates without changing the bank.
    """
    runs = [
        _first_measured_year(dataclasses.replace(config, seed=config.seed + k))
        for k in range(seeds)
    ]
    arrays = ("left", "natural", "aum", "products", "tenure", "weight")
    pool = {key: np.concatenate([r[key] for r in runs]) for key in arrays}
    left, aum, products, tenure = pool["left"], pool["aum"], pool["products"], pool["tenure"]
    weight = pool["weight"].astype(np.float64)

    def mean(values, mask=slice(None)):
        return float(np.average(values[mask], weights=weight[mask]))

    def attrition(mask):
        return mean(left, mask)

    def aum_share(mask):
        return float((aum * weight)[mask].sum() / (aum * weight).sum())

    affluent, private = aum >= TIER_BOUNDS[1], aum >= TIER_BOUNDS[2]
    books = [row for r in runs for row in r["books"]]
    m = {
        "attrition": attrition(slice(None)),
        "attrition_affluent": attrition(affluent),
        "affluent_vs_mass": attrition(affluent) / attrition(aum < TIER_BOUNDS[0]),
        "attrition_year1": attrition(tenure < 12),
        "attrition_10y": attrition(tenure >= 120),
        "attrition_1_product": attrition(products == 1),
        "attrition_4_products": attrition(products >= 4),
        "natural_exits": mean(pool["natural"]),
        "products": mean(products),
        "affluent_share": mean(affluent),
        "affluent_aum_share": aum_share(affluent),
        "private_share": mean(private),
        "private_aum_share": aum_share(private),
        "cost_per_branch": sum(b["cost_branches"] for b in books) / seeds / config.bank.branches,
        "margin_on_deposits": float(np.mean([r["deposit_margin"] for r in runs])),
        "digital_share": float(np.mean([r["digital_share"] for r in runs])),
    }
    m["year1_vs_10y"] = m["attrition_year1"] / m["attrition_10y"]
    m["one_vs_4_products"] = m["attrition_1_product"] / m["attrition_4_products"]
    return m


def _first_measured_year(config: Config) -> dict:
    """Who the customers were when burn-in ended, who left in the next 12 months, and the books."""
    model = BankModel(config)
    for _ in range(config.burn_in):
        model.step()
    c = model.customers
    start = c.active.copy()
    ids = c.id[start]
    run = {
        "aum": c.aum[start],
        "products": c.products[start],
        "tenure": model.month - c.joined[start],
        "weight": c.weight[start],
        "books": [],
    }
    for _ in range(12):
        model.step()
        run["books"].append(model.books)
    everyone = model.customers.everyone()
    at_start = np.isin(everyone["id"], ids)  # ids ascend, so these rows line up with ``ids``
    run["left"] = ~everyone["active"][at_start]
    run["natural"] = everyone["exit_reason"][at_start] == EXIT_REASONS.index("natural")
    c = model.customers
    wealth_share = np.asarray(config.economics.wealth_share)[c.tier]
    deposits = masked_sum(c.aum * (1 - wealth_share) * c.weight, c.active)
    run["deposit_margin"] = model.books["revenue_deposit_margin"] * 12 / deposits
    sessions, visits = model.events["sessions"], model.events["visits"]
    run["digital_share"] = sessions / (sessions + visits)
    return run


def table(measured: dict[str, float]) -> str:
    lines = [f"{'quantity':<40} {'model':>10} {'target':>19}  ok  source"]
    for key, t in TARGETS.items():
        v = measured[key]
        ok = "yes" if t.lo <= v <= t.hi else "NO"
        lines.append(f"{t.what:<40} {v:>10.4g} {t.lo:>9.4g}-{t.hi:<9.4g}  {ok:<3} {t.source}")
    return "\n".join(lines)


SEEDS = 3  # runs pooled by default: the default bank, three seeds


if __name__ == "__main__":
    print(f"Default bank unless overridden; customers pooled over {SEEDS} seeds.")
    print(table(measure(load_config(sys.argv[1:]), seeds=SEEDS)))
