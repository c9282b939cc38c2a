"""The customer population as columns: one row per customer, NumPy arrays with spare capacity.

Every customer has a lifelong serial ``id`` (the ``customer_id`` of the panel), a ``key`` that
keys its random numbers and names the same person in every arm of a comparison (see
:mod:`sim.rng`), and a ``weight``: the real customers it stands for (see :mod:`sim.arrivals`).
Rows are kept in ascending id order. Customers who leave are marked
inactive and, once they make up a tenth of the rows, moved to an archive (``compact``), so that
long runs do not drag their leavers through every array operation. Attribute access
(``customers.aum``) returns a view of the rows in use. Columns that hold a month hold the model's
month (``BankModel.month``, counted from the start of burn-in); outputs show measured months
(:func:`sim.metrics.measured`).
"""

from __future__ import annotations

from typing import cast

import numpy as np

NEVER = -(10**6)  # a month long before any run, e.g. "no manager change yet"

EXIT_REASONS = ("", "switched", "followed_manager", "natural", "closure")
CHANNELS = ("opening_book", "organic", "referral", "partner", "digital")

COLUMNS: dict[str, tuple[type, object]] = {
    "id": (np.int64, -1),
    "key": (np.uint64, 0),
    "weight": (np.float32, 1.0),  # real customers this simulated one stands for
    "segment": (np.int8, 0),
    "age": (np.float32, 0.0),
    "income": (np.float32, 0.0),
    "digital": (np.float32, 0.0),
    "fit": (np.float32, 0.0),  # base product fit of the customer's needs, 0-1
    "x": (np.float32, 0.0),
    "y": (np.float32, 0.0),
    "aum": (np.float64, 0.0),  # CNY
    "loan": (np.float32, 0.0),  # CNY outstanding
    "products": (np.int8, 1),
    "tier": (np.int8, 0),
    "branch": (np.int32, 0),
    "distance": (np.float32, 0.0),  # km to the home branch
    "near": (np.float32, 1.0),  # convenience of that distance, 0-1 (behaviour.convenience)
    "manager": (np.int32, -1),  # desk of the client manager, -1 for none
    "trust": (np.float32, 0.5),  # trust in the current manager, 0-1
    "manager_change": (np.int32, NEVER),  # month of the last manager change
    "satisfaction": (np.float32, 0.65),
    "effort": (np.float32, 0.0),  # last month's effort, 0-1 (lower is better)
    "attention": (np.float32, 0.0),  # last month's manager attention, 0-1
    "perks": (np.float32, 0.0),  # experience from perks, 0-1 (set by strategies)
    "shock": (np.float32, 0.0),  # extra log-hazard, decaying (set by strategies)
    "adapt": (np.int8, 0),  # after a branch closure: 0 none, 1 adapting, 2 settled, 3 went digital
    "closed_at": (np.int32, NEVER),  # month the customer's home branch closed under them
    "before_km": (np.float32, 0.0),  # km to the home branch before it closed
    "active": (np.bool_, True),
    "referred": (np.bool_, False),
    "referrer": (np.int8, -1),  # who referred them: tier x 2 + digital (referrer_of); -1 none
    "friends": (np.int16, 0),  # friends referred so far (numbers the friends' keys)
    "channel": (np.int8, 0),
    "joined": (np.int32, 0),  # month joined (negative for the opening book)
    "left": (np.int32, -1),  # month left, -1 while a customer
    "exit_reason": (np.int8, 0),
    "exit_value": (np.float64, 0.0),  # CNY of lifetime value lost as the row left (sim.clv)
    "complaints": (np.int16, 0),
    "last_used": (np.int32, 0),  # month of the last transaction
    "habit": (np.float32, 0.0),  # lifelong banking habit 0-1 (part of the engagement target)
    "engagement": (np.float32, 0.6),  # 0-1; newcomers start just onboarded (engaged, barely)
    "engagement_lift": (np.float32, 0.0),  # strategies' lift of the target (a monthly lever)
    "cohort": (np.int8, 0),  # 1 in the measured cohort, 2 in it and mid tier or above at start
    "contacted": (np.int32, NEVER),  # month of the last campaign contact (sim.strategies.campaign)
}

