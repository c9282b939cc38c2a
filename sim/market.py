"""The city's market: potential customers per segment, shared by the bank and its rivals.

The city has ``P_s`` adults of segment ``s`` who could bank with the bank, fixed for the run: the
opening book is ``market.opening_share`` of them, in the segments' shares. Everyone the bank does
not have banks with a rival. Every acquisition channel reaches people of the whole market; those
already with the bank are not acquired again, so a reached newcomer of segment ``s`` joins with
the segment's *headroom* ``1 - B_s / P_s`` (``B_s``: the bank's real customers of the segment).
Acquisition therefore slows as the bank fills its market and cannot push it past it, however well
it retains; rivals win customers back through the switching hazard.

The decision to join is a draw keyed by the newcomer (stream ``arrivals:headroom``), so under
common random numbers an arm with more headroom acquires the same people as one with less, plus
some (:mod:`sim.arrivals`).
"""

from __future__ import annotations

import numpy as np


class Market:
    """Potential customers per segment, and the bank's share of them."""

    def __init__(self, model):
        opening = self.bank_customers(model).sum()
        self.potential = opening / model.config.market.opening_share * model.seg["share"]

    @staticmethod
    def bank_customers(model) -> np.ndarray:
        """The bank's real customers by segment (kept up to date as customers join and leave:
        ``BankModel.by_segment``)."""
        return model.by_segment.copy()

    def headroom(self, model) -> np.ndarray:
        """Share of each segment's potential customers who are not with the bank."""
        free = 1.0 - self.bank_customers(model) / np.maximum(self.potential, 1e-300)
        return np.clip(free, 0.0, 1.0)

    def share(self, by_segment: np.ndarray) -> float:
        """The bank's share of the city's potential customers (``by_segment``: its real
        customers by segment)."""
        return float(by_segment.sum() / self.potential.sum())

    def joins(self, model, keys: np.ndarray, segment: np.ndarray) -> np.ndarray:
        """Which reached newcomers join: those not with the bank already (segment headroom)."""
        u = model.streams.uniform("arrivals:headroom", 0, keys)
        return u < self.headroom(model)[segment]
