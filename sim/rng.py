"""Named, key-indexed random streams: the basis of common random numbers.

Each stochastic process draws from its own stream, named and seeded from the run seed and the
month. Per-customer numbers come from a counter-based generator: the number customer ``key``
gets from stream ``name`` in month ``t`` is a hash of (seed, name, t, key) (SplitMix64's output
function), so it does not depend on which other customers exist, on their order, or on what other
processes drew, and a month draws only for the customers it asks about.

Keys are 64-bit and lifelong. The k-th arrival of an acquisition channel has the key
``channel_key(channel, k)``, so the k-th newcomer of a channel is the same person, with the same
later draws, in every arm of a comparison; a referred friend's key derives from the referrer's key
and how many friends that referrer has brought before (:func:`friend_keys`).
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy.special import ndtri

_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15  # SplitMix64's increment (the golden ratio in 64 bits)
_M1, _M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's output function on uint64 arrays (in place; wraps modulo 2**64)."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(_M1)
    x ^= x >> np.uint64(27)
    x *= np.uint64(_M2)
    x ^= x >> np.uint64(31)
    return x


def _mix_int(x: int) -> int:
    """The same function on a Python int."""
    x &= _MASK
    x = ((x ^ (x >> 30)) * _M1) & _MASK
    x = ((x ^ (x >> 27)) * _M2) & _MASK
    return x ^ (x >> 31)


def _name_id(name: str) -> int:
    return zlib.crc32(name.encode())


def channel_key(channel: str, k) -> np.ndarray:
    """Keys of arrivals number ``k`` (an int array) of an acquisition channel."""
    return (np.uint64(_name_id(channel)) << np.uint64(32)) | np.asarray(k, np.uint64)


def friend_keys(referrer_keys: np.ndarray, nth: np.ndarray) -> np.ndarray:
    """Keys of the friends that referrers bring, ``nth`` counting each referrer's friends."""
    x = np.asarray(referrer_keys, np.uint64) * np.uint64(_GAMMA)
    x += np.asarray(nth, np.uint64) + np.uint64(_name_id("friend"))
    return _mix(x)


class Streams:
    """Random numbers keyed by (run seed, stream name, month[, customer key])."""

    def __init__(self, seed: int):
        self.seed = int(seed)

    def generator(self, name: str, month: int = 0) -> np.random.Generator:
        """A fresh generator for one stream and month (for bank-level draws such as the market
        return); the same key gives the same numbers. Months before 0 (settling, sim.settle)
        count down from 2**64."""
        key = np.random.SeedSequence([self.seed, _name_id(name), int(month) & _MASK])
        return np.random.Generator(np.random.PCG64(key))

    def base(self, name: str, month: int) -> int:
        """The stream's offset for one month, which each key's number mixes in."""
        return _mix_int(_mix_int(self.seed * _GAMMA + _name_id(name)) + int(month) * _GAMMA)

    def uniform(self, name: str, month: int, keys) -> np.ndarray:
        """One U(0, 1) float32 per key: a function of (seed, name, month, key) alone."""
        x = np.asarray(keys, np.uint64) * np.uint64(_GAMMA)
        x += np.uint64(self.base(name, month))
        return (_mix(x) >> np.uint64(40)).astype(np.float32) * np.float32(2.0**-24)

    def uniform64(self, name: str, month: int, keys) -> np.ndarray:
        """As :meth:`uniform`, in float64 strictly inside (0, 1) (for inverse CDFs)."""
        return self.uniform(name, month, keys).astype(np.float64) + 2.0**-25

    def normal(self, name: str, month: int, keys) -> np.ndarray:
        """One standard normal (float64) per key."""
        return ndtri(self.uniform64(name, month, keys))

    def shock(self, name: str, month: int, keys) -> np.ndarray:
        """One zero-mean, unit-variance number per key (uniform on +-sqrt 3: cheaper than a
        normal, and monthly shocks add up to a normal over a year)."""
        u = self.uniform(name, month, keys)
        return np.float32(2 * 3**0.5) * u - np.float32(3**0.5)
