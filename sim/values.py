"""Dotted keys that may name a list's element (``behaviour.product_hazard.0``), read and set.

A calibration fits, and its plausible sets name, single elements of a list; an experiment's
points set them the same way. :func:`with_values` sets such an element and keeps the list's
others (``sim.scenario.with_values`` sets a whole field or map entry); :func:`value_at` and
:func:`numeric_key` read them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from sim.config import Config
from sim.params import ConfigError
from sim.scenario import MISSING, NOT_SCENARIO, Derivations
from sim.scenario import value_at as field_at
from sim.scenario import with_values as set_fields


def value_at(config: Config, key: str) -> Any:
    """The value at a dotted key of a config (a list's element as ``key.<index>``), or
    MISSING."""
    head, _, last = key.rpartition(".")
    container = field_at(config, head) if head else MISSING
    if isinstance(container, list):
        return container[int(last)] if last.isdigit() and int(last) < len(container) else MISSING
    return field_at(config, key)


def with_values(config: Config, values: dict[str, Any], seen: Derivations | None = None) -> Config:
    """``sim.scenario.with_values`` where a key may name a list's element: that element is set
    and the list's others kept (an index past the list's end is refused)."""
    fields: dict[str, Any] = {}
    for key, value in values.items():
        head, _, last = key.rpartition(".")
        container = field_at(config, head) if head else MISSING
        if isinstance(container, list):
            if value_at(config, key) is MISSING:
                raise ConfigError(
                    f"{key}: {head} has {len(container)} elements; allowed {head}.0 to"
                    f" {head}.{len(container) - 1}"
                )
            fields.setdefault(head, list(container))[int(last)] = value
        else:
            fields[key] = value
    return set_fields(config, fields, seen)


def numeric_key(config: Config, key: str, name: str) -> tuple[float, dict]:
    """The number at a scenario key (a list's element as ``key.<index>``) and its field's
    metadata (``sim.params.param``: lo, hi ...); a ConfigError naming ``name`` unless the
    scenario has a number there."""
    if key.split(".")[0] in NOT_SCENARIO:
        raise ConfigError(f"{name}: {key} does not describe the bank; scenario keys only")
    found = value_at(config, key)
    if found is MISSING:
        raise ConfigError(f"{name}: {key} is not a known key (see docs/parameters.md)")
    if not is_number(found):
        raise ConfigError(f"{name}: {key}={found!r} is not a number")
    return found, _metadata(config, key)


def _metadata(config, key: str) -> dict:
    """The metadata of the last dataclass field on the way to ``key`` (a list's or map's
    entries share their field's)."""
    node = config
    meta: Mapping[str, Any] = {}
    for part in key.split("."):
        if dataclasses.is_dataclass(node):
            f = {f.name: f for f in dataclasses.fields(node)}[part]
            node, meta = getattr(node, part), f.metadata
        elif isinstance(node, dict):
            node = node[part]
        else:
            node = node[int(part)]
    return dict(meta)


def is_number(x) -> bool:
    """A finite int or float, not a bool."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
