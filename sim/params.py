"""The parameter toolkit shared by every typed config: the model schema (``sim.config``), the
strategies' configs (``sim.strategies``) and the experiment schema (``runner.config``).

A leaf parameter is declared with :func:`param`, which records its unit, allowed range (or
choices) and source, and for a list its length and for a map of fixed keys those keys (a
:class:`Per` rule, or :data:`ANY_LENGTH` for a list of any length: every list parameter declares
one, tests/adversarial/test_lists.py holds them to it); :func:`check_node` walks a config
dataclass and raises a one-line :class:`ConfigError` naming the first bad key, its value and
what is allowed.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from omegaconf.errors import ConfigAttributeError, ConfigKeyError


class ConfigError(ValueError):
    """A configuration value that is not allowed; the message is one line."""


@dataclass(frozen=True)
class Per:
    """One value per name: a list's values in this order (``length=``), or a map's keys
    (``keys=``); ``what`` says what each name is, e.g. ``Per("tier", TIERS)``."""

    what: str
    names: tuple[str, ...]

    def __str__(self) -> str:
        return f"one per {self.what}: {', '.join(self.names)}"


ANY_LENGTH = "any length"
"""The ``length`` of a list parameter that may hold any number of values (ids, names)."""


def param(default, unit: str, source: str, lo=None, hi=None, choices=None, length=None, keys=None):
    """A config field with its unit, allowed range (inclusive) or choices, and source; a list's
    ``length`` (a :class:`Per` or :data:`ANY_LENGTH`), a map's fixed ``keys`` (a :class:`Per`).
    Range and choices apply to each value of a list or map."""
    meta = {"unit": unit, "source": source, "lo": lo, "hi": hi, "choices": choices}
    meta |= {"length": length, "keys": keys}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return field(default=default, metadata=meta)


KEY_DOCS = {
    "strategy": "docs/strategies.md",
    "experiment": "docs/experiments.md#the-experiment-config",
    "executor": "docs/experiments.md#executors",
    "limits": "docs/experiments.md#resource-limits",
}
"""Where the keys of each kind are listed; any other key is in docs/parameters.md."""


def one_line(exc: Exception, unknown: Callable[[str], str] | None = None) -> str:
    """A Hydra or OmegaConf error as one line that names the key (an unknown key as ``unknown``
    words it; by default :func:`unknown_key`)."""
    cause = exc.__cause__ or exc
    head = next((ln.strip() for ln in str(cause).splitlines() if ln.strip()), repr(cause))
    key = getattr(cause, "full_key", None)
    if isinstance(cause, (ConfigKeyError, ConfigAttributeError)) and key:
        return (unknown or unknown_key)(key)
    return f"{key}: {head}" if key else head


def unknown_key(key: str, strategies: Sequence[str] = ()) -> str:
    """The refusal of an unknown key, pointing to the page that lists the keys of its kind; a
    strategy's parameter set while the strategy is not active (``strategies``: the names that
    ``strategy=[...]`` takes) says how to activate it."""
    head, _, rest = key.partition(".")
    name, _, field_name = rest.partition(".")
    if head != "strategy" or not name or not strategies:
        where = f"see {KEY_DOCS.get(head, 'docs/parameters.md')}"
        if head == "experiment" and field_name:  # a new entry of a map (arms, grid ...)
            where = f"a new entry of a map such as experiment.arms takes a +: +{key}=...; {where}"
        return f"{key} is not a known key ({where})"
    if name not in strategies:
        listed = ", ".join(strategies)
        return f"{key}: {name!r} is not a strategy; strategies: {listed} (docs/strategies.md)"
    page = f"docs/strategies.md#{name}"
    if field_name:
        return f"{key} is not a parameter of {name}; its parameters: {page}"
    return (
        f"{key}: the {name} strategy is not active in this scenario, so its parameters cannot"
        f" be set; activate it with strategy=[{name}] (or list it with others, e.g."
        f" strategy=[playbook,{name}]); its parameters: {page}"
    )


@functools.cache
def type_hints(cls: type) -> dict[str, Any]:
    """A config dataclass's field types (evaluated once per class)."""
    return typing.get_type_hints(cls)


