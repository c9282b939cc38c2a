"""Optimising strategies: a lever with an obvious benefit gets the budget, resuming, fresh seeds
for the re-run, bad input refused."""

import json
import re
import subprocess
import sys

import numpy as np
import optuna
import pandas as pd
import pytest

from analysis import optimize as analysis
from analysis.report import analyses, report
from analysis.stats import paired_differences
from experiments import optimize as opt
from sim.kpis import decimals, registry
from sim.params import ConfigError

TINY = ["population.customers=600", "months=12", "burn_in=0", "seeds=1", "fresh_seeds=2"]
# minimising cost: CNY on the partners' subsidy cap (tiny) is far cheaper than CNY per training
# hour (paid for every manager-hour), so the cost-minimising split gives the partners the budget
LEVERS = [
    "strategy=[training,partner_promotion]",
    "objectives=[cost]",
    "parameters={}",
    "budget.total=2000",
    "budget.levers={partners: strategy.partner_promotion.budget,"
    " training: strategy.training.cost_per_hour}",
]


def plan(tmp_path, *args):
    return opt.prepare([*TINY, "executor.workers=2", f"output.dir={tmp_path}", *args])


def study(folder):
    storage = f"sqlite:///{folder / 'study.sqlite3'}"
    (summary,) = optuna.get_all_study_summaries(storage)
    return optuna.load_study(study_name=summary.study_name, storage=storage)


def test_the_cheaper_lever_gets_the_budget_and_the_front_is_rerun_on_fresh_seeds(tmp_path):
    p = plan(tmp_path, *LEVERS, "trials=10")
    folder = opt.optimize(p, progress=False)
    pareto = pd.read_csv(folder / "pareto.csv")
    best = json.loads(pareto["values"].iloc[0])
    assert best["strategy.partner_promotion.budget"] > 0.8 * 2000
    record = json.loads((folder / "optimize.json").read_text())
    assert record["seeds"] == [p.settings.seed]
    assert not set(record["seeds"]) & set(record["fresh_seeds"])
    assert len(record["fresh_seeds"]) == 2 and (pareto["n"] == 2).all()
    assert (pareto["mean_diff"] > 0).all()  # any strategy costs more than none
    assert pareto["on_front"].all()  # one objective: the front is its one best trial
    assert record["fresh_front"] == list(dict.fromkeys(pareto["arm"]))
    assert (folder / "figures" / "pareto.png").exists()
    # the horizon is the runs': 12 months here, not the default 60
    assert record["months"] == p.settings.months == 12 and (pareto["months"] == 12).all()
    fig = analysis.draw(pareto, ["cost"], tmp_path / "again.png")
    title = fig.get_suptitle()
    assert re.search(r"over (\d+) months", title)[1] == str(p.settings.months), title
    assert fig.axes[0].get_xlabel() == "Δ Cost over 12 months (CNY M)"
    report(folder, out=lambda line: None)  # no runs in a store: a report of the analysis alone
    html = (folder / "report.html").read_text()
    assert "Optimisation" in html and "pareto" in html


def test_the_fresh_seeds_default_is_at_least_20(tmp_path):
    assert opt.OptimizeConfig().fresh_seeds >= 20
    p = opt.prepare([f"output.dir={tmp_path}"])  # the preset, configs/optimize.yaml
    assert p.settings.fresh_seeds >= 20 and len(opt.seeds(p, fresh=True)) >= 20


def fresh_rows(seeds: int = 20) -> list[dict]:
    """Runs on fresh seeds: trial 3 is worse than trial 1 on both objectives (retention, cost),
    trial 2 trades retention for cost; the seed's noise is shared by the arms."""
    rng = np.random.default_rng(5)
    means = {
        "baseline": (0.80, 10.0),
        "trial 1": (0.85, 12.0),
        "trial 2": (0.90, 15.0),
        "trial 3": (0.84, 12.5),
    }
    rows = []
    for seed in range(seeds):
        shared = rng.normal(0, 0.01)
        for arm, (retention, cost) in means.items():
            rows.append(
                {
                    "arm": arm,
                    "seed": seed,
                    "retention_mid_high": retention + shared + rng.normal(0, 0.005),
                    "cost": cost + rng.normal(0, 0.1),
                }
            )
    return rows


