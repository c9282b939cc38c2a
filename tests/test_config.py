"""Bad configuration is refused with a one-line ConfigError naming the key and the bad value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim import scenario
from sim.api import run_scenario
from sim.config import TIERS, Config, validate
from sim.kpis import registry
from sim.model import BankModel
from sim.params import ConfigError
from sim.run import format_summary
from sim.scenario import load_config
from sim.strategies import REGISTRY

ROOT = Path(__file__).resolve().parent.parent


def refused(overrides: list[str]) -> str:
    """The one-line message of the ConfigError raised by composing ``overrides``."""
    with pytest.raises(ConfigError) as info:
        load_config(overrides)
    message = str(info.value)
    assert message and "\n" not in message, f"not one line: {message!r}"
    return message


def test_defaults_and_small_overrides_are_valid():
    cfg = load_config(["population.customers=2000", "months=24", "seed=3"])
    assert isinstance(cfg, Config)
    assert (cfg.population.customers, cfg.months, cfg.seed) == (2000, 24, 3)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("+foo=1", "foo"),
        ("population.foo=1", "population.foo"),
        ("bank.foo=1", "bank.foo"),
        ("population.segments.farmer.foo=1", "population.segments.farmer.foo"),
    ],
)
def test_unknown_key_is_refused(override, key):
    message = refused([override])
    assert key in message
    assert "not a known key" in message


@pytest.mark.parametrize(
    ("override", "key", "value"),
    [
        ("months=abc", "months", "abc"),
        ("population.customers=many", "population.customers", "many"),
        ("bank.managers=1.5", "bank.managers", "1.5"),
        ("behaviour.churn_base=high", "behaviour.churn_base", "high"),
        ("output.panel=maybe", "output.panel", "maybe"),
    ],
)
def test_wrong_type_is_refused(override, key, value):
    message = refused([override])
    assert key in message
    assert value in message


@pytest.mark.parametrize(
    ("override", "key", "value"),
    [
        ("population.customers=-5", "population.customers", "-5"),
        ("population.customers=0", "population.customers", "0"),
        ("bank.managers=-1", "bank.managers", "-1"),
        ("bank.branches=0", "bank.branches", "0"),
        ("months=0", "months", "0"),
        ("burn_in=-1", "burn_in", "-1"),
        ("seed=-1", "seed", "-1"),
        ("behaviour.fee_surprise_rate=1.5", "behaviour.fee_surprise_rate", "1.5"),
        ("bank.follow_manager=-0.1", "bank.follow_manager", "-0.1"),
        ("behaviour.churn_base=1.01", "behaviour.churn_base", "1.01"),
        ("population.segments.farmer.loan_share=2.0", "population.segments.farmer.loan_share", "2"),
        ("market.competitors.rival_bank.pull=-0.5", "market.competitors.rival_bank.pull", "-0.5"),
        ("economics.wealth_share=[0.1,0.2,0.3,1.5]", "economics.wealth_share[3]", "1.5"),
        ("behaviour.churn_base=nan", "behaviour.churn_base", "nan"),
        ("population.acquisition_cost=inf", "population.acquisition_cost", "inf"),
    ],
)
def test_out_of_range_value_is_refused(override, key, value):
    message = refused([override])
    assert f"{key}=" in message
    assert value in message


def test_segment_shares_must_sum_to_one():
    message = refused(["population.segments.farmer.share=0.5"])
    assert "population.segments" in message
    assert "1.35" in message  # the actual sum: 0.85 of the other segments + 0.5
    assert "sum to 1" in message


def test_urban_plus_rural_above_one_is_refused():
    message = refused(
        ["population.segments.farmer.urban=0.5", "population.segments.farmer.rural=0.8"]
    )
    assert "population.segments.farmer" in message
    assert "1.3" in message


def test_list_of_wrong_length_is_refused():
    message = refused(["behaviour.product_hazard=[1.0,2.0]"])
    assert "behaviour.product_hazard" in message
    assert "2" in message and "4" in message


def test_unknown_managed_tier_is_refused_with_the_choices():
    message = refused(["bank.managed_tier=ultra"])
    assert "bank.managed_tier" in message and "ultra" in message
    assert all(tier in message for tier in TIERS)


def test_unknown_strategy_is_refused_with_the_valid_names():
    message = refused(["+strategy.no_such_strategy={}"])
    assert "no_such_strategy" in message
    assert REGISTRY, "conftest registers test strategies"
    assert all(name in message for name in REGISTRY)


@pytest.mark.parametrize(("start", "end"), [(5, 3), (4, 4)])
def test_strategy_end_not_after_start_is_refused(start, end):
    message = refused([f"+strategy.test_perks={{start: {start}, end: {end}}}"])
    assert "strategy.test_perks.end" in message
    assert str(end) in message and str(start) in message


@pytest.mark.parametrize(
    ("params", "key", "value"),
    [
        ("{perk: 2.0}", "strategy.test_perks.perk", "2"),
        ("{start: -1}", "strategy.test_perks.start", "-1"),
        ("{end: 0}", "strategy.test_perks.end", "0"),
        ("{bogus: 1}", "strategy.test_perks.bogus", ""),
        ("{perk: lots}", "strategy.test_perks.perk", "lots"),
    ],
)
def test_bad_strategy_parameter_is_refused(params, key, value):
    message = refused([f"+strategy.test_perks={params}"])
    assert key in message
    assert value in message


def test_valid_strategy_is_accepted():
    cfg = load_config(["+strategy.test_perks={start: 2, end: 5, perk: 0.2}"])
    assert cfg.strategy["test_perks"].end == 5


def test_strategy_parameters_are_typed_once_and_the_model_uses_them(monkeypatch):
    calls = []
    typed = scenario.strategy_config
    monkeypatch.setattr(scenario, "strategy_config", lambda *a: calls.append(a[0]) or typed(*a))
    cfg = load_config(["strategy=[training,follow_up]", "population.customers=300"])
    model = BankModel(cfg)
    assert calls == ["training", "follow_up"]
    assert [s.config for s in model.strategies] == list(cfg.strategy.values())
    assert all(s.config is cfg.strategy[s.name] for s in model.strategies)


# --- Config objects built in Python go through the same validation -----------------------------


def test_validate_refuses_bad_values_in_a_config_object(make_config):
    cfg = make_config()
    cfg.bank.branches = 0
    with pytest.raises(ConfigError, match=r"bank\.branches=0"):
        validate(cfg)


def test_run_scenario_refuses_a_bad_config_object_before_running(make_config):
    cfg = make_config()
    cfg.strategy = {"test_perks": {"start": 6, "end": 2}}
    with pytest.raises(ConfigError, match=r"strategy\.test_perks\.end"):
        run_scenario(cfg)


@pytest.mark.parametrize(
    ("key", "value"),
    [("months", "12"), ("bank.branches", 2.5), ("population.customers", True)],
)
def test_wrong_python_type_in_a_config_object_is_refused(make_config, key, value):
    """A Config built in Python with a wrongly typed value must fail validation, not the run."""
    cfg = make_config()
    section, _, leaf = key.rpartition(".")
    setattr(getattr(cfg, section) if section else cfg, leaf, value)
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    assert key in str(info.value)
    assert str(value) in str(info.value)


def test_the_run_summary_table_reads_the_kpi_registry(make_config):
    result = run_scenario(make_config(customers=300, months=3, burn_in=1))
    head, *rows, customers = format_summary(result).splitlines()
    assert head.startswith("Strategies: none (baseline) | seed 0 |")
    shown = [kpi for kpi in registry(3).values() if kpi.name in result.summary]
    assert "Retention at 3 months" in rows[1]  # the labels name the run's horizon
    assert len(rows) == len(shown) > 10
    for row, kpi in zip(rows, shown, strict=True):
        assert row.split() == [*kpi.label.split(), *kpi.text(result.summary[kpi.name]).split()]
    assert customers.split()[:3] == ["Customers", "start", "->"]


# --- Through the command line -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "key"),
    [("bank.branches=0", "bank.branches"), ("+foo=1", "foo")],
)
def test_cli_refuses_bad_config_with_one_line_and_writes_nothing(tmp_path, override, key):
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.run",
            "population.customers=500",
            override,
            f"output.dir={out}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("config error:")
    assert key in lines[0]
    assert not out.exists() or not any(out.iterdir())
