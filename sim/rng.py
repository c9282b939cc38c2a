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

from sim.compiled import formula, kernel

_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15  # SplitMix64's increment (the golden ratio in 64 bits)
_G, _M1, _M2 = np.uint64(_GAMMA), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S40 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(40)
_UNIT = np.float32(2.0**-24)


@formula
def mix(x):
    """SplitMix64's output function on a uint64 (wraps modulo 2**64)."""
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    return x ^ (x >> _S31)


@formula
def keyed_uniform(base, key):
    """U(0, 1) float32 for one customer ``key`` in the stream-month whose base is ``base``
    (:meth:`Streams.base`)."""
    return np.float32(mix(key * _G + base) >> _S40) * _UNIT


@kernel
def _uniforms(base, keys):
    out = np.empty(keys.size, np.float32)
    for i in range(keys.size):
        out[i] = keyed_uniform(base, keys[i])
    return out


@kernel
def _friend_keys(referrer_keys, nth, salt):
    out = np.empty(referrer_keys.size, np.uint64)
    for i in range(referrer_keys.size):
        out[i] = mix(referrer_keys[i] * _G + nth[i] + salt)
    return out


def _mix_int(x: int) -> int:
    """:func:`mix` on a Python int."""
    return int(mix(np.uint64(x & _MASK)))


def _name_id(name: str) -> int:
    return zlib.crc32(name.encode())


def channel_key(channel: str, k) -> np.ndarray:
    """Keys of arrivals number ``k`` (an int array) of an acquisition channel."""
    return (np.uint64(_name_id(channel)) << np.uint64(32)) | np.asarray(k, np.uint64)


def friend_keys(referrer_keys: np.ndarray, nth: np.ndarray) -> np.ndarray:
    """Keys of the friends that referrers bring, ``nth`` counting each referrer's friends."""
    keys, nth = np.broadcast_arrays(
        np.asarray(referrer_keys, np.uint64), np.asarray(nth, np.uint64)
    )
    salt = np.uint64(_name_id("friend"))
    return _friend_keys(keys.ravel(), nth.ravel(), salt).reshape(keys.shape)


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
        keys = np.asarray(keys, np.uint64)
        return _uniforms(np.uint64(self.base(name, month)), keys.ravel()).reshape(keys.shape)

    def uniform64(self, name: str, month: int, keys) -> np.ndarray:
        """As :meth:`uniform`, in float64 strictly inside (0, 1) (for inverse CDFs)."""
        return self.uniform(name, month, keys).astype(np.float64) + 2.0**-25

    def normal(self, name: str, month: int, keys) -> np.ndarray:
        """One standard normal (float64) per key."""
        return ndtri(self.uniform64(name, month, keys))
