"""A bank from files: round trip through a CRM extract, the branch file's sites, staff, costs and
openings, and every kind of bad input refused with the file, the row and the column."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import sim.run
from sim import bankdata, metrics
from sim.api import run_scenario
from sim.config import TIER_BOUNDS, TIERS
from sim.model import BankModel
from sim.params import ConfigError
from sim.scenario import load_config, run_id

SMALL = ["population.customers=3000", "months=12", "seed=5"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A simulated bank's CRM extract and branch table, written as a bank would export them."""
    folder = tmp_path_factory.mktemp("bank")
    result = run_scenario(SMALL)
    extract = result.crm_extract
    labels = np.array([f"B{i}" for i in result.branches["branch"]])
    customers = extract.assign(branch=labels[extract["branch"]])
    customers.to_csv(folder / "customers.csv", index=False)
    branches = result.branches.assign(branch=labels)[["branch", "x", "y"]]
    branches.to_csv(folder / "branches.csv", index=False)
    return folder, extract


def files(folder, **names):
    return [f"bank.data.{key}={folder / name}" for key, name in names.items()]


def weighted_mix(values, weight, categories):
    total = weight.sum()
    return np.array([weight[values == c].sum() / total for c in categories])


def test_round_trip_keeps_the_mix_of_the_extract(exported):
    folder, extract = exported
    config = load_config(
        [*SMALL, *files(folder, customers="customers.csv", branches="branches.csv")]
    )
    model = BankModel(config)
    c = model.customers
    w, ew = c.weight.astype(np.float64), extract["weight"].to_numpy(np.float64)
    segments = model.segment_names
    simulated = weighted_mix(np.asarray(segments)[c.segment], w, segments)
    assert (
        np.abs(simulated - weighted_mix(extract["segment"].astype(str), ew, segments)).max() < 0.03
    )
    tiers = weighted_mix(np.asarray(TIERS)[c.tier], w, TIERS)
    assert np.abs(tiers - weighted_mix(extract["tier"].astype(str), ew, TIERS)).max() < 0.03
    affluent = (c.aum * w)[c.aum >= TIER_BOUNDS[1]].sum() / (c.aum * w).sum()
    e_aum = extract["aum"].to_numpy()
    e_affluent = (e_aum * ew)[e_aum >= TIER_BOUNDS[1]].sum() / (e_aum * ew).sum()
    assert abs(affluent - e_affluent) < 0.06
    assert np.average(c.products, weights=w) == pytest.approx(
        np.average(extract["products"], weights=ew), abs=0.06
    )
    assert np.average(-c.joined, weights=w) == pytest.approx(
        np.average(extract["tenure_months"], weights=ew), rel=0.1
    )
    assert w.sum() == pytest.approx(ew.sum(), rel=1e-5)  # the bank's size, exactly
    assert len(model.branches) == config.bank.branches == 12


def test_branches_keep_their_share_of_the_book(exported):
    """Homes are drawn around each row's branch, so each branch keeps about its share."""
    folder, extract = exported
    files_ = files(folder, customers="customers.csv", branches="branches.csv")
    more = "population.customers=12000"  # resampling noise well below the tolerance
    c = BankModel(load_config([*SMALL, *files_, more])).customers
    simulated = np.bincount(c.branch, weights=c.weight, minlength=12) / c.weight.sum()
    ew = extract["weight"].to_numpy(np.float64)
    exported_share = np.bincount(extract["branch"], weights=ew, minlength=12) / ew.sum()
    assert np.abs(simulated - exported_share).max() < 0.04


def test_without_segment_column_segments_are_inferred(exported, tmp_path):
    folder, extract = exported
    extract.drop(columns=["segment"]).to_csv(tmp_path / "customers.csv", index=False)
    model = BankModel(load_config([*SMALL, f"bank.data.customers={tmp_path / 'customers.csv'}"]))
    names = np.asarray(model.segment_names)[model.customers.segment]
    retiree_age = model.customers.age[names == "retiree"]
    assert retiree_age.mean() > 60  # the age profile picks the retirees out
    share = np.mean(names == "retiree")
    assert 0.1 < share < 0.35


