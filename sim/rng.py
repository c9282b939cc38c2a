"""Named, slot-indexed random streams: the basis of common random numbers.

Each stochastic process draws from its own stream, seeded from the run seed, the stream's name
and the month. A stream hands out number k to the customer (or desk) with id k, so a customer's
draws do not depend on how many other customers exist or on what other processes drew. Two runs
with the same seed that differ only in a strategy therefore share every exogenous draw that the
strategy does not itself change.
"""

from __future__ import annotations

import zlib

import numpy as np


class Streams:
    """Random numbers keyed by (run seed, stream name, month)."""

    def __init__(self, seed: int):
        self.seed = int(seed)

    def generator(self, name: str, month: int = 0) -> np.random.Generator:
        """A fresh generator for one stream and month; the same key gives the same numbers."""
        key = np.random.SeedSequence([self.seed, zlib.crc32(name.encode()), int(month)])
        return np.random.Generator(np.random.PCG64(key))

    def uniform(self, name: str, month: int, ids) -> np.ndarray:
        """One U(0,1) number per id (ascending ids, or a count n for ids 0..n-1).

        Number k of a stream and month always goes to id k, whatever other ids exist.
        """
        if np.isscalar(ids):
            return self.generator(name, month).random(int(ids), dtype=np.float32)
        n = int(ids[-1]) + 1 if len(ids) else 0
        u = self.generator(name, month).random(n, dtype=np.float32)
        return u if n == len(ids) else u[ids]

    def shock(self, name: str, month: int, ids) -> np.ndarray:
        """One zero-mean, unit-variance number per id (uniform on +-sqrt 3: cheaper than a
        normal, and monthly shocks add up to a normal over a year)."""
        u = self.uniform(name, month, ids)
        return np.float32(2 * 3**0.5) * u - np.float32(3**0.5)
