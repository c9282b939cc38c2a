"""The results store, adversarially: what an adversarial trial did to it, each now refused or found.

1. A file left out of a run's manifest (and then edited, or deleted) made no run damaged; now a
   run's manifest must list exactly the files its status and output settings require.
2. Run folders swapped by name flipped a verdict; now a folder's name must be its config's id.
3. A user's folder holding a ``provenance.json`` counted as the project's and was written into;
   now the project recognises its folders by markers carrying its identity, and the report writes
   over, or removes, only files the project wrote.
4. The report deleted images through a ``figures`` symbolic link; links are refused.
5. ``experiment.only`` under the same name hid the arms stored before; the plan keeps them all.
6. An unreadable ``identity.json`` was refused with advice to remove the folder; it is rebuilt.
7. A ``.lock`` folder gave a traceback, and a lock held by a dead process's child named the dead
   process as running.
8. ``output.dir`` could be a run folder.

One tiny experiment (200 customers, 3 months, 2 seeds, baseline and training) is run once and
copied for each test; a few tests run 2 more runs. About 30 s in all.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from tiny_store import ROOT, args, baseline_runs, run, training_runs, tree

import analysis.charts
import experiments.compare
import experiments.report
from analysis.report import statistics
from analysis.report.figures import _draw, _remove_stale
from experiments.compare import prepare
from runner.config import compose
from runner.store import (
    FIGURES,
    IDENTITY,
    OWN_FILES,
    PLAN,
    REPORT_FILES,
    _lock,
    _scenario_text,
    check_report,
    damaged_line,
    load,
    problem,
    release,
    reporting,
    status,
)
from sim.folders import CHECKSUMS, LEGACY_MARKER, MARKER, damage, marker
from sim.overrides import console_log
from sim.params import ConfigError
from sim.provenance import provenance
from sim.scenario import config_yaml, load_config, scenario_text


def cli(module, argv: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``module.main()`` run with ``argv``."""
    monkeypatch.setattr(sys, "argv", [module.__name__, *argv])
    try:
        module.main()
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def compare(monkeypatch, capsys, out: Path, *more: str) -> tuple[int, str, str]:
    return cli(experiments.compare, args(out, *more), monkeypatch, capsys)


def report(folder: Path, monkeypatch, capsys) -> tuple[int, str, str]:
    return cli(experiments.report, [str(folder)], monkeypatch, capsys)


def edit_manifest(folder: Path, change) -> None:
    doc = json.loads((folder / CHECKSUMS).read_text())
    change(doc["files"])
    (folder / CHECKSUMS).write_text(json.dumps(doc))


def retention(root: Path) -> pd.Series:
    return statistics(root)["summary"].set_index("arm")["retention_horizon"]


# 1. The manifest lists exactly the files a run must have --------------------------------------


def test_a_summary_left_out_of_the_manifest_and_edited_is_damaged_and_rerun(copy, stored):
    root = copy / "playbook"
    victim = root / "runs" / training_runs(root)[0]
    edit_manifest(victim, lambda files: files.pop("summary.json"))
    values = json.loads((victim / "summary.json").read_text())
    values["npv"] = values["retention_horizon"] = 1e12  # a flipped verdict, if it were believed
    (victim / "summary.json").write_text(json.dumps(values))
    assert problem(victim) == "summary.json is not in checksums.json"
    assert status(root / "runs", victim.name) == "damaged"
    runs = load(root)
    assert damaged_line(runs) == f"1 damaged runs: {victim.name} — rerun on resume"
    assert (runs["status"] == "ok").sum() == 3

    (victim / "summary.json").unlink()  # left out and deleted: a file the run must have
    assert problem(victim) == "summary.json is missing (not in checksums.json)"

    assert run(copy) == 0  # rerun on resume
    assert status(root / "runs", victim.name) == "ok"
    pd.testing.assert_series_equal(retention(root), retention(stored / "playbook"))


def test_an_extra_file_damages_its_run_and_survives_the_rerun(copy):
    root = copy / "playbook"
    victim = root / "runs" / baseline_runs(root)[0]
    (victim / "notes.txt").write_text("mine")
    assert damage(victim) == "notes.txt is not in checksums.json"
    assert run(copy) == 0
    assert status(root / "runs", victim.name) == "ok" and not (victim / "notes.txt").exists()
    kept = list((root / "runs" / "damaged").glob(f"{victim.name}-*/notes.txt"))
    assert [p.read_text() for p in kept] == ["mine"]  # set aside, never deleted


