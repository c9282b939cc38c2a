"""What a calibration's targets can tell: an interval for each fitted parameter, whether the
targets identify it, which parameters trade off, and the parameter vectors as plausible as the best.

At the best point the sensitivity ``D`` (targets x parameters: d model_i / d theta_j, by central
differences over 10% of each range on the trials' own seeds) is scaled to ``J = D R / sigma``:
each column by its parameter's search range ``R_j`` (so intervals read as shares of the range),
each row by ``sigma_i = h_i / 2``, half the target's half-width (a band is about +-2 standard
errors: ``sim.targets``). The loss is ``sum z_i^2 / 4`` with ``z = (model - value) / sigma``, so
``F = J'J`` is the information the loss uses. The fit is a minimum-distance estimate with those
weights; its covariance is the sandwich ``F^-1 J' S J F^-1``, where ``S`` is the covariance of the
targets' errors in sigma units: the identity when they are independent with standard error
``sigma``, or a bootstrap of the bank's extract when the targets come from it, which carries their
overlap (overall attrition is a weighted mean of the tiers'). When the best loss exceeds what ``S``
leaves after the fit (``tr(M S M') / 4``, ``M = I - J F^-1 J'``), the covariance is inflated by
the ratio, never deflated. ``F`` is inverted through the SVD of ``J``; a singular value below
``FLOOR`` times the largest counts as that, so a direction the targets do not see gets an interval
far wider than its range rather than a finite-looking one.

A parameter is identified when its 95% interval's half-width is at most ``IDENTIFIED`` of its
search range: the targets then at least halve the range the fit was allowed. Pairs whose estimates
correlate beyond ``CORRELATED`` trade off (or move together): the targets pin down a combination.

The plausible set: every finished trial whose loss is within ``q / 4`` of the best, ``q`` the 95%
point of ``4 x (loss - best loss)`` at the true parameters, which is chi-square with ``p`` degrees
of freedom when ``S`` is the identity, else a weighted sum of chi-squares (the eigenvalues of
``F C``), taken by Satterthwaite's scaled chi-square: the same covariance as the intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

LEVEL = 0.95
Z = float(stats.norm.ppf(0.5 + LEVEL / 2))  # 1.96
STEP = 0.05  # a central difference's half-step, as a share of the parameter's range
IDENTIFIED = 0.25  # identified: the 95% interval's half-width is at most this share of the range
CORRELATED = 0.9  # two estimates correlated beyond this trade off (or move together)
FLOOR = 1e-9  # singular values count as at least this share of the largest
SHOWN = 0.2  # a parameter's share of the weakest direction worth naming
MAX_SETS = 20  # plausible parameter vectors kept at most


# --------------------------------------------------------------------------------------------
# The sensitivity
# --------------------------------------------------------------------------------------------


def difference_points(
    best: dict[str, float], ranges: dict[str, tuple[float, float]]
) -> list[dict[str, float]]:
    """Two points per parameter (in the order of ``ranges``): ``best`` with that parameter moved
    ``STEP`` of its range down and up, kept inside the range (the pair shifted at a bound),
    integers as integers."""
    base, points = {key: best[key] for key in ranges}, []
    for key, (lo, hi) in ranges.items():
        value = base[key]
        if isinstance(value, int):
            step: float = max(1, round(STEP * (hi - lo)))  # an int for an int
            lo, hi = math.ceil(lo), math.floor(hi)
        else:
            step = STEP * (hi - lo)
        down = min(max(value - step, lo), hi - 2 * step)
        up = min(down + 2 * step, hi)
        down = max(up - 2 * step, lo)
        points += [base | {key: down}, base | {key: up}]
    return points


def sensitivity(
    points: list[dict[str, float]], measured: list[dict[str, float]], names: list[str]
) -> np.ndarray:
    """``D`` (targets x parameters): the central differences of the quantities ``names``
    measured at :func:`difference_points` (parameters in their order; zero where a pair could
    not move)."""
    columns = []
    for j, key in enumerate(points[0]):
        down, up = points[2 * j][key], points[2 * j + 1][key]
        change = np.array([measured[2 * j + 1][n] - measured[2 * j][n] for n in names])
        columns.append(change / (up - down) if up > down else np.zeros(len(names)))
    return np.column_stack(columns)


def error_covariance(draws: np.ndarray, sigma: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``S``: the targets' error covariance in sigma units from bootstrap ``draws`` (draws x
    targets); a target not ``known`` to the bootstrap keeps variance 1 and no covariance."""
    s = np.eye(len(sigma))
    k = np.flatnonzero(known)
    s[np.ix_(k, k)] = np.cov(draws[:, k], rowvar=False) / np.outer(sigma[k], sigma[k])
    return s


