"""Banks whose truth is known: simulated with chosen parameters, exported as a bank exports its
files (sim.export, as examples/city_bank/make_files.py does) and rebuilt from them."""

from __future__ import annotations

from pathlib import Path

from sim import export
from sim.config import TIERS

GROUPS = (
    "attrition",
    *(f"attrition_{tier}" for tier in TIERS[:3]),
    "attrition_1_product",
    "attrition_2_products",
    "attrition_3_products",
    "attrition_4_products",
    "attrition_year1",
    "attrition_1_3y",
    "attrition_3_10y",
    "attrition_10y",
)


def make(folder: Path, truth: list[str], seed: int, rows: int) -> list[str]:
    """A truth bank of about ``rows`` extract rows standing for the default bank's ~213,000 real
    customers; the ``bank.data`` overrides that rebuild it."""
    paths = export.truth_bank(folder, [*export.design(rows), f"seed={seed}", *truth])
    return [f"bank.data.{key}={path}" for key, path in paths.items()]
