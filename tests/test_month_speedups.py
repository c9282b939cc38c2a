"""The month's fast paths give the numbers of the plain ones: skill percentiles, newcomers added
in one batch, and the sorted lists of branches and desks kept between agent changes."""

import numpy as np
import pytest

from sim.metrics import SKILL_PERCENTILES, percentiles
from sim.model import BankModel


@pytest.mark.parametrize("n", [1, 2, 3, 7, 40, 201])
def test_percentiles_are_numpys_to_the_bit(n):
    rng = np.random.default_rng(n)
    for values in (rng.random(n), rng.choice([0.3, 0.5, 0.98], n), np.full(n, 0.61)):
        for q in (SKILL_PERCENTILES, (0, 100), (50,), (12.5, 87.5)):
            assert percentiles(values, q).tobytes() == np.percentile(values, q).tobytes()


def test_groups_admitted_together_are_the_groups_added_one_by_one(make_config):
    cfg = make_config(customers=2000, months=1)
    together, apart = BankModel(cfg), BankModel(cfg)
    for model in (together, apart):
        model.step()
        model.ledger.close()
    referrers = np.flatnonzero(together.customers.active)[:40]

    def groups(model):
        c = model.customers
        keys = c.key[referrers] + np.uint64(1)
        drawn = model.arrivals.sampled(keys, model.arrivals.cells())
        xy = np.column_stack([c.x[referrers], c.y[referrers]])
        return [
            model.joining(keys, drawn, "referral", xy=xy, referrer=referrers),
            model.newcomers("organic", 500.0),
        ]

    rows = together.admit(groups(together))
    first, second = groups(apart)  # the same people: their draws are keyed
    one_by_one = [apart.admit([first])[0], apart.admit([second])[0]]
    assert rows == one_by_one and rows[0].stop > rows[0].start and rows[1].stop > rows[1].start
    for name in ("key", "segment", "weight", "aum", "x", "branch", "distance", "near", "income",
                 "age", "products", "digital", "referred", "referrer", "channel",
                 "joined"):  # fmt: skip
        a, b = getattr(together.customers, name), getattr(apart.customers, name)
        assert a.tobytes() == b.tobytes(), name
    assert together.by_segment.tobytes() == apart.by_segment.tobytes()
    assert together.events == apart.events
    assert together.ledger.close() == apart.ledger.close()


def test_the_lists_of_branches_and_desks_follow_the_agents(make_config):
    model = BankModel(make_config({"bank.manager_quit_rate": 1.0}, customers=1000, months=1))
    before = model.desk_list()
    assert [m.desk for m in before] == sorted(m.desk for m in model.managers)
    model.step()  # every manager quits; a new hire takes each desk
    after = model.desk_list()
    assert [m.desk for m in after] == [m.desk for m in before]
    assert not set(map(id, after)) & set(map(id, before))
    assert model.team() == list(model.managers)
    count = len(model.branch_list())
    model.open_branch(1.0, 1.0)
    assert [b.index for b in model.branch_list()] == list(range(count + 1))