def test_lat_lon_sites_keep_their_distances(tmp_path):
    pd.DataFrame(
        {"branch": ["a", "b", "c"], "lat": [30.0, 30.1, 30.0], "lon": [114.0, 114.0, 114.1]}
    ).to_csv(tmp_path / "b.csv", index=False)
    config = load_config([f"bank.data.branches={tmp_path / 'b.csv'}"])
    sites = bankdata.load(config).branches[["x", "y"]].to_numpy()
    assert np.hypot(*(sites[1] - sites[0])) == pytest.approx(11.12, abs=0.02)
    assert np.hypot(*(sites[2] - sites[0])) == pytest.approx(
        11.12 * np.cos(np.radians(30)), abs=0.02
    )
    assert config.bank.branches == 3


def test_branch_file_sets_costs_staff_capacity_and_openings(tmp_path):
    pd.DataFrame(
        {
            "branch": ["n", "s", "e", "late"],
            "x": [10.0, 20.0, 15.0, 5.0],
            "y": [10.0, 10.0, 20.0, 25.0],
            "cost": [2e6, 3e6, "", 1e6],
            "capacity": ["", 900.0, "", ""],
            "staff": [3, 2, 1, 0],
            "opening_month": [0, -24, 0, 2],
        }
    ).to_csv(tmp_path / "b.csv", index=False)
    config = load_config(
        [
            "population.customers=2000",
            "burn_in=1",
            "months=4",
            f"bank.data.branches={tmp_path / 'b.csv'}",
        ]
    )
    assert (config.bank.branches, config.bank.managers) == (3, 6)
    model = BankModel(config)
    branches = model.branch_list()
    assert [b.label for b in branches] == ["n", "s", "e"]
    assert [b.cost for b in branches] == [2e6, 3e6, config.bank.branch_cost]
    assert branches[1].capacity == 900.0
    assert np.bincount([m.branch for m in model.managers]).tolist() == [3, 2, 1]
    model.run()
    table = metrics.branches(model)
    assert table["label"].tolist() == ["n", "s", "e", "late"]
    assert table["opened_month"].iloc[3] == 2
    assert np.any(model.customers.branch == 3)  # the new branch took over its catchment


def test_the_example_bank_runs(tmp_path):
    result = run_scenario(
        ["bank=city_bank", "population.customers=2000", "months=6"], save=tmp_path
    )
    record = json.loads(next(tmp_path.rglob("provenance.json")).read_text())
    assert record["bank_files_sha256"]["bank.data.customers"] == bankdata.digest(
        bankdata.path_of("examples/city_bank/customers.csv")
    )
    assert result.config.bank.branches == 12
    assert result.summary["customers_start"] > 150_000  # its extract's ~200k real customers
    assert set(result.config.population.segments) == {
        "young_professional",
        "family",
        "business_owner",
        "retiree",
        "farmer",
    }
    assert result.config.population.segments["retiree"].share == pytest.approx(0.26)


def test_run_id_follows_the_files_content(exported, tmp_path):
    folder, _ = exported
    table = pd.read_csv(folder / "branches.csv")
    table.to_csv(tmp_path / "b.csv", index=False)
    before = run_id(load_config([f"bank.data.branches={tmp_path / 'b.csv'}"]))
    assert run_id(load_config([f"bank.data.branches={tmp_path / 'b.csv'}"])) == before
    table.assign(x=table["x"] + 0.5).to_csv(tmp_path / "b.csv", index=False)
    assert run_id(load_config([f"bank.data.branches={tmp_path / 'b.csv'}"])) != before


def test_a_config_value_the_file_decides_is_refused(exported):
    folder, _ = exported
    with pytest.raises(ConfigError, match="bank.branches is set in the config and read from"):
        load_config([*files(folder, branches="branches.csv"), "bank.branches=5"])


# ------------------------------------------------------------------------------------------------
# Bad input: one line naming the file, the row and the column
# ------------------------------------------------------------------------------------------------

CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["c1", "c2", "c3"],
        "age": [30, 45, 70],
        "tenure_months": [5, 60, 200],
        "products": [1, 2, 3],
        "aum": [1000.0, 80000.0, 900000.0],
        "branch": ["a", "b", "a"],
    }
)
BRANCHES = pd.DataFrame({"branch": ["a", "b"], "x": [5.0, 20.0], "y": [5.0, 20.0]})
SEGMENTS = pd.DataFrame(
    {"segment": ["young", "old"], "share": [0.5, 0.5], "age_mean": [30.0, 65.0]}
)


