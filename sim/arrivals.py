"""Who arrives: the people of the opening book and of every acquisition channel.

**Arrival-indexed draws.** A person is a function of their key alone (:mod:`sim.rng`): segment,
wealth, home, age, income, loan, products, digital habit, product fit and first satisfaction are
read from the ``arrival:<attribute>`` streams at that key. The k-th arrival of a channel has the
same key in every arm, so two arms that acquire the same number of customers acquire identical
ones, and an arm that acquires more gets the other's newcomers plus extra ones. The monthly count
is an inverse-CDF Poisson draw from one uniform per channel and month, so nearly equal rates give
equal counts.

**Weighted customers.** A simulated customer stands for ``population.weights[tier]`` real ones
(its *weight*): many real mass customers per agent, a fraction of a real customer per private
client, so the affluent book is simulated with many agents. For a flow of real arrivals, a
channel's segment mix (segment shares times the channel's skew) and each segment's wealth
distribution give the real share ``p`` of every (segment, tier) cell. Agents are drawn from the
cells with probability proportional to ``p / weight``, so ``R`` real arrivals are represented by a
Poisson number of agents with mean ``R * sum(p / weight)``, each carrying its cell's weight, and
weighted sums are unbiased for the real flow. Within its cell an agent's wealth is drawn from the
segment's wealth distribution restricted to the tier. The weight is fixed at arrival: it is the
inverse of the chance of being sampled then, which later tier moves do not change, so weighted
totals stay unbiased as customers grow richer or poorer (a sampling weight, as in a survey panel).

**Referred friends** are sampled the same way, keyed to their referrer: a referral by an agent of
weight ``w`` stands for ``w`` real friends of the referrer's segment (a little richer than its
average); they are represented by a Poisson number of friend agents (mean ``w * sum(p / weight)``
over the segment's tiers), drawn from the key of the referral event (the referrer's key and how
many friends it has referred before), each with its tier's weight.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri, pdtr, pdtrik

from sim.config import TIER_BOUNDS, TIERS
from sim.geography import homes_from_uniforms
from sim.rng import Streams, channel_key, friend_keys

FRIEND_SPREAD_KM = 1.5  # sd of a referred friend's home around the referrer's
MAX_PRODUCTS = 6
FRIEND_AUM_FACTOR = 1.2  # referred customers are worth more [Schmitt, Skiera & Van den Bulte 2011]


@dataclass(frozen=True)
class Cells:
    """Sampling design of one channel: cumulative probabilities of the (segment, tier) cells
    (segment-major) and agents per real arrival."""

    cdf: np.ndarray
    agents_per_real: float


class Arrivals:
    """Draws people by key; counts each channel's arrivals so the k-th has key k."""

    def __init__(self, config, segments: dict[str, np.ndarray], streams: Streams, around=None):
        self.config, self.seg, self.streams = config, segments, streams
        self.around = around  # a bank from files: homes around its branches (sim.opening)
        pop = config.population
        self.weight = np.array([pop.weights[t] for t in TIERS], np.float64)
        self._survival: dict[float, np.ndarray] = {}
        # products held: 1 + Poisson(mean - 1), at most 6; its CDF at 0..4 by segment
        extra = np.maximum(segments["products"] - 1.0, 1e-12)[:, None]
        self.products_cdf = pdtr(np.arange(MAX_PRODUCTS - 1), extra)
        self.count: defaultdict[str, int] = defaultdict(int)
        self._cells: dict[tuple, Cells] = {}
        self._friends: tuple[np.ndarray, np.ndarray] | None = None  # _friend_tables

    def cells(self, skew=None) -> Cells:
        """The sampling design for a segment skew (None: segment shares as they are)."""
        key = None if skew is None else tuple(np.asarray(skew, np.float64))
        if key not in self._cells:
            mix = self.seg["share"] * (1.0 if skew is None else np.asarray(skew, np.float64))
            p = mix[:, None] * -np.diff(self.survival(), axis=1)  # (segments, tiers)
            q = (p / p.sum() / self.weight).ravel()
            self._cells[key] = Cells(np.cumsum(q) / q.sum(), float(q.sum()))
        return self._cells[key]

    def keys(self, stream: str, n: int) -> np.ndarray:
        """Keys of the next ``n`` arrivals of a stream."""
        start = self.count[stream]
        self.count[stream] += n
        return channel_key(stream, np.arange(start, start + n))

    def count_this_month(self, stream: str, month: int, real_rate: float, cells: Cells) -> int:
        """Agents arriving through a stream this month for ``real_rate`` expected real arrivals."""
        mean = real_rate * cells.agents_per_real
        if mean <= 0:
            return 0
        u = self.streams.uniform64(f"arrivals:{stream}", month, [0])
        return int(poisson_quantile(u, mean)[0])

    def survival(self, factor: float = 1.0) -> np.ndarray:
        """P(AUM >= each tier's lower bound) by segment (segments x 5), for AUM drawn from the
        segment's distribution and multiplied by ``factor`` (see :func:`wealth_survival`)."""
        if factor not in self._survival:
            pop = self.config.population
            self._survival[factor] = wealth_survival(
                self.seg, pop.pareto_alpha, pop.aum_cap, factor
            )
        return self._survival[factor]

    def sampled(self, keys: np.ndarray, cells: Cells) -> dict[str, np.ndarray]:
        """Segment, AUM and weight of sampled arrivals (their cells, then wealth within)."""
        u = self.streams.uniform64("arrival:cell", 0, keys)
        cell = np.minimum(np.searchsorted(cells.cdf, u, side="right"), len(cells.cdf) - 1)
        seg, tier = np.divmod(cell, len(TIERS))
        return self._within(keys, seg, tier, 1.0)

    def friends(self, referrer_keys, nth, segment, weight) -> tuple[np.ndarray, dict]:
        """Friend agents of this month's referrals (one per referrer, its ``nth``): the index of
        each friend's referrer, and the friends' keys, segments, AUM and weights."""
        per_agent, tier_cdf = self._friend_tables()
        event = friend_keys(referrer_keys, nth)
        mean = weight * per_agent[segment]
        u = self.streams.uniform64("arrival:friends", 0, event)
        count = poisson_quantile(u, mean)
        who = np.repeat(np.arange(len(event)), count)
        nth_friend = np.arange(len(who)) - np.repeat(np.cumsum(count) - count, count)
        keys = friend_keys(event[who], nth_friend)
        seg = segment[who]
        cdf = tier_cdf[seg]
        u = self.streams.uniform64("arrival:cell", 0, keys) * cdf[:, -1]
        tier = np.minimum((u[:, None] >= cdf).sum(axis=1), len(TIERS) - 1)
        return who, {"key": keys, **self._within(keys, seg, tier, FRIEND_AUM_FACTOR)}

    def _friend_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """By segment: friend agents per real friend, and the cumulative agents per real friend
        over the tiers (a referred friend's sampling design)."""
        if self._friends is None:
            per_tier = -np.diff(self.survival(FRIEND_AUM_FACTOR), axis=1) / self.weight
            self._friends = per_tier.sum(axis=1), np.cumsum(per_tier, axis=1)
        return self._friends

    def _within(self, keys, seg, tier, factor: float) -> dict[str, np.ndarray]:
        """Segment, AUM and weight of people of known segments and tiers: AUM drawn from the
        segment's distribution (times ``factor``) restricted to the tier."""
        survival = self.survival(factor)
        high, low = survival[seg, tier], survival[seg, tier + 1]
        s = low + self.streams.uniform64("arrival:wealth", 0, keys) * (high - low)
        aum = np.minimum(self.aum(s, seg) * factor, self.config.population.aum_cap)
        return {"segment": seg.astype(np.int8), "aum": aum, "weight": self.weight[tier]}

    def aum(self, survival: np.ndarray, seg: np.ndarray) -> np.ndarray:
        """AUM (CNY) at a survival probability: lognormal body, Pareto tail above 500k CNY."""
        s = self.seg
        bound = TIER_BOUNDS[1]
        at_bound = self.survival()[seg, 2]
        body = s["aum_median"][seg] * np.exp(-s["aum_sigma"][seg] * ndtri(survival))
        tail = bound * (np.maximum(survival, 1e-300) / np.maximum(at_bound, 1e-300)) ** (
            -1.0 / self.config.population.pareto_alpha
        )
        return np.where(survival < at_bound, tail, body)

    def person(self, keys: np.ndarray, segment: np.ndarray) -> dict[str, np.ndarray]:
        """Every other attribute of people with these keys and segments."""
        s, u, z = self.seg, self._uniform(keys), self._normal(keys)
        income = s["income"][segment] * np.exp(0.4 * z("income"))
        has_loan = u("loan") < s["loan_share"][segment]
        size = 0.3 + 1.4 * u("loan_size")
        loan = has_loan * income * 12.0 * self.config.economics.loan_to_income * size
        extra = np.count_nonzero(u("products")[:, None] > self.products_cdf[segment], axis=1)
        return {
            "age": np.clip(s["age_mean"][segment] + s["age_sd"][segment] * z("age"), 18, 100),
            "income": income,
            "loan": loan,
            "products": 1 + extra,
            "digital": np.clip(s["digital"][segment] + 0.15 * z("digital"), 0, 1),
            "fit": np.clip(s["fit"][segment] + 0.1 * z("fit"), 0, 1),
            "satisfaction": np.clip(
                self.config.population.initial_satisfaction + 0.1 * z("satisfaction"), 0, 1
            ),
            "habit": self.streams.uniform("engagement:habit", 0, keys),
        }

    def homes(self, keys: np.ndarray, segment: np.ndarray, branch=None) -> np.ndarray:
        """Homes (n x 2, km): by the segment's urban and rural shares in the synthetic city;
        around the given ``branch``es, or branches chosen by their shares, for a bank from files."""
        u = self._uniform(keys)
        if self.around is not None:
            branch = self.around.chosen(u("zone")) if branch is None else branch
            return self.around.around(branch, u("home_a"), u("home_b"))
        return homes_from_uniforms(
            u("zone"),
            u("home_a"),
            u("home_b"),
            self.seg["urban"][segment],
            self.seg["rural"][segment],
            self.config.bank.city_km,
        )

    def near(self, keys: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """Homes near given points (a referred friend lives near the referrer)."""
        z = self._normal(keys)
        offset = np.column_stack([z("near_x"), z("near_y")]) * FRIEND_SPREAD_KM
        return np.clip(xy + offset, 0.0, self.config.bank.city_km).astype(np.float32)

    def tenure(self, keys: np.ndarray) -> np.ndarray:
        """Months with the bank of the opening book (exponential around the mean tenure)."""
        mean = self.config.population.tenure_mean_years * 12.0
        return (-mean * np.log(self._uniform(keys)("tenure"))).astype(np.int32)

    def _uniform(self, keys):
        return lambda attribute: self.streams.uniform64(f"arrival:{attribute}", 0, keys)

    def _normal(self, keys):
        return lambda attribute: self.streams.normal(f"arrival:{attribute}", 0, keys)


def poisson_quantile(u: np.ndarray, mean) -> np.ndarray:
    """Poisson quantiles (inverse CDF) at ``u`` in (0, 1), 0 where the mean is 0; the same
    numbers as ``scipy.stats.poisson.ppf``, without its per-call overhead."""
    mean = np.maximum(mean, 1e-12)
    k = np.ceil(pdtrik(u, mean))
    below = np.maximum(k - 1, 0)
    return np.where(pdtr(below, mean) >= u, below, k).astype(np.int64)


def wealth_survival(
    segments: dict[str, np.ndarray], alpha: float, cap: float, factor: float = 1.0
) -> np.ndarray:
    """P(AUM >= lower bound of each tier) by segment: (segments x 5), from 1 down to 0.

    AUM is drawn below 500k CNY from a lognormal, above from a Pareto tail of index ``alpha`` (a
    thinner top than the lognormal's: few private clients hold a large share), then multiplied by
    ``factor`` and capped at ``cap``.
    """
    median, sigma = segments["aum_median"], segments["aum_sigma"]
    at_bound = ndtr(-np.log(TIER_BOUNDS[1] / median) / sigma)
    columns = [np.ones_like(median)]
    for bound in TIER_BOUNDS:
        drawn = bound / factor  # the draw that reaches the bound
        if drawn <= TIER_BOUNDS[1]:
            reach = ndtr(-np.log(drawn / median) / sigma)
        else:
            reach = at_bound * (drawn / TIER_BOUNDS[1]) ** -alpha
        columns.append(reach * (bound <= cap))
    columns.append(np.zeros_like(median))
    return np.column_stack(columns)