# --------------------------------------------------------------------------------------------
# Identification
# --------------------------------------------------------------------------------------------


@dataclass
class Identification:
    parameters: list[str]
    fitted: np.ndarray
    ranges: np.ndarray  # parameters x (low, high)
    jacobian: np.ndarray  # J: targets x parameters, rows / sigma, columns x range
    singular: np.ndarray  # J's singular values, largest first (zeros when targets < parameters)
    weakest: np.ndarray  # the right singular vector of the smallest
    covariance: np.ndarray  # of the estimates, in parameter units
    inflation: float  # the covariance's factor for misfit (at least 1)
    eigenvalues: np.ndarray  # of F C: 4 x (loss - best) at the truth is their chi-square sum
    errors: str  # how the targets' errors were taken, in words

    @property
    def widths(self) -> np.ndarray:
        return self.ranges[:, 1] - self.ranges[:, 0]

    @property
    def half_widths(self) -> np.ndarray:
        return Z * np.sqrt(np.diag(self.covariance))

    @property
    def intervals(self) -> np.ndarray:
        h = self.half_widths
        return np.column_stack([self.fitted - h, self.fitted + h])

    @property
    def identified(self) -> np.ndarray:
        h = self.half_widths
        return np.isfinite(h) & (h <= IDENTIFIED * self.widths)

    @property
    def condition(self) -> float:
        top, low = self.singular[0], self.singular[-1]
        return math.inf if low <= 0 else float(top / low)

    @property
    def correlation(self) -> np.ndarray:
        sd = np.sqrt(np.diag(self.covariance))
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.covariance / np.outer(sd, sd)

    def pairs(self) -> list[tuple[str, str, float]]:
        """Parameter pairs whose estimates correlate beyond ``CORRELATED``, strongest first."""
        r, names = self.correlation, self.parameters
        found = [
            (names[a], names[b], float(r[a, b]))
            for a in range(len(names))
            for b in range(a + 1, len(names))
            if abs(r[a, b]) > CORRELATED
        ]
        return sorted(found, key=lambda pair: -abs(pair[2]))

    def threshold(self) -> tuple[float, str]:
        """The plausible set's bound on ``loss - best loss``, and its law in words."""
        return threshold(self.eigenvalues, len(self.parameters))


def threshold(eigenvalues: np.ndarray, p: int) -> tuple[float, str]:
    """The ``LEVEL`` point of ``4 x (loss - best loss)`` at the truth, a sum of chi-squares
    (one degree of freedom each) weighted by ``eigenvalues`` (none positive: ``p`` ones), divided
    by 4; and its law in words: a scaled chi-square, exact when the weights are equal (chi-square
    with ``p`` degrees of freedom when they are all 1), else Satterthwaite's, with the sum's mean
    and variance."""
    lam = eigenvalues[eigenvalues > 0]
    if not lam.size:
        lam = np.ones(p)
    scale, df = float(lam @ lam / lam.sum()), float(lam.sum() ** 2 / (lam @ lam))
    law = f"chi-square with {df:.3g} degrees of freedom"
    if not np.allclose(lam, lam[0]):
        law += " (Satterthwaite)"
    if not np.isclose(scale, 1.0):
        law = f"{scale:.3g} x {law}"
    return scale * float(stats.chi2.ppf(LEVEL, df)) / 4, law


