"""Calibration targets: the quantities, computed from a CRM extract, and the targets file.

One definition serves both sides: a bank's own CRM extract (``python -m sim.targets EXTRACT
[--out TARGETS.yaml]`` writes a targets file with bands from the data's sampling error, by default
``results/targets/<extract's name>.yaml``) and the
model's (``sim.calibration.measure``). An extract has one row per customer active at a reference
date: ``aum`` (or ``balance``), ``products``, ``tenure_months`` (then), ``churned`` (left within
the next 12 months), optionally ``weight`` (real customers a row stands for, default 1),
``exit_reason`` and ``active`` (rows with ``active`` false are left out). Every figure counts
real customers (rows weighted by ``weight``; AUM shares by ``weight * aum``). A quantity whose
group is empty is NaN and skipped with a note. The model-side quantities (the books checks and
``kpi.<name>``, a monthly KPI's mean over the measured months) need a run: see
``sim.calibration``. docs/calibration.md gives every definition and the band rule.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict, cast

import numpy as np
import pandas as pd
import yaml

from sim import bankdata
from sim.config import TIER_BOUNDS
from sim.folders import replacing
from sim.overrides import refuse
from sim.params import ConfigError

TARGETS_DIR = Path(__file__).resolve().parent.parent / "configs" / "targets"
RATE, MEAN, RATIO = "rate", "mean", "ratio"  # kinds: a 0-1 share; a mean; a ratio of two rates
DATA = {  # name -> (kind, what)
    "attrition": (RATE, "annual attrition, all customers"),
    "attrition_mass": (RATE, "annual attrition, AUM < 50k"),
    "attrition_mid": (RATE, "annual attrition, AUM 50k-500k"),
    "attrition_high": (RATE, "annual attrition, AUM 500k-6M"),
    "attrition_private": (RATE, "annual attrition, AUM >= 6M"),
    "attrition_affluent": (RATE, "annual attrition, AUM >= 500k"),
    "attrition_1_product": (RATE, "annual attrition, 1 product"),
    "attrition_2_products": (RATE, "annual attrition, 2 products"),
    "attrition_3_products": (RATE, "annual attrition, 3 products"),
    "attrition_4_products": (RATE, "annual attrition, 4+ products"),
    "attrition_year1": (RATE, "annual attrition, tenure < 1 year"),
    "attrition_1_3y": (RATE, "annual attrition, tenure 1-3 years"),
    "attrition_3_10y": (RATE, "annual attrition, tenure 3-10 years"),
    "attrition_10y": (RATE, "annual attrition, tenure >= 10 years"),
    "aum_attrition": (RATE, "AUM share held by those who left"),
    "natural_exits": (RATE, "annual exits by death or relocation"),
    "products": (MEAN, "products per customer"),
    "affluent_share": (RATE, "customers with AUM >= 500k"),
    "affluent_aum_share": (RATE, "AUM held by AUM >= 500k"),
    "private_share": (RATE, "customers with AUM >= 6M"),
    "private_aum_share": (RATE, "AUM held by AUM >= 6M"),
    "affluent_vs_mass": (RATIO, "affluent / mass attrition"),
    "year1_vs_10y": (RATIO, "year-1 / 10-year attrition"),
    "one_vs_4_products": (RATIO, "1-product / 4+-product attrition"),
}
MODEL = {  # model-side only: the books checks
    "cost_per_branch": "CNY per branch per year (books check)",
    "cost_income_ratio": "cost-income ratio, credit losses aside",
    "margin_on_deposits": "deposit revenue / deposits per year",
    "digital_share": "digital share of transactions",
}
KPI = "kpi."
MONTHLY_KPIS = (  # the sim.kpis REGISTRY KPIs that are also monthly columns of a run
    "retention_mid_high",
    "aum_retention",
    "revenue",
    "cost",
    "profit",
    "complaints",
    "satisfaction",
    "effort",
    "manager_skill",
)
BAND_SE = 2.0  # a computed band: value +- max(BAND_SE standard errors, BAND_FLOOR x |value|)
BAND_FLOOR = 0.05
OUT = Path("results") / "targets"  # where the command writes without --out


def known(name: str) -> bool:
    """Whether ``name`` is a calibration quantity."""
    return name in DATA or name in MODEL or name.removeprefix(KPI) in MONTHLY_KPIS


def what(name: str) -> str:
    """A quantity in words."""
    if name in DATA:
        return DATA[name][1]
    return MODEL.get(name) or f"monthly {name.removeprefix(KPI)}, mean over the measured months"


# --------------------------------------------------------------------------------------------
# The quantities of an extract
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    value: float
    se: float  # standard error from sampling (Kish effective sample size)
    n_eff: float


NAN = Estimate(math.nan, math.nan, 0.0)


class Columns(TypedDict):
    """The columns of an extract the quantities need (:func:`columns`): float arrays, one value
    per active row."""

    weight: np.ndarray
    aum: np.ndarray
    products: np.ndarray
    tenure: np.ndarray
    churned: np.ndarray
    natural: np.ndarray | None  # churned by a natural exit; None without exit reasons


def _rate(y: np.ndarray, w: np.ndarray) -> Estimate:
    """Weighted share of ``y`` (0/1) with its binomial standard error."""
    total = w.sum()
    if total <= 0:
        return NAN
    p = float(np.dot(w, y) / total)
    n_eff = float(total**2 / np.dot(w, w))
    return Estimate(p, math.sqrt(max(p * (1 - p), 0.0) / n_eff), n_eff)


def _mean(x: np.ndarray, w: np.ndarray) -> Estimate:
    total = w.sum()
    if total <= 0:
        return NAN
    m = float(np.dot(w, x) / total)
    n_eff = float(total**2 / np.dot(w, w))
    return Estimate(m, math.sqrt(float(np.dot(w, (x - m) ** 2) / total) / n_eff), n_eff)


def _ratio(a: Estimate, b: Estimate) -> Estimate:
    """a / b, its standard error by the delta method (independent groups)."""
    if not (b.value > 0 and a.value >= 0):
        return NAN
    r = a.value / b.value
    rel = math.hypot(a.se / a.value, b.se / b.value) if a.value > 0 else b.se / b.value
    return Estimate(r, r * rel, min(a.n_eff, b.n_eff))


def estimates(extract: pd.DataFrame) -> dict[str, Estimate]:
    """Every quantity of ``DATA`` a checked extract gives, NaN where its group is empty."""
    return estimates_of(columns(extract))


def estimates_of(x: Columns) -> dict[str, Estimate]:
    """Every quantity of ``DATA`` from an extract's :func:`columns`."""
    w, left, aum, n, tenure = x["weight"], x["churned"], x["aum"], x["products"], x["tenure"]

    def attrition(mask):
        return _rate(left[mask], w[mask])

    wa = w * aum
    affluent, private = aum >= TIER_BOUNDS[1], aum >= TIER_BOUNDS[2]
    e = {
        "attrition": attrition(slice(None)),
        "attrition_mass": attrition(aum < TIER_BOUNDS[0]),
        "attrition_mid": attrition((aum >= TIER_BOUNDS[0]) & ~affluent),
        "attrition_high": attrition(affluent & ~private),
        "attrition_private": attrition(private),
        "attrition_affluent": attrition(affluent),
        "attrition_1_product": attrition(n == 1),
        "attrition_2_products": attrition(n == 2),
        "attrition_3_products": attrition(n == 3),
        "attrition_4_products": attrition(n >= 4),
        "attrition_year1": attrition(tenure < 12),
        "attrition_1_3y": attrition((tenure >= 12) & (tenure < 36)),
        "attrition_3_10y": attrition((tenure >= 36) & (tenure < 120)),
        "attrition_10y": attrition(tenure >= 120),
        "aum_attrition": _rate(left, wa),
        "natural_exits": NAN if x["natural"] is None else _rate(x["natural"], w),
        "products": _mean(n, w),
        "affluent_share": _rate(affluent, w),
        "affluent_aum_share": _rate(affluent, wa),
        "private_share": _rate(private, w),
        "private_aum_share": _rate(private, wa),
    }
    e["affluent_vs_mass"] = _ratio(e["attrition_affluent"], e["attrition_mass"])
    e["year1_vs_10y"] = _ratio(e["attrition_year1"], e["attrition_10y"])
    e["one_vs_4_products"] = _ratio(e["attrition_1_product"], e["attrition_4_products"])
    return e


