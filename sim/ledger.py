"""Monthly profit and loss by line item.

Each line is a revenue or a cost; strategies open their own cost lines. ``close`` turns the month's
bookings into one row: ``revenue_<line>`` and ``cost_<line>`` columns, their totals and profit,
so that profit = revenue - cost holds line by line. Every booking also belongs to a *group*:
the opening book (customers active when burn-in ends), newcomers (who joined later) or fixed
(bank-level lines such as branches, staff and strategy programmes); ``profit_<group>`` columns
split the month's profit among them and add up to it.
"""

from __future__ import annotations

BASE_REVENUE = ("deposit_margin", "wealth_fees", "loan_interest", "payment_income")
BASE_COST = ("credit_losses", "branches", "staff", "service", "acquisition")
GROUPS = ("opening_book", "newcomers", "fixed")


class Ledger:
    def __init__(self) -> None:
        self.kinds: dict[str, str] = {}
        self.month: dict[str, float] = {}
        self.groups = dict.fromkeys(GROUPS, 0.0)
        for line in BASE_REVENUE:
            self.open_line(line, "revenue")
        for line in BASE_COST:
            self.open_line(line, "cost")

    def open_line(self, line: str, kind: str) -> None:
        if kind not in ("revenue", "cost"):
            raise ValueError(f"ledger line kind {kind!r}; allowed 'revenue' or 'cost'")
        if line in self.kinds:
            raise ValueError(f"ledger line {line!r} is already open")
        self.kinds[line] = kind
        self.month[line] = 0.0

    def book(self, line: str, amount: float, group: str = "fixed") -> None:
        """Add an amount (CNY, positive) to this month's line, on behalf of a group (KeyError
        for a line not open or a group not in ``GROUPS``, booking nothing)."""
        sign = 1.0 if self.kinds[line] == "revenue" else -1.0
        self.groups[group] += sign * float(amount)
        self.month[line] += float(amount)

    def close(self) -> dict[str, float]:
        """This month's row, then start a new month."""
        row = {f"{kind}_{line}": self.month[line] for line, kind in self.kinds.items()}
        row["revenue"] = sum(v for line, v in self.month.items() if self.kinds[line] == "revenue")
        row["cost"] = sum(v for line, v in self.month.items() if self.kinds[line] == "cost")
        row["profit"] = row["revenue"] - row["cost"]
        row |= {f"profit_{group}": value for group, value in self.groups.items()}
        self.month = dict.fromkeys(self.kinds, 0.0)
        self.groups = dict.fromkeys(GROUPS, 0.0)
        return row
