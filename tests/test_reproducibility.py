"""Same config and seed give identical results; strategies share random numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.api import run_scenario
from sim.customers import COLUMNS
from sim.model import BankModel
from sim.params import ConfigError

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent


def assert_same_run(a, b, ignore_columns=()) -> None:
    """Two runs' time series, panels and summaries are identical (bit for bit)."""
    pd.testing.assert_frame_equal(
        a.timeseries.drop(columns=list(ignore_columns)),
        b.timeseries.drop(columns=list(ignore_columns), errors="ignore"),
        check_exact=True,
    )
    pd.testing.assert_frame_equal(a.panel, b.panel, check_exact=True)
    pd.testing.assert_series_equal(
        a.summary.drop("strategies"), b.summary.drop("strategies"), check_exact=True
    )


def test_same_config_and_seed_give_identical_results(make_config):
    cfg = make_config(
        customers=3000,
        months=24,
        seed=11,
        strategy={"test_perks": {"start": 3}},
    )
    assert_same_run(run_scenario(cfg), run_scenario(cfg))


def test_different_seeds_give_different_results(make_config):
    a = run_scenario(make_config(customers=3000, months=12, seed=1))
    b = run_scenario(make_config(customers=3000, months=12, seed=2))
    assert not a.timeseries["customers"].equals(b.timeseries["customers"])
    assert not np.allclose(a.timeseries["profit"], b.timeseries["profit"])
    opening = slice(0, 3000)
    assert not a.panel["segment"][opening].equals(b.panel["segment"][opening])
    assert a.run_id != b.run_id


def test_run_id_depends_on_scenario_not_output(make_config, changed):
    cfg = make_config(customers=500, months=3, seed=4)
    moved = changed(cfg, {"output.dir": "elsewhere", "output.panel": False})
    assert run_scenario(cfg).run_id == run_scenario(moved).run_id
    assert run_scenario(cfg).run_id != run_scenario(changed(cfg, {"months": 4})).run_id


def read_run_folder(folder: Path):
    """The saved time series, summary and panel of a run folder."""
    return (
        pd.read_parquet(folder / "timeseries.parquet"),
        json.loads((folder / "summary.json").read_text()),
        pd.read_parquet(folder / "panel.parquet"),
    )


def assert_folder_matches(folder: Path, result) -> None:
    ts, summary, panel = read_run_folder(folder)
    pd.testing.assert_frame_equal(ts, result.timeseries, check_exact=True)
    pd.testing.assert_frame_equal(panel, result.panel, check_exact=True)
    leavers = pd.read_parquet(folder / "leavers.parquet")
    pd.testing.assert_frame_equal(leavers, result.leavers, check_exact=True)
    assert summary == json.loads(json.dumps(result.summary.to_dict()))


def test_saved_run_folder_round_trips_and_is_replaced_atomically(make_config, tmp_path):
    result = run_scenario(make_config(customers=800, months=6, seed=5))
    first = result.save(tmp_path)
    second = result.save(tmp_path)
    assert first == second == tmp_path / result.run_id
    assert [p.name for p in tmp_path.iterdir()] == [result.run_id]  # no temporary folders left
    assert sorted(p.name for p in first.iterdir()) == [
        "branches.parquet",
        "checksums.json",
        "config.yaml",
        "crm_extract.parquet",
        "leavers.parquet",
        "panel.parquet",
        "provenance.json",
        "summary.json",
        "timeseries.parquet",
    ]
    assert_folder_matches(first, result)


