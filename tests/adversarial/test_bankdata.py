"""A bank's own files, adversarially: size, shape and sanity are checked before any work.

An adversarial trial found a customers CSV with one 50 MB cell at 16 GB of memory (the opening
book copies its row's id to every agent drawn from it) and an extract weighing 1e9 real customers
a row at 12 GB (newcomers arrive in proportion to the bank's size); silently accepted: a one-row
extract behind 2,000 agents, weights of a millionth of a customer, a NUL byte in an id, a column
named twice, a file separated by semicolons; branches across the date line 20,029 km apart; and a
segment file with its own names refused over the skews of partners no strategy promotes. Each is
a regression test here; a refusal is one line naming the file, the line or row and the column.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from omegaconf import OmegaConf

from sim import bankdata
from sim.params import ConfigError
from sim.scenario import load_config, to_config

AGENTS = "population.customers=2000"


def extract(rows: int = 40, **columns) -> pd.DataFrame:
    """A valid CRM extract of ``rows`` customers (each standing for 100 real ones)."""
    k = np.arange(rows)
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in k],
            "age": 25 + k % 50,
            "tenure_months": k % 120,
            "products": 1 + k % 4,
            "aum": np.where(k % 4 == 0, 120_000.0, 8_000.0),
            "weight": 100.0,
        }
    )
    return frame.assign(**columns)


def refusal(tmp_path, text: str, key="customers", name="c.csv", agents=AGENTS) -> str:
    """The one-line refusal of a file with ``text`` as ``bank.data.<key>``."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config([agents, f"bank.data.{key}={path}"])
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    assert len(message) < 400
    return message


def csv_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False)


def test_a_valid_extract_loads(tmp_path):
    (tmp_path / "c.csv").write_text(csv_text(extract()))
    config = load_config([AGENTS, f"bank.data.customers={tmp_path / 'c.csv'}"])
    assert len(bankdata.load(config).customers) == 40


# Size ------------------------------------------------------------------------------------------


def test_a_50_mb_cell_is_refused_naming_its_line_and_column(tmp_path):
    frame = extract().astype({"customer_id": object})
    frame.loc[1, "customer_id"] = "x" * 50_000_000
    message = refusal(tmp_path, csv_text(frame))
    assert "line 3, column customer_id: 'xxxx" in message
    assert "has 50,000,000 characters; allowed 1,000" in message


def test_a_long_cell_of_an_ignored_column_is_let_be(tmp_path):
    (tmp_path / "c.csv").write_text(csv_text(extract(notes="n" * 5_000)))
    load_config([AGENTS, f"bank.data.customers={tmp_path / 'c.csv'}"])


def test_a_file_too_large_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(bankdata, "MAX_FILE_BYTES", 1_000_000)
    monkeypatch.setattr(pd, "read_csv", _not_read)
    message = refusal(tmp_path, csv_text(extract(notes="n" * 30_000)))
    assert message.endswith(": 1.2 MB; allowed at most 1 MB (sample the rows, with weights)")


@pytest.mark.parametrize("name", ["c.csv", "c.parquet"])
def test_too_many_rows_are_refused_before_they_are_read(tmp_path, monkeypatch, name):
    monkeypatch.setattr(bankdata, "MAX_ROWS", 39)
    path = tmp_path / name
    extract().to_csv(path, index=False) if name == "c.csv" else extract().to_parquet(path)
    monkeypatch.setattr(pd, "read_csv", _not_read)
    monkeypatch.setattr(pd, "read_parquet", _not_read)
    with pytest.raises(ConfigError, match=f"{name}: 40 rows; allowed at most 39 rows"):
        load_config([AGENTS, f"bank.data.customers={path}"])


def _not_read(*args, **kwargs):
    raise AssertionError("read although refused")


