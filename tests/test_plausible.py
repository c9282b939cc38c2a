"""Verdicts across a calibration's plausible sets: reading plausible.yaml, list elements as keys,
the summary across sets on hand-made verdicts, refusals before any work, and one small
experiment whose NPV verdict flips with a parameter while others hold.

The experiment: outlet closure saves branch costs and loses customers, so its NPV over 12 months
is better than the baseline's where a branch costs 6 M a year and worse where it costs 0.8 M
(bank.branch_cost); follow-up keeps more mid/high-tier customers at both. 2,000 customers,
12 + 12 months, 3 seeds, 2 sets: 18 runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis import plausible as across_sets
from analysis.report.calibration import executive
from analysis.report.console import render
from analysis.report.labels import Labels
from analysis.stats import BETTER, NEGLIGIBLE, UNDECIDED, WORSE
from experiments import robustness
from experiments.compare import main as compare_main
from runner import plausible
from runner.config import CompareConfig, check_experiment, compose
from runner.plan import plan
from runner.store import PLAUSIBLE, run_config
from sim.kpis import REGISTRY
from sim.params import ConfigError
from sim.scenario import load_config, to_config
from sim.values import value_at, with_values

HAZARD = "behaviour.product_hazard.0"
COST = "bank.branch_cost"
SETS = [  # best first
    {"trial": 7, "loss": 1.1, "values": {COST: 6_000_000, HAZARD: 2.4}},
    {"trial": 3, "loss": 1.5, "values": {COST: 800_000, HAZARD: 2.6}},
]
TINY = [
    "population.customers=2000",
    "months=12",
    "replications=3",
    "experiment.only=[outlet_closure,follow_up]",
    "executor.workers=2",
]


def write(folder: Path, **changes) -> Path:
    """A plausible.yaml as ``experiments.calibrate`` writes it, with ``changes`` to its keys."""
    doc = {
        "bank": "synthetic",
        "study": "handmade",
        "rule": "every finished trial whose loss is within 1 of the best",
        "parameters": {COST: [500_000, 8_000_000], HAZARD: [1.5, 3.5]},
        "sets": SETS,
    } | changes
    doc = {k: v for k, v in doc.items() if v is not None}  # None: the key left out
    path = folder / "plausible.yaml"
    path.write_text("# written by hand for a test\n" + yaml.safe_dump(doc, sort_keys=False))
    return path


def cli(monkeypatch, capsys, args: list[str]) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["experiments.compare", *args])
    with pytest.raises(SystemExit) as exited:
        compare_main()
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


# --------------------------------------------------------------------------------------------
# A list's element as a key
# --------------------------------------------------------------------------------------------


def test_an_element_key_sets_its_element_and_keeps_the_others():
    config = load_config(["population.customers=300"])
    before = list(config.behaviour.product_hazard)
    changed = with_values(config, {HAZARD: 3.1, "behaviour.churn_base": 0.13})
    assert changed.behaviour.product_hazard == [3.1, *before[1:]]
    assert changed.behaviour.churn_base == 0.13
    assert config.behaviour.product_hazard == before  # the original is untouched
    assert value_at(changed, HAZARD) == 3.1
    with pytest.raises(ConfigError, match=r"behaviour.product_hazard.9: .* allowed"):
        with_values(config, {"behaviour.product_hazard.9": 1.0})


def test_a_grid_may_move_a_lists_element():
    args = ["population.customers=300", "experiment.only=[training]", "replications=2"]
    args.append(f"+experiment.grid={{{HAZARD}: [2.0, 3.0]}}")
    compare = to_config(compose(args), schema=CompareConfig)
    check_experiment(compare)
    specs = plan(compare, [args[0]])
    hazards = {s.point: s.config.behaviour.product_hazard for s in specs}
    assert sorted(h[0] for h in hazards.values()) == [2.0, 3.0]
    assert len({tuple(h[1:]) for h in hazards.values()}) == 1


# --------------------------------------------------------------------------------------------
# Across sets, on hand-made verdicts
# --------------------------------------------------------------------------------------------


def by_set(
    verdicts: list[str], estimates: list[float], kpi="npv", half=1.0, **params
) -> pd.DataFrame:
    """A per-set table of one arm and KPI: its verdicts and estimates (± ``half``) at the sets,
    with the parameters' values (``params``: name -> values)."""
    k = len(verdicts)
    return pd.DataFrame(
        {
            "arm": "a",
            "kpi": kpi,
            "set": range(1, k + 1),
            "trial": range(k),
            "loss": 1.0,
            "n": 10,
            "estimate": estimates,
            "ci_low": [e - half for e in estimates],
            "ci_high": [e + half for e in estimates],
            "smallest_effect": 0.5 * half,
            "verdict": verdicts,
            "clears": [v in (BETTER, WORSE) for v in verdicts],
            "note": "",
            "seeds_needed": [30.0 if v == UNDECIDED else np.nan for v in verdicts],
            "interval_level": 0.975,
            **params,
        }
    )


