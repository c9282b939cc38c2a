"""Make the example bank's files: ``python examples/city_bank/make_files.py``.

The files are synthetic, made by the model itself so that the truth is known: a bank like the
embedded one but with its own segment mix and a higher switching base (``TRUTH``), simulated for
one year after burn-in. Its CRM extract (customers at the reference month and who left within
12 months), its branch network (sites as latitude and longitude, costs, staff, one branch that
opens two years in) and its segment table are written as a bank would export them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from sim import bankdata, metrics
from sim.config import DEFAULT_SEGMENTS
from sim.model import BankModel
from sim.scenario import load_config

HERE = Path(__file__).resolve().parent
TRUTH = ["behaviour.churn_base=0.145"]  # what a calibration should find (the default is 0.115)
SEGMENT_SHARES = {  # an older, wealthier book than the embedded bank's
    "young_professional": 0.22,
    "family": 0.30,
    "business_owner": 0.10,
    "retiree": 0.26,
    "farmer": 0.12,
}
CENTRE = (30.59, 114.30)  # latitude, longitude of the (fictional) city's middle
PLANNED = {"branch": "CB13", "x_km": 22.0, "y_km": 9.0, "opening_month": 24, "staff": 0}


def segments() -> pd.DataFrame:
    rows = [
        {"segment": name, **dataclasses.asdict(s), "share": SEGMENT_SHARES[name]}
        for name, s in DEFAULT_SEGMENTS.items()
    ]
    return pd.DataFrame(rows)


def simulated_bank(segment_file: Path) -> BankModel:
    overrides = [
        f"bank.data.segments={segment_file}",
        "population.customers=3000",
        # a 1-in-6.4 sample of the embedded bank's design: ~210k real customers, as 12 branches
        "population.weights={mass:160,mid:19.2,high:6.4,private:1.6}",
        "months=12",
        "seed=11",
        *TRUTH,
    ]
    model = BankModel(load_config(overrides))
    model.staff_at_start = np.bincount([m.branch for m in model.managers], minlength=12)
    model.run()
    return model


def branches(model: BankModel) -> pd.DataFrame:
    table = metrics.branches(model)
    x = np.append(table["x"].to_numpy(), PLANNED["x_km"])
    y = np.append(table["y"].to_numpy(), PLANNED["y_km"])
    lat, lon = _degrees(x, y, model.config.bank.city_km)
    cost = np.round(2.6e6 + 1.6e6 * np.random.default_rng(11).random(len(x)), -4)
    return pd.DataFrame(
        {
            "branch": [f"CB{i + 1:02d}" for i in range(len(x))],
            "lat": lat.round(5),
            "lon": lon.round(5),
            "cost": cost,
            "staff": [*model.staff_at_start, PLANNED["staff"]],
            "opening_month": [0] * len(table) + [PLANNED["opening_month"]],
        }
    )


def _degrees(x_km, y_km, side_km: float):
    """Latitude and longitude of map points, the map's middle at ``CENTRE``."""
    lat = CENTRE[0] + (y_km - side_km / 2) / (bankdata.EARTH_KM * np.pi / 180)
    scale = bankdata.EARTH_KM * np.pi / 180 * np.cos(np.radians(CENTRE[0]))
    return lat, CENTRE[1] + (x_km - side_km / 2) / scale


def customers(model: BankModel, labels: list[str]) -> pd.DataFrame:
    e = metrics.crm_extract(model)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in e["customer_id"]],
            "age": e["age"],
            "tenure_months": e["tenure_months"],
            "products": e["products"],
            "aum": e["aum"].round(0),
            "tier": e["tier"],
            "branch": np.asarray(labels)[e["branch"]],
            "segment": e["segment"],
            "digital": e["digital"].round(2),
            "weight": e["weight"],
            "active": True,
            "churned": e["churned"],
            "exit_reason": e["exit_reason"].astype(str).replace("nan", ""),
        }
    )


if __name__ == "__main__":
    segments().to_csv(HERE / "segments.csv", index=False)
    model = simulated_bank(HERE / "segments.csv")
    table = branches(model)
    table.to_csv(HERE / "branches.csv", index=False)
    customers(model, list(table["branch"])).to_csv(HERE / "customers.csv", index=False)
    print(f"wrote {HERE}/segments.csv, branches.csv, customers.csv")
