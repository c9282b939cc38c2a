"""The checked store: damaged runs found, named, left out and rerun (or given back by the run
cache: tests/test_run_cache.py); one process per experiment folder; one experiment per folder; no
writing into foreign folders; temp folders of killed writers removed.

One tiny experiment (200 customers, 3 months, 2 seeds, baseline and training) is run once per
module and copied for each test that damages or reuses it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from tiny_store import ROOT, TINY, args, baseline_runs, run, training_runs, tree

from analysis.report import report, statistics
from experiments.compare import main as compare_main
from experiments.compare import prepare
from runner.config import compose
from runner.store import load, open_store, release, status
from sim.folders import MARKER, check_output_dir, damage
from sim.params import ConfigError
from sim.scenario import load_config


def summary(root: Path) -> pd.DataFrame:
    return statistics(root)["summary"]


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def edit_summary(path: Path) -> None:
    values = json.loads(path.read_text())
    values["retention_horizon"] = 0.0  # valid JSON, a flipped verdict if it were believed
    path.write_text(json.dumps(values))


DAMAGE = {
    "truncated timeseries": ("timeseries.parquet", truncate),
    "truncated provenance": ("provenance.json", truncate),
    "truncated summary": ("summary.json", truncate),
    "edited summary": ("summary.json", edit_summary),
    "deleted summary": ("summary.json", Path.unlink),
    "deleted provenance": ("provenance.json", Path.unlink),
    "deleted checksums": ("checksums.json", Path.unlink),
}


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_file_makes_its_run_damaged(copy, kind):
    root = copy / "playbook"
    victim = training_runs(root)[0]
    name, harm = DAMAGE[kind]
    harm(root / "runs" / victim / name)
    assert status(root / "runs", victim) == "damaged"
    assert name.split(".")[0] in damage(root / "runs" / victim)
    runs = load(root).set_index("run_id")
    assert runs.loc[victim, "status"] == "damaged"
    assert (runs.drop(index=victim)["status"] == "ok").all()


def test_damaged_runs_are_named_left_out_and_rerun_on_resume(copy, stored):
    root = copy / "playbook"
    victims = [*training_runs(root), baseline_runs(root)[0]]
    for victim, kind in zip(victims, DAMAGE, strict=False):
        name, harm = DAMAGE[kind]
        harm(root / "runs" / victim / name)
    lines = []
    tables = report(root, out=lines.append)
    assert f"3 damaged runs: {', '.join(sorted(victims))} — rerun on resume" in lines
    n = tables["summary"].set_index("arm")["n"]
    assert n.to_dict() == {"baseline": 1}  # left out of every statistic

    assert run(copy) == 0  # resumed: the damaged runs are rerun and replaced
    assert [status(root / "runs", v) for v in victims] == ["ok"] * 3
    assert not [p for p in (root / "runs").iterdir() if p.name.startswith(".") and p.is_dir()]
    pd.testing.assert_frame_equal(summary(root), summary(stored / "playbook"))


def test_a_damaged_run_comes_back_from_the_run_cache_on_resume_else_is_rerun(
    copy, stored, monkeypatch, capsys
):
    """The run cache (``<output.dir>/.run-cache``, filled as runs are stored) gives a damaged
    run back on resume without running it; with the cache cleared, the run is rerun."""
    import experiments.compare as compare_module
    from runner.store import CACHE

    ran: list[int] = []  # runs handed to the executor, by batch
    real = compare_module.run_all

    def counting(specs, *args, **kwargs):
        ran.append(len(specs))
        return real(specs, *args, **kwargs)

    monkeypatch.setattr(compare_module, "run_all", counting)
    root = copy / "playbook"
    victims = training_runs(root)
    for victim in victims:
        truncate(root / "runs" / victim / "timeseries.parquet")  # the store's copy only
    capsys.readouterr()
    assert run(copy) == 0 and ran == [0]
    assert "2 reused from the run cache, 0 to run" in capsys.readouterr().out
    assert [status(root / "runs", v) for v in victims] == ["ok", "ok"]
    assert sorted(p.name.split("-")[0] for p in (root / "runs" / "damaged").iterdir()) == sorted(
        victims
    )  # the damaged folders kept as they were
    pd.testing.assert_frame_equal(summary(root), summary(stored / "playbook"))

    truncate(root / "runs" / victims[0] / "timeseries.parquet")  # damaged again
    shutil.rmtree(copy / CACHE)  # how a user clears the cache
    assert run(copy) == 0 and ran[1:] == [1]
    assert status(root / "runs", victims[0]) == "ok"
    pd.testing.assert_frame_equal(summary(root), summary(stored / "playbook"))


def test_a_second_process_on_the_same_experiment_is_refused(copy, monkeypatch, capsys):
    root = copy / "playbook"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from runner.store import _lock;"
            f" _lock(Path({str(root)!r})); print('locked', flush=True); time.sleep(60)",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = tree(copy)
        monkeypatch.setattr(sys, "argv", ["experiments.compare", *args(copy)])
        with pytest.raises(SystemExit) as exited:
            compare_main()
        err = capsys.readouterr().err
        assert exited.value.code == 2
        assert err.count("\n") == 1 and err.startswith("config error:")
        assert str(root) in err and f"pid {holder.pid}" in err
        assert tree(copy) == before
    finally:
        holder.kill()
        holder.wait()
    assert run(copy) == 0  # the lock goes with its holder


def test_a_different_experiment_under_the_same_name_is_refused(copy):
    lock = "playbook/.lock"  # the refusal is made holding the lock, which records the holder's pid
    before = tree(copy) | {lock: b""}
    for different in (
        ["months=4"],  # a scenario override
        ['experiment.arms.training=["strategy=[training]","strategy.training.hours=80"]'],
        ["+experiment.grid={strategy.training.hours: [20, 80]}"],
    ):
        with pytest.raises(ConfigError, match="holds a different experiment; choose another"):
            prepare(compose(args(copy, *different)), args(copy, *different))
        assert tree(copy) | {lock: b""} == before
    # more seeds, or a subset of the arms, is the same experiment
    overrides = args(copy, "replications=3")
    compare, specs, root = prepare(compose(overrides), overrides)
    release(root)
    assert len(specs) == 6


def test_a_foreign_folder_is_refused_and_left_untouched(tmp_path, copy):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    for overrides in (args(foreign), args(copy, "experiment.name=alien")):
        if overrides[-1].endswith("alien"):
            (copy / "alien").mkdir()
            (copy / "alien" / "crontab").write_text("* * * * * true")
        with pytest.raises(ConfigError, match="non-empty folder this project did not create"):
            prepare(compose(overrides), overrides)
    assert tree(foreign) == {"notes.txt": b"mine"}
    assert tree(copy / "alien") == {"crontab": b"* * * * * true"}
    with pytest.raises(ConfigError, match="output.dir="):
        load_config([f"output.dir={foreign}"])  # sim.run refuses it before the simulation
    assert (copy / "playbook" / MARKER).exists()


@pytest.mark.parametrize("value", ["", " ", "out\x07put", "a\nb", "x\x7f"])
def test_a_blank_or_control_character_output_dir_is_refused(value):
    with pytest.raises(ConfigError, match="output.dir"):
        check_output_dir(value)


def test_output_dir_blank_on_the_command_line_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["experiments.compare", *TINY, "output.dir="])
    with pytest.raises(SystemExit) as exited:
        compare_main()
    assert exited.value.code == 2
    assert capsys.readouterr().err.startswith("config error: output.dir=''")
    assert list(tmp_path.iterdir()) == []


def test_temp_folders_of_dead_or_old_writers_are_removed_live_ones_kept(copy):
    runs = copy / "playbook" / "runs"
    dead = subprocess.Popen(["true"])
    dead.wait()
    host = socket.gethostname()
    names = {
        "dead": f".abc.tmp-{host}-{dead.pid}-x1",
        "live": f".abc.tmp-{host}-{os.getpid()}-x2",
        "old": f".abc.tmp-otherhost-{os.getpid()}-x3",
        "recent elsewhere": ".abc.tmp-otherhost-1-x4",
    }
    for name in names.values():
        (runs / name).mkdir()
    old = time.time() - 7200
    os.utime(runs / names["old"], (old, old))
    release(open_store(copy / "playbook", []))
    left = {p.name for p in runs.iterdir() if p.name.startswith(".abc")}
    assert left == {names["live"], names["recent elsewhere"]}


# --------------------------------------------------------------------------------------------
# Damage rules of the store (what makes a stored run damaged, and what becomes of it)
# --------------------------------------------------------------------------------------------


def _unlist(folder: Path, name: str) -> None:
    """Take ``name`` out of the run's manifest (the file itself is left as it is)."""
    doc = json.loads((folder / "checksums.json").read_text())
    del doc["files"][name]
    (folder / "checksums.json").write_text(json.dumps(doc))


