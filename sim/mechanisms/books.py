"""Books (step 11): the month's revenue and cost lines, each split between the opening book and
newcomers row by row; branches and staff are fixed."""

from __future__ import annotations


def step(model) -> None:
    """Book the month's customer revenue and credit losses, branches and staff; close it."""
    c, e, bank = model.customers, model.config.economics, model.config.bank
    weight = c.weight * c.active
    wealth = c.aum * model.wealth_share[c.tier] * weight
    newcomer = c.cohort == 0
    books = {
        "deposit_margin": (e.deposit_margin / 12.0, c.aum * weight - wealth),
        "wealth_fees": (e.wealth_fee / 12.0, wealth),
        "loan_interest": (e.loan_margin / 12.0, c.loan * weight),
        "payment_income": (e.payment_income, weight),
    }
    loans = books["loan_interest"][1]
    books["credit_losses"] = (e.default_rate / 12.0 * e.loss_given_default, loans)
    for line, (rate, base) in books.items():
        model.book_customers(line, base, newcomer, rate)
    model.ledger.book("branches", sum(b.cost for b in model.branches if b.is_open) / 12.0)
    model.ledger.book("staff", len(model.managers) * bank.manager_salary / 12.0)
    model.books = model.ledger.close()
