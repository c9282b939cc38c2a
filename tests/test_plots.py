"""The experiment charts (``analysis.charts``), drawn from two tiny stores built once.

``arms``: the playbook experiment (baseline and ten arms, outlet closure opening a new branch),
300 customers, 2 burn-in + 6 measured months, 2 seeds. ``grid``: the baseline and outlet closure
over a 2x2 grid of closure count x churn shock. The tests read the matplotlib figures that
``draw_all`` returns (series, labels, legends, values against the stored results) and the files
it writes.
"""

from __future__ import annotations

import shutil
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.container import ErrorbarContainer

from analysis.charts import CHARTS, Chart, arm_styles, chosen, draw_all
from analysis.charts.common import DETECTED, compact, key_label, short_point, signed
from analysis.charts.forest import FOREST_KPIS
from analysis.charts.ledger import line_label
from analysis.charts.sweep import SWEEP_KPIS
from analysis.charts.tradeoff import pareto_front
from analysis.report import statistics
from analysis.stats import BETTER, UNDECIDED
from experiments.compare import prepare, run_experiment
from experiments.store import load, load_run_table, load_timeseries
from sim.scenario import compose_config

TINY = ["population.customers=300", "months=6", "burn_in=2", "executor.workers=2"]
OPEN_NEW = '["strategy=[outlet_closure]","strategy.outlet_closure.open_new=true"]'
ARMS_ORDER = [
    "retention_over_time",
    "cumulative_profit",
    "retention_vs_npv",
    "differences_forest",
    "ledger_waterfall",
    "churn_by_segment_tier",
    "branch_map",
    "manager_skill",
]
GRID_ORDER = [*ARMS_ORDER[:4], "sweep_heatmap", "sweep_lines", *ARMS_ORDER[4:7]]
PNG = b"\x89PNG\r\n\x1a\n"
FAMILIES = ["over_time", "tradeoff", "forest", "sweep", "ledger", "churn", "branch_map", "skill"]


@dataclass
class Drawn:
    root: Path
    tables: dict[str, pd.DataFrame]
    charts: list[Chart]

    def chart(self, name: str) -> Chart:
        found = [c for c in self.charts if c.name == name]
        assert found, f"{name} not drawn; drawn: {[c.name for c in self.charts]}"
        return found[0]

    def runs(self) -> pd.DataFrame:
        runs = load(self.root)
        return runs[runs["status"] == "ok"]


def build(out: Path, *args: str) -> Path:
    overrides = [*TINY, "replications=2", "report=false", f"output.dir={out}", *args]
    compare, specs, root = prepare(compose_config(overrides, name="compare"), overrides)
    assert run_experiment(compare, specs, root, progress=False) == 0
    return root


