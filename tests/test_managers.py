"""Client managers who matter: one contact budget per manager, conserved across its uses, and a
relationship channel (attention: coverage x skill x trust) that moves mid- and high-end
customers' switching by points, not hundredths; paired on the same seeds (common random numbers).
"""

import numpy as np
import pytest

from sim.agents import ContactBudget
from sim.api import run_scenario
from sim.model import BankModel

SEEDS = range(3)
ALL = {"training": {}, "mentoring": {}, "follow_up": {}}


def test_a_budget_never_gives_more_than_it_has():
    budget = ContactBudget(100.0)
    assert budget.draw("training", 30.0) == 30.0
    assert budget.draw("service", 90.0) == pytest.approx(70.0)
    assert budget.draw("follow_up", 5.0) == 0.0 and budget.left == 0.0
    budget.reset(100.0)
    assert budget.idle == 0.0 and budget.left == 100.0
    budget.draw("service", 60.0)
    budget.reset(100.0)
    assert budget.idle == pytest.approx(40.0)  # what follow-up may spend next month
    assert budget.hours(17.0) == pytest.approx(10.0)  # 170 working hours a month


@pytest.mark.parametrize("customers", [4000, 20_000])
def test_budget_is_conserved_across_every_use(make_config, customers):
    cfg = make_config(customers=customers, months=12, strategy=ALL)
    model = BankModel(cfg)
    uses = set()
    for _ in range(cfg.burn_in + cfg.months):
        model.step()
        for m in model.managers:
            used = sum(m.budget.used.values())
            assert used <= m.budget.total * (1 + 1e-9)
            assert m.budget.left == pytest.approx(m.budget.total - used, abs=1e-6)
            uses |= {k for k, v in m.budget.used.items() if v > 0}
    assert uses == {"service", "training", "mentoring", "follow_up"}
    assert not hasattr(model, "spare_contacts")


def test_training_hours_reduce_the_months_contacts(make_config):
    size, no_hires = {"customers": 20_000, "months": 3}, {"bank.manager_quit_rate": 0.0}
    base = BankModel(make_config(no_hires, **size))
    training = {"training": {"hours": 240.0}}
    trained = BankModel(make_config(no_hires, **size, strategy=training))
    for _ in range(base.config.burn_in + 1):
        base.step(), trained.step()
    total = base.config.bank.manager_contacts
    for b, t in zip(base.desk_list(), trained.desk_list(), strict=True):
        hours = (240.0 + 12.0) / 12.0
        assert t.budget.used["training"] == pytest.approx(total * hours / 170.0)
        assert t.budget.used["service"] <= b.budget.used["service"] + 1e-6
    service = [sum(m.budget.used["service"] for m in x.managers) for x in (base, trained)]
    assert service[1] < service[0] - 0.05 * total * len(base.managers)  # full desks lose contacts


def test_a_well_run_relationship_keeps_points_more_of_mid_and_high(make_config):
    """Ample contacts (full coverage) vs scarce ones (neglect), same customers and draws: mid and
    high annual attrition differs by a few points."""
    attrition = {}
    for contacts in (1000.0, 80.0):
        runs = [
            run_scenario(
                make_config({"bank.manager_contacts": contacts}, seed=s, customers=8000, months=24)
            )
            for s in SEEDS
        ]
        kept = np.mean([r.summary["retention_mid_high"] for r in runs])
        attrition[contacts] = 1 - kept**0.5  # a year's worth
    gap = attrition[80.0] - attrition[1000.0]
    assert 0.02 < gap < 0.12


def test_relationship_terms_are_the_channel(make_config):
    """Switching off the relationship terms shrinks the gap between well-run and neglected."""

    def gap(switching):
        kept = {}
        for contacts in (1000.0, 80.0):
            over = {"bank.manager_contacts": contacts}
            over["behaviour.relationship.switching"] = switching
            r = run_scenario(make_config(over, seed=0, customers=8000, months=24))
            kept[contacts] = r.summary["retention_mid_high"]
        return kept[1000.0] - kept[80.0]

    assert gap(1.5) > 1.5 * gap(0.0) > 0
