"""Experience (step 6): service, convenience, effort, manager attention, product fit, perks,
fee surprises and competitor pull make this month's experience; satisfaction follows it."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from sim.behaviour import effort
from sim.compiled import F0, F1, HALF, clip01, formula

if TYPE_CHECKING:
    from sim.model import BankModel

f32 = np.float32


class Params(NamedTuple):
    """This month's experience parameters and levers, as the customer pass reads them."""

    digital_quality: np.float32  # 0-1, with strategies' gains
    fee_rate: np.float32  # monthly chance of a fee surprise, with strategies' cuts
    fee_penalty: np.float32  # experience lost in a month with a fee surprise
    competitor_penalty: np.float32  # experience lost per unit of competitor pull
    w_service: np.float32  # the components' weights (behaviour.weights)
    w_convenience: np.float32
    w_effort: np.float32
    w_attention: np.float32
    w_fit: np.float32
    smoothing: np.float32  # the share of the gap to this month's experience closed
    quality: np.ndarray  # service quality by branch index (float32)
    wait: np.ndarray  # minutes of wait by branch index (float32)
    fit_bonus: np.ndarray  # product fit added by segment (strategies)
    pull_tier: np.ndarray  # (competitor, tier): pull before the digital tilt
    pull_tilt: np.ndarray  # by competitor: extra pull per unit of digital share above 0.5


def params(model: BankModel) -> Params:
    b = model.config.behaviour
    branches, competitors = model.branch_list(), list(model.competitors)
    return Params(
        f32(min(model.digital_quality, 1.0)),
        f32(b.fee_surprise_rate * model.fee_surprise_factor),
        f32(b.fee_surprise_penalty),
        f32(b.competitor_penalty),
        f32(b.weights["service"]),
        f32(b.weights["convenience"]),
        f32(b.weights["effort"]),
        f32(b.weights["attention"]),
        f32(b.weights["fit"]),
        f32(b.smoothing),
        np.array([br.quality for br in branches], f32),
        np.array([br.wait for br in branches], f32),
        model.fit_bonus,
        np.array([comp.by_tier() for comp in competitors], f32).reshape(-1, 4),
        np.array([comp.config.digital_tilt for comp in competitors], f32),
    )


@formula
def competitor_pull(p, tier, digital):
    """This month's pull (0-1 per rival, summed) on a customer, tilted to rich and digital ones."""
    pull = F0
    for j in range(p.pull_tier.shape[0]):
        pull += clip01(p.pull_tier[j, tier] + p.pull_tilt[j] * (digital - HALF))
    return pull


@formula
def month(p, satisfaction, digital, branch, near, attention, fit, segment, perks, fee, pull):
    """A customer's effort, satisfaction and product fit after this month: the weighted
    components plus perks, less a fee surprise's and the rivals' penalties, smoothed."""
    d, quality = digital, p.quality[branch]
    toil = effort(d, p.wait[branch], near, p.digital_quality)
    fit = clip01(fit + p.fit_bonus[segment])
    penalty = (p.fee_penalty if fee else F0) + p.competitor_penalty * pull
    now = (
        p.w_service * ((F1 - d) * quality + d * p.digital_quality)
        + p.w_convenience * (d + (F1 - d) * near)
        + p.w_effort * (F1 - toil)
        + p.w_attention * attention
        + p.w_fit * fit
    )
    now = clip01(now + (perks - penalty))
    return toil, satisfaction + p.smoothing * (now - satisfaction), fit
