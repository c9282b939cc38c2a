"""Sensitivity: a strong parameter is found above its own seed noise, one without effect has
none and does not matter, a rerun resumes, the design is seeded, every row runs the same seeds,
and bad configs are refused (tests/test_sensitivity_floor.py checks the floor's error rate)."""

import json
import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from SALib.sample import morris as morris_sample

from analysis import sensitivity as analysis
from analysis.report import analyses
from experiments import sensitivity as sens
from runner.store import load
from sim.kpis import decimals, registry
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
    said = capsys.readouterr().out
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
    # the printed table: the runs' horizon, the KPI's display unit (pts), the parameter in words
    k = registry(12)["retention_horizon"]
    digits = decimals(*(churn[c] * 100 for c in ("index", "ci_low", "ci_high", "seed_noise")))
    row = next(x for x in said.splitlines() if x.startswith("behaviour churn base "))
    mu, low, high = (k.number(churn[c], digits) for c in ("index", "ci_low", "ci_high"))
    assert re.search(rf" {mu} +{low} to {high} ", row), row  # in pts: 11.6, not 0.116
    assert "Retention at 12 months: mean absolute elementary effect (mu*), in pts" in said
    assert "60 months" not in said and "e+0" not in said and "e-0" not in said
    section = analyses.sensitivity_section(s.root)
    assert section.id == "sensitivity" and len(section.blocks[2].rows) == 2
    assert "97.5% CI" in section.blocks[2].columns[3]
    capsys.readouterr()
    assert sens.run(study(tmp_path), progress=False) == 0
    assert ", 0 to run" in capsys.readouterr().out
    assert pd.read_csv(s.root / analysis.CSV).equals(first)  # same runs, same seeded bootstrap


def test_the_printed_run_count_is_the_runs_made(tmp_path, capsys):
    """The design line's numbers multiply to the runs it prints, which are the runs the store
    holds (it once printed "1 arms x 12 replications x 14 points = 99 runs")."""
    s = study(tmp_path, "sensitivity.trajectories=3")
    assert sens.run(s, progress=False) == 0
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.startswith("Morris design")]
    found = re.search(r"; (\d+) points x (\d+) seeds \(.*\) = (\d+) runs; 0 already stored", line)
    assert found, line
    points, seeds, runs = map(int, found.groups())
    planned = len({x.run_id for x in s.specs})
    assert points * seeds == runs == planned == load(s.root)["run_id"].nunique()
    assert seeds == 4 and f"{len(s.rows)} design rows over 2 parameters" in line
    assert " 1 arms" not in out and "1 KPIs" not in out
    assert json.loads((s.root / analysis.JSON).read_text())["runs"] == runs


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


KEYS = ["behaviour.churn_base", "economics.discount_rate", "strategy.training.hours"]


def synthetic(months: int = 7) -> pd.DataFrame:
    """A Morris table without simulation: churn moves retention by 5 pts over its range, the
    discount rate NPV by CNY 3 M, training hours nothing; 5 common seeds."""
    bounds = [[0.08, 0.16], [0.05, 0.12], [10.0, 80.0]]
    problem = {"num_vars": 3, "names": KEYS, "bounds": bounds}
    design = morris_sample.sample(problem, 6, num_levels=4, seed=1)
    low, high = np.array(bounds).T
    unit = (design - low) / (high - low)
    rng = np.random.default_rng(0)
    seeds = rng.standard_normal((5, 2))
    retention = (
        0.8
        - 0.05 * unit[:, :1]
        + 0.002 * seeds[:, 0]
        + 0.0005 * rng.standard_normal((len(design), 5))
    )
    npv = (
        -8.7e7
        + 3e6 * unit[:, 1:2]
        + 1e5 * seeds[:, 1]
        + 2e4 * rng.standard_normal((len(design), 5))
    )
    settings = SimpleNamespace(
        method="morris", kpis=["retention_horizon", "npv"], levels=4, resamples=1_200
    )
    return analysis.analyse(settings, problem, design, np.stack([retention, npv], 2), 0, months)


