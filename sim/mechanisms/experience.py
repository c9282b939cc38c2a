"""Experience (step 6): service, convenience, effort, manager attention, product fit, perks,
fee surprises and competitor pull make this month's experience; satisfaction follows it."""

from __future__ import annotations

import numpy as np

from sim import behaviour


def step(model, t: int):
    """Update satisfaction; returns this month's competitor pull, fee surprises and fit."""
    c, b = model.customers, model.config.behaviour
    branches = model.branch_list()
    quality = np.array([br.quality for br in branches], np.float32)[c.branch]
    wait = np.array([br.wait for br in branches], np.float32)[c.branch]
    near = c.near
    d = c.digital
    digital_quality = min(model.digital_quality, 1.0)
    c.effort[:] = behaviour.effort(d, wait, near, digital_quality)
    fit = np.clip(c.fit + model.fit_bonus[c.segment], 0.0, 1.0)
    components = {
        "service": (1.0 - d) * quality + d * digital_quality,
        "convenience": d + (1.0 - d) * near,
        "effort": 1.0 - c.effort,
        "attention": c.attention,
        "fit": fit,
    }
    fee = model.streams.uniform("fees", t, c.key) < b.fee_surprise_rate * model.fee_surprise_factor
    pull = sum((comp.pull_on(c.tier, d) for comp in model.competitors), np.float32(0))
    penalty = np.where(fee, np.float32(b.fee_surprise_penalty), np.float32(0))
    penalty += np.float32(b.competitor_penalty) * pull
    now = behaviour.experience(components, b.weights, c.perks - penalty)
    c.satisfaction += behaviour.smooth_step(c.satisfaction, now, b.smoothing) * c.active
    return pull, fee & c.active, fit
