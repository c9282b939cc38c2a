"""The two engines of the customers' month agree, and the compiled one is cached and touches only
customers still with the bank.

How close: the same customers leave in the same months for the same reasons, and hold the same
products and tiers; money and the other float KPIs agree to 1e-5 relative. Not bit for bit: the
kernel computes each formula in the same float32/float64 types and order as the NumPy code, but
NumPy's vectorised float32 exp and log differ from the C library's in the last bit for about a
third of inputs, so float states differ by an ulp or so. A draw that falls within an ulp of its
threshold could flip an exit; over these runs none does (and at a few million draws per run, one
would be a rare event). See sim/engines.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.api import run_scenario
from sim.model import BankModel

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {
    "baseline": {},
    "playbook": {
        name: {}
        for name in (
            "partner_promotion",
            "mentoring",
            "training",
            "follow_up",
            "lean_service",
            "digital_scenario",
            "product_innovation",
            "branch_experience",
        )
    },
    "closure": {"outlet_closure": {}},
}
EXACT = ["customer_id", "customer_key", "tier", "products", "left_month", "exit_reason", "branch"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_numba_engine_gives_the_numpy_engines_exits_and_kpis(make_config, changed, scenario):
    cfg = make_config(customers=2500, months=18, burn_in=6, seed=5, strategy=SCENARIOS[scenario])
    ref = run_scenario(changed(cfg, {"engine": "numpy"}))
    fast = run_scenario(changed(cfg, {"engine": "numba"}))
    assert ref.run_id != fast.run_id  # the engine is part of what a run is
    pd.testing.assert_frame_equal(ref.panel[EXACT], fast.panel[EXACT], check_exact=True)
    assert (ref.panel["left_month"].notna()).sum() > 100  # plenty of exits compared
    for column, cents in (("aum", 0.01), ("satisfaction", 0), ("engagement", 0), ("age", 0)):
        np.testing.assert_allclose(  # the panel rounds AUM to the cent
            fast.panel[column], ref.panel[column], rtol=1e-5, atol=cents + 1e-6
        )
    pd.testing.assert_frame_equal(fast.timeseries, ref.timeseries, rtol=1e-5, atol=1e-6)
    counts = [c for c in ref.timeseries if c.startswith(("exit_", "exits_", "new_", "agents"))]
    pd.testing.assert_frame_equal(fast.timeseries[counts], ref.timeseries[counts], rtol=1e-9)


def test_numba_engine_leaves_leavers_untouched(make_config):
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


def test_compiled_kernels_are_cached_for_the_next_process(tmp_path):
    """A second process loads the machine code from the cache instead of compiling again."""
    script = (
        "from sim import kernels\n"
        "from sim.api import run_scenario\n"
        "run_scenario(['population.customers=300', 'months=2', 'burn_in=0', 'engine=numba'])\n"
        "stats = [kernels.customer_month.stats, kernels.tally.stats]\n"
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
