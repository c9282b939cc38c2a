"""Outlet closure, paired against the baseline on the same seeds (common random numbers): branch
costs fall, the customers whose branch closed move to the nearest open branch and leave more often
than the same customers in the baseline, the branch-dependent most; they adapt (settle or go
digital), so the excess fades; the deposits a closure loses depend on the local situation; the
receiving branches get busier; a new branch goes where it serves the most uncovered customers."""

import numpy as np
import pytest

from sim import geography, metrics
from sim.customers import NEVER
from sim.mechanisms import books, exits
from sim.model import BankModel
from sim.params import ConfigError
from sim.strategies.outlet_closure import ADAPTING, DIGITAL, SETTLED, branch_profit

SEEDS = (0, 1, 2, 3, 4, 5)
CUSTOMERS, BURN_IN, MONTHS = 20_000, 6, 37


def run(cfg) -> BankModel:
    model = BankModel(cfg)
    model.run()
    return model


def timeseries(model):
    return metrics.timeseries(model)


@pytest.fixture(scope="module")
def pairs(make_config):
    """(baseline, closure) models with default parameters, for each seed."""
    out = []
    for seed in SEEDS:
        kwargs = dict(customers=CUSTOMERS, months=MONTHS, burn_in=BURN_IN, seed=seed)
        out.append(
            (
                run(make_config(**kwargs)),
                run(make_config(**kwargs, strategy={"outlet_closure": {}})),
            )
        )
    return out


def rows_of(everyone, keys):
    """Rows of ``everyone`` (a model's customers) of the customers with these keys."""
    order = np.argsort(everyone["key"])
    return order[np.searchsorted(everyone["key"], keys, sorter=order)]


SWITCHES = (exits.SWITCHED, exits.CLOSURE)  # to a rival: a displaced customer's is a closure's


def exits_of(model, ids, first, last, reasons=None):
    """Mask over keys ``ids``: left in absolute months first..last (for ``reasons`` if given)."""
    everyone = model.customers.everyone()
    rows = rows_of(everyone, ids)
    left = everyone["left"][rows]
    mask = (left >= first) & (left <= last)
    if reasons is not None:
        mask &= np.isin(everyone["exit_reason"][rows], reasons)
    return mask


def test_closure_lowers_branch_costs_and_books_its_cost(pairs):
    for base, closed in pairs:
        strategy, cfg = closed.strategies[0], closed.strategies[0].config
        assert len(strategy.closed) == cfg.count == 2
        b, s = timeseries(base), timeseries(closed)
        saved = b["cost_branches"] - s["cost_branches"]
        # the closed branches' cost goes, except the counter staff who move with the customers
        kept = cfg.staff_moved * cfg.staff_cost_share
        expected = cfg.count * closed.config.bank.branch_cost * (1 - kept) / 12
        assert np.allclose(saved, expected)
        assert (s["branches_open"] == 10).all() and (b["branches_open"] == 12).all()
        closure = s["cost_outlet_closure.closure"]
        assert closure.iloc[0] == cfg.count * cfg.closure_cost > 0
        assert (closure.iloc[1:] == 0).all()
        assert (s["cost_outlet_closure.opening"] == 0).all()
        assert (s["cost_outlet_closure.notice"] == 0).all()


def test_closed_branches_customers_leave_more_often_than_in_the_baseline(pairs):
    year1, year2 = (BURN_IN + 1, BURN_IN + 12), (BURN_IN + 13, BURN_IN + 24)
    switched = np.zeros(2)
    excess = np.zeros(2)
    for base, closed in pairs:
        ids = closed.strategies[0].affected_keys
        assert len(ids) > 500
        switched += [exits_of(m, ids, *year1, reasons=SWITCHES).sum() for m in (base, closed)]
        for k, window in enumerate((year1, year2)):
            excess[k] += exits_of(closed, ids, *window).sum() - exits_of(base, ids, *window).sum()
    uplift = switched[1] / switched[0] - 1
    # Bain 2016: affected customers' switching up ~14% over the next year (here ~16%)
    assert 0.08 < uplift < 0.30, uplift
    assert excess[0] > 0 and excess[0] > 1.3 * excess[1], excess  # the excess fades