@pytest.fixture(scope="session")
def stores(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("stores")
    return {
        "arms": build(out, "experiment.name=arms", f"experiment.arms.outlet_closure={OPEN_NEW}"),
        "grid": build(
            out,
            "experiment.name=grid",
            f"experiment.arms.outlet_closure={OPEN_NEW}",
            "experiment.only=[outlet_closure]",
            "+experiment.grid={strategy.outlet_closure.count:[1,2],"
            "strategy.outlet_closure.shock:[0.1,1.0]}",
        ),
    }


def drawn(stores, tmp_path_factory, name: str, arm: str | None = None) -> Drawn:
    tables = statistics(stores[name])
    out = tmp_path_factory.mktemp(f"charts_{name}")
    return Drawn(stores[name], tables, draw_all(stores[name], tables, out, arm=arm))


@pytest.fixture(scope="session")
def arms(stores, tmp_path_factory) -> Drawn:
    return drawn(stores, tmp_path_factory, "arms")


@pytest.fixture(scope="session")
def grid(stores, tmp_path_factory) -> Drawn:
    return drawn(stores, tmp_path_factory, "grid")


@pytest.fixture(scope="session")
def mentoring(stores, tmp_path_factory) -> Drawn:
    return drawn(stores, tmp_path_factory, "arms", arm="mentoring")


def labelled(fig) -> dict[str, list[str]]:
    """Colour (hex) of every line, error bar and band labelled with an arm, by label."""
    found: dict[str, list[str]] = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            found.setdefault(line.get_label(), []).append(to_hex(line.get_color()))
        for c in ax.containers:
            if isinstance(c, ErrorbarContainer):
                found.setdefault(c.get_label(), []).append(to_hex(c.lines[0].get_color()))
    return found


def legend_texts(fig) -> list[str]:
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def line_labels(ax) -> list[str]:
    return [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]


def arm_order(drawn: Drawn) -> list[str]:
    return list(dict.fromkeys(drawn.runs()["arm"]))


# --------------------------------------------------------------------------------------------
# Every chart, files and style
# --------------------------------------------------------------------------------------------


def test_every_chart_the_data_allows_is_drawn_in_reading_order(arms, grid):
    assert [c.name for c in arms.charts] == ARMS_ORDER  # no grid: no sweeps
    assert [c.name for c in grid.charts] == GRID_ORDER  # no mentoring or training: no skills
    for chart in [*arms.charts, *grid.charts]:
        assert chart.figure.get_suptitle().replace("\n", " ") == chart.title
        assert chart.caption and "\n" not in chart.caption and chart.caption.endswith(".")
        assert chart.png.name == f"{chart.name}.png" and chart.svg.name == f"{chart.name}.svg"


def test_every_chart_lives_in_its_family_module():
    modules = [draw.__module__ for draw in CHARTS]
    assert all(m.startswith("analysis.charts.") for m in modules), modules  # none in __init__
    assert sorted({m.removeprefix("analysis.charts.") for m in modules}) == sorted(FAMILIES)
    assert len({draw.__name__ for draw in CHARTS}) == len(CHARTS)


def test_files_are_presentation_pngs_and_parseable_svgs_with_their_titles(arms, grid):
    for chart in [*arms.charts, *grid.charts]:
        data = chart.png.read_bytes()
        assert data[:8] == PNG, chart.png
        width, height = struct.unpack(">II", data[16:24])
        assert width >= 1200 and height >= 600, (chart.name, width, height)
        phys = data.index(b"pHYs")
        dpi = struct.unpack(">I", data[phys + 4 : phys + 8])[0] * 0.0254
        assert 150 <= round(dpi) <= 200, (chart.name, dpi)
        svg = ET.parse(chart.svg).getroot()
        assert svg.tag == "{http://www.w3.org/2000/svg}svg"
        text = " ".join("".join(svg.itertext()).split())
        assert chart.title.split(":")[0] in text, chart.name  # text stays text


def test_an_arm_has_one_colour_in_every_figure_and_the_baseline_is_black(arms, grid):
    for drawn in (arms, grid):
        order = arm_order(drawn)
        expected = {a: s.colour for a, s in arm_styles(order, "baseline").items()}
        seen: dict[str, set[str]] = {}
        for chart in drawn.charts:
            for label, colours in labelled(chart.figure).items():
                if label in expected:
                    seen.setdefault(label, set()).update(colours)
        assert seen.keys() == set(order)
        assert {a: c.pop() for a, c in seen.items() if len(c) == 1} == {
            a: expected[a].lower() for a in order
        }
    colours = [s.colour for s in arm_styles(arm_order(arms), "baseline").values()]
    assert colours[0] == "#000000" and len(set(colours)) == len(colours) == 11
    okabe_ito = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}
    assert set(colours[1:7]) <= okabe_ito


# --------------------------------------------------------------------------------------------
# 1-2. Over time
# --------------------------------------------------------------------------------------------


