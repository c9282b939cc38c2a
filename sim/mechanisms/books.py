"""Books (step 11): the month's revenue and cost lines, each split between the opening book and
newcomers row by row; branches and staff are fixed."""

from __future__ import annotations

import numpy as np

from sim.ledger import BASE_COST


def customer_lines(economics, wealth_share, aum, loan, weight) -> dict[str, tuple[float, object]]:
    """What customers earn the bank in a month, line by line: line -> (monthly rate, base per row
    in CNY), the line's amount being rate x base. ``wealth_share``: each row's share of AUM in
    wealth products; ``weight``: real customers per row (0 for those who left)."""
    e = economics
    wealth = aum * wealth_share * weight
    loans = loan * weight
    return {
        "deposit_margin": (e.deposit_margin / 12.0, aum * weight - wealth),
        "wealth_fees": (e.wealth_fee / 12.0, wealth),
        "loan_interest": (e.loan_margin / 12.0, loans),
        "payment_income": (e.payment_income, weight),
        "credit_losses": (e.default_rate / 12.0 * e.loss_given_default, loans),
    }


def customer_profit(lines: dict[str, tuple[float, object]]) -> np.ndarray:
    """Each row's monthly profit (CNY) from its ``customer_lines``: revenue less credit losses."""
    return sum(
        (-rate if line in BASE_COST else rate) * np.asarray(base, np.float64)
        for line, (rate, base) in lines.items()
    )


def lines_now(model) -> dict[str, tuple[float, object]]:
    """The ``customer_lines`` of the model's customers as they are now (leavers count 0)."""
    c = model.customers
    return customer_lines(
        model.config.economics, model.wealth_share[c.tier], c.aum, c.loan, c.weight * c.active
    )


def step(model) -> None:
    """Book the month's customer revenue and credit losses, branches and staff; close it."""
    c, bank = model.customers, model.config.bank
    newcomer = c.cohort == 0
    for line, (rate, base) in lines_now(model).items():
        model.book_customers(line, base, newcomer, rate)
    model.ledger.book("branches", sum(b.cost for b in model.branches if b.is_open) / 12.0)
    model.ledger.book("staff", len(model.managers) * bank.manager_salary / 12.0)
    model.books = model.ledger.close()
