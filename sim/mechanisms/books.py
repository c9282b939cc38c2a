"""Books (step 11): the month's revenue and cost lines, each split between the opening book and
newcomers row by row; branches and staff are fixed."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numpy as np

from sim.compiled import formula
from sim.ledger import BASE_COST

if TYPE_CHECKING:
    from sim.model import BankModel

LINES = ("deposit_margin", "wealth_fees", "loan_interest", "payment_income", "credit_losses")
type Lines = dict[str, tuple[float, np.ndarray]]
"""Customer lines: line -> (monthly rate, base per row in CNY) (:func:`customer_lines`)."""


def line_rates(economics) -> dict[str, float]:
    """Each customer line's monthly rate: the line's amount is rate x its base."""
    e = economics
    return {
        "deposit_margin": e.deposit_margin / 12.0,
        "wealth_fees": e.wealth_fee / 12.0,
        "loan_interest": e.loan_margin / 12.0,
        "payment_income": e.payment_income,
        "credit_losses": e.default_rate / 12.0 * e.loss_given_default,
    }


@formula
def bases(wealth_share, aum, loan, weight):
    """Each line's base (CNY, in the order of LINES) of a customer or of each row: deposits,
    wealth products, loans (twice: interest and credit losses) and the customers themselves."""
    wealth = aum * wealth_share * weight
    loans = loan * weight
    return aum * weight - wealth, wealth, loans, weight, loans


def customer_lines(economics, wealth_share, aum, loan, weight) -> Lines:
    """What customers earn the bank in a month, line by line: line -> (monthly rate, base per row
    in CNY), the line's amount being rate x base. ``wealth_share``: each row's share of AUM in
    wealth products; ``weight``: real customers per row (0 for those who left)."""
    amounts = bases(wealth_share, aum, loan, weight)
    rates = line_rates(economics)
    return {line: (rates[line], base) for line, base in zip(LINES, amounts, strict=True)}


def signed_rates(economics) -> np.ndarray:
    """Each line's monthly rate in the order of LINES, costs (credit losses) negative: a
    customer's monthly profit is the sum of these times :func:`bases`."""
    return np.array([-r if line in BASE_COST else r for line, r in line_rates(economics).items()])


def customer_profit(lines: Lines) -> np.ndarray:
    """Each row's monthly profit (CNY) from its ``customer_lines``: revenue less credit losses."""
    profit = sum(
        (-rate if line in BASE_COST else rate) * np.asarray(base, np.float64)
        for line, (rate, base) in lines.items()
    )
    return cast(np.ndarray, profit)  # an array: there are lines


def lines_now(model: BankModel) -> Lines:
    """The ``customer_lines`` of the model's customers as they are now (leavers count 0)."""
    c = model.customers
    return customer_lines(
        model.config.economics, model.wealth_share[c.tier], c.aum, c.loan, c.weight * c.active
    )


def step(model: BankModel, lines: dict[str, tuple[float, float]]) -> None:
    """Book the month's customer revenue and credit losses (``lines``: each line's base amounts
    of the opening book and of newcomers, :class:`sim.metrics.Tally`), branches and staff;
    close the month."""
    bank, rates = model.config.bank, line_rates(model.config.economics)
    for line, (opening, newcomers) in lines.items():
        model.ledger.book(line, rates[line] * opening, "opening_book")
        model.ledger.book(line, rates[line] * newcomers, "newcomers")
    model.ledger.book("branches", sum(b.cost for b in model.branches if b.is_open) / 12.0)
    model.ledger.book("staff", len(model.managers) * bank.manager_salary / 12.0)
    model.books = model.ledger.close()
