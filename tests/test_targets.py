"""Calibration targets: the quantities of a CRM extract, targets files and the targets CLI."""

import math
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from sim import targets
from sim.kpis import REGISTRY
from sim.params import ConfigError

# 6 customers (one inactive row, left out); weights make the figures differ from unweighted ones
EXTRACT = pd.DataFrame(
    {
        "customer_id": ["a", "b", "c", "d", "e", "f"],
        "age": [30, 40, 50, 60, 70, 80],
        "weight": [1.0, 3.0, 2.0, 1.0, 4.0, 9.0],
        "aum": [10_000.0, 40_000.0, 600_000.0, 7_000_000.0, 100_000.0, 1.0],
        "products": [1, 2, 4, 5, 1, 1],
        "tenure_months": [3, 24, 150, 60, 11, 5],
        "churned": [True, False, True, False, True, True],
        "exit_reason": ["natural", None, "switched", None, "switched", "natural"],
        "active": [True, True, True, True, True, False],
    }
)


def test_quantities_are_the_weighted_figures_of_the_extract():
    q = targets.quantities(EXTRACT)
    w_all = 1 + 3 + 2 + 1 + 4
    assert q["attrition"] == pytest.approx((1 + 2 + 4) / w_all)
    assert q["attrition_mass"] == pytest.approx(1 / 4)  # aum < 50k: weights 1 (left) and 3
    assert q["attrition_mid"] == pytest.approx(1.0)  # 100k: weight 4, left
    assert q["attrition_high"] == pytest.approx(1.0)
    assert q["attrition_private"] == 0.0
    assert q["attrition_affluent"] == pytest.approx(2 / 3)
    assert q["affluent_vs_mass"] == pytest.approx((2 / 3) / (1 / 4))
    assert q["attrition_1_product"] == pytest.approx(1.0)
    assert q["attrition_2_products"] == 0.0
    assert math.isnan(q["attrition_3_products"])  # nobody holds 3: an empty group
    assert q["attrition_4_products"] == pytest.approx(2 / 3)  # 4 and 5 products
    assert q["attrition_year1"] == pytest.approx(1.0)  # tenure 3 and 11
    assert q["attrition_1_3y"] == 0.0
    assert q["attrition_3_10y"] == 0.0
    assert q["attrition_10y"] == pytest.approx(1.0)
    assert q["year1_vs_10y"] == pytest.approx(1.0)
    assert q["natural_exits"] == pytest.approx(1 / w_all)
    assert q["products"] == pytest.approx((1 + 6 + 8 + 5 + 4) / w_all)
    aum = 10_000 + 120_000 + 1_200_000 + 7_000_000 + 400_000
    assert q["aum_attrition"] == pytest.approx((10_000 + 1_200_000 + 400_000) / aum)
    assert q["affluent_share"] == pytest.approx(3 / w_all)
    assert q["affluent_aum_share"] == pytest.approx(8_200_000 / aum)
    assert q["private_share"] == pytest.approx(1 / w_all)
    assert q["private_aum_share"] == pytest.approx(7_000_000 / aum)


def test_balance_stands_for_aum_and_weight_defaults_to_one():
    plain = EXTRACT.drop(columns=["weight", "active"]).rename(columns={"aum": "balance"})
    assert targets.quantities(plain)["attrition"] == pytest.approx(4 / 6)


def test_sampling_error_uses_the_effective_sample_size():
    e = targets.estimates(EXTRACT)["attrition"]
    w = [1.0, 3.0, 2.0, 1.0, 4.0]
    n_eff = sum(w) ** 2 / sum(x * x for x in w)
    assert e.n_eff == pytest.approx(n_eff)
    assert e.se == pytest.approx(math.sqrt(e.value * (1 - e.value) / n_eff))


def test_monthly_kpis_are_registered_kpis_and_monthly_columns():
    from sim.api import run_scenario

    columns = run_scenario(["population.customers=300", "burn_in=0", "months=1"]).timeseries
    for name in targets.MONTHLY_KPIS:
        assert name in REGISTRY and name in columns, name