def test_retention_over_time_shows_the_most_changed_arms_with_bands_and_differences(arms):
    fig = arms.chart("retention_over_time").figure
    top, bottom = fig.axes
    diffs = arms.tables["differences"]
    change = diffs[diffs["kpi"] == "retention_horizon"].set_index("arm")["mean_diff"].abs()
    others = [a for a in arm_order(arms) if a != "baseline"]
    biggest = set(change.reindex(others).sort_values(ascending=False, kind="stable").index[:6])
    shown = line_labels(top)
    assert shown == ["baseline", *[a for a in others if a in biggest]]
    assert line_labels(bottom) == shown[1:]
    assert len(top.collections) == len(shown)  # a 95% band per arm
    assert top.get_legend().get_title().get_text() == "Arm (6 of 10 arms)"
    assert "(%)" in top.get_ylabel() and "(pts)" in bottom.get_ylabel()
    assert "month" in bottom.get_xlabel().lower()
    runs = arms.runs()
    ts = load_timeseries(arms.root, runs[runs["arm"] == "baseline"])
    baseline = next(line for line in top.get_lines() if line.get_label() == "baseline")
    assert baseline.get_ydata()[0] == 100.0
    expected = ts.groupby("month")["retention"].mean().to_numpy() * 100
    np.testing.assert_allclose(baseline.get_ydata()[1:], expected)


def test_cumulative_profit_is_in_cny_millions_and_ends_at_the_runs_profit(arms):
    fig = arms.chart("cumulative_profit").figure
    top, bottom = fig.axes
    assert "CNY M" in top.get_ylabel() and "CNY M" in bottom.get_ylabel()
    summary = arms.tables["summary"].set_index("arm")
    for line in top.get_lines():
        if line.get_label() in summary.index:
            assert line.get_ydata()[0] == 0.0
            end = summary.loc[line.get_label(), "profit"] / 1e6
            assert line.get_ydata()[-1] == pytest.approx(end, rel=1e-9)
    for line in bottom.get_lines():
        if line.get_label() in summary.index:
            end = (
                summary.loc[line.get_label(), "profit"] - summary.loc["baseline", "profit"]
            ) / 1e6
            assert line.get_ydata()[-1] == pytest.approx(end, rel=1e-9, abs=1e-9)


# --------------------------------------------------------------------------------------------
# 3-4. Trade-off and differences
# --------------------------------------------------------------------------------------------


def test_pareto_front_keeps_exactly_the_points_nothing_beats_on_both():
    x = np.array([1.0, 2.0, 3.0, 2.0, 1.0, 3.0])
    y = np.array([3.0, 2.0, 1.0, 1.0, 3.0, 0.5])
    assert pareto_front(x, y).tolist() == [True, True, True, False, True, False]


def test_retention_vs_npv_marks_and_labels_the_pareto_front(arms):
    ax = arms.chart("retention_vs_npv").figure.axes[0]
    s = arms.tables["summary"]
    x, y = s["retention_horizon"].to_numpy() * 100, s["npv"].to_numpy() * 1e-6
    front = [
        i
        for i in range(len(s))
        if not any(
            x[j] >= x[i] and y[j] >= y[i] and (x[j] > x[i] or y[j] > y[i]) for j in range(len(s))
        )
    ]
    line = next(line for line in ax.get_lines() if line.get_label() == "Pareto front")
    drawn = sorted(zip(line.get_xdata(), line.get_ydata(), strict=True))
    np.testing.assert_allclose(drawn, sorted((x[i], y[i]) for i in front))
    labels = {t.get_text() for t in ax.texts}
    assert labels == {a + (" ★" if i in front else "") for i, a in enumerate(s["arm"])}
    assert any("Pareto front" in t for t in legend_texts(ax.figure))
    assert "%" in ax.get_xlabel() and "CNY M" in ax.get_ylabel()


