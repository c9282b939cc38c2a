"""How the model's per-customer code is compiled: one definition of each formula, run by Numba.

Every per-customer formula of the monthly mechanisms is a small function in its mechanism's module
(:mod:`sim.mechanisms`), decorated with :func:`formula`; :func:`sim.month.customer_month`, a
:func:`kernel`, calls them row by row. A formula made only of arithmetic and NumPy ufuncs also
runs on whole arrays when Python calls it (Numba compiles it for arrays as well), so code outside
the customer pass (building a bank, a strategy's estimate) uses the same definition.

Numba compiles each function on first use and caches the machine code on disk next to its module
(or under ``NUMBA_CACHE_DIR``), so a machine pays the compilation once, not every run or worker.

Debug modes, both read when this module is imported:

- ``NUMBA_DISABLE_JIT=1`` (Numba's own switch) runs the very same functions as plain Python, so a
  debugger or ``print`` can step through a customer's month (slow: for small banks).
- ``BANK_TESTBED_BOUNDSCHECK=1`` compiles with bounds checks, so an index out of range raises
  IndexError instead of reading past the end of an array. That build is slower and not cached
  (Numba's cache does not tell the two builds apart), so each process compiles it afresh.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from numba import njit

BOUNDSCHECK = os.environ.get("BANK_TESTBED_BOUNDSCHECK") == "1"
OPTIONS: dict[str, Any] = {
    "cache": not BOUNDSCHECK,
    "boundscheck": BOUNDSCHECK,
    "error_model": "numpy",
    "nogil": True,  # chunks of rows may run in threads (sim.month)
}

F0, F1, HALF = np.float32(0.0), np.float32(1.0), np.float32(0.5)


def kernel(function):
    """A compiled pass over rows."""
    return njit(**OPTIONS)(function)


def formula(function):
    """A compiled formula, inlined where a kernel calls it."""
    return njit(inline="always", **OPTIONS)(function)


@formula
def clip01(x):
    """``x`` clipped to 0-1 (a float32 scalar or array)."""
    return np.minimum(np.maximum(x, F0), F1)
