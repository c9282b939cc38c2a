"""A bank of one's own, read from files: its branches, its segment table and a CRM extract.

``bank.data`` names the files (CSV or Parquet; formats in docs/bank_data.md); each is optional and
falls back to the synthetic default. :func:`load` reads and checks them (cached while a file is
unchanged) and refuses bad input with one line naming the file, the row and the column; a file's
size, rows and header are checked before it is read, its cells before any work.
:func:`apply` puts what the files decide into the config, so that the config stays the one
description of a scenario: the segment table, the number of branches open at the start and, with
a ``staff`` column, of client managers; it refuses an extract too small or weighed too lightly
or heavily for ``population.customers`` agents, and logs (once a process, so once a command) the
extract's size and a warning when the branch network is far too large or small for its book
(:func:`network_warning`). The opening book and the branch sites are built from the files by
:mod:`sim.opening`.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import hashlib
import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from sim import behaviour
from sim.config import (
    TIERS,
    Config,
    PopulationConfig,
    SegmentConfig,
    field_default,
)
from sim.folders import read_parquet
from sim.mechanisms import books
from sim.params import ConfigError

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent  # relative paths are read from the project folder
EARTH_KM = 6371.0088  # mean Earth radius
SHARE_TOLERANCE = 1e-3  # segment shares may miss 1 by rounding this much; they are rescaled
MAX_PRODUCTS = 6
MAX_FILE_BYTES = 1_000_000_000  # ten million extract rows (~75 bytes each) with room to spare
MAX_ROWS = 10_000_000  # as many as the largest opening book; loading them takes a few GB
MAX_CELL = 1_000  # characters in a cell: ids and names are short; more is a broken file
HEADER_BYTES = 1 << 16  # a CSV's header line is read on its own first, at most this long
SEPARATORS = (";", "\t", "|")  # what a one-column header holding them was separated by
CONTROL = r"[\x00-\x1f\x7f]"  # NUL, tab, line breaks, ... : never part of an id or a name
CLONES = 100  # simulated customers per extract row at most: more copy too few customers
SHOWN = 40  # characters of a refused cell shown
PER_BRANCH = 213_000 / 12  # real customers per branch of the synthetic default bank
SIZED = 10.0  # a network sized for a bank this many times larger (or smaller) is warned of...
COST_SHARE = 0.5  # ...a larger one when its branches also cost over this share of the margin
TOLD: set[str] = set()  # what this process (a command) has logged: each message is logged once


@dataclass(frozen=True)
class Column:
    """One column of an input file: its kind, whether it is required and its allowed range."""

    name: str
    kind: str  # "number", "integer", "text" or "switch"
    required: bool = True
    lo: float | None = None
    hi: float | None = None


BRANCH_COLUMNS = (
    Column("branch", "text"),
    Column("x", "number", False, 0.0),
    Column("y", "number", False, 0.0),
    Column("lat", "number", False, -90.0, 90.0),
    Column("lon", "number", False, -180.0, 180.0),
    Column("cost", "number", False, 0.0, 1e9),
    Column("capacity", "number", False, 1.0, 1e9),
    Column("staff", "integer", False, 0, 100_000),
    Column("opening_month", "integer", False, -1_200, 1_200),
)
SEGMENT_COLUMNS = (Column("segment", "text"),) + tuple(
    Column(f.name, "number", f.name == "share", f.metadata["lo"], f.metadata["hi"])
    for f in dataclasses.fields(SegmentConfig)
)
CUSTOMER_COLUMNS = (
    Column("customer_id", "text"),
    Column("age", "number", True, 18.0, 110.0),
    Column("tenure_months", "integer", True, 0, 1_200),
    Column("products", "integer", True, 1, MAX_PRODUCTS),
    Column("aum", "number", False, 0.0, 1e12),
    Column("balance", "number", False, 0.0, 1e12),
    Column("branch", "text", False),
    Column("segment", "text", False),
    Column("tier", "text", False),
    Column("weight", "number", False, 1e-3, 1e6),
    Column("digital", "number", False, 0.0, 1.0),
    Column("active", "switch", False),
    Column("churned", "switch", False),
    Column("exit_reason", "text", False),
)
SWITCHES = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


@dataclass(frozen=True)
class BankData:
    """The checked contents of a bank's files (None where the synthetic default holds).

    ``branches``: one row per branch in file order, with ``x``/``y`` in km, ``cost``,
    ``capacity`` and ``staff`` (NaN where not given) and ``opening_month`` (0 unless given).
    ``customers``: the active rows of the CRM extract with ``aum``, ``weight``, ``segment`` (a
    segment number or -1) and ``branch`` (a row of ``branches``, or -1).
    """

    branches: pd.DataFrame | None
    segments: dict[str, SegmentConfig] | None
    customers: pd.DataFrame | None
    digests: dict[str, str]
    weighted: bool  # whether the extract has a weight column

    @property
    def opening_branches(self) -> pd.DataFrame:
        """The branches open at the start (the others open during the run); for a bank with a
        branch file."""
        assert self.branches is not None, "no branch file"
        return self.branches[self.branches["opening_month"] <= 0]


def given(config: Config) -> dict[str, str]:
    """The files a config names: ``bank.data`` key -> path as given (none for the synthetic
    bank)."""
    data = config.bank.data
    return {f.name: text for f in dataclasses.fields(data) if (text := getattr(data, f.name))}


def load(config: Config) -> BankData:
    """The bank's files, read and checked against the config (cached while they are unchanged)."""
    files = {k: path_of(v) for k, v in given(config).items()}
    for key, path in files.items():
        if not path.is_file():
            raise ConfigError(f"bank.data.{key}={given(config)[key]!r}: no such file")
    stamps = tuple((k, p, *_stamp(p)) for k, p in files.items())
    names = tuple(config.population.segments)
    return _load(stamps, config.bank.city_km, names)


