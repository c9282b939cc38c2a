"""The arms' colours stay apart, for normal and for red-green colour-blind vision.

Every pair of arms of the default comparison (configs/experiment/playbook.yaml: the baseline and
ten arms) either differs in line style and marker, or in colour by at least a CIEDE2000 distance
that stays clear under simulated deuteranopia and protanopia. The distance is CIEDE2000 (CIE
Technical Report 142-2001), as Sharma, Wu & Dalal (2005) give it, checked against their test
pairs; the colour-blind vision is simulated with the matrices of Machado, Oliveira & Fernandes
(2009), "A physiologically-based model for simulation of color vision deficiency", IEEE TVCG
15(6), at severity 1.0, applied to linear sRGB (the values of their table, as colorspacious and
colour-science use them).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from analysis.charts.common import (
    BASELINE_COLOUR,
    FIXED_COLOURS,
    PALETTE,
    arm_styles,
    contrast,
    slot_style,
    text_colour,
)

ROOT = Path(__file__).resolve().parents[1]
VISION = {
    "normal": np.eye(3),
    "deuteranopia": np.array(
        [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ]
    ),
    "protanopia": np.array(
        [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ]
    ),
}
"""Machado et al. (2009), severity 1.0, on linear sRGB."""
APART = {"normal": 20.0, "deuteranopia": 12.0, "protanopia": 12.0}
"""The least CIEDE2000 distance between two arm colours drawn in the same line style. The old
palette's orange and sand were 13 apart to normal vision and 5 under protanopia."""
FROM_BLACK = 25.0  # every arm colour from the baseline's black, in every vision
FROM_WHITE = 15.0  # every arm colour from the white page, in every vision
OLD_PALETTE = (
    *("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9"),
    *("#785EF0", "#9C6B30", "#882255", "#C9B24A"),
)
"""The palette the charts had, whose gold, orange and olive-brown ran together."""