def bootstrap(x: Columns, draws: int, seed: int) -> pd.DataFrame:
    """Every quantity of ``DATA`` in ``draws`` resamples (rows drawn with replacement) of an
    extract's :func:`columns`: a row per draw, whose covariance is the quantities' sampling
    covariance (``sim.identify``)."""
    rng = np.random.default_rng(seed)
    n = len(x["weight"])
    arrays = cast(dict[str, np.ndarray | None], x)
    rows = []
    for _ in range(draws):
        pick = rng.integers(0, n, n)
        resampled = {k: None if v is None else v[pick] for k, v in arrays.items()}
        rows.append({k: e.value for k, e in estimates_of(cast(Columns, resampled)).items()})
    return pd.DataFrame(rows)


def quantities(extract: pd.DataFrame) -> dict[str, float]:
    """Every quantity of ``DATA`` of a checked extract (NaN where its group is empty)."""
    return {k: e.value for k, e in estimates(extract).items()}


def columns(extract: pd.DataFrame) -> Columns:
    """The columns the quantities need, as float arrays, active rows only, from a checked
    extract (:func:`sim.bankdata.read_extract`, or a run's ``crm_extract``)."""
    df = extract[extract["active"].to_numpy(bool)] if "active" in extract else extract
    natural = None
    if "exit_reason" in df:
        natural = (df["exit_reason"].astype("string") == "natural").fillna(False).to_numpy()
    churned = df["churned"].to_numpy(bool)
    return {
        "weight": df["weight"].to_numpy(np.float64) if "weight" in df else np.ones(len(df)),
        "aum": df["aum" if "aum" in df else "balance"].to_numpy(np.float64),
        "products": df["products"].to_numpy(np.float64),
        "tenure": df["tenure_months"].to_numpy(np.float64),
        "churned": churned.astype(np.float64),
        "natural": None if natural is None else (natural & churned).astype(np.float64),
    }


