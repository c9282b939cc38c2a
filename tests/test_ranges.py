"""Every parameter over its whole documented range: random valid configs (several parameters at
once, strategies included, on a tiny bank) are either refused up front with one line naming the
key, or run and keep every invariant (finite numbers, shares and skills in 0-1, conservation,
the ledger identity, a bounded book).

The default suite runs a few dozen examples; the long sweep prints its figures:
``python tests/test_ranges.py --examples 300``.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import traceback
import typing
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_invariants import assert_invariants  # noqa: E402

from sim.api import RunResult, run_scenario  # noqa: E402
from sim.config import Config  # noqa: E402
from sim.params import ConfigError  # noqa: E402
from sim.scenario import load_config  # noqa: E402
from sim.strategies import REGISTRY  # noqa: E402

BOOK_GROWTH = 25  # active simulated customers never exceed this multiple of the opening book
# Set apart: the run's size (kept tiny for speed) and what is written (not the results).
FIXED = (
    *("seed", "months", "burn_in", "population.customers"),
    *("output.dir", "output.panel", "output.crm_extract"),
)
STRATEGIES = sorted(name for name in REGISTRY if not name.startswith("test_"))


@dataclasses.dataclass
class Leaf:
    """One settable parameter: its key, where it lives (a dataclass, dict or list and the
    attribute, key or index), its metadata and its type."""

    key: str
    holder: typing.Any
    slot: typing.Any
    meta: typing.Mapping
    hint: typing.Any

    def set(self, value) -> None:
        if dataclasses.is_dataclass(self.holder):
            setattr(self.holder, self.slot, value)
        else:
            self.holder[self.slot] = value


def leaves(node, prefix: str = "") -> list[Leaf]:
    """Every leaf parameter of a config dataclass instance, dict and list items one by one."""
    found = []
    hints = typing.get_type_hints(type(node))
    for f in dataclasses.fields(node):
        key, value, hint = f"{prefix}{f.name}", getattr(node, f.name), hints[f.name]
        if dataclasses.is_dataclass(value):
            found += leaves(value, key + ".")
        elif isinstance(value, dict) and typing.get_args(hint)[1] is not typing.Any:
            item_hint = typing.get_args(hint)[1]
            for name, item in value.items():
                if dataclasses.is_dataclass(item):
                    found += leaves(item, f"{key}.{name}.")
                else:
                    found.append(Leaf(f"{key}.{name}", value, name, f.metadata, item_hint))
        elif isinstance(value, list) and typing.get_args(hint)[0] is float:
            found += [Leaf(f"{key}[{i}]", value, i, f.metadata, float) for i in range(len(value))]
        elif key not in FIXED and f.name != "strategy":
            found.append(Leaf(key, node, f.name, f.metadata, hint))
    return found


def values(leaf: Leaf, cfg: Config) -> st.SearchStrategy:
    """Values of one parameter over its whole documented range (names from the scenario)."""
    lo, hi, choices = (leaf.meta.get(k) for k in ("lo", "hi", "choices"))
    hint, args = leaf.hint, typing.get_args(leaf.hint)
    optional = type(None) in args
    if optional:
        hint = next(a for a in args if a is not type(None))
    name = leaf.key.rsplit(".", 1)[-1]
    if hint is bool:
        drawn = st.booleans()
    elif typing.get_origin(hint) is list:
        pool = choices or _names(name, cfg)
        drawn = st.lists(st.sampled_from(pool), unique=True, max_size=len(pool))
    elif choices:
        drawn = st.sampled_from(choices)
    elif hint is str and leaf.key.startswith("bank.data."):  # a file: none, or one not there
        drawn = st.sampled_from(["", "no/such/file.csv"])
    elif hint is str:
        drawn = st.sampled_from(_names(name, cfg))
    elif hint is int:
        drawn = st.integers(lo, hi)
    else:
        drawn = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    return st.one_of(st.none(), drawn) if optional else drawn


def _names(name: str, cfg: Config) -> list:
    """What a list or name parameter may name: segments, partners or branch ids."""
    if "partner" in name:
        return sorted(cfg.market.partners)
    if name == "branches":
        return list(range(cfg.bank.branches))
    return sorted(cfg.population.segments)


@st.composite
def configs(draw) -> Config:
    """A tiny bank with several model parameters and up to three strategies drawn anywhere in
    their documented ranges (segment shares rescaled to sum to 1)."""
    cfg = Config(seed=draw(st.integers(0, 1000)), months=draw(st.integers(1, 15)))
    cfg.burn_in = draw(st.integers(0, 4))
    cfg.population.customers = 200
    model = leaves(cfg)
    for leaf in draw(st.lists(st.sampled_from(model), min_size=1, max_size=8, unique_by=id)):
        leaf.set(draw(values(leaf, cfg)))
    _rescale_shares(cfg)
    for name in draw(st.lists(st.sampled_from(STRATEGIES), max_size=3, unique=True)):
        params = REGISTRY[name].Config()
        own = leaves(params, f"strategy.{name}.")
        for leaf in draw(st.lists(st.sampled_from(own), max_size=len(own), unique_by=id)):
            leaf.set(draw(values(leaf, cfg)))
        cfg.strategy[name] = params
    return cfg


def _rescale_shares(cfg: Config) -> None:
    total = sum(s.share for s in cfg.population.segments.values())
    for segment in cfg.population.segments.values():
        segment.share = segment.share / total if total > 0 else 0.0


def assert_sound(result: RunResult) -> None:
    """The run's invariants, plus shares and skills in 0-1 and a bounded book."""
    assert_invariants(result)
    ts, s = result.timeseries, result.summary
    for col in ("market_share", "satisfaction", "effort", "attention", "manager_skill"):
        assert ts[col].between(0.0, 1.0).all(), f"{col} outside 0-1"
    skills = [c for c in ts if c.startswith("manager_skill_p")]
    assert ts[skills].stack().between(0.0, 1.0).all(), "manager skill outside 0-1"
    assert 0.0 <= s.manager_skill <= 1.0
    peak = ts["agents"].max()
    assert peak <= BOOK_GROWTH * result.config.population.customers, f"book grew to {peak} rows"