def linear_rgb(colour: str) -> np.ndarray:
    rgb = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def lab(colour: str, vision: str = "normal") -> np.ndarray:
    """CIE L*a*b* (D65) of a hex colour as seen with ``vision``."""
    linear = np.clip(VISION[vision] @ linear_rgb(colour), 0, 1)
    to_xyz = [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
    xyz = np.array(to_xyz) @ linear / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def ciede2000(lab1, lab2) -> float:
    """CIEDE2000 colour difference (kL = kC = kH = 1), after Sharma, Wu & Dalal (2005)."""
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    c_mean = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_mean**7 / (c_mean**7 + 25**7)))
    a1, a2 = (1 + g) * a1, (1 + g) * a2
    c1, c2 = math.hypot(a1, b1), math.hypot(a2, b2)
    h1 = math.degrees(math.atan2(b1, a1)) % 360 if c1 else 0.0
    h2 = math.degrees(math.atan2(b2, a2)) % 360 if c2 else 0.0
    dh = 0.0 if c1 * c2 == 0 else (h2 - h1 + 180) % 360 - 180
    d_l, d_c = l2 - l1, c2 - c1
    d_h = 2 * math.sqrt(c1 * c2) * math.sin(math.radians(dh) / 2)
    l_mean, c_mean = (l1 + l2) / 2, (c1 + c2) / 2
    if c1 * c2 == 0:
        h_mean = h1 + h2
    elif abs(h1 - h2) <= 180:
        h_mean = (h1 + h2) / 2
    else:
        h_mean = (h1 + h2 + 360) / 2 if h1 + h2 < 360 else (h1 + h2 - 360) / 2
    t = (
        1
        - 0.17 * math.cos(math.radians(h_mean - 30))
        + 0.24 * math.cos(math.radians(2 * h_mean))
        + 0.32 * math.cos(math.radians(3 * h_mean + 6))
        - 0.20 * math.cos(math.radians(4 * h_mean - 63))
    )
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / math.sqrt(20 + (l_mean - 50) ** 2)
    s_c, s_h = 1 + 0.045 * c_mean, 1 + 0.015 * c_mean * t
    r_c = 2 * math.sqrt(c_mean**7 / (c_mean**7 + 25**7))
    r_t = -math.sin(math.radians(60 * math.exp(-(((h_mean - 275) / 25) ** 2)))) * r_c
    return math.sqrt(
        (d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2 + r_t * (d_c / s_c) * (d_h / s_h)
    )


def distance(one: str, other: str, vision: str) -> float:
    return ciede2000(lab(one, vision), lab(other, vision))


def default_arms() -> list[str]:
    """The arms of the default comparison, in its order."""
    preset = yaml.safe_load((ROOT / "configs/experiment/playbook.yaml").read_text())
    return list(preset["arms"])


@pytest.mark.parametrize(
    ("one", "other", "expected"),
    [  # Sharma, Wu & Dalal (2005), table 1: pairs 1, 7, 13, 17, 25, 34
        ((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425),
        ((50, 0, 0), (50, -1, 2), 2.3669),
        ((50, 2.49, -0.001), (50, -2.49, 0.0009), 7.1792),
        ((50, 2.5, 0), (73, 25, -18), 27.1492),
        ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
        ((2.0776, 0.0795, -1.135), (0.9033, -0.0636, -0.5514), 0.9082),
    ],
)
def test_ciede2000_matches_the_published_test_pairs(one, other, expected):
    assert ciede2000(one, other) == pytest.approx(expected, abs=1e-4)
    assert ciede2000(other, one) == pytest.approx(expected, abs=1e-4)


def test_the_simulations_keep_grey_and_confuse_red_with_green():
    for vision in VISION:  # a row of each matrix sums to 1: greys stay grey
        assert lab("#777777", vision) == pytest.approx(lab("#777777"), abs=0.05)
    assert distance("#D62728", "#2CA02C", "normal") > 50
    assert distance("#D62728", "#2CA02C", "deuteranopia") < 25  # red and green close up


def test_no_two_arms_of_the_default_comparison_share_colour_and_line_style():
    arms = default_arms()
    assert len(arms) == 11 and arms[0] == "baseline"
    styles = arm_styles(arms, "baseline")
    assert len({(s.colour, s.dash) for s in styles.values()}) == len(arms)
    assert len({(s.colour, s.marker) for s in styles.values()}) == len(arms)
    assert styles["baseline"].colour == BASELINE_COLOUR and styles["baseline"].dash == "-"


def test_arms_in_the_same_line_style_are_far_apart_in_colour_for_every_vision():
    styles = arm_styles(default_arms(), "baseline")
    for (one, a), (other, b) in itertools.combinations(styles.items(), 2):
        if a.colour == b.colour:  # a shared colour: told apart by dash and marker
            assert a.dash != b.dash and a.marker != b.marker, (one, other)
            continue
        if a.dash != b.dash:  # told apart by the line style; the colours are apart too (below)
            continue
        black = BASELINE_COLOUR in (a.colour, b.colour)
        for vision, least in APART.items():
            least = FROM_BLACK if black else least
            assert distance(a.colour, b.colour, vision) >= least, (one, other, vision)


def test_every_palette_colour_is_apart_from_the_others_from_black_and_from_the_page():
    for one, other in itertools.combinations(PALETTE, 2):
        for vision, least in APART.items():
            assert distance(one, other, vision) >= least, (one, other, vision)
    for colour in PALETTE:
        for vision in VISION:
            assert distance(colour, BASELINE_COLOUR, vision) >= FROM_BLACK, (colour, vision)
            assert distance(colour, "#FFFFFF", vision) >= FROM_WHITE, (colour, vision)


def test_the_old_palette_fails_the_same_measure():
    worst = min(
        distance(one, other, vision)
        for one, other in itertools.combinations(OLD_PALETTE, 2)
        for vision in ("deuteranopia", "protanopia")
    )
    assert worst < APART["protanopia"] / 2  # orange and sand: about 5


def test_more_arms_than_colours_take_other_line_styles_and_never_repeat_a_style():
    styles = [slot_style(slot) for slot in range(4 * len(PALETTE))]
    assert [s.dash for s in styles[: len(PALETTE)]] == ["-"] * len(PALETTE)
    assert {s.dash for s in styles[len(PALETTE) : 2 * len(PALETTE)]} == {"--"}
    assert len({(s.colour, s.dash) for s in styles}) == len(styles)
    dashed = [s.colour for s in styles[len(PALETTE) : len(PALETTE) + 4]]
    for one, other in itertools.combinations(dashed, 2):  # the first four dashed arms: apart
        for vision in VISION:
            assert distance(one, other, vision) >= 19, (one, other, vision)
    many = arm_styles(["baseline", *[f"arm{i}" for i in range(20)]], "baseline")
    assert len({(s.colour, s.dash, s.marker) for s in many.values()}) == 21


def test_each_strategy_keeps_its_slot_and_lean_service_is_not_drawn_like_product_innovation():
    styles = arm_styles(default_arms(), "baseline")
    assert all(styles[a] == slot_style(slot) for a, slot in FIXED_COLOURS.items())
    lean, product = styles["lean_service"], styles["product_innovation"]
    assert lean.colour != product.colour and lean.dash != product.dash


def test_text_in_a_light_arm_colour_is_darkened_to_stay_readable():
    for colour in PALETTE:
        text = text_colour(colour)
        assert contrast(text) >= 3.0, colour
        if contrast(colour) >= 3.0:
            assert text == colour  # a dark enough colour is kept as it is
    assert contrast("#000000") == pytest.approx(21.0)
