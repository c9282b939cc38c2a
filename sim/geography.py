"""The city: where customers live, where branches stand, and the nearest open branch.

The city is a square of side ``city_km`` with a dense urban core at its centre, suburbs around it
and a rural fringe. Homes are drawn by zone; branch sites are the centres of k-means clusters of a
sample of homes, so branches sit where people are.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.vq import kmeans2
from scipy.spatial import cKDTree

URBAN_SD = 0.08  # urban core: normal around the centre, sd as a fraction of the side
SUBURB_SD = 0.22  # suburbs: wider normal around the centre


def draw_homes(
    rng: np.random.Generator, urban: np.ndarray, rural: np.ndarray, side_km: float
) -> np.ndarray:
    """Home coordinates (n x 2, km) given each person's urban and rural probabilities."""
    n = len(urban)
    u = rng.random(n)
    zone = np.where(u < urban, 0, np.where(u < urban + rural, 2, 1))
    sd = np.where(zone == 0, URBAN_SD, SUBURB_SD)[:, None]
    xy = 0.5 + sd * rng.standard_normal((n, 2))
    fringe = zone == 2
    xy[fringe] = _rural_points(rng, int(fringe.sum()))
    xy = 1.0 - np.abs(1.0 - np.abs(xy))  # reflect at the edges: clipping would pile homes up
    return (np.clip(xy, 0.0, 1.0) * side_km).astype(np.float32)


def _rural_points(rng: np.random.Generator, n: int) -> np.ndarray:
    """Uniform points in the outer band of the square (outside the central 60%)."""
    pts = rng.random((n, 2))
    inner = np.all(np.abs(pts - 0.5) < 0.3, axis=1)
    while inner.any():
        pts[inner] = rng.random((int(inner.sum()), 2))
        inner = np.all(np.abs(pts - 0.5) < 0.3, axis=1)
    return pts


def branch_sites(rng: np.random.Generator, homes: np.ndarray, count: int) -> np.ndarray:
    """``count`` sites at the centres of k-means clusters of (a sample of) homes."""
    sample = homes[rng.choice(len(homes), size=min(len(homes), 5_000), replace=False)]
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
