"""Service (step 4): branch visits and digital sessions; branch load sets waits and service
quality; the month's service cost is booked on the customers served."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from sim.compiled import F1, formula

if TYPE_CHECKING:
    from sim.model import BankModel

f32 = np.float32


class Params(NamedTuple):
    """This month's service parameters, as the customer pass reads them."""

    visits: np.float32  # branch visits a month of a branch customer
    visit_cost: np.float32  # CNY a visit
    sessions: np.float32  # digital sessions a month of a digital customer
    digital_cost: np.float32  # CNY a session


def params(model: BankModel) -> Params:
    bank = model.config.bank
    return Params(
        f32(bank.visits_per_month),
        f32(bank.visit_cost),
        f32(bank.sessions_per_month),
        f32(bank.digital_cost),
    )


@formula
def visits(per_month, digital, weight):
    """Real branch visits a month of a customer, or of each row (float32 ``per_month``: visits
    a month of a branch customer): the branch share of their banking."""
    return per_month * (F1 - digital) * weight


@formula
def cost(p, digital, weight):
    """This month's cost of serving a customer (CNY, real customers): branch visits by the
    branch share of their banking, digital sessions by the digital share."""
    return (
        p.visits * (F1 - digital) * p.visit_cost + p.sessions * digital * p.digital_cost
    ) * weight


def serve(model: BankModel, load, digital: float) -> None:
    """Branches serve their real visits ``load`` (by branch index); ``digital`` real customers
    bank digitally."""
    bank = model.config.bank
    for branch in model.branch_list():
        branch.serve(load[branch.index], bank.wait_minutes)
    model.events["visits"] = float(load.sum())
    model.events["sessions"] = digital * bank.sessions_per_month
