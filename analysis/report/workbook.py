"""``results.xlsx``: the report's numbers for a spreadsheet, in display units with the unit in
each header. Sheets: "Summary" (per arm: KPI means with 95% CIs, and the verdicts), "Differences"
(per arm and KPI: arm − baseline, its simultaneous CI, verdict and seeds needed), for an
experiment at a calibration's plausible sets "Across sets" and "By set" (``analysis.plausible``),
"Monthly" (the mean over seeds of each arm's monthly series), with customer panels "Survival
curves" and "Median lifetime" (``analysis.survival``) and "Read me" (what each sheet holds)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.harm import DIMENSIONS
from analysis.report.harm import group_words
from analysis.report.labels import Labels
from analysis.stats import METHOD, ROLES, VERDICTS
from analysis.survival import Survival
from sim.kpis import Kpi, kind_scale, kind_unit
from sim.metrics import discount_factors

MONTHLY = {  # time series column -> (header, kind): shown in the kind's unit (sim.kpis)
    "retention": ("Retention since burn-in", "rate"),
    "retention_mid_high": ("Mid/high-tier retention since burn-in", "rate"),
    "aum_retention": ("AUM retention since burn-in", "rate"),
    "customers": ("Customers", "count"),
    "aum": ("AUM", "money"),
    "revenue": ("Revenue", "money"),
    "cost": ("Cost", "money"),
    "profit": ("Profit", "money"),
}
WIDTH = (10, 48)  # column widths in characters: at least, at most


def write_workbook(
    path: Path,
    tables: dict[str, pd.DataFrame],
    monthly: pd.DataFrame | None,
    labels: Labels,
    facts: dict[str, str],
    discount_rate: float | None = None,
    survival: Survival | None = None,
) -> Path:
    """Write the workbook to ``path`` (atomically): ``tables`` are ``analysis.report.statistics``',
    ``monthly`` the stored time series (``runner.store.load_timeseries``), ``facts`` the
    settings the "Read me" sheet states (seeds, discount rate...), ``discount_rate`` the
    annual rate of the cumulative discounted profit and ``survival`` the retention curves."""
    sheets = {
        "Summary": summary_sheet(tables.get("summary", pd.DataFrame()), labels),
        "Differences": differences_sheet(tables.get("differences"), labels),
    }
    if "plausible_summary" in tables:
        sheets["Across sets"] = across_sheet(tables["plausible_summary"], labels)
        sheets["By set"] = by_set_sheet(tables["plausible_sets"], labels)
    if "harm" in tables:
        sheets["Who gets hurt"] = harm_sheet(tables["harm"], labels)
    sheets["Monthly"] = monthly_sheet(monthly, labels, discount_rate)
    if survival is not None and not survival.curves.empty:
        sheets["Survival curves"] = curves_sheet(survival.curves, labels)
        sheets["Median lifetime"] = medians_sheet(survival.medians, labels)
    elif survival is not None and (said := survival.coverage()):
        facts = {**facts, "Survival": said}
    sheets["Read me"] = readme_sheet(
        labels, facts, "Across sets" in sheets, "Survival curves" in sheets, "harm" in tables
    )
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
        for name, sheet in sheets.items():
            sheet.to_excel(writer, sheet_name=name, index=False)
            _readable(writer.sheets[name], sheet)
    os.replace(tmp, path)
    return path


def summary_sheet(summary: pd.DataFrame, labels: Labels) -> pd.DataFrame:
    """Per (point, arm): runs, each KPI's mean and 95% CI in display units, the verdicts."""
    if summary.empty:
        return pd.DataFrame({"Strategy": []})
    out = _arms(summary, labels)
    out["Runs"] = summary["n"].to_numpy()
    for role, name in ROLES.items():
        if f"{role}_verdict" in summary:
            out[f"Verdict on {labels.kpi(name).short}"] = summary[f"{role}_verdict"].to_numpy()
    for name, kpi in labels.kpis.items():
        if name not in summary:
            continue
        head = _header(kpi.label, kpi.unit)
        out[head] = _display(summary, name, kpi)
        out[f"{head}, CI low"] = _display(summary, f"{name}_ci_low", kpi)
        out[f"{head}, CI high"] = _display(summary, f"{name}_ci_high", kpi)
    return out