def test_the_table_and_sentences_are_in_display_units_at_the_runs_horizon():
    table = synthetic(7)
    out = analysis.console(table)
    kpis = registry(7)
    assert "Retention at 7 months: mean absolute elementary effect (mu*), in pts" in out
    assert "NPV over 7 months: mean absolute elementary effect (mu*), in CNY M" in out
    assert "60 months" not in out and not re.search(r"\de[+-]\d", out)  # no 3.44e+06
    for kpi, key in (
        ("retention_horizon", "behaviour.churn_base"),
        ("npv", "economics.discount_rate"),
    ):
        rows = table[table["kpi"] == kpi]
        r = rows.set_index("parameter").loc[key]
        k = kpis[kpi]
        digits = decimals(
            *(rows[["index", "ci_low", "ci_high", "seed_noise"]].to_numpy().ravel() * k.scale)
        )
        mu = k.number(r["index"], digits)
        assert r["matters"] and abs(float(mu) - r["index"] * k.scale) < 10**-digits
        assert re.search(rf"\n{analysis.parameter_name(key)} .* {re.escape(mu)} ", out), key
    sentences = analysis.sentences(table, "morris")
    assert sentences[0].startswith("Retention at 7 months: behaviour churn base (switching")
    assert (
        "pts over its range" in sentences[0] and "CNY" in sentences[-1] and " M " in sentences[-1]
    )
    assert "behaviour.churn_base from 0.08 to 0.16" in sentences[0]  # the key, to rerun it
    assert "training hours: strategy.training.hours, training hours per manager per year" in out


def test_the_chart_names_parameters_in_words_and_keys_every_mark(tmp_path):
    table = synthetic(7)
    fig = analysis.figure(table, "morris")
    ticks = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
    assert ticks and not any(key in tick for key in KEYS for tick in ticks)
    assert not any(re.search(r"\w\.\w|_", tick) for tick in ticks)  # no config key at all
    words = [tick.replace("\n", " ") for tick in ticks]
    assert "Training hours (training hours per manager per year)" in words
    assert all("mean absolute elementary effect, mu*" in ax.get_xlabel() for ax in fig.axes)
    assert [ax.get_xlabel().split(", ")[-1] for ax in fig.axes] == ["mu* (pts)", "mu* (CNY M)"]
    assert [ax.get_title() for ax in fig.axes] == ["Retention at 7 months", "NPV over 7 months"]
    assert "over 7 months" in fig.get_suptitle()
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert len(texts) == 4  # the bars that matter, those that do not, the CI, the seed noise
    assert any("mean absolute elementary effect (mu*): matters" in t for t in texts)
    assert any(t.startswith("seed noise") for t in texts) and any("CI" in t for t in texts)
    png = analysis.chart(table, "morris", tmp_path / "figures" / analysis.PNG)
    assert png.stat().st_size > 0 and analysis.months_of(table) == 7


def test_the_report_section_reads_like_the_command(tmp_path):
    """The report's table: the indices in the KPIs' display units (CNY M, pts; never 3.44e+06)
    and the KPIs labelled at the runs' horizon (7 months), the parameters in words."""
    table = synthetic(7)
    record = {"method": "morris", "design_rows": 24, "replications": 5, "runs": 120}
    analysis.write(tmp_path, table, record)
    section = analyses.sensitivity_section(tmp_path)
    intro, rows = section.blocks[0].text, section.blocks[2].rows
    cells = [text for row in rows for cell in row for text in (cell.text, cell.sub)]
    assert not any(re.search(r"\de[+-]?\d", text) for text in cells)
    assert {row[0].text for row in rows} == {"Retention at 7 months", "NPV over 7 months"}
    assert "over 7 months" in intro and "60 months" not in intro + " ".join(cells)
    k = registry(7)["npv"]
    npv = table[table["kpi"] == "npv"]
    r = npv.set_index("parameter").loc["economics.discount_rate"]
    digits = decimals(*(npv[["index", "ci_low", "ci_high", "seed_noise"]].stack() * k.scale))
    (row,) = [x for x in rows if x[0].text.startswith("NPV") and x[1].sub == r.name]
    assert row[1].text == "economics discount rate" and row[0].sub == "in CNY M"
    assert row[3].text == k.number(r["index"], digits)  # as the command prints it
    assert row[3].sub == f"{k.number(r['ci_low'], digits)} to {k.number(r['ci_high'], digits)}"