def write(path, doc):
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"attrition_weekly": {"lo": 0.1, "hi": 0.2}}, "targets.attrition_weekly is not a known"),
        ({"attrition": {"lo": 0.2, "hi": 0.1}}, "targets.attrition: lo=0.2 is not below hi=0.1"),
        ({"attrition": {"lo": 0.1}}, "targets.attrition.hi is missing"),
        ({"attrition": {"lo": 0.1, "hi": "x"}}, "targets.attrition.hi='x' is not a finite"),
        ({"attrition": {"lo": 0.1, "hi": 0.2, "value": 0.3}}, "value=0.3 is outside"),
        ({"kpi.npv": {"lo": 0, "hi": 1}}, "targets.kpi.npv is not a known"),
        ({}, "targets is missing"),
    ],
)
def test_a_bad_targets_file_is_refused_in_one_line_naming_file_and_key(tmp_path, spec, message):
    path = write(tmp_path / "t.yaml", {"targets": spec})
    with pytest.raises(ConfigError) as info:
        targets.read_targets(path)
    text = str(info.value)
    assert message in text and str(path) in text and "\n" not in text


def test_a_target_without_value_takes_the_midpoint(tmp_path):
    path = write(tmp_path / "t.yaml", {"targets": {"kpi.satisfaction": {"lo": 0.5, "hi": 0.7}}})
    target = targets.read_targets(path).targets["kpi.satisfaction"]
    assert target.value == pytest.approx(0.6) and target.half_width == pytest.approx(0.1)


def test_default_targets_are_named_and_midpoints():
    found = targets.read_targets(targets.resolve("synthetic"))
    assert (
        len(found.targets) == 19
    )  # 15 from an extract, 4 books checks (cost_income_ratio among them)
    assert found.targets["attrition"].value == pytest.approx(0.125)
    with pytest.raises(ConfigError, match="targets='nope' is unknown"):
        targets.resolve("nope")


def test_bootstrap_draws_spread_as_the_sampling_error():
    """Unweighted, the standard errors are exact (Kish's approximation is not involved)."""
    extract = pd.concat([EXTRACT.drop(columns=["weight"])] * 100, ignore_index=True)
    x = targets.columns(extract)
    draws = targets.bootstrap(x, 500, seed=3)
    assert draws.shape == (500, len(targets.DATA))
    for name in ("attrition", "attrition_mass", "products", "affluent_share"):
        se = targets.estimates(extract)[name].se
        assert draws[name].std() == pytest.approx(se, rel=0.1), name
    assert draws.equals(targets.bootstrap(x, 500, seed=3))  # seeded


def cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "sim.targets", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def test_cli_without_out_writes_under_results(tmp_path):
    extract = pd.concat([EXTRACT] * 10, ignore_index=True).assign(customer_id=range(60))
    extract.to_csv(tmp_path / "crm.csv", index=False)
    proc = cli(tmp_path / "crm.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = tmp_path / "results" / "targets" / "crm.yaml"
    assert f"written to {written.relative_to(tmp_path)}" in proc.stdout
    assert targets.read_targets(written).targets["attrition"].value == pytest.approx(7 / 11)


def test_cli_writes_a_targets_file_with_bands_from_sampling_error(tmp_path):
    extract = pd.concat([EXTRACT] * 50, ignore_index=True)
    extract["customer_id"] = range(len(extract))
    extract.to_csv(tmp_path / "crm.csv", index=False)
    proc = cli(tmp_path / "crm.csv", "--out", tmp_path / "t.yaml")
    assert proc.returncode == 0, proc.stderr
    assert "attrition_3_products: skipped (empty group)" in proc.stdout
    doc = yaml.safe_load((tmp_path / "t.yaml").read_text())
    assert doc["source"]["rows"] == 250 and doc["source"]["real_customers"] == 550
    a = doc["targets"]["attrition"]
    e = targets.estimates(extract)["attrition"]
    assert a["value"] == pytest.approx(7 / 11, rel=1e-5)
    assert a["hi"] - a["value"] == pytest.approx(max(2 * e.se, 0.05 * e.value), rel=1e-4)
    assert set(targets.read_targets(tmp_path / "t.yaml").targets) == set(doc["targets"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda df: df.drop(columns=["churned"]), "column churned: missing column"),
        (lambda df: df.drop(columns=["aum"]), "column aum: missing column (or balance)"),
        (lambda df: df.assign(products="many"), "row 1, column products: 'many' is not a number"),
        (lambda df: df.assign(churned="maybe"), "row 1, column churned: 'maybe' is not true or"),
        (lambda df: df.assign(aum=-1.0), "row 1, column aum: -1.0 is below 0"),
    ],
)
def test_cli_refuses_a_bad_extract_in_one_line_writing_nothing(tmp_path, change, message):
    change(EXTRACT).to_parquet(tmp_path / "crm.parquet")
    proc = cli(tmp_path / "crm.parquet", "--out", tmp_path / "t.yaml")
    assert proc.returncode == 2
    assert message in proc.stderr and "crm.parquet" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "t.yaml").exists()