def run_in_subprocess(args: list[str], hash_seed: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    proc = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def test_cli_run_in_another_process_matches_in_process_run(tmp_path):
    """The CLI, in a fresh process with another hash seed, writes exactly the in-process result."""
    overrides = ["population.customers=1500", "months=12", "burn_in=3", "seed=7"]
    proc = run_in_subprocess(
        ["-m", "sim.run", *overrides, f"output.dir={tmp_path}"], hash_seed="12345"
    )
    result = run_scenario(overrides)
    folder = tmp_path / result.run_id
    assert folder.is_dir(), (list(tmp_path.iterdir()), proc.stdout)
    assert "Retention at 12 months" in proc.stdout  # the KPI table, horizon months=12
    assert result.run_id in proc.stdout
    assert_folder_matches(folder, result)


def test_strategy_run_in_another_process_matches(make_config, tmp_path):
    """A run with a strategy is identical in a fresh process (spawned with another hash seed)."""
    cfg = make_config(customers=1500, months=12, burn_in=3, seed=8, strategy={"test_perks": {}})
    code = (
        f"import sys; sys.path.insert(0, {str(TESTS)!r})\n"
        "from conftest import small_config\n"
        "from sim.api import run_scenario\n"
        "cfg = small_config(customers=1500, months=12, burn_in=3, seed=8,"
        " strategy={'test_perks': {}})\n"
        f"print(run_scenario(cfg).save({str(tmp_path)!r}))\n"
    )
    proc = run_in_subprocess(["-c", code], hash_seed="999")
    result = run_scenario(cfg)
    assert Path(proc.stdout.strip().splitlines()[-1]) == tmp_path / result.run_id
    assert "cost_test_perks.perks" in result.timeseries
    assert_folder_matches(tmp_path / result.run_id, result)


# --- Common random numbers ----------------------------------------------------------------------


def test_noop_strategy_is_bit_identical_to_baseline(make_config, changed):
    base = make_config(customers=3000, months=24, seed=3)
    noop = changed(base, {"strategy": {"test_noop": {}}})
    assert_same_run(run_scenario(base), run_scenario(noop))


def test_strategy_outside_its_window_changes_nothing(make_config, changed):
    """A strategy that would start after the horizon is refused; one that acts only in the last
    month leaves every earlier month as in the baseline."""
    base = make_config(customers=3000, months=12, seed=3)
    with pytest.raises(ConfigError, match="would never act"):
        changed(base, {"strategy": {"test_perks": {"start": 12}}})
    late = changed(base, {"strategy": {"test_perks": {"start": 11}}})
    b, s = run_scenario(base), run_scenario(late)
    before = b.timeseries["month"] <= 11
    cost = s.timeseries["cost_test_perks.perks"]
    assert (cost[before] == 0).all() and cost.iloc[-1] > 0
    pd.testing.assert_frame_equal(
        s.timeseries.loc[before, list(b.timeseries.columns)], b.timeseries[before]
    )


def step_side_by_side(cfg_a, cfg_b, months: int):
    """Two models stepped together; yields (month, a, b) after each step."""
    a, b = BankModel(cfg_a), BankModel(cfg_b)
    yield 0, a, b
    for t in range(1, months + 1):
        a.step()
        b.step()
        yield t, a, b


@pytest.mark.parametrize("seed", [0, 21])
def test_strategy_and_baseline_share_burn_in_and_random_numbers(make_config, changed, seed):
    base = make_config(customers=3000, months=6, burn_in=6, seed=seed)
    strat = changed(base, {"strategy": {"test_perks": {"perk": 0.2}}})
    for t, a, b in step_side_by_side(base, strat, base.burn_in + 1):
        ca, cb = a.customers, b.customers
        if t <= base.burn_in:  # before the strategy acts, the two worlds are the same
            for name in COLUMNS:
                assert np.array_equal(getattr(ca, name), getattr(cb, name)), (t, name)
            if t:
                assert {k: v for k, v in b.books.items() if "test_perks" not in k} == a.books
        else:  # first strategy month: perks raise satisfaction, so with the same draws the
            # customers who leave are a subset of those who leave in the baseline
            assert b.strategies[0].calls == [("before", t), ("after", t)]
            all_a, all_b = ca.everyone(), cb.everyone()
            gone_a = set(all_a["id"][all_a["left"] == t])
            gone_b = set(all_b["id"][all_b["left"] == t])
            assert gone_b <= gone_a
            assert len(gone_b) < len(gone_a)
            opening = slice(0, base.population.customers)
            for name in ("segment", "joined", "channel", "income", "digital", "fit", "x", "y"):
                assert np.array_equal(all_a[name][opening], all_b[name][opening]), name


def test_strategy_run_keeps_the_opening_book_of_the_baseline(make_config, changed):
    """The opening book (who, when, which channel) is the same with and without a strategy."""
    base = make_config(customers=3000, months=24, seed=9)
    b = run_scenario(base)
    s = run_scenario(changed(base, {"strategy": {"test_perks": {}}}))
    n = base.population.customers
    cols = ["customer_id", "segment", "joined_month", "channel"]
    pd.testing.assert_frame_equal(b.panel[cols].iloc[:n], s.panel[cols].iloc[:n])
    assert s.summary.customers_start == b.summary.customers_start
    assert s.summary.retention_horizon != b.summary.retention_horizon  # the strategy acts