def test_a_listed_file_the_run_must_not_have_is_damaged(copy):
    root = copy / "playbook"
    first, second = baseline_runs(root)  # in seed order: the first seed keeps its panel
    shutil.copy(root / "runs" / first / "panel.parquet", root / "runs" / second)
    digest = json.loads((root / "runs" / first / CHECKSUMS).read_text())["files"]["panel.parquet"]
    edit_manifest(root / "runs" / second, lambda files: files.update({"panel.parquet": digest}))
    assert damage(root / "runs" / second) == ""  # its files match its manifest ...
    assert problem(root / "runs" / second).startswith("panel.parquet is not a file of this run")


def test_a_manifest_without_the_projects_identity_is_damaged(copy):
    victim = copy / "playbook" / "runs" / training_runs(copy / "playbook")[0]
    doc = json.loads((victim / CHECKSUMS).read_text())
    (victim / CHECKSUMS).write_text(json.dumps(doc["files"]))  # version 1's bare digests
    assert "earlier version" in damage(victim)
    (victim / CHECKSUMS).write_text(json.dumps(doc | {"project": "another-tool"}))
    assert "not this project's" in damage(victim)


# 2. A folder's name is its config's id ----------------------------------------------------------


def test_swapped_run_folders_are_damaged_and_rerun(copy, stored):
    root = copy / "playbook"
    runs = root / "runs"
    pairs = list(zip(baseline_runs(root), training_runs(root), strict=True))  # same seeds
    for base, twin in pairs:
        os.rename(runs / base, runs / "swap")
        os.rename(runs / twin, runs / base)
        os.rename(runs / "swap", runs / twin)
    for base, twin in pairs:
        assert damage(runs / base) == ""  # every file matches: only the name is wrong
        assert problem(runs / base) == (
            f"its id does not match its config (config.yaml and provenance.json give {twin})"
        )
    assert set(load(root)["status"]) == {"damaged"}

    assert run(copy) == 0
    assert set(load(root)["status"]) == {"ok"}
    pd.testing.assert_series_equal(retention(root), retention(stored / "playbook"))


def test_swapped_arm_labels_in_the_plan_are_damaged_and_repaired_by_a_rerun(copy, stored):
    root = copy / "playbook"
    plan = pd.read_csv(root / PLAN, dtype=str, keep_default_na=False)
    base, twin = baseline_runs(root)[0], training_runs(root)[0]
    rows = plan.index[plan["run_id"].isin([base, twin])]
    plan.loc[rows, "arm"] = plan.loc[rows[::-1], "arm"].to_numpy()  # the labels swapped
    plan.to_csv(root / PLAN, index=False)
    runs = load(root)
    assert set(runs.loc[runs["run_id"].isin([base, twin]), "status"]) == {"damaged"}
    assert runs.loc[runs["status"] == "damaged", "npv"].isna().all()

    assert run(copy) == 0  # the rerun drops the rows that contradict identity.json
    assert set(load(root)["status"]) == {"ok"}
    pd.testing.assert_series_equal(retention(root), retention(stored / "playbook"))


def test_duplicate_rows_in_the_plan_count_once(copy, stored):
    root = copy / "playbook"
    plan = (root / PLAN).read_text()
    (root / PLAN).write_text(plan + "".join(plan.splitlines(keepends=True)[1:]))
    assert len(load(root)) == len(load(stored / "playbook"))
    pd.testing.assert_series_equal(retention(root), retention(stored / "playbook"))


def test_the_id_is_recomputed_exactly_from_a_stored_config_with_bank_files():
    config = load_config(["bank=city_bank", "population.customers=200", "seed=7"])
    stored_config = yaml.safe_load(config_yaml(config))
    record = provenance(config, "start", "end", "ok")
    assert _scenario_text(stored_config, record) == scenario_text(config)


# 3. Foreign folders, and files the project did not write ----------------------------------------


def foreign(folder: Path) -> Path:
    """A user's folder that looks like a run and a report (the trial's victim)."""
    (folder / "figures").mkdir(parents=True)
    (folder / "provenance.json").write_text('{"status": "ok"}')
    (folder / CHECKSUMS).write_text("{}")
    (folder / "report.html").write_text("<p>my report</p>")
    (folder / "summary.csv").write_text("my,numbers\n")
    (folder / "figures" / "myphoto.png").write_bytes(b"\x89PNG mine")
    return folder


def test_a_look_alike_folder_is_never_written(tmp_path, monkeypatch, capsys):
    victim = foreign(tmp_path / "some" / "folder" / "victim2")
    before = tree(tmp_path)
    code, _, err = compare(monkeypatch, capsys, victim.parent, "experiment.name=victim2")
    assert code == 2 and err.count("\n") == 1 and "this project did not create" in err
    code, _, err = report(victim, monkeypatch, capsys)
    assert code == 2 and err.count("\n") == 1 and "not a folder of this project's results" in err
    with pytest.raises(ConfigError, match="run folder"):
        load_config([f"output.dir={victim}"])  # sim.run: its two run file names look like a run
    assert tree(tmp_path) == before


