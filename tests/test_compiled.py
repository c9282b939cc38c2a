"""The customers' month is written once and compiled: the same code run as plain Python gives the
same exits and KPIs, the compiled code is cached and touches only customers still with the bank,
and the formulas that also run on whole columns give there what they give one customer.

Compiled and interpreted agree on every exit, product and tier; float states to 1e-5 relative (not
bit for bit: NumPy's float32 exp and the C library's differ in the last bit for some inputs).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import behaviour
from sim.api import run_scenario
from sim.mechanisms import books, engagement, service
from sim.model import BankModel

ROOT = Path(__file__).resolve().parent.parent
SMALL = [
    "population.customers=800",
    "months=9",
    "burn_in=1",
    "seed=5",
    "population.settle_months=6",
]
CLOSURE = [
    *SMALL,
    "strategy=outlet_closure",
    "strategy.outlet_closure.start=0",
    "strategy.outlet_closure.month=2",
]
EXACT = ["customer_id", "customer_key", "tier", "products", "left_month", "exit_reason", "branch"]
INTERPRETED = """
import pickle, sys
from sim.api import run_scenario
result = run_scenario(sys.argv[2:])
with open(sys.argv[1], "wb") as f:
    pickle.dump((result.panel, result.timeseries), f)
"""


def interpreted(overrides: list[str], folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A run with Numba's JIT off: every formula and kernel runs as the Python it reads as."""
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "PYTHONWARNINGS": "ignore"}
    path = folder / "tables.pickle"
    out = subprocess.run(
        [sys.executable, "-c", INTERPRETED, str(path), *overrides],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return pd.read_pickle(path)


@pytest.mark.parametrize("overrides", [SMALL, CLOSURE], ids=["baseline", "outlet_closure"])
def test_the_interpreted_code_gives_the_compiled_exits_and_kpis(overrides, tmp_path):
    panel, ts = interpreted(overrides, tmp_path)
    fast = run_scenario(overrides)
    pd.testing.assert_frame_equal(panel[EXACT], fast.panel[EXACT], check_exact=True)
    assert panel["left_month"].notna().sum() > 20  # exits compared
    for column in ("aum", "satisfaction", "engagement", "age"):
        np.testing.assert_allclose(panel[column], fast.panel[column], rtol=1e-5, atol=0.01)
    pd.testing.assert_frame_equal(ts, fast.timeseries, rtol=1e-5, atol=1e-6)


def test_leavers_are_left_untouched(make_config):
    """Customers who left are not drawn for or updated (only the decaying strategy shock)."""
    model = BankModel(make_config(customers=2000, months=12, burn_in=0, seed=2))
    for _ in range(6):
        model.step()
    c = model.customers
    gone = np.flatnonzero(~c.active)
    assert len(gone) > 20
    frozen = ("satisfaction", "engagement", "products", "aum", "trust", "attention", "last_used")
    before = {name: getattr(c, name)[gone].copy() for name in frozen}
    ids = c.id[gone].copy()
    model.step()
    rows = np.searchsorted(c.id, ids)  # rows move if leavers are archived; then nothing to check
    if np.array_equal(c.id[np.minimum(rows, c.n - 1)], ids):
        for name in frozen:
            assert np.array_equal(getattr(c, name)[rows], before[name]), name


def test_formulas_give_on_columns_what_they_give_one_customer():
    rng = np.random.default_rng(3)
    n = 200
    f32 = np.float32
    digital, near, wait = (rng.random(n).astype(f32) for _ in range(3))
    wait *= f32(60)
    aum = 10 ** rng.uniform(3, 8, n)
    share, loan, weight = rng.random(n).astype(f32), rng.random(n).astype(f32), f32(3) * digital
    columns = {
        "effort": behaviour.effort(digital, wait, near, f32(0.7)),
        "tier": behaviour.tier_index(aum),
        "visits": service.visits(f32(2.5), digital, weight),
        "engaged": engagement.engaged(near, f32(0.5)),
        "bases": np.stack(books.bases(share, aum, loan, weight)),
    }
    for i in range(n):
        one = {
            "effort": behaviour.effort(digital[i], wait[i], near[i], f32(0.7)),
            "tier": behaviour.tier_index(aum[i]),
            "visits": service.visits(f32(2.5), digital[i], weight[i]),
            "engaged": engagement.engaged(near[i], f32(0.5)),
            "bases": np.array(books.bases(share[i], aum[i], loan[i], weight[i])),
        }
        for name, value in one.items():
            column = columns[name][..., i]
            assert np.array_equal(column, value), (name, i, column, value)
    assert set(behaviour.tiers(aum)) == {0, 1, 2, 3}  # every tier drawn
    assert behaviour.tiers(aum).dtype == np.int8


def test_compiled_kernels_are_cached_for_the_next_process(tmp_path):
    """A second process loads the machine code from the cache instead of compiling again."""
    script = (
        "from sim import month\n"
        "from sim.api import run_scenario\n"
        "run_scenario(['population.customers=300', 'months=2', 'burn_in=0'])\n"
        "stats = [month.customer_month.stats, month._tally.stats]\n"
        "print(sum(sum(s.cache_hits.values()) for s in stats),"
        " sum(sum(s.cache_misses.values()) for s in stats))\n"
    )
    env = {"NUMBA_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def run() -> tuple[int, int]:
        out = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr[-2000:]
        hits, misses = map(int, out.stdout.split()[-2:])
        return hits, misses

    assert run() == (0, 2)  # an empty cache: both compiled
    assert run() == (2, 0)  # then both loaded
    assert any(tmp_path.rglob("*.nbi"))


def test_results_do_not_depend_on_the_threads(monkeypatch):
    """Rows are taken in fixed chunks and their sums added in order, whatever the threads."""
    from sim import month

    overrides = [
        "population.customers=40000",
        "months=3",
        "burn_in=0",
        "population.settle_months=2",
    ]
    assert month.CHUNK * 2 < 40000 * 1.2  # several chunks
    results = []
    for threads in (1, 2, 3):
        monkeypatch.setattr(month, "THREADS", threads)
        results.append(run_scenario(overrides))
    for other in results[1:]:
        pd.testing.assert_frame_equal(results[0].timeseries, other.timeseries, check_exact=True)
        pd.testing.assert_frame_equal(results[0].panel, other.panel, check_exact=True)
