"""The experiment charts (``analysis.charts``), drawn from two tiny stores built once.

``arms``: the tiny playbook shared with the report tests (``tiny_playbook``,
tests/tiny_store.py: baseline and ten arms, outlet closure opening a new branch, 300 customers,
2 burn-in + 6 measured months, 2 seeds). ``grid``: the same scenario, the baseline and outlet
closure over a 2x2 grid of closure count x churn shock. The tests read the matplotlib figures that
``draw_all`` returns (series, labels, legends, values against the stored results) and the files
it writes.
"""

from __future__ import annotations

import shutil
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.colors import to_hex
from matplotlib.container import ErrorbarContainer
from tiny_store import playbook

from analysis.charts import CHARTS, Chart, arm_styles, chosen, draw_all
from analysis.charts.churn import churn
from analysis.charts.common import (
    BASELINE_COLOUR,
    DETECTED,
    FIXED_COLOURS,
    PALETTE,
    STYLE,
    applies,
    compact,
    key_axis,
    key_label,
    param_unit,
    short_point,
    signed,
    slot_style,
)
from analysis.charts.data import ChartData
from analysis.charts.forest import FOREST_KPIS
from analysis.charts.ledger import COVER, _largest_lines, line_label, npv_effects
from analysis.charts.sweep import SWEEP_KPIS
from analysis.charts.tradeoff import pareto_front
from analysis.report import statistics, who_gets_hurt
from analysis.stats import BETTER, UNDECIDED
from runner.store import experiment_meta, load, load_run_table, load_timeseries
from sim.config import TIERS
from sim.strategies import title as arm_title

ARMS_ORDER = [
    "retention_over_time",
    "cumulative_profit",
    "retention_vs_npv",
    "differences_forest",
    "ledger_waterfall",
    "churn_by_segment_tier",
    "survival_by_segment",
    "survival_by_tier_cohort",
    "harm_map",
    "manager_skill",
]
GRID_ORDER = [*ARMS_ORDER[:4], "sweep_heatmap", "sweep_lines", *ARMS_ORDER[4:9]]
PNG = b"\x89PNG\r\n\x1a\n"
FAMILIES = [
    *("over_time", "tradeoff", "forest", "sweep", "ledger", "churn", "survival", "harm_map"),
    "skill",
]


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


@pytest.fixture(scope="session")
def stores(tiny_playbook, tmp_path_factory) -> dict[str, Path]:
    """The stores the charts are drawn from, read in place (a test that changes one copies it)."""
    grid = playbook(
        tmp_path_factory.mktemp("stores"),
        "experiment.name=grid",
        "experiment.only=[outlet_closure]",
        "+experiment.grid={strategy.outlet_closure.count:[1,2],"
        "strategy.outlet_closure.shock:[0.1,1.0]}",
    )
    return {"arms": tiny_playbook, "grid": grid}


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


CHART_ARMS = ["mentoring", "training"]


@pytest.fixture(scope="session")
def chart_arms(stores, tmp_path_factory) -> Drawn:
    """The arms store drawn with two chart arms, mentoring the arm of the single-arm charts."""
    tables = statistics(stores["arms"])
    out = tmp_path_factory.mktemp("charts_chart_arms")
    charts = draw_all(stores["arms"], tables, out, arm="mentoring", arms=CHART_ARMS)
    return Drawn(stores["arms"], tables, charts)


@pytest.fixture(scope="session")
def mentoring(chart_arms) -> Drawn:
    return chart_arms


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


def titled(names) -> list[str]:
    """The arms' titles, as the charts show them."""
    return [arm_title(a) for a in names]


def by_title(drawn: Drawn) -> dict[str, str]:
    """Arm name by its title (the label a chart shows), every title distinct."""
    found = {arm_title(a): a for a in arm_order(drawn)}
    assert len(found) == len(arm_order(drawn))
    return found


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
        styles = arm_styles(order, "baseline")
        expected = {arm_title(a): s.colour.lower() for a, s in styles.items()}  # legends: titles
        seen: dict[str, set[str]] = {}
        for chart in drawn.charts:
            for label, colours in labelled(chart.figure).items():
                if label in expected:
                    seen.setdefault(label, set()).update(colours)
        assert seen.keys() == expected.keys()
        assert {a: c.pop() for a, c in seen.items() if len(c) == 1} == expected
    styles = arm_styles(arm_order(arms), "baseline")
    looks = [(s.colour, s.dash) for s in styles.values()]
    assert looks[0] == ("#000000", "-") and len(set(looks)) == len(looks) == 11
    assert all(styles[a] == slot_style(i) for a, i in FIXED_COLOURS.items())
    # how far apart the colours are, for colour-blind readers too: tests/test_chart_palette.py


