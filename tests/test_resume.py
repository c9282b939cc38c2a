"""Kill and resume: an experiment killed with SIGKILL mid-way and run again stores every run once
and reports exactly what an uninterrupted run reports; the run cache it fed holds sound copies
only (a killed writer's temporary folders are removed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from analysis.report import statistics
from runner.store import CACHE, load, status
from sim.folders import damage

ROOT = Path(__file__).resolve().parent.parent
TINY = [
    "population.customers=200",
    "months=3",
    "burn_in=0",
    "replications=4",
    "experiment.only=[training]",
    "executor.workers=1",
    "report=false",
]


def compare(out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.compare", *TINY, f"output.dir={out}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the kill takes its workers too
    )


def stored_runs(runs: Path) -> list[Path]:
    return [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")]


def test_an_experiment_killed_mid_way_resumes_to_the_uninterrupted_result(tmp_path):
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    reference = compare(whole)  # the uninterrupted run, alongside
    victim = compare(killed)
    runs = killed / "playbook" / "runs"
    deadline = time.monotonic() + 240
    while not (runs.is_dir() and len(stored_runs(runs)) >= 3):
        assert victim.poll() is None and time.monotonic() < deadline, victim.stderr.read()
        time.sleep(0.05)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    assert len(stored_runs(runs)) < 8  # killed before the end

    assert reference.wait() == 0, reference.stderr.read()
    resumed = compare(killed)
    assert resumed.wait() == 0, resumed.stderr.read()

    plan = pd.read_csv(killed / "playbook" / "plan.csv")
    assert len(plan) == 8 and plan["run_id"].is_unique
    assert sorted(p.name for p in stored_runs(runs)) == sorted(plan["run_id"])
    assert not [p.name for p in runs.iterdir() if p.name.startswith(".")]  # no temp folders
    cache = killed / CACHE  # what the workers put there: sound copies of stored runs, no temps
    assert not list(cache.rglob(".*.tmp-*"))
    for copy in (p for p in cache.glob("*/*") if p.name in set(plan["run_id"])):
        assert not damage(copy)
        assert (copy / "summary.json").read_bytes() == (
            runs / copy.name / "summary.json"
        ).read_bytes()
    assert all(status(runs, run_id) == "ok" for run_id in plan["run_id"])
    assert (load(killed / "playbook")["status"] == "ok").all()
    pd.testing.assert_frame_equal(
        statistics(killed / "playbook")["summary"], statistics(whole / "playbook")["summary"]
    )
