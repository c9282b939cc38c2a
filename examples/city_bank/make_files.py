"""Make the example bank's files: ``.venv/bin/python examples/city_bank/make_files.py``.

The files are synthetic, made by the model itself so that the truth is known: a bank like the
embedded one but with its own segment mix and a higher switching base (``TRUTH``), simulated for
one year after burn-in. Its CRM extract (customers at the reference month and who left within
12 months), its branch network (sites as latitude and longitude, costs, staff, one branch that
opens two years in) and its segment table are written as a bank would export them
(:func:`sim.export.truth_bank`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from sim import export
from sim.config import DEFAULT_SEGMENTS

HERE = Path(__file__).resolve().parent
TRUTH = ["behaviour.churn_base=0.145"]  # what a calibration should find (the default is 0.115)
SEGMENT_SHARES = {  # an older, wealthier book than the embedded bank's
    "young_professional": 0.22,
    "family": 0.30,
    "business_owner": 0.10,
    "retiree": 0.26,
    "farmer": 0.12,
}
PLANNED = {"x_km": 22.0, "y_km": 9.0, "opening_month": 24, "staff": 0}
DESIGN = [
    "population.customers=3000",
    # a 1-in-6.4 sample of the embedded bank's design: ~210k real customers, as 12 branches
    "population.weights={mass:160,mid:19.2,high:6.4,private:1.6}",
    "seed=11",
]


def segments() -> pd.DataFrame:
    """The embedded bank's segments with this bank's mix."""
    rows = [
        {"segment": name, **dataclasses.asdict(s), "share": SEGMENT_SHARES[name]}
        for name, s in DEFAULT_SEGMENTS.items()
    ]
    return pd.DataFrame(rows)


if __name__ == "__main__":
    paths = export.truth_bank(HERE, [*DESIGN, *TRUTH], segments(), PLANNED)
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
