"""What a loyal customer is worth: the tables of docs/model.md's "What a loyal customer is worth".

    .venv/bin/python benchmarks/loyalty_economics.py              # 20,000 agents, 3 seeds
    .venv/bin/python benchmarks/loyalty_economics.py --customers 5000 --seeds 1   # quicker

1. Profit per real customer a year by tenure year and tier, and its parts (revenue less credit
   losses, cost to serve), on the default bank after twelve measured years (the customers active
   then, by the years since they joined).
2. The opening book's NPV (its customers' discounted profit) over 5 and 10 years at the default
   ``behaviour.churn_base`` and at a lower one (same seeds), and the rise in percent.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from sim.api import run_scenario
from sim.config import TIERS, Config
from sim.mechanisms import books, service
from sim.metrics import discount_factors
from sim.model import BankModel
from sim.scenario import load_config


def by_tenure(customers: int, seed: int) -> pd.DataFrame:
    """Profit a year per real customer by tenure year (capped at 10+) and tier, with its parts."""
    model = BankModel(
        load_config([f"population.customers={customers}", "months=144", f"seed={seed}"])
    )
    model.run()
    c = model.customers
    real = c.weight * c.active
    per_month = pd.DataFrame(
        {
            "tier": np.asarray(TIERS)[c.tier],
            "tenure_year": np.minimum((model.month - c.joined) // 12, 10),
            "weight": real,
            "earned": books.customer_profit(books.lines_now(model)),
            "cost_to_serve": service.cost_now(model),
        }
    )[c.active]
    sums = per_month.groupby(["tier", "tenure_year"])[["weight", "earned", "cost_to_serve"]].sum()
    table = 12 * sums[["earned", "cost_to_serve"]].div(sums["weight"], axis=0)
    table["profit"] = table["earned"] - table["cost_to_serve"]
    table["customers"] = sums["weight"]
    return table


def opening_npv(customers: int, churn: float, seed: int) -> tuple[float, float]:
    """The opening book's NPV over 5 and over 10 measured years."""
    ts = run_scenario(
        [f"population.customers={customers}", "months=120", f"seed={seed}",
         f"behaviour.churn_base={churn}", "output.panel=false", "output.crm_extract=false"]
    ).timeseries  # fmt: skip
    rate = Config().economics.discount_rate
    discounted = ts["profit_opening_book"] * discount_factors(ts["month"], rate)
    return float(discounted[ts["month"] <= 60].sum()), float(discounted.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--low-churn", type=float, default=0.06)
    args = parser.parse_args()
    seeds = range(args.seeds)
    tables = [by_tenure(args.customers, s) for s in seeds]
    table = sum(tables) / len(tables)
    pd.set_option("display.width", 140)
    print("Profit per real customer a year (CNY) by tier and tenure year, after 12 years:")
    print(table.round(0).to_string())
    default = Config().behaviour.churn_base
    rows = []
    for seed in seeds:
        base, low = (
            opening_npv(args.customers, default, seed),
            opening_npv(args.customers, args.low_churn, seed),
        )
        rows.append({"seed": seed, "base_5y": base[0], "low_5y": low[0], "base_10y": base[1],
                     "low_10y": low[1]})  # fmt: skip
    npv = pd.DataFrame(rows).mean()
    print(f"\nOpening book NPV, churn_base {default} -> {args.low_churn} (CNY M, mean of seeds):")
    for years in (5, 10):
        b, low = npv[f"base_{years}y"] / 1e6, npv[f"low_{years}y"] / 1e6
        print(f"  {years:2d} years: {b:8.1f} -> {low:8.1f}  (+{100 * (low / b - 1):.1f}%)")


if __name__ == "__main__":
    main()
