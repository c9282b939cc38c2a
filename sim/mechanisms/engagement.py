"""Engagement (step 8): satisfied customers refer friends, take up or drop products, complain,
and transact."""

from __future__ import annotations

import numpy as np

from sim.customers import masked_sum


def step(model, t: int, fee, fit) -> np.ndarray:
    """Referrals, cross-sell and drops, complaints and usage; returns the referrers' rows."""
    c, b = model.customers, model.config.behaviour
    sat = c.satisfaction
    p_refer = b.referral_rate * np.clip(
        (sat - b.referral_threshold) / (1.0 - b.referral_threshold + 1e-9), 0.0, 1.0
    )
    referrers = np.flatnonzero(c.active & (model.streams.uniform("referrals", t, c.key) < p_refer))
    u = model.streams.uniform("products", t, c.key)
    add = c.active & (u < b.cross_sell_rate * sat * fit) & (c.products < 6)
    drop = c.active & (u > 1.0 - b.drop_rate * (1.0 - sat)) & (c.products > 1)
    c.products[:] += add.astype(np.int8) - drop.astype(np.int8)
    p_complain = b.complaint_rate * (1.0 - sat) + b.complaint_fee * fee
    complain = c.active & (model.streams.uniform("complaints", t, c.key) < p_complain)
    c.complaints[:] += complain
    model.events["complaints"] += masked_sum(c.weight, complain)
    model.events["fee_complaints"] += masked_sum(c.weight, complain & fee)
    use = -np.expm1(-b.usage_rate * c.products * sat)
    used = c.active & (model.streams.uniform("usage", t, c.key) < use)
    np.copyto(c.last_used, t, where=used)
    return referrers