def test_a_front_point_dominated_on_the_fresh_seeds_is_dropped(tmp_path):
    kpis = ["retention_mid_high", "cost"]
    trials = {f"trial {i}": {"strategy.training.hours": 10.0 * i} for i in (1, 2, 3)}
    rows = fresh_rows()
    table = analysis.analyse(tmp_path, rows, trials, kpis).set_index(["arm", "kpi"])
    assert table["on_front"].xs("trial 3", level="arm").eq(False).all()
    assert table["dominated_by"].xs("trial 3", level="arm").eq("trial 1").all()
    assert table.loc[["trial 1", "trial 2"], "on_front"].all()
    # Bonferroni across the 2 objectives: wider than the intervals of each objective at 95%
    per_objective = paired_differences(pd.DataFrame(rows), "baseline", kpis, level=0.95)
    per_objective = per_objective.set_index(["arm", "kpi"]).loc[table.index]
    width = table["ci_high"] - table["ci_low"]
    assert (width > per_objective["ci_high"] - per_objective["ci_low"]).all()
    assert (table["joint_level"] == 0.95).all()
    out = analysis.console(tmp_path)
    assert "simultaneous 95% over the 3 front points and 2 objectives (Bonferroni" in out
    assert "On the front on the fresh seeds: trial 1, trial 2." in out
    assert "trial 3 dropped from the front: on the fresh seeds trial 1 is at least as good" in out
    assert (tmp_path / "figures" / analysis.PNG).exists()


def test_dominance_counts_ties_and_directions():
    means = pd.DataFrame(
        {"npv": [1.0, 1.0, 2.0, 0.0], "cost": [5.0, 5.0, 6.0, 4.0]}, index=["a", "b", "c", "d"]
    )
    # a and b tie (neither dominates); c has more NPV but costs more; d costs less
    assert analysis.dominated_by(means, ["npv", "cost"]) == {"a": [], "b": [], "c": [], "d": []}
    means.loc["b", "cost"] = 4.5  # b now as good on NPV and cheaper than a
    assert analysis.dominated_by(means, ["npv", "cost"])["a"] == ["b"]


