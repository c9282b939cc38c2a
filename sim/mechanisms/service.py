"""Service (step 4): branch visits and digital sessions; branch load sets waits and service
quality; the month's cost of serving each customer is booked on the customers served."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from sim.compiled import F0, F1, formula

if TYPE_CHECKING:
    from sim.model import BankModel

f32 = np.float32


class Params(NamedTuple):
    """This month's service parameters, as the customer pass reads them."""

    visits: np.float32  # branch visits a month of a branch customer
    visit_cost: np.float32  # CNY a visit
    sessions: np.float32  # digital sessions a month of a digital customer
    digital_cost: np.float32  # CNY a session
    account_cost: np.float32  # CNY a product held, a month
    onboarding: np.float32  # a new customer's extra share of channel cost
    experience_months: np.float32  # tenure at which that extra falls to 1/e
    contact_cost: np.float32  # CNY a client-manager contact
    complaint_cost: np.float32  # CNY a complaint
    need: np.ndarray  # contacts a month a managed customer needs, by tier (float32)


def params(model: BankModel) -> Params:
    bank, serving = model.config.bank, model.config.bank.cost_to_serve
    return Params(
        f32(bank.visits_per_month),
        f32(bank.visit_cost),
        f32(bank.sessions_per_month),
        f32(bank.digital_cost),
        f32(serving.account_cost),
        f32(serving.onboarding),
        f32(serving.experience_months),
        f32(serving.contact_cost),
        f32(serving.complaint_cost),
        np.asarray(model.contact_need, np.float32),
    )


@formula
def visits(per_month, digital, weight):
    """Real branch visits a month of a customer, or of each row (float32 ``per_month``: visits
    a month of a branch customer): the branch share of their banking."""
    return per_month * (F1 - digital) * weight


@formula
def cost(p, digital, weight, products, tenure, tier, managed):
    """This month's cost of serving a customer, or each row (CNY, real customers), complaints
    aside: branch visits by the branch share of their banking and digital sessions by the digital
    share, the more in the first months of tenure (onboarding), plus each product's upkeep and,
    for a managed customer (``managed`` 1, else 0), the client-manager contacts their tier needs."""
    channel = p.visits * (F1 - digital) * p.visit_cost + p.sessions * digital * p.digital_cost
    help_needed = F1 + p.onboarding * np.exp(-np.maximum(tenure, F0) / p.experience_months)
    contacts = p.contact_cost * p.need[tier] * managed
    return (channel * help_needed + p.account_cost * products + contacts) * weight


def cost_now(model: BankModel) -> np.ndarray:
    """Each row's cost to serve this month (CNY, :func:`cost`; leavers 0): the one cost the
    customer pass books, on the customers as they are now."""
    c = model.customers
    return cost(
        params(model),
        c.digital,
        c.weight * c.active,
        c.products.astype(np.float32),
        (model.month - c.joined).astype(np.float32),
        c.tier,
        (c.manager >= 0).astype(np.float32),
    )


def serve(model: BankModel, load, digital: float) -> None:
    """Branches serve their real visits ``load`` (by branch index); ``digital`` real customers
    bank digitally."""
    bank = model.config.bank
    for branch in model.branch_list():
        branch.serve(load[branch.index], bank.wait_minutes)
    model.events["visits"] = float(load.sum())
    model.events["sessions"] = digital * bank.sessions_per_month