def test_a_parquet_file_small_on_disk_but_large_unpacked_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "c.parquet"
    ids = [f"{'c' * 500}{i}" for i in range(2_000)]  # compresses well, unpacks to ~1 MB
    extract(2_000, customer_id=ids).to_parquet(path, compression="zstd")
    meta = pq.ParquetFile(path).metadata
    unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    assert path.stat().st_size * 4 < unpacked
    monkeypatch.setattr(bankdata, "MAX_FILE_BYTES", unpacked // 2)
    with pytest.raises(ConfigError, match="MB unpacked; allowed at most"):
        load_config([AGENTS, f"bank.data.customers={path}"])


# Weights and the agents they make ----------------------------------------------------------------


def test_weights_of_a_billion_are_refused_and_the_run_exits_2(tmp_path):
    (tmp_path / "c.csv").write_text(csv_text(extract(weight=1e9)))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.run",
            AGENTS,
            f"bank.data.customers={tmp_path / 'c.csv'}",
            f"output.dir={tmp_path / 'runs'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "line 2, column weight: '1000000000.0' is above 1e+06" in done.stderr
    assert not (tmp_path / "runs").exists()


def test_a_bank_too_large_for_its_agents_weights_is_refused(tmp_path):
    """Weights of 1e6 a row pass the row's range; how many agents they need decides."""
    forty = csv_text(extract(weight=1e6))  # 4e7 real customers, ~4.5e6 agents at the weights
    (tmp_path / "ok.csv").write_text(forty)
    load_config([AGENTS, f"bank.data.customers={tmp_path / 'ok.csv'}"])
    message = refusal(tmp_path, forty, agents="population.customers=20")
    assert "so each of population.customers=20 simulated customers would stand for" in message
    assert "allowed 0.01 to 1e+06 each (the range of population.weights)" in message
    many = csv_text(extract(4_000, weight=1e5))
    message = refusal(tmp_path, many, agents="population.customers=100000")
    assert "column weight: the rows stand for 4e+08 real customers" in message
    assert "simulated ones at population.weights; allowed at most 10,000,000" in message


def test_weights_of_a_millionth_are_refused(tmp_path):
    message = refusal(tmp_path, csv_text(extract(weight=1e-6)))
    assert "line 2, column weight: '1e-06' is below 0.001" in message
    message = refusal(tmp_path, csv_text(extract(weight=1e-3)), name="d.csv")
    assert "column weight: the rows stand for 0.04 real customers, so each of" in message
    assert "allowed 0.01 to 1e+06 each (the range of population.weights)" in message


def test_a_one_row_extract_behind_2000_agents_is_refused(tmp_path):
    message = refusal(tmp_path, csv_text(extract(1)))
    assert "population.customers=2000 needs at least 20 active rows" in message
    assert "(at most 100 simulated customers per row); the file has 1: add rows or" in message
    (tmp_path / "c.csv").write_text(csv_text(extract(20)))  # 100 agents a row: allowed
    load_config([AGENTS, f"bank.data.customers={tmp_path / 'c.csv'}"])


# Shape and text ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["c\x001", "c\t1", "c\n1", "c\x7f1"])
def test_a_control_character_in_an_id_is_refused(tmp_path, bad):
    frame = extract().astype({"customer_id": object})
    frame.loc[0, "customer_id"] = bad
    message = refusal(tmp_path, csv_text(frame))
    assert f"line 2, column customer_id: {bad!r} holds a control character" in message


def test_a_control_character_in_a_branch_id_is_refused(tmp_path):
    text = "branch,x,y\na,5,5\nb\x00,20,20\n"
    message = refusal(tmp_path, text, key="branches", name="b.csv")
    assert "line 3, column branch: 'b\\x00' holds a control character" in message


def test_a_column_named_twice_is_refused(tmp_path):
    text = csv_text(extract()).replace("weight", "weight,weight", 1)
    text = "\n".join(line + ",1" if i else line for i, line in enumerate(text.splitlines()))
    message = refusal(tmp_path, text)
    assert message.endswith("line 1, column weight: appears twice; name each column once")


def test_a_parquet_column_named_twice_is_refused(tmp_path):
    path = tmp_path / "c.parquet"
    table = pa.Table.from_pandas(extract(), preserve_index=False)
    pq.write_table(table.append_column("age", pa.array(np.full(40, 30))), path)
    with pytest.raises(ConfigError, match="c.parquet: column age: appears twice"):
        load_config([AGENTS, f"bank.data.customers={path}"])


@pytest.mark.parametrize("separator", [";", "\t"])
def test_a_file_separated_otherwise_than_by_commas_says_so(tmp_path, separator):
    text = extract().to_csv(index=False, sep=separator)
    message = refusal(tmp_path, text)
    assert "line 1: one column 'customer_id" in message
    assert message.endswith(f"it looks separated by {separator!r}; use commas")


def test_a_header_without_end_is_refused(tmp_path):
    message = refusal(tmp_path, "a" * 100_000)
    assert message.endswith("line 1: longer than 65,536 bytes")


# Geography ---------------------------------------------------------------------------------------


def test_branches_across_the_date_line_keep_their_distance(tmp_path):
    """Fiji: two branches 0.04 degrees of longitude apart, on either side of 180 degrees."""
    path = tmp_path / "b.csv"
    pd.DataFrame({"branch": ["w", "e"], "lat": [-17.0, -17.0], "lon": [179.98, -179.98]}).to_csv(
        path, index=False
    )
    sites = bankdata.load(load_config([f"bank.data.branches={path}"])).branches
    km = np.hypot(*(sites[["x", "y"]].to_numpy()[1] - sites[["x", "y"]].to_numpy()[0]))
    assert km == pytest.approx(0.04 * 111.195 * np.cos(np.radians(17.0)), rel=1e-3)


def test_branches_half_the_world_apart_are_refused_in_plain_words(tmp_path):
    text = "branch,lat,lon\na,0,0\nb,0,90\n"
    message = refusal(tmp_path, text, key="branches", name="b.csv")
    assert "column lat/lon: site at" in message and "km is outside the map" in message


# Partner skews and a bank's own segment names -----------------------------------------------------

SEGMENTS = "segment,share,age_mean\nyoung,0.5,30\nold,0.5,65\n"


def test_own_segment_names_need_no_skews_without_a_partner_strategy(tmp_path):
    (tmp_path / "s.csv").write_text(SEGMENTS)
    config = load_config([f"bank.data.segments={tmp_path / 's.csv'}"])
    assert set(config.population.segments) == {"young", "old"}


def test_a_promoted_partner_needs_skews_naming_the_banks_segments(tmp_path):
    (tmp_path / "s.csv").write_text(SEGMENTS)
    segments = f"bank.data.segments={tmp_path / 's.csv'}"
    with pytest.raises(ConfigError) as error:
        load_config([segments, "strategy=partner_promotion"])
    message = str(error.value)
    assert "market.partners.supermarket.skew.family: unknown segment" in message
    assert "strategy.partner_promotion promotes supermarket; known: ['old', 'young']" in message
    own = {
        "bank": {"data": {"segments": str(tmp_path / "s.csv")}},
        "market": {"partners": {"grocer": {"skew": {"young": 2.0}}}},
        "strategy": {"partner_promotion": {"partners": ["grocer"]}},
    }
    config = to_config(OmegaConf.create(own))  # a bank config's own partner, promoted
    assert config.strategy["partner_promotion"].partners == ["grocer"]
    assert config.market.partners["grocer"].skew == {"young": 2.0}


def test_a_typo_in_a_skew_matters_only_when_the_partner_is_promoted():
    typo = "+market.partners.travel.skew.yuong=2.0"
    assert "yuong" in load_config([typo]).market.partners["travel"].skew
    with pytest.raises(ConfigError, match=r"travel.skew.yuong: unknown segment, and strategy\."):
        load_config([typo, "strategy=partner_promotion"])
