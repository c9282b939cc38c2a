"""Optimising strategies: a lever with an obvious benefit gets the budget, resuming, fresh seeds
for the re-run, bad input refused."""

import json
import subprocess
import sys

import numpy as np
import optuna
import pandas as pd
import pytest

from analysis import optimize as analysis
from analysis.report import report
from analysis.stats import paired_differences
from experiments import optimize as opt
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
