"""Mentoring of junior client managers by senior ones (playbook item 4: 师徒制).

Every month it is active, managers below ``junior_skill`` (new hires start at ``bank.hire_skill``)
are paired, least skilled first, with the most skilled managers at or above ``senior_skill``, at
most ``ratio`` mentees each. A pair lasts ``months`` (then the mentee graduates) or until a side
quits; freed slots go to waiting juniors, so new hires are paired the month after they arrive.
Mentees learn faster (x (1 + ``learning_boost``)); each mentor gives ``mentor_hours`` a month per
mentee out of its contact budget (``Manager.budget``), so its own customers get fewer regular
contacts; as mentors are evaluated on mentee progress, both quit less, the more so the more skill
the mentee has gained since pairing (Eby et al. 2013: mentoring's effects are mostly on the
mentee's satisfaction and retention). While paired, the mentor joins the mentee's key client
meetings, so the mentee's customers see its skill plus ``joint_visits`` of the gap to the mentor's
(``Manager.coaching``). For customers this works through their manager: a mentee's
faster-rising skill lifts its customers' attention, and fewer quits mean fewer manager changes
(trust reset, the manager-change hazard, customers following a leaver out), which matter most to
mid- and high-end customers (``behaviour.relationship``).
Cost: a stipend per pair and month, plus the contact time given up.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.config import MAX_CNY
from sim.params import ConfigError, param
from sim.strategies.base import Strategy, StrategyConfig, register

if TYPE_CHECKING:
    from sim.config import Config as ModelConfig
    from sim.model import BankModel


@dataclass
class MentoringConfig(StrategyConfig):
    ratio: int = param(
        2,
        "mentees per mentor, at most",
        "synthetic; 师徒制 pairs one master with one to three apprentices",
        1,
        10,
    )
    junior_skill: float = param(
        0.5,
        "skill 0-1 below which a manager is a junior who gets a mentor",
        "synthetic; between bank.hire_skill 0.35 and the team mean 0.6",
        0.0,
        1.0,
    )
    senior_skill: float = param(
        0.7,
        "skill 0-1 a manager needs to mentor (the most skilled mentor first)",
        "synthetic; about the team's best fifth (mean 0.6, sd 0.12)",
        0.0,
        1.0,
    )
    months: int = param(
        12,
        "months a pairing lasts before the mentee graduates",
        "synthetic; 师徒 agreements usually run for a year",
        1,
        120,
    )
    learning_boost: float = param(
        0.5,
        "extra learning rate of a mentee (learning multiplier x (1 + boost))",
        "synthetic; Eby et al. 2013: mentoring's effect on performance is modest, "
        "below training's d ~ 0.6",
        0.0,
        5.0,
    )
    mentor_hours: float = param(
        8.0,
        "hours a month a mentor gives each mentee, out of its contact budget",
        "synthetic; about 2 hours a week per apprentice (of 170 working hours a month)",
        0.0,
        85.0,
    )
    joint_visits: float = param(
        0.3,
        "share of the skill gap to the mentor that the mentee's customers see while paired",
        "synthetic; 师徒制 practice: the master joins the apprentice's key client meetings",
        0.0,
        1.0,
    )
    quit_reduction: float = param(
        0.1,
        "share of the quit probability removed for mentor and mentee while paired",
        "synthetic; Eby et al. 2013: mentoring lowers turnover intentions",
        0.0,
        1.0,
    )
    progress_quit_reduction: float = param(
        2.0,
        "further share of the quit probability removed per unit of the mentee's skill gain "
        "since pairing (mentor: mean over its mentees); total capped at 1",
        "synthetic; mentor evaluation tied to mentee progress",
        0.0,
        20.0,
    )
    stipend: float = param(
        1_000.0,
        "CNY per mentor-mentee pair per month",
        "synthetic; 师徒制 allowances of a few hundred to ~2,000 CNY a month",
        0.0,
        MAX_CNY,
    )


@dataclass
class Pair:
    """One mentee's pairing: the mentor's agent id, and the mentee's skill and month at pairing."""

    mentor: int
    skill0: float
    since: int