def test_forest_plot_shows_every_arm_with_its_interval_and_fills_better_and_worse_ones(arms):
    fig = arms.chart("differences_forest").figure
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["Retention at horizon", "Mid/high-tier retention", "Profit", "NPV"]
    units = ["(pts)", "(pts)", "(CNY M)", "(CNY M)"]
    assert [ax.get_xlabel() for ax in fig.axes] == [
        f"Δ {title} {unit}" for title, unit in zip(titles, units, strict=True)
    ]
    diffs = arms.tables["differences"].set_index(["arm", "kpi"])
    others = [a for a in arm_order(arms) if a != "baseline"]
    for ax, kpi, unit in zip(fig.axes, FOREST_KPIS, units, strict=True):
        assert ax.get_xlabel().endswith(unit)
        if ax.get_subplotspec().is_first_col():  # the others share its rows
            ticks = zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()], strict=True)
            assert [label for _, label in sorted(ticks, reverse=True)] == others  # top down
        assert any(list(line.get_xdata()) == [0, 0] for line in ax.get_lines())  # zero line
        scale = 100 if unit == "(pts)" else 1e-6
        bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
        assert [c.get_label() for c in bars] == others
        for c in bars:
            d = diffs.loc[(c.get_label(), kpi)]
            point = c.lines[0]
            assert point.get_xdata()[0] == pytest.approx(d["mean_diff"] * scale)
            hollow = point.get_markerfacecolor() == "white"
            assert hollow == (d["verdict"] not in DETECTED)
            low, high = c.lines[2][0].get_segments()[0][:, 0]  # the interval drawn
            assert (low, high) == pytest.approx((d["ci_low"] * scale, d["ci_high"] * scale))
    assert {"better or worse", "negligible or undecided"} <= set(legend_texts(fig))


# --------------------------------------------------------------------------------------------
# 5. Waterfall
# --------------------------------------------------------------------------------------------


def test_waterfall_signs_revenue_up_and_cost_down_and_ends_at_the_profit_difference(grid):
    arm, point = chosen(grid.root, grid.tables)
    assert arm == "outlet_closure"
    chart = grid.chart("ledger_waterfall")
    assert "outlet_closure vs baseline" in chart.title and short_point(point) in chart.title
    ax = chart.figure.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    widths = [p.get_width() for p in ax.patches]
    assert labels[-1] == "Profit difference" and len(widths) == len(labels)
    assert sum(widths[:-1]) == pytest.approx(widths[-1])
    summary = grid.tables["summary"].set_index(["point", "arm"])
    profit = summary.loc[(point, arm), "profit"] - summary.loc[(point, "baseline"), "profit"]
    assert widths[-1] == pytest.approx(profit / 1e6)
    runs = grid.runs()
    ts = load_timeseries(grid.root, runs[runs["point"] == point])
    lines = [c for c in ts.columns if c.startswith(("revenue_", "cost_"))]
    totals = ts.groupby("arm")[lines].sum() / ts.groupby("arm")["seed"].nunique().iloc[0]
    diff = (totals.loc[arm] - totals.loc["baseline"]) / 1e6
    for label, width in zip(labels[:-1], widths[:-1], strict=True):
        column = next((c for c in lines if line_label(c) == label), None)
        if column is not None:
            sign = 1 if column.startswith("revenue_") else -1
            assert width == pytest.approx(sign * diff[column]), label
    closure = labels.index("Cost: outlet closure · closure")
    assert widths[closure] < 0
    assert "CNY M" in ax.get_xlabel()


def test_the_default_arm_has_the_best_retention_verdict_else_comes_first(arms):
    verdicts = arms.tables["verdicts"].copy()
    verdicts["retention_verdict"] = verdicts["profit_verdict"] = UNDECIDED
    tables = {**arms.tables, "verdicts": verdicts}
    assert chosen(arms.root, tables) == ("outlet_closure", "")
    verdicts.loc[verdicts["arm"] == "training", "retention_verdict"] = BETTER
    verdicts.loc[verdicts["arm"] == "follow_up", "retention_verdict"] = BETTER
    verdicts.loc[verdicts["arm"] == "training", "retention_diff"] = 0.5
    assert chosen(arms.root, tables) == ("training", "")  # the larger retention gain
    verdicts.loc[verdicts["arm"] == "follow_up", "profit_verdict"] = BETTER
    assert chosen(arms.root, tables) == ("follow_up", "")  # better on profit too
    assert chosen(arms.root, tables, arm="mentoring") == ("mentoring", "")
    with pytest.raises(ValueError, match="nope"):
        chosen(arms.root, tables, arm="nope")