def edit(frame, row=None, column=None, value=None, drop=None):
    frame = frame.copy()
    if drop:
        return frame.drop(columns=[drop])
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    return frame


BAD = {
    "missing column": ("customers", edit(CUSTOMERS, drop="age"), "column age: missing column"),
    "wrong type": (
        "customers",
        edit(CUSTOMERS, 1, "products", "two"),
        "line 3, column products: 'two' is not a number",
    ),
    "negative balance": (
        "customers",
        edit(CUSTOMERS, 2, "aum", -5.0),
        "line 4, column aum: '-5.0' is below 0",
    ),
    "unknown branch": (
        "customers",
        edit(CUSTOMERS, 1, "branch", "z"),
        "line 3, column branch: 'z' is not a branch of the branch file",
    ),
    "duplicate id": (
        "customers",
        edit(CUSTOMERS, 2, "customer_id", "c1"),
        "line 4, column customer_id: 'c1' appears twice",
    ),
    "fractional products": (
        "customers",
        edit(CUSTOMERS, 0, "products", 1.5),
        "line 2, column products: '1.5' is not a whole number",
    ),
    "empty age": ("customers", edit(CUSTOMERS, 0, "age", ""), "line 2, column age: is empty"),
    "site outside the map": (
        "branches",
        edit(BRANCHES, 1, "x", 45.0),
        "line 3, column x: site at 45.0 km is outside the map",
    ),
    "shares off": (
        "segments",
        edit(SEGMENTS, 1, "share", 0.4),
        "column share: shares sum to 0.9; they must sum to 1",
    ),
    "range": (
        "segments",
        edit(SEGMENTS, 0, "age_mean", 12.0),
        "line 2, column age_mean: '12.0' is below 18",
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_refused_in_one_line(case, tmp_path):
    which, frame, expected = BAD[case]
    good = {"customers": CUSTOMERS, "branches": BRANCHES}
    if which == "segments":
        good = {"segments": SEGMENTS}
    good[which] = frame
    overrides = []
    for name, table in good.items():
        table.to_csv(tmp_path / f"{name}.csv", index=False)
        overrides.append(f"bank.data.{name}={tmp_path / f'{name}.csv'}")
    with pytest.raises(ConfigError) as error:
        load_config(overrides)
    message = str(error.value)
    assert "\n" not in message
    assert f"{tmp_path / (which + '.csv')}: " in message
    assert expected in message


def test_a_bad_file_stops_a_run_before_any_work(tmp_path):
    edit(CUSTOMERS, 2, "aum", -5.0).to_csv(tmp_path / "c.csv", index=False)
    out = tmp_path / "runs"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.run",
            f"bank.data.customers={tmp_path / 'c.csv'}",
            f"output.dir={out}",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "column aum: '-5.0' is below 0" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_missing_file_and_unknown_type(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config([f"bank.data.customers={tmp_path / 'nope.csv'}"])
    (tmp_path / "c.xlsx").write_text("x")
    with pytest.raises(ConfigError, match="unknown file type '.xlsx'"):
        load_config([f"bank.data.customers={tmp_path / 'c.xlsx'}"])


def test_parquet_rows_are_counted_from_one(tmp_path):
    edit(CUSTOMERS, 1, "age", 130.0).to_parquet(tmp_path / "c.parquet")
    with pytest.raises(ConfigError, match=r"c.parquet: row 2, column age: 130.0 is above 110"):
        load_config([f"bank.data.customers={tmp_path / 'c.parquet'}"])


# ------------------------------------------------------------------------------------------------
# The extract's size in words, and a warning when the branch network does not fit the book
# ------------------------------------------------------------------------------------------------

EXAMPLE = "examples/city_bank"
EXAMPLE_FILES = [
    f"bank.data.branches={EXAMPLE}/branches.csv",
    f"bank.data.segments={EXAMPLE}/segments.csv",
]


def example(name: str) -> pd.DataFrame:
    return pd.read_csv(bankdata.path_of(f"{EXAMPLE}/{name}.csv"))


@pytest.fixture
def told(monkeypatch, caplog):
    """What ``sim.bankdata`` logs from a fresh process's start: (level, message) pairs."""
    monkeypatch.setattr(bankdata, "TOLD", set())
    caplog.set_level("INFO", logger="sim.bankdata")
    return lambda: [(r.levelname, r.getMessage()) for r in caplog.records]


@pytest.fixture
def weightless(tmp_path):
    """The example extract without its weight column: each row then stands for 1 customer."""
    example("customers").drop(columns=["weight"]).to_csv(tmp_path / "customers.csv", index=False)
    return [*EXAMPLE_FILES, f"bank.data.customers={tmp_path / 'customers.csv'}"]


def test_the_example_bank_is_stated_with_its_size_and_no_warning(told):
    load_config(["bank=city_bank"])
    load_config(["bank=city_bank", "seed=1"])  # a second run of the same command: said once
    weight = example("customers")["weight"]
    assert 150_000 < weight.sum() < 220_000  # "about 180,000 customers"
    assert told() == [
        (
            "INFO",
            f"{EXAMPLE}/customers.csv: {len(weight):,} active rows standing for"
            f" {weight.sum():,.0f} real customers (weights 1.6 to 160) in 13 branches (12 open"
            " at the start)",
        )
    ]


def test_an_extract_without_weights_is_stated_and_its_network_warned_of(told, weightless):
    config = load_config(weightless)
    rows = len(example("customers"))
    (level, statement), (warned, warning) = told()
    assert level == "INFO" and statement.endswith(
        f"customers.csv: {rows:,} real customers in 13 branches (12 open at the start); each row"
        " stands for 1 customer because the file has no weight column"
    )
    cost = example("branches").query("opening_month <= 0")["cost"].sum()
    margin = bankdata.yearly_margin(config, bankdata.load(config).customers)
    assert cost > margin > 0.5 * cost  # the affluent rows stand for 1 customer too: rich ones
    assert warned == "WARNING" and warning.endswith(
        f"customers.csv: the 12 branches open at the start cost CNY {cost / 1e6:.1f} M a year"
        f" while the {rows:,} real customers bring about CNY {margin / 1e6:.1f} M of margin a"
        f" year; at {rows / 12:,.0f} customers a branch (the synthetic bank's serve about 17,750)"
        f" the network is sized for a bank about {17_750 * 12 / rows:,.0f} times larger: add the"
        " weight column (real customers per row) if the extract is a sample"
    )


def test_a_network_far_too_small_for_its_book_is_warned_of(told, tmp_path):
    customers = example("customers")
    customers.assign(weight=customers["weight"] * 30).to_csv(tmp_path / "c.csv", index=False)
    load_config([*EXAMPLE_FILES, f"bank.data.customers={tmp_path / 'c.csv'}"])
    (_, statement), (warned, warning) = told()
    real = 30 * customers["weight"].sum()
    assert f"{real:,.0f} real customers (weights 48 to 4,800)" in statement
    assert warned == "WARNING" and f"serve {real / 12:,.0f} real customers each" in warning
    assert f"sized for a bank about {real / 12 / 17_750:,.0f} times smaller" in warning
    assert warning.endswith(
        "check the weights (real customers per row) and that the branch file counts every branch"
    )


def test_the_margin_warned_of_is_what_a_run_books(weightless):
    """The margin the warning quotes is the one the model books (loans left out)."""
    config = load_config([*weightless, "population.customers=5000", "months=1", "burn_in=0"])
    margin = bankdata.yearly_margin(config, bankdata.load(config).customers)
    month = run_scenario(config).timeseries.iloc[0]
    lines = ("deposit_margin", "wealth_fees", "payment_income")
    assert 12 * sum(month[f"revenue_{line}"] for line in lines) == pytest.approx(margin, rel=0.05)
    assert 12 * month["cost_branches"] > margin  # the branches cost more than the book brings


def test_sim_run_prints_the_statement_and_warning_once_for_a_sweep(
    told, weightless, tmp_path, capsys
):
    argv = ["sim.run", "-m", "seed=0,1", *weightless, "population.customers=1000", "months=1"]
    argv += ["burn_in=0", f"output.dir={tmp_path / 'runs'}"]
    old, sys.argv = sys.argv, argv
    try:
        sim.run.main()
    finally:
        sys.argv = old
    out = capsys.readouterr().out
    assert out.count("each row stands for 1 customer because the file has no weight column") == 1
    assert out.count("\nwarning: ") == 1 and "times larger: add the weight column" in out
    assert out.count("Run folder: ") == 2
