"""The bank at the start when it comes from files (:mod:`sim.bankdata`): its branch network, where
its customers live, and its opening book resampled from the CRM extract.

**Sites and homes.** Branch sites are the file's. Homes are drawn around branches: a customer of
the extract lives around their own branch, a newcomer around a branch chosen in proportion to the
real customers it serves at the start (the extract's, or equal shares without one), normal in
each direction with a spread of half the distance to the nearest other branch (at least
``MIN_SPREAD_KM``). Everyone then banks at the nearest open branch, as in the synthetic city.

**Resampling.** The extract's active rows are resampled to ``population.customers`` simulated
customers as arrivals are sampled (:mod:`sim.arrivals`): a row of ``w`` real customers in tier
``t`` is drawn with probability proportional to ``w / population.weights[t]``, so the affluent
tiers get many agents, and each agent stands for ``population.weights[t]`` real customers scaled
so that the agents add up to the extract's real customers exactly (the scale is about ``S / n``,
``S`` the sum of ``w / population.weights[t]`` over rows and ``n`` the agents). Weighted sums
estimate the extract's bank: its segment and tier mix, tenure, products and AUM concentration.
An agent keeps its row's age, tenure, products, AUM, segment (or, without a segment column, the
segment whose age and wealth profile fit it best) and digital habit when given; income, loan,
product fit and first satisfaction are drawn from its segment as for any arrival.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import ndtri

from sim import behaviour
from sim.bankdata import BankData

MIN_SPREAD_KM = 0.5


class BranchHomes:
    """Homes around branch sites, each branch with its spread and share of newcomers."""

    def __init__(self, sites: np.ndarray, shares: np.ndarray, city_km: float):
        self.sites, self.city_km = np.asarray(sites, np.float64), city_km
        if len(sites) > 1:
            gap, _ = cKDTree(self.sites).query(self.sites, k=2)
            self.spread = np.maximum(0.5 * gap[:, 1], MIN_SPREAD_KM)
        else:
            self.spread = np.full(len(sites), city_km / 6)
        self.cdf = np.cumsum(shares) / np.sum(shares)

    def around(self, branch: np.ndarray, u_a: np.ndarray, u_b: np.ndarray) -> np.ndarray:
        """Homes (n x 2, km) around the given branches, from two uniforms per person."""
        offset = np.column_stack([ndtri(u_a), ndtri(u_b)]) * self.spread[branch, None]
        xy = (self.sites[branch] + offset) / self.city_km
        xy = 1.0 - np.abs(1.0 - np.abs(xy))  # reflect at the edges, as the synthetic city does
        return (np.clip(xy, 0.0, 1.0) * self.city_km).astype(np.float32)

    def chosen(self, u: np.ndarray) -> np.ndarray:
        """A branch for each person, in proportion to the branches' shares."""
        return np.minimum(np.searchsorted(self.cdf, u, side="right"), len(self.cdf) - 1)


def branch_homes(data: BankData, city_km: float) -> BranchHomes:
    """Homes around the opening branches, newcomers shared as the extract's real customers."""
    sites = data.opening_branches[["x", "y"]].to_numpy()
    shares = np.ones(len(sites))
    if data.customers is not None and (data.customers["branch"] >= 0).all():
        c = data.customers
        shares = np.bincount(c["branch"], weights=c["weight"], minlength=len(sites)) + 1e-9
    return BranchHomes(sites, shares, city_km)


def resampled(data: BankData, u: np.ndarray, tier_weights: np.ndarray) -> dict[str, np.ndarray]:
    """The extract's rows resampled for agents with uniforms ``u``: each agent's row and weight."""
    c = data.customers
    assert c is not None, "no CRM extract"
    tier = behaviour.tiers(c["aum"].to_numpy())
    q = c["weight"].to_numpy(np.float64) / tier_weights[tier]
    row = np.minimum(np.searchsorted(np.cumsum(q) / q.sum(), u, side="right"), len(q) - 1)
    weight = tier_weights[tier[row]]
    return {"row": row, "weight": weight * c["weight"].sum() / weight.sum()}


def likeliest_segment(age: np.ndarray, aum: np.ndarray, seg: dict[str, np.ndarray]) -> np.ndarray:
    """The segment whose share, age and wealth (lognormal body) make each person likeliest."""
    z_age = (age[:, None] - seg["age_mean"]) / np.maximum(seg["age_sd"], 1e-6)
    log_aum = np.log(np.maximum(aum, 1.0))[:, None]
    z_aum = (log_aum - np.log(seg["aum_median"])) / seg["aum_sigma"]
    score = (
        np.log(np.maximum(seg["share"], 1e-300))
        - np.log(np.maximum(seg["age_sd"], 1e-6) * seg["aum_sigma"])
        - 0.5 * (z_age**2 + z_aum**2)
    )
    return np.argmax(score, axis=1).astype(np.int8)