def test_the_arm_argument_picks_the_waterfall_and_map_arm(mentoring):
    assert "mentoring vs baseline" in mentoring.chart("ledger_waterfall").title
    labels = [
        t.get_text() for t in mentoring.chart("ledger_waterfall").figure.axes[0].get_yticklabels()
    ]
    assert "Cost: mentoring · stipends" in labels
    fig = mentoring.chart("branch_map").figure
    assert fig.get_suptitle().endswith("mentoring")
    assert "closed branch" not in legend_texts(fig)  # mentoring closes none


# --------------------------------------------------------------------------------------------
# 6-7. Churn and the map
# --------------------------------------------------------------------------------------------


def test_churn_shows_annual_attrition_by_segment_and_tier_per_arm(arms):
    fig = arms.chart("churn_by_segment_tier").figure
    segments, tiers = fig.axes
    assert (segments.get_title(), tiers.get_title()) == ("By segment", "By tier")
    assert [t.get_text() for t in tiers.get_yticklabels()] == ["Mass", "Mid", "High", "Private"]
    names = [t.get_text() for t in segments.get_yticklabels()]
    assert names == ["Young professional", "Family", "Business owner", "Retiree", "Farmer"]
    assert all("% per year" in ax.get_xlabel() for ax in fig.axes)
    shown = line_labels(arms.chart("retention_over_time").figure.axes[0])
    assert [c.get_label() for c in tiers.containers] == shown
    runs = arms.runs()
    ts = load_timeseries(arms.root, runs[runs["arm"] == "baseline"])
    per_seed = ts.groupby("seed")
    rate = per_seed["exits_mass"].sum() / per_seed["customers_mass"].mean() * 12 / 6 * 100
    baseline = next(c for c in tiers.containers if c.get_label() == "baseline")
    assert baseline.lines[0].get_xdata()[0] == pytest.approx(rate.mean())


def test_branch_map_shows_the_closing_arm_before_and_after_on_one_scale(arms):
    fig = arms.chart("branch_map").figure
    assert "outlet_closure" in fig.get_suptitle()  # preferred: it closed branches
    before, after = fig.axes
    assert before.get_xlim() == after.get_xlim() and before.get_ylim() == after.get_ylim()
    assert before.get_aspect() == after.get_aspect() == 1.0
    assert before.get_xlabel() == after.get_xlabel() == before.get_ylabel() == "km"
    legend = legend_texts(fig)
    for entry in ("open branch", "closed branch", "new branch"):
        assert entry in legend
    counts = {
        t.split(" (")[0]: int(t.split("(")[1].rstrip(")").replace(",", ""))
        for t in legend
        if "(" in t
    }
    runs = arms.runs()
    first = runs[runs["arm"] == "outlet_closure"].sort_values("seed").iloc[0]
    # real customers (weights summed, each count rounded)
    assert counts["stayed"] + counts["left"] == pytest.approx(first["customers_start"], abs=1)
    assert counts["stayed"] + counts["joined"] == pytest.approx(first["customers_end"], abs=1)
    branches = load_run_table(arms.root, first["run_id"], "branches")
    closed = branches[branches["closed_month"].notna()][["x", "y"]].to_numpy()
    new = branches[branches["opened_month"].notna()][["x", "y"]].to_numpy()
    assert len(closed) == 2 and len(new) == 1
    offsets = [np.asarray(c.get_offsets()) for c in after.collections]
    assert any(o.shape == closed.shape and np.allclose(o, closed) for o in offsets)
    assert any(o.shape == new.shape and np.allclose(o, new) for o in offsets)


# --------------------------------------------------------------------------------------------
# 8-9. Sweeps and skills
# --------------------------------------------------------------------------------------------


