"""How often the verdicts err, on per-seed differences drawn from known distributions.

The verdict procedure of :mod:`analysis.stats` (the intervals of :mod:`analysis.inference`, read
by :func:`analysis.stats.decide`) is run on families of ``m`` arms whose per-seed differences
come from a known distribution shifted by a known effect, at a fixed number of seeds or under
``replications=auto``'s looks. Each family reports whether every interval covered its arm's true
effect and whether any arm was called better, worse or negligible. No model is run, so a case
takes seconds: ``.venv/bin/python benchmarks/validity.py`` prints the table docs/experiments.md
shows, and tests/test_validity.py asserts the promises on a smaller one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.inference import FIXED, Design, intervals
from analysis.stats import BETTER, NEGLIGIBLE, UNDECIDED, WORSE, clears, decide

SMALLEST = 0.5
"""The smallest effect worth acting on, in standard deviations of a per-seed difference."""


def _zero_inflated(rng: np.random.Generator, size) -> np.ndarray:
    """70% exact zeros, the rest normal: mean 0, sd 1 (excess kurtosis 7)."""
    return np.where(rng.random(size) < 0.3, rng.standard_normal(size) / np.sqrt(0.3), 0.0)


def _zero_inflated_skewed(rng: np.random.Generator, size) -> np.ndarray:
    """70% exact zeros, the rest skewed (gamma 2, centred): mean 0, sd 1, skewness 2.6."""
    nonzero = rng.random(size) < 0.3
    return np.where(nonzero, rng.gamma(2.0, 1.0, size) - 2.0, 0.0) / np.sqrt(0.6)


DISTRIBUTIONS: dict[str, Callable[[np.random.Generator, tuple], np.ndarray]] = {
    "normal": lambda rng, size: rng.standard_normal(size),
    "skewed (skewness 1)": lambda rng, size: (rng.gamma(4.0, 1.0, size) - 4.0) / 2.0,
    "heavy-tailed (t, 3 df)": lambda rng, size: rng.standard_t(3, size) / np.sqrt(3.0),
    "70% zeros": _zero_inflated,
    "very skewed (skewness 2)": lambda rng, size: rng.exponential(1.0, size) - 1.0,
    "70% zeros, skewed rest (skewness 2.6)": _zero_inflated_skewed,
}
"""Per-seed differences with mean 0 and sd 1 (the t with 3 df has no finite kurtosis)."""


@dataclass(frozen=True)
class Case:
    """One cell of the table: a distribution, the seeds (a number, or auto's looks), the
    family's size and the true effect in smallest effects."""

    distribution: str
    seeds: int | tuple[int, ...]
    arms: int
    effect: float

    @property
    def design(self) -> Design:
        return Design(self.seeds) if isinstance(self.seeds, tuple) else FIXED


def simulate(case: Case, families: int, seed: int = 0, level: float = 0.95) -> dict:
    """The family-wise rates of ``case`` over ``families`` families: coverage (every interval
    holds the true effect), better, worse, negligible (any arm called so), beyond (any arm
    better or worse by at least the smallest effect) and decided (every arm decided), and the
    mean number of seeds used."""
    rng = np.random.default_rng(seed)
    looks = case.seeds if isinstance(case.seeds, tuple) else (case.seeds,)
    truth = case.effect * SMALLEST
    draws = DISTRIBUTIONS[case.distribution](rng, (families * case.arms, looks[-1])) + truth
    alpha = (1 - level) / case.arms
    verdicts = np.full(families * case.arms, UNDECIDED, dtype=object)
    covered = np.ones(families * case.arms, dtype=bool)
    beyond = np.zeros(families * case.arms, dtype=bool)
    seeds = np.full(families, looks[-1])
    running = np.ones(families, dtype=bool)  # families still adding seeds
    for n in looks:
        rows = np.repeat(running, case.arms)
        low, high = intervals(draws[rows, :n], case.design.level(n, alpha))
        said = np.array([decide(lo, hi, SMALLEST) for lo, hi in zip(low, high, strict=True)])
        verdicts[rows], covered[rows] = said, (low <= truth) & (truth <= high)
        beyond[rows] = [clears(lo, hi, SMALLEST) for lo, hi in zip(low, high, strict=True)]
        done = (said != UNDECIDED).reshape(-1, case.arms).all(axis=1)
        stopping = np.flatnonzero(running)[done]
        seeds[stopping], running[stopping] = n, False
        if not running.any():
            break
    per_family = verdicts.reshape(families, case.arms)
    return {
        "coverage": covered.reshape(families, case.arms).all(axis=1).mean(),
        **{v: (per_family == v).any(axis=1).mean() for v in (BETTER, WORSE, NEGLIGIBLE)},
        "beyond": beyond.reshape(families, case.arms).any(axis=1).mean(),
        "decided": (per_family != UNDECIDED).all(axis=1).mean(),
        "seeds_used": seeds.mean(),
    }


def table(cases: list[Case], families: int, seed: int = 0) -> pd.DataFrame:
    """One row per case with its rates (:func:`simulate`) and their Monte Carlo standard
    error at 95% (``mc_se``)."""
    rows = [
        {
            "distribution": c.distribution,
            "seeds": "auto " + "/".join(map(str, c.seeds))
            if isinstance(c.seeds, tuple)
            else str(c.seeds),
            "arms": c.arms,
            "effect": c.effect,
            **simulate(c, families, seed + i),
        }
        for i, c in enumerate(cases)
    ]
    out = pd.DataFrame(rows)
    out["families"] = families
    out["mc_se"] = np.sqrt(0.05 * 0.95 / families)
    return out
