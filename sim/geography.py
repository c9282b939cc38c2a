"""The city: where customers live, where branches (the bank's and rivals') stand, the nearest
open branch, and where a new branch would serve the most uncovered customers.

The city is a square of side ``city_km`` with a dense urban core at its centre, suburbs around it
and a rural fringe. Homes are drawn by zone; branch sites are the centres of k-means clusters of a
sample of homes, so branches sit where people are.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import ndtri

URBAN_SD = 0.08  # urban core: normal around the centre, sd as a fraction of the side
SUBURB_SD = 0.22  # suburbs: wider normal around the centre


def homes_from_uniforms(u_zone, u_a, u_b, urban, rural, side_km: float) -> np.ndarray:
    """Homes (n x 2, km) from three uniforms per person and their urban and rural shares.

    The urban core and the suburbs are normal around the centre; the rural fringe is uniform on
    the band outside the central 60%, drawn by inverse CDF (no rejection, so one person's home
    depends on their own numbers only).
    """
    zone = np.where(u_zone < urban, 0, np.where(u_zone < urban + rural, 2, 1))
    sd = np.where(zone == 0, URBAN_SD, SUBURB_SD)[:, None]
    xy = 0.5 + sd * ndtri(np.column_stack([u_a, u_b]))
    fringe = zone == 2
    xy[fringe] = _fringe_points(u_a[fringe], u_b[fringe])
    xy = 1.0 - np.abs(1.0 - np.abs(xy))  # reflect at the edges: clipping would pile homes up
    return (np.clip(xy, 0.0, 1.0) * side_km).astype(np.float32)


def _fringe_points(u_a: np.ndarray, u_b: np.ndarray) -> np.ndarray:
    """Uniform points on the band of the unit square outside [0.2, 0.8]^2: x by the inverse of
    its marginal (the middle column is 0.4 tall), then y on the column's open part."""
    x = np.interp(u_a, [0.0, 0.3125, 0.6875, 1.0], [0.0, 0.2, 0.8, 1.0])
    middle = (x > 0.2) & (x < 0.8)
    y = np.where(middle, 0.4 * u_b, u_b)
    y = np.where(middle & (y >= 0.2), y + 0.6, y)
    return np.column_stack([x, y])


def branch_sites(
    rng: np.random.Generator, homes: np.ndarray, weight: np.ndarray, count: int
) -> np.ndarray:
    """``count`` sites at the centres of k-means clusters of (a sample of) homes, each home
    sampled by the real customers it stands for."""
    from scipy.cluster.vq import kmeans2  # only when a bank's sites are drawn

    size = min(int(np.count_nonzero(weight)), 5_000)
    picked = rng.choice(len(homes), size=size, replace=False, p=weight / weight.sum())
    sample = homes[picked]
    if count >= len(sample):
        return sample[rng.integers(0, len(sample), size=count)].astype(np.float32)
    centres, _ = kmeans2(sample.astype(np.float64), count, minit="++", seed=rng)
    return centres.astype(np.float32)


class OpenBranches:
    """Nearest-open-branch queries over a fixed set of open sites (a k-d tree)."""

    def __init__(self, sites: np.ndarray, open_ids: np.ndarray):
        self.ids = np.asarray(open_ids, np.int32)
        self.tree = cKDTree(sites[self.ids])

    def nearest(self, points: np.ndarray):
        """(branch id, distance km) of the nearest open branch for each point."""
        dist, idx = self.tree.query(points)
        return self.ids[idx], dist.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Siting helpers (branch closure and relocation)
# ----------------------------------------------------------------------------------------------


def rival_sites(
    rng: np.random.Generator, homes: np.ndarray, weight: np.ndarray, count: int
) -> np.ndarray:
    """``count`` rival branch sites (km), each at the home of a person drawn by the real customers
    a row stands for: rivals open where people live, but independently of the bank's own sites."""
    if count <= 0 or len(homes) == 0 or weight.sum() <= 0:
        return np.zeros((0, 2), np.float32)
    picked = rng.choice(len(homes), size=count, replace=True, p=weight / weight.sum())
    return homes[picked].astype(np.float32)


def nearest_km(sites: np.ndarray, points: np.ndarray) -> np.ndarray:
    """km from each point to the nearest of ``sites`` (infinite when there are none)."""
    if len(sites) == 0:
        return np.full(len(points), np.inf, np.float32)
    dist, _ = cKDTree(sites).query(points)
    return dist.astype(np.float32)


def served(sites: np.ndarray, homes: np.ndarray, weight: np.ndarray, reach_km: float):
    """Real customers (``weight``) living within ``reach_km`` of each site."""
    sites = np.atleast_2d(np.asarray(sites, np.float64))
    if len(homes) == 0:
        return np.zeros(len(sites))
    near = cKDTree(np.asarray(homes, np.float64)).query_ball_point(sites, reach_km)
    w = np.asarray(weight, np.float64)
    return np.array([w[idx].sum() for idx in near])


def best_site(
    homes: np.ndarray,
    weight: np.ndarray,
    city_km: float,
    cell_km: float,
    reach_km: float,
    avoid: np.ndarray,
    gap_km: float,
):
    """Site (x, y) km of a new branch that serves the most real customers in ``homes`` (the
    uncovered ones, with their ``weight``) within ``reach_km``, at least ``gap_km`` from every
    site in ``avoid`` (e.g. the branches just closed). Candidates are the centres of a grid of
    side ``cell_km``; the best one then moves to the weighted mean home of the customers it
    serves if that serves at least as many and keeps the gap. With nobody to serve: the allowed
    candidate nearest the city centre."""
    cells = max(int(np.ceil(city_km / cell_km)), 1)
    axis = (np.arange(cells) + 0.5) * city_km / cells
    grid = np.array(np.meshgrid(axis, axis, indexing="ij")).reshape(2, -1).T
    avoid = np.asarray(avoid, np.float64).reshape(-1, 2)
    allowed = nearest_km(avoid, grid) >= gap_km if len(avoid) else np.ones(len(grid), bool)
    grid = grid[allowed] if allowed.any() else grid
    score = served(grid, homes, weight, reach_km)
    if score.max(initial=0.0) <= 0.0:
        centre = np.argmin(np.hypot(grid[:, 0] - city_km / 2, grid[:, 1] - city_km / 2))
        return float(grid[centre, 0]), float(grid[centre, 1])
    best = grid[int(np.argmax(score))]
    near = np.hypot(homes[:, 0] - best[0], homes[:, 1] - best[1]) <= reach_km
    w = np.asarray(weight, np.float64)[near]
    mean = np.array([np.dot(homes[near, 0], w), np.dot(homes[near, 1], w)]) / w.sum()
    keeps_gap = not len(avoid) or nearest_km(avoid, mean[None, :])[0] >= gap_km
    if keeps_gap and served(mean, homes, weight, reach_km)[0] >= score.max():
        best = mean
    return float(best[0]), float(best[1])
