"""What a command line may say: ``key=value`` overrides with literal values, checked before Hydra
composes anything.

Refused, each with a one-line :class:`~sim.params.ConfigError` that cuts long values: non-printing
characters, arguments longer than :data:`MAX_PATH` characters, brackets nested deeper than
:data:`MAX_DEPTH`, ``${...}`` interpolations and resolvers (escaped ones too, anywhere in a
value), YAML tags, integers beyond int64, nan and inf, non-ASCII text that would be read as a
number, unquoted non-ASCII text, ``hydra.*``, ``_``-prefixed and overlong keys, ``/`` in keys,
packages (``key@package``), deletions (``~key``), config group values that are not names of the
group's configs (a list of them only for the groups in :data:`LISTED`; none added with ``+``),
paths (:data:`PATHS`) that are not text, sweeps where the command takes one value per key, and
multiruns of more than :data:`MAX_JOBS` runs. The project's own YAML may still use
interpolations. :func:`check_path` bounds a path's length and refuses URLs.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, Override, RangeSweep
from hydra.errors import HydraException

from sim.params import ConfigError

MAX_PATH = 4096  # bytes in a path (Linux PATH_MAX); also the longest argument taken
MAX_NAME = 255  # bytes in one path component (NAME_MAX); also the longest key taken
MAX_GIVEN = MAX_PATH // 2  # bytes of a path given, made absolute: room for what is written in it
MAX_DEPTH = 8  # brackets nested in a value
MAX_INT = 2**63 - 1  # the largest integer (in size) a value may be: int64
MAX_JOBS = 10_000  # runs one multirun may ask for
MAX_MESSAGE = 600  # characters of a refusal; a longer one is cut in the middle
LISTED = ("strategy",)  # the config groups that take a list of names (strategies compose)
PATHS = ("output.dir", "bank.data.branches", "bank.data.segments", "bank.data.customers", "targets")
"""The keys whose values are local paths (``targets``: a file or a name; experiments.calibrate)."""
URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
HELP = ("-h", "--help")
LIBRARIES = ("sim", "runner", "analysis")
"""The packages that log rather than print; a command shows their log (:func:`console_log`)."""


def command(doc: str, prepare: Callable, run: Callable, args: list[str] | None = None) -> int:
    """A command's main: ``-h`` prints ``doc``; ``prepare(args)`` checks everything before any
    work and ``run`` does it; a ConfigError from either is refused in one line (exit 2).
    Returns ``run``'s exit code when it gives one, else 0."""
    args = sys.argv[1:] if args is None else args
    if set(args) & set(HELP):
        print(doc)
        return 0
    with console_log():
        try:
            code = run(prepare(args))
        except ConfigError as exc:
            refuse(exc)
    return code if isinstance(code, int) else 0