def identify(
    d: np.ndarray,
    sigma: np.ndarray,
    s: np.ndarray | None,
    fitted: dict[str, float],
    ranges: dict[str, tuple[float, float]],
    loss: float,
    errors: str,
) -> Identification:
    """The identification at the best point: ``d`` the sensitivity (:func:`sensitivity`),
    ``sigma`` the targets' half-widths / 2, ``s`` their error covariance in sigma units (None:
    the identity), ``loss`` the best loss, ``errors`` the words for ``s``."""
    names = list(ranges)
    box = np.array([ranges[k] for k in names], float)
    widths = box[:, 1] - box[:, 0]
    j = d * widths / sigma[:, None]
    s = np.eye(len(sigma)) if s is None else s
    u, sv, vt = _svd(j)
    floor = FLOOR * sv[0] if sv[0] > 0 else 1.0
    seen = sv > floor
    q = u.T @ s @ u  # S in the basis of J's left singular vectors
    q[~seen, :] = q[:, ~seen] = 0
    q[~seen, ~seen] = 1  # a direction the targets do not see: variance 1 / floor^2
    resid = np.eye(len(sigma)) - u[:, seen] @ u[:, seen].T  # what a fit leaves of the errors
    expected = float(np.trace(resid @ s @ resid.T)) / 4
    inflation = max(1.0, loss / expected) if expected > 0 else 1.0
    inv = 1 / np.maximum(sv, floor)
    inner = inflation * inv[:, None] * q * inv[None, :]  # the covariance, J's right basis
    ratio = sv * inv  # 1 where seen, below where not
    eigenvalues = np.linalg.eigvalsh(inflation * ratio[:, None] * q * ratio[None, :])
    return Identification(
        names,
        np.array([fitted[k] for k in names], float),
        box,
        j,
        sv,
        vt[-1] * np.sign(vt[-1][np.argmax(np.abs(vt[-1]))]),
        np.outer(widths, widths) * (vt.T @ inner @ vt),
        inflation,
        np.clip(eigenvalues, 0, None),
        errors,
    )