@lru_cache(maxsize=8)
def _load(stamps: tuple, city_km: float, names: tuple[str, ...]) -> BankData:
    files = {k: p for k, p, *_ in stamps}
    branches = _branches(files["branches"], city_km) if "branches" in files else None
    segments = _segments(files["segments"]) if "segments" in files else None
    customers, weighted = None, False
    if "customers" in files:
        customers = _customers(files["customers"], list(segments or names), branches)
        weighted = "weight" in _read(files["customers"], *_stamp(files["customers"]))
    digests = {k: digest(p) for k, p in files.items()}
    return BankData(branches, segments, customers, digests, weighted)


def apply(config: Config) -> bool:
    """Set what the files decide in the config (the segment table, the branches open at the
    start, the managers when branches list their staff); refuse a config that sets it otherwise,
    or an extract that does not fit ``population.customers`` agents. Whether the config names any
    file."""
    if not given(config):
        return False
    data = load(config)
    if data.segments is not None:
        _decide(config.population, "segments", data.segments, "population.segments", "segments")
    if data.branches is not None:
        opening = data.opening_branches
        _decide(config.bank, "branches", len(opening), "bank.branches", "branches")
        if opening["staff"].notna().all():
            staff = int(opening["staff"].sum())
            _decide(config.bank, "managers", staff, "bank.managers", "branches")
    if data.customers is not None:
        where = _display(path_of(config.bank.data.customers))
        _enough_rows(where, len(data.customers), config.population.customers)
        _sane_weights(where, data.customers, config.population)
        _tell(logging.INFO, size_statement(config, data))
        _tell(logging.WARNING, network_warning(config, data))
    return True


def _tell(level: int, message: str) -> None:
    """Log a message unless this process has logged it already (or it is empty)."""
    if message and message not in TOLD:
        TOLD.add(message)
        log.log(level, message)


def size_statement(config: Config, data: BankData) -> str:
    """The extract's size in words: its rows, the real customers they stand for and the
    branches."""
    where = _display(path_of(config.bank.data.customers))
    assert data.customers is not None, "no CRM extract"
    weight = data.customers["weight"]
    _, _, branches = _network(config, data)
    if not data.weighted:
        return (
            f"{where}: {len(weight):,} real customers in {branches}; each row stands for 1"
            " customer because the file has no weight column"
        )
    lo, hi = weight.min(), weight.max()
    weights = f"weights {lo:,.4g} to {hi:,.4g}" if lo < hi else f"weight {lo:,.4g} each"
    return (
        f"{where}: {len(weight):,} active rows standing for {weight.sum():,.0f} real customers"
        f" ({weights}) in {branches}"
    )


