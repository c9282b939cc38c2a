"""The KPIs: one registry of each summary KPI's label, kind, display unit, format, direction
and the smallest effect worth acting on.

A KPI is computed in :mod:`sim.metrics` and declared here, once; the run summary
(``python -m sim.run``), the statistics, the console report, the HTML report and the charts read
its label, how to show it and how to judge it from here. Kinds: ``rate`` (a 0-1 share, shown in %
and its differences in percentage points), ``money`` (CNY, shown in CNY millions), ``count`` and
``score`` (shown as they are). A smallest effect is either absolute, in the KPI's own units
(0.0025 is a quarter of a retention point), or a fraction of a scale (:data:`SCALES`) that the
baseline's runs give once per point and that cannot be near zero: a year's revenue for the money
flows (NPV and its parts, revenue, cost, profit), the opening AUM for the AUM at the end, the
baseline's |mean| for counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

KINDS = ("rate", "money", "count", "score")
_SCALE = {"rate": 100.0, "money": 1e-6}
_UNIT = {"rate": "%", "money": "CNY M"}
SCALES = {
    "revenue": "a year's revenue of the baseline",
    "aum": "the baseline's opening AUM",
    "mean": "the baseline's |mean|",
}
"""What a smallest effect given as a fraction is a fraction of (``Kpi.scale_by``)."""


def kind_scale(kind: str) -> float:
    """Factor from stored values of a kind to display units: 100 for a rate (a share, shown in
    %), 1e-6 for money (CNY, shown in CNY M), 1 for counts and scores. Every table, chart and
    sentence that shows a value scales it by this (a series, too, that is not a summary KPI)."""
    return _SCALE.get(kind, 1.0)


def kind_unit(kind: str) -> str:
    """Display unit of a kind: "%", "CNY M", or "" for counts and scores."""
    return _UNIT.get(kind, "")


@dataclass(frozen=True)
class Kpi:
    """One KPI of a run's summary."""

    name: str  # the summary.json key
    label: str  # chart titles and table headings
    short: str  # in verdict sentences
    kind: str  # one of KINDS
    smallest_effect: float  # the smallest difference worth acting on (see ``scale_by``)
    scale_by: str = ""  # smallest_effect is a fraction of this scale (SCALES); "" absolute
    higher_is_better: bool = True
    digits: int = 1  # decimals of a value in display units

    @property
    def unit(self) -> str:
        """Display unit of a value: "%", "CNY M", or "" for counts and scores."""
        return kind_unit(self.kind)

    @property
    def scale(self) -> float:
        """Factor from stored values (shares, CNY) to display units (%, CNY M)."""
        return kind_scale(self.kind)

    def unit_label(self, delta: bool = False) -> str:
        """Display unit: "%" (or "pts" for a difference), "CNY M", or "" for counts and scores."""
        return "pts" if delta and self.kind == "rate" else self.unit

    def axis(self, delta: bool = False) -> str:
        """Axis or column label with its unit, e.g. "Δ NPV (CNY M)"."""
        unit = self.unit_label(delta)
        return f"{'Δ ' if delta else ''}{self.label}{f' ({unit})' if unit else ''}"

    def threshold(self, scales: Mapping[str, float], setting: float | None = None) -> float:
        """The smallest effect in the KPI's own units; ``setting`` replaces the default (same
        convention: absolute, or a fraction of ``scales[self.scale_by]``, see SCALES)."""
        value = self.smallest_effect if setting is None else float(setting)
        return value * abs(scales[self.scale_by]) if self.scale_by else value

    def describe_threshold(self, setting: float | None = None) -> str:
        """The smallest effect in words, e.g. "0.25 pts" or "2.5% of a year's revenue of the
        baseline"."""
        value = self.smallest_effect if setting is None else float(setting)
        if self.scale_by:
            return f"{value * 100:g}% of {SCALES[self.scale_by]}"
        unit = self.unit_label(delta=True)
        return f"{value * self.scale:g}{f' {unit}' if unit else ''}"

    def number(self, value: float, digits: int = 1, sign: bool = False) -> str:
        """A stored value in display units, without its unit: "2.4", "+12.3", "—" if missing."""
        if not math.isfinite(value):
            return "—"
        v = value * self.scale + 0.0  # no "-0.0" for a zero
        return f"{v:+,.{digits}f}" if sign else f"{v:,.{digits}f}"

    def text(self, value: float) -> str:
        """A stored value with its unit at the KPI's own precision: "88.6%", "CNY -27.6 M",
        "1,234", "0.712"."""
        number = self.number(value, self.digits)
        if self.kind == "money" and math.isfinite(value):
            return f"CNY {number} M"
        return number + ("%" if self.kind == "rate" and math.isfinite(value) else "")

    def amount(self, value: float, digits: int = 1) -> str:
        """A signed difference with its unit: "+2.4 pts", "-CNY 12.3 M", "+0.012"."""
        if self.kind == "money":
            return f"{'-' if value < 0 else '+'}CNY {abs(value) * self.scale:,.{digits}f} M"
        unit = self.unit_label(delta=True)
        return self.number(value, digits, sign=True) + (f" {unit}" if unit else "")