# --------------------------------------------------------------------------------------------
# Targets files
# --------------------------------------------------------------------------------------------


FIELDS = ("value", "lo", "hi", "what", "source")  # of a target in a targets file


@dataclass(frozen=True)
class Target:
    value: float
    lo: float
    hi: float
    what: str = ""
    source: str = ""

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2

    def within(self, model: float) -> bool:
        return self.lo <= model <= self.hi


@dataclass(frozen=True)
class Targets:
    path: Path
    sha256: str
    source: dict
    targets: dict[str, Target]


def resolve(name_or_path: str) -> Path:
    """A targets file: a path, or a name in configs/targets/."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or len(path.parts) > 1:
        if not path.is_file():
            raise ConfigError(f"targets={name_or_path}: no such file")
        return path
    names = sorted(p.stem for p in TARGETS_DIR.glob("*.yaml"))
    if name_or_path not in names:
        raise ConfigError(
            f"targets={name_or_path!r} is unknown; give a file or one of {names} (configs/targets/)"
        )
    return TARGETS_DIR / f"{name_or_path}.yaml"


def read_targets(path: Path) -> Targets:
    """Read and check a targets file (one-line ConfigError naming the file and key)."""
    text = path.read_bytes()
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("targets"), dict) or not doc["targets"]:
        raise ConfigError(f"{path}: targets is missing; expected targets: {{name: {{lo, hi}}}}")
    source = doc.get("source") or {}
    targets = {name: _target(path, name, spec) for name, spec in doc["targets"].items()}
    return Targets(path, hashlib.sha256(text).hexdigest(), source, targets)


def _target(path: Path, name, spec) -> Target:
    key = f"{path}: targets.{name}"
    if not known(str(name)):
        raise ConfigError(f"{key} is not a known quantity; see docs/calibration.md")
    if not isinstance(spec, dict):
        raise ConfigError(f"{key} must be a mapping with lo and hi")
    extra = set(map(str, spec)) - set(FIELDS)
    if extra:
        raise ConfigError(f"{key}.{sorted(extra)[0]} is not a known key; allowed: {FIELDS}")
    for field in ("lo", "hi"):
        if field not in spec:
            raise ConfigError(f"{key}.{field} is missing")
    numbers = {f: spec[f] for f in ("value", "lo", "hi") if f in spec}
    for field, v in numbers.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(f"{key}.{field}={v!r} is not a finite number")
    lo, hi = float(spec["lo"]), float(spec["hi"])
    if not lo < hi:
        raise ConfigError(f"{key}: lo={lo:g} is not below hi={hi:g}")
    value = float(spec.get("value", (lo + hi) / 2))
    if not lo <= value <= hi:
        raise ConfigError(f"{key}.value={value:g} is outside lo-hi {lo:g}-{hi:g}")
    return Target(value, lo, hi, str(spec.get("what") or what(name)), str(spec.get("source", "")))


def bands(found: dict[str, Estimate]) -> tuple[dict[str, dict], list[str]]:
    """Targets (value, lo, hi, what, source) from estimates: value +- max(BAND_SE x SE,
    BAND_FLOOR x |value|), clipped to 0-1 for shares; and notes on the quantities skipped."""
    targets, notes = {}, []
    for name, e in found.items():
        half = max(BAND_SE * e.se, BAND_FLOOR * abs(e.value))
        if not math.isfinite(e.value) or not half > 0:
            notes.append(f"{name}: skipped ({'empty group' if e.n_eff == 0 else 'no spread'})")
            continue
        hi = e.value + half
        targets[name] = {
            "value": _round(e.value),
            "lo": _round(max(e.value - half, 0.0)),
            "hi": _round(min(hi, 1.0) if DATA[name][0] == RATE else hi),
            "what": DATA[name][1],
            "source": f"the extract: SE {e.se:.3g}, effective n {e.n_eff:,.0f}",
        }
    return targets, notes


def _round(x: float) -> float:
    return float(f"{x:.6g}")


def main(argv: list[str] | None = None) -> int:
    """``python -m sim.targets EXTRACT [--out TARGETS.yaml]``."""
    parser = argparse.ArgumentParser(
        prog="./testbed sim.targets",
        description="Compute a calibration targets file from a bank's CRM extract (CSV/Parquet).",
    )
    parser.add_argument("extract", type=Path)
    parser.add_argument(
        "--out", type=Path, help=f"the targets file to write (default: {OUT}/<extract's name>.yaml)"
    )
    args = parser.parse_args(argv)
    out = args.out or OUT / f"{args.extract.stem}.yaml"
    try:
        x = columns(bankdata.read_extract(str(args.extract)))
    except ConfigError as exc:
        refuse(exc)
    targets, notes = bands(estimates_of(x))
    rows, weight = len(x["weight"]), x["weight"].sum()
    doc = {
        "source": {
            "extract": str(args.extract),
            "sha256": bankdata.digest(bankdata.path_of(str(args.extract))),
            "rows": rows,
            "real_customers": round(float(weight), 2),
            "computed": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(["./testbed sim.targets", *(argv or sys.argv[1:])]),
            "bands": f"value +- max({BAND_SE:g} SE, {BAND_FLOOR:g} x value); docs/calibration.md",
        },
        "targets": targets,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with replacing(out) as tmp:
        tmp.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    for note in notes:
        print(f"note: {note}")
    print(f"{len(targets)} targets from {rows:,} rows written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