def test_lines_in_a_second_style_are_drawn_over_the_solid_ones(arms):
    """Where a dashed arm's line runs with a solid one (lean service with product innovation),
    the dashed line is on top and the solid one shows through its gaps."""
    top = arms.chart("retention_over_time").figure.axes[0]
    lines = {line.get_label(): line for line in top.get_lines()}
    dashed = [line for line in lines.values() if line.get_linestyle() == "--"]
    solid = [line for line in lines.values() if line.get_linestyle() == "-"]
    assert dashed and solid
    assert min(line.get_zorder() for line in dashed) > max(line.get_zorder() for line in solid)


def test_an_arm_keeps_its_colour_whatever_subset_or_order_is_styled():
    full = arm_styles(["baseline", *FIXED_COLOURS], "baseline")
    subset = arm_styles(["baseline", "training", "outlet_closure"], "baseline")
    assert subset["training"] == full["training"]
    assert subset["outlet_closure"] == full["outlet_closure"]
    assert subset["baseline"].colour == BASELINE_COLOUR
    mixed = arm_styles(["close3", "baseline", "playbook", "promote"], "baseline")
    held = {mixed["playbook"].colour}
    assert mixed["playbook"].colour == PALETTE[FIXED_COLOURS["playbook"]]
    assert mixed["close3"].colour == next(c for c in PALETTE if c not in held)
    assert len({s.colour for s in mixed.values()}) == 4


def test_the_same_arm_has_the_same_colour_in_charts_showing_different_arms(arms, chart_arms):
    colours: dict[str, set[str]] = {}
    shown = []
    for drawn in (arms, chart_arms):
        for name in ("retention_over_time", "cumulative_profit"):
            found = labelled(drawn.chart(name).figure)
            shown.append(set(found))
            for label, values in found.items():
                colours.setdefault(label, set()).update(values)
    assert len({frozenset(s) for s in shown}) > 1  # the charts show different arms
    assert all(len(c) == 1 for c in colours.values()), colours


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
    assert shown == titled(["baseline", *[a for a in others if a in biggest]])
    assert line_labels(bottom) == shown[1:]
    assert len(top.collections) == len(shown)  # a 95% band per arm
    assert top.get_legend().get_title().get_text() == "Strategy (6 of 10 shown)"
    assert "(%)" in top.get_ylabel() and "(pts)" in bottom.get_ylabel()
    assert "month" in bottom.get_xlabel().lower()
    runs = arms.runs()
    ts = load_timeseries(arms.root, runs[runs["arm"] == "baseline"])
    baseline = next(line for line in top.get_lines() if line.get_label() == arm_title("baseline"))
    assert baseline.get_ydata()[0] == 100.0
    expected = ts.groupby("month")["retention"].mean().to_numpy() * 100
    np.testing.assert_allclose(baseline.get_ydata()[1:], expected)


def test_cumulative_discounted_difference_ends_at_the_npv_difference_of_the_verdicts(arms):
    chart = arms.chart("cumulative_profit")
    (ax,) = chart.figure.axes
    ylabel = " ".join(ax.get_ylabel().split())
    assert "CNY M" in ylabel and "discounted at 8% a year" in ylabel
    assert "discounted at 8% a year" in chart.caption
    diffs = arms.tables["differences"]
    npv = diffs[diffs["kpi"] == "npv"].set_index("arm")["mean_diff"] / 1e6
    profit = diffs[diffs["kpi"] == "profit"].set_index("arm")["mean_diff"] / 1e6
    names = by_title(arms)
    lines = [line for line in ax.get_lines() if names.get(line.get_label()) in npv.index]
    assert len(lines) == 6  # the arms that change the NPV most
    for line in lines:
        arm = names[line.get_label()]
        assert line.get_ydata()[0] == 0.0
        end = line.get_ydata()[-1]
        assert end == pytest.approx(npv[arm], rel=1e-9, abs=1e-9)
        if abs(profit[arm]) > 1e-3:
            assert end != pytest.approx(profit[arm], rel=1e-6)  # discounted
    assert len(ax.collections) == len(lines)  # a 95% band per arm
    assert any(list(line.get_ydata()) == [0, 0] for line in ax.get_lines())  # the baseline


