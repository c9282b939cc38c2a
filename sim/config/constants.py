"""Names and bounds the whole schema shares: the tiers and the other fixed key sets, the tier
bounds, and the largest amount and month a parameter may take."""

from __future__ import annotations

from sim.params import Per

TIERS = ("mass", "mid", "high", "private")
PER_TIER = Per("tier", TIERS)
PRODUCT_COUNTS = ("1", "2", "3", "4+")  # products held, as the switching hazard reads them
ENGAGEMENT_STATES = ("disengaged", "engaged")  # below and at or above engagement_threshold
EXPERIENCE_COMPONENTS = ("service", "convenience", "effort", "attention", "fit")
ENGAGEMENT_COMPONENTS = ("products", "satisfaction", "digital", "habit")
TIER_BOUNDS = (50_000.0, 500_000.0, 6_000_000.0)  # CNY of AUM; Chinese retail practice
MAX_CNY = 1e9  # the largest amount any money parameter may take, so no total can overflow
MAX_MONTHS = 1_200  # the longest run, and so the latest month a setting can name