def test_the_report_never_overwrites_a_file_it_did_not_write(copy, monkeypatch, capsys):
    root = copy / "playbook"
    (root / "report.html").write_text("<p>my notes</p>")
    before = tree(copy)
    code, _, err = report(root, monkeypatch, capsys)
    assert code == 2 and err.count("\n") == 1
    assert f"{root / 'report.html'} was not written by this project" in err
    with pytest.raises(ConfigError, match="report.html was not written by this project"):
        prepare(compose(args(copy, "report=true")), args(copy, "report=true"))
    assert tree(copy) == before


def test_each_image_is_claimed_before_it_is_written_and_only_those_are_removed(copy, monkeypatch):
    root, figures = copy / "playbook", copy / "playbook" / "figures"
    shutil.rmtree(figures, ignore_errors=True)
    saved = []

    def save_once(drawn, out_dir):  # the report is stopped after its first chart, as by a kill
        if saved:
            raise RuntimeError("killed")
        saved.append(drawn.name)
        return real_save(drawn, out_dir)

    real_save = analysis.charts.save
    monkeypatch.setattr(analysis.charts, "save", save_once)
    with reporting(root, "test"):
        charts, failure = _draw(root, statistics(root), figures, None, None)
    assert "killed" in failure and not charts
    first = [f"{saved[0]}.png", f"{saved[0]}.svg"]
    assert marker(root)["report"][0] == "report.html"  # the report's files, claimed first
    assert sorted(p.name for p in figures.glob("*.*g")) == sorted(first)
    claimed = marker(figures, "figures")["files"]  # the first chart, and the one being saved
    assert set(first) < set(claimed) and len(claimed) == 4
    check_report(root, "test")  # the next report may go on: the image is the project's
    (figures / "myphoto.png").write_bytes(b"mine")
    with pytest.raises(ConfigError, match="myphoto.png was not written by this project"):
        check_report(root, "test")

    _remove_stale(figures, [])  # the next report drew nothing
    assert sorted(p.name for p in figures.iterdir()) == [MARKER, "myphoto.png"]
    assert marker(figures, "figures")["files"] == []


# 4. Symbolic links ------------------------------------------------------------------------------


def test_a_figures_link_out_of_the_store_is_refused(copy, tmp_path, monkeypatch, capsys):
    root = copy / "playbook"
    elsewhere = tmp_path / "holiday"
    elsewhere.mkdir()
    (elsewhere / "holiday.png").write_bytes(b"sun")
    (elsewhere / "diagram.svg").write_text("<svg/>")
    (root / "figures").symlink_to(elsewhere)
    before = tree(tmp_path)
    code, _, err = report(root, monkeypatch, capsys)
    assert code == 2 and err.count("\n") == 1 and f"{root / 'figures'} is a symbolic link" in err
    with pytest.raises(ConfigError, match="is a symbolic link"):
        _remove_stale(root / "figures", [])
    assert tree(tmp_path) == before


def test_runs_or_a_run_folder_as_a_link_is_refused(copy, tmp_path):
    root = copy / "playbook"
    victim = training_runs(root)[0]
    elsewhere = tmp_path / "elsewhere"
    shutil.move(root / "runs" / victim, elsewhere)
    (root / "runs" / victim).symlink_to(elsewhere)
    assert load(root).set_index("run_id").loc[victim, "status"] == "damaged"
    with pytest.raises(ConfigError, match=f"runs/{victim} is a symbolic link"):
        prepare(compose(args(copy)), args(copy))
    (root / "runs" / victim).unlink()
    shutil.move(root / "runs", tmp_path / "runs")
    (root / "runs").symlink_to(tmp_path / "runs")
    with pytest.raises(ConfigError, match="playbook/runs is a symbolic link"):
        prepare(compose(args(copy)), args(copy))


# 5. experiment.only never hides stored runs -----------------------------------------------------


def test_another_only_keeps_the_arms_stored_before(copy, monkeypatch, capsys):
    root = copy / "playbook"
    training = set(training_runs(root))
    code, out, _ = compare(monkeypatch, capsys, copy, "experiment.only=[mentoring]")
    assert code == 0
    assert (
        "This command ran arms baseline, mentoring; the store holds arms baseline, training,"
        " mentoring." in out
    )
    runs = load(root)
    assert list(dict.fromkeys(runs["arm"])) == ["baseline", "training", "mentoring"]
    assert training <= set(runs.loc[runs["status"] == "ok", "run_id"])
    assert len(runs) == 6 and runs["run_id"].is_unique

    plan = pd.read_csv(root / PLAN)
    pd.concat([plan, plan]).to_csv(root / PLAN, index=False)  # a hand-edited plan
    assert len(load(root)) == 6
    assert set(statistics(root)["summary"]["arm"]) == {"baseline", "training", "mentoring"}