REFERRER_CHANNELS = ("branch", "digital")  # a referrer banking mostly at branches or digitally


def referrer_of(tier: np.ndarray, digital: np.ndarray) -> np.ndarray:
    """The ``referrer`` column's code of referrers of these tiers and digital shares."""
    return (tier * 2 + (digital >= 0.5)).astype(np.int8)


COMPACT_SHARE = 0.1  # archive leavers once they are this share of the rows


def masked_sum(values: np.ndarray, mask: np.ndarray) -> float:
    """Sum of a column over a mask. (Not ``np.dot``: BLAS threads would fight over the cores
    when runs execute in parallel processes.)"""
    return float(np.sum(values, where=mask, dtype=np.float64))


class Customers:
    """Columnar customer store; ``customers.aum`` is a view of the used rows."""

    def __init__(self, capacity: int):
        self.n = 0
        self.next_id = 0
        self.archive: list[dict[str, np.ndarray]] = []
        self._cols: dict[str, np.ndarray] = {
            name: np.full(max(capacity, 1), fill, dtype) for name, (dtype, fill) in COLUMNS.items()
        }

    def __getattr__(self, name: str) -> np.ndarray:
        cols = self.__dict__["_cols"]
        if name not in cols:
            raise AttributeError(name)
        return cols[name][: self.__dict__["n"]]

    def __setattr__(self, name: str, value) -> None:
        """Assigning a column writes into it (so ``customers.trust += x`` works in place)."""
        if name in COLUMNS:
            column = self._cols[name][: self.n]
            if not (isinstance(value, np.ndarray) and np.may_share_memory(value, column)):
                column[:] = value
        else:
            super().__setattr__(name, value)

    def append(self, **values: np.ndarray | float) -> slice:
        """Add customers with new ids; columns not given keep their defaults. Returns their rows.
        A column is an array, one value per customer (the first column given always is), or one
        value for all of them."""
        k = len(cast(np.ndarray, next(iter(values.values()))))
        self._reserve(self.n + k)
        rows = slice(self.n, self.n + k)
        values["id"] = np.arange(self.next_id, self.next_id + k)
        for name, col in self._cols.items():
            col[rows] = values.get(name, COLUMNS[name][1])
        self.n += k
        self.next_id += k
        return rows

    def compact(self, force: bool = False) -> bool:
        """Archive the rows of customers who left, if they are many (or ``force``)."""
        gone = ~self.active
        n_gone = int(np.count_nonzero(gone))
        if n_gone == 0 or not force and n_gone < COMPACT_SHARE * self.n:
            return False
        gone_rows, kept_rows = np.flatnonzero(gone), np.flatnonzero(~gone)
        self.archive.append({name: col[gone_rows] for name, col in self._cols.items()})
        for col in self._cols.values():
            col[: len(kept_rows)] = col[kept_rows]
        self.n -= n_gone
        return True

    def everyone(self, names=COLUMNS) -> dict[str, np.ndarray]:
        """Every customer ever served, archived or not, in id order: the columns ``names``."""
        parts = [*self.archive, {name: col[: self.n] for name, col in self._cols.items()}]
        names = dict.fromkeys(("id", *names))
        merged = {name: np.concatenate([p[name] for p in parts]) for name in names}
        order = np.argsort(merged["id"], kind="stable")
        return {name: col[order] for name, col in merged.items()}

    def _reserve(self, size: int) -> None:
        capacity = len(self._cols["aum"])
        if size <= capacity:
            return
        capacity = max(size, int(capacity * 1.5))
        for name, col in self._cols.items():
            dtype, fill = COLUMNS[name]
            grown: np.ndarray = np.full(capacity, fill, dtype)
            grown[: self.n] = col[: self.n]
            self._cols[name] = grown