# --------------------------------------------------------------------------------------------
# 3-4. Trade-off and differences
# --------------------------------------------------------------------------------------------


def test_pareto_front_keeps_exactly_the_points_nothing_beats_on_both():
    x = np.array([1.0, 2.0, 3.0, 2.0, 1.0, 3.0])
    y = np.array([3.0, 2.0, 1.0, 1.0, 3.0, 0.5])
    assert pareto_front(x, y).tolist() == [True, True, True, False, True, False]


def paired(tables, kpi: str, scale: float) -> pd.DataFrame:
    d = tables["differences"]
    return d[d["kpi"] == kpi].set_index("arm")[["mean_diff", "ci_low", "ci_high"]] * scale


def test_retention_vs_npv_draws_paired_differences_with_the_verdicts_cis(arms):
    chart = arms.chart("retention_vs_npv")
    ax = chart.figure.axes[0]
    retention, npv = paired(arms.tables, "retention_horizon", 100), paired(arms.tables, "npv", 1e-6)
    bars = {c.get_label(): c for c in ax.containers if isinstance(c, ErrorbarContainer)}
    assert sorted(bars) == sorted(titled(a for a in arm_order(arms) if a != "baseline"))
    names = by_title(arms)
    for label, c in bars.items():
        arm = names[label]
        x, y = c.lines[0].get_xdata()[0], c.lines[0].get_ydata()[0]
        assert (x, y) == pytest.approx((retention.loc[arm, "mean_diff"], npv.loc[arm, "mean_diff"]))
        for seg, d, axis in zip(c.lines[2], (retention, npv), (0, 1), strict=True):
            drawn = np.asarray(seg.get_segments()[0])
            expected = d.loc[arm, ["ci_low", "ci_high"]].to_numpy(dtype=float)
            if np.isfinite(expected).all():
                assert sorted(drawn[:, axis]) == pytest.approx(sorted(expected))
            else:  # no interval (no spread on 2 seeds): no whisker
                assert drawn.size == 0
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert retention["ci_low"].notna().any() and npv["ci_low"].notna().any()
    assert x0 < min(retention["ci_low"].min(), -0.25) and x1 > max(retention["ci_high"].max(), 0.25)
    assert y0 < min(npv["ci_low"].min(), 0) and y1 > max(npv["ci_high"].max(), 0)
    zero = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert any(list(line.get_xdata()) == [0, 0] for line in zero)
    assert any(list(line.get_ydata()) == [0, 0] for line in zero)
    smallest = arms.tables["differences"].query("kpi == 'retention_horizon'")["smallest_effect"]
    spans = [p.get_extents() for p in ax.patches]  # the negligible bands
    assert len(spans) == 2 and smallest.max() == pytest.approx(0.0025)
    assert any("negligible: within ±0.25 pts" in t for t in legend_texts(chart.figure))


def test_retention_vs_npv_marks_the_pareto_front_and_keeps_its_legend_inside(arms):
    fig = arms.chart("retention_vs_npv").figure
    ax = fig.axes[0]
    retention, npv = paired(arms.tables, "retention_horizon", 100), paired(arms.tables, "npv", 1e-6)
    x = np.append(retention["mean_diff"].to_numpy(), 0.0)  # the baseline at the origin
    y = np.append(npv.reindex(retention.index)["mean_diff"].to_numpy(), 0.0)
    names = [*retention.index, "baseline"]
    front = pareto_front(x, y)
    line = next(line for line in ax.get_lines() if line.get_label() == "Pareto front")
    drawn = sorted(zip(line.get_xdata(), line.get_ydata(), strict=True))
    np.testing.assert_allclose(drawn, sorted(zip(x[front], y[front], strict=True)))
    labels = {t.get_text() for t in ax.texts}
    assert labels == {arm_title(a) + (" ★" if f else "") for a, f in zip(names, front, strict=True)}
    assert any("Pareto front" in t for t in legend_texts(fig))
    renderer = fig.canvas.get_renderer()
    box = fig.legends[0].get_window_extent(renderer)
    page = fig.bbox
    assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0  # nothing cut off
    assert "pts" in ax.get_xlabel() and "CNY M" in ax.get_ylabel()