def test_a_displaced_customers_switch_is_put_down_to_the_closure(pairs):
    """Reason ``closure``: exactly the switches of customers whose branch closed under them;
    none in the baseline. The label does not decide who leaves: the leavers outside the closure
    arm's displaced customers before the closure are the baseline's."""
    for base, closed in pairs:
        b, c = base.customers.everyone(), closed.customers.everyone()
        assert not (b["exit_reason"] == exits.CLOSURE).any()
        displaced = c["closed_at"] != NEVER
        switched = np.isin(c["exit_reason"], SWITCHES)
        assert ((c["exit_reason"] == exits.CLOSURE) == (switched & displaced)).all()
        assert (c["exit_reason"] == exits.CLOSURE).sum() > 100


def test_the_closure_label_does_not_decide_who_leaves():
    """Displaced or not, the same draw leaves or stays, and naturally or not; only a switch is
    relabelled."""
    rng = np.random.default_rng(0)
    for u, switching, natural in rng.uniform(0, 0.2, (500, 3)).astype(np.float32):
        stay = exits.leave(u, switching, natural, False)
        moved = exits.leave(u, switching, natural, True)
        assert moved == (exits.CLOSURE if stay == exits.SWITCHED else stay)


def test_branch_dependent_customers_are_hit_harder(pairs):
    counts = {"low": np.zeros(3), "high": np.zeros(3)}  # customers, baseline exits, closure exits
    for base, closed in pairs:
        ids = closed.strategies[0].affected_keys
        digital = digital_of(base, ids)
        window = (BURN_IN + 1, BURN_IN + 12)
        left = [exits_of(m, ids, *window) for m in (base, closed)]
        for group, mask in (("low", digital < 0.4), ("high", digital > 0.7)):
            counts[group] += [mask.sum(), left[0][mask].sum(), left[1][mask].sum()]
    rate = {g: (c[2] - c[1]) / c[0] for g, c in counts.items()}
    assert rate["low"] > 0.01, rate
    assert rate["low"] > 3 * max(rate["high"], 0.0), rate


def digital_of(model, ids):
    everyone = model.customers.everyone()
    return everyone["digital"][rows_of(everyone, ids)]


def test_closure_takes_deposits_with_it(make_config):
    kwargs = dict(customers=CUSTOMERS, months=1, burn_in=BURN_IN, seed=5)
    base = run(make_config(**kwargs))
    closed = run(make_config(**kwargs, strategy={"outlet_closure": {}}))
    strategy = closed.strategies[0]
    ids = strategy.affected_keys
    kept = [
        m.customers.aum[np.isin(m.customers.key, ids) & m.customers.active] for m in (base, closed)
    ]
    ratio = kept[1].sum() / kept[0].sum()
    assert 0.6 < ratio < 0.97, ratio  # a share of the moved AUM leaves at once
    digital = digital_of(closed, ids)
    flight = strategy.flight
    assert flight.max() <= closed.strategies[0].config.flight_share
    assert flight[digital < 0.4].mean() > 2 * flight[digital > 0.7].mean()


def test_rehomed_customers_go_to_the_nearest_open_branch(make_config):
    cfg = make_config(
        customers=5_000, months=2, burn_in=3, strategy={"outlet_closure": {"branches": [0, 4, 7]}}
    )
    model = BankModel(cfg)
    for _ in range(cfg.burn_in + 1):
        model.step()
    strategy, c = model.strategies[0], model.customers
    assert strategy.closed == [0, 4, 7]
    branches = model.branch_list()
    assert [b.index for b in branches if not b.is_open] == [0, 4, 7]
    rows = np.isin(c.key, strategy.affected_keys)
    assert rows.sum() == len(strategy.affected_keys) > 0
    open_sites = np.array([(b.x, b.y) for b in branches if b.is_open])
    open_ids = np.array([b.index for b in branches if b.is_open])
    home = np.column_stack([c.x[rows], c.y[rows]])
    dist = np.linalg.norm(home[:, None, :] - open_sites[None, :, :], axis=2)
    assert np.isin(c.branch[rows], open_ids).all()
    assert np.allclose(c.distance[rows], dist.min(axis=1), atol=1e-3)
    assert (c.branch[rows] == open_ids[dist.argmin(axis=1)]).all()
    assert all(m.branch in open_ids for m in model.managers)  # desks moved too
    assert (strategy.extra_km >= -1e-4).all()


