"""Kaplan-Meier retention curves (analysis/survival.py): known lifetimes recovered, weights as
duplicated rows, the cohorts and censoring of a hand-made panel, and the curves in the charts,
the report and the workbook of the tiny stores (and a sentence where no panel was stored)."""

from __future__ import annotations

import math
import shutil

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from analysis.charts.common import STYLE, save
from analysis.charts.data import ChartData
from analysis.charts.survival import retention_curves
from analysis.report import statistics, write_report
from analysis.report.figures import ChartFile
from analysis.report.labels import Labels
from analysis.report.lifetimes import section
from analysis.report.workbook import write_workbook
from analysis.survival import CHARTS, OPENING_BOOK, cohorts, fit_groups, kaplan_meier, spells
from analysis.survival import survival as survival_of
from runner.store import load

MONTHS = 48


def panel(joined, left, weight=None, segment=None) -> pd.DataFrame:
    """A panel with the columns the curves read."""
    n = len(joined)
    return pd.DataFrame(
        {
            "weight": np.ones(n) if weight is None else np.asarray(weight, dtype=float),
            "segment": pd.Categorical(["family"] * n if segment is None else segment),
            "tier": pd.Categorical(["mass"] * n),
            "joined_month": np.asarray(joined, dtype=np.int32),
            "left_month": pd.array(left, dtype="Int32"),
        }
    )


def exponential_panel(n: int, median: float, seed: int = 0) -> pd.DataFrame:
    """Customers with exponential lifetimes of the given median, leaving in the month their
    lifetime ends (survival at month t: 0.5 ** (t / median)); an opening book and newcomers
    joining through the horizon, censored there."""
    rng = np.random.default_rng(seed)
    joined = np.where(rng.random(n) < 0.5, -rng.integers(0, 100, n), rng.integers(1, MONTHS, n))
    life = np.ceil(rng.exponential(median / math.log(2), n)).astype(int)
    left = np.maximum(joined, 0) + life
    return panel(joined, [x if x <= MONTHS else None for x in left], rng.choice([1.0, 4.0], n))


def test_known_exponential_lifetimes_are_recovered():
    median, n = 20.5, 20_000
    spell = spells(exponential_panel(n, median), MONTHS)
    assert spell["event"].mean() < 0.8  # censored at the horizon, some of them
    curve = kaplan_meier(spell["duration"], spell["event"], spell["weight"], MONTHS)
    at = curve.set_index("month")
    truth = 0.5 ** (12 / median)
    se = math.sqrt(truth * (1 - truth) / (n * 0.8))  # about, with the weights' design effect
    assert abs(at.loc[12, "survival"] - truth) < 3 * se
    assert at.loc[12, "ci_low"] < truth < at.loc[12, "ci_high"]
    assert 2 * se < at.loc[12, "ci_high"] - at.loc[12, "ci_low"] < 6 * se
    medians = fit_groups(spell, MONTHS)
    first = medians[(medians["kind"] == "segment") & (medians["survival"] <= 0.5)]["month"].min()
    assert abs(first - median) <= 1  # the first month half have left: 21, give or take one


def test_a_doubled_weight_is_a_duplicated_row():
    rng = np.random.default_rng(1)
    joined, life = rng.integers(-20, 10, 60), rng.integers(0, 30, 60)
    left = [j + x if j + x <= 24 and j + x > 0 else None for j, x in zip(joined, life, strict=True)]
    doubled = panel(joined, left, weight=[2.0] + [1.0] * 59)
    duplicated = pd.concat([panel(joined, left).iloc[[0]], panel(joined, left)])

    def curve(p: pd.DataFrame) -> pd.DataFrame:
        s = spells(p, 24)
        return kaplan_meier(s["duration"], s["event"], s["weight"], 24).reset_index(drop=True)

    a, b = curve(doubled), curve(duplicated)
    pd.testing.assert_series_equal(a["survival"], b["survival"])
    pd.testing.assert_series_equal(a["at_risk"], b["at_risk"])
    assert not curve(panel(joined, left, weight=[9.0] + [1.0] * 59))["survival"].equals(
        a["survival"]
    )  # the weight is not ignored
    scaled = curve(panel(joined, left, weight=[25.0] * 60))  # the real bank's size
    plain = curve(panel(joined, left))
    for column in ("survival", "ci_low", "ci_high"):  # bands from the simulated customers
        np.testing.assert_allclose(scaled[column], plain[column])
    np.testing.assert_allclose(scaled["at_risk"], plain["at_risk"] * 25)