def test_a_manifest_that_does_not_list_provenance_makes_its_run_damaged(copy):
    from runner.store import DAMAGED, problem, run_config, run_provenance

    root = copy / "playbook"
    listed_only, neither = training_runs(root)
    _unlist(root / "runs" / listed_only, "provenance.json")  # the file is still there
    _unlist(root / "runs" / neither, "provenance.json")
    (root / "runs" / neither / "provenance.json").unlink()  # and gone: the manifest agrees
    assert problem(root / "runs" / listed_only) == "provenance.json is not in checksums.json"
    assert problem(root / "runs" / neither) == "provenance.json is missing (not in checksums.json)"
    for victim in (listed_only, neither):
        assert status(root / "runs", victim) == DAMAGED
        assert run_provenance(root, victim) is None and run_config(root, victim) == {}
    runs = load(root).set_index("run_id")
    assert runs.loc[[listed_only, neither], "status"].tolist() == [DAMAGED, DAMAGED]
    assert runs.loc[neither, "error"] == "provenance.json is missing (not in checksums.json)"
    assert (runs.drop(index=[listed_only, neither])["status"] == "ok").all()


def test_damaged_runs_count_as_missing_in_every_statistic_and_are_named(copy):
    from analysis.report.formats import run_counts
    from runner.store import DAMAGED, damaged_line, without_damaged

    root = copy / "playbook"
    victim = training_runs(root)[0]
    truncate(root / "runs" / victim / "summary.json")
    runs = load(root)
    assert damaged_line(runs) == f"1 damaged runs: {victim} — rerun on resume"
    counted = without_damaged(runs)
    assert DAMAGED not in set(counted["status"])
    row = counted.set_index("run_id").loc[victim]
    assert row["status"] == "missing" and row["arm"] == "training"  # still planned, in its arm
    assert run_counts(counted) == "3 ok, 0 failed, 1 missing"
    assert len(counted) == len(runs)


