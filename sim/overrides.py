"""What a command line may say: ``key=value`` overrides with literal values, checked before Hydra
composes anything.

Refused, each with a one-line :class:`~sim.params.ConfigError`: control characters, arguments
longer than :data:`MAX_PATH` characters, ``${...}`` interpolations and resolvers, YAML tags,
``hydra.*`` and ``_target_`` keys, packages (``key@package``), config-group values that are not
a name or a list of names, and sweeps where the command takes one value per key. The project's
own YAML may still use interpolations. :func:`check_path` bounds a folder setting's length.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, Override
from hydra.errors import HydraException

from sim.params import ConfigError, one_line

MAX_PATH = 4096  # bytes in a path (Linux PATH_MAX); also the longest argument taken
MAX_NAME = 255  # bytes in one path component (NAME_MAX)


HELP = ("-h", "--help")


def command(doc: str, prepare: Callable, run: Callable, args: list[str] | None = None) -> int:
    """A command's main: ``-h`` prints ``doc``; ``prepare(args)`` checks everything before any
    work and ``run`` does it; a ConfigError from either is refused in one line (exit 2).
    Returns ``run``'s exit code when it gives one, else 0."""
    args = sys.argv[1:] if args is None else args
    if set(args) & set(HELP):
        print(doc)
        return 0
    try:
        code = run(prepare(args))
    except ConfigError as exc:
        refuse(exc)
    return code if isinstance(code, int) else 0


def refuse(error: ConfigError) -> NoReturn:
    """Print the one-line refusal on stderr and exit 2."""
    print(f"config error: {error}", file=sys.stderr)
    sys.exit(2)


def split_flags(
    args: list[str], command: str, allowed: tuple[str, ...], advice: str
) -> tuple[set[str], list[str]]:
    """(flags, overrides) of a command line; a flag not in ``allowed`` is refused with
    ``advice``."""
    flags = {a for a in args if a.startswith("-")}
    for flag in sorted(flags - set(allowed)):
        raise ConfigError(
            f"{_shown(flag)} is not supported by {command} (Hydra's flags are not); allowed:"
            f" {', '.join(['key=value overrides', *allowed])}; {advice}"
        )
    return flags, [a for a in args if not a.startswith("-")]


def check_overrides(
    overrides: list[str], groups: dict[str, list[str]], multirun: bool = False
) -> list[Override]:
    """Parse and check ``overrides``; ``groups`` maps each config group to its options. Sweeps
    (``seed=0,1``) are refused unless ``multirun`` (then :func:`sweeps` lists the jobs)."""
    for line in overrides:
        _check_text(line)
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as exc:
        raise ConfigError(one_line(exc)) from None
    for override in parsed:
        _check_key(override)
        if override.key_or_group in groups:
            _check_group(override, groups[override.key_or_group])
        if override.is_sweep_override() and not multirun:
            raise ConfigError(
                f"{_shown(override.input_line)} is a sweep; one value per key here (sweep with"
                " python -m sim.run -m ..., or an experiment grid: see docs/experiments.md)"
            )
    return parsed


def sweeps(parsed: list[Override]) -> list[list[str]]:
    """Every job of a multirun over ``parsed`` overrides, in Hydra's order (its basic sweeper)."""
    try:
        (jobs,) = BasicSweeper.split_arguments(parsed, max_batch_size=None)
    except HydraException as exc:
        raise ConfigError(one_line(exc)) from None
    return jobs


def check_path(key: str, value: str) -> None:
    """Refuse a folder setting too long for the file system, or with control characters."""
    _check_characters(key, value)
    if len(value.encode()) > MAX_PATH:
        raise ConfigError(
            f"{key}={_shown(value)} is too long ({len(value.encode()):,} bytes);"
            f" allowed at most {MAX_PATH:,} bytes"
        )
    longest = max(Path(value).parts, key=lambda part: len(part.encode()), default="")
    if len(longest.encode()) > MAX_NAME:
        raise ConfigError(
            f"{key}={_shown(value)} has a folder name of {len(longest.encode()):,} bytes;"
            f" allowed at most {MAX_NAME} bytes per name"
        )


def _check_text(line: str) -> None:
    """The raw argument: no control characters, not too long, no interpolation, no YAML tag."""
    key, _, value = line.partition("=")
    _check_characters(key, line)
    if len(line) > MAX_PATH:
        raise ConfigError(
            f"{_shown(line)} is too long ({len(line):,} characters); allowed at most {MAX_PATH:,}"
        )
    if "${" in value:
        raise ConfigError(
            f"{_shown(line)} is not allowed; values are literal: no ${{...}} interpolations"
            " or resolvers"
        )
    if "!!" in value or value.lstrip("'\" [{").startswith("!"):
        raise ConfigError(f"{_shown(line)} is not allowed; values cannot carry YAML tags (!...)")


def _check_characters(key: str, text: str) -> None:
    bad = next((c for c in text if ord(c) < 0x20 or ord(c) == 0x7F), None)
    if bad is not None:
        raise ConfigError(
            f"{_shown(text)} is not allowed; it holds the control character {bad!r}"
            f" (in {_shown(key)}); only printable characters are"
        )


def _check_key(override: Override) -> None:
    parts = override.key_or_group.replace("/", ".").split(".")
    if parts[0] == "hydra" or "_target_" in parts:
        raise ConfigError(
            f"{_shown(override.input_line)} is not allowed; hydra.* and _target_ keys cannot be"
            " set (only the scenario's and the experiment's parameters)"
        )
    if override.package is not None:
        raise ConfigError(
            f"{_shown(override.input_line)} is not allowed; packages (key@package) cannot be set"
        )


def _check_group(override: Override, options: list[str]) -> None:
    """A config group's value: a name, a list of names, or null (sweeps: each choice)."""
    value = override.value()
    choices = value.list if isinstance(value, ChoiceSweep) else [value]
    for choice in choices:
        names = choice if isinstance(choice, list) else [choice]
        if choice is not None and not all(isinstance(n, str) for n in names):
            raise ConfigError(
                f"{_shown(override.input_line)} is not allowed; {override.key_or_group} takes a"
                f" name or a list of names from {options}"
            )


def _shown(text: str, limit: int = 80) -> str:
    """``text`` as a message shows it: escaped (one line) and cut to ``limit`` characters."""
    shown = text.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= limit else f"{shown[:limit]}... ({len(text):,} characters)"
