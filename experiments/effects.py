"""``python -m experiments.effects RESULTS_DIR``: record each strategy's effect at its defaults.

Reads the paired differences of a playbook comparison (``differences.csv`` of
``python -m experiments.compare``) and writes ``docs/strategy_effects.csv``: for each strategy arm,
its effect on retention, mid/high retention and NPV against the baseline with the simultaneous
CIs and verdicts of the report ("better, possibly small" when the interval reaches inside the
smallest effect). The hand-written ``why`` column (why a banker would find the
magnitude plausible) is kept from the file as it was. ``python -m sim.strategies`` then renders
the table into ``docs/strategies.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from analysis.stats import verdict_words
from sim.strategies.base import EFFECT_KPIS as MEASURES
from sim.strategies.base import EFFECTS


def effects(differences: pd.DataFrame, why: dict[str, str]) -> pd.DataFrame:
    """One row per arm: seeds, and per measure the mean difference, CI and verdict."""
    d = differences[differences["point"].fillna("") == ""]
    rows = []
    for arm, g in d.groupby("arm", sort=False):
        by = g.set_index("kpi")
        row = {"strategy": arm, "seeds": int(by.loc[MEASURES["retention"], "n"])}
        for name, kpi in MEASURES.items():
            r = by.loc[kpi]
            row |= {
                name: r["mean_diff"],
                f"{name}_low": r["ci_low"],
                f"{name}_high": r["ci_high"],
                f"{name}_verdict": verdict_words(r["verdict"], bool(r.get("clears", True))),
            }
        rows.append(row | {"why": why.get(arm, "")})
    return pd.DataFrame(rows)


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: ./testbed experiments.effects RESULTS_DIR")
    differences = Path(sys.argv[1]) / "differences.csv"
    if not differences.is_file():
        sys.exit(f"error: {differences} not found; run ./testbed compare first")
    old = pd.read_csv(EFFECTS, keep_default_na=False) if EFFECTS.is_file() else None
    why = {} if old is None else dict(zip(old["strategy"], old["why"], strict=True))
    table = effects(pd.read_csv(differences, dtype={"point": str}), why)
    table.to_csv(EFFECTS, index=False, float_format="%.6g")
    print(f"wrote {EFFECTS} ({len(table)} arms); now run: ./testbed sim.strategies")


if __name__ == "__main__":
    main()