def differences_sheet(differences: pd.DataFrame | None, labels: Labels) -> pd.DataFrame:
    """Per (point, arm, KPI): the difference with its simultaneous CI, verdict and seeds."""
    if differences is None or differences.empty:
        return pd.DataFrame({"Strategy": []})
    out = _kpi_columns(differences, labels)
    scale = _scales(differences, labels)
    for column, head in (
        ("baseline_mean", "Baseline mean"),
        ("arm_mean", "Strategy mean"),
        ("mean_diff", "Difference"),
        ("ci_low", "CI low"),
        ("ci_high", "CI high"),
        ("smallest_effect", "Smallest effect worth acting on"),
    ):
        out[head] = differences[column].to_numpy(dtype=float) * scale
    out["Verdict"] = differences["verdict"].to_numpy()
    out["At least the smallest effect"] = differences["clears"].to_numpy()
    out["Why no CI"] = differences["note"].to_numpy()
    out["Seeds"] = differences["n"].to_numpy()
    out["Seeds that would decide it"] = differences["seeds_needed"].to_numpy()
    return out


def across_sheet(summary: pd.DataFrame, labels: Labels) -> pd.DataFrame:
    """Per (arm, KPI): the verdict across the plausible sets, how many sets said each verdict,
    the differences' mean, least and greatest, the hull of the sets' intervals, what the
    verdict depends on and the sentence."""
    out = _kpi_columns(summary, labels)
    out["Verdict across the sets"] = summary["verdict"].to_numpy()
    out["Sets"] = summary["sets"].to_numpy()
    for verdict in VERDICTS:
        out[f"Sets {verdict}"] = summary[verdict].to_numpy()
    scale = _scales(summary, labels)
    for column, head in (
        ("estimate", "Mean difference over the sets"),
        ("estimate_min", "Least difference"),
        ("estimate_max", "Greatest difference"),
        ("ci_low", "Lowest CI low"),
        ("ci_high", "Highest CI high"),
    ):
        out[head] = summary[column].to_numpy(dtype=float) * scale
    out["Depends on"] = summary["depends_on"].to_numpy()
    out["Rank correlation with it"] = summary["rho"].to_numpy(dtype=float)
    out["In words"] = summary["sentence"].to_numpy()
    return out


def by_set_sheet(per_set: pd.DataFrame, labels: Labels) -> pd.DataFrame:
    """Per (arm, KPI, plausible set): the set, the difference at it with its simultaneous CI and
    verdict, and the set's parameter values."""
    out = _kpi_columns(per_set, labels)
    for column, head in (("set", "Set"), ("trial", "Trial"), ("loss", "Loss")):
        out[head] = per_set[column].to_numpy()
    scale = _scales(per_set, labels)
    for column, head in (
        ("estimate", "Difference"),
        ("ci_low", "CI low"),
        ("ci_high", "CI high"),
        ("smallest_effect", "Smallest effect worth acting on"),
    ):
        out[head] = per_set[column].to_numpy(dtype=float) * scale
    out["Verdict"] = per_set["verdict"].to_numpy()
    out["At least the smallest effect"] = per_set["clears"].to_numpy()
    out["Why no CI"] = per_set["note"].to_numpy()
    out["Seeds"] = per_set["n"].to_numpy()
    out["Seeds that would decide it"] = per_set["seeds_needed"].to_numpy()
    first = list(per_set.columns).index("interval_level") + 1
    for parameter in per_set.columns[first:]:
        out[parameter] = per_set[parameter].to_numpy()
    return out


def _kpi_columns(df: pd.DataFrame, labels: Labels) -> pd.DataFrame:
    """The strategy, arm, KPI and unit columns of a table with one row per arm and KPI."""
    out = _arms(df, labels)
    kpis = [labels.kpi(k) for k in df["kpi"]]
    out["KPI"] = [k.label for k in kpis]
    out["Unit"] = [_units(k) for k in kpis]
    return out


def _scales(df: pd.DataFrame, labels: Labels) -> np.ndarray:
    """Each row's factor to display units."""
    return np.array([labels.kpi(k).scale for k in df["kpi"]])


