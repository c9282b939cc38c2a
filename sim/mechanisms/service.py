"""Service (step 4): branch visits and digital sessions; branch load sets waits and service
quality; the month's service cost is booked on the customers served."""

from __future__ import annotations

from sim.customers import masked_sum


def step(model) -> None:
    """Serve this month's branch visits and digital sessions; book their cost."""
    c, bank = model.customers, model.config.bank
    serve(model, model.branch_visits(), masked_sum(c.digital * c.weight, c.active))
    visits = bank.visits_per_month * (1.0 - c.digital) * bank.visit_cost
    sessions = bank.sessions_per_month * c.digital * bank.digital_cost
    model.book_customers("service", (visits + sessions) * c.weight * c.active)


def serve(model, load, digital: float) -> None:
    """Branches serve their real visits ``load`` (by branch index); ``digital`` real customers
    bank digitally."""
    bank = model.config.bank
    for branch in model.branch_list():
        branch.serve(load[branch.index], bank.wait_minutes)
    model.events["visits"] = float(load.sum())
    model.events["sessions"] = digital * bank.sessions_per_month