def test_resume_adds_trials_and_keeps_the_first(tmp_path):
    args = ["parameters={strategy.training.hours: [10, 80]}", "budget.levers={}", "trials=2"]
    first = plan(tmp_path, *args)
    opt.optimize(first, progress=False)
    before = [t.params for t in study(first.folder).trials]
    opt.optimize(plan(tmp_path, *args[:-1], "trials=4"), progress=False)
    after = study(first.folder).trials
    states = [(t.state.name, t.user_attrs) for t in after]
    assert len(after) == 4 and [t.params for t in after[:2]] == before, states


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("objectives=[nope]", "objectives: 'nope' is not a KPI"),
        ("budget.levers={a: strategy.training.hours}", "is not a money (CNY) parameter"),
        ("budget.levers={a: behaviour.churn_base}", "allowed a strategy key"),
        ("budget.total=0", "budget.total=0.0; allowed > 0"),
        ("strategy=[]", "strategy is empty"),
        ("name=a/b", "it names a folder under output.dir"),
        ("parameters={strategy.training.hours: [80, 10]}", "low < high"),
    ],
)
def test_bad_config_is_refused(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan(tmp_path, override)
    assert not any(tmp_path.iterdir())


def test_cli_refuses_with_one_line_and_exit_2(tmp_path):
    cmd = [sys.executable, "-m", "experiments.optimize", "objectives=[nope]"]
    done = subprocess.run([*cmd, f"output.dir={tmp_path}"], capture_output=True, text=True)
    assert done.returncode == 2 and "nope" in done.stderr and len(done.stderr.splitlines()) == 1
    assert not any(tmp_path.iterdir())


def npv_rows(trials: int = 6, seeds: int = 12) -> list[dict]:
    """Fresh-seed runs of a small bank over 24 months: the baseline's NPV is negative (branches
    and staff cost more than its customers earn); each trial buys retention with NPV."""
    rng = np.random.default_rng(3)
    rows = []
    for seed in range(seeds):
        shared = rng.normal(0, 0.004)
        for i in range(trials + 1):
            arm = "baseline" if i == 0 else f"trial {i}"
            customers = 1.24e7 - 3.1e6 * i + rng.normal(0, 2e5)
            fixed = -9.98e7
            rows.append(
                {
                    "arm": arm,
                    "seed": seed,
                    "months": 24,
                    "retention_mid_high": 0.846 + 0.004 * i + shared + rng.normal(0, 0.001),
                    "npv": customers + fixed,
                    "npv_opening_book": 0.8 * customers,
                    "npv_newcomers": 0.2 * customers,
                    "npv_fixed": fixed,
                    "revenue": 4.0e7,
                }
            )
    return rows


def test_the_pareto_table_and_chart_read_in_display_units_at_the_runs_horizon(tmp_path):
    kpis = ["retention_mid_high", "npv"]
    rows = npv_rows()
    trials = {f"trial {i}": {"strategy.training.hours": 10.0 * i} for i in range(1, 7)}
    table = analysis.analyse(tmp_path, rows, trials, kpis)
    labels = registry(24)
    (tmp_path / analysis.JSON).write_text(
        json.dumps({"baseline": analysis.baseline_npv(rows), "discount_rate": 0.08})
    )
    out = analysis.console(tmp_path)
    assert not re.search(r"\de[+-]\d", out)  # no 5.159e+07
    assert "NPV over 24 months (CNY M): each Pareto trial" in out and "60 months" not in out
    npv = table[table["kpi"] == "npv"]
    base = npv["baseline_mean"].iloc[0]
    assert re.search(rf"\nBaseline +{re.escape(labels['npv'].number(base))}\n", out)  # -87.5
    one = npv[npv["arm"] == "trial 1"].iloc[0]
    k = labels["npv"]
    digits = decimals(*(one[c] * k.scale for c in ("mean_diff", "ci_low", "ci_high")))
    cells = [k.number(one[c], digits, sign=True) for c in ("mean_diff", "ci_low", "ci_high")]
    assert re.search(rf"\ntrial 1 .* {re.escape(cells[0])} +{cells[1]} to {cells[2]} ", out)
    # what NPV is, and why the baseline's is negative
    flat = " ".join(out.split())
    assert "NPV here is the bank's profit over the 24 measured months" in flat
    assert f"The baseline's NPV is negative ({k.text(base)})" in flat  # CNY -87.5 M
    assert "fixed costs of its branches and staff exceed the margin its customers earn" in flat
    assert "branches and staff -CNY 99.8 M" in flat
    assert "trial 1: training hours 10" in out and "strategy.training.hours, training hours" in out
    # the chart: the runs' horizon, a legend entry per kind of mark, not per trial
    fig = analysis.draw(table, kpis, tmp_path / "pareto.png")
    assert "over 24 months" in fig.get_suptitle() and "60" not in fig.get_suptitle()
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Δ Mid/high-tier retention at 24 months (pts)"
    assert ax.get_ylabel() == "Δ NPV over 24 months (CNY M)"
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert not any(re.match(r"trial \d", t) for t in texts) and len(texts) <= 5
    assert any(t.startswith("Pareto trial") for t in texts)
    assert any(t.startswith("Pareto front") for t in texts)
    assert any(t.startswith("Baseline") for t in texts)
    assert any(t.startswith("Negligible") for t in texts)
    named = {t.get_text() for t in ax.texts}  # each trial is named beside its point instead
    assert {
        f"trial {i}"
        for i in range(1, 7)
        if table.set_index("arm").loc[f"trial {i}", "on_front"].all()
    } <= named


def test_the_report_section_reads_like_the_command(tmp_path):
    """The report's Pareto table: in the KPIs' display units and labelled at the runs' horizon
    (24 months, not the default 60), the baseline's mean and the settings in words."""
    kpis = ["retention_mid_high", "npv"]
    rows = npv_rows()
    trials = {f"trial {i}": {"strategy.training.hours": 10.0 * i} for i in range(1, 7)}
    table = analysis.analyse(tmp_path, rows, trials, kpis)
    record = {"trials": 20, "seeds": [0, 1], "fresh_seeds": list(range(2, 14)), "objectives": kpis}
    record |= {"baseline": analysis.baseline_npv(rows), "discount_rate": 0.08}
    (tmp_path / analysis.JSON).write_text(json.dumps(record))
    section = analyses.optimize_section(tmp_path)
    tables = [b for b in section.blocks if hasattr(b, "rows")]
    words = [b.text for b in section.blocks if hasattr(b, "text")]
    cells = [t for b in tables for row in b.rows for c in row for t in (c.text, c.sub)]
    assert not any(re.search(r"\de[+-]?\d", t) for t in cells)
    labels = registry(24)
    by = {(row[0].text, row[1].text): row for row in tables[0].rows}
    assert {objective for _, objective in by} == {labels[k].axis() for k in kpis}
    assert "over 24 months" in words[0] and "60 months" not in " ".join([*words, *cells])
    assert any("The baseline's NPV is negative" in w for w in words)
    k, npv = labels["npv"], table[table["kpi"] == "npv"]
    base = by["Baseline", "NPV over 24 months (CNY M)"][2]
    assert base.text == k.number(npv["baseline_mean"].iloc[0], k.digits)  # -87.5
    one = npv[npv["arm"] == "trial 1"].iloc[0]
    digits = decimals(*(npv[["mean_diff", "ci_low", "ci_high"]].stack() * k.scale))
    cell = by["trial 1", "NPV over 24 months (CNY M)"][3]
    assert cell.text == k.number(one["mean_diff"], digits, sign=True) and cell.verdict
    assert tables[1].columns == ["Trial", "training hours"] and tables[1].rows[0][1].text == "10"