def outcome(cfg: Config) -> str | None:
    """The key a config is refused for (in one ConfigError line that starts with it), or None
    when it ran and every invariant held."""
    try:
        result = run_scenario(cfg)
    except ConfigError as exc:
        key = re.match(r"[\w.\[\]]+", str(exc))
        assert "\n" not in str(exc) and key and ("." in key[0] or key[0] in Config.__dict__)
        return key[0]
    assert_sound(result)
    return None


@settings(max_examples=50, deadline=None)
@given(cfg=configs())
def test_documented_ranges_are_refused_or_sound(cfg):
    outcome(cfg)


def test_every_parameter_is_bounded():
    """Every numeric parameter has a documented range on both sides, so a sweep can cover it."""
    everything = leaves(Config())
    for name in STRATEGIES:
        everything += leaves(REGISTRY[name].Config(), f"strategy.{name}.")
    numeric = [leaf for leaf in everything if leaf.hint in (int, float)]
    open_ended = [leaf.key for leaf in numeric if None in (leaf.meta["lo"], leaf.meta["hi"])]
    assert not open_ended


TINY = ["population.customers=200", "months=12", "burn_in=2"]
ZERO_FARMERS = ["population.segments.farmer.share=0", "population.segments.retiree.share=0.35"]


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        (["bank.trust_months=0.1"], ["bank.trust_months=0.1", "1 to 120"]),
        (["bank.branch_cost=1e308"], ["bank.branch_cost=1e+308", "0 to 1e+09"]),
        (["population.organic_rate=1"], ["population.organic_rate=1.0", "0 to 0.05"]),
        (["market.opening_share=0.001"], ["market.opening_share=0.001", "0.05 to 1"]),
        (["behaviour.weights.service=-5"], ["behaviour.weights.service=-5.0", "0 to 1"]),
        (["output.panel=2"], ["output.panel=2", "true or false"]),
        (["population.segments={}"], ["population.segments={}", "change nothing"]),
        (
            ["strategy=[training]", "strategy.training.start=12"],
            ["strategy.training.start=12", "never act", "0 to 11"],
        ),
        (["strategy=[training]", "bank.managers=0"], ["bank.managers=0", "strategy.training"]),
        (["strategy=[follow_up]", "bank.managers=0"], ["bank.managers=0", "strategy.follow_up"]),
        (["strategy=[follow_up]", "strategy.follow_up.tiers=[]"], ["follow_up.tiers=[]"]),
        (
            ["strategy=[product_innovation]", "strategy.product_innovation.products=[]"],
            ["strategy.product_innovation.products=[]", "green"],
        ),
        (
            ["strategy=[lean_service]", "strategy.lean_service.prenotify=2"],
            ["strategy.lean_service.prenotify=2", "true or false"],
        ),
        (
            ["strategy=[partner_promotion]", "strategy.partner_promotion.other_weight=0"]
            + ZERO_FARMERS,
            ["strategy.partner_promotion.other_weight=0", "'rural'", "no leads"],
        ),
    ],
)
def test_senseless_settings_are_refused_in_one_line(overrides, words):
    with pytest.raises(ConfigError) as refused:
        load_config(TINY + overrides)
    message = str(refused.value)
    assert "\n" not in message
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    "overrides",
    [
        ["strategy=[training]", "strategy.training.hours=500"]
        + ["strategy.training.skill_per_hour=0.1"],
        # a budget too small for anyone, and a partner (rural) with no one to enrol
        ["strategy=[partner_promotion]", "strategy.partner_promotion.budget=1"] + ZERO_FARMERS,
        ["population.organic_rate=0.05", "market.opening_share=0.05"],
    ],
)
def test_extremes_of_the_ranges_run_sound(overrides):
    assert_sound(run_scenario(TINY + overrides))


def sweep(examples: int) -> None:
    """Run ``examples`` random configs; print how many ran, were refused and failed, and each
    failure's first line."""
    tally, refusals, failures = Counter(), Counter(), []

    @settings(max_examples=examples, deadline=None, database=None)
    @given(cfg=configs())
    def one(cfg):
        try:
            refused = outcome(cfg)
            tally["refused" if refused else "ran"] += 1
            refusals[re.sub(r"\[\d+\]", "", refused or "")] += bool(refused)
        except Exception as exc:  # noqa: BLE001  (a sweep reports every failure)
            tally["failed"] += 1
            where = traceback.extract_tb(exc.__traceback__)[-1]
            failures.append(
                f"{type(exc).__name__} at {Path(where.filename).name}:{where.lineno}:"
                f" {str(exc).splitlines()[0][:120]} (strategies {sorted(cfg.strategy)})"
            )

    one()
    print(
        f"configs: {sum(tally.values())}, ran: {tally['ran']}, refused: {tally['refused']},"
        f" invariant violations or crashes: {tally['failed']}"
    )
    for line, n in Counter(failures).most_common():
        print(f"  {n} x {line}")
    print("refused for:", ", ".join(f"{key} {n}" for key, n in refusals.most_common() if n))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300)
    sweep(parser.parse_args().examples)
