"""Calibrating a bank: recovery of known parameters, resuming, bad input and the written config."""

import subprocess
import sys
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml

from experiments import calibrate as cal
from sim import calibration, targets
from sim.params import ConfigError
from sim.scenario import load_config

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
    bank = cal.with_values(bank, {"behaviour.churn_base": truth["behaviour.churn_base"]})
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
    for key, tolerance in (("behaviour.churn_base", 0.1), ("behaviour.product_hazard.0", 0.25)):
        error = abs(best[key] - truth[key])
        assert error < tolerance * truth[key], (key, best[key], truth[key])
        assert error < abs(start[key] - truth[key]), (key, best[key], start[key])


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
    cal.open_study(p).ask(cal.distributions(p))  # an interrupted run leaves it running
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


@pytest.fixture
def calibrated_file():
    """configs/bank/calibrated/synthetic.yaml, restored (or removed) afterwards."""
    path = cal.CALIBRATED / "synthetic.yaml"
    before = path.read_text() if path.exists() else None
    try:
        yield path
    finally:
        if before is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(before)


def test_the_written_calibration_is_picked_up_by_the_bank(tmp_path, calibrated_file):
    args = [*TINY, "targets=synthetic", "trials=2", f"output.dir={tmp_path / 'out'}"]
    params = "parameters={behaviour.churn_base: [0.05, 0.3], behaviour.tier_hazard.2: [0.35, 0.9]}"
    best = cal.calibrate(cal.prepare([*args, params]), progress=False)
    text = calibrated_file.read_text()
    assert text.splitlines()[0] == "# @package _global_"
    assert "# targets: " in text and "sha256" in text
    config = load_config(["bank=synthetic"])
    assert config.behaviour.churn_base == best["behaviour.churn_base"]
    assert config.behaviour.tier_hazard[2] == best["behaviour.tier_hazard.2"]
    assert config.behaviour.tier_hazard[:2] == [1.0, 0.75]
    record = yaml.safe_load((tmp_path / "out" / "synthetic" / "provenance.json").read_text())
    assert record["best"] == best and record["trials"] == 2
