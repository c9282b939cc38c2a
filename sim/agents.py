"""Mesa agents with identity: branches, client managers, partners and competitors.

They are few (tens), so they are ordinary Mesa agents in AgentSets; the model turns their state
into small arrays when the vectorised customer step needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

if TYPE_CHECKING:
    from sim.config import CompetitorConfig, PartnerConfig
    from sim.model import BankModel


class Branch(mesa.Agent):
    """A branch: site, open or closed, capacity, cost, and service that degrades with load."""

    def __init__(
        self,
        model: BankModel,
        index: int,
        x: float,
        y: float,
        cost: float,
        quality: float,
        label: str = "",
    ):
        super().__init__(model)
        self.index, self.x, self.y = index, float(x), float(y)
        self.label = label or str(index)  # the bank's own id of the branch (its branch file's)
        self.is_open = True
        self.opened = model.month  # 0 for the bank's own branches
        self.closed = 0  # month it closed, 0 while open
        self.capacity = 1.0  # visits per month; the model sizes it to the opening catchment
        self.cost = cost  # CNY per year
        self.base_quality = quality
        self.quality_bonus = 0.0  # lever: experience redesign, on-site service manager
        self.wait_factor = 1.0  # lever: < 1 shortens waits
        self.visits = self.utilisation = self.wait = 0.0
        self.quality = quality

    def serve(self, visits: float, wait_minutes: float) -> None:
        """Set this month's load, wait (minutes) and service quality (0-1) from its visits."""
        self.visits = visits
        self.utilisation = min(visits / self.capacity, 0.95)
        u = self.utilisation
        self.wait = wait_minutes * self.wait_factor * u / (1.0 - u)
        quality = self.base_quality * 60.0 / (60.0 + self.wait) + self.quality_bonus
        self.quality = min(max(quality, 0.0), 1.0)


class ContactBudget:
    """One manager's contact time for the month, in real customer contacts, owned in one place.

    Every use draws on it in the order the month runs: training hours and mentoring hours (the
    strategies, before customers), a follow-up programme's reserved share, then regular service
    (staffing, richer tiers first); follow-up may also spend what was left idle last month. A draw
    never takes more than is left, so the contacts used never exceed the budget.
    """

    def __init__(self, total: float):
        self.used: dict[str, float]  # contacts drawn this month by use
        self.total, self.used, self.idle = 0.0, {}, 0.0
        self.reset(total)

    def reset(self, total: float) -> None:
        """Start a new month with ``total`` contacts; what was not used last month is ``idle``."""
        self.idle = self.left if self.used else 0.0
        self.total, self.used = float(total), {}

    @property
    def left(self) -> float:
        return max(self.total - sum(self.used.values()), 0.0)

    def draw(self, use: str, amount: float) -> float:
        """Take up to ``amount`` contacts for ``use``; returns what was granted."""
        granted = min(max(float(amount), 0.0), self.left)
        self.used[use] = self.used.get(use, 0.0) + granted
        return granted

    def hours(self, hours: float) -> float:
        """Contacts that ``hours`` of working time would have made (``WORKING_HOURS`` a month)."""
        return hours * self.total / WORKING_HOURS


WORKING_HOURS = 170.0  # per manager per month


class Manager(mesa.Agent):
    """A client manager at a desk. When one quits, a new hire takes the same desk."""

    def __init__(self, model: BankModel, desk: int, branch: int, skill: float, contacts: float):
        super().__init__(model)
        self.desk, self.branch = desk, branch
        self.skill = float(skill)
        self.budget = ContactBudget(contacts)  # customer contacts this month and their uses
        self.learning_multiplier = 1.0  # lever: mentoring, training
        self.quit_multiplier = 1.0  # lever: mentoring
        self.coaching = 0.0  # lever: skill customers see on top of own skill (joint visits)

    @property
    def served_skill(self) -> float:
        """The skill the desk's customers see this month: own skill plus coaching, at most 1."""
        return min(self.skill + self.coaching, 1.0)

    def learn(self, rate: float) -> None:
        """Close a share of the gap to full skill."""
        self.skill += rate * self.learning_multiplier * (1.0 - self.skill)


class Partner(mesa.Agent):
    """A partner business (supermarket, travel, renovation, rural cooperative)."""

    def __init__(self, model: BankModel, name: str, config: PartnerConfig):
        super().__init__(model)
        self.name, self.config = name, config
        self.active = False  # a strategy switches it on


class Competitor(mesa.Agent):
    """A rival whose pull drifts with a trend and mean-reverting noise."""

    def __init__(self, model: BankModel, name: str, config: CompetitorConfig):
        super().__init__(model)
        self.name, self.config = name, config
        self.pull = config.pull

    def step(self) -> None:
        c, month = self.config, self.model.month
        target = c.pull + c.trend * month / 12.0
        z = self.model.streams.generator(f"competitor:{self.name}", month).standard_normal()
        self.pull = max(0.0, self.pull + 0.2 * (target - self.pull) + c.volatility * z)

    def by_tier(self) -> np.ndarray:
        """This month's pull by tier before the digital tilt (float32)."""
        return (self.pull + self.config.tier_tilt * np.arange(4)).astype(np.float32)