def test_a_verdict_every_set_says_holds_with_its_least_margin():
    estimates = [0.003, 0.005, 0.004]
    table = by_set([BETTER] * 3, estimates, "retention_horizon", 0.001, p=[1.0, 2.0, 3.0])
    (row,) = across_sets.across(table, ["p"]).to_dict("records")
    assert (row["verdict"], row[BETTER], row["sets"], row["clears"]) == (BETTER, 3, 3, True)
    assert row["ci_low"] == pytest.approx(0.002)  # the hull: the least of the sets' lows
    assert row["depends_on"] == ""
    assert row["sentence"] == (
        "retention at 60 months better in 3 of 3 plausible calibrations (by at least 0.20 pts"
        " in each)"
    )


def test_a_flip_is_undecided_and_names_the_parameter_that_separates_it():
    cost = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    noise = [3.0, 1.0, 6.0, 2.0, 5.0, 4.0]  # unrelated to the verdicts
    verdicts = [WORSE, WORSE, UNDECIDED, BETTER, BETTER, BETTER]
    table = by_set(verdicts, [-4.0, -2.0, 0.1, 2.0, 3.0, 5.0], cost=cost, noise=noise)
    (row,) = across_sets.across(table, ["noise", "cost"]).to_dict("records")
    assert row["verdict"] == UNDECIDED
    assert (row[BETTER], row[WORSE], row[UNDECIDED]) == (3, 2, 1)
    assert row["depends_on"] == "cost (better where it is above 3.5)"
    assert row["rho"] == pytest.approx(1.0)
    assert np.isnan(row["seeds_needed"])  # more seeds would not make the sets agree
    assert row["sentence"] == (
        "NPV undecided: better in 3, worse in 2, undecided in 1 of 6 plausible calibrations;"
        " depends on cost (better where it is above 3.5)"
    )


def test_lower_is_better_reads_the_favourable_side_the_other_way():
    table = by_set([BETTER, BETTER, WORSE], [-3.0, -1.0, 2.0], kpi="cost", p=[0.1, 0.2, 0.3])
    (row,) = across_sets.across(table, ["p"], REGISTRY).to_dict("records")
    assert row["depends_on"] == "p (better where it is below 0.25)"  # lower cost is better


def test_two_sets_cannot_tell_two_parameters_apart():
    table = by_set([BETTER, WORSE], [2.0, -2.0], x=[1.0, 2.0], y=[5.0, 3.0])
    (row,) = across_sets.across(table, ["x", "y"]).to_dict("records")
    assert row["depends_on"] == (
        "x (better where it is below 1.5) or y (better where it is above 4): 2 sets cannot tell"
        " these apart"
    )


def test_negligible_everywhere_and_undecided_for_want_of_seeds():
    negligible = by_set([NEGLIGIBLE] * 2, [0.1, -0.1], p=[1.0, 2.0])
    (row,) = across_sets.across(negligible, ["p"]).to_dict("records")
    assert row["verdict"] == NEGLIGIBLE and row["sentence"].startswith("NPV negligible in 2 of 2")
    waiting = by_set([BETTER, UNDECIDED], [2.0, 0.8], p=[1.0, 2.0])
    (row,) = across_sets.across(waiting, ["p"]).to_dict("records")
    assert row["verdict"] == UNDECIDED and row["seeds_needed"] == 30
    assert row["depends_on"] == ""  # a set still undecided shows no dependence
    assert row["sentence"] == (
        "NPV undecided: better in 1, undecided in 1 of 2 plausible calibrations; about 30 seeds"
        " would decide the undecided sets"
    )


def test_the_executive_summary_ranks_on_verdicts_across_sets_and_names_a_split():
    retention = by_set([BETTER, BETTER], [0.01, 0.02], "retention_horizon", 0.001, p=[1.0, 2.0])
    npv = by_set([BETTER, WORSE], [2e7, -2e7], "npv", 1e6, p=[1.0, 2.0])
    summary = across_sets.across(pd.concat([retention, npv]), ["p"])
    record = {"bank": "synthetic", "sets": [{}, {}]}
    tables = {"plausible_summary": summary}
    section = executive(tables, Labels(), {}, 10, {}, record)
    text = " ".join(" ".join(render(section.blocks)).split())
    assert "run at 2 plausible calibrations of bank synthetic" in text
    assert "Recommended: a." in text  # better on retention at both sets, worse at neither
    assert (
        "- NPV undecided: better in 1, worse in 1 of 2 plausible calibrations; depends on p" in text
    )


