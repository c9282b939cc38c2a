"""Strategies: the retention playbook as plug-in policies (see :mod:`sim.strategies.base`).

Importing this package registers every strategy module listed below.
"""

from sim.strategies import (  # noqa: F401  (importing a module registers its strategy)
    branch_experience,
    campaign,
    digital_scenario,
    follow_up,
    lean_service,
    mentoring,
    outlet_closure,
    partner_promotion,
    product_innovation,
    training,
)
from sim.strategies.base import (
    REGISTRY,
    Strategy,
    StrategyConfig,
    register,
    strategy_config,
    title,
)

__all__ = [
    "REGISTRY",
    "Strategy",
    "StrategyConfig",
    "register",
    "strategy_config",
    "title",
]