def _svd(j: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``j``'s SVD with a singular value (zero) and a left vector (zeros) for each parameter
    beyond the targets' number, so that every parameter has its direction."""
    m, p = j.shape
    u, sv, vt = np.linalg.svd(j, full_matrices=True)
    sv = np.concatenate([sv, np.zeros(p - len(sv))])
    u = np.column_stack([u, np.zeros((m, max(p - m, 0)))])[:, :p]
    return u, sv, vt


# --------------------------------------------------------------------------------------------
# The plausible set
# --------------------------------------------------------------------------------------------


def plausible(
    trials: list[tuple[int, float, dict[str, float]]], bound: float, cap: int = MAX_SETS
) -> tuple[list[tuple[int, float, dict[str, float]]], int]:
    """The finished ``trials`` (number, loss, values) whose loss is within ``bound`` of the best,
    at most ``cap`` of them chosen to span the set: the best, then each parameter's lowest and
    highest, then the rest by loss; listed best first. And how many were within ``bound``."""
    ranked = sorted(trials, key=lambda t: (t[1], t[0]))
    inside = [t for t in ranked if t[1] - ranked[0][1] <= bound]
    chosen = {inside[0][0]: inside[0]}
    for key in inside[0][2]:
        for extreme in (min, max):
            t = extreme(inside, key=lambda t, key=key: t[2][key])  # type: ignore[misc]
            if len(chosen) < cap:
                chosen.setdefault(t[0], t)
    for t in inside:
        if len(chosen) < cap:
            chosen.setdefault(t[0], t)
    return sorted(chosen.values(), key=lambda t: (t[1], t[0])), len(inside)


# --------------------------------------------------------------------------------------------
# In words
# --------------------------------------------------------------------------------------------


def short(names: list[str]) -> dict[str, str]:
    """Each name without the first part all share (``behaviour.churn_base`` -> ``churn_base``)."""
    heads = {n.split(".")[0] for n in names}
    if len(heads) == 1 and all("." in n for n in names):
        return {n: n.partition(".")[2] for n in names}
    return {n: n for n in names}


def trade_offs(found: Identification) -> list[str]:
    """A sentence per correlated pair, or for the weakest direction when no pair correlates but
    some parameter is not identified."""
    names = short(found.parameters)
    said = []
    for a, b, r in found.pairs():
        verb = "trade off" if r < 0 else "move together"
        said.append(
            f"{names[a]} and {names[b]} {verb} (correlation {r:+.2f}): these targets pin down"
            " their combination, not each"
        )
    if not said and not found.identified.all():
        said.append(f"the targets barely move {weakest(found)}")
    return said


def weakest(found: Identification) -> str:
    """The weakest direction in words: its parameters' shares, largest first."""
    names = short(found.parameters)
    parts = sorted(zip(found.weakest, found.parameters, strict=True), key=lambda c: -abs(c[0]))
    return " ".join(f"{c:+.2f} {names[n]}" for c, n in parts if abs(c) >= SHOWN)


def table(found: Identification) -> list[str]:
    """The parameters' table: fitted value, 95% interval, search range, identified."""
    names = short(found.parameters)
    width = max(20, *map(len, names.values()))
    lines = [
        f"{'parameter':<{width}} {'fitted':>10} {'95% interval':>25} {'range':>17}  identified"
    ]
    for k, name in enumerate(found.parameters):
        lo, hi = found.intervals[k]
        box = f"{found.ranges[k, 0]:.4g}-{found.ranges[k, 1]:.4g}"
        ok = "yes" if found.identified[k] else "NO"
        lines.append(
            f"{names[name]:<{width}} {found.fitted[k]:>10.4g} {f'{lo:.4g} to {hi:.4g}':>25}"
            f" {box:>17}  {ok}"
        )
    return lines


def report(found: Identification) -> list[str]:
    """What the targets tell, in lines: how, the table, the criterion, condition and weakest
    direction, and the trade-offs."""
    widened = ""
    if found.inflation > 1:
        widened = f"; widened x{found.inflation:.3g}, as the best loss exceeds what they explain"
    return [
        "What the targets tell: 95% intervals from the targets' sensitivity at the best point;"
        f" the targets' errors {found.errors}{widened}",
        *table(found),
        f"(identified: the 95% interval's half-width is at most {IDENTIFIED:g} of the range;"
        f" the sensitivity's condition number is {found.condition:.3g}, its weakest direction"
        f" {weakest(found)})",
        *trade_offs(found),
    ]


def summary(found: Identification) -> str:
    """``k of p parameters identified`` and the strongest trade-off, for the fit's summary."""
    said = [f"{int(found.identified.sum())} of {len(found.parameters)} parameters identified"]
    more = trade_offs(found)
    if len(more) > 1:
        more[1:] = [f"{len(more) - 1} more pairs correlate beyond {CORRELATED:g}"]
    return "; ".join(said + more)


def record(found: Identification, targets: list[str]) -> dict:
    """Everything of the identification, as plain data (provenance.json)."""
    bound, law = found.threshold()
    return {
        "errors": found.errors,
        "inflation": found.inflation,
        "criterion": f"95% half-width at most {IDENTIFIED:g} of the range",
        "parameters": {
            name: {
                "fitted": float(found.fitted[k]),
                "interval": [float(x) for x in found.intervals[k]],
                "range": [float(x) for x in found.ranges[k]],
                "identified": bool(found.identified[k]),
            }
            for k, name in enumerate(found.parameters)
        },
        "condition_number": found.condition if math.isfinite(found.condition) else None,
        "singular_values": found.singular.tolist(),
        "weakest_direction": dict(zip(found.parameters, found.weakest.tolist(), strict=True)),
        "pairs": [{"a": a, "b": b, "correlation": r} for a, b, r in found.pairs()],
        "covariance": found.covariance.tolist(),
        "correlation": found.correlation.tolist(),
        "plausible_bound": {"loss_above_best": bound, "distribution": law},
        "targets": targets,
        "jacobian": found.jacobian.tolist(),
    }