# 6. An unreadable identity is rebuilt, never a reason to remove a folder ------------------------


def test_an_unreadable_identity_is_rebuilt_from_the_plan_and_runs(copy, capsys):
    root = copy / "playbook"
    original = json.loads((root / IDENTITY).read_text())
    (root / IDENTITY).write_text("{not json")
    overrides = args(copy)
    with console_log():  # as the command shows what the store logs
        release(prepare(compose(overrides), overrides)[2])
    assert f"{root / IDENTITY} is unreadable (JSONDecodeError): rebuilt" in capsys.readouterr().out
    assert json.loads((root / IDENTITY).read_text()) == original

    (root / IDENTITY).write_text("[]")
    for run_id in baseline_runs(root):
        shutil.move(root / "runs" / run_id, copy / run_id)  # no sound baseline run left
    with pytest.raises(ConfigError) as refused:
        prepare(compose(overrides), overrides)
    message = str(refused.value)
    assert "cannot be rebuilt" in message and "choose another experiment.name" in message
    assert "remove" not in message


# 7. The lock ------------------------------------------------------------------------------------


def test_a_lock_that_is_a_folder_is_refused_in_one_line(copy, monkeypatch, capsys):
    (copy / "playbook" / ".lock").unlink()
    (copy / "playbook" / ".lock").mkdir()
    code, _, err = compare(monkeypatch, capsys, copy)
    assert code == 2 and err.count("\n") == 1
    assert ".lock cannot be this project's lock file" in err


def test_a_lock_held_by_a_dead_process_child_names_the_child(copy):
    root = copy / "playbook"
    code = (
        "import os, time; from pathlib import Path; from runner.store import _lock;"
        f" _lock(Path({str(root)!r}))\n"
        "if os.fork() == 0:\n"
        "    print(os.getpid(), flush=True); time.sleep(60)\n"
        "os._exit(0)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE)
    child = int(parent.stdout.readline())
    try:
        parent.wait()
        with pytest.raises(ConfigError) as refused:
            _lock(root)
        message = str(refused.value)
        assert f"locked by pid {child}, a leftover child of pid {parent.pid}" in message
        assert "in use by another process" not in message
    finally:
        os.kill(child, signal.SIGKILL)


def test_a_report_is_refused_while_an_experiment_holds_the_folder(copy, monkeypatch, capsys):
    root = copy / "playbook"
    code = (
        "import sys, time; from pathlib import Path; from runner.store import _lock;"
        f" _lock(Path({str(root)!r})); print('locked', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"locked"
        before = tree(root)
        code, _, err = report(root, monkeypatch, capsys)
        assert code == 2 and f"in use by another process (pid {holder.pid})" in err
        assert tree(root) == before  # nothing written
    finally:
        holder.kill()
        holder.wait()
    assert report(root, monkeypatch, capsys)[0] == 0  # free again: the report is written
    assert (root / "report.html").is_file()
    own = {*REPORT_FILES, *OWN_FILES, MARKER, FIGURES, "runs"}
    assert {p.name for p in root.iterdir()} <= own  # every file the report wrote is claimed


# 8. No run inside a run -------------------------------------------------------------------------


def test_output_dir_in_a_run_folder_is_refused(copy):
    folder = copy / "playbook" / "runs" / training_runs(copy / "playbook")[0]
    for value in (folder, folder / "inner"):
        with pytest.raises(ConfigError, match="run folder"):
            load_config([f"output.dir={value}"])


# Stores of earlier versions ---------------------------------------------------------------------


def test_a_store_of_an_earlier_version_is_refused_and_left_as_it_is(copy, monkeypatch, capsys):
    root = copy / "playbook"
    (root / MARKER).write_text(LEGACY_MARKER)
    for folder in (root / "runs").iterdir():
        doc = json.loads((folder / CHECKSUMS).read_text())
        (folder / CHECKSUMS).write_text(json.dumps(doc["files"]))
    before = tree(copy)
    code, _, err = compare(monkeypatch, capsys, copy)
    assert code == 2 and "earlier version" in err and "choose a new experiment.name" in err
    code, _, err = report(root, monkeypatch, capsys)
    assert code == 2 and "earlier version" in err and "new experiment.name" in err
    assert tree(copy) == before
    code, _, _ = compare(monkeypatch, capsys, copy, "experiment.name=fresh")
    assert code == 0  # beside it, a new experiment
