"""Who earns and who pays (docs/model.md, sections 3.3.13-3.3.14): every customer line is split
row by row between the opening book (the measured cohort) and newcomers (everyone else), the
acquisition cost and the strategy costs booked on customers go to the group of the customers
they are spent on, branches and staff are fixed, and the three parts add up to the profit and
the NPV."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sim.api import run_scenario
from sim.ledger import GROUPS, Ledger
from sim.mechanisms import books
from sim.model import BankModel

ECONOMICS = SimpleNamespace(
    deposit_margin=0.012,
    wealth_fee=0.006,
    loan_margin=0.024,
    payment_income=2.0,
    default_rate=0.012,
    loss_given_default=0.5,
)
RATES = {  # per month
    "deposit_margin": 0.001,
    "wealth_fees": 0.0005,
    "loan_interest": 0.002,
    "payment_income": 2.0,
    "credit_losses": 0.0005,
}


def test_each_lines_monthly_rate_is_its_annual_rate_over_12_or_per_customer():
    rates = books.line_rates(ECONOMICS)
    assert list(rates) == list(books.LINES)
    for line, rate in RATES.items():
        assert rates[line] == pytest.approx(rate, rel=1e-15)


def test_each_rows_bases_are_its_deposits_wealth_loans_and_real_customers():
    aum = np.array([1000.0, 2000.0, 500.0])
    wealth_share = np.array([0.1, 0.5, 0.0])
    loan = np.array([0.0, 300.0, 100.0])
    weight = np.array([25.0, 3.0, 0.0])  # the last row has left
    lines = books.customer_lines(ECONOMICS, wealth_share, aum, loan, weight)
    assert list(lines) == list(books.LINES)
    bases = {line: np.asarray(base) for line, (_, base) in lines.items()}
    np.testing.assert_allclose(bases["deposit_margin"], [22_500.0, 3_000.0, 0.0])
    np.testing.assert_allclose(bases["wealth_fees"], [2_500.0, 3_000.0, 0.0])
    np.testing.assert_allclose(bases["loan_interest"], [0.0, 900.0, 0.0])
    np.testing.assert_allclose(bases["credit_losses"], [0.0, 900.0, 0.0])
    np.testing.assert_allclose(bases["payment_income"], weight)
    profit = books.customer_profit(lines)
    want = (
        0.001 * bases["deposit_margin"]
        + 0.0005 * bases["wealth_fees"]
        + 0.002 * bases["loan_interest"]
        + 2.0 * weight
        - 0.0005 * bases["credit_losses"]
    )
    np.testing.assert_allclose(profit, want, rtol=1e-12)
    assert profit[2] == 0.0  # a leaver earns nothing
    assert profit[1] == pytest.approx(3.0 + 1.5 + 1.8 + 6.0 - 0.45)


def _fake_model(branches, managers: int, salary: float) -> SimpleNamespace:
    return SimpleNamespace(
        config=SimpleNamespace(economics=ECONOMICS, bank=SimpleNamespace(manager_salary=salary)),
        branches=[SimpleNamespace(cost=cost, is_open=is_open) for cost, is_open in branches],
        managers=[object()] * managers,
        ledger=Ledger(),
    )


def test_the_books_give_each_group_its_own_customers_lines_and_fixed_costs_to_fixed():
    model = _fake_model([(1.2e6, True), (2.4e6, True), (3.6e6, False)], 3, 240_000.0)
    lines = {  # base amounts of the month: (opening book, newcomers)
        "deposit_margin": (1e6, 2e5),
        "wealth_fees": (4e5, 1e5),
        "loan_interest": (3e5, 5e4),
        "payment_income": (100.0, 20.0),
        "credit_losses": (3e5, 5e4),
    }
    books.step(model, lines)
    row = model.books
    assert row["revenue_deposit_margin"] == pytest.approx(1200.0)
    assert row["revenue_wealth_fees"] == pytest.approx(250.0)
    assert row["revenue_loan_interest"] == pytest.approx(700.0)
    assert row["revenue_payment_income"] == pytest.approx(240.0)
    assert row["cost_credit_losses"] == pytest.approx(175.0)
    assert row["cost_branches"] == pytest.approx(300_000.0)  # open branches only, a month
    assert row["cost_staff"] == pytest.approx(60_000.0)
    assert row["profit_opening_book"] == pytest.approx(1000 + 200 + 600 + 200 - 150)
    assert row["profit_newcomers"] == pytest.approx(200 + 50 + 100 + 40 - 25)
    assert row["profit_fixed"] == pytest.approx(-360_000.0)
    assert sum(row[f"profit_{g}"] for g in GROUPS) == pytest.approx(row["profit"], rel=1e-15)
    assert model.ledger.close()["profit"] == 0.0  # the month was closed


def test_the_books_with_nobody_new_give_newcomers_nothing():
    model = _fake_model([(1.2e6, False)], 0, 240_000.0)
    books.step(model, {line: (1000.0, 0.0) for line in books.LINES})
    row = model.books
    assert row["profit_newcomers"] == 0.0
    assert row["profit_fixed"] == 0.0  # no open branch, no staff
    assert row["profit_opening_book"] == pytest.approx(1 + 0.5 + 2 + 2000 - 0.5)


# --------------------------------------------------------------------------------------------
# The model's bookings by customer rows
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(make_config):
    """A small model at the end of burn-in (burn_in=0: its cohort is the opening book)."""
    return BankModel(make_config(customers=300, months=3, burn_in=0))


@pytest.fixture
def model(built):
    """The built model with a new ledger and rows 0-5: 0-2 in the cohort, 3-5 newcomers."""
    c = built.customers
    c.cohort[:6] = [1, 2, 1, 0, 0, 0]
    c.weight[:6] = [1.0, 3.0, 6.0, 2.0, 4.0, 4.0]
    built.ledger = Ledger()
    return built


def _groups(model) -> dict[str, float]:
    row = model.ledger.close()
    return {g: row[f"profit_{g}"] for g in GROUPS} | {"cost": row["cost"]}


def test_a_total_spent_on_customers_is_shared_by_weight_within_each_group(model):
    model.book_share("acquisition", 2000.0, np.arange(6))
    parts = _groups(model)
    assert parts["opening_book"] == pytest.approx(-2000.0 * 10 / 20)
    assert parts["newcomers"] == pytest.approx(-2000.0 * 10 / 20)
    assert parts["fixed"] == 0.0 and parts["cost"] == pytest.approx(2000.0)
    model.book_share("acquisition", 900.0, np.array([3, 4]))  # newcomers only
    assert _groups(model)["newcomers"] == pytest.approx(-900.0)
    model.book_share("acquisition", 900.0, np.array([1, 2]))  # the opening book only
    assert _groups(model)["opening_book"] == pytest.approx(-900.0)


def test_amounts_per_row_go_to_each_rows_group(model):
    model.ledger.open_line("mine.subsidy", "cost")
    model.book_share("mine.subsidy", np.array([10.0, 20.0, 30.0, 1.0, 2.0, 4.0]), np.arange(6))
    parts = _groups(model)
    assert parts["opening_book"] == pytest.approx(-60.0)
    assert parts["newcomers"] == pytest.approx(-7.0)
    assert parts["fixed"] == 0.0
    model.book_share("mine.subsidy", np.array([5.0, 8.0]), slice(2, 4))
    parts = _groups(model)
    assert parts["opening_book"] == pytest.approx(-5.0) and parts["newcomers"] == -8.0


def test_a_total_over_rows_without_weight_goes_to_fixed(model):
    model.customers.weight[3:6] = 0.0
    model.book_share("acquisition", 300.0, np.array([3, 4, 5]))
    parts = _groups(model)
    assert parts == {"opening_book": 0.0, "newcomers": 0.0, "fixed": -300.0, "cost": 300.0}
    model.book_share("acquisition", 300.0, np.array([], np.int64))
    assert _groups(model)["fixed"] == -300.0


def test_a_strategys_line_on_customers_is_paid_by_their_groups_a_programme_by_fixed(model):
    strategy = SimpleNamespace(model=model, name="mine")
    model.ledger.open_line("mine.notice", "cost")
    model.ledger.open_line("mine.programme", "cost")
    from sim.strategies.base import Strategy

    Strategy.book(strategy, "notice", 100.0, np.array([0, 3]))  # weights 1 and 2
    Strategy.book(strategy, "programme", 50.0)
    parts = _groups(model)
    assert parts["opening_book"] == pytest.approx(-100.0 / 3)
    assert parts["newcomers"] == pytest.approx(-200.0 / 3)
    assert parts["fixed"] == -50.0


def test_amounts_per_customer_split_by_cohort_or_by_the_rows_given(model):
    amounts = np.zeros(model.customers.n)
    amounts[:6] = [1.0, 2.0, 3.0, 10.0, 20.0, 40.0]
    model.book_customers("deposit_margin", amounts, rate=0.5)
    parts = _groups(model)
    assert parts["opening_book"] == pytest.approx(3.0) and parts["newcomers"] == 35.0
    model.book_customers("service", amounts, newcomer=np.arange(model.customers.n) >= 5)
    parts = _groups(model)
    assert parts["opening_book"] == pytest.approx(-36.0) and parts["newcomers"] == -40.0


def test_the_lines_of_customers_now_count_leavers_as_nothing(model):
    c = model.customers
    active = c.active.copy()
    lines = books.lines_now(model)
    base = np.asarray(lines["payment_income"][1])
    np.testing.assert_array_equal(base, c.weight * active)
    want = c.aum * model.wealth_share[c.tier] * c.weight * active
    np.testing.assert_allclose(np.asarray(lines["wealth_fees"][1]), want, rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(lines["loan_interest"][1]), c.loan * c.weight * active, rtol=1e-6
    )


# --------------------------------------------------------------------------------------------
# Whole runs
# --------------------------------------------------------------------------------------------

FREE = {  # customers cost nothing to serve or lose, so a group's profit is what it earns
    "bank.visit_cost": 0.0,
    "bank.digital_cost": 0.0,
    "bank.cost_to_serve.account_cost": 0.0,
    "bank.cost_to_serve.contact_cost": 0.0,
    "bank.cost_to_serve.complaint_cost": 0.0,
    "economics.default_rate": 0.0,
    "population.acquisition_cost": 0.0,
    "population.organic_rate": 0.02,
}


def test_each_group_earns_what_its_own_customers_earn(make_config):
    cfg = make_config(FREE, customers=300, months=3, burn_in=0)
    model = BankModel(cfg)
    model.run()
    c = model.customers
    earned = books.customer_profit(books.lines_now(model))
    newcomer = c.cohort == 0
    row = model.books  # the last month's
    assert newcomer[c.active].any() and (~newcomer)[c.active].any()
    assert row["profit_newcomers"] == pytest.approx(float(earned[newcomer].sum()), rel=1e-9)
    assert row["profit_opening_book"] == pytest.approx(float(earned[~newcomer].sum()), rel=1e-9)
    assert row["profit_newcomers"] > 0.0
    assert row["profit_opening_book"] > row["profit_newcomers"]


def test_acquisition_costs_are_paid_by_newcomers_alone(make_config):
    def run(cost: float) -> pd.DataFrame:
        overrides = {"population.organic_rate": 0.02, "population.acquisition_cost": cost}
        return run_scenario(make_config(overrides, customers=300, months=3, burn_in=0)).timeseries

    cheap, dear = run(100.0), run(1100.0)
    new = cheap[[c for c in cheap if c.startswith("new_")]].sum(axis=1)
    assert (new > 0).all()
    np.testing.assert_allclose(cheap["cost_acquisition"], 100.0 * new, rtol=1e-9)
    np.testing.assert_allclose(
        cheap["profit_newcomers"] - dear["profit_newcomers"], 1000.0 * new, rtol=1e-9
    )
    pd.testing.assert_series_equal(cheap["profit_opening_book"], dear["profit_opening_book"])
    pd.testing.assert_series_equal(cheap["profit_fixed"], dear["profit_fixed"])


def test_without_newcomers_the_newcomers_part_is_zero_and_the_parts_add_up(make_config):
    quiet = {"population.organic_rate": 0.0, "behaviour.referral_rate": 0.0}
    result = run_scenario(make_config(quiet, customers=300, months=3, burn_in=0))
    ts, s = result.timeseries, result.summary
    assert (ts[[c for c in ts if c.startswith("new_")]].to_numpy() == 0).all()
    assert (ts["profit_newcomers"] == 0.0).all() and s["npv_newcomers"] == 0.0
    assert (ts["profit_fixed"] == -(ts["cost_branches"] + ts["cost_staff"])).all()
    parts = ts[[f"profit_{g}" for g in GROUPS]].sum(axis=1)
    np.testing.assert_allclose(parts, ts["profit"], rtol=1e-12)
    assert sum(s[f"npv_{g}"] for g in GROUPS) == pytest.approx(s["npv"], rel=1e-12)