def test_rules_pick_the_weakest_branches(make_config):
    for rule in ("lowest_visits", "lowest_profit"):
        cfg = make_config(
            customers=5_000,
            months=2,
            burn_in=3,
            seed=2,
            strategy={"outlet_closure": {"rule": rule}},
        )
        model = BankModel(cfg)
        for _ in range(cfg.burn_in):
            model.step()
        if rule == "lowest_visits":
            score = model.branch_visits()
        else:
            cost = np.full(cfg.bank.branches, cfg.bank.branch_cost)
            score = branch_profit(model.customers.branch, books.lines_now(model), cost)
        model.step()
        assert sorted(model.strategies[0].closed) == sorted(np.argsort(score)[:2].tolist())


def test_branch_profit_adds_up_customer_revenue_less_branch_cost(make_config):
    economics = make_config().economics
    branch = np.array([0, 0, 1, 2])
    weight = np.array([10.0, 10.0, 10.0, 0.0])  # real customers per row; 0: left
    tier = np.array([0, 1, 0, 0], np.int8)
    aum = np.array([100_000.0, 1_000_000.0, 0.0, 5e6])
    loan = np.array([0.0, 0.0, 200_000.0, 1e6])
    share = np.array([0.0, 0.5, 0.0, 0.0])[tier]
    lines = books.customer_lines(economics, share, aum, loan, weight)
    profit = branch_profit(branch, lines, np.array([1e6, 1e5, 0.0]))
    e = economics
    pay = 12 * e.payment_income
    first = e.deposit_margin * (100_000 + 500_000) + e.wealth_fee * 500_000 + 2 * pay
    second = (e.loan_margin - e.default_rate * e.loss_given_default) * 200_000 + pay
    assert np.allclose(profit, [10 * first - 1e6, 10 * second - 1e5, 0.0])


def test_branch_profit_reads_the_same_customer_revenue_as_the_books(make_config):
    """Closures rank branches by the revenue the ledger books: a month's branch profits (no
    branch cost) add up to 12 x that month's customer revenue less credit losses."""
    model = BankModel(make_config(customers=2_000, months=1, burn_in=2))
    model.step()
    lines = books.lines_now(model)
    profit = branch_profit(model.customers.branch, lines, np.zeros(12))
    month = model.books
    booked = sum(month.get(f"revenue_{k}", 0.0) - month.get(f"cost_{k}", 0.0) for k in lines)
    assert booked > 0
    assert profit.sum() == pytest.approx(12 * booked, rel=1e-6)


def test_open_new_adds_a_branch_where_customers_live_far(make_config):
    kwargs = dict(customers=CUSTOMERS, months=3, burn_in=BURN_IN, seed=1)
    plain = run(make_config(**kwargs, strategy={"outlet_closure": {}}))
    moved = run(make_config(**kwargs, strategy={"outlet_closure": {"open_new": True}}))
    strategy = moved.strategies[0]
    assert strategy.opened == 12 and len(moved.branches) == 13
    new = moved.branch_list()[12]
    assert new.is_open and new.capacity > 1.0
    ts = timeseries(moved)
    assert (ts["branches_open"] == 11).all()
    assert ts["cost_outlet_closure.opening"].iloc[0] == strategy.config.opening_cost > 0
    c = moved.customers
    assert np.count_nonzero(c.active & (c.branch == 12)) > 100
    mean_km = [np.mean(m.customers.distance[m.customers.active]) for m in (plain, moved)]
    assert mean_km[1] < mean_km[0]
    assert strategy.extra_km.mean() <= plain.strategies[0].extra_km.mean()


def test_pre_notice_softens_the_shock_at_its_cost(make_config):
    kwargs = dict(customers=5_000, months=1, burn_in=3, seed=3)
    plain = run(make_config(**kwargs, strategy={"outlet_closure": {}}))
    notice = run(make_config(**kwargs, strategy={"outlet_closure": {"pre_notice": True}}))
    a, b = plain.strategies[0], notice.strategies[0]
    assert np.array_equal(a.affected_keys, b.affected_keys)
    cut = notice.strategies[0].config.notice_cut
    assert np.allclose(b.shocks, (1 - cut) * a.shocks)
    booked = timeseries(notice)["cost_outlet_closure.notice"].iloc[0]
    everyone = notice.customers.everyone()
    real = everyone["weight"][rows_of(everyone, b.affected_keys)].sum(dtype=np.float64)
    assert booked == pytest.approx(real * 30.0)


