"""Shared helpers: small fast configs, and test-only strategies registered once at import."""

from __future__ import annotations

import runner  # noqa: F401  (first: no helper threads, as in the experiment commands)

# isort: split
import fcntl
import os
import shutil
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from sim.config import Config
from sim.params import param
from sim.scenario import to_config
from sim.strategies import REGISTRY, Strategy, StrategyConfig, register

# Hypothesis draws the same examples at every run (a hash of each test seeds them), so a test
# that runs the model takes the same time and finds the same things on every machine and xdist
# worker; the long random surveys are commands (tests/fuzz/survey.py, tests/test_ranges.py).
settings.register_profile("testbed", derandomize=True, deadline=None)
settings.load_profile("testbed")

# --------------------------------------------------------------------------------------------
# Test-only strategies
# --------------------------------------------------------------------------------------------


@dataclass
class PerksConfig(StrategyConfig):
    perk: float = param(0.15, "experience added to every active customer", "test", 0.0, 1.0)
    cost: float = param(20.0, "CNY per real customer per month", "test", 0.0)


class PerksStrategy(Strategy):
    """Gives every active customer a perk and books its cost on ``test_perks.perks``."""

    name = "test_perks"
    Config = PerksConfig
    cost_lines = ("perks",)

    def __init__(self, model, config):
        super().__init__(model, config)
        self.calls: list[tuple[str, int]] = []  # (hook, absolute month) of every active call

    def before_customers(self, month: int) -> None:
        self.calls.append(("before", month))
        c = self.model.customers
        c.perks[:] = np.where(c.active, np.float32(self.config.perk), np.float32(0))

    def after_customers(self, month: int) -> None:
        self.calls.append(("after", month))
        self.book("perks", self.model.real_active * self.config.cost)


class NoopStrategy(Strategy):
    """Does nothing at all: results must equal the baseline's bit for bit."""

    name = "test_noop"


@dataclass
class FailConfig(StrategyConfig):
    fail_seed: int = param(-1, "run seed whose run raises (-1: none)", "test", -1)


class FailStrategy(Strategy):
    """Raises while the model is built for one run seed: a crashing run among good ones.

    Registered only for the tests that ask for the ``fail_strategy`` fixture (the playbook tests
    check every registered strategy but ``test_perks`` and ``test_noop``).
    """

    name = "test_fail"
    Config = FailConfig

    def setup(self) -> None:
        if self.model.config.seed == self.config.fail_seed:
            raise RuntimeError(f"test_fail: planned failure at seed {self.config.fail_seed}")


def _register_once(cls: type[Strategy]) -> None:
    if cls.name not in REGISTRY:  # conftest may be imported again, e.g. in a subprocess
        register(cls)


_register_once(PerksStrategy)
_register_once(NoopStrategy)

# --------------------------------------------------------------------------------------------
# Small configs
# --------------------------------------------------------------------------------------------


def set_path(cfg: Config, key: str, value) -> None:
    """Set a dotted key (``bank.branch_quality``) on a Config in place."""
    *parents, leaf = key.split(".")
    node = cfg
    for name in parents:
        node = node[name] if isinstance(node, dict) else getattr(node, name)
    if isinstance(node, dict):
        node[leaf] = value
    else:
        setattr(node, leaf, value)


def small_config(
    overrides: dict | None = None,
    *,
    customers: int = 2000,
    months: int = 24,
    burn_in: int = 6,
    seed: int = 0,
    strategy: dict | None = None,
) -> Config:
    """A validated Config (strategies typed) for a small, fast run; ``overrides`` maps dotted
    keys to values."""
    cfg = Config(seed=seed, months=months, burn_in=burn_in)
    cfg.population.customers = customers
    for key, value in (overrides or {}).items():
        set_path(cfg, key, value)
    cfg.strategy = dict(strategy or {})
    return to_config(cfg)


def with_changes(cfg: Config, overrides: dict) -> Config:
    """A validated deep copy of ``cfg`` with dotted keys changed."""
    new = deepcopy(cfg)
    for key, value in overrides.items():
        set_path(new, key, value)
    return to_config(new)


@pytest.fixture(scope="session")
def make_config():
    """Factory of small validated configs: ``make_config({"bank.branches": 3}, seed=1)``."""
    return small_config


@pytest.fixture(scope="session")
def changed():
    """Validated deep copy of a config with dotted keys changed: ``changed(cfg, {"seed": 2})``."""
    return with_changes


@pytest.fixture(scope="session")
def mid_high_gains(make_config):
    """Paired gains in mid/high retention of a strategy over the baseline: default bank, 36
    measured months, seeds 0-3 (common random numbers): ``mid_high_gains({"training": {}})``.
    The baseline's runs are made once per session (per xdist worker) for every strategy."""
    from sim.api import run_scenario

    def size(seed: int) -> dict:
        return {"seed": seed, "months": 36, "customers": 20_000, "burn_in": 12}

    baseline: dict[int, float] = {}  # seed -> the baseline's mid/high retention

    def gains(strategy: dict) -> list[float]:
        out = []
        for seed in range(4):
            if seed not in baseline:
                summary = run_scenario(make_config(**size(seed))).summary
                baseline[seed] = summary["retention_mid_high"]
            arm = run_scenario(make_config(**size(seed), strategy=strategy)).summary
            out.append(arm["retention_mid_high"] - baseline[seed])
        return out

    return gains


@pytest.fixture
def fail_strategy():
    """``test_fail`` registered for one test (forked workers inherit it); its name."""
    register(FailStrategy)
    try:
        yield FailStrategy.name
    finally:
        del REGISTRY[FailStrategy.name]


def once(tmp_path_factory, name: str, make: Callable[[Path], Path]) -> Path:
    """What ``make(folder)`` builds (a path in ``folder``), built once for the whole test run:
    xdist's workers share it, the first to ask building it under a lock while the others wait."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, above each worker's own
    folder, built = root / name, root / f"{name}.built"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            built.write_text(str(make(folder).relative_to(folder)))
    return folder / built.read_text()


def _stored(folder: Path) -> Path:
    from tiny_store import run

    assert run(folder / "out") == 0
    return folder / "out"


@pytest.fixture(scope="session")
def stored(tmp_path_factory) -> Path:
    """The tiny experiment (tests/tiny_store.py), run once for the whole test run (every xdist
    worker reads the one store); a test that changes it works on a ``copy``."""
    return once(tmp_path_factory, "stored", _stored)


@pytest.fixture(scope="session")
def tiny_playbook(tmp_path_factory) -> Path:
    """The tiny playbook experiment's folder (tests/tiny_store.py: the baseline and every
    playbook arm, 300 customers, 2 burn-in + 6 measured months, 2 seeds), stored without a report
    and run once for the whole test run for the chart and report tests. Read it in place; a test
    that writes into it (a report does) works on a copy."""
    from tiny_store import playbook

    return once(tmp_path_factory, "tiny_playbook", playbook)


@pytest.fixture
def copy(stored, tmp_path) -> Path:
    """A copy of the tiny experiment's output folder, for a test to damage or reuse."""
    return Path(shutil.copytree(stored, tmp_path / "out"))
