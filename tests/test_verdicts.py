"""Verdicts end to end: ``replications=auto`` (with a fake run function, then for real on a tiny
bank), stores whose runs lack the NPV parts, and verdicts that stay put on disjoint seed sets.

The stable-verdicts test runs a small comparison twice (3,000 customers, 6 + 24 months, three
arms, 20 seeds each time): about 20 s on 2 cores.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from made_up import made_up_run

from analysis.report import statistics
from analysis.stats import BETTER, NEGLIGIBLE, UNDECIDED, VERDICTS, WORSE
from experiments import compare as compare_module
from experiments.compare import prepare, run_experiment
from runner.executors import Outcome
from runner.store import load
from sim.kpis import NPV_PARTS
from sim.scenario import compose_config

TINY = ["population.customers=300", "months=6", "burn_in=2", "executor.workers=2"]
BATCH_LINE = re.compile(r"^(\d+) seeds: (\d+) of (\d+) verdicts on the decision KPIs undecided \(")


def prepared(args: list[str]):
    return prepare(compose_config(args, name="compare"), args)


def batches(out: str) -> list[tuple[int, int]]:
    """(seeds, undecided) of every batch the auto runner reported."""
    return [(int(m[1]), int(m[2])) for m in map(BATCH_LINE.match, out.splitlines()) if m]


# --------------------------------------------------------------------------------------------
# replications=auto with a fake run function
# --------------------------------------------------------------------------------------------

# arm -> (mean difference, alternating spread) of every KPI against the baseline, as a fraction
# of the baseline: "clear" is decided from the first batch, "slow" only once its interval has
# shrunk, "noise" never (its difference is 0 give or take far more than the smallest effect).
EFFECTS = {"baseline": (0.0, 0.0), "clear": (0.05, 0.01), "slow": (0.004, 0.006)}


def fake_summary(arm: str, seed: int, parts: bool) -> dict:
    mean, spread = EFFECTS[arm]
    shift = mean + spread * (-1) ** seed * (1 + seed % 3) / 2
    level = 0.8 + 0.01 * np.sin(seed)
    summary = {
        "retention_horizon": level * (1 + shift),
        "retention_mid_high": level * (1 + shift),
        "aum_retention": level * (1 + shift),
        "npv": -4e7 * (1 - shift),
    }
    if parts:
        summary |= {"npv_opening_book": -1e7, "npv_newcomers": 2e6, "npv_fixed": -3.2e7}
    return summary


def fake_run_all(calls: list, parts: bool = True):
    """A stand-in for ``executors.run_all`` that stores made-up runs, recording each call."""

    def run_all(specs, runs_dir: Path, executor, progress=True):
        calls.append([(s.arm, s.seed) for s in specs])
        outcomes = []
        for s in specs:
            made_up_run(Path(runs_dir) / s.run_id, s, fake_summary(s.arm, s.seed, parts))
            outcomes.append(Outcome(s.run_id, s.arm, s.seed, "ok", 0.0))
        return outcomes

    return run_all


def fake_experiment(tmp_path: Path, arms: str, *args: str):
    """A tiny experiment with the ``arms`` of EFFECTS (each its own scenario, so its own runs),
    planned and validated for real."""
    names = arms.split(",")
    added = [f'+experiment.arms.{a}=["months={7 + i}"]' for i, a in enumerate(names)]
    common = [*TINY, f"output.dir={tmp_path}", "report=false", "replications=auto"]
    return prepared([*common, *added, f"experiment.only=[{arms}]", *args])


def test_auto_adds_batches_until_every_decision_verdict_is_decided_then_resumes(
    tmp_path, monkeypatch, capsys
):
    calls: list = []
    monkeypatch.setattr(compare_module, "run_all", fake_run_all(calls))
    args = ["replications_min=3", "replications_batch=2", "replications_max=40"]
    compare, specs, root = fake_experiment(tmp_path, "clear,slow", *args)
    assert run_experiment(compare, specs, root, progress=False) == 0
    reported = batches(capsys.readouterr().out)
    seeds = [n for n, _ in reported]
    assert seeds == list(range(3, seeds[-1] + 1, 2)) and 3 < seeds[-1] < 40
    assert reported[-1][1] == 0 and all(open_ > 0 for _, open_ in reported[:-1])
    assert [len(c) for c in calls] == [3 * 3] + [3 * 2] * (len(seeds) - 1)  # only new seeds
    assert set(load(root).groupby("arm")["seed"].nunique()) == {seeds[-1]}
    differences = statistics(root)["differences"]
    decision = differences[differences.kpi.isin(compare.experiment.decision_kpis)]
    assert UNDECIDED not in set(decision.verdict) and set(decision.n) == {seeds[-1]}

    calls.clear()  # the same command again: every batch is stored, nothing runs
    assert run_experiment(compare, specs, root, progress=False) == 0
    assert batches(capsys.readouterr().out) == reported
    assert calls == [[]] * len(seeds)


def test_auto_stops_at_replications_max_with_verdicts_still_undecided(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setitem(EFFECTS, "noise", (0.0, 0.2))
    calls: list = []
    monkeypatch.setattr(compare_module, "run_all", fake_run_all(calls))
    args = ["replications_min=4", "replications_batch=3", "replications_max=9"]
    compare, specs, root = fake_experiment(tmp_path, "clear,noise", *args)
    assert run_experiment(compare, specs, root, progress=False) == 0
    out = capsys.readouterr().out
    assert [n for n, _ in batches(out)] == [4, 7, 9]  # the last batch is cut to the maximum
    assert batches(out)[-1][1] > 0 and "replications_max=9 reached" in out
    differences = statistics(root)["differences"]
    noise = differences[(differences.arm == "noise") & (differences.kpi == "npv")].iloc[0]
    assert noise.verdict == UNDECIDED and noise.seeds_needed > noise.n == 9


def test_stores_without_the_npv_parts_are_reported_without_them(tmp_path, monkeypatch):
    for parts in (True, False):
        monkeypatch.setattr(compare_module, "run_all", fake_run_all([], parts=parts))
        compare, specs, root = fake_experiment(
            tmp_path / str(parts), "clear", "replications=4", "report=true"
        )
        assert run_experiment(compare, specs, root, progress=False) == 0
        kpis = set(pd.read_csv(root / "differences.csv")["kpi"])
        assert (set(NPV_PARTS) <= kpis) == parts and "npv" in kpis
        summary = pd.read_csv(root / "summary.csv").set_index("arm")
        assert summary.loc["clear", "sentence"].startswith("retention at 6 months +")


# --------------------------------------------------------------------------------------------
# replications=auto for real, on a tiny bank
# --------------------------------------------------------------------------------------------


def test_auto_end_to_end_on_a_tiny_bank(tmp_path, capsys):
    args = [
        "population.customers=500",
        "months=6",
        "burn_in=2",
        "executor.workers=2",
        "replications=auto",
        "replications_min=3",
        "replications_batch=2",
        "replications_max=5",
        "experiment.only=[lean_service]",
        f"output.dir={tmp_path}",
    ]
    compare, specs, root = prepared(args)
    assert len({s.seed for s in specs}) == 5  # planned up to the maximum, run in batches
    assert run_experiment(compare, specs, root, progress=False) == 0
    out = capsys.readouterr().out
    reported = batches(out)
    assert [n for n, _ in reported] in ([3], [3, 5])
    seeds = reported[-1][0]
    summary = pd.read_csv(root / "summary.csv").set_index("arm")
    assert summary["n"].to_dict() == {"baseline": seeds, "lean_service": seeds}
    sentence = summary.loc["lean_service", "sentence"]
    assert f"Lean service: {sentence}" in out and f", {seeds} seeds)" in sentence
    assert "simultaneous 95% CI" in out
    differences = pd.read_csv(root / "differences.csv")
    assert set(differences.verdict) <= set(VERDICTS) and set(differences.n) == {seeds}
    html = (root / "report.html").read_text()
    assert f"{seeds} seeds each (replications=auto)" in html


# --------------------------------------------------------------------------------------------
# Verdicts that stay put
# --------------------------------------------------------------------------------------------


def contradicts(first: tuple[str, bool], second: tuple[str, bool]) -> bool:
    """Whether two (verdict, clears) of one arm and KPI cannot both be true: better against
    worse, or a difference of at least the smallest effect against a negligible one."""
    verdicts = {first[0], second[0]}
    beyond = any(v in (BETTER, WORSE) and c for v, c in (first, second))
    return verdicts == {BETTER, WORSE} or (NEGLIGIBLE in verdicts and beyond)


def test_verdicts_on_disjoint_seed_sets_never_contradict_each_other(tmp_path):
    """The same comparison on seeds 0-19 and 100-119: a verdict may be undecided on one set,
    and a real but possibly small difference may be negligible on the other, but better against
    worse, or at least the smallest effect against negligible, would be a contradiction."""
    differences = []
    for seed in (0, 100):
        args = [
            "population.customers=3000",
            "months=24",
            "burn_in=6",
            f"seed={seed}",
            "replications=20",
            "experiment.only=[lean_service,training]",
            f"experiment.name=seeds{seed}",
            "executor.workers=2",
            "report=false",
            f"output.dir={tmp_path}",
        ]
        compare, specs, root = prepared(args)
        assert run_experiment(compare, specs, root, progress=False) == 0
        found = statistics(root)["differences"].set_index(["arm", "kpi"])
        differences.append(found[["verdict", "clears"]].apply(tuple, axis=1))
    pairs = pd.concat(differences, axis=1, keys=["first", "second"])
    assert pairs.notna().all().all()  # the same (arm, KPI) rows on both sets
    clashes = pairs[[contradicts(*pair) for pair in pairs.to_numpy()]]
    assert clashes.empty, clashes
    both = pairs.map(lambda pair: pair[0])
    decided = both[(both != UNDECIDED).all(axis=1)]
    assert len(decided) >= len(both) * 3 // 4  # the test has something to compare
    assert both.loc[("lean_service", "retention_horizon")].tolist() == [BETTER, BETTER]