@pytest.mark.parametrize(
    ("params", "needles"),
    [
        ({"count": 12}, ["strategy.outlet_closure.count=12", "1 to 11"]),
        ({"branches": [0, 12]}, ["strategy.outlet_closure.branches", "12", "0 to 11"]),
        ({"branches": [3, 3]}, ["strategy.outlet_closure.branches", "3", "once"]),
        ({"branches": list(range(12))}, ["strategy.outlet_closure.branches", "at most 11"]),
        ({"branches": [-1]}, ["strategy.outlet_closure.branches[0]=-1"]),
        ({"month": 30}, ["strategy.outlet_closure.month=30", "1 to 24"]),
        ({"month": 2, "start": 3}, ["strategy.outlet_closure.month=2", "4 to 24"]),
        ({"rule": "oldest"}, ["strategy.outlet_closure.rule", "lowest_profit"]),
    ],
)
def test_bad_inputs_are_refused(make_config, params, needles):
    with pytest.raises(ConfigError) as err:
        make_config(months=24, strategy={"outlet_closure": params})
    for needle in needles:
        assert needle in str(err.value)


def switched_real(model, ids, first, last):
    """Real customers among keys ``ids`` who switched in absolute months first..last."""
    everyone = model.customers.everyone()
    rows = rows_of(everyone, ids)
    mask = exits_of(model, ids, first, last, reasons=SWITCHES)
    return float(everyone["weight"][rows][mask].sum(dtype=np.float64))


def test_excess_attrition_fades_as_customers_adapt(pairs):
    """Year 1 elevated (Bain 2016: ~14%), fading over about two years: year 3 well below year 1."""
    years = [(BURN_IN + 1 + 12 * k, BURN_IN + 12 * (k + 1)) for k in range(3)]
    real = np.zeros((2, 3))
    for base, closed in pairs:
        ids = closed.strategies[0].affected_keys
        for k, window in enumerate(years):
            real[:, k] += [switched_real(m, ids, *window) for m in (base, closed)]
    excess = real[1] / real[0] - 1
    assert 0.05 < excess[0] < 0.30, excess
    assert excess[1] < 0.7 * excess[0], excess
    assert excess[2] < 0.4 * excess[0], excess


def test_affected_customers_settle_or_go_digital(pairs):
    for base, closed in pairs:
        strategy, c = closed.strategies[0], closed.customers
        mine = c.active & np.isin(c.key, strategy.affected_keys)
        assert (c.closed_at[mine] == BURN_IN + 1).all()
        state = c.adapt[mine]
        assert np.isin(state, (ADAPTING, SETTLED, DIGITAL)).all()
        assert np.mean(state == ADAPTING) < 0.15  # three years on, most have adapted
        assert np.mean(state == SETTLED) > 0.1 and np.mean(state == DIGITAL) > 0.1
        assert (c.adapt[c.active & ~mine] == 0).all()
        went = c.key[mine][state == DIGITAL]
        everyone = base.customers.everyone()
        before = everyone["digital"][rows_of(everyone, went)]
        assert (c.digital[mine][state == DIGITAL] >= before - 1e-6).all()
        assert np.mean(c.digital[mine][state == DIGITAL] > before + 0.01) > 0.5
        # the settled get back, as a perk, the experience the longer trip costs them
        settled = mine & (c.adapt == SETTLED) & (c.distance > c.before_km + 1.0)
        assert (c.perks[settled] > 0).all() and (c.perks[mine & (c.adapt == DIGITAL)] == 0).all()


def aum_of(model, keys):
    """Real AUM held at the bank (0 if gone) by the customers with these keys."""
    c = model.customers
    order = np.argsort(c.key)
    rows = order[np.clip(np.searchsorted(c.key, keys, sorter=order), 0, len(order) - 1)]
    here = (c.key[rows] == keys) & c.active[rows]
    return np.where(here, c.aum[rows] * c.weight[rows], 0.0)


def test_deposits_lost_vary_across_closures_with_a_heavy_upper_tail(make_config):
    """FMCG 2012: about one consolidation in five loses over half of the moved deposits; the
    rest lose less. 24 closures (8 seeds x 3 branches), deposits a year on against the baseline."""
    lost, rival_km = [], []
    for seed in range(8):
        kwargs = dict(customers=CUSTOMERS, months=12, burn_in=BURN_IN, seed=seed)
        ids = [(3 * seed + 4 * k) % 12 for k in range(3)]
        base = run(make_config(**kwargs))
        closed = run(make_config(**kwargs, strategy={"outlet_closure": {"branches": ids}}))
        strategy = closed.strategies[0]
        kept = [aum_of(m, strategy.affected_keys) for m in (base, closed)]
        for b in strategy.closed:
            mine = strategy.from_branch == b
            lost.append(1 - kept[1][mine].sum() / kept[0][mine].sum())
            rival_km.append(strategy.site_rival_km[b])
    lost, rival_km = np.array(lost), np.array(rival_km)
    assert len(lost) == 24
    assert 2 <= np.sum(lost > 0.5) <= 9, np.sort(lost)  # a minority lose most
    assert np.median(lost) < 0.4 and lost.min() < 0.2, np.sort(lost)
    assert lost.max() - lost.min() > 0.3, np.sort(lost)
    near, far = lost[rival_km < 1.5], lost[rival_km > 3.0]
    assert near.mean() > far.mean() + 0.1, (near, far)  # a rival next door takes more