def monthly_sheet(
    ts: pd.DataFrame | None, labels: Labels, discount_rate: float | None
) -> pd.DataFrame:
    """The mean over seeds of each (point, arm, month) of the series in MONTHLY, with the
    cumulative profit and, given the annual ``discount_rate``, the cumulative discounted profit
    (NPV to date)."""
    if ts is None or ts.empty:
        return pd.DataFrame({"Strategy": []})
    ts = ts.assign(point=ts["point"].fillna(""))
    columns = [c for c in MONTHLY if c in ts]
    if "profit" in ts:
        ts = ts.sort_values("month").assign(cumulative=ts.groupby("run_id")["profit"].cumsum())
        columns.append("cumulative")
        if discount_rate is not None:
            discounted = ts["profit"] * discount_factors(ts["month"], float(discount_rate))
            ts = ts.assign(discounted=discounted.groupby(ts["run_id"]).cumsum())
            columns.append("discounted")
    means = ts.groupby(["point", "arm", "month"], sort=False)[columns].mean().reset_index()
    means = means.sort_values(["point", "arm", "month"], kind="stable")
    out = _arms(means, labels)
    out["Month"] = means["month"].to_numpy()
    headers = MONTHLY | {
        "cumulative": ("Cumulative profit", "money"),
        "discounted": ("Cumulative discounted profit (NPV to date)", "money"),
    }
    for column in columns:
        head, kind = headers[column]
        out[_header(head, kind_unit(kind))] = means[column].to_numpy(dtype=float) * kind_scale(kind)
    return out


def harm_sheet(harm: pd.DataFrame, labels: Labels) -> pd.DataFrame:
    """Per (point, arm, grouping, group): the baseline's exits, the extra exits and the extra
    value lost (CNY M) against the baseline with their 95% CIs (:mod:`analysis.harm`)."""
    out = _arms(harm, labels)
    out["By"] = harm["dimension"].map(DIMENSIONS).to_numpy()
    out["Group"] = [group_words(r["dimension"], r["group"], r) for _, r in harm.iterrows()]
    out["Seeds"] = harm["n"].to_numpy()
    out["Baseline exits (customers)"] = harm["base_exits"].to_numpy(dtype=float)
    for column, head, scale in (("exits", "Extra exits (customers)", 1.0),
                                ("value_lost", "Extra value lost (CNY M)", 1e-6)):  # fmt: skip
        for suffix, words in (("", ""), ("_low", " CI low"), ("_high", " CI high")):
            out[head.replace(" (", f"{words} (")] = harm[column + suffix].to_numpy(float) * scale
    return out


def curves_sheet(curves: pd.DataFrame, labels: Labels) -> pd.DataFrame:
    """Per (point, arm, group, month): Kaplan-Meier survival with its 95% CI, in %, and the
    real customers at risk."""
    out = _arms(curves, labels)
    out["Group kind"] = curves["kind"].to_numpy()
    out["Group"] = curves["group"].to_numpy()
    out["Month"] = curves["month"].to_numpy()
    for column, head in (("survival", "Survival"), ("ci_low", "CI low"), ("ci_high", "CI high")):
        out[f"{head} (%)"] = curves[column].to_numpy(dtype=float) * 100
    out["At risk (customers)"] = curves["at_risk"].to_numpy(dtype=float)
    return out


def medians_sheet(medians: pd.DataFrame, labels: Labels) -> pd.DataFrame:
    """Per (point, arm, segment): customers, median lifetime ("not reached" when survival
    stays above 50%), survival at 12 months and at the horizon, in %."""
    out = _arms(medians, labels)
    out["Segment"] = medians["segment"].to_numpy()
    out["Runs pooled"] = medians["runs"].to_numpy()
    out["Customers (per run)"] = medians["customers"].to_numpy(dtype=float)
    median = medians["median"].to_numpy(dtype=float)
    out["Median lifetime (months)"] = [m if np.isfinite(m) else "not reached" for m in median]
    out["Survival at 12 months (%)"] = medians["survival_12m"].to_numpy(dtype=float) * 100
    horizon = f"Survival at {labels.months} months (%)"
    out[horizon] = medians["survival_horizon"].to_numpy(dtype=float) * 100
    return out


