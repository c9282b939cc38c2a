"""Robustness across futures: regret, percentiles, targets met, PRIM boxes, the command."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import robustness as rb
from analysis.report import analyses
from experiments import robustness

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
    assert (summary["futures"] == 3).all()
    assert len(pd.read_csv(root / rb.FUTURES)) == 6
    assert (root / rb.FIGURES / rb.REGRET_PNG).exists()
    stamps = {p: p.stat().st_mtime_ns for p in (root / "runs").iterdir()}
    assert len(stamps) == 2 * 3 * 2
    capsys.readouterr()
    assert robustness.run(*robustness.prepare(args), progress=False) == 0
    assert "12 already stored, 0 to run" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in (root / "runs").iterdir()} == stamps
    section = analyses.robustness_section(root)
    assert section is not None and section.id == "robustness"
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