def network_warning(config: Config, data: BankData) -> str:
    """A warning when the branches open at the start are sized for a bank over ``SIZED`` times
    larger than the extract's (by real customers per branch against the synthetic bank's) and
    cost over ``COST_SHARE`` of the book's margin, or for one over ``SIZED`` times smaller;
    else ""."""
    where = _display(path_of(config.bank.data.customers))
    assert data.customers is not None, "no CRM extract"
    real = float(data.customers["weight"].sum())
    count, cost, _ = _network(config, data)
    each = real / count
    sized = PER_BRANCH / each  # the bank the network fits, in multiples of the extract's
    if sized > SIZED and cost > COST_SHARE * (margin := yearly_margin(config, data.customers)):
        advice = "check the weight column" if data.weighted else "add the weight column"
        return (
            f"{where}: the {count} branches open at the start cost {_cny(cost)} a year while the"
            f" {real:,.0f} real customers bring about {_cny(margin)} of margin a year; at"
            f" {each:,.0f} customers a branch (the synthetic bank's serve about"
            f" {PER_BRANCH:,.0f}) the network is sized for a bank about {sized:,.0f} times"
            f" larger: {advice} (real customers per row) if the extract is a sample"
        )
    if sized < 1 / SIZED:
        listed = "the branch file" if data.branches is not None else "bank.branches"
        return (
            f"{where}: the {count} branches open at the start serve {each:,.0f} real customers"
            f" each (the synthetic bank's about {PER_BRANCH:,.0f}): the network is sized for a"
            f" bank about {1 / sized:,.0f} times smaller: check the weights (real customers per"
            f" row) and that {listed} counts every branch"
        )
    return ""


def _network(config: Config, data: BankData) -> tuple[int, float, str]:
    """The branches open at the start: how many, their yearly cost (CNY) and the branch
    network in words."""
    bank = config.bank
    if data.branches is None:
        count = bank.branches
        return count, count * bank.branch_cost, f"{count} branches (bank.branches)"
    opening, total = data.opening_branches, len(data.branches)
    cost = float(opening["cost"].fillna(bank.branch_cost).sum())
    later = f" ({len(opening)} open at the start)" if total > len(opening) else ""
    return len(opening), cost, f"{total} branches{later}"


def yearly_margin(config: Config, customers: pd.DataFrame) -> float:
    """What the extract's customers earn the bank in a year (CNY) on deposits, wealth products
    and payments, as the model books them; loans are left out (an extract has none)."""
    aum = customers["aum"].to_numpy(np.float64)
    share = np.asarray(config.economics.wealth_share)[behaviour.tiers(aum)]
    weight = customers["weight"].to_numpy(np.float64)
    lines = books.customer_lines(config.economics, share, aum, 0.0, weight)
    return 12.0 * float(np.sum(books.customer_profit(lines)))


def _cny(amount: float) -> str:
    return f"CNY {amount / 1e6:,.1f} M"


def _enough_rows(where: Path, rows: int, agents: int) -> None:
    """Refuse more than ``CLONES`` simulated customers per active row of the extract."""
    if agents > CLONES * rows:
        raise ConfigError(
            f"{where}: population.customers={agents} needs at least"
            f" {math.ceil(agents / CLONES):,} active rows (at most {CLONES} simulated customers"
            f" per row); the file has {rows:,}: add rows or lower population.customers"
        )


def _sane_weights(where: Path, customers: pd.DataFrame, pop: PopulationConfig) -> None:
    """Refuse weights that make the opening book's agents stand for fewer or more real customers
    than ``population.weights`` allows, or newcomers arrive in more agents than the largest
    opening book (they come at ``population.weights``, in proportion to the bank's size)."""
    weight = customers["weight"].to_numpy(np.float64)
    tier = behaviour.tiers(customers["aum"].to_numpy())
    per_agent = np.array([pop.weights[t] for t in TIERS])[tier]
    needed = float(np.sum(weight / per_agent))  # agents at population.weights (sim.opening)
    lo, hi = _range(PopulationConfig, "weights")
    low, high = per_agent.min() * needed / pop.customers, per_agent.max() * needed / pop.customers
    real = f"the rows stand for {weight.sum():.4g} real customers"
    if low < lo or high > hi:
        raise ConfigError(
            f"{where}: column weight: {real}, so each of population.customers={pop.customers}"
            f" simulated customers would stand for {low:.3g} to {high:.3g}; allowed {lo:g} to"
            f" {hi:g} each (the range of population.weights): check the weights"
        )
    most = _range(PopulationConfig, "customers")[1]
    if needed > most:
        raise ConfigError(
            f"{where}: column weight: {real}, {needed:,.0f} simulated ones at population.weights;"
            f" allowed at most {most:,} (raise population.weights: real customers per simulated"
            " customer)"
        )