@register
class Mentoring(Strategy[MentoringConfig]):
    """Mentoring: juniors learn faster and quit less, mentors give contacts, stipend per pair."""

    name = "mentoring"
    title = "Mentoring"
    Config = MentoringConfig
    cost_lines = ("stipends",)

    def __init__(self, model: BankModel, config: MentoringConfig):
        super().__init__(model, config)
        self.pairs: dict[int, Pair] = {}  # mentee's agent id -> pairing
        self.graduated: set[int] = set()  # agent ids of mentees whose pairing ran its course

    @classmethod
    def check(cls, config: MentoringConfig, scenario: ModelConfig) -> None:
        super().check(config, scenario)
        if config.senior_skill <= config.junior_skill:
            raise ConfigError(
                f"strategy.mentoring.senior_skill={config.senior_skill:g} must be above "
                f"junior_skill={config.junior_skill:g} (a manager cannot mentor while a junior)"
            )
        if scenario.bank.managers < 2:
            raise ConfigError(
                f"strategy.mentoring needs at least 2 client managers; "
                f"bank.managers={scenario.bank.managers}"
            )

    def reduction(self, gain: float) -> float:
        """Share of the quit probability removed for a pair member, given the mentee's gain."""
        cfg = self.config
        return min(cfg.quit_reduction + cfg.progress_quit_reduction * max(gain, 0.0), 1.0)

    def repair(self, month: int) -> dict:
        """End pairs that ran their course or lost a side; give free slots to waiting juniors.

        Returns the current managers by agent id."""
        cfg = self.config
        desks = self.model.desk_list()
        by_id = {m.unique_id: m for m in desks}
        self.graduated |= {m for m, p in self.pairs.items() if month - p.since >= cfg.months}
        self.pairs = {
            mentee: pair
            for mentee, pair in self.pairs.items()
            if mentee in by_id and pair.mentor in by_id and mentee not in self.graduated
        }
        load: defaultdict[int, int] = defaultdict(int)  # mentor's agent id -> mentees
        for pair in self.pairs.values():
            load[pair.mentor] += 1
        seniors = sorted(
            (m for m in desks if m.skill >= cfg.senior_skill), key=lambda m: (-m.skill, m.desk)
        )
        juniors = sorted(
            (
                m
                for m in desks
                if m.skill < cfg.junior_skill
                and m.unique_id not in self.pairs
                and m.unique_id not in self.graduated
            ),
            key=lambda m: (m.skill, m.desk),
        )
        for junior in juniors:
            mentor = next((s for s in seniors if load[s.unique_id] < cfg.ratio), None)
            if mentor is None:
                break
            self.pairs[junior.unique_id] = Pair(mentor.unique_id, junior.skill, month)
            load[mentor.unique_id] += 1
        return by_id

    def before_customers(self, month: int) -> None:
        cfg = self.config
        by_id = self.repair(month)
        gains = defaultdict(list)  # mentor id -> its mentees' skill gains since pairing
        for mentee_id, pair in self.pairs.items():
            mentee = by_id[mentee_id]
            gain = mentee.skill - pair.skill0
            gains[pair.mentor].append(gain)
            mentee.learning_multiplier *= 1.0 + cfg.learning_boost
            mentee.quit_multiplier *= 1.0 - self.reduction(gain)
            mentor = by_id[pair.mentor]
            mentee.coaching += cfg.joint_visits * max(mentor.skill - mentee.skill, 0.0)
        for mentor_id, mentee_gains in gains.items():
            mentor = by_id[mentor_id]
            hours = cfg.mentor_hours * len(mentee_gains)
            mentor.budget.draw("mentoring", mentor.budget.hours(hours))
            mentor.quit_multiplier *= 1.0 - self.reduction(sum(mentee_gains) / len(mentee_gains))
        self.book("stipends", len(self.pairs) * cfg.stipend)

    def mentor_desks(self) -> list[int]:
        """Desks of the current mentors (after this month's pairing)."""
        by_id = {m.unique_id: m.desk for m in self.model.managers}
        return sorted({by_id[p.mentor] for p in self.pairs.values() if p.mentor in by_id})

    def mentee_desks(self) -> list[int]:
        """Desks of the current mentees (after this month's pairing)."""
        by_id = {m.unique_id: m.desk for m in self.model.managers}
        return sorted(by_id[mentee] for mentee in self.pairs if mentee in by_id)
