"""Sensitivity: a strong parameter is found above its own seed noise, one without effect has
none and does not matter, a rerun resumes, the design is seeded, every row runs the same seeds,
and bad configs are refused (tests/test_sensitivity_floor.py checks the floor's error rate)."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from analysis import sensitivity as analysis
from analysis.report import analyses
from experiments import sensitivity as sens
from sim.params import ConfigError

SMALL = [
    "population.customers=1000",
    "months=12",
    "burn_in=0",
    "replications=4",
    "executor.workers=2",
    "sensitivity.trajectories=5",
    "sensitivity.kpis=[retention_horizon]",
    "sensitivity.parameters={behaviour.churn_base: [0.06, 0.2], economics.discount_rate: [0.04,"
    " 0.12]}",
]


def study(tmp_path, *args):
    return sens.prepare([*SMALL, f"output.dir={tmp_path}", *args])


def test_morris_finds_churn_and_not_the_discount_rate_and_resumes(tmp_path, capsys):
    s = study(tmp_path)
    assert sens.run(s, progress=False) == 0
    first = pd.read_csv(s.root / analysis.CSV)
    table = first.set_index("parameter")
    churn = table.loc["behaviour.churn_base"]
    assert churn["matters"] and churn["index"] > 2 * churn["seed_noise"] > 0
    assert churn["ci_low"] > churn["seed_noise"]
    rate = table.loc["economics.discount_rate"]  # no effect on retention: no noise either
    assert not rate["matters"] and rate["index"] == rate["seed_noise"] == rate["ci_high"] == 0
    assert "dummy" not in table.index
    record = json.loads((s.root / analysis.JSON).read_text())
    assert record["method"] == "morris" and "behaviour.churn_base" in record["sentences"][0]
    assert record["level"] == pytest.approx(1 - 0.05 / 2)  # 2 parameters x 1 KPI
    assert (s.root / "figures" / analysis.PNG).stat().st_size > 0
    section = analyses.sensitivity_section(s.root)
    assert section.id == "sensitivity" and len(section.blocks[2].rows) == 2
    assert "97.5% CI" in section.blocks[2].columns[3]
    capsys.readouterr()
    assert sens.run(study(tmp_path), progress=False) == 0
    assert ", 0 to run" in capsys.readouterr().out
    assert pd.read_csv(s.root / analysis.CSV).equals(first)  # same runs, same seeded bootstrap


def test_design_is_seeded_and_every_row_runs_the_same_seeds(tmp_path):
    a, b, c = study(tmp_path), study(tmp_path), study(tmp_path, "seed=7")
    assert np.array_equal(a.design, b.design) and not np.array_equal(a.design, c.design)
    assert [x.run_id for x in a.specs] == [x.run_id for x in b.specs]
    first = a.settings.seed
    assert {tuple(seeds) for _, seeds in a.rows} == {tuple(range(first, first + 4))}
    assert a.problem["names"] == ["behaviour.churn_base", "economics.discount_rate"]
    assert study(tmp_path, "sensitivity.dummy=false").problem == a.problem  # the key still reads


def test_no_section_without_a_study(tmp_path):
    assert analyses.sensitivity_section(tmp_path) is None


@pytest.mark.parametrize(
    ("arg", "named"),
    [
        ("sensitivity.method=fast", "sensitivity.method"),
        ("sensitivity.parameters={behaviour.churn_base: [0.3, 0.1]}", "behaviour.churn_base"),
        ("sensitivity.parameters={behaviour.nope: [0, 1]}", "behaviour.nope"),
        ("sensitivity.parameters={}", "sensitivity.parameters"),
        ("sensitivity.kpis=[nope]", "sensitivity.kpis"),
        ("sensitivity.arm=other", "sensitivity.arm"),
        ("sensitivity.method=sobol", "sensitivity.samples"),  # with samples=48 below
        ("replications=auto", "replications"),
        ("replications=1", "replications"),
        ("sensitivity.dummy=true", "sensitivity.dummy"),
        ("sensitivity.resamples=100", "sensitivity.resamples"),
    ],
)
def test_bad_config_is_refused(tmp_path, arg, named):
    extra = ["sensitivity.samples=48"] if "sobol" in arg else []
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        study(tmp_path, *extra, arg)
    assert not any(tmp_path.iterdir())


def test_the_command_refuses_with_exit_2_and_writes_nothing(tmp_path):
    args = [*SMALL, f"output.dir={tmp_path}", "sensitivity.levels=1"]
    done = subprocess.run(
        [sys.executable, "-m", "experiments.sensitivity", *args], capture_output=True, text=True
    )
    assert done.returncode == 2 and "sensitivity.levels" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not any(tmp_path.iterdir())