def test_forest_plot_shows_every_arm_with_its_interval_and_fills_better_and_worse_ones(arms):
    fig = arms.chart("differences_forest").figure
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "Retention at 6 months",
        "Mid/high-tier retention at 6 months",
        "Profit over 6 months",
        "NPV over 6 months",
    ]
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
            assert [label for _, label in sorted(ticks, reverse=True)] == titled(others)  # top down
        assert any(list(line.get_xdata()) == [0, 0] for line in ax.get_lines())  # zero line
        scale = 100 if unit == "(pts)" else 1e-6
        bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
        assert [c.get_label() for c in bars] == titled(others)
        for c in bars:
            d = diffs.loc[(by_title(arms)[c.get_label()], kpi)]
            point = c.lines[0]
            assert point.get_xdata()[0] == pytest.approx(d["mean_diff"] * scale)
            hollow = point.get_markerfacecolor() == "white"
            assert hollow == (d["verdict"] not in DETECTED)
            drawn = np.asarray(c.lines[2][0].get_segments()[0])  # the interval drawn
            if np.isfinite([d["ci_low"], d["ci_high"]]).all():
                low, high = drawn[:, 0]
                assert (low, high) == pytest.approx((d["ci_low"] * scale, d["ci_high"] * scale))
            else:  # no interval: no whisker
                assert drawn.size == 0
    assert {"better or worse", "negligible or undecided"} <= set(legend_texts(fig))


# --------------------------------------------------------------------------------------------
# 5. Waterfall
# --------------------------------------------------------------------------------------------


def test_waterfall_signs_revenue_up_and_cost_down_and_ends_at_the_npv_difference(grid):
    arm, point = chosen(grid.root, grid.tables)
    assert arm == "outlet_closure"
    chart = grid.chart("ledger_waterfall")
    assert f"{arm_title('outlet_closure')} vs baseline" in chart.title
    assert short_point(point) in chart.title
    ax = chart.figure.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    widths = [p.get_width() for p in ax.patches]
    assert labels[-1] == "NPV difference" and len(widths) == len(labels)
    assert sum(widths[:-1]) == pytest.approx(widths[-1])
    diffs = grid.tables["differences"].set_index(["point", "arm", "kpi"])
    assert widths[-1] == pytest.approx(diffs.loc[(point, arm, "npv"), "mean_diff"] / 1e6)
    runs = grid.runs()
    ts = load_timeseries(grid.root, runs[runs["point"] == point])
    lines = [c for c in ts.columns if c.startswith(("revenue_", "cost_"))]
    discounted = ts[lines].mul(1.08 ** -(ts["month"] / 12), axis=0).assign(arm=ts["arm"])
    totals = discounted.groupby("arm")[lines].sum() / ts.groupby("arm")["seed"].nunique().iloc[0]
    diff = (totals.loc[arm] - totals.loc["baseline"]) / 1e6
    for label, width in zip(labels[:-1], widths[:-1], strict=True):
        column = next((c for c in lines if line_label(c) == label), None)
        if column is not None:
            sign = 1 if column.startswith("revenue_") else -1
            assert width == pytest.approx(sign * diff[column]), label
    closure = labels.index("Cost: outlet closure · closure")
    assert widths[closure] < 0
    assert "CNY M" in ax.get_xlabel() and "discounted at 8% a year" in ax.get_xlabel()