class ConsoleFormat(logging.Formatter):
    """A log record as a command prints it: its message, "warning: " before a warning."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return f"warning: {text}" if record.levelno >= logging.WARNING else text


def _with_bars(record: logging.LogRecord) -> bool:
    return bool(getattr(record, "progress", False))


@contextmanager
def console_log() -> Iterator[None]:
    """Print what the libraries log (:data:`LIBRARIES`, from INFO) while in the block, as the
    commands' own lines: on stdout (a bank's size and warnings about it, a store's repairs),
    or on stderr with the progress bars when logged with ``extra=sim.progress.PROGRESS`` (an
    estimate of the work, the report's stages)."""
    out, err = logging.StreamHandler(sys.stdout), logging.StreamHandler(sys.stderr)
    out.addFilter(lambda record: not _with_bars(record))
    err.addFilter(_with_bars)
    loggers = [logging.getLogger(name) for name in LIBRARIES]
    levels = [logger.level for logger in loggers]
    for handler in (out, err):
        handler.setFormatter(ConsoleFormat())
    for logger in loggers:
        logger.setLevel(logging.INFO)
        logger.addHandler(out)
        logger.addHandler(err)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(out)
            logger.removeHandler(err)
            logger.setLevel(level)


def refuse(error: ConfigError) -> NoReturn:
    """Print the one-line refusal on stderr (:func:`brief`) and exit 2."""
    print(f"config error: {brief(str(error))}", file=sys.stderr)
    sys.exit(2)


def brief(message: str) -> str:
    """``message`` as one printable line, cut in the middle (where a long value is) when longer
    than :data:`MAX_MESSAGE` characters."""
    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
    if len(line) <= MAX_MESSAGE:
        return line
    head = (MAX_MESSAGE - 5) * 2 // 3
    return f"{line[:head]} ... {line[head - MAX_MESSAGE + 5 :]}"


def split_flags(
    args: list[str], command: str, allowed: tuple[str, ...], advice: str
) -> tuple[set[str], list[str]]:
    """(flags, overrides) of a command line; a flag not in ``allowed`` is refused with
    ``advice``."""
    flags = {a for a in args if a.startswith("-")}
    for flag in sorted(flags - set(allowed)):
        raise ConfigError(
            f"{shown(flag)} is not supported by {command} (Hydra's flags are not); allowed:"
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
    parser = OverridesParser.create()
    parsed = [_parse(parser, line) for line in overrides]
    for override in parsed:
        _check_key(override)
        for leaf in _leaves(override.value()):
            _check_leaf(override.input_line, leaf)
        if override.key_or_group in groups:
            _check_group(override, groups[override.key_or_group])
        if override.key_or_group in PATHS:
            _check_paths(override)
        if override.is_sweep_override():
            _check_sweep(override, multirun)
    return parsed


def sweeps(parsed: list[Override]) -> list[list[str]]:
    """Every job of a multirun over checked ``parsed`` overrides, in Hydra's order (its basic
    sweeper); refused beyond :data:`MAX_JOBS` jobs."""
    if math.prod(_count(o.value()) for o in parsed) > MAX_JOBS:
        swept = " ".join(shown(o.input_line) for o in parsed if o.is_sweep_override())
        raise ConfigError(
            f"{swept} asks for more than {MAX_JOBS:,} runs; allowed at most {MAX_JOBS:,}: sweep"
            " fewer values per command (or use an experiment grid: docs/experiments.md)"
        )
    (jobs,) = BasicSweeper.split_arguments(parsed, max_batch_size=None)
    return jobs


def check_path(key: str, value: str) -> None:
    """Refuse a path that is a URL, too long for the file system, or has non-printing
    characters."""
    _check_characters(key, value)
    if scheme := URL.match(value):
        raise ConfigError(
            f"{key}={shown(value)} is not allowed; give a local path, not a URL"
            f" ({scheme[0]} is not read)"
        )
    size = len(str(Path(value).absolute()).encode())
    if size > MAX_GIVEN:
        raise ConfigError(
            f"{key}={shown(value)} is too long ({size:,} bytes as an absolute path); allowed at"
            f" most {MAX_GIVEN:,} bytes, so that what is written in it fits"
        )
    longest = max(Path(value).parts, key=lambda part: len(part.encode()), default="")
    if len(longest.encode()) > MAX_NAME:
        raise ConfigError(
            f"{key}={shown(value)} has a folder name of {len(longest.encode()):,} bytes;"
            f" allowed at most {MAX_NAME} bytes per name"
        )


def shown(text: str | None, limit: int = 80) -> str:
    """``text`` as a message shows it: escaped (one line) and cut to ``limit`` characters (an
    override's ``input_line``, which Hydra types as optional but sets on every parsed one)."""
    text = text or ""
    escaped = text.encode("unicode_escape").decode("ascii")
    return escaped if len(escaped) <= limit else f"{escaped[:limit]}... ({len(text):,} characters)"


def _check_text(line: str) -> None:
    """The raw argument: printable, not too long, no interpolation, YAML tag or deep nesting."""
    key, _, value = line.partition("=")
    _check_characters(key, line)
    if len(line) > MAX_PATH:
        raise ConfigError(
            f"{shown(line)} is too long ({len(line):,} characters); allowed at most {MAX_PATH:,}"
        )
    if "${" in line:
        raise _interpolation(line)
    if "!!" in value or value.lstrip("'\" [{").startswith("!"):
        raise ConfigError(f"{shown(line)} is not allowed; values cannot carry YAML tags (!...)")
    if _depth(QUOTED.sub("", value)) > MAX_DEPTH:
        raise ConfigError(
            f"{shown(line)} is nested too deep; allowed at most {MAX_DEPTH} levels of brackets"
        )


def _check_characters(key: str, text: str) -> None:
    bad = next((c for c in text if not c.isprintable()), None)
    if bad is not None:
        raise ConfigError(
            f"{shown(text)} is not allowed; it holds the control character {bad!r}"
            f" (in {shown(key)}); only printable characters are"
        )


def _interpolation(line: str | None) -> ConfigError:
    return ConfigError(
        f"{shown(line)} is not allowed; values are literal: no ${{...}} interpolations or resolvers"
    )


def _depth(text: str) -> int:
    """How deep brackets nest in ``text``."""
    depth = deepest = 0
    for c in text:
        depth += (c in "[{(") - (c in "]})")
        deepest = max(deepest, depth)
    return deepest


def _parse(parser: OverridesParser, line: str) -> Override:
    """``line`` parsed, or refused in plain words."""
    try:
        return parser.parse_override(line)
    except HydraException:
        key, _, value = line.partition("=")
        if not key.isascii():
            raise ConfigError(
                f"{shown(line)} is not allowed; keys are ASCII names joined by dots, e.g."
                " population.customers"
            ) from None
        if not QUOTED.sub("", value).isascii():
            _check_leaf(line, value)  # digits of another script: say so
            raise ConfigError(
                f"{shown(line)} is not allowed unquoted; quote text with non-ASCII characters:"
                f" '{shown(key)}=\"...\"'"
            ) from None
        raise ConfigError(
            f"{shown(line)} cannot be read as key=value; check its brackets and quotes (text with"
            f" spaces or symbols goes in quotes: '{shown(key)}=\"...\"')"
        ) from None


def _leaves(value):
    """The plain values of a parsed value: its items, a map's keys and values, a sweep's
    choices, range and tags."""
    if dataclasses.is_dataclass(value):
        value = [getattr(value, f.name) for f in dataclasses.fields(value)]
    elif isinstance(value, dict):
        value = [*value, *value.values()]
    if isinstance(value, (list, set)):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _check_leaf(line: str | None, leaf) -> None:
    """One plain value: no interpolation or non-ASCII number; a finite number within int64."""
    if isinstance(leaf, str):
        if "${" in leaf:
            raise _interpolation(line)
        if not leaf.isascii() and _reads_as_number(leaf):
            raise ConfigError(
                f"{shown(line)} is not allowed; {shown(leaf)} would be read as a number: write"
                " numbers with the digits 0-9"
            )
    elif isinstance(leaf, float) and not math.isfinite(leaf):
        raise ConfigError(f"{shown(line)} is not allowed; numbers are finite (no nan or inf)")
    elif isinstance(leaf, int) and abs(leaf) > MAX_INT:
        raise ConfigError(
            f"{shown(line)} is out of range; integers are allowed from -{MAX_INT:,} to {MAX_INT:,}"
        )


def _reads_as_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_key(override: Override) -> None:
    key, line = override.key_or_group, shown(override.input_line)
    parts = key.replace("/", ".").split(".")
    if parts[0] == "hydra" or any(part.startswith("_") for part in parts):
        raise ConfigError(
            f"{line} is not allowed; hydra.* and _target_ keys, and names starting with _, cannot"
            " be set (only the scenario's and the experiment's parameters)"
        )
    if len(key.encode()) > MAX_NAME:
        raise ConfigError(f"{line} is not allowed; a key is at most {MAX_NAME} bytes")
    if not all(parts) or "/" in key:
        raise ConfigError(
            f"{line} is not allowed; a key is names joined by dots, e.g. population.customers=5000"
            " (a config group takes a name: population=small)"
        )
    if override.package is not None:
        raise ConfigError(f"{line} is not allowed; packages (key@package) cannot be set")
    if override.is_delete():
        raise ConfigError(f"{line} is not allowed; keys cannot be deleted (~key): set a value")


def _check_group(override: Override, options: list[str]) -> None:
    """A config group's value: a name of its options (a list of them for :data:`LISTED`);
    sweeps: each choice."""
    group = override.key_or_group
    if override.is_add() or override.is_force_add():
        raise ConfigError(
            f"{shown(override.input_line)} is not allowed; a config group is chosen without +:"
            f" {group}=<name>"
        )
    listed = group in LISTED
    for choice in _choices(override.value()):
        names = choice if listed and isinstance(choice, list) else [choice]
        if not all(isinstance(name, str) for name in names):
            takes = "a name or a list of names" if listed else "one name"
            none = f"; none: {group}=[]" if listed else ""
            raise ConfigError(
                f"{shown(override.input_line)} is not allowed; {group} takes {takes} from"
                f" {options}{none}"
            )
        unknown = next((name for name in names if name not in options), None)
        if unknown is not None:
            raise ConfigError(f"{group}='{shown(unknown)}' is unknown; choose from {options}")


def _check_paths(override: Override) -> None:
    """A path key's value: text (a sweep: each choice), checked by :func:`check_path`."""
    key = override.key_or_group
    for choice in _choices(override.value()):
        if not isinstance(choice, str):
            raise ConfigError(
                f"{shown(override.input_line)} is not allowed; {key} is a path: give text (quote"
                f" one that reads as a number, true, false or null: '{key}=\"...\"')"
            )
        check_path(key, choice)


def _choices(value) -> list:
    """A choice sweep's values, or ``[value]``."""
    return value.list if isinstance(value, ChoiceSweep) else [value]


def _check_sweep(override: Override, multirun: bool) -> None:
    line, value = shown(override.input_line), override.value()
    if not multirun:
        raise ConfigError(
            f"{line} is a sweep; one value per key here (sweep with ./testbed sim.run -m ..., or"
            " an experiment grid: see docs/experiments.md)"
        )
    if not (isinstance(value, ChoiceSweep) or isinstance(value, RangeSweep) and value.step):
        raise ConfigError(
            f"{line} is not allowed; a sweep lists values (seed=0,1,2) or is a range with a"
            " step that is not 0 (seed=range(0,10,2))"
        )


def _count(value) -> int:
    """How many values a (checked) sweep takes, counted up to ``MAX_JOBS + 1``; 1 if not one."""
    if isinstance(value, RangeSweep):
        return sum(1 for _ in itertools.islice(value.range(), MAX_JOBS + 1))
    return len(_choices(value))
