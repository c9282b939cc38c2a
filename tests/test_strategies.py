"""Every registered strategy: its Hydra file matches its typed config; all together, the books
balance and every strategy books its costs."""

from pathlib import Path

import numpy as np

from sim.api import run_scenario
from sim.scenario import load_config
from sim.strategies import REGISTRY
from sim.strategies.base import config_yaml, strategies_markdown

CONFIGS = Path(__file__).resolve().parent.parent / "configs" / "strategy"
TEST_ONLY = {"test_perks", "test_noop"}


def playbook_names():
    return sorted(set(REGISTRY) - TEST_ONLY)


def test_hydra_files_match_the_typed_configs():
    for name in playbook_names():
        path = CONFIGS / f"{name}.yaml"
        assert path.read_text() == config_yaml(REGISTRY[name]), "run: ./testbed sim.strategies"
    presets = {"playbook"}
    assert {p.stem for p in CONFIGS.glob("*.yaml")} == set(playbook_names()) | presets


def test_playbook_preset_combines_strategies_that_exist():
    cfg = load_config(["strategy=playbook"])
    assert len(cfg.strategy) >= 4
    assert set(cfg.strategy) <= set(playbook_names())
    both = load_config(["strategy=[playbook,training]", "strategy.training.hours=80"])
    assert both.strategy["training"].hours == 80.0


def test_strategies_reference_is_up_to_date():
    text = (CONFIGS.parent.parent / "docs" / "strategies.md").read_text()
    assert text == strategies_markdown(playbook_names()), "run: ./testbed sim.strategies"


def test_every_strategy_runs_from_the_command_line_config():
    for name in playbook_names():
        cfg = load_config([f"strategy=[{name}]", "population=small", "months=3"])
        assert list(cfg.strategy) == [name]


def test_all_strategies_together_book_their_costs_and_balance():
    names = playbook_names()
    overrides = [f"strategy=[{','.join(names)}]", "population=small", "months=12", "burn_in=3"]
    result = run_scenario(overrides)
    ts = result.timeseries
    revenue = ts.filter(regex=r"^revenue_").sum(axis=1)
    cost = ts.filter(regex=r"^cost_").sum(axis=1)
    assert np.allclose(ts["revenue"], revenue)
    assert np.allclose(ts["cost"], cost)
    assert np.allclose(ts["profit"], ts["revenue"] - ts["cost"])
    for name in names:
        lines = ts.filter(regex=rf"^cost_{name}\.")
        assert not lines.empty and lines.to_numpy().sum() > 0, name
    assert result.summary["strategies"] == names
    assert np.isfinite(ts.select_dtypes("number").to_numpy()).all()