def test_the_ledger_shows_a_panel_per_arm_shown_on_one_scale(arms):
    chart = arms.chart("ledger_waterfall")
    panels = [ax for ax in chart.figure.axes if ax.get_visible()]
    titles = [ax.get_title() for ax in panels]
    shown = line_labels(arms.chart("cumulative_profit").figure.axes[0])
    assert titles == shown  # the arms that change the NPV most
    assert len({ax.get_xlim() for ax in panels}) == 1  # one scale
    diffs = arms.tables["differences"].query("kpi == 'npv'").set_index("arm")["mean_diff"]
    for ax, title in zip(panels, titles, strict=True):
        total = ax.patches[-1].get_width()  # the last bar: the NPV difference
        assert total == pytest.approx(diffs[by_title(arms)[title]] / 1e6)
    assert "Not shown: " in chart.caption
    d = ChartData(arms.root, arms.tables, None)
    effects = npv_effects(d, [by_title(arms)[t] for t in titles])
    labels = [t.get_text() for t in panels[0].get_yticklabels()]
    for arm in effects.columns:  # every arm's largest line is named
        assert line_label(effects[arm].abs().idxmax()) in labels, arm


def test_the_ledger_names_the_line_that_makes_an_arms_difference():
    """Outlet closure's branch costs saved (+17) are its difference; five other arms have
    fifteen lines larger than that between them. The old rule (the lines largest in any arm)
    left it in "Other lines"; each arm's largest line is named, then the lines of the arm
    least explained, until every arm's "Other lines" are a small remainder."""
    costs = {
        arm: {f"cost_{arm}.{part}": -size for part, size in (("a", 30), ("b", 25), ("c", 20))}
        for arm in ("digital_scenario", "product_innovation", "partner_promotion", "training")
    }
    costs["playbook"] = {"cost_playbook.a": -40, "cost_playbook.b": -22, "cost_playbook.c": -21}
    closure = {"cost_branches": 17.0, "cost_outlet_closure.closure": -4.0}
    closure |= {"revenue_deposit_margin": -0.6, "revenue_wealth_fees": -0.3, "cost_staff": 0.2}
    effects = pd.DataFrame({"outlet_closure": closure, **costs}).fillna(0.0)
    for top in (3, 7, 14):  # the panels' room, and less: every arm's largest line is named
        shown = _largest_lines(effects, top)
        assert "cost_branches" in shown.index, top
        assert all(effects[arm].abs().idxmax() in shown.index for arm in effects.columns), top
        assert shown.sum().to_numpy() == pytest.approx(effects.sum().to_numpy())  # nothing lost
    roomy = _largest_lines(effects, top=30)
    assert "cost_outlet_closure.closure" in roomy.index
    other = roomy.loc["Other lines"] if "Other lines" in roomy.index else 0 * effects.iloc[0]
    share = other.abs() / effects.abs().sum()
    assert (share <= 1 - COVER + 1e-9).all(), share  # with room: a small remainder each
    revenue = [i for i, c in enumerate(roomy.index) if c.startswith("revenue_")]
    assert revenue == list(range(len(revenue)))  # revenue lines first


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


def test_the_arm_argument_picks_the_waterfall_arm(mentoring):
    assert f"{arm_title('mentoring')} vs baseline" in mentoring.chart("ledger_waterfall").title
    labels = [
        t.get_text() for t in mentoring.chart("ledger_waterfall").figure.axes[0].get_yticklabels()
    ]
    assert "Cost: mentoring · stipends" in labels


# --------------------------------------------------------------------------------------------
# 6-7. Churn and the map
# --------------------------------------------------------------------------------------------


def mass_attrition(drawn: Drawn, arm: str) -> pd.Series:
    """An arm's annual attrition of the mass tier per seed, in % (the tiny store: 6 months)."""
    runs = drawn.runs()
    per_seed = load_timeseries(drawn.root, runs[runs["arm"] == arm]).groupby("seed")
    return per_seed["exits_mass"].sum() / per_seed["customers_mass"].mean() * 12 / 6 * 100


def test_churn_shows_each_arms_attrition_against_the_baseline_by_segment_and_tier(arms):
    chart = arms.chart("churn_by_segment_tier")
    fig = chart.figure
    segments, tiers = fig.axes
    assert (segments.get_title(), tiers.get_title()) == ("By segment", "By tier")
    assert chart.title.endswith("change vs the baseline")
    groups = [t.get_text().split("\n")[0] for t in tiers.get_yticklabels()]
    assert groups == ["Mass", "Mid", "High", "Private"]
    names = [t.get_text().split("\n")[0] for t in segments.get_yticklabels()]
    assert names == ["Young professional", "Family", "Business owner", "Retiree", "Farmer"]
    assert all(ax.get_xlabel() == "Δ annual attrition (pts per year)" for ax in fig.axes)
    shown = line_labels(arms.chart("retention_over_time").figure.axes[0])
    assert [c.get_label() for c in tiers.containers] == shown[1:]  # the baseline is zero
    zero = [line for line in tiers.get_lines() if list(line.get_xdata()) == [0, 0]]
    assert zero and zero[0].get_label() == arm_title("baseline")
    base = mass_attrition(arms, "baseline")
    assert tiers.get_yticklabels()[0].get_text() == f"Mass\nbaseline {base.mean():.1f}%"
    names = by_title(arms)
    for c in tiers.containers:
        arm = names[c.get_label()]
        mine = mass_attrition(arms, arm)
        top = np.asarray(c.lines[0].get_xdata())[0]  # the mass tier's row: the top
        assert top == pytest.approx((mine - base).mean())  # paired on seeds