def test_per_set_lays_out_every_set_even_one_without_runs():
    record = {
        "parameters": {"p": [0, 1]},
        "sets": [
            {"set": 1, "trial": 4, "loss": 1.0, "point": "p=0.2", "values": {"p": 0.2}},
            {"set": 2, "trial": 9, "loss": 2.0, "point": "p=0.7", "values": {"p": 0.7}},
        ],
    }
    differences = by_set([BETTER], [1.0]).rename(columns={"estimate": "mean_diff"})
    differences["point"] = "p=0.2"
    table = across_sets.per_set(differences, record)
    assert table[["set", "trial", "p", "n", "verdict"]].values.tolist() == [
        [1, 4, 0.2, 10, BETTER],
        [2, 9, 0.7, 0, UNDECIDED],
    ]
    assert table.loc[1, "note"] == "no paired runs at this set"


# --------------------------------------------------------------------------------------------
# Refused before any work
# --------------------------------------------------------------------------------------------


def test_reading_plausible_yaml(tmp_path, monkeypatch):
    calibration = plausible.read(str(write(tmp_path)))
    assert (calibration.bank, calibration.study) == ("synthetic", "handmade")
    assert [s.trial for s in calibration.sets] == [7, 3]
    repeated = write(tmp_path, sets=[*SETS, {**SETS[0], "trial": 12, "loss": 1.9}])
    assert [s.trial for s in plausible.read(str(repeated)).sets] == [7, 3]  # once, the best
    monkeypatch.setattr(plausible, "FITS", tmp_path / "calibrations")
    with pytest.raises(ConfigError) as refused:
        plausible.read("synthetic")
    assert str(refused.value) == (
        f"calibration=synthetic: no calibration of bank synthetic ({tmp_path}/calibrations/"
        "synthetic/plausible.yaml does not exist): run ./testbed experiments.calibrate"
        " bank=synthetic ... first"
    )
    shipped = plausible.read("city_bank")  # the example ships the sets of its shipped fit
    assert shipped.bank == "city_bank" and shipped.path.parent.name == "calibrated"
    latest = tmp_path / "calibrations" / "city_bank" / "plausible.yaml"
    latest.parent.mkdir(parents=True)
    write(latest.parent, bank="city_bank")
    assert plausible.read("city_bank").path == latest  # a calibration's latest wins


MALFORMED = {
    "no sets": ({"sets": None}, "has no 'sets'"),
    "empty sets": ({"sets": []}, "has no sets (a list, best first)"),
    "no bank": ({"bank": "atlantis"}, "bank='atlantis' is not a bank"),
    "a range that is not [low, high]": ({"parameters": {COST: [2, 1]}}, "is not [low, high]"),
    "a value outside its range": (
        {"sets": [{"trial": 1, "loss": 1.0, "values": {COST: 9e6, HAZARD: 2.0}}]},
        "bank.branch_cost=9000000.0 is outside [500000, 8000000]",
    ),
    "a set without every parameter": (
        {"sets": [{"trial": 1, "loss": 1.0, "values": {COST: 1e6}}]},
        "values ['bank.branch_cost'] are not",
    ),
    "a set without a loss": ({"sets": [{"trial": 1, "values": {}}]}, "is not {trial, loss"),
}


