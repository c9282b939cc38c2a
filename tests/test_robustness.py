"""Robustness across futures: regret, percentiles, targets met, PRIM boxes, the command."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from analysis import robustness as rb
from analysis.report import analyses
from experiments import robustness
from sim.kpis import registry

TINY = [
    "population.customers=1000",
    "months=12",
    "burn_in=0",
    "replications=2",
    "robustness.futures=3",
    "experiment.only=[outlet_closure]",
    "report=false",
    "executor.workers=2",
]


def hand_made() -> pd.DataFrame:
    """Two arms in three futures, with known regrets and targets met."""
    return pd.DataFrame(
        {
            "point": ["f1", "f2", "f3"] * 2,
            "arm": ["a"] * 3 + ["b"] * 3,
            "npv": [10.0, 4.0, 7.0, 5.0, 6.0, 7.0],
            "retention_mid_high": [0.9, 0.7, 0.85, 0.8, 0.8, 0.8],
            "cost": [1.0, 3.0, 2.0, 1.0, 1.0, 1.0],
        }
    )


def test_regret_percentile_and_share_meeting_on_a_hand_made_table():
    table = hand_made()
    table["regret"] = rb.regret(table, "npv")
    table["meets"] = rb.meets(table, {"retention_mid_high": 0.8})
    assert table["regret"].tolist() == [0, 2, 0, 5, 0, 0]
    summary = rb.summarise(table, "npv", 10).set_index("arm")
    assert summary.loc["a", "p10_npv"] == pytest.approx(4.6)  # 4 + 0.2 * (7 - 4)
    assert summary.loc[["a", "b"], "max_regret"].tolist() == [2, 5]
    assert summary.loc[["a", "b"], "mean_regret"].tolist() == pytest.approx([2 / 3, 5 / 3])
    assert summary.loc[["a", "b"], "share_meeting"].tolist() == pytest.approx([2 / 3, 1])


def test_lower_is_better_kpis_regret_and_meet_the_other_way():
    table = hand_made()
    assert rb.regret(table, "cost").tolist() == [0, 2, 1, 0, 0, 0]
    assert rb.meets(table, {"cost": 2.0, "npv": 6.0}).tolist() == [True, False, True] + [
        False,
        True,
        True,
    ]


def noisy_futures(rng, truth: np.ndarray, seeds: int) -> np.ndarray:
    """(future, arm, seed) values: ``truth`` plus noise shared by the arms of a seed (common
    random numbers, also shared across futures in part) and each run's own noise."""
    futures = truth.shape[0]
    shared = rng.normal(0, 1, (1, 1, seeds)) + 0.5 * rng.normal(0, 1, (futures, 1, seeds))
    return truth[:, :, None] + shared + rng.normal(0, 1, (*truth.shape, seeds))