def test_churn_intervals_lie_inside_the_axis_and_their_caps_outsize_the_dots(arms):
    fig = arms.chart("churn_by_segment_tier").figure
    for ax in fig.axes:
        low, high = ax.get_xlim()
        for c in ax.containers:
            assert isinstance(c, ErrorbarContainer)
            ends = np.concatenate([np.asarray(s)[:, 0] for s in c.lines[2][0].get_segments()])
            assert low <= np.nanmin(ends) and np.nanmax(ends) <= high  # none cut off
            caps = c.lines[1]
            assert caps and caps[0].get_markersize() > c.lines[0].get_markersize()


def synthetic_churn(seeds: int = 20) -> pd.DataFrame:
    """A time series whose attrition levels (about 15% a year) are pinned down far more tightly
    than the axis of levels is long, and whose arms differ by a point or less: the case of the
    default comparison (20 seeds, 20,000 customers)."""
    rng = np.random.default_rng(7)
    effects = {"baseline": 0.0, "lean_service": -0.008, "training": 0.003}
    groups = ("family", "retiree", *TIERS)
    rows = []
    for seed in range(seeds):
        shared = rng.normal(0, 0.002)  # the seed's own luck, common to every arm
        for arm, effect in effects.items():
            own = rng.normal(0, 0.0005)
            for month in range(1, 13):
                rate = 0.15 + effect + shared + own
                row = {"arm": arm, "seed": seed, "month": month}
                for g in groups:
                    row[f"customers_{g}"] = 10_000.0
                    row[f"exits_{g}"] = 10_000.0 * rate / 12
                rows.append(row)
    return pd.DataFrame(rows)


def test_churn_intervals_are_wide_enough_to_see_when_the_levels_are_pinned_down():
    """The plotted 95% CIs span pixels, not a hair: the old chart drew levels on an axis
    from 0 to past 20%, where an interval of ±0.1 pts is under a pixel wide."""
    ts = synthetic_churn()
    arms = list(pd.unique(ts["arm"]))
    d = SimpleNamespace(
        ts=ts,
        baseline="baseline",
        styles=arm_styles(arms, "baseline"),
        seeds=20,
        at_point=lambda: "",
        shown=lambda kpi: (arms, "", "Strategy"),
    )
    assert applies(churn, d)
    with mpl.rc_context(STYLE):
        (drawn,) = churn(d)
    fig = drawn.figure
    fig.canvas.draw()
    widths = []
    for ax in fig.axes:
        for c in ax.containers:
            for segment in c.lines[2][0].get_segments():
                pixels = ax.transData.transform(np.asarray(segment))
                widths.append(abs(pixels[1, 0] - pixels[0, 0]))
    assert len(widths) == 2 * (len(TIERS) + 2)  # an interval per arm and group
    assert min(widths) >= 8, widths  # at 160 dpi


