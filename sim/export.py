"""A simulated bank written as a bank would describe itself (docs/bank_data.md): its branch list
(sites as latitude and longitude), its segment table and its CRM extract with who left in the
following year. A bank whose truth is known, read back through ``bank.data``: the example bank
(examples/city_bank/make_files.py) and the calibration's recovery tests are made this way.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from sim import bankdata, metrics
from sim.config import PopulationConfig
from sim.model import BankModel
from sim.scenario import load_config

FILES = ("branches", "segments", "customers")
CENTRE = (30.59, 114.30)  # latitude, longitude of the (fictional) city's middle


def truth_bank(
    folder: Path, overrides: list[str], segment_table=None, planned=None
) -> dict[str, Path]:
    """Simulate a bank (``overrides``; ``segment_table``: its segments, default the config's) for
    its burn-in and the 12 months its CRM extract follows, and write its files to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    if segment_table is not None:
        segment_table.to_csv(folder / "segments.csv", index=False)
        overrides = [f"bank.data.segments={folder / 'segments.csv'}", *overrides]
    model = BankModel(load_config([*overrides, "months=12"]))
    model.run()
    return bank_files(model, folder, planned)


def design(agents: int) -> list[str]:
    """Overrides that simulate the default bank's real customers by ``agents`` agents (its
    extract then has about as many rows): ``population.weights`` scaled from the default's
    20,000."""
    pop = PopulationConfig()
    scale = pop.customers / agents
    weights = ",".join(f"{tier}:{w * scale:g}" for tier, w in pop.weights.items())
    return [f"population.customers={agents}", f"population.weights={{{weights}}}"]


def bank_files(model: BankModel, folder: Path, planned=None) -> dict[str, Path]:
    """Write ``folder``/branches.csv, segments.csv and customers.csv of a model that has run past
    its CRM extract's horizon; ``planned``: a branch that opens later (x_km, y_km,
    opening_month, staff). The ``bank.data`` key of each file -> its path."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {"segments": segments(model), "branches": branches(model, planned)}
    tables["customers"] = customers(model, list(tables["branches"]["branch"]))
    paths = {name: folder / f"{name}.csv" for name in FILES}
    for name, path in paths.items():
        tables[name].to_csv(path, index=False)
    return paths


def segments(model: BankModel) -> pd.DataFrame:
    """The segment table of the model's config."""
    return pd.DataFrame(
        {"segment": name, **dataclasses.asdict(s)}
        for name, s in model.config.population.segments.items()
    )


def branches(model: BankModel, planned=None) -> pd.DataFrame:
    """The opening branches with their sites in degrees around ``CENTRE``, annual costs drawn
    between 2.6 and 4.2M CNY (stream seeded by the run's seed), staff at the desks, and the
    ``planned`` branch if any."""
    table = metrics.branches(model)
    staff = np.bincount([m.branch for m in model.managers], minlength=len(table))
    opening = [0] * len(table)
    x, y = table["x"].to_numpy(), table["y"].to_numpy()
    if planned is not None:
        x, y = np.append(x, planned["x_km"]), np.append(y, planned["y_km"])
        staff, opening = np.append(staff, planned["staff"]), [*opening, planned["opening_month"]]
    lat, lon = degrees(x, y, model.config.bank.city_km)
    cost = np.round(2.6e6 + 1.6e6 * np.random.default_rng(model.config.seed).random(len(x)), -4)
    return pd.DataFrame(
        {
            "branch": [f"CB{i + 1:02d}" for i in range(len(x))],
            "lat": lat.round(5),
            "lon": lon.round(5),
            "cost": cost,
            "staff": staff,
            "opening_month": opening,
        }
    )


def degrees(x_km, y_km, side_km: float):
    """Latitude and longitude of map points, the map's middle at ``CENTRE``."""
    per_degree = bankdata.EARTH_KM * np.pi / 180
    lat = CENTRE[0] + (y_km - side_km / 2) / per_degree
    return lat, CENTRE[1] + (x_km - side_km / 2) / (per_degree * np.cos(np.radians(CENTRE[0])))


def customers(model: BankModel, labels: list[str]) -> pd.DataFrame:
    """The CRM extract in the columns a bank exports (no hidden states)."""
    e = metrics.crm_extract(model)
    assert e is not None, "the run took no CRM extract (output.crm_extract=false)"
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