def _range(node: type, name: str) -> tuple[float, float]:
    """The allowed range of a parameter of the schema."""
    f = next(f for f in dataclasses.fields(node) if f.name == name)
    return f.metadata["lo"], f.metadata["hi"]


def _decide(node, name: str, value, key: str, file_key: str) -> None:
    """Set a field from a file unless it holds another value than its default."""
    current = getattr(node, name)
    if current == value:
        return  # already applied (derived configs share this node: it is not written again)
    default = field_default(next(f for f in dataclasses.fields(node) if f.name == name))
    if current != default:
        raise ConfigError(
            f"{key} is set in the config and read from bank.data.{file_key}; change the file"
            f" (or leave {key} at its default)"
        )
    setattr(node, name, copy.deepcopy(value))


def digests(config: Config) -> dict[str, str]:
    """SHA-256 of each of the bank's files (part of a run's identity)."""
    return {k: digest(path_of(v)) for k, v in given(config).items()}


def path_of(text: str) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else ROOT / path


def _display(path: Path) -> Path:
    """A file's path as the user named it: relative to the project folder when inside it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def digest(path: Path) -> str:
    """A file's SHA-256 (cached while the file is unchanged)."""
    return _cached_digest(path, *_stamp(path))


@lru_cache(maxsize=32)
def _cached_digest(path: Path, mtime: int, size: int) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _stamp(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        raise ConfigError(f"{_display(path)}: no such file") from None
    return stat.st_mtime_ns, stat.st_size


# --------------------------------------------------------------------------------------------
# Reading and checking a table
# --------------------------------------------------------------------------------------------


class Table:
    """A file's rows with the checks that name the file, the row and the column."""

    def __init__(self, path: Path, columns: tuple[Column, ...]):
        self.path, self.columns = _display(path), {c.name: c for c in columns}
        self.frame = _read(path, *_stamp(path))
        self.csv = path.suffix.lower() == ".csv"
        for c in columns:
            if c.required and c.name not in self.frame:
                self.fail(None, c.name, "missing column")
        for name in self.columns:
            if self.has(name) and not pd.api.types.is_numeric_dtype(self.frame[name]):
                self._short(name)

    def where(self, row: int) -> str:
        """Row ``row`` (0-based) as a user finds it: a CSV's line (the header is line 1)."""
        return f"line {row + 2}" if self.csv else f"row {row + 1}"

    def fail(self, row: int | None, column: str, problem: str):
        at = "" if row is None else f"{self.where(row)}, "
        raise ConfigError(f"{self.path}: {at}column {column}: {problem}")

    def has(self, name: str) -> bool:
        return name in self.frame

    def text(self, name: str) -> np.ndarray:
        """A text column (ids, names); every row must have a printable value."""
        values = self.frame[name]
        self._no_gaps(name, values)
        text = values.astype(str)
        odd = text.str.contains(CONTROL, regex=True).to_numpy(bool)
        problem = "holds a control character (NUL, tab, line break, ...); allowed printable text"
        self._first(name, odd, problem)
        return text.str.strip().to_numpy()

    def number(self, name: str, allow_gaps: bool = False) -> np.ndarray:
        """A number column, checked for type, gaps, whole numbers and range."""
        column, raw = self.columns[name], self.frame[name]
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            self.fail(row, name, f"{_shown(raw.iloc[row])} is not a number")
        if not allow_gaps:
            self._no_gaps(name, values)
        values = values.to_numpy(np.float64)
        given = ~np.isnan(values)
        if column.kind == "integer":
            self._first(name, given & (values != np.round(values)), "is not a whole number")
        if column.lo is not None:
            self._first(name, given & (values < column.lo), f"is below {column.lo:g}")
        if column.hi is not None:
            self._first(name, given & (values > column.hi), f"is above {column.hi:g}")
        return values

    def switch(self, name: str) -> np.ndarray:
        """A true/false column (true, false, 1, 0, yes, no)."""
        raw = self.frame[name]
        self._no_gaps(name, raw)
        text = raw.astype(str).str.strip().str.lower()
        known = text.isin(list(SWITCHES))
        if not known.all():
            row = int(np.flatnonzero(~known)[0])
            self.fail(row, name, f"{_shown(raw.iloc[row])} is not true or false")
        return text.map(SWITCHES).to_numpy(bool)

    def _short(self, name: str) -> None:
        """Refuse a cell longer than ``MAX_CELL`` characters."""
        length = self.frame[name].astype(str).str.len().to_numpy()
        if (length > MAX_CELL).any():
            row = int(np.flatnonzero(length > MAX_CELL)[0])
            value = _shown(self.frame[name].iloc[row])
            self.fail(row, name, f"{value} has {length[row]:,} characters; allowed {MAX_CELL:,}")

    def _no_gaps(self, name: str, values: pd.Series) -> None:
        empty = values.isna() | (values.astype(str).str.strip() == "")
        if empty.any():
            self.fail(int(np.flatnonzero(empty)[0]), name, "is empty")

    def _first(self, name: str, mask: np.ndarray, problem: str) -> None:
        if mask.any():
            row = int(np.flatnonzero(mask)[0])
            self.fail(row, name, f"{_shown(self.frame[name].iloc[row])} {problem}")

    def unique(self, name: str, values: np.ndarray) -> None:
        seen = pd.Series(values).duplicated()
        if seen.any():
            row = int(np.flatnonzero(seen)[0])
            self.fail(row, name, f"{_shown(values[row])} appears twice")

    def known(self, name: str, values: np.ndarray, allowed, what: str) -> np.ndarray:
        """Positions of ``values`` in ``allowed``; an unknown value is refused."""
        allowed = list(allowed)
        index = pd.Index(allowed).get_indexer(values)
        if (index < 0).any():
            row = int(np.flatnonzero(index < 0)[0])
            shown = allowed if len(allowed) <= 12 else [*allowed[:12], "..."]
            self.fail(row, name, f"{_shown(values[row])} is not {what}; known: {shown}")
        return index


def _shown(value) -> str:
    """A cell as the user wrote it: text quoted (cut when long), numbers plain."""
    if not isinstance(value, str):
        return str(value)
    return repr(value) if len(value) <= SHOWN else f"{value[:SHOWN]!r}..."


def _cut(text: str) -> str:
    """Text cut to ``SHOWN`` characters."""
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}..."