def test_harm_map_shows_each_arms_extra_exits_by_area_closing_arm_first(arms):
    """Each panel's areas add up to the arm's extra exits in the harm table (its title says
    them), the closing arm comes first, each panel's colour scale is centred on zero and the
    branches it closed are crossed."""
    chart = arms.chart("harm_map")
    panels = [ax for ax in chart.figure.axes if ax.images]
    assert 1 < len(panels) <= 4 and "same 2 seeds" in chart.caption
    assert panels[0].get_title().startswith(arm_title("outlet_closure"))
    harm = who_gets_hurt(arms.root, arms.runs())
    totals = harm[harm["dimension"] == "all"].set_index("arm")["exits"]
    for ax in panels:  # each on its own scale, centred on zero
        norm = ax.images[0].norm
        assert norm.vmin == -norm.vmax < 0 and norm.vcenter == 0
    for ax in panels:
        arm = next(a for a in totals.index if ax.get_title().startswith(f"{arm_title(a)}:"))
        cells = np.nansum([np.asarray(image.get_array(), float) for image in ax.images], axis=0)
        assert cells.sum() == pytest.approx(totals[arm], rel=1e-6, abs=1e-6)
        assert f"{totals[arm]:+,.0f} exits" in ax.get_title()
    runs = arms.runs()
    closer = runs[runs["arm"] == "outlet_closure"]
    closed = (
        pd.concat(
            load_run_table(arms.root, r, "branches").query("closed_month.notna()")
            for r in closer["run_id"]
        )[["x", "y"]]
        .drop_duplicates()
        .to_numpy()
    )
    crosses = [np.asarray(c.get_offsets()) for c in panels[0].collections]
    crossed = np.concatenate([o for o in crosses if len(o) == 1])
    assert len(closed) and all(np.isclose(crossed, site).all(axis=1).any() for site in closed)


# --------------------------------------------------------------------------------------------
# 8-9. Sweeps and skills
# --------------------------------------------------------------------------------------------


def test_heatmap_shows_the_differences_over_both_grid_parameters(grid):
    fig = grid.chart("sweep_heatmap").figure
    maps = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in maps] == ["Retention at 6 months", "NPV over 6 months"]
    diffs = grid.tables["differences"]
    for ax, kpi, scale, unit in zip(maps, SWEEP_KPIS, (100, 1e-6), ("pts", "CNY M"), strict=True):
        assert ax.get_xlabel() == "outlet closure: count (branches closed)"
        assert ax.get_ylabel() == "outlet closure: shock (log-hazard added)"
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
    assert legend.get_title().get_text() == "Strategy · outlet closure: shock (log-hazard added)"
    shocks = [f"{arm_title('outlet_closure')} · {shock}" for shock in ("0.1", "1")]
    assert [t.get_text() for t in legend.get_texts()] == shocks
    colour = arm_styles(arm_order(grid), "baseline")["outlet_closure"].colour
    shades = [to_hex(line.get_color()) for line in retention.get_lines()[:2]]
    assert shades[-1] == colour.lower() and len(set(shades)) == 2  # shades of the arm's colour
    assert list(retention.get_xticks()) == [1, 2]
    assert "pts" in retention.get_ylabel() and "CNY M" in npv.get_ylabel()
    assert npv.get_xlabel() == "outlet closure: count (branches closed)"
    diffs = grid.tables["differences"]
    for line in retention.get_lines():
        if line.get_label() in shocks:
            d = diffs[(diffs["kpi"] == "retention_horizon") & (diffs["arm"] == "outlet_closure")]
            shock = float(line.get_label().split(" · ")[1])
            d = d[d["point"].str.endswith(f"shock={shock}")]
            assert list(line.get_xdata()) == [1, 2]
            np.testing.assert_allclose(line.get_ydata(), d["mean_diff"].to_numpy() * 100)
    assert len(retention.collections) == 2  # a band per shock


def test_manager_skill_shows_bands_and_median_for_mentoring_and_training_arms(arms):
    fig = arms.chart("manager_skill").figure
    panels = titled(["baseline", "mentoring", "training", "playbook"])
    assert [ax.get_title() for ax in fig.axes] == panels
    legend = legend_texts(fig)
    assert {"middle 80% of managers", "middle half of managers", "median manager"} <= set(legend)
    assert not any("p10" in t or "p90" in t for t in [*legend, arms.chart("manager_skill").caption])
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
    called, planned = [], []
    charts = draw_all(bare, {}, tmp_path / "out", on_chart=called.append, on_plan=planned.append)
    assert planned == [called]  # told once, before the first, which generators run
    # no tables: no trade-off, forest or sweeps; no mentoring or training: no skills
    skipped = ["tradeoff", "forest", "sweep_heatmap", "sweep_lines", "manager_skill"]
    assert called == [draw.__name__ for draw in CHARTS if draw.__name__ not in skipped]
    names = [
        "retention_over_time",
        "cumulative_profit",
        "ledger_waterfall",
        "churn_by_segment_tier",
        "harm_map",  # from the stored leavers, as the report reads them
    ]
    assert [c.name for c in charts] == names  # no tables: no trade-off, forest or sweeps
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{n}.{ext}" for n in names for ext in ("png", "svg")
    )
    empty = tmp_path / "empty"
    (empty / "runs").mkdir(parents=True)
    assert draw_all(empty, {}, tmp_path / "none") == []


