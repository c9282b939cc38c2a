"""Calibrating a bank: recovery of known parameters, resuming, bad input and the written config."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml

from experiments import calibrate as cal
from experiments.study import distributions
from sim import calibration, targets
from sim.params import ConfigError
from sim.scenario import FITS, load_config, run_id
from sim.values import with_values

SMALL = ["population.customers=4000", "burn_in=12", "months=12"]
TINY = ["population.customers=600", "burn_in=12", "seeds=1", "executor.workers=2", "workers=2"]
CHURN = "parameters={behaviour.churn_base: [0.05, 0.3]}"


def plan(tmp_path, *args):
    return cal.prepare([*args, "write=false", f"output.dir={tmp_path / 'out'}"])


def trials(study_folder: Path) -> list[optuna.trial.FrozenTrial]:
    storage = f"sqlite:///{study_folder / 'study.sqlite3'}"
    (summary,) = optuna.get_all_study_summaries(storage)
    return optuna.load_study(study_name=summary.study_name, storage=storage).trials


def test_recovers_known_parameters_from_the_banks_own_extract(tmp_path):
    """A bank with churn_base x 1.6 and a lower 1-product hazard: its CRM extract's targets
    lead the calibration, started from the defaults, back to the truth."""
    truth = {"behaviour.churn_base": 0.115 * 1.6, "behaviour.product_hazard.0": 1.8}
    bank = load_config([*SMALL, "seed=100", "behaviour.product_hazard=[1.8,1.1,0.7,0.45]"])
    bank = with_values(bank, {"behaviour.churn_base": truth["behaviour.churn_base"]})
    runs = [calibration.measure_run(c) for c in calibration.seeded(bank, 2)]
    found, _ = targets.bands(targets.estimates(pd.concat([r.extract for r in runs])))
    (tmp_path / "bank.yaml").write_text(yaml.safe_dump({"targets": found}))
    p = plan(
        tmp_path,
        *SMALL,
        f"targets={tmp_path / 'bank.yaml'}",
        "trials=40",
        "seeds=2",
        "workers=2",
        "executor.workers=2",
        "parameters={behaviour.churn_base: [0.05, 0.3], behaviour.product_hazard.0: [1.2, 3.5]}",
    )
    start = dict(p.start)
    best = cal.calibrate(p, progress=False)
    told = json.loads((p.folder / "provenance.json").read_text())["identification"]
    for key, tolerance in (("behaviour.churn_base", 0.1), ("behaviour.product_hazard.0", 0.25)):
        error = abs(best[key] - truth[key])
        assert error < tolerance * truth[key], (key, best[key], truth[key])
        assert error < abs(start[key] - truth[key]), (key, best[key], start[key])
        low, high = told["parameters"][key]["interval"]
        assert low < truth[key] < high, (key, low, high, truth[key])


def test_a_rerun_resumes_the_study_and_the_sampler_is_seeded(tmp_path, capsys):
    args = [*TINY, "targets=synthetic", CHURN]
    first = plan(tmp_path / "a", *args, "trials=3")
    cal.calibrate(first, progress=False)
    resumed = cal.calibrate(plan(tmp_path / "a", *args, "trials=6"), progress=False)
    assert "holds 3 finished trials, 6 wanted" in capsys.readouterr().out
    done = trials(first.folder)
    assert [t.state.name for t in done] == ["COMPLETE"] * 6
    assert done[0].params == first.start  # trial 0: the current values
    values = [t.params["behaviour.churn_base"] for t in done]
    assert len(set(values)) == 6  # the resumed sampler does not repeat its first draws
    again = plan(tmp_path / "b", *args, "trials=3")
    cal.calibrate(again, progress=False)
    assert [t.params for t in trials(again.folder)] == [t.params for t in done[:3]]
    assert resumed == cal.rounded(min(done, key=lambda t: t.value).params)
    changed = plan(tmp_path / "a", *args, "trials=3", "population.customers=700")
    assert cal.study_name(changed) != cal.study_name(first)  # a changed scenario starts anew


def test_trials_left_running_are_failed_and_a_failing_run_fails_only_its_trial(
    tmp_path, monkeypatch
):
    p = plan(tmp_path, *TINY, "targets=synthetic", CHURN, "trials=4")
    cal.open_study(p).ask(distributions(p))  # an interrupted run leaves it running
    real = calibration.measure_run

    def flaky(config):
        if config.behaviour.churn_base != 0.115:  # every trial but the current values
            raise RuntimeError("boom")
        return real(config)

    monkeypatch.setattr(calibration, "measure_run", flaky)  # forked workers inherit it
    cal.calibrate(p, progress=False)
    done = trials(p.folder)
    assert done[0].state.name == "FAIL"  # the one left running (the current values) ...
    assert done[1].params == done[0].params == p.start  # ... is asked again
    assert done[1].state.name == "COMPLETE"
    assert [t.state.name for t in done[2:]] == ["FAIL"] * 3  # the study went on past them
    assert all("boom" in t.user_attrs["error"] for t in done[2:])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["+parameters.behaviour.churn_rate=[0.1,0.2]"], "behaviour.churn_rate is not a known key"),
        (["parameters.behaviour.churn_base=[0.2,0.1]"], "allowed [low, high] with low < high"),
        (["parameters.behaviour.churn_base=[0.5,1.5]"], "is out of range; behaviour.churn_base"),
        (["+parameters.behaviour.tier_hazard.9=[0.1,0.2]"], "tier_hazard.9 is not a known key"),
        (["+parameters.bank.managed_tier=[1,2]"], "is not a number"),
        (["+parameters.seed=[1,2]"], "seed does not describe the bank"),
        (["targets=nope"], "targets='nope' is unknown"),
        (["parameters={}"], "parameters is empty"),
    ],
)
def test_bad_input_is_refused_in_one_line_before_any_work(tmp_path, args, message):
    with pytest.raises(ConfigError) as info:
        plan(tmp_path, *args)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()


def test_a_bad_targets_file_is_refused_by_the_command(tmp_path):
    (tmp_path / "t.yaml").write_text("targets:\n  attrition: {lo: 0.3, hi: 0.1}\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.calibrate",
            f"targets={tmp_path / 't.yaml'}",
            "trials=0",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip() == f"config error: {tmp_path / 't.yaml'}: targets.attrition:"
        " lo=0.3 is not below hi=0.1"
    )


def test_trials_0_prints_the_fit_table_and_writes_nothing(tmp_path, capsys):
    cal.calibrate(plan(tmp_path, *TINY, "trials=0"), progress=False)
    out = capsys.readouterr().out
    assert "annual attrition, all customers" in out and "targets within their bands" in out
    assert not (tmp_path / "out").exists()


def test_model_side_quantities_are_measured_over_the_runs():
    config = load_config(["population.customers=600", "months=14"])
    runs = [calibration.measure_run(c) for c in calibration.seeded(config, 2)]
    measured = calibration.pooled(runs)
    assert measured["cost_per_branch"] == pytest.approx(config.bank.branch_cost)
    assert measured["margin_on_deposits"] == pytest.approx(config.economics.deposit_margin)
    satisfaction = [r.model["kpi.satisfaction"] for r in runs]
    assert measured["kpi.satisfaction"] == pytest.approx(sum(satisfaction) / 2)
    assert satisfaction[0] != satisfaction[1] and 0 < satisfaction[0] < 1


def test_the_fit_goes_under_results_and_the_bank_runs_the_latest(tmp_path, monkeypatch):
    """The fit is written to results/calibration/<bank>/ of the working folder, never over a
    tracked file; bank=<bank> then runs it (a new run id), and a later calibration keeps the
    keys of the latest fit that it does not fit."""
    monkeypatch.chdir(tmp_path)
    before = load_config(["bank=synthetic"])
    args = [*TINY, "targets=synthetic", "trials=2"]
    # tier_hazard.2's default (0.6) lies outside its range, so the fit moves off the defaults
    params = "parameters={behaviour.churn_base: [0.05, 0.3], behaviour.tier_hazard.2: [0.35, 0.55]}"
    first = cal.calibrate(cal.prepare([*args, params]), progress=False)
    folder = tmp_path / FITS / "synthetic"
    assert sorted(p.name for p in folder.iterdir()) == [
        ".bank-testbed",
        "calibrated.yaml",
        "plausible.yaml",
        "provenance.json",
        "study.sqlite3",
    ]
    text = (folder / "calibrated.yaml").read_text()
    assert text.splitlines()[0] == "# @package _global_"
    assert "# targets: " in text and "sha256" in text and "parameters identified" in text
    config = load_config(["bank=synthetic"])
    assert config.behaviour.churn_base == first["behaviour.churn_base"]
    assert config.behaviour.tier_hazard[2] == first["behaviour.tier_hazard.2"]
    assert config.behaviour.tier_hazard[:2] == [1.0, 0.75]
    assert run_id(config) != run_id(before)
    assert load_config(["bank=synthetic", "behaviour.churn_base=0.2"]).behaviour.churn_base == 0.2
    second = cal.prepare([*args, "parameters={behaviour.long_tenure_hazard: [0.15, 0.6]}"])
    assert second.fits == [FITS / "synthetic" / "calibrated.yaml"]
    assert second.start == {"behaviour.long_tenure_hazard": 0.3}
    fitted = cal.calibrate(second, progress=False)
    latest = load_config(["bank=synthetic"])
    assert latest.behaviour.churn_base == first["behaviour.churn_base"]  # kept
    assert latest.behaviour.long_tenure_hazard == fitted["behaviour.long_tenure_hazard"]
    record = json.loads((folder / "provenance.json").read_text())
    assert record["best"] == fitted and record["trials"] == 2
    assert record["started_from"] == [str(FITS / "synthetic" / "calibrated.yaml")]


def test_the_fit_says_what_the_targets_tell_and_writes_the_plausible_sets(tmp_path, capsys):
    """The example bank against targets from its own extract: intervals from the extract's
    bootstrap, the summary line, and plausible.yaml in the format experiments.compare reads."""
    targets_file = tmp_path / "targets.yaml"
    assert targets.main(["examples/city_bank/customers.csv", "--out", str(targets_file)]) == 0
    params = (
        "parameters={behaviour.churn_base: [0.06, 0.2], behaviour.product_hazard.0: [1.5, 3.5]}"
    )
    p = cal.prepare(
        [
            "bank=city_bank",
            f"targets={targets_file}",
            "population.customers=2000",
            "seeds=1",
            "trials=6",
            "workers=2",
            "executor.workers=2",
            params,
            f"output.dir={tmp_path / 'out'}",
        ]
    )
    best = cal.calibrate(p, progress=False)
    out = capsys.readouterr().out
    assert "bootstrap resamples of the extract examples/city_bank/customers.csv" in out
    summary = next(line for line in out.splitlines() if "targets within their bands" in line)
    assert re.search(r"; \d of 2 parameters identified", summary), summary
    record = json.loads((p.folder / "provenance.json").read_text())["identification"]
    assert np.array(record["jacobian"]).shape == (len(p.wanted.targets), 2)
    assert record["targets"] == list(p.wanted.targets) and record["condition_number"] >= 1
    churn = record["parameters"]["behaviour.churn_base"]
    assert churn["interval"][0] < best["behaviour.churn_base"] < churn["interval"][1]
    doc = yaml.safe_load((p.folder / "plausible.yaml").read_text())
    assert list(doc) == ["bank", "study", "rule", "parameters", "sets"]
    assert doc["bank"] == "city_bank" and doc["study"] == cal.study_name(p)
    assert doc["parameters"] == {k: list(v) for k, v in p.ranges.items()}
    first, *rest = doc["sets"]
    assert list(first) == ["trial", "loss", "values"] and first["values"] == best
    assert [s["loss"] for s in doc["sets"]] == sorted(s["loss"] for s in doc["sets"])
    n = len(doc["sets"])
    assert f"{n} plausible parameter set" in out and str(p.folder / "plausible.yaml") in out