@lru_cache(maxsize=8)
def _read(path: Path, mtime: int, size: int) -> pd.DataFrame:
    """A file's table, refused before it is read when it is too large or its header is odd."""
    suffix, where = path.suffix.lower(), _display(path)
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ConfigError(f"{where}: unknown file type {suffix!r}; allowed .csv or .parquet")
    _at_most(where, "MB", round(size / 1e6, 1), MAX_FILE_BYTES / 1e6)
    if suffix == ".csv":
        _header(path)
        _at_most(where, "rows", _newlines(path) - 1, MAX_ROWS)
    else:
        _parquet_shape(path, where)
    try:
        if suffix == ".csv":
            # pandas 2's C reader drops a NUL unseen; its Python reader keeps it to be refused
            engine = "python" if b"\x00" in path.read_bytes() else "c"
            return pd.read_csv(
                path, dtype=str, keep_default_na=False, na_values=[""], engine=engine
            )
        return read_parquet(path)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise _unreadable(where, exc) from None


def _unreadable(where: Path, exc: Exception) -> ConfigError:
    """The refusal of a file its reader fails on, with the reader's first line."""
    return ConfigError(f"{where}: cannot be read ({str(exc).splitlines()[0]})")


def _parquet_shape(path: Path, where: Path) -> None:
    """Refuse a Parquet file too large unpacked, or naming a column twice, from its metadata."""
    try:
        meta = pq.ParquetFile(path).metadata
    except (ValueError, OSError) as exc:
        raise _unreadable(where, exc) from None
    _at_most(where, "rows", meta.num_rows, MAX_ROWS)
    unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    _at_most(where, "MB unpacked", round(unpacked / 1e6, 1), MAX_FILE_BYTES / 1e6)
    _once(where, "column", meta.schema.names)