def test_a_chart_that_does_not_apply_is_neither_run_nor_counted(arms, grid):
    """A generator whose check fails draws nothing; the sweeps apply to the grid only, the
    skills to arms that mentor or train."""
    for drawn, off in ((arms, {"sweep_heatmap", "sweep_lines"}), (grid, {"manager_skill"})):
        d = ChartData(drawn.root, drawn.tables, None)
        assert {draw.__name__ for draw in CHARTS if not applies(draw, d)} == off
        for draw in CHARTS:
            if not applies(draw, d):
                assert list(draw(d)) == [], draw.__name__


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
    assert compact(3980790.0) == "3.98M" and compact(0.00372934) == "0.00373"


def test_money_keys_are_labelled_in_cny_and_others_with_the_schema_unit():
    budget = "strategy.partner_promotion.budget"
    assert key_axis(budget) == "partner promotion: budget (CNY per month)"  # the schema's unit
    assert param_unit("strategy.branch_experience.redesign_cost") == "CNY"
    assert param_unit("strategy.mystery.reward") == "CNY"  # not in the schema: by its name
    assert param_unit("strategy.outlet_closure.count") == "branches closed"
    assert param_unit("economics.discount_rate") == "per year"
    assert param_unit("strategy.outlet_closure.rule") == ""  # a description, not a unit


# --------------------------------------------------------------------------------------------
# The arms the charts show
# --------------------------------------------------------------------------------------------


def test_chart_arms_restrict_the_arms_drawn_and_the_caption_names_the_others(arms, chart_arms):
    others = [a for a in arm_order(arms) if a not in ["baseline", *CHART_ARMS]]
    for name in ("retention_over_time", "cumulative_profit", "churn_by_segment_tier"):
        chart = chart_arms.chart(name)
        drawn = {label for label in labelled(chart.figure) if label in titled(arm_order(arms))}
        assert drawn - {arm_title("baseline")} == set(titled(CHART_ARMS)), name
        note = f"Not shown: {', '.join(titled(others))}; every arm is in the forest plot."
        assert note in chart.caption
    tradeoff = chart_arms.chart("retention_vs_npv")
    bars = [c.get_label() for c in tradeoff.figure.axes[0].containers]
    assert sorted(bars) == sorted(titled(CHART_ARMS)) and "Not shown: " in tradeoff.caption
    forest = chart_arms.chart("differences_forest").figure.axes[0]
    assert len([c for c in forest.containers]) == len(others) + len(CHART_ARMS)  # all of them
    auto = arms.chart("retention_over_time")
    shown = line_labels(auto.figure.axes[0])
    left_out = [a for a in arm_order(arms) if arm_title(a) not in shown]
    assert len(left_out) == 4 and f"Not shown: {', '.join(titled(left_out))}" in auto.caption


def test_chart_arms_come_from_the_stored_experiment_unless_given(stores, tmp_path):
    root = tmp_path / "chosen"
    shutil.copytree(stores["arms"], root)
    meta = experiment_meta(root)
    meta["experiment"]["chart_arms"] = ["playbook", "gone"]  # an arm without runs is dropped
    (root / "experiment.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    tables = statistics(root)
    arms, note, legend = ChartData(root, tables, None).shown("retention_horizon")
    assert arms == ["baseline", "playbook"] and legend == "Strategy (1 of 10 shown)"
    assert f"Not shown: {arm_title('outlet_closure')}, " in note
    assert ChartData(root, tables, None, ["training"]).shown("npv")[0] == ["baseline", "training"]
    assert len(ChartData(root, tables, None, []).shown("npv")[0]) == 7  # automatic: 6 and base
    with pytest.raises(ValueError, match="chart_arms: 'nope' is not an arm"):
        ChartData(root, tables, None, ["nope"])
