"""The KPIs (``sim.metrics``): the cohort taken when burn-in ends, each month's row as the state
at the month's end, the summary as the rows and the cohort give it, the panel and the branches in
measured months (docs/model.md, section 4). One small model is stepped by hand and the numbers are
recomputed from its customer columns."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sim import metrics
from sim.api import run_scenario
from sim.config import TIERS
from sim.customers import CHANNELS, EXIT_REASONS
from sim.model import BankModel

BURN_IN, MONTHS = 2, 4
CLOSE = {"rel": 1e-5, "abs": 1e-6}


def weighted(values, weight, mask) -> float:
    return float(np.sum(np.asarray(values, np.float64) * weight * mask))


@pytest.fixture(scope="module")
def stepped(make_config):
    """A small model stepped month by month; what it looked like when burn-in ended and at the
    end of each measured month."""
    cfg = make_config(
        {"population.organic_rate": 0.01}, customers=300, months=MONTHS, burn_in=BURN_IN, seed=3
    )
    model = BankModel(cfg)
    for _ in range(BURN_IN):
        model.step()
    c = model.customers
    columns = ("id", "active", "tier", "weight", "aum")
    start = {name: getattr(c, name)[: c.n].copy() for name in columns}
    ends = []
    for _ in range(MONTHS):
        model.step()
        ends.append(state(model))
    return SimpleNamespace(model=model, start=start, ends=ends)


def state(model) -> dict:
    c, n = model.customers, model.customers.n
    columns = ("active", "tier", "weight", "aum", "cohort", "satisfaction", "effort")
    out = {name: getattr(c, name)[:n].copy() for name in (*columns, "attention", "manager")}
    out["skills"] = np.array([m.skill for m in model.managers])
    out["open"] = [b.is_open for b in model.branches]
    out["waits"] = [b.wait for b in model.branches if b.is_open]
    return out


def test_the_cohort_is_who_was_active_when_burn_in_ended_mid_tier_and_up_marked(stepped):
    model, start = stepped.model, stepped.start
    everyone = model.customers.everyone()  # by id, leavers archived included
    then = np.isin(everyone["id"], start["id"])
    cohort = everyone["cohort"][np.searchsorted(everyone["id"], start["id"])]
    want = np.where(start["active"], np.where(start["tier"] >= 1, 2, 1), 0)
    np.testing.assert_array_equal(cohort, want)
    assert (want == 1).any() and (want == 2).any()
    assert (~then).any() and (everyone["cohort"][~then] == 0).all()  # who joined later
    size = weighted(1.0, start["weight"], start["active"])
    assert model.cohort.size == pytest.approx(size, rel=1e-9)
    mid_high = weighted(1.0, start["weight"], start["active"] & (start["tier"] >= 1))
    assert model.cohort.size_mid_high == pytest.approx(mid_high, rel=1e-9)
    assert model.cohort.aum == pytest.approx(
        weighted(start["aum"], start["weight"], start["active"]), rel=1e-9
    )
    for k, tier in enumerate(TIERS):
        mask = start["active"] & (start["tier"] == k)
        assert model.cohort.tiers[tier] == pytest.approx(weighted(1.0, start["weight"], mask))


def test_each_months_row_is_the_state_at_the_months_end(stepped):
    model = stepped.model
    rows = metrics.timeseries(model)
    assert rows["month"].tolist() == list(range(1, MONTHS + 1))
    cohort = model.cohort
    for (_, row), end in zip(rows.iterrows(), stepped.ends, strict=True):
        w, active = end["weight"].astype(np.float64), end["active"]
        customers = weighted(1.0, w, active)
        assert row["customers"] == pytest.approx(customers, **CLOSE)
        assert row["agents"] == int(active.sum())
        for k, tier in enumerate(TIERS):
            mask = active & (end["tier"] == k)
            assert row[f"customers_{tier}"] == pytest.approx(weighted(1.0, w, mask), **CLOSE)
        kept = weighted(1.0, w, active & (end["cohort"] >= 1))
        assert row["retention"] == pytest.approx(kept / cohort.size, **CLOSE)
        kept_mid_high = weighted(1.0, w, active & (end["cohort"] == 2))
        assert row["retention_mid_high"] == pytest.approx(
            kept_mid_high / cohort.size_mid_high, **CLOSE
        )
        assert row["aum"] == pytest.approx(weighted(end["aum"], w, active), **CLOSE)
        cohort_aum = weighted(end["aum"], w, active & (end["cohort"] >= 1))
        assert row["aum_retention"] == pytest.approx(cohort_aum / cohort.aum, **CLOSE)
        assert row["satisfaction"] == pytest.approx(
            weighted(end["satisfaction"], w, active) / customers, **CLOSE
        )
        assert row["effort"] == pytest.approx(
            weighted(end["effort"], w, active) / customers, **CLOSE
        )
        managed = active & (end["manager"] >= 0)
        assert row["attention"] == pytest.approx(
            weighted(end["attention"], w, managed) / weighted(1.0, w, managed), **CLOSE
        )
        assert row["manager_skill"] == pytest.approx(float(np.mean(end["skills"])))
        for q in metrics.SKILL_PERCENTILES:
            want = float(np.percentile(end["skills"], q))
            assert row[f"manager_skill_p{q}"] == pytest.approx(want)
        assert row["branches_open"] == sum(end["open"])
        assert row["branch_wait"] == pytest.approx(float(np.mean(end["waits"])))
    assert 0.0 < rows["retention"].iloc[-1] < 1.0  # some of the cohort left, not all
    assert (rows["retention"].diff().dropna() <= 0).all()


def test_a_months_flows_are_its_own_events_and_its_books(stepped):
    rows = metrics.timeseries(stepped.model)
    last = rows.iloc[-1]
    events = stepped.model.events  # the last month's
    for ch in CHANNELS[1:]:
        assert last[f"new_{ch}"] == events[f"new_{ch}"]
    for reason in EXIT_REASONS[1:]:
        assert last[f"exit_{reason}"] == events[f"exit_{reason}"]
    assert "new_opening_book" not in rows and f"exit_{EXIT_REASONS[0]}" not in rows
    for key in ("complaints", "fee_complaints", "upgrades", "downgrades", "manager_quits"):
        assert last[key] == events[key]
    assert last["branch_visits"] == events["visits"]
    for key, value in stepped.model.books.items():
        assert last[key] == value
    assert rows[[f"new_{ch}" for ch in CHANNELS[1:]]].to_numpy().sum() > 0


def test_the_summary_is_read_off_the_rows_and_the_cohort(stepped):
    model = stepped.model
    rows = metrics.timeseries(model)
    s = metrics.summarise(model, rows)
    end = rows.iloc[-1]
    assert s["seed"] == 3 and s["months"] == MONTHS
    assert s["retention_horizon"] == end["retention"]
    assert s["retention_mid_high"] == end["retention_mid_high"]
    assert s["aum_retention"] == end["aum_retention"]
    assert s["retention_12m"] == end["retention"]  # a run shorter than a year: its last month
    assert s["aum_start"] == model.cohort.aum and s["aum_end"] == end["aum"]
    for key in ("revenue", "cost", "profit", "complaints"):
        assert s[key] == pytest.approx(float(rows[key].sum()), rel=1e-12)
    new = rows[[f"new_{ch}" for ch in CHANNELS[1:]]].to_numpy().sum()
    assert s["new_customers"] == pytest.approx(float(new)) and s["new_customers"] > 0
    for key in ("satisfaction", "effort", "manager_skill"):
        assert s[key] == end[key]
    assert s["customers_start"] == model.cohort.size
    assert s["customers_end"] == end["customers"]
    assert s["market_share_start"] == model.cohort.market_share
    assert s["market_share_end"] == end["market_share"]
    assert 0.0 < s["market_share_end"] < 1.0
    for tier in TIERS:
        assert s[f"customers_start_{tier}"] == model.cohort.tiers[tier]
        assert s[f"customers_end_{tier}"] == pytest.approx(end[f"customers_{tier}"], **CLOSE)
    assert s["strategies"] == []


def test_retention_at_12_months_is_the_12th_measured_months(make_config):
    model = BankModel(make_config(customers=300, months=14, burn_in=0, seed=1))
    model.run()
    rows = metrics.timeseries(model)
    assert model.cohort.retention_12m == rows.loc[rows["month"] == 12, "retention"].item()
    assert model.cohort.retention_12m > rows["retention"].iloc[-1]


def test_a_cohort_of_nobody_and_a_book_without_aum_count_as_all_kept():
    nobody = metrics.Cohort.__new__(metrics.Cohort)
    nobody.size = nobody.size_mid_high = nobody.aum = 0.0
    tally = SimpleNamespace(cohort=0.0, cohort_mid_high=0.0, cohort_aum=0.0)
    assert nobody.retention(tally) == 1.0
    assert nobody.retention(tally, mid_high=True) == 1.0
    assert nobody.aum_retention(tally) == 1.0
    some = metrics.Cohort.__new__(metrics.Cohort)
    some.size, some.size_mid_high, some.aum = 200.0, 50.0, 1e6
    tally = SimpleNamespace(cohort=150.0, cohort_mid_high=10.0, cohort_aum=2.5e5)
    assert some.retention(tally) == 0.75
    assert some.retention(tally, mid_high=True) == 0.2
    assert some.aum_retention(tally) == 0.25
    some.aum = 0.5  # a tiny book, not an empty one
    assert some.aum_retention(SimpleNamespace(cohort_aum=0.25)) == 0.5


def test_means_over_nobody_are_zero_and_a_bank_without_managers_has_no_skill(make_config):
    assert metrics._mean(0.0, 0.0) == 0.0
    assert metrics._mean(3.0, 2.0) == 1.5
    assert metrics._mean(1.0, 0.5) == 2.0  # half a real customer is somebody
    model = BankModel(make_config({"bank.managers": 0}, customers=300, months=2, burn_in=0))
    model.run()
    rows = metrics.timeseries(model)
    assert (rows["attention"] == 0.0).all() and (rows["manager_skill"] == 0.0).all()
    for q in metrics.SKILL_PERCENTILES:
        assert (rows[f"manager_skill_p{q}"] == 0.0).all()


def test_a_month_without_customers_or_open_branches_reads_zeros(make_config):
    model = BankModel(make_config(customers=300, months=2, burn_in=0))
    for branch in model.branches:
        branch.is_open = False
    model.month, model.books = 1, {"profit": 0.0}
    segments = np.zeros(len(model.segment_names))
    nobody = metrics.Tally(
        customers=0.0,
        agents=0,
        tiers=np.zeros(len(TIERS)),
        segments=segments,
        cohort=0.0,
        cohort_mid_high=0.0,
        aum=0.0,
        cohort_aum=0.0,
        satisfaction=0.0,
        effort=0.0,
        attention=0.0,
        managed=0.0,
        lines={},
    )
    row = metrics.monthly_kpis(model, nobody)
    assert row["branches_open"] == 0 and row["branch_wait"] == 0.0
    assert row["satisfaction"] == row["effort"] == row["attention"] == 0.0
    assert row["customers"] == 0.0 and row["retention"] == 0.0 and row["market_share"] == 0.0
    assert row["month"] == 1 and row["profit"] == 0.0


def test_the_panel_has_every_customer_ever_in_measured_months(stepped):
    model = stepped.model
    panel = metrics.panel(model)
    everyone = model.customers.everyone()
    assert len(panel) == len(everyone["id"])
    t, gone = model.month, everyone["left"] >= 0
    assert gone.any() and (~gone).any()
    np.testing.assert_array_equal(
        panel["tenure_months"], np.where(gone, everyone["left"], t) - everyone["joined"]
    )
    np.testing.assert_array_equal(panel["joined_month"], everyone["joined"] - BURN_IN)
    assert (panel["joined_month"] <= MONTHS).all() and (panel["joined_month"] > 0).any()
    left = panel["left_month"]
    assert left.isna().to_numpy().tolist() == (~gone).tolist()
    np.testing.assert_array_equal(left[gone].astype(int), everyone["left"][gone] - BURN_IN)
    assert (panel["exit_reason"].isna().to_numpy() == ~gone).all()
    np.testing.assert_array_equal(panel["age"], everyone["age"].astype(np.float64).round(1))
    assert (panel["age"] != panel["age"].round(0)).any()  # to a tenth of a year
    reasons = np.asarray(EXIT_REASONS[1:])[everyone["exit_reason"][gone] - 1]
    assert (panel.loc[gone, "exit_reason"].astype(str).to_numpy() == reasons).all()
    assert (
        panel["channel"].astype(str).to_numpy() == np.asarray(CHANNELS)[everyone["channel"]]
    ).all()
    threshold = np.float32(model.config.behaviour.engagement_threshold)
    engaged = everyone["engagement"] >= threshold
    assert (panel["engaged_at_exit_or_end"].to_numpy() == engaged).all()
    assert engaged.any() and (~engaged).any()


def test_the_crm_extract_keeps_ages_to_a_tenth_of_a_year_as_they_were_then(stepped):
    model = stepped.model
    extract = metrics.crm_extract(model)
    then = model.crm.columns
    assert (extract["customer_id"].to_numpy() == then["id"]).all()
    np.testing.assert_array_equal(extract["age"], then["age"].astype(np.float64).round(1))
    assert (extract["age"] != extract["age"].round(0)).any()


def test_branches_opened_and_closed_are_dated_in_measured_months(make_config):
    model = BankModel(make_config(customers=300, months=4, burn_in=2))
    model.step()  # burn-in month 1 (measured month -1)
    first = model.branch_list()[0]
    model.close_branches([first.index])
    for _ in range(3):  # to measured month 2
        model.step()
    new = model.open_branch(1.0, 2.0, label="new")
    table = metrics.branches(model).set_index("branch")
    assert table.loc[first.index, "closed_month"] == -1
    assert table.loc[new.index, "opened_month"] == 2 and pd.isna(
        table.loc[new.index, "closed_month"]
    )
    others = table.drop(index=[first.index, new.index])
    assert others["opened_month"].isna().all() and others["closed_month"].isna().all()
    assert pd.isna(table.loc[first.index, "opened_month"])
    assert table.loc[new.index, "label"] == "new"
    assert (table.loc[new.index, ["x", "y"]].to_numpy(float) == [1.0, 2.0]).all()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 40])
def test_skill_percentiles_are_numpys_to_the_last_bit(n):
    rng = np.random.default_rng(n)
    values = rng.uniform(0.0, 1.0, n)
    values[: n // 3] = values[-1]  # ties too
    q = (0, 10, 25, 50, 75, 90, 100)
    np.testing.assert_array_equal(metrics.percentiles(values, q), np.percentile(values, q))
    np.testing.assert_array_equal(
        metrics.percentiles(values, metrics.SKILL_PERCENTILES),
        np.percentile(values, metrics.SKILL_PERCENTILES),
    )


def test_a_percentile_halfway_between_two_values_is_numpys_to_the_last_bit():
    values = np.array([0.1, 0.7, 0.9])  # the 25th: halfway between 0.1 and 0.7
    assert metrics.percentiles(values, [25])[0] == np.percentile(values, 25)
    assert np.percentile(values, 25) == 0.7 - (0.7 - 0.1) * 0.5 != 0.1 + (0.7 - 0.1) * 0.5


def test_measured_months_count_from_the_end_of_burn_in(make_config):
    model = SimpleNamespace(config=SimpleNamespace(burn_in=12))
    assert metrics.measured(model, 12) == 0
    assert metrics.measured(model, 13) == 1
    np.testing.assert_array_equal(metrics.measured(model, np.array([0, 30])), [-12, 18])


@pytest.fixture(scope="module")
def closed_run():
    return run_scenario(
        [
            "population.customers=2000",
            "months=12",
            "burn_in=3",
            "seed=2",
            "strategy=[outlet_closure]",
        ]
    )


def test_the_leavers_table_adds_up_to_the_runs_exits_and_value_lost(closed_run):
    """Every way of grouping the leavers gives the time series' exits and the summary's value
    lost: by reason, tier and segment, and in all."""
    leavers, ts, s = closed_run.leavers, closed_run.timeseries, closed_run.summary
    assert set(leavers["reason"]) >= {"switched", "closure", "natural"}
    close = dict(rel=1e-9, abs=1e-6)
    for reason, n in leavers.groupby("reason", observed=False)["exits"].sum().items():
        assert n == pytest.approx(ts[f"exit_{reason}"].sum(), **close)
    for column in ("tier", "segment"):
        for name, n in leavers.groupby(column, observed=False)["exits"].sum().items():
            assert n == pytest.approx(ts[f"exits_{name}"].sum(), **close)
    lost = leavers.groupby("reason", observed=False)["value_lost"].sum()
    for reason, value in lost.items():
        assert value == pytest.approx(s[f"value_lost_{reason}"], **close)
    assert (
        leavers["value_lost"].sum() == pytest.approx(s["value_lost"], **close) and lost.gt(0).all()
    )


def test_leavers_are_placed_in_their_own_branchs_catchment_and_on_the_city_grid(closed_run):
    leavers, branches = closed_run.leavers, closed_run.branches
    own = set(branches.loc[branches["opened_month"].isna(), "branch"])
    assert set(leavers["catchment"]) <= own and len(set(leavers["catchment"])) == len(own)
    closed = set(branches.loc[branches["closed_month"].notna(), "branch"])
    assert closed and closed <= set(leavers["catchment"])  # a closed branch keeps its catchment
    for axis in ("area_x", "area_y"):
        assert leavers[axis].between(0, metrics.AREAS - 1).all() and leavers[axis].nunique() > 3
    assert set(leavers["banks_by"]) == {"branch", "digital"}
    assert not leavers.duplicated(list(metrics.LEAVER_GROUPS)).any()
