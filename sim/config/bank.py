"""The bank: branches, client managers, channels, and the input files of a bank of one's own;
the default bank's network scaled to another book (:func:`scaled_bank`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sim.config.constants import MAX_CNY, TIERS
from sim.config.population import PopulationConfig
from sim.params import param


@dataclass
class BankDataConfig:
    """Input files of a bank of one's own (CSV or Parquet; docs/bank_data.md). Each is optional:
    an empty path keeps the synthetic default. Relative paths are read from the project folder."""

    branches: str = param(
        "", "file: one row per branch (site, cost, capacity or staff, opening month)", "the bank"
    )
    segments: str = param("", "file: one row per segment (the segment table)", "the bank")
    customers: str = param(
        "", "file: a CRM extract, one row per customer (the opening book)", "the bank"
    )


@dataclass
class CostToServeConfig:
    """What serving a customer costs beyond the channel (docs/model.md, "Cost to serve"): the
    accounts held, a client manager's contacts, complaints, and the extra help a new customer
    needs. Branches and staff stay fixed lines."""

    account_cost: float = param(
        4.0,
        "CNY per product held per month (core system, statements, cards, compliance reviews)",
        "range only: Moebs Services (2013) put a US checking account's yearly cost at US$349,"
        " branch and staff included; without them (fixed lines here) a few CNY a product a month,"
        " 2-8",
        0.0,
        MAX_CNY,
    )
    onboarding: float = param(
        0.5,
        "extra share of a new customer's channel cost (help, questions, know-your-customer)",
        "Reichheld & Sasser (1990): operating costs fall as customers learn how to deal with the"
        " company; range only: 0.2-1 (a new customer costs 1.2-2x to serve)",
        0.0,
        10.0,
    )
    experience_months: float = param(
        12.0,
        "months of tenure in which the onboarding extra falls to 1/e",
        "range only: most of the help is needed in the first year (6-24 months)",
        0.1,
        600.0,
    )
    contact_cost: float = param(
        15.0,
        "CNY per client-manager contact a managed customer needs (calls, materials, events;"
        " the manager's time is the fixed staff line)",
        "synthetic; range only: 5-50",
        0.0,
        MAX_CNY,
    )
    complaint_cost: float = param(
        250.0,
        "CNY per complaint handled",
        "range only: 100-1,000 CNY; UK banks' handling costs run from tens to hundreds of pounds"
        " a case, and the Financial Ombudsman charges several hundred pounds a case it takes",
        0.0,
        MAX_CNY,
    )


@dataclass
class BankConfig:
    """Branches, client managers and channels."""

    branches: int = param(12, "branches", "a mid-sized city bank", 1, 10_000)
    managers: int = param(40, "client managers", "a mid-sized city bank", 0, 100_000)
    city_km: float = param(30.0, "km, side of the square city", "synthetic city", 1.0, 1_000.0)
    branch_cost: float = param(
        3_500_000.0, "CNY per branch per year", "a branch costs 2-5M CNY a year", 0.0, MAX_CNY
    )
    branch_utilisation: float = param(
        0.5,
        "opening visits / capacity of each branch",
        "branches are staffed to their catchment with headroom",
        0.01,
        0.95,
    )
    branch_quality: float = param(
        0.7, "service quality 0-1 at low load", "synthetic bank", 0.0, 1.0
    )
    wait_minutes: float = param(
        8.0, "minutes of wait at 50% utilisation", "synthetic bank", 0.0, 240.0
    )
    visit_cost: float = param(
        60.0, "CNY per branch visit", "branch visit far dearer than digital", 0.0, MAX_CNY
    )
    digital_cost: float = param(
        1.5, "CNY per digital session", "branch visit far dearer than digital", 0.0, MAX_CNY
    )
    digital_quality: float = param(0.6, "digital channel quality 0-1", "synthetic bank", 0.0, 1.0)
    visits_per_month: float = param(
        0.6, "branch visits per month of a branch-only customer", "synthetic bank", 0.0, 30.0
    )
    sessions_per_month: float = param(
        12.0, "digital sessions per month of a digital-only customer", "synthetic bank", 0.0, 300.0
    )
    distance_km: float = param(
        5.0, "km at which convenience falls to 1/e", "distance decay of branch use", 0.01, 1_000.0
    )
    manager_salary: float = param(
        300_000.0, "CNY per manager per year, loaded", "city bank pay, rounded", 0.0, MAX_CNY
    )
    manager_contacts: float = param(
        250.0,
        "customer contacts per manager per month",
        "~12 contacts per working day; at most ~1 a minute of a working month",
        0.0,
        10_000.0,
    )
    manager_quit_rate: float = param(
        0.12, "quits per manager per year", "client manager turnover 10-15%/yr", 0.0, 1.0
    )
    manager_skill: float = param(
        0.6, "mean skill 0-1 of the opening team", "synthetic bank", 0.0, 1.0
    )
    manager_skill_sd: float = param(0.12, "skill 0-1", "synthetic bank", 0.0, 0.5)
    hire_skill: float = param(0.35, "skill 0-1 of a new hire", "synthetic bank", 0.0, 1.0)
    opening_trust: float = param(
        0.9, "trust 0-1 of the opening book in its managers", "established relationships", 0.0, 1.0
    )
    learning_rate: float = param(
        0.015,
        "share of the gap to full skill closed per month",
        "on-the-job learning over a few years",
        0.0,
        1.0,
    )
    trust_months: float = param(
        4.0,
        "months, time constant of trust rebuilding",
        "a new manager needs 6-12 months to rebuild trust; at least 1 (trust moves in monthly"
        " steps, and a shorter time constant would overshoot full trust)",
        1.0,
        120.0,
    )
    follow_manager: float = param(
        0.08,
        "probability that a customer with full trust follows a departing manager (x trust)",
        "SEI 2007: >10% turnover loses client assets",
        0.0,
        1.0,
    )
    managed_tier: str = param(
        "mid", "lowest tier given a client manager", "Chinese practice", choices=TIERS
    )
    cost_to_serve: CostToServeConfig = field(default_factory=lambda: CostToServeConfig())
    data: BankDataConfig = field(default_factory=lambda: BankDataConfig())


def scaled_bank(customers: int) -> dict[str, int | float]:
    """The network of the schema's default bank for a book of ``customers`` simulated customers,
    as scenario keys (``population.customers`` alone changes the book, not the network:
    docs/model.md, section 1.2). Branches and client managers are in proportion to the book
    (rounded, at least one each); each branch's yearly cost is its share of the proportional
    network's, so branch cost per customer is the default bank's even where the count rounds; the
    city's side follows the square root of the branches (rounded to 10 m), so branches per km²,
    and with them the distance to a branch, are the default bank's. Books of a multiple of 5,000
    divide exactly (3 branches and 10 managers per 5,000, at the default branch cost): the
    population presets (``configs/population/``) are such books."""
    bank, book = BankConfig(), PopulationConfig().customers
    branches = max(1, (2 * bank.branches * customers + book) // (2 * book))  # rounded half up
    return {
        "bank.branches": branches,
        "bank.managers": max(1, (2 * bank.managers * customers + book) // (2 * book)),
        "bank.branch_cost": bank.branch_cost * (bank.branches * customers) / (book * branches),
        "bank.city_km": round(bank.city_km * math.sqrt(branches / bank.branches), 2),
    }