@pytest.mark.parametrize(("changes", "said"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_file_is_refused_naming_it(tmp_path, changes, said):
    path = write(tmp_path, **changes)
    with pytest.raises(ConfigError) as refused:
        plausible.read(str(path))
    assert str(refused.value).startswith(f"calibration: {path} ")
    assert said in str(refused.value)


def one_set(key: str, value: float, low: float, high: float) -> dict:
    """A file's changes for one parameter and one set."""
    return {
        "parameters": {key: [low, high]},
        "sets": [{"trial": 1, "loss": 1.0, "values": {key: value}}],
    }


REFUSED = {
    "another bank": (["bank=city_bank"], {}, "calibrates bank synthetic; allowed: bank=synthetic"),
    "a key the scenario lacks": (
        [],
        one_set("behaviour.nope", 0.5, 0, 1),
        "behaviour.nope is not a known key",
    ),
    "a value the key does not allow": (
        [],
        one_set("behaviour.churn_base", 1.2, 0.5, 1.5),
        "behaviour.churn_base=1.2 is out of range; behaviour.churn_base allows 0 to 1",
    ),
    "a grid": (
        ["+experiment.grid={months: [6, 12]}"],
        {},
        "the plausible sets are the experiment's points",
    ),
    "not a bank": (["calibration=atlantis"], {}, "calibration=atlantis: not a bank"),
}


@pytest.mark.parametrize(("args", "changes", "said"), REFUSED.values(), ids=REFUSED.keys())
def test_a_calibration_that_cannot_run_is_refused_before_any_work(
    tmp_path, monkeypatch, capsys, args, changes, said
):
    out = tmp_path / "out"
    command = [*TINY, f"calibration={write(tmp_path, **changes)}", f"output.dir={out}"]
    given = {a.partition("=")[0] for a in args}
    command = [a for a in command if a.partition("=")[0] not in given] + args
    code, printed, err = cli(monkeypatch, capsys, command)
    assert code == 2, err
    assert err.startswith("config error: ") and len(err.strip().splitlines()) == 1, err
    assert said in err
    assert printed == ""
    assert not out.exists()


def test_other_commands_refuse_a_calibration(tmp_path):
    with pytest.raises(ConfigError, match="only ./testbed compare"):
        robustness.prepare([f"calibration={write(tmp_path)}", "dry_run=true"])


def test_a_dry_run_counts_the_runs_and_writes_nothing(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    args = [*TINY, f"calibration={write(tmp_path)}", f"output.dir={out}", "dry_run=true"]
    code, printed, _ = cli(monkeypatch, capsys, [*args, "calibration_sets=1"])
    assert code == 0
    assert "playbook-synthetic-plausible: 3 arms x 3 replications x 1 plausible set =" in printed
    assert "= 9 runs; 0 already stored, 9 to run" in printed
    assert "the best 1 of its 2 plausible sets, every arm at each on the same 3 seeds" in printed
    code, printed, _ = cli(monkeypatch, capsys, [a for a in args if a != "replications=3"])
    assert f"3 arms x {plausible.REPLICATIONS} replications x 2 plausible sets" in printed
    assert not out.exists()


# --------------------------------------------------------------------------------------------
# A small experiment over two sets
# --------------------------------------------------------------------------------------------


def test_verdicts_across_two_sets_flip_and_hold(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    args = [*TINY, f"calibration={write(tmp_path)}", f"output.dir={out}"]
    code, printed, err = cli(monkeypatch, capsys, args)
    assert code == 0, err
    root = out / "playbook-synthetic-plausible"

    record = json.loads((root / PLAUSIBLE).read_text())
    assert [s["trial"] for s in record["sets"]] == [7, 3]
    plan_csv = pd.read_csv(root / "plan.csv", keep_default_na=False)
    assert len(set(plan_csv["run_id"])) == 3 * 2 * 3
    for s in record["sets"]:  # each set's values, the list's other elements kept
        run = plan_csv[(plan_csv["point"] == s["point"]) & (plan_csv["arm"] == "baseline")]
        config = run_config(root, run["run_id"].iloc[0])
        assert config["bank"]["branch_cost"] == s["values"][COST]
        hazards = config["behaviour"]["product_hazard"]
        assert hazards[0] == s["values"][HAZARD]
        assert hazards[1:] == list(load_config([]).behaviour.product_hazard[1:])

    per_set = pd.read_csv(root / across_sets.SETS_CSV)
    npv = per_set[(per_set["arm"] == "outlet_closure") & (per_set["kpi"] == "npv")]
    assert npv[["trial", "verdict", COST]].values.tolist() == [
        [7, BETTER, 6_000_000],
        [3, WORSE, 800_000],
    ]
    summary = pd.read_csv(root / across_sets.SUMMARY_CSV, keep_default_na=False)
    row = summary[(summary["arm"] == "outlet_closure") & (summary["kpi"] == "npv")].iloc[0]
    assert (row["verdict"], row[BETTER], row[WORSE]) == (UNDECIDED, 1, 1)
    assert row["depends_on"].startswith(f"{COST} (better where it is above 3,400,000)")
    held = summary[(summary["arm"] == "follow_up") & (summary["kpi"] == "aum_retention")]
    assert held["verdict"].tolist() == [BETTER]

    flat = " ".join(printed.split())
    assert "NPV undecided: better in 1, worse in 1 of 2 plausible calibrations; depends on" in flat
    assert "AUM retention at 12 months better in 2 of 2 plausible calibrations" in flat
    assert "was run at 2 plausible calibrations of bank synthetic" in flat  # the executive summary
    html = (root / "report.html").read_text()
    assert "Across plausible calibrations" in html and "Set 2 (trial 3)" in html
    sheets = pd.read_excel(root / "results.xlsx", sheet_name=None)
    assert {"Across sets", "By set"} <= set(sheets)
    assert len(sheets["By set"]) == len(per_set)

    code, printed, _ = cli(monkeypatch, capsys, [*args, "report=false"])
    assert code == 0 and "18 already stored, 0 to run" in printed  # resumed: nothing to run
