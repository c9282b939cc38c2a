"""The ledger (``sim.ledger``): lines are opened once with their kind, bookings add to a line and
to a group, and a month closes into one row whose totals and group parts add up."""

from __future__ import annotations

import numpy as np
import pytest

from sim.ledger import BASE_COST, BASE_REVENUE, GROUPS, Ledger


def test_the_base_lines_are_open_with_their_kinds_and_nothing_booked():
    ledger = Ledger()
    assert GROUPS == ("opening_book", "newcomers", "fixed")
    assert ledger.kinds == {
        **dict.fromkeys(BASE_REVENUE, "revenue"),
        **dict.fromkeys(BASE_COST, "cost"),
    }
    assert "deposit_margin" in BASE_REVENUE and "acquisition" in BASE_COST
    row = ledger.close()
    assert row["revenue"] == row["cost"] == row["profit"] == 0.0
    assert all(row[f"profit_{g}"] == 0.0 for g in GROUPS)


@pytest.mark.parametrize("line", ["staff", "deposit_margin", "mine.perks"])
def test_a_line_opened_twice_is_refused_and_keeps_its_kind_and_amount(line):
    ledger = Ledger()
    if line not in ledger.kinds:
        ledger.open_line(line, "cost")
    kind = ledger.kinds[line]
    ledger.book(line, 100.0)
    other = "revenue" if kind == "cost" else "cost"
    for again in (kind, other):
        with pytest.raises(ValueError, match=f"ledger line '{line}' is already open"):
            ledger.open_line(line, again)
    assert ledger.kinds[line] == kind
    row = ledger.close()
    assert row[f"{kind}_{line}"] == 100.0
    assert f"{other}_{line}" not in row
    assert row["profit"] == (100.0 if kind == "revenue" else -100.0)


@pytest.mark.parametrize("kind", ["income", "Revenue", "", "costs"])
def test_a_line_of_another_kind_is_refused(kind):
    ledger = Ledger()
    with pytest.raises(ValueError, match="allowed 'revenue' or 'cost'"):
        ledger.open_line("mine.thing", kind)
    assert "mine.thing" not in ledger.kinds
    assert not any("mine.thing" in column for column in ledger.close())


def test_both_kinds_are_allowed_for_new_lines():
    ledger = Ledger()
    ledger.open_line("mine.fees", "revenue")
    ledger.open_line("mine.gifts", "cost")
    ledger.book("mine.fees", 30.0, "newcomers")
    ledger.book("mine.gifts", 12.0, "opening_book")
    row = ledger.close()
    assert row["revenue_mine.fees"] == 30.0 and row["cost_mine.gifts"] == 12.0
    assert row["revenue"] == 30.0 and row["cost"] == 12.0 and row["profit"] == 18.0
    assert row["profit_newcomers"] == 30.0 and row["profit_opening_book"] == -12.0
    assert row["profit_fixed"] == 0.0


def test_a_booking_on_a_line_not_open_or_a_group_not_known_is_refused_booking_nothing():
    ledger = Ledger()
    with pytest.raises(KeyError):
        ledger.book("nonsense", 5.0)
    with pytest.raises(KeyError):
        ledger.book("staff", 5.0, "everyone")
    row = ledger.close()
    assert row["cost_staff"] == 0.0 and row["profit"] == 0.0
    assert all(row[f"profit_{g}"] == 0.0 for g in GROUPS)
    assert "cost_nonsense" not in row and "revenue_nonsense" not in row


def test_revenue_adds_to_profit_and_cost_takes_from_it_line_by_line_and_group_by_group():
    ledger = Ledger()
    ledger.book("deposit_margin", 1000.0, "opening_book")
    ledger.book("deposit_margin", 250.0, "newcomers")
    ledger.book("payment_income", 40.0, "newcomers")
    ledger.book("credit_losses", 30.0, "opening_book")
    ledger.book("acquisition", 500.0, "newcomers")
    ledger.book("staff", 300.0)  # the fixed group by default
    ledger.book("branches", 200.0, "fixed")
    row = ledger.close()
    assert row["revenue_deposit_margin"] == 1250.0
    assert row["revenue_payment_income"] == 40.0
    assert row["cost_credit_losses"] == 30.0 and row["cost_acquisition"] == 500.0
    assert row["cost_staff"] == 300.0 and row["cost_branches"] == 200.0
    assert row["revenue"] == 1290.0
    assert row["cost"] == 1030.0
    assert row["profit"] == 260.0
    assert row["profit_opening_book"] == 970.0
    assert row["profit_newcomers"] == -210.0
    assert row["profit_fixed"] == -500.0
    assert sum(row[f"profit_{g}"] for g in GROUPS) == row["profit"]


def test_bookings_on_one_line_accumulate_within_the_month():
    ledger = Ledger()
    for amount in (1.5, 2.5, np.float32(3.0), np.float64(4.0)):
        ledger.book("wealth_fees", amount, "opening_book")
    row = ledger.close()
    assert row["revenue_wealth_fees"] == 11.0 and row["profit_opening_book"] == 11.0
    assert all(type(v) is float for v in row.values())


def test_a_closed_month_starts_the_next_from_nothing():
    ledger = Ledger()
    ledger.open_line("mine.perks", "cost")
    ledger.book("mine.perks", 7.0, "opening_book")
    ledger.book("loan_interest", 9.0, "newcomers")
    first = ledger.close()
    assert first["profit"] == 2.0
    second = ledger.close()
    assert set(second) == set(first)
    assert all(value == 0.0 for value in second.values())
    ledger.book("mine.perks", 1.0)
    third = ledger.close()
    assert third["cost_mine.perks"] == 1.0 and third["profit_fixed"] == -1.0
    assert third["profit_opening_book"] == 0.0 and third["revenue_loan_interest"] == 0.0


def test_the_row_has_one_column_per_line_then_the_totals_and_the_groups():
    ledger = Ledger()
    ledger.open_line("mine.perks", "cost")
    row = ledger.close()
    lines = [f"revenue_{line}" for line in BASE_REVENUE] + [f"cost_{line}" for line in BASE_COST]
    assert list(row) == [
        *lines,
        "cost_mine.perks",
        "revenue",
        "cost",
        "profit",
        *(f"profit_{g}" for g in GROUPS),
    ]