def readme_sheet(
    labels: Labels,
    facts: dict[str, str],
    plausible: bool = False,
    survival: bool = False,
    harm: bool = False,
) -> pd.DataFrame:
    hurt = (
        "Who gets hurt",
        "Per strategy and group of leavers (by exit reason, tier, segment, channel, whether"
        " their branch closed, branch catchment): the baseline's exits, and the strategy's"
        " extra exits and extra lifetime value lost against the baseline on the same seeds,"
        " means over the seeds with Student-t 95% CIs per group (not simultaneous).",
    )
    lifetimes = [
        (
            "Survival curves",
            "Per strategy, group and month: the Kaplan-Meier share of customers still with the"
            " bank, counted from the start of the measured period (opening book) or from joining"
            " (newcomers), with its 95% CI, and the real customers at risk; the runs' customers"
            " pooled, weighted by the real customers each stands for. Groups: segment, tier (as"
            " of the customer's exit or the run's end) and joining cohort (the opening book, or"
            " the year of the measured period joined in).",
        ),
        (
            "Median lifetime",
            "Per strategy and segment: the month by which half the customers had left ('not"
            " reached' when more than half stayed as long as they were followed), and survival"
            " at 12 months and at the horizon (blank when no one was followed that long).",
        ),
    ]
    across = [
        (
            "Across sets",
            "Per strategy and KPI: its verdict across the calibration's plausible sets (better,"
            " worse or negligible when every set says so, else undecided), how many sets said"
            " each, and what it depends on when they differ (the parameter whose values rank the"
            " sets most like their differences).",
        ),
        (
            "By set",
            "Per strategy, KPI and plausible set: the difference at that set with its"
            " simultaneous 95% CI and verdict, and the set's parameter values.",
        ),
    ]
    rows = [
        ("Summary", "Per strategy: each KPI's mean over seeds with its 95% CI, and the verdicts."),
        (
            "Differences",
            "Per strategy and KPI: strategy − baseline on the same seeds, its simultaneous 95%"
            f" CI ({METHOD}), the verdict and, when undecided, about how"
            " many seeds would decide it. Differences of rates are in percentage points.",
        ),
        *(across if plausible else []),
        (
            "Monthly",
            "Per strategy and measured month: the mean over seeds of the monthly series."
            " Retention since burn-in: the share of the customers active after burn-in still"
            " with the bank.",
        ),
        *(lifetimes if survival else []),
        *([hurt] if harm else []),
        ("Horizon", f"{labels.months} measured months after burn-in"),
        *facts.items(),
        ("Units", "Rates in %, money in CNY millions (CNY M), as each header says."),
        ("Verdicts", "better, worse, negligible (too small to matter) or undecided."),
    ]
    return pd.DataFrame(rows, columns=["Item", "What it holds"])


def _arms(df: pd.DataFrame, labels: Labels) -> pd.DataFrame:
    """The first columns of a sheet: the parameter point (when there are points), the
    strategy's title and its arm name."""
    out = pd.DataFrame(index=range(len(df)))
    points = df["point"].fillna("").astype(str).to_numpy() if "point" in df else None
    if points is not None and any(points):
        out["Point"] = points
    arms = df["arm"].astype(str).to_numpy()
    out["Strategy"] = [labels.arm(a) for a in arms]
    out["Arm"] = arms
    return out


def _units(kpi: Kpi) -> str:
    """The unit of a KPI's means and of its differences: "%, differences in pts"."""
    delta = kpi.unit_label(delta=True)
    return kpi.unit if delta == kpi.unit else f"{kpi.unit}, differences in {delta}"


def _header(label: str, unit: str) -> str:
    return f"{label} ({unit})" if unit else label


def _display(summary: pd.DataFrame, column: str, kpi: Kpi) -> np.ndarray:
    """A column in display units; NaN when the summary has none (no CI from one seed)."""
    if column not in summary:
        return np.full(len(summary), np.nan)
    return summary[column].to_numpy(dtype=float) * kpi.scale


def _readable(sheet, df: pd.DataFrame) -> None:
    """Bold, frozen header row; column widths from their contents (longer texts wrap);
    numbers with 2 decimals."""
    from openpyxl.styles import Alignment, Font

    sheet.freeze_panes = "A2"
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for i, column in enumerate(df.columns, 1):
        letter = sheet.cell(row=1, column=i).column_letter
        longest = max([len(str(v)) for v in df[column].head(200)] + [len(str(column)) // 2])
        sheet.column_dimensions[letter].width = min(max(longest + 2, WIDTH[0]), WIDTH[1])
        for (cell,) in sheet.iter_rows(min_row=2, min_col=i, max_col=i):
            if pd.api.types.is_float_dtype(df[column]):
                cell.number_format = "#,##0.00"
            elif longest > WIDTH[1]:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