def check_node(node, prefix: str) -> None:
    """Check every field of a config dataclass, recursively: types, then ranges."""
    hints = type_hints(type(node))  # type: ignore[arg-type]  # python/mypy#11470
    for f in dataclasses.fields(node):
        _check_typed(f"{prefix}{f.name}", getattr(node, f.name), hints[f.name], f.metadata)


def _check_typed(key: str, value, hint, meta) -> None:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        _require(key, value, typing.cast(type, hint))
        check_node(value, key + ".")
    elif origin is dict:
        _require(key, value, dict)
        check_keys(key, value, meta.get("keys"))
        for name, item in value.items():
            _check_typed(f"{key}.{name}", item, args[1], meta)
    elif origin is list:
        _require(key, value, list)
        check_length(key, value, meta.get("length"))
        for i, item in enumerate(value):
            _check_typed(f"{key}[{i}]", item, args[0], meta)
    else:
        _require(key, value, hint)
        check_value(key, value, meta)


def _require(key: str, value, kind: type) -> None:
    """Raise unless ``value`` is of ``kind`` (an int counts as a float; a bool as neither)."""
    allowed = (int, float) if kind is float else kind
    if isinstance(value, bool) and kind is not bool or not isinstance(value, allowed):
        raise ConfigError(f"{key}={value!r} has the wrong type; expected {kind.__name__}")


def check_length(key: str, value: list, rule: Per | str | None) -> None:
    """Refuse a list whose length is not what its :class:`Per` rule needs."""
    n = len(value)
    if isinstance(rule, Per) and n != len(rule.names):
        values = "value" if n == 1 else "values"
        raise ConfigError(f"{key} has {n} {values}; it needs {len(rule.names)} ({rule})")


def check_keys(key: str, value: dict, rule: Per | None) -> None:
    """Refuse a map that lacks one of its :class:`Per` rule's keys or has another."""
    if rule is None:
        return
    unknown = [name for name in value if name not in rule.names]
    if unknown:
        raise ConfigError(
            f"{key}.{unknown[0]}: unknown {rule.what}; allowed {', '.join(rule.names)}"
        )
    missing = [name for name in rule.names if name not in value]
    if missing:
        raise ConfigError(f"{key}.{missing[0]} is missing; {key} needs {rule}")


def describe_shape(meta) -> str:
    """A list's declared length or a map's keys in words, or "" if neither is fixed."""
    if isinstance(meta.get("length"), Per):
        return f"{len(meta['length'].names)} values, {meta['length']}"
    return f"keys: {', '.join(meta['keys'].names)}" if meta.get("keys") else ""


def check_value(key: str, value, meta) -> None:
    """Check one value against a field's metadata (range or choices)."""
    lo, hi, choices = meta.get("lo"), meta.get("hi"), meta.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(f"{key}={value!r} is not allowed; choose one of {list(choices)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ConfigError(f"{key}={value!r} is not allowed; it must be a finite number")
        if lo is not None and value < lo or hi is not None and value > hi:
            raise ConfigError(f"{key}={value!r} is out of range; allowed {range_text(lo, hi)}")


def describe_allowed(meta) -> str:
    """What a field allows, in words: its choices, its range, or "any"."""
    if meta.get("choices"):
        return ", ".join(map(str, meta["choices"]))
    if meta.get("lo") is not None or meta.get("hi") is not None:
        return range_text(meta.get("lo"), meta.get("hi"))
    return "any"


def range_text(lo, hi) -> str:
    """An inclusive range in words: ``0 to 1``, ``>= 0`` or ``<= 30``."""
    if hi is None:
        return f">= {value_text(lo)}"
    return f"<= {value_text(hi)}" if lo is None else f"{value_text(lo)} to {value_text(hi)}"


def value_text(value) -> str:
    """A parameter value as the reference shows it (``1,200``, ``0.015``, ``True``)."""
    if isinstance(value, float):
        return f"{value:,.6g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