def decimals(*values: float) -> int:
    """Decimals that show the largest |value| (in display units) with two significant digits,
    at least one: 2.4 -> 1, 0.04 -> 3, 0.1 -> 2; so a nonzero interval never reads 0.0 to 0.0."""
    finite = [abs(v) for v in values if math.isfinite(v) and v != 0]
    if not finite or max(finite) >= 1:
        return 1
    return min(9, 1 - math.floor(math.log10(max(finite))))


def _rate(name: str, label: str, short: str) -> Kpi:
    return Kpi(name, label, short, "rate", 0.0025)


def _money(name: str, label: str, short: str, higher_is_better: bool = True) -> Kpi:
    return Kpi(name, label, short, "money", REVENUE_SHARE, "revenue", higher_is_better)


VALUE_LOST_PARTS = {
    "switched": "switching",
    "followed_manager": "following a manager",
    "natural": "natural exits",
    "closure": "branch closures",
    "mass": "mass-tier exits",
    "mid": "mid-tier exits",
    "high": "high-tier exits",
    "private": "private-tier exits",
}
"""The parts of ``value_lost`` (by exit reason, then by tier) and their words."""

REVENUE_SHARE = 0.025
"""The money flows' smallest effect: 2.5% of a year's revenue, one threshold for NPV and its
parts (on the default bank about CNY 9.8 M, near 1% of its NPV over 60 months)."""


DEFAULT_MONTHS = 60
"""The measured months of the default scenario (``months``): the horizon ``REGISTRY`` names."""


def registry(months: int = DEFAULT_MONTHS) -> dict[str, Kpi]:
    """Every KPI, in report order, its labels naming the horizon of ``months`` measured months
    ("Retention at 60 months"). Retention: a quarter of a point; money flows: 2.5% of a year's
    revenue, and so the customers' lifetime values (the book's value and the value lost to exits);
    the AUM at the end: 1% of the opening AUM; counts: 1% of the baseline's |mean|;
    scores (0-1): 0.01. docs/experiments.md gives the reasons."""
    at = f"at {int(months)} months"
    over = f"over {int(months)} months"
    return {
        k.name: k
        for k in (
            _rate("retention_12m", "Retention at 12 months", "retention at 12 months"),
            _rate("retention_horizon", f"Retention {at}", f"retention {at}"),
            _rate(
                "retention_mid_high",
                f"Mid/high-tier retention {at}",
                f"mid/high-tier retention {at}",
            ),
            _rate("aum_retention", f"AUM retention {at}", f"AUM retention {at}"),
            _money("revenue", f"Revenue {over}", "revenue"),
            _money("cost", f"Cost {over}", "cost", higher_is_better=False),
            _money("profit", f"Profit {over}", "profit"),
            _money("npv", f"NPV {over}", "NPV"),
            _money("npv_opening_book", "NPV: opening book", "NPV of the opening book"),
            _money("npv_newcomers", "NPV: newcomers", "NPV of newcomers"),
            _money("npv_fixed", "NPV: fixed costs", "NPV of fixed costs"),
            Kpi("aum_end", "AUM at the end", "AUM at the end", "money", 0.01, "aum"),
            _money("book_value", f"Value of the book {at}", f"value of the book {at}"),
            _money("value_lost", f"Value lost to exits {over} (PV)", "value lost to exits", False),
            _money("referral_value", f"Value of referrals {over} (PV)", "value of referrals"),
            *(
                _money(
                    f"value_lost_{name}", f"Value lost: {words}", f"value lost to {words}", False
                )
                for name, words in VALUE_LOST_PARTS.items()
            ),
            Kpi("new_customers", "New customers", "new customers", "count", 0.01, "mean", digits=0),
            Kpi("complaints", "Complaints", "complaints", "count", 0.01, "mean", False, digits=0),
            Kpi("satisfaction", "Satisfaction (0-1)", "satisfaction", "score", 0.01, digits=3),
            Kpi("effort", "Effort (0-1, lower is better)", "effort", "score", 0.01, "", False, 3),
            Kpi("manager_skill", "Manager skill (0-1)", "manager skill", "score", 0.01, digits=3),
        )
    }


REGISTRY: dict[str, Kpi] = registry()
"""Every KPI of the default horizon; ``registry(months)`` names another."""

NPV_PARTS = ("npv_opening_book", "npv_newcomers", "npv_fixed")
"""The parts of ``npv``: the opening book, newcomers net of acquisition, fixed costs."""


def thresholds_text(
    settings: Mapping[str, float], names: tuple[str, ...] = ("retention_horizon", "npv")
) -> str:
    """The smallest effects of ``names`` in words, with the ``settings`` that replace the
    defaults: "±0.25 pts for retention, ±2.5% of a year's revenue of the baseline for NPV"."""
    return ", ".join(
        f"±{REGISTRY[k].describe_threshold(settings.get(k))} for {REGISTRY[k].short}" for k in names
    )


def counted(n: int, noun: str, plural: str = "") -> str:
    """A count and its noun: "1 arm", "2 arms", "1,000 runs", "2 strategies" (``plural``)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
