"""Lists and fixed-key maps of the schema, adversarially.

An adversarial trial found ``behaviour.engagement_hazard=[]`` accepted: the compiled customer pass
read past the end of the list (a different retention on each run).
Now every list parameter of the scenario schema, the strategies' configs and the experiment's
declares its length (``sim.params.param(length=...)``: a ``Per`` rule or ``ANY_LENGTH``), a list
of the wrong length is refused before any run in one line naming the key, and a map of fixed keys
refuses a deleted or unknown key. The parameters are found by walking the schemas, not listed.

The bounds-checked debug mode (``BANK_TESTBED_BOUNDSCHECK=1``, sim/compiled.py) runs in a
subprocess, where the kernels are compiled afresh with bounds checks: it runs as the normal build
does, and a list that bypassed validation raises IndexError there instead of being read past its
end; so does the interpreted mode (``NUMBA_DISABLE_JIT=1``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.config import CompareConfig, compose
from sim.api import run_scenario
from sim.config import Config, field_default
from sim.params import ANY_LENGTH, ConfigError, Per, type_hints
from sim.scenario import load_config, to_config, value_at
from sim.strategies import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
ENTRY = "months"  # the entry an override adds to a map of lists (a scenario key, as ranges take)


@dataclasses.dataclass(frozen=True)
class Leaf:
    """A parameter: a key a command line sets, its type and metadata, the overrides it needs (a
    strategy's: the strategy), the schema that loads it and the prefix its override takes."""

    key: str
    hint: typing.Any
    meta: Mapping
    needs: tuple[str, ...] = ()
    schema: type = Config
    prefix: str = ""  # "+" for a new entry of a map

    def load(self, *overrides: str):
        """The validated config of these overrides (or ConfigError)."""
        argv = [*self.needs, *overrides]
        if self.schema is CompareConfig:
            return to_config(compose(argv), schema=CompareConfig)
        return load_config(argv)

    def override(self, values: list) -> str:
        return f"{self.prefix}{self.key}=[{','.join(map(repr, values))}]"


def fields_of(cls: type, prefix: str) -> Iterator[tuple[str, typing.Any, Mapping]]:
    """(key, type, metadata) of every leaf field under the dataclass ``cls``; a map of dataclasses
    is entered through its first default entry."""
    hints = type_hints(cls)
    for f in dataclasses.fields(cls):
        key, hint = prefix + f.name, _required(hints[f.name])
        item = typing.get_args(hint)[1] if typing.get_origin(hint) is dict else None
        if dataclasses.is_dataclass(hint):
            yield from fields_of(hint, key + ".")
        elif dataclasses.is_dataclass(item):
            yield from fields_of(item, f"{key}.{next(iter(field_default(f)))}.")
        else:
            yield key, hint, f.metadata


def _required(hint):
    """``X`` of ``X | None``; any other type as it is."""
    args = typing.get_args(hint)
    return next(a for a in args if a is not type(None)) if type(None) in args else hint


def schema_leaves() -> list[Leaf]:
    """The leaves of the scenario schema, of each strategy's config and the experiment's own."""
    found = [Leaf(key, hint, meta) for key, hint, meta in fields_of(Config, "")]
    for name in sorted(n for n in REGISTRY if not n.startswith("test_")):
        needs = (f"strategy=[{name}]",)
        walked = fields_of(REGISTRY[name].Config, f"strategy.{name}.")
        found += [Leaf(key, hint, meta, needs) for key, hint, meta in walked]
    scenario = {leaf.key for leaf in found}
    walked = fields_of(CompareConfig, "")
    return found + [
        Leaf(key, hint, meta, schema=CompareConfig)
        for key, hint, meta in walked
        if key not in scenario
    ]


def list_leaves(leaves: list[Leaf]) -> list[Leaf]:
    """The list parameters: list fields, and maps of lists (set through a new entry)."""
    found = []
    for leaf in leaves:
        origin, args = typing.get_origin(leaf.hint), typing.get_args(leaf.hint)
        if origin is list:
            found.append(leaf)
        elif origin is dict and typing.get_origin(args[1]) is list:
            found.append(dataclasses.replace(leaf, key=f"{leaf.key}.{ENTRY}", prefix="+"))
    return found


LEAVES = schema_leaves()
LISTS = list_leaves(LEAVES)
RULED = [leaf for leaf in LISTS if isinstance(leaf.meta["length"], Per)]
KEYED = [leaf for leaf in LEAVES if leaf.meta.get("keys")]


def values(leaf: Leaf, n: int) -> st.SearchStrategy:
    """Lists of ``n`` values, each within the leaf's range."""
    lo, hi = leaf.meta["lo"], leaf.meta["hi"]
    item = st.floats(-1e3 if lo is None else lo, 1e3 if hi is None else hi, allow_subnormal=False)
    return st.lists(item, min_size=n, max_size=n)


def test_every_list_parameter_declares_its_length():
    undeclared = [
        leaf.key
        for leaf in LISTS
        if not (leaf.meta["length"] == ANY_LENGTH or isinstance(leaf.meta["length"], Per))
    ]
    assert not undeclared, "declare param(length=Per(...)) or length=ANY_LENGTH"
    reached = {"behaviour.engagement_hazard", "strategy.outlet_closure.branches"}
    reached |= {"experiment.only", f"experiment.sample.ranges.{ENTRY}"}
    assert reached <= {leaf.key for leaf in LISTS}  # the walk reaches every schema


def test_lengths_are_declared_on_lists_and_keys_on_maps():
    """A rule on a field of another kind would never be checked."""
    lists = {leaf.key.removesuffix(f".{ENTRY}") for leaf in LISTS}
    maps = {leaf.key for leaf in LEAVES if typing.get_origin(leaf.hint) is dict}
    assert {leaf.key for leaf in LEAVES if leaf.meta.get("length") is not None} <= lists
    assert {leaf.key for leaf in KEYED} <= maps
    assert all(isinstance(leaf.meta["keys"], Per) for leaf in KEYED)


@pytest.mark.parametrize("wrong", ["empty", "one short", "one long"])
@pytest.mark.parametrize("leaf", RULED, ids=lambda leaf: leaf.key)
def test_a_list_of_the_wrong_length_is_refused_naming_the_key(leaf, wrong):
    n = len(leaf.meta["length"].names)
    length = {"empty": 0, "one short": n - 1, "one long": n + 1}[wrong]

    @settings(max_examples=3, deadline=None, database=None)
    @given(drawn=values(leaf, length))
    def check(drawn):
        with pytest.raises(ConfigError) as refused:
            leaf.load(leaf.override(drawn))
        message = str(refused.value)
        assert message.startswith(f"{leaf.key} has {length} value"), message
        assert f"it needs {n} (one per {leaf.meta['length'].what}: " in message
        assert "\n" not in message

    check()


@pytest.mark.parametrize("leaf", RULED, ids=lambda leaf: leaf.key)
def test_a_list_of_the_declared_length_is_accepted(leaf):
    @settings(max_examples=3, deadline=None, database=None)
    @given(drawn=values(leaf, len(leaf.meta["length"].names)))
    def check(drawn):
        assert value_at(leaf.load(leaf.override(drawn)), leaf.key) == drawn

    check()


def test_the_trials_empty_engagement_hazard_is_refused_before_any_run():
    with pytest.raises(ConfigError) as refused:
        run_scenario(
            ["population=small", "months=12", "burn_in=0", "behaviour.engagement_hazard=[]"]
        )
    assert str(refused.value) == (
        "behaviour.engagement_hazard has 0 values; it needs 2 (one per engagement state:"
        " disengaged, engaged)"
    )


@pytest.mark.parametrize(
    ("leaf", "name"),
    [(leaf, name) for leaf in KEYED for name in leaf.meta["keys"].names],
    ids=lambda x: x if isinstance(x, str) else x.key,
)
def test_a_deleted_key_of_a_fixed_key_map_is_refused(leaf, name):
    """On the command line (``~KEY.NAME``), and in a config object (the API, derived configs)."""
    with pytest.raises(ConfigError, match=re.escape(f"{leaf.key}.{name}")):
        leaf.load(f"~{leaf.key}.{name}")
    assert refused_after(leaf, lambda entries: entries.pop(name)).startswith(
        f"{leaf.key}.{name} is missing; {leaf.key} needs one per {leaf.meta['keys'].what}: "
    )


@pytest.mark.parametrize("leaf", KEYED, ids=lambda leaf: leaf.key)
def test_an_unknown_key_of_a_fixed_key_map_is_refused(leaf):
    with pytest.raises(ConfigError, match=re.escape(f"{leaf.key}.mood")):
        leaf.load(f"+{leaf.key}.mood=0.5")
    assert refused_after(leaf, lambda entries: entries.update(mood=0.5)).startswith(
        f"{leaf.key}.mood: unknown {leaf.meta['keys'].what}; allowed "
    )


def refused_after(leaf: Leaf, change) -> str:
    """The refusal of a loaded config whose map at ``leaf.key`` was changed by ``change``."""
    config = leaf.load()
    change(value_at(config, leaf.key))
    with pytest.raises(ConfigError) as refused:
        to_config(config, schema=leaf.schema)
    assert "\n" not in str(refused.value)
    return str(refused.value)


# --------------------------------------------------------------------------------------------
# Debug mode: bounds-checked kernels
# --------------------------------------------------------------------------------------------

SMALL = ["population.customers=300", "months=3", "burn_in=0"]
DEBUG_RUN = f"""
import json
from sim import compiled
from sim.api import run_scenario
from sim.model import BankModel
from sim.scenario import load_config

summary = run_scenario({SMALL!r}).summary.to_dict()
config = load_config({SMALL!r})
config.behaviour.engagement_hazard = []  # set after validation: bypassed
try:
    model = BankModel(config)  # settling runs the customer month already
    model.step()
    model.step()
    bypassed = "ran"
except IndexError as exc:
    bypassed = f"IndexError: {{exc}}"
print(json.dumps({{"boundscheck": compiled.BOUNDSCHECK, "summary": summary, "bypassed": bypassed}},
                 default=float))
"""


@pytest.fixture(scope="module")
def debug_run() -> dict:
    """What a process in debug mode did: a small run's summary, and building (with its settling
    months) and two months of a model whose engagement_hazard was emptied after validation."""
    return in_debug_mode({"BANK_TESTBED_BOUNDSCHECK": "1"})


def in_debug_mode(variables: dict[str, str]) -> dict:
    env = {**os.environ, **variables}
    out = subprocess.run(
        [sys.executable, "-c", DEBUG_RUN], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.splitlines()[-1])


def test_debug_mode_runs_bounds_checked_kernels_to_the_same_results(debug_run):
    assert debug_run["boundscheck"] is True
    assert debug_run["summary"] == run_scenario(SMALL).summary.to_dict()


def test_a_short_list_reaches_the_kernel_only_past_validation_and_then_raises(debug_run):
    with pytest.raises(ConfigError, match="behaviour.engagement_hazard has 0 values"):
        load_config([*SMALL, "behaviour.engagement_hazard=[]"])
    assert debug_run["bypassed"].startswith("IndexError")


def test_the_interpreted_code_raises_on_a_short_list_past_validation():
    run = in_debug_mode({"NUMBA_DISABLE_JIT": "1", "PYTHONWARNINGS": "ignore"})
    assert run["boundscheck"] is False
    assert run["bypassed"].startswith("IndexError")