def branch_state(cfg):
    """Model stepped to the end of the first measured month."""
    model = BankModel(cfg)
    for _ in range(cfg.burn_in + 1):
        model.step()
    return model


def test_receiving_branches_get_busier_unless_all_staff_move(make_config):
    kwargs = dict(customers=CUSTOMERS, months=2, burn_in=BURN_IN, seed=2)
    base = branch_state(make_config(**kwargs))
    arms = {
        moved: branch_state(
            make_config(**kwargs, strategy={"outlet_closure": {"staff_moved": moved}})
        )
        for moved in (0.5, 1.0)
    }
    b0 = base.branch_list()
    rises = {}
    for moved, model in arms.items():
        closed = model.strategies[0].closed
        b1 = model.branch_list()
        gained = [i for i in range(12) if i not in closed and b1[i].visits > b0[i].visits * 1.05]
        assert gained
        rises[moved] = np.mean([b1[i].utilisation - b0[i].utilisation for i in gained])
        if moved == 0.5:
            assert all(b1[i].wait > b0[i].wait for i in gained)
            assert all(b1[i].quality < b0[i].quality for i in gained)
            waits = [timeseries(m)["branch_wait"].iloc[0] for m in (base, model)]
            assert waits[1] > waits[0] * 1.05, waits
    assert rises[0.5] > 0.05 and rises[0.5] > 3 * abs(rises[1.0]), rises


def test_new_branch_serves_most_uncovered_customers_it_may(make_config):
    for seed in (0, 1, 2):
        cfg = make_config(
            customers=CUSTOMERS,
            months=2,
            burn_in=BURN_IN,
            seed=seed,
            strategy={"outlet_closure": {"open_new": True}},
        )
        model = branch_state(cfg)
        strategy, c = model.strategies[0], model.customers
        params = strategy.config
        branches = model.branch_list()
        new = branches[strategy.opened]
        closed = np.array([(branches[i].x, branches[i].y) for i in strategy.closed])
        assert np.hypot(*(closed - [new.x, new.y]).T).min() >= params.gap_km - 1e-6
        others = np.array([(b.x, b.y) for b in branches if b.is_open and b is not new])
        homes = np.column_stack([c.x, c.y])[c.active]
        uncovered = geography.nearest_km(others, homes) >= params.far_km
        weight = c.weight[c.active][uncovered]
        served = geography.served(
            np.vstack([[new.x, new.y], closed]), homes[uncovered], weight, params.far_km
        )
        # the closed site, now the centre of its former catchment, would serve about as many
        # (a reopening, which the gap rules out); the new site serves most of that, and far
        # beats an average allowed site
        assert served[0] > 0.75 * served[1:].max(), served
        axis = np.arange(0.5, model.config.bank.city_km, 1.0)
        grid = np.array(np.meshgrid(axis, axis)).reshape(2, -1).T
        grid = grid[geography.nearest_km(closed, grid) >= params.gap_km]
        typical = geography.served(grid, homes[uncovered], weight, params.far_km).mean()
        assert served[0] > 3 * typical, (served, typical)


def test_best_site_avoids_the_closed_site_and_counts_real_customers():
    homes = np.array([[1.0, 1.0]] * 10 + [[8.0, 8.0]] * 3, np.float32)
    weight = np.array([1.0] * 10 + [25.0] * 3)  # fewer rows, more real customers
    x, y = geography.best_site(homes, weight, 10.0, 0.5, 1.0, np.zeros((0, 2)), 0.0)
    assert np.hypot(x - 8.0, y - 8.0) < 0.5
    x, y = geography.best_site(homes, weight, 10.0, 0.5, 1.0, np.array([[8.0, 8.0]]), 3.0)
    assert np.hypot(x - 8.0, y - 8.0) >= 3.0 and np.hypot(x - 1.0, y - 1.0) < 1.0