def _at_most(where: Path, unit: str, amount: float, most: float) -> None:
    """Refuse a file larger than ``most``."""
    if amount > most:
        raise ConfigError(
            f"{where}: {amount:,.10g} {unit}; allowed at most {most:,.10g} {unit} (sample the"
            " rows, with weights)"
        )


def _newlines(path: Path) -> int:
    """Line breaks in a file, counted without reading it whole."""
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b""))


def _header(path: Path) -> None:
    """Refuse a CSV header that is too long, names a column twice or is one column that looks
    separated by other than commas."""
    with path.open("rb") as f:
        head = f.read(HEADER_BYTES)
    line, end, _ = head.partition(b"\n")
    if not end and len(head) == HEADER_BYTES:
        raise ConfigError(f"{_display(path)}: line 1: longer than {HEADER_BYTES:,} bytes")
    names = next(csv.reader([line.rstrip(b"\r").decode("utf-8-sig", "replace")]), [])
    odd = [s for s in SEPARATORS if len(names) == 1 and s in names[0]]
    if odd:
        raise ConfigError(
            f"{_display(path)}: line 1: one column {_shown(names[0])}; it looks separated by"
            f" {odd[0]!r}; use commas"
        )
    _once(_display(path), "line 1, column", names)


def _once(where: Path, at: str, names: list) -> None:
    """Refuse a column named twice (a reader would keep one and rename or drop the other)."""
    twice = pd.Series(names, dtype=object).duplicated().to_numpy()
    if twice.any():
        name = _cut(str(names[int(np.flatnonzero(twice)[0])]))
        raise ConfigError(f"{where}: {at} {name}: appears twice; name each column once")


# --------------------------------------------------------------------------------------------
# The three files
# --------------------------------------------------------------------------------------------


def _branches(path: Path, city_km: float) -> pd.DataFrame:
    t = Table(path, BRANCH_COLUMNS)
    if len(t.frame) == 0:
        t.fail(None, "branch", "no rows")
    ids = t.text("branch")
    t.unique("branch", ids)
    if t.has("x") and t.has("y"):
        x, y = t.number("x"), t.number("y")
    elif t.has("lat") and t.has("lon"):
        x, y = _km(t.number("lat"), t.number("lon"), city_km)
    else:
        t.fail(None, "x/y or lat/lon", "missing columns: a site needs x and y (km) or lat and lon")
    for name, values in (("x", x), ("y", y)):
        outside = (values < 0) | (values > city_km)
        if outside.any():
            row = int(np.flatnonzero(outside)[0])
            t.fail(
                row,
                name if t.has("x") else "lat/lon",
                f"site at {values[row]:.1f} km is outside the map (0 to bank.city_km="
                f"{city_km:g} km; the population presets small and large resize the synthetic"
                " city: for a bank of your own set population.customers=N instead)",
            )
    gaps = {"cost", "capacity", "staff"}
    frame = pd.DataFrame({"branch": ids, "x": x, "y": y})
    for name in ("cost", "capacity", "staff", "opening_month"):
        given = t.number(name, allow_gaps=name in gaps) if t.has(name) else None
        frame[name] = np.full(len(ids), np.nan) if given is None else given
    frame["opening_month"] = frame["opening_month"].fillna(0).astype(int)
    if not (frame["opening_month"] <= 0).any():
        t.fail(None, "opening_month", "no branch is open at the start (opening_month <= 0)")
    later = frame["opening_month"].clip(lower=0)  # the opening branches first, then by opening
    return frame.iloc[np.argsort(later.to_numpy(), kind="stable")].reset_index(drop=True)