def test_cohorts_and_censoring_of_a_hand_made_panel():
    p = panel(
        joined=[-30, -5, -3, -9, 3, 12, 13, 24],
        left=[None, 10, 0, -2, None, 15, None, None],
    )
    s = spells(p, 24)
    assert list(s.index) == [0, 1, 4, 5, 6, 7]  # left at 0 or before: never at risk
    assert list(s["duration"]) == [24, 10, 21, 3, 11, 0]
    assert list(s["event"]) == [False, True, False, True, False, False]
    year1, year2 = "joined in year 1", "joined in year 2"
    assert list(s["cohort"]) == [OPENING_BOOK, OPENING_BOOK, year1, year1, year2, year2]
    assert cohorts(24) == [OPENING_BOOK, year1, year2]
    assert cohorts(25) == [OPENING_BOOK, year1, year2, "joined in year 3"]
    curves = fit_groups(s, 24)
    book = curves[curves["group"] == OPENING_BOOK].set_index("month")
    assert book.loc[9, "survival"] == 1 and book.loc[10, "survival"] == 0.5
    assert book.loc[24, "survival"] == 0.5 and book.loc[24, "at_risk"] == 1  # censored at 24
    first = curves[curves["group"] == year1].set_index("month")
    assert first.loc[2, "survival"] == 1 and first.loc[3, "survival"] == 0.5
    assert first.index.max() == 21  # no one followed longer
    second = curves[curves["group"] == year2].set_index("month")
    assert (second["survival"] == 1).all() and second.index.max() == 11
    assert list(curves["kind"].unique()) == ["segment", "tier", "cohort"]


# --------------------------------------------------------------------------------------------
# The tiny stores
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def curves_report(tiny_playbook, tmp_path_factory):
    """The tiny playbook reported with only its survival charts drawn."""
    folder = tmp_path_factory.mktemp("survival") / "playbook"
    shutil.copytree(tiny_playbook, folder, ignore=shutil.ignore_patterns("figures", "report.*"))
    tables = statistics(folder)
    with mpl.rc_context(STYLE):
        drawn = list(retention_curves(ChartData(folder, tables, None)))
    (folder / "figures").mkdir()
    charts = [ChartFile.of(save(d, folder / "figures")) for d in drawn]
    written = write_report(folder, tables, load(folder), charts=charts)
    return folder, drawn, written


def test_the_chart_draws_a_panel_per_segment_with_the_baselines_band(curves_report):
    folder, drawn, _ = curves_report
    assert [d.name for d in drawn] == list(CHARTS)
    by_segment = drawn[0].figure
    panels = [ax for ax in by_segment.axes if ax.get_visible()]
    segments = pd.read_parquet(next(folder.glob("runs/*/panel.parquet")))["segment"]
    assert len(panels) == segments.nunique()
    for ax in panels:
        labels = [line.get_label() for line in ax.get_lines()]
        assert labels[0] == "Baseline" and len(labels) > 1  # the arms, the baseline first
        assert any(isinstance(c, PolyCollection) for c in ax.collections)  # its band
    assert "Tier as of the customer's exit or the run's end" in drawn[1].caption


def test_the_report_and_workbook_hold_the_curves(curves_report):
    folder, _, written = curves_report
    md = written.md.read_text(encoding="utf-8")
    part = md[md.index("## How long customers stay") : md.index("## Common random numbers")]
    assert "**Figure 1. Retention curves by segment.**" in part  # the only charts drawn
    assert "**Figure 2. Retention curves by tier and joining cohort.**" in part
    assert "| Strategy | " in part and "not reached" in part and "6 m: " in part
    assert "Curves from the 11 of 22 runs that stored a customer panel" in part
    assert "How long customers stay" in written.html.read_text(encoding="utf-8")
    sheets = pd.read_excel(folder / "results.xlsx", sheet_name=None)
    curves, medians = sheets["Survival curves"], sheets["Median lifetime"]
    assert list(curves.columns[-7:]) == [
        "Group kind",
        "Group",
        "Month",
        "Survival (%)",
        "CI low (%)",
        "CI high (%)",
        "At risk (customers)",
    ]
    assert set(curves["Group kind"]) == {"segment", "tier", "cohort"}
    assert set(medians["Arm"]) == set(load(folder)["arm"])
    assert "Survival curves" in set(sheets["Read me"]["Item"])


def test_the_opening_book_curve_is_the_retention_kpi(curves_report):
    """Without censoring before the horizon, the opening book's curve is the cohort's retention,
    month by month, of every run with a panel."""
    folder = curves_report[0]
    runs = load(folder)
    with_panel = runs[[(folder / "runs" / i / "panel.parquet").exists() for i in runs["run_id"]]]
    with_panel = with_panel[with_panel["arm"].isin(["baseline", "follow_up", "playbook"])]
    found = survival_of(folder, with_panel)
    book = found.curves[(found.curves["group"] == OPENING_BOOK) & (found.curves["month"] == 6)]
    kpi = with_panel.set_index("arm")["retention_horizon"]
    np.testing.assert_allclose(book.set_index("arm")["survival"], kpi.loc[book["arm"]], rtol=1e-6)


def test_a_store_without_panels_says_so(stored, tmp_path):
    root = stored / "playbook"
    runs = load(root)
    no_panel = runs[runs["seed"] == runs["seed"].max()]  # an experiment keeps the first seed's
    found = survival_of(root, no_panel)
    assert found.curves.empty and found.panels == 0 and found.runs == len(no_panel)
    text = found.coverage()
    assert text.startswith("No retention curves") and "output.panel" in text
    blocks = section(found, [], 1, {}).blocks
    assert [b.text for b in blocks] == [text]
    path = write_workbook(tmp_path / "results.xlsx", {}, None, Labels(3), {}, None, found)
    sheets = pd.read_excel(path, sheet_name=None)
    assert "Survival curves" not in sheets
    assert text in set(sheets["Read me"]["What it holds"])
