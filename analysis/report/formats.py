"""Small text formats shared by the report's sections (KPI values are formatted by
:mod:`sim.kpis`)."""

from __future__ import annotations

import math

import pandas as pd

from analysis.report.document import Cell, Table


def records(df: pd.DataFrame) -> list[dict]:
    """The rows of a table as dicts, with ``point`` and ``arm`` as text ("" when missing)."""
    rows = df.to_dict("records")
    for r in rows:
        r["point"] = "" if pd.isna(r.get("point", "")) else str(r.get("point", ""))
        r["arm"] = str(r["arm"]) if "arm" in r else ""
    return rows


def finite(x) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def number(x, digits: int = 1) -> str:
    """A plain number with thousands separators, "—" when missing."""
    return f"{float(x) + 0.0:,.{digits}f}" if finite(x) else "—"  # no "-0.0" for a zero


def integer(x) -> str:
    return str(int(x)) if finite(x) else "—"


def value(v) -> str:
    """A config value as text: 20,000, 0.5, [a, b], "k: v, ...", none."""
    if isinstance(v, float):
        return f"{v:,.0f}" if v.is_integer() and abs(v) >= 1e4 else f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(map(value, v)) + "]"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {value(x)}" for k, x in v.items())
    if v is None:
        return "none"
    return str(v)


def baseline_mark(arm: str, baseline: str) -> str:
    """A note under the baseline arm's name, unless it is called "baseline" already."""
    return "the baseline" if arm == baseline and arm != "baseline" else ""


def run_counts(runs: pd.DataFrame) -> str:
    """ "8 ok, 0 failed, 0 missing": the distinct runs of ``store.load`` by status."""
    counts = runs.drop_duplicates("run_id")["status"].value_counts() if len(runs) else {}
    return ", ".join(f"{int(counts.get(s, 0))} {s}" for s in ("ok", "failed", "missing"))


def pairs_table(pairs: list[tuple[str | Cell, Cell]]) -> Table:
    """A two-column table of settings and their values."""
    rows = [[k if isinstance(k, Cell) else Cell(k), v] for k, v in pairs]
    return Table(["Setting", "Value"], rows, kind="pairs")
