"""A bank of one's own, read from files: its branches, its segment table and a CRM extract.

``bank.data`` names the files (CSV or Parquet; formats in docs/bank_data.md); each is optional and
falls back to the synthetic default. :func:`load` reads and checks them (cached while a file is
unchanged) and refuses bad input with one line naming the file, the row and the column.
:func:`apply` puts what the files decide into the config, so that the config stays the one
description of a scenario: the segment table, the number of branches open at the start and, with
a ``staff`` column, of client managers. The opening book and the branch sites are built from the
files by :mod:`sim.opening`.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from sim.config import TIERS, Config, SegmentConfig, field_default
from sim.params import ConfigError

ROOT = Path(__file__).resolve().parent.parent  # relative paths are read from the project folder
EARTH_KM = 6371.0088  # mean Earth radius
SHARE_TOLERANCE = 1e-3  # segment shares may miss 1 by rounding this much; they are rescaled
MAX_PRODUCTS = 6


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
    Column("weight", "number", False, 1e-6, 1e9),
    Column("digital", "number", False, 0.0, 1.0),
    Column("active", "switch", False),
    Column("churned", "switch", False),
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

    @property
    def opening_branches(self) -> pd.DataFrame:
        """The branches open at the start (the others open during the run)."""
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
    customers = None
    if "customers" in files:
        customers = _customers(files["customers"], list(segments or names), branches)
    return BankData(branches, segments, customers, {k: digest(p) for k, p in files.items()})


def apply(config: Config) -> bool:
    """Set what the files decide in the config (the segment table, the branches open at the
    start, the managers when branches list their staff); refuse a config that sets it otherwise.
    Whether the config names any file."""
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
    return True


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
    return hashlib.sha256(path.read_bytes()).hexdigest()


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

    def where(self, row: int) -> str:
        """Row ``row`` (0-based) as a user finds it: a CSV's line (the header is line 1)."""
        return f"line {row + 2}" if self.csv else f"row {row + 1}"

    def fail(self, row: int | None, column: str, problem: str):
        at = "" if row is None else f"{self.where(row)}, "
        raise ConfigError(f"{self.path}: {at}column {column}: {problem}")

    def has(self, name: str) -> bool:
        return name in self.frame

    def text(self, name: str) -> np.ndarray:
        """A text column (ids, names); every row must have a value."""
        values = self.frame[name]
        self._no_gaps(name, values)
        return values.astype(str).str.strip().to_numpy()

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
            self.fail(row, name, f"{values[row]!r} appears twice")

    def known(self, name: str, values: np.ndarray, allowed, what: str) -> np.ndarray:
        """Positions of ``values`` in ``allowed``; an unknown value is refused."""
        allowed = list(allowed)
        index = pd.Index(allowed).get_indexer(values)
        if (index < 0).any():
            row = int(np.flatnonzero(index < 0)[0])
            shown = allowed if len(allowed) <= 12 else [*allowed[:12], "..."]
            self.fail(row, name, f"{values[row]!r} is not {what}; known: {shown}")
        return index


def _shown(value) -> str:
    """A cell as the user wrote it: text quoted, numbers plain."""
    return repr(value) if isinstance(value, str) else str(value)


@lru_cache(maxsize=8)
def _read(path: Path, mtime: int, size: int) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        problem = str(exc).splitlines()[0]
        raise ConfigError(f"{_display(path)}: cannot be read ({problem})") from None
    raise ConfigError(f"{_display(path)}: unknown file type {suffix!r}; allowed .csv or .parquet")


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
                f"{city_km:g} km)",
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
    from the middle fall outside it)."""
    radians = np.pi / 180.0
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
