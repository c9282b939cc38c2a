"""The CRM extract: the customers active at a reference month, as they were then, and whether,
when and why they left within the horizon."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import metrics
from sim.api import run_scenario
from sim.customers import EXIT_REASONS
from sim.model import BankModel
from sim.params import ConfigError


def test_extract_matches_a_snapshot_taken_at_the_reference_month(make_config):
    cfg = make_config(
        {"output.crm_reference_month": 4, "output.crm_horizon_months": 6},
        customers=2000,
        burn_in=3,
        months=12,
        seed=1,
    )
    model = BankModel(cfg)
    reference = cfg.burn_in + 4
    for _ in range(reference):
        model.step()
    c = model.customers
    active = c.active.copy()
    ours = {name: getattr(c, name)[active].copy() for name in metrics.CRM_COLUMNS}
    for _ in range(cfg.months - 4):
        model.step()
    x = metrics.crm_extract(model)

    assert len(x) == int(active.sum()) and x["customer_id"].is_unique
    assert (x["customer_id"].to_numpy() == ours["id"]).all()
    assert (x["customer_key"].to_numpy() == ours["key"]).all()
    assert (x["reference_month"] == 4).all()
    for column, name in [
        ("weight", "weight"),
        ("products", "products"),
        ("engagement", "engagement"),
        ("satisfaction", "satisfaction"),
        ("digital", "digital"),
        ("complaints", "complaints"),
        ("branch", "branch"),
    ]:
        assert (x[column].to_numpy() == ours[name]).all(), column
    np.testing.assert_allclose(x["aum"], ours["aum"].round(2))
    assert (x["tier"].cat.codes.to_numpy() == ours["tier"]).all()
    assert (x["tenure_months"].to_numpy() == reference - ours["joined"]).all()
    assert (x["months_since_use"].to_numpy() == reference - ours["last_used"]).all()
    assert (x["has_manager"].to_numpy() == (ours["manager"] >= 0)).all()
    desk = x["manager_desk"].to_numpy(dtype=float, na_value=-1.0)
    assert (desk == ours["manager"]).all()
    threshold = np.float32(cfg.behaviour.engagement_threshold)
    assert (x["engaged"].to_numpy() == (ours["engagement"] >= threshold)).all()
    # The columns at the end of the run differ: the extract is as of the reference month.
    assert not np.array_equal(x["aum"].to_numpy(), model.customers.everyone()["aum"][: len(x)])

    # Outcomes: who left in the 6 months after the reference, when and why.
    everyone = model.customers.everyone()
    left = everyone["left"][np.searchsorted(everyone["id"], ours["id"])]
    within = (left > reference) & (left <= reference + 6)
    assert (x["churned"].to_numpy() == within).all()
    assert (
        x["months_to_exit"].to_numpy(dtype=float, na_value=0)
        == np.where(within, left - reference, 0)
    ).all()
    assert (x["exit_reason"].notna() == x["churned"]).all()
    assert (x["observed_months"] == 6).all()


def test_churn_equals_cohort_attrition_and_engaged_members_leave_too(make_config):
    """Reference at the end of burn-in: the extract is the cohort, its 12-month churn (real
    customers) is one minus the cohort's 12-month retention, and engaged members leave too."""
    result = run_scenario(make_config(customers=4000, burn_in=12, months=24, seed=3))
    x, s = result.crm_extract, result.summary
    weight = x["weight"].astype(float)
    assert weight.sum() == pytest.approx(s.customers_start, rel=1e-6)
    churn = weight[x["churned"]].sum() / weight.sum()
    assert churn == pytest.approx(1.0 - s.retention_12m, abs=1e-9)
    engaged = x["engaged"]
    churn_engaged = weight[x["churned"] & engaged].sum() / weight[engaged].sum()
    churn_disengaged = weight[x["churned"] & ~engaged].sum() / weight[~engaged].sum()
    assert 0.0 < churn_engaged < churn_disengaged
    reasons = set(x.loc[x["churned"], "exit_reason"].astype(str))
    assert "switched" in reasons and reasons <= set(EXIT_REASONS[1:])
    # The panel's flag says what it is: leavers carry their state from before they left.
    panel = result.panel
    gone = panel["left_month"].notna()
    assert panel.loc[gone, "engaged_at_exit_or_end"].mean() > 0.3


def test_saved_and_switched_off(make_config, changed, tmp_path):
    cfg = make_config(customers=500, burn_in=2, months=6)
    result = run_scenario(cfg)
    folder = result.save(tmp_path)
    saved = pd.read_parquet(folder / "crm_extract.parquet")
    pd.testing.assert_frame_equal(saved, result.crm_extract)
    assert (saved["observed_months"] == 6).all()  # the run ends before the 12-month horizon
    off = run_scenario(changed(cfg, {"output.crm_extract": False}))
    assert off.crm_extract is None
    assert not (off.save(tmp_path / "off") / "crm_extract.parquet").exists()
    pd.testing.assert_frame_equal(off.timeseries, result.timeseries)  # output only


def test_reference_after_the_run_is_refused(make_config):
    with pytest.raises(ConfigError, match="output.crm_reference_month"):
        make_config({"output.crm_reference_month": 7}, months=6)
