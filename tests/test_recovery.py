"""Calibration through the extract path finds the truth: banks made by the model with known
parameters, exported as a bank exports its files (sim.export), rebuilt from them and fitted by
the documented commands (sim.targets, then experiments.calibrate)."""

import functools
import json

import numpy as np
import pandas as pd
import pytest
import truth_banks
from scipy import stats

from experiments import calibrate as cal
from sim import export, targets
from sim.api import run_scenario

CHURN = "parameters={behaviour.churn_base: [0.06, 0.3]}"


def fitted(tmp_path, truth: list[str], seed: int, rows: int, *args: str) -> tuple[dict, dict]:
    """Make a truth bank, compute its targets and calibrate it: the fitted values and what the
    fit says about each parameter (its interval, whether it is identified)."""
    files = truth_banks.make(tmp_path / "bank", truth, seed=seed, rows=rows)
    wanted = tmp_path / "targets.yaml"
    assert targets.main([str(tmp_path / "bank" / "customers.csv"), "--out", str(wanted)]) == 0
    plan = cal.prepare(
        [*files, f"targets={wanted}", "population.customers=4000", "workers=2",
         "executor.workers=2", "write=false", f"output.dir={tmp_path / 'out'}", *args]
    )  # fmt: skip
    best = cal.calibrate(plan, progress=False)
    told = json.loads((plan.folder / "provenance.json").read_text())["identification"]
    return best, told["parameters"]


@pytest.mark.parametrize(
    ("churn_base", "seed", "rows"), [(0.09, 31, 3_000), (0.18, 32, 8_000), (0.12, 33, 20_000)]
)
def test_a_one_parameter_fit_finds_the_switching_base(tmp_path, churn_base, seed, rows):
    """Within 10% of the truth at every size, and inside the fit's 95% interval, which says it
    is identified (at 3,000 rows the extract's own sampling error is nearly that wide)."""
    truth = [f"behaviour.churn_base={churn_base}"]
    best, told = fitted(tmp_path, truth, seed, rows, CHURN, "trials=20", "seeds=2")
    found, said = best["behaviour.churn_base"], told["behaviour.churn_base"]
    low, high = said["interval"]
    assert low < churn_base < high and said["identified"], (found, said)
    assert abs(found / churn_base - 1) < 0.10, found


def test_the_default_fit_covers_the_truth_with_its_intervals(tmp_path):
    """Six parameters, three of them off their defaults: every reported interval holds the
    true value, identified or not."""
    truth = {
        "behaviour.churn_base": 0.13,
        "behaviour.new_customer_hazard": 2.4,
        "behaviour.long_tenure_hazard": 0.3,
        "behaviour.product_hazard.0": 2.9,
        "behaviour.product_hazard.3": 0.45,
        "behaviour.tier_hazard.2": 0.5,
    }
    overrides = [
        "behaviour.churn_base=0.13",
        "behaviour.product_hazard=[2.9,1.1,0.7,0.45]",
        "behaviour.tier_hazard=[1.0,0.75,0.5,0.55]",
    ]
    _, told = fitted(tmp_path, overrides, 34, 12_000, "trials=30", "seeds=2")
    for key, value in truth.items():
        low, high = told[key]["interval"]
        assert low < value < high, (key, told[key], value)


DECISION_KPIS = ("retention_horizon", "npv")
RUN = ["months=24", "output.panel=false", "output.crm_extract=false"]
SEEDS = range(100, 112)
AGREE = stats.t.isf(0.01 / (2 * 4), df=2 * len(SEEDS) - 2)
"""How many standard errors two effects may differ by: Student's t at 1% for the family of the
four comparisons (two strategies, two KPIs; Bonferroni), about 3.4 for 12 seeds each. A normal
2.5 with standard errors from 6 seeds each failed about one run in eight when the banks agreed."""
PREDICTED = ["behaviour.churn_base=0.14", "behaviour.product_hazard=[2.8,1.1,0.7,0.45]"]
"""The truth bank whose strategy effects the rebuilt bank predicts: churn_base 0.14 and a
1-product hazard of 2.8."""


@pytest.fixture(scope="module")
def predicting(tmp_path_factory) -> dict[str, list[str]]:
    """The truth bank's design and the bank rebuilt from its files with churn_base fitted (both
    strategies' tests use the one fit): each as the scenario its effects are measured in."""
    tmp_path = tmp_path_factory.mktemp("predicting")
    rows = 8_000
    best, _ = fitted(tmp_path, PREDICTED, 41, rows, CHURN, "trials=20", "seeds=2")
    files = [f"bank.data.{k}={tmp_path / 'bank' / f'{k}.csv'}" for k in export.FILES]
    fit = f"behaviour.churn_base={best['behaviour.churn_base']}"
    return {
        "rebuilt": [*PREDICTED, *files, fit, f"population.customers={rows}", "burn_in=0"],
        "design": [*PREDICTED, *export.design(rows)],
    }


@functools.cache
def baseline(scenario: tuple[str, ...], seed: int) -> dict:
    """A scenario's baseline summary on a seed (once for every strategy compared with it)."""
    return run_scenario([*scenario, *RUN, f"seed={seed}"]).summary


def effects(scenario: list[str], strategy: str) -> pd.DataFrame:
    """A strategy's effect (strategy minus baseline, same seed) on each of :data:`SEEDS`."""
    rows = []
    for seed in SEEDS:
        base = baseline(tuple(scenario), seed)
        arm = run_scenario([*scenario, *RUN, f"seed={seed}", f"strategy=[{strategy}]"]).summary
        rows.append({k: arm[k] - base[k] for k in DECISION_KPIS})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("strategy", ["follow_up", "lean_service"])
def test_the_calibrated_bank_predicts_what_a_strategy_does_to_its_truth_bank(predicting, strategy):
    """A truth bank (:data:`PREDICTED`) and the bank rebuilt from its files with churn_base
    fitted: the strategy's effect on retention and NPV in the rebuilt bank agrees with its effect
    in banks of the truth's design (12 seeds each; the difference within :data:`AGREE` standard
    errors).
    Strategies that act through home locations, which an extract does not carry, are not
    expected to (docs/calibration.md)."""
    rebuilt = effects(predicting["rebuilt"], strategy)
    design = effects(predicting["design"], strategy)
    for kpi in DECISION_KPIS:
        a, b = rebuilt[kpi], design[kpi]
        se = np.hypot(a.std() / np.sqrt(len(a)), b.std() / np.sqrt(len(b)))
        assert abs(a.mean() - b.mean()) < AGREE * se, (kpi, a.mean(), b.mean(), se)
        assert np.sign(a.mean()) == np.sign(b.mean()), (kpi, a.mean(), b.mean())
