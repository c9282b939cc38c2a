"""The one discount of the NPV (``sim.metrics.discount_factors``): month m of the measured period
counts (1 + annual rate) ** -(m / 12), as docs/model.md (section 3.3.14) states, and the NPV and
its parts are the discounted sums of the monthly profit rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.api import run_scenario
from sim.ledger import GROUPS
from sim.metrics import discount_factors


@pytest.mark.parametrize("rate", [0.0, 0.08, 0.15, 1.0])
def test_each_month_is_discounted_by_the_annual_rate_to_the_power_minus_months_over_12(rate):
    months = np.arange(0, 61)
    got = discount_factors(months, rate)
    want = [math.pow(1.0 + rate, -m / 12.0) for m in months]
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0.0)


def test_month_zero_is_not_discounted():
    assert discount_factors([0], 0.08)[0] == 1.0
    assert discount_factors([0], 0.99)[0] == 1.0


def test_a_year_discounts_by_one_plus_the_annual_rate():
    factors = discount_factors([12, 24, 36], 0.08)
    np.testing.assert_allclose(factors, [1 / 1.08, 1 / 1.08**2, 1 / 1.08**3], rtol=1e-14)


def test_months_compound_monthly_at_the_annual_rates_monthly_equivalent():
    factors = discount_factors(np.arange(0, 25), 0.08)
    monthly = 1.08 ** (-1 / 12)
    np.testing.assert_allclose(factors[1:] / factors[:-1], monthly, rtol=1e-14)
    assert factors[1] == pytest.approx(monthly, rel=1e-15)
    assert 1 / 1.08 < factors[6] < 1.0  # half a year: no rounding of months to years
    assert factors[6] == pytest.approx(1.08**-0.5, rel=1e-15)


def test_a_zero_rate_leaves_every_month_as_it_is():
    assert (discount_factors(np.arange(-5, 61), 0.0) == 1.0).all()


def test_later_months_count_less_and_burn_in_months_would_count_more():
    factors = discount_factors(np.arange(-3, 61), 0.08)
    assert (np.diff(factors) < 0).all()
    assert (factors[:3] > 1.0).all() and (factors[4:] < 1.0).all()
    assert discount_factors([12], 0.15)[0] < discount_factors([12], 0.08)[0]


def test_any_sequence_of_months_gives_float64_factors_of_the_same_shape():
    integers = np.array([1, 6, 12], np.int32)  # integer months are not divided as integers
    for months in (integers, [1, 6, 12], pd.Series([1, 6, 12]), (1, 6, 12)):
        factors = discount_factors(months, 0.08)
        assert isinstance(factors, np.ndarray) and factors.dtype == np.float64
        assert factors.shape == (3,)
        np.testing.assert_allclose(factors, 1.08 ** (-np.array([1, 6, 12]) / 12), rtol=1e-15)
    assert discount_factors(np.empty(0), 0.08).shape == (0,)
    assert float(discount_factors(12, 0.08)) == pytest.approx(1 / 1.08, rel=1e-15)


@pytest.fixture(scope="module")
def tiny_run(make_config):
    return run_scenario(
        make_config({"economics.discount_rate": 0.12}, customers=300, months=14, burn_in=0)
    )


def test_the_npv_and_its_parts_are_the_discounted_monthly_profits(tiny_run):
    ts, s = tiny_run.timeseries, tiny_run.summary
    factors = np.array([1.12 ** (-m / 12) for m in range(1, 15)])
    assert ts["month"].tolist() == list(range(1, 15))
    assert s["npv"] == pytest.approx(float(ts["profit"] @ factors), rel=1e-12)
    for group in GROUPS:
        want = float(ts[f"profit_{group}"] @ factors)
        assert s[f"npv_{group}"] == pytest.approx(want, rel=1e-12, abs=1e-6)
    parts = sum(s[f"npv_{g}"] for g in GROUPS)
    assert parts == pytest.approx(s["npv"], rel=1e-12, abs=1e-6)
    assert s["npv"] != pytest.approx(s["profit"], rel=1e-3)  # discounting changes the sum
    assert s["profit"] == pytest.approx(float(ts["profit"].sum()), rel=1e-12)
