"""Validation of a :class:`~sim.config.Config` beyond each field's own range (segment shares,
cross-field checks, the output folder), and the refusal of override literals Hydra would
silently reinterpret against the schema."""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser

from sim.config.constants import TIERS
from sim.config.schema import Config
from sim.folders import check_output_dir
from sim.params import ConfigError, check_node, type_hints


def validate(cfg: Config) -> None:
    """Raise ConfigError naming the first bad key, its value and what is allowed (the model's
    parameters; strategies are checked by ``sim.scenario.to_config``)."""
    check_node(cfg, "")
    _check_cross(cfg)
    check_output_dir(cfg.output.dir)


def _check_cross(cfg: Config) -> None:
    if cfg.output.crm_reference_month > cfg.months:
        raise ConfigError(
            f"output.crm_reference_month={cfg.output.crm_reference_month} is after the run's"
            f" last measured month; allowed 0 to months={cfg.months}"
        )
    segments = cfg.population.segments
    if not segments:
        raise ConfigError("population.segments is empty; at least one segment is required")
    total = sum(s.share for s in segments.values())
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise ConfigError(f"population.segments shares sum to {total:g}; they must sum to 1")
    for name, s in segments.items():
        if name in TIERS:
            raise ConfigError(f"population.segments.{name}: a tier's name; choose another name")
        if s.urban + s.rural > 1.0:
            raise ConfigError(
                f"population.segments.{name}: urban + rural = {s.urban + s.rural:g};"
                " allowed at most 1"
            )


def check_literals(overrides: list[str]) -> None:
    """Refuse override values that Hydra would silently reinterpret against the schema (see
    :func:`check_literal`); strategies' parameters are checked when typed."""
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        if override.is_sweep_override() or override.is_delete():
            continue
        found = schema_field(Config, override.key_or_group.split("."))
        if found is not None:
            check_literal(override.key_or_group, *found, override.value())


def check_literal(key: str, hint: Any, default: Any, value: Any) -> None:
    """Refuse anything but true or false for a switch (``2`` would become True), and ``{}`` for
    a table with default entries (merged into them, it would change nothing)."""
    if hint is bool and not isinstance(value, bool):
        raise ConfigError(f"{key}={value!r} is not a switch value; allowed true or false")
    if isinstance(default, dict) and default and value == {}:
        raise ConfigError(
            f"{key}={{}} would change nothing (an empty table is merged into the default"
            f" entries {sorted(default)}); set the entries you mean, e.g."
            f" {key}.{next(iter(default))}=..."
        )


def schema_field(node_type: type, parts: list[str]) -> tuple[Any, Any] | None:
    """(type, default) of the schema field at a dotted key's ``parts``, or None if none."""
    f = next((f for f in dataclasses.fields(node_type) if f.name == parts[0]), None)
    if f is None:
        return None
    hint, default, rest = type_hints(node_type)[f.name], field_default(f), parts[1:]
    if not rest:
        return hint, default
    if dataclasses.is_dataclass(hint):
        return schema_field(typing.cast(type, hint), rest)
    item = next(iter(default.values()), None) if isinstance(default, dict) else None
    if dataclasses.is_dataclass(item) and len(rest) > 1:
        return schema_field(type(item), rest[1:])
    return None


def field_default(f: dataclasses.Field[Any]) -> Any:
    """A config field's default, also when it comes from a factory (lists, dicts; every config
    field has one or the other, so the factory is set when the default is not)."""
    return f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[operator]