def _km(lat: np.ndarray, lon: np.ndarray, side_km: float) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude (degrees) as km on the map: an equirectangular projection about
    the sites' middle latitude, centred on the map (so sites further than half the map's side
    from the middle fall outside it). Sites more than 180 degrees of longitude apart are nearer
    the other way round, across the date line: west longitudes then count from 180 to 360."""
    radians = np.pi / 180.0
    if lon.max() - lon.min() > 180.0:
        lon = np.where(lon < 0.0, lon + 360.0, lon)
    mid_lat = 0.5 * (lat.min() + lat.max())
    east = EARTH_KM * radians * np.cos(mid_lat * radians) * (lon - 0.5 * (lon.min() + lon.max()))
    north = EARTH_KM * radians * (lat - mid_lat)
    return east + side_km / 2, north + side_km / 2


def _segments(path: Path) -> dict[str, SegmentConfig]:
    t = Table(path, SEGMENT_COLUMNS)
    if len(t.frame) == 0:
        t.fail(None, "segment", "no rows")
    names = t.text("segment")
    t.unique("segment", names)
    odd = next((i for i, n in enumerate(names) if n in TIERS), None)
    if odd is not None:
        t.fail(odd, "segment", f"{names[odd]!r} is a tier's name; choose another name")
    fields = {f.name: f for f in dataclasses.fields(SegmentConfig)}
    values = {name: t.number(name) for name in fields if t.has(name)}
    total = float(values["share"].sum())
    if not math.isclose(total, 1.0, abs_tol=SHARE_TOLERANCE):
        t.fail(None, "share", f"shares sum to {total:g}; they must sum to 1")
    values["share"] = values["share"] / total
    if "urban" in values and "rural" in values:
        both = values["urban"] + values["rural"]
        if (both > 1.0).any():
            row = int(np.flatnonzero(both > 1.0)[0])
            t.fail(row, "urban/rural", f"urban + rural = {both[row]:g}; allowed at most 1")
    return {
        name: SegmentConfig(**{k: float(v[i]) for k, v in values.items()})
        for i, name in enumerate(names)
    }


def read_extract(text: str) -> pd.DataFrame:
    """A CRM extract's active rows, checked as an opening book's (segments unchecked), with the
    ``churned`` column that targets need (:mod:`sim.targets`)."""
    path = path_of(text)
    if "churned" not in _read(path, *_stamp(path)):
        problem = "missing column (who left within 12 months)"
        Table(path, CUSTOMER_COLUMNS).fail(None, "churned", problem)
    return _customers(path, None, None)


def _customers(path: Path, segments, branches: pd.DataFrame | None) -> pd.DataFrame:
    """The extract's active rows (``segments``: the names a segment column may hold; None
    leaves it unchecked)."""
    t = Table(path, CUSTOMER_COLUMNS)
    active = t.switch("active") if t.has("active") else np.ones(len(t.frame), bool)
    if not active.any():
        t.fail(None, "active", "no active customers")
    ids = t.text("customer_id")
    t.unique("customer_id", ids)
    if not (t.has("aum") or t.has("balance")):
        t.fail(None, "aum", "missing column (or balance)")
    wealth = "aum" if t.has("aum") else "balance"
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "age": t.number("age"),
            "tenure_months": t.number("tenure_months").astype(np.int32),
            "products": t.number("products").astype(np.int8),
            "aum": t.number(wealth),
            "weight": t.number("weight") if t.has("weight") else 1.0,
            "digital": t.number("digital", allow_gaps=True) if t.has("digital") else np.nan,
        }
    )
    frame["segment"] = -1
    if t.has("segment") and segments is not None:
        frame["segment"] = t.known("segment", t.text("segment"), segments, "a segment")
    frame["churned"] = t.switch("churned") if t.has("churned") else False
    reason = t.frame["exit_reason"] if t.has("exit_reason") else pd.Series("", index=t.frame.index)
    frame["exit_reason"] = reason.astype("string").fillna("").str.strip().to_numpy()
    if t.has("tier"):
        t.known("tier", t.text("tier"), TIERS, "a tier")
    frame["branch"] = -1
    if branches is not None:
        if not t.has("branch"):
            t.fail(None, "branch", "missing column (required with bank.data.branches)")
        at = t.known("branch", t.text("branch"), branches["branch"], "a branch of the branch file")
        closed = (branches["opening_month"].to_numpy()[at] > 0) & active
        if closed.any():
            row = int(np.flatnonzero(closed)[0])
            label = _shown(t.frame["branch"].iloc[row])
            t.fail(row, "branch", f"{label} opens only during the run")
        frame["branch"] = at
    return frame[active].reset_index(drop=True)