def true_regrets() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eight futures, three arms: arm c is about 1 below the best in every future (near-ties
    across futures: the maximum's winner's curse is strong); the true mean and max regrets."""
    rng = np.random.default_rng(7)
    truth = rng.normal(0, 1, (8, 3))
    truth[:, 2] = truth[:, :2].max(axis=1) - 1 + rng.normal(0, 0.2, 8)
    regret = truth.max(axis=1, keepdims=True) - truth
    return truth, regret.mean(axis=0), regret.max(axis=0)


def test_bootstrap_intervals_hold_their_estimate_and_narrow_with_more_seeds():
    truth, _, _ = true_regrets()
    rng = np.random.default_rng(3)
    widths = {}
    for seeds in (5, 40):
        values = noisy_futures(rng, truth, seeds)
        out = rb.bootstrap_regret(values, ["a", "b", "c"], replicates=1000)
        assert (out["seeds"] == seeds).all()
        again = rb.bootstrap_regret(values, ["a", "b", "c"], replicates=1000)
        pd.testing.assert_frame_equal(out, again)  # a fixed seed: reproducible
        for stat in ("mean", "max"):
            assert (out[f"{stat}_regret_low"] <= out[f"{stat}_regret_bc"]).all()
            assert (out[f"{stat}_regret_bc"] <= out[f"{stat}_regret_high"]).all()
            widths[seeds, stat] = (out[f"{stat}_regret_high"] - out[f"{stat}_regret_low"]).mean()
        means = values.mean(axis=2)  # the plain estimates are those of the per-future table
        plain = means.max(axis=1, keepdims=True) - means
        assert out["mean_regret"].to_numpy() == pytest.approx(plain.mean(axis=0))
        assert out["max_regret"].to_numpy() == pytest.approx(plain.max(axis=0))
    for stat in ("mean", "max"):
        assert widths[40, stat] < 0.6 * widths[5, stat]


def test_regret_intervals_cover_a_known_truth_and_correct_the_winners_curse():
    truth, mean_truth, max_truth = true_regrets()
    rng = np.random.default_rng(11)
    repetitions = 60
    covered = {"mean": np.zeros(3), "max": np.zeros(3)}
    bias = {"plain": np.zeros(3), "bc": np.zeros(3)}
    for _ in range(repetitions):
        out = rb.bootstrap_regret(noisy_futures(rng, truth, 10), ["a", "b", "c"], replicates=400)
        for stat, true in (("mean", mean_truth), ("max", max_truth)):
            low, high = out[f"{stat}_regret_low"], out[f"{stat}_regret_high"]
            covered[stat] += ((low <= true) & (true <= high)).to_numpy()
        bias["plain"] += (out["max_regret"] - max_truth).to_numpy() / repetitions
        bias["bc"] += (out["max_regret_bc"] - max_truth).to_numpy() / repetitions
    # nominal 95%; the plain percentile interval covers the mean regret in about 65% here
    assert (covered["mean"] / repetitions).mean() >= 0.8
    assert (covered["max"] / repetitions).mean() >= 0.7
    assert bias["plain"][2] > 0.3  # the winner's curse: the plain maximum overstates
    assert abs(bias["bc"][2]) < 0.6 * bias["plain"][2]


def test_seed_values_and_lower_is_better_regret_intervals():
    runs = pd.DataFrame(
        {
            "point": ["f1"] * 4 + ["f2"] * 3,
            "arm": ["a", "a", "b", "b", "a", "a", "b"],  # f2's b seed 1 is missing
            "seed": [0, 1, 0, 1, 0, 1, 0],
            "status": "ok",
            "cost": [1.0, 3.0, 2.0, 2.0, 5.0, 5.0, 1.0],
        }
    )
    values, futures, arms = rb.seed_values(runs, "cost")
    assert futures == ["f1", "f2"] and arms == ["a", "b"] and values.shape == (2, 2, 2)
    assert np.isnan(values[1, 1, 1])
    out = rb.bootstrap_regret(values, arms, higher_is_better=False, replicates=300)
    # f1: a 2, b 2 (no regret); f2: a 5, b 1 (a's regret 4)
    assert out["mean_regret"].tolist() == pytest.approx([2, 0])
    assert out["max_regret"].tolist() == pytest.approx([4, 0])
    assert (out["max_regret_low"] >= 0).all()


def test_prim_finds_a_planted_failure_region():
    rng = np.random.default_rng(1)
    x = pd.DataFrame({"rival": rng.random(300), "market": rng.random(300)})
    misses = ((x["rival"] > 0.7) & (x["market"] < 0.5)).to_numpy()
    box = rb.prim_box(x, misses, threshold=0.8, peel_alpha=0.05)
    assert box["limits"]["rival"][0] == pytest.approx(0.7, abs=0.05)
    assert box["limits"]["rival"][1] is None
    assert box["limits"]["market"][1] == pytest.approx(0.5, abs=0.05)
    assert box["coverage"] > 0.9 and box["density"] > 0.9
    sentence = rb.in_words("closing", box)
    assert sentence.startswith("closing misses its targets when rival is above 0.7")


def test_a_tiny_run_writes_its_tables_and_resumes_without_rerunning(tmp_path, capsys):
    args = [*TINY, f"output.dir={tmp_path}"]
    assert robustness.run(*robustness.prepare(args), progress=False) == 0
    root = tmp_path / "futures"
    summary = pd.read_csv(root / rb.SUMMARY)
    assert summary["arm"].tolist() == ["baseline", "outlet_closure"]
    assert (summary["futures"] == 3).all() and (summary["seeds"] == 2).all()
    for stat in ("mean", "max"):
        assert (summary[f"{stat}_regret_low"] <= summary[f"{stat}_regret_bc"]).all()
        assert (summary[f"{stat}_regret_bc"] <= summary[f"{stat}_regret_high"]).all()
    assert "Regret intervals: 95% seed bootstrap (2 seeds" in capsys.readouterr().out
    assert len(pd.read_csv(root / rb.FUTURES)) == 6
    assert (root / rb.FIGURES / rb.REGRET_PNG).exists()
    stamps = {p: p.stat().st_mtime_ns for p in (root / "runs").iterdir()}
    assert len(stamps) == 2 * 3 * 2
    assert robustness.run(*robustness.prepare(args), progress=False) == 0
    assert "12 already stored, 0 to run" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in (root / "runs").iterdir()} == stamps
    section = analyses.robustness_section(root)
    assert section is not None and section.id == "robustness"
    assert "Seeds" in section.blocks[1].columns and "winner's curse" in section.blocks[0].text
    # in the KPI's display units, at the runs' horizon (12 months, not the default 60)
    intro, table = section.blocks[0].text, section.blocks[1]
    cells = [t for row in table.rows for c in row for t in (c.text, c.sub)]
    assert not any(re.search(r"\de[+-]?\d", t) for t in cells)
    assert "each run over 12 months" in intro and "60 months" not in intro
    assert "mid/high-tier retention at 12 months at least 80.0%" in intro
    mean = registry(12)["npv"].number(summary["mean_npv"].iloc[0])
    assert table.rows[0][3].text == mean  # CNY M: -12.3, not -1.23e+07
    assert analyses.robustness_section(tmp_path) is None


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("robustness.kpi=happiness", "robustness.kpi: 'happiness' is not a KPI"),
        ("robustness.targets={wealth: 1}", "robustness.targets: 'wealth' is not a KPI"),
        ("robustness.uncertainties={}", "robustness.uncertainties is empty"),
        (
            "robustness.uncertainties={market.market_return: [0.1, 0.0]}",
            "robustness.uncertainties.market.market_return=[0.1, 0.0]",
        ),
        (
            "robustness.uncertainties={no.such_key: [0, 1]}",
            "robustness: 'no.such_key' is not a key of any arm's config",
        ),
        ("experiment=digital_lhs", "has a grid or sample"),
        ("replications=auto", "replications=auto"),
    ],
)
def test_a_bad_config_is_refused_in_one_line_writing_nothing(tmp_path, capsys, override, message):
    with pytest.raises(SystemExit) as exit_:
        robustness.main([*TINY, f"output.dir={tmp_path}", override])
    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip()
    assert message in error and "\n" not in error
    assert not any(tmp_path.iterdir())