def test_without_damaged_relabels_planned_runs_missing_and_drops_unplanned_ones():
    from runner.store import DAMAGED, damaged_line, without_damaged

    planned = pd.DataFrame(
        {
            "run_id": ["a", "b", "c"],
            "arm": ["baseline", "training", "training"],
            "status": ["ok", DAMAGED, "failed"],
            "npv": [1.0, None, None],
        }
    )
    out = without_damaged(planned)
    assert out["status"].tolist() == ["ok", "missing", "failed"]
    assert out["arm"].tolist() == ["baseline", "training", "training"]
    assert planned["status"].tolist() == ["ok", DAMAGED, "failed"]  # the input is left as it is
    unplanned = pd.DataFrame(
        {"run_id": ["a", "b", "c"], "status": ["ok", DAMAGED, DAMAGED], "arm": ["x", None, "y"]}
    )
    out = without_damaged(unplanned)
    assert out["run_id"].tolist() == ["a", "c"] and out["status"].tolist() == ["ok", "missing"]
    no_arm = pd.DataFrame({"run_id": ["a", "b"], "status": ["ok", DAMAGED]})
    assert without_damaged(no_arm)["run_id"].tolist() == ["a"]  # runs without a plan: dropped
    sound = planned.iloc[[0, 2]]
    pd.testing.assert_frame_equal(without_damaged(sound), sound)
    assert without_damaged(pd.DataFrame()).empty
    assert damaged_line(sound) == "" and damaged_line(pd.DataFrame()) == ""
    assert damaged_line(planned) == "1 damaged runs: b — rerun on resume"