def test_heatmap_shows_the_differences_over_both_grid_parameters(grid):
    fig = grid.chart("sweep_heatmap").figure
    maps = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in maps] == ["Retention at horizon", "NPV"]
    diffs = grid.tables["differences"]
    for ax, kpi, scale, unit in zip(maps, SWEEP_KPIS, (100, 1e-6), ("pts", "CNY M"), strict=True):
        assert ax.get_xlabel() == "outlet closure: count"
        assert ax.get_ylabel() == "outlet closure: shock"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2"]
        assert [t.get_text() for t in ax.get_yticklabels()] == ["0.1", "1"]
        d = diffs[(diffs["kpi"] == kpi) & (diffs["arm"] == "outlet_closure")]
        for count in (1, 2):
            for shock in (0.1, 1.0):
                row = d[d["point"].str.contains(f"count={count},.*shock={shock}")]
                value = ax.images[0].get_array()[[0.1, 1.0].index(shock), count - 1]
                assert value == pytest.approx(row["mean_diff"].iloc[0] * scale)
        bar = ax.images[0].colorbar
        assert unit in bar.ax.get_ylabel()


def test_sweep_lines_show_a_kpi_per_count_for_each_shock_with_bands(grid):
    fig = grid.chart("sweep_lines").figure
    retention, npv = fig.axes
    legend = retention.get_legend()
    assert legend.get_title().get_text() == "outlet closure: shock"
    assert [t.get_text() for t in legend.get_texts()] == ["0.1", "1"]
    assert list(retention.get_xticks()) == [1, 2]
    assert "pts" in retention.get_ylabel() and "CNY M" in npv.get_ylabel()
    assert npv.get_xlabel() == "outlet closure: count"
    diffs = grid.tables["differences"]
    for line in retention.get_lines():
        if line.get_label() in ("0.1", "1"):
            d = diffs[(diffs["kpi"] == "retention_horizon") & (diffs["arm"] == "outlet_closure")]
            d = d[d["point"].str.endswith(f"shock={float(line.get_label())}")]
            assert list(line.get_xdata()) == [1, 2]
            np.testing.assert_allclose(line.get_ydata(), d["mean_diff"].to_numpy() * 100)
    assert len(retention.collections) == 2  # a band per shock


def test_manager_skill_shows_bands_and_median_for_mentoring_and_training_arms(arms):
    fig = arms.chart("manager_skill").figure
    assert [ax.get_title() for ax in fig.axes] == ["baseline", "mentoring", "training", "playbook"]
    assert {"p10–p90", "p25–p75", "median", "baseline median"} <= set(legend_texts(fig))
    assert "Skill" in fig.axes[0].get_ylabel()
    runs = arms.runs()
    ts = load_timeseries(arms.root, runs[runs["arm"] == "mentoring"])
    median = ts.groupby("month")["manager_skill_p50"].mean().to_numpy()
    mentoring = fig.axes[1]
    assert len(mentoring.collections) == 2  # p10-p90 and p25-p75
    np.testing.assert_allclose(mentoring.get_lines()[0].get_ydata(), median)


# --------------------------------------------------------------------------------------------
# What the data cannot support is skipped
# --------------------------------------------------------------------------------------------


def test_charts_without_their_data_are_skipped(stores, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(stores["grid"], bare, ignore=shutil.ignore_patterns("panel.parquet"))
    charts = draw_all(bare, {}, tmp_path / "out")
    names = [
        "retention_over_time",
        "cumulative_profit",
        "ledger_waterfall",
        "churn_by_segment_tier",
    ]
    assert [c.name for c in charts] == names  # no tables: no trade-off, forest or sweeps
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{n}.{ext}" for n in names for ext in ("png", "svg")
    )
    empty = tmp_path / "empty"
    (empty / "runs").mkdir(parents=True)
    assert draw_all(empty, {}, tmp_path / "none") == []


def test_formatting_helpers():
    assert [compact(v) for v in (0.0, 3, 2500.0, 1e6, 3.5e6, "True")] == [
        "0",
        "3",
        "2.5k",
        "1M",
        "3.5M",
        "True",
    ]
    assert signed(-1.25, 1) == "−1.2" and signed(3) == "+3.0"
    point = "strategy.outlet_closure.count=3,strategy.partner_promotion.budget=1000000.0"
    assert short_point(point) == "count=3, budget=1M"
    assert key_label("strategy.partner_promotion.budget") == "partner promotion: budget"
