"""Optimising strategies: a lever with an obvious benefit gets the budget, resuming, fresh seeds
for the re-run, bad input refused."""

import json
import subprocess
import sys

import optuna
import pandas as pd
import pytest

from analysis.report import report
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
    assert (folder / "figures" / "pareto.png").exists()
    report(folder, out=lambda line: None)  # no runs in a store: a report of the analysis alone
    html = (folder / "report.html").read_text()
    assert "Optimisation" in html and "pareto" in html


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
        ("name=a/b", "allowed a folder name"),
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
