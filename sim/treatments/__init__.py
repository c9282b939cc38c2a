"""Treatments: what a bank does to chosen customers (a call, a fee waiver, a product offer, a
partner perk), as plug-ins (see :mod:`sim.treatments.base`); the ``campaign`` strategy applies one.

Importing this package registers every treatment module listed below.
"""

from sim.treatments import (  # noqa: F401  (importing a module registers its treatment)
    call,
    fee_waiver,
    partner_perk,
    product_offer,
)
from sim.treatments.base import REGISTRY, Costs, Treatment, register

__all__ = ["REGISTRY", "Costs", "Treatment", "register"]
