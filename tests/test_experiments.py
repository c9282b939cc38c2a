"""The experiment runner: planning, resuming, failures, executors, bad input and reports.

Every experiment here is tiny (300 customers, 2 burn-in + 6 measured months, 2-3 seeds, few arms)
and writes under ``tmp_path``. Most run in this process through ``experiments.compare.main`` (the
local pool forks, so a test-only strategy registered here exists in its workers); the real CLIs
are also run as subprocesses where their exit codes and output matter.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from analysis.report import report, statistics
from analysis.stats import KPIS, UNDECIDED, VERDICTS
from experiments.compare import main as compare_main
from experiments.compare import prepare, run_experiment
from runner.config import CompareConfig, compose
from runner.plan import arms
from runner.store import CACHE, flatten, load, run_config, run_provenance
from sim.params import ConfigError
from sim.scenario import compose_config, to_config
from sim.strategies import title

ROOT = Path(__file__).resolve().parent.parent
TINY = ["population.customers=300", "months=6", "burn_in=2", "executor.workers=2"]
NO_REPORT = "report=false"  # where a test checks the runs and the store, not the report
COUNTS = re.compile(r"(\d+) already stored, (\d+) to run")


def tiny(tmp_path: Path, *args: str) -> list[str]:
    """A tiny experiment's overrides, stored under ``tmp_path/out``."""
    return [*TINY, f"output.dir={tmp_path / 'out'}", *args]


def cli(monkeypatch, capsys, args: list[str]) -> tuple[int, str, str]:
    """``python -m experiments.compare ARGS`` in this process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["experiments.compare", *args])
    with pytest.raises(SystemExit) as exited:
        compare_main()
    out, err = capsys.readouterr()
    code = exited.value.code
    if code is None:
        code = 0
    return (code if isinstance(code, int) else 1), out, err


def counts(out: str) -> tuple[int, int]:
    """(already stored, to run) from the runner's plan line."""
    found = COUNTS.search(out)
    assert found, f"no plan line in:\n{out}"
    return int(found[1]), int(found[2])


def prepared(args: list[str]):
    """(CompareConfig, specs, experiment folder) of the overrides, validated and planned."""
    return prepare(compose(args), args)


def read_plan(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / "plan.csv", dtype={"point": str}, keep_default_na=False)


def snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file of a run folder: (inode, mtime in ns, bytes); a rewritten run changes them."""
    return {
        f.name: (f.stat().st_ino, f.stat().st_mtime_ns, f.read_bytes())
        for f in sorted(folder.iterdir())
    }


def tree(path: Path) -> set[Path]:
    return set(path.rglob("*"))


def point_values(label: str) -> dict[str, float]:
    return {k: float(v) for k, v in (part.split("=") for part in label.split(","))}


# --------------------------------------------------------------------------------------------
# Resume and no stale reuse
# --------------------------------------------------------------------------------------------


def test_rerun_after_an_interruption_runs_only_the_missing_runs(tmp_path, monkeypatch, capsys):
    args = tiny(tmp_path, "replications=3", "experiment.only=[training]", NO_REPORT)
    code, out, _ = cli(monkeypatch, capsys, args)
    assert code == 0
    assert counts(out) == (0, 6)
    root = tmp_path / "out" / "playbook"
    folders = sorted(p for p in (root / "runs").iterdir() if p.is_dir())
    assert len(folders) == 6
    lost, kept = folders[:2], folders[2:]
    lost_summaries = {p.name: (p / "summary.json").read_bytes() for p in lost}
    before = {p.name: snapshot(p) for p in kept}
    started = {p.name: json.loads((p / "provenance.json").read_text())["started"] for p in kept}
    for p in lost:  # the interruption: these runs never finished (nor reached the run cache)
        shutil.rmtree(p)
        shutil.rmtree(next((tmp_path / "out" / CACHE).glob(f"*/{p.name}")))

    code, out, _ = cli(monkeypatch, capsys, args)
    assert code == 0
    assert counts(out) == (4, 2)
    assert "Ran 2 runs" in out
    for p in kept:  # the stored runs were not run again
        assert snapshot(p) == before[p.name], p.name
        assert json.loads((p / "provenance.json").read_text())["started"] == started[p.name]
    for p in lost:  # the missing ones ran again, with the same results (same seed, same config)
        assert (p / "summary.json").read_bytes() == lost_summaries[p.name]
    runs = load(root)
    assert len(runs) == 6
    assert set(runs["status"]) == {"ok"}
    assert set(runs["run_id"]) == {p.name for p in folders}

    code, out, _ = cli(monkeypatch, capsys, args)  # complete: nothing left to run
    assert code == 0
    assert counts(out) == (6, 0)
    assert "Ran " not in out


def test_adding_an_arm_runs_only_the_new_arm(tmp_path, monkeypatch, capsys):
    code, out, _ = cli(
        monkeypatch,
        capsys,
        tiny(tmp_path, "replications=2", "experiment.only=[training]", NO_REPORT),
    )
    assert code == 0
    assert counts(out) == (0, 4)
    root = tmp_path / "out" / "playbook"
    before = {p.name: snapshot(p) for p in (root / "runs").iterdir()}

    args = tiny(tmp_path, "replications=2", "experiment.only=[training,mentoring]", NO_REPORT)
    code, out, _ = cli(monkeypatch, capsys, args)
    assert code == 0
    assert counts(out) == (4, 2)
    for name, files in before.items():
        assert snapshot(root / "runs" / name) == files, name
    runs = load(root)
    assert sorted(runs.groupby("arm").size().items()) == [
        ("baseline", 2),
        ("mentoring", 2),
        ("training", 2),
    ]
    assert set(runs["status"]) == {"ok"}
    new = set(runs.loc[runs["arm"] == "mentoring", "run_id"])
    assert new.isdisjoint(before)


def test_changed_scenario_gets_new_runs_and_no_stale_results(tmp_path, monkeypatch, capsys):
    first = tiny(tmp_path, "replications=2", "experiment.only=[training]", NO_REPORT)
    code, out, _ = cli(monkeypatch, capsys, first)
    assert code == 0
    root = tmp_path / "out" / "playbook"
    old_ids = set(read_plan(root)["run_id"])

    changed = [a.replace("months=6", "months=7") for a in first]
    code, _, err = cli(monkeypatch, capsys, changed)  # another experiment under the same name
    assert code == 2 and "holds a different experiment" in err and err.count("\n") == 1
    assert set(read_plan(root)["run_id"]) == old_ids

    root = tmp_path / "out" / "playbook7"
    code, out, _ = cli(monkeypatch, capsys, [*changed, "experiment.name=playbook7"])
    assert code == 0
    assert counts(out) == (0, 4)
    new_ids = set(read_plan(root)["run_id"])
    assert len(new_ids) == 4
    assert new_ids.isdisjoint(old_ids)
    runs = load(root)  # the report's view: the new plan's runs only
    assert set(runs["run_id"]) == new_ids
    assert set(runs["status"]) == {"ok"}
    for run_id in new_ids:
        stored = yaml.safe_load((root / "runs" / run_id / "config.yaml").read_text())
        assert stored["months"] == 7
    summary = statistics(root)["summary"]  # what the report writes to summary.csv
    # one row per arm, the months=6 runs not pooled in
    assert summary.set_index("arm")["n"].to_dict() == {"baseline": 2, "training": 2}


def test_changed_strategy_parameter_is_another_experiment(tmp_path, monkeypatch, capsys):
    first = tiny(tmp_path, "replications=2", "experiment.only=[training]", NO_REPORT)
    code, _, _ = cli(monkeypatch, capsys, first)
    assert code == 0
    root = tmp_path / "out" / "playbook"
    old = read_plan(root)

    arm = 'experiment.arms.training=["strategy=[training]","strategy.training.hours=80"]'
    code, _, err = cli(monkeypatch, capsys, [*first, arm])
    assert code == 2 and "holds a different experiment" in err
    pd.testing.assert_frame_equal(read_plan(root), old)  # the folder is left as it was
    code, out, _ = cli(monkeypatch, capsys, [*first, arm, "experiment.name=hours80"])
    assert code == 0
    new = read_plan(tmp_path / "out" / "hours80").groupby("arm")["run_id"].apply(set)
    assert new["baseline"] == set(old.loc[old["arm"] == "baseline", "run_id"])  # same ids
    for run_id in new["training"]:
        stored = (tmp_path / "out" / "hours80" / "runs" / run_id / "config.yaml").read_text()
        assert yaml.safe_load(stored)["strategy"]["training"]["hours"] == 80


# --------------------------------------------------------------------------------------------
# A failing run
# --------------------------------------------------------------------------------------------


def test_a_failing_run_is_recorded_and_the_others_complete(
    tmp_path, monkeypatch, capsys, fail_strategy
):
    flaky = f'+experiment.arms.flaky=["+strategy.{fail_strategy}.fail_seed=1"]'
    args = tiny(tmp_path, "replications=3", flaky, "experiment.only=[flaky]", NO_REPORT)
    code, out, _ = cli(monkeypatch, capsys, args)
    assert code != 0
    root = tmp_path / "out" / "playbook"
    plan = read_plan(root)
    assert len(plan) == 6
    failing = plan.loc[(plan["arm"] == "flaky") & (plan["seed"] == 1), "run_id"].item()
    for run_id in plan["run_id"]:
        folder = root / "runs" / run_id
        record = json.loads((folder / "provenance.json").read_text())
        if run_id == failing:
            assert record["status"] == "failed"
            assert record["seed"] == 1
            # the strategy raised inside the worker: the traceback is the worker's own
            assert "Traceback (most recent call last)" in record["error"]
            assert "RuntimeError: test_fail: planned failure at seed 1" in record["error"]
            assert not (folder / "summary.json").exists()
        else:
            assert record["status"] == "ok", run_id
            assert (folder / "summary.json").exists()
    assert f"failed: flaky seed 1 (run {failing})" in out
    assert "1 run failed;" in out
    assert "5 ok, 1 failed" in out

    runs = load(root)
    assert runs.set_index("run_id").loc[failing, "status"] == "failed"
    assert (runs["status"] == "ok").sum() == 5
    lines: list[str] = []
    tables = report(root, out=lines.append)  # the report works on the partial store
    summary = pd.read_csv(root / "summary.csv").set_index("arm")
    assert summary.loc["baseline", "n"] == 3
    assert summary.loc["flaky", "n"] == 2
    assert set(tables["summary"]["arm"]) == {"baseline", "flaky"}
    assert any(line.lstrip().startswith("flaky:") for line in "\n".join(lines).splitlines())

    code, out, _ = cli(monkeypatch, capsys, args)  # a rerun retries the failed run only
    assert code != 0
    assert counts(out) == (5, 1)


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------

BAD_INPUT = {
    "unknown arm in only": (["experiment.only=[nope]"], "nope"),
    "unknown baseline": (["experiment.baseline=nope"], "nope"),
    "unknown strategy in an arm": (['experiment.arms.training=["strategy=[nope]"]'], "nope"),
    "unknown strategy added in an arm": (
        ['+experiment.arms.custom=["+strategy.nope={}"]', "experiment.only=[custom]"],
        "nope",
    ),
    "bad strategy parameter in an arm": (
        ['experiment.arms.training=["strategy=[training]","strategy.training.hours=-1"]'],
        "strategy.training.hours",
    ),
    "unknown scenario key": (["bank.nope=1"], "bank.nope"),
    "misspelt scenario key": (["mnths=6"], "mnths"),
    "scenario value out of range": (["burn_in=-1"], "burn_in"),
    "empty grid list": (["+experiment.grid.months=[]"], "experiment.grid.months"),
    "grid value bad for an arm at one point": (
        ["+experiment.grid={strategy.training.hours:[40.0,1000.0]}"],
        "strategy.training.hours=1000",
    ),
    "grid key no arm has": (
        ["+experiment.grid={strategy.mentoring.hours:[1.0,2.0]}"],
        "strategy.mentoring.hours",
    ),
    "sample without ranges": (["experiment.sample.method=lhs"], "experiment.sample.ranges"),
    "reversed sample range": (
        ["experiment.sample.method=lhs", "+experiment.sample.ranges.months=[9,6]"],
        "experiment.sample.ranges.months",
    ),
    "empty arms map": (["experiment.arms={}"], "experiment.arms is empty"),
    "arms without the baseline": (
        ['experiment.arms={training: ["strategy=[training]"]}'],
        "experiment.baseline='baseline' is not an arm",
    ),
    "arm that is not a list of overrides": (["experiment.arms={baseline: 3}"], "baseline"),
    "map given whole and added to": (
        ["experiment.arms={baseline: []}", "+experiment.arms.x=[]"],
        "+experiment.arms.x=[]: experiment.arms is also given whole",
    ),
    "unparsable map": (["experiment.arms={baseline: [a=1]}"], "{baseline: [a="),
    "grid over the seed": (["+experiment.grid.seed=[1,2]"], "set replications=N"),
    "grid over a config group": (
        ["experiment.grid={population: [small, default]}"],
        "population is a config group",
    ),
    "grid over replications": (
        ["experiment.grid={replications: [3,4]}"],
        "experiment.grid.replications=[3, 4]: replications is a setting of the whole experiment",
    ),
    "grid over an output setting": (["+experiment.grid.output.panel=[true]"], "output"),
    "sample over an executor setting": (
        ["experiment.sample.method=lhs", "experiment.sample.ranges={executor.workers: [1, 4]}"],
        "experiment.sample.ranges.executor.workers",
    ),
    "grid and sample together": (
        [
            "experiment.grid={months: [3, 4]}",
            "experiment.sample.method=lhs",
            "experiment.sample.ranges={burn_in: [1, 2]}",
        ],
        "choose one, a grid or a sample",
    ),
    "sample ranges without a method": (
        ["experiment.sample.ranges={burn_in: [1, 2]}"],
        "experiment.sample.method=none",
    ),
    "arm that sets the seed": (
        ['+experiment.arms.x=["strategy=[training]","seed=5"]', "experiment.only=[x]"],
        "experiment.arms.x has seed=5: seeds are the replications",
    ),
    "arm that sets an output setting": (
        ['+experiment.arms.x=["output.panel=true"]', "experiment.only=[x]"],
        "experiment.arms.x has output.panel=true",
    ),
    "one replication": (["replications=1"], "replications"),
    "replications neither a number nor auto": (["replications=many"], "replications"),
    "auto with its minimum above its maximum": (
        ["replications=auto", "replications_min=20", "replications_max=10"],
        "replications_min=20",
    ),
    "auto with an empty batch": (
        ["replications=auto", "replications_batch=0"],
        "replications_batch",
    ),
    "smallest effect of an unknown KPI": (
        ["+experiment.smallest_effect={retention: 0.01}"],
        "experiment.smallest_effect.retention",
    ),
    "negative smallest effect": (
        ["+experiment.smallest_effect={npv: -0.01}"],
        "experiment.smallest_effect.npv=-0.01",
    ),
    "unknown decision KPI": (
        ["experiment.decision_kpis=[npv,profits]"],
        "experiment.decision_kpis",
    ),
    "strategy outside the arms": (["strategy=[training]"], "experiment.arms"),
    "unknown executor": (["executor=nope"], "nope"),
    "bad executor kind": (["executor.kind=nope"], "executor.kind"),
    "output under a regular file": (["output.dir=<file>/sub"], "output.dir"),
    "output under an executable file": (["output.dir=<xfile>/sub"], "output.dir"),
    "name escaping upwards": (["experiment.name=../evil"], "experiment.name"),
    "absolute name": (["experiment.name=<tmp>/abs"], "experiment.name"),
    "hidden name": (["experiment.name=.hidden"], "experiment.name"),
    "nested name": (["experiment.name=a/b"], "experiment.name"),
    "empty name": (["experiment.name="], "experiment.name"),
}


@pytest.mark.parametrize(("bad", "named"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_refused_before_any_run(tmp_path, monkeypatch, capsys, bad, named):
    (tmp_path / "file").write_text("not a folder\n")
    (tmp_path / "xfile").write_text("#!/bin/sh\n")
    (tmp_path / "xfile").chmod(0o755)
    places = {"<tmp>": tmp_path, "<file>": tmp_path / "file", "<xfile>": tmp_path / "xfile"}
    for place, path in places.items():
        bad = [b.replace(place, str(path)) for b in bad]
    args = [*TINY, "replications=2", "experiment.only=[training]"]
    if not any(b.startswith("output.dir=") for b in bad):
        args.append(f"output.dir={tmp_path / 'out' / 'inner'}")
    keys = {b.lstrip("+").partition("=")[0] for b in bad}
    args = [a for a in args if a.partition("=")[0] not in keys] + bad
    before = tree(tmp_path)

    code, out, err = cli(monkeypatch, capsys, args)
    assert code == 2, err
    assert err.startswith("config error: ")
    assert len(err.strip().splitlines()) == 1, err
    assert named in err
    assert "Traceback" not in err
    assert out == ""
    assert tree(tmp_path) == before  # nothing created: no experiment folder, no runs


def test_the_real_cli_refuses_bad_input_with_exit_code_2(tmp_path):
    out_dir = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.compare",
            *TINY,
            "replications=2",
            "experiment.only=[nope]",
            f"output.dir={out_dir}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("config error: ")
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stdout == ""
    assert not out_dir.exists()


# --------------------------------------------------------------------------------------------
# Presets, grids and samples
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["playbook", "closure_sweep", "digital_lhs"])
def test_a_preset_runs_exactly_its_own_arms(preset):
    text = (ROOT / "configs" / "experiment" / f"{preset}.yaml").read_text()
    data = yaml.safe_load(text)
    expected = data["arms"] if "arms" in data else CompareConfig().experiment.arms
    cfg = to_config(compose_config([f"experiment={preset}"], name="compare"), CompareConfig)
    assert cfg.experiment.arms == expected
    assert arms(cfg) == list(expected)


def test_a_whole_map_replaces_the_presets_and_a_plus_key_adds_to_it(tmp_path):
    close3 = '["strategy=[outlet_closure]","strategy.outlet_closure.count=3"]'
    replaced = prepared(tiny(tmp_path, f"experiment.arms={{baseline: [], close3: {close3}}}"))
    assert arms(replaced[0]) == ["baseline", "close3"]
    assert replaced[0].experiment.arms["close3"][1] == "strategy.outlet_closure.count=3"
    added = prepared(tiny(tmp_path, f"+experiment.arms.close3={close3}"))
    playbook = yaml.safe_load((ROOT / "configs/experiment/playbook.yaml").read_text())["arms"]
    assert arms(added[0]) == [*playbook, "close3"]
    sweep = ["experiment=closure_sweep", "experiment.grid={months: [3, 4]}", "replications=2"]
    compare, specs, _ = prepared(tiny(tmp_path, *sweep))
    assert compare.experiment.grid == {"months": [3, 4]}
    assert sorted({s.point for s in specs}) == ["months=3", "months=4"]
    lhs = ["experiment=digital_lhs", "experiment.sample.ranges={burn_in: [1, 3]}"]
    compare, specs, _ = prepared(tiny(tmp_path, *lhs, "replications=2"))
    assert list(compare.experiment.sample.ranges) == ["burn_in"]
    assert {s.point.partition("=")[0] for s in specs} == {"burn_in"}


def test_grid_plan_is_arms_by_points_by_seeds_with_a_shared_baseline(tmp_path):
    grid = (
        "+experiment.grid={strategy.outlet_closure.count:[0,1,2],"
        "strategy.partner_promotion.budget:[0.0,500000.0]}"
    )
    args = tiny(
        tmp_path,
        "experiment=closure_sweep",
        "experiment.only=[close_and_promote]",
        grid,
        "replications=2",
        "seed=5",
    )
    compare, specs, _ = prepared(args)
    labels = list(dict.fromkeys(s.point for s in specs))
    assert len(labels) == 3 * 2
    assert len(specs) == len(labels) * 2 * 2  # points x arms x seeds
    assert len({(s.arm, s.point, s.seed) for s in specs}) == len(specs)
    for label in labels:
        for arm in ("baseline", "close_and_promote"):
            seeds = sorted(s.seed for s in specs if s.point == label and s.arm == arm)
            assert seeds == [5, 6]

    baseline = [
        frozenset(s.run_id for s in specs if s.arm == "baseline" and s.point == label)
        for label in labels
    ]
    assert len(set(baseline)) == 1  # one set of baseline runs, the same ids at every point
    assert len(baseline[0]) == 2
    arm_ids = {s.run_id for s in specs if s.arm == "close_and_promote"}
    assert len(arm_ids) == len(labels) * 2  # a new set of runs at every point
    for s in specs:
        if s.arm == "baseline":
            assert s.config.strategy == {}
            continue
        values = point_values(s.point)
        assert s.config.strategy["outlet_closure"].count == values["strategy.outlet_closure.count"]
        assert (
            s.config.strategy["partner_promotion"].budget
            == values["strategy.partner_promotion.budget"]
        )


def test_lhs_sample_gives_distinct_stratified_points_within_the_ranges(tmp_path):
    args = tiny(
        tmp_path,
        "experiment=digital_lhs",
        "experiment.only=[digital]",
        "experiment.sample.points=5",
        "replications=2",
    )
    compare, specs, _ = prepared(args)
    ranges = compare.experiment.sample.ranges
    assert len(ranges) >= 2
    labels = list(dict.fromkeys(s.point for s in specs))
    assert len(labels) == 5
    points = [point_values(label) for label in labels]
    assert len({tuple(sorted(p.items())) for p in points}) == 5
    for key, (low, high) in ranges.items():
        values = [p[key] for p in points]
        assert all(low <= v <= high for v in values), (key, values)
        # a Latin hypercube: one value in each fifth of every range
        assert sorted(int((v - low) / (high - low) * 5) for v in values) == [0, 1, 2, 3, 4]
    for s in specs:
        if s.arm == "digital":
            params = s.config.strategy["digital_scenario"]
            for key, value in point_values(s.point).items():
                assert getattr(params, key.rpartition(".")[2]) == value
        else:
            assert s.config.strategy == {}
    baseline_ids = {s.run_id for s in specs if s.arm == "baseline"}
    assert len(baseline_ids) == 2  # shared by every point
    assert len({s.run_id for s in specs if s.arm == "digital"}) == 5 * 2


def test_sample_over_a_scenario_key_moves_every_arm_and_rounds_integers(tmp_path):
    args = tiny(
        tmp_path,
        "experiment.only=[training]",
        "experiment.sample.method=random",
        "experiment.sample.points=3",
        "+experiment.sample.ranges.months=[6,600]",
        "replications=2",
    )
    _, specs, _ = prepared(args)
    labels = list(dict.fromkeys(s.point for s in specs))
    assert len(labels) == 3
    for s in specs:
        assert isinstance(s.config.months, int)
        assert 6 <= s.config.months <= 600
        assert s.point == f"months={s.config.months}"
    for arm in ("baseline", "training"):  # a scenario key applies to the baseline too
        assert len({s.run_id for s in specs if s.arm == arm}) == 3 * 2


@pytest.mark.parametrize(
    "extra",
    [
        ["+experiment.grid.months=[6,6]"],
        [
            "experiment.sample.method=lhs",
            "experiment.sample.points=4",
            "+experiment.sample.ranges.months=[6,7]",
        ],
    ],
    ids=["repeated grid value", "sample points equal after rounding"],
)
def test_a_plan_never_holds_the_same_run_twice(tmp_path, extra):
    """Repeated points would pair each run with itself twice; the report then refuses the store
    after every run is done. Refusing them up front or running each point once are both fine."""
    args = tiny(tmp_path, "experiment.only=[training]", "replications=2", *extra)
    try:
        _, specs, _ = prepared(args)
    except ConfigError:
        return
    keys = [(s.arm, s.point, s.seed) for s in specs]
    assert len(keys) == len(set(keys)), sorted(keys)


# --------------------------------------------------------------------------------------------
# Report outputs
# --------------------------------------------------------------------------------------------


def test_report_writes_one_row_per_point_and_arm_and_prints_verdicts(tmp_path, monkeypatch, capsys):
    args = tiny(
        tmp_path,
        "experiment.only=[training,mentoring]",
        "+experiment.grid={strategy.training.hours:[20.0,80.0]}",
        "replications=2",
    )
    code, out, _ = cli(monkeypatch, capsys, args)
    assert code == 0
    root = tmp_path / "out" / "playbook"
    plan = read_plan(root)
    labels = sorted(set(plan["point"]))
    assert len(labels) == 2
    # baseline and mentoring do not have the key: one set of runs each, shared by both points
    stored = {p.name for p in (root / "runs").iterdir()}
    assert stored == set(plan["run_id"])
    assert len(stored) == 2 + 2 + 2 * 2
    assert counts(out) == (0, len(stored))

    for name in ("summary", "differences"):
        csv = pd.read_csv(root / f"{name}.csv", dtype={"point": str}, keep_default_na=False)
        parquet = pd.read_parquet(root / f"{name}.parquet")
        assert list(csv.columns) == list(parquet.columns)
        assert len(csv) == len(parquet)
    summary = pd.read_csv(root / "summary.csv", dtype={"point": str}, keep_default_na=False)
    assert sorted(zip(summary["point"], summary["arm"], strict=True)) == sorted(
        (label, arm) for label in labels for arm in ("baseline", "training", "mentoring")
    )
    assert set(summary["n"]) == {2}

    differences = pd.read_csv(root / "differences.csv", dtype={"point": str}, keep_default_na=False)
    required = ["arm", "kpi", "n", "mean_diff", "ci_low", "ci_high", "smallest_effect", "verdict"]
    required += ["seeds_needed", "baseline_mean", "arm_mean", "sd_diff", "rel_diff", "clears"]
    required += ["note", "interval_level"]
    assert set(required) <= set(differences.columns)
    assert set(differences["verdict"]) <= set(VERDICTS)  # a verdict on every row
    undecided = differences[(differences["verdict"] == UNDECIDED) & (differences["n"] >= 2)]
    with_interval = undecided["note"] == ""
    assert (pd.to_numeric(undecided["seeds_needed"]) > undecided["n"])[with_interval].all()
    assert undecided.loc[~with_interval, "ci_low"].eq("").all()  # no interval, and says why
    kpis = [k for k in KPIS if k in load(root).columns]
    assert kpis
    keys = list(zip(differences["point"], differences["arm"], differences["kpi"], strict=True))
    assert len(keys) == len(set(keys))
    assert sorted(keys) == sorted(
        (label, arm, kpi) for label in labels for arm in ("training", "mentoring") for kpi in kpis
    )

    verdicts = summary[summary["arm"] != "baseline"]
    assert len(verdicts) == 4
    assert {"retention_verdict", "profit_verdict", "retention_seeds_needed"} <= set(summary)
    for row in verdicts.itertuples():
        assert isinstance(row.sentence, str)
        assert row.sentence.startswith("retention at ") and "2 seeds" in row.sentence
        assert f"{title(row.arm)} @ {row.point}: {row.sentence}" in out
    assert (
        "simultaneous 95% CIs for the 2 strategies of each KPI (bootstrap-t over the seeds, never"
        " narrower than Student's t; Bonferroni over the arms)" in " ".join(out.split())
    )
    assert "not distinguishable" not in out


# --------------------------------------------------------------------------------------------
# Hydra multirun of sim.run, reported
# --------------------------------------------------------------------------------------------


def run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_a_hydra_multirun_store_is_reported_by_arm(tmp_path):
    store = tmp_path / "store"
    scenario = ["population.customers=300", "months=6", "burn_in=2", f"output.dir={store}"]
    for arm in ([], ["strategy=[training]"]):
        proc = run_module("sim.run", "-m", "seed=0,1", *scenario, *arm)
        assert proc.returncode == 0, proc.stderr[-3000:]
    folders = [p for p in store.iterdir() if (p / "provenance.json").exists()]
    assert len(folders) == 4
    run_id = folders[0].name  # the store reads a run's folder for everyone
    assert run_provenance(store, run_id)["status"] == "ok"
    config = run_config(store, run_id)
    assert dict(flatten(config))["population.customers"] == 300 and config["burn_in"] == 2
    assert run_provenance(store, "no-such-run") is None and run_config(store, "no-such-run") == {}

    proc = run_module("experiments.report", str(store))
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = proc.stdout
    assert re.search(r"^\s*Baseline\b", table, re.MULTILINE), table
    assert re.search(r"^\s*Manager training\b", table, re.MULTILINE), table
    assert re.search(r"^\s*Manager training: ", table, re.MULTILINE), table  # its verdict
    summary = pd.read_csv(store / "summary.csv")
    assert summary.set_index("arm")["n"].to_dict() == {"baseline": 2, "training": 2}


def test_a_hydra_multirun_sweeping_a_parameter_is_reported(tmp_path):
    """A sweep over a strategy parameter is reported with its settings kept apart: the runs of
    one strategy at two settings are neither pooled nor refused."""
    store = tmp_path / "store"
    proc = run_module(
        "sim.run",
        "-m",
        "seed=0,1",
        "strategy=[training]",
        "strategy.training.hours=20,80",
        "population.customers=300",
        "months=6",
        "burn_in=2",
        f"output.dir={store}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len([p for p in store.iterdir() if (p / "provenance.json").exists()]) == 4

    proc = run_module("experiments.report", str(store))
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 0, proc.stderr
    summary = pd.read_csv(store / "summary.csv")
    assert len(summary) == 2  # one row per setting
    assert list(summary["n"]) == [2, 2]


# --------------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------------


def test_local_ray_and_slurm_executors_store_identical_results(tmp_path, capsys):
    import ray

    stores = {}
    try:
        for kind in ("local", "ray", "slurm"):
            out_dir = tmp_path / kind
            args = [
                *TINY,
                "replications=2",
                "experiment.only=[training]",
                f"executor={kind}",
                "executor.local=true",  # slurm through submitit's local executor
                "report=false",
                f"output.dir={out_dir}",
            ]
            compare, specs, root = prepared(args)
            assert run_experiment(compare, specs, root, progress=False) == 0
            out = capsys.readouterr().out
            assert f"to run on {kind}" in out
            assert counts(out) == (0, 4)
            stores[kind] = root
            if kind == "ray":
                assert not ray.is_initialized()  # the executor shut down the Ray it started
    finally:
        if ray.is_initialized():
            ray.shutdown()

    ids = {kind: sorted(p.name for p in (root / "runs").iterdir()) for kind, root in stores.items()}
    assert len(ids["local"]) == 4
    assert ids["ray"] == ids["local"]
    assert ids["slurm"] == ids["local"]
    for run_id in ids["local"]:
        folders = {kind: root / "runs" / run_id for kind, root in stores.items()}
        for folder in folders.values():
            assert json.loads((folder / "provenance.json").read_text())["status"] == "ok"
        summary = (folders["local"] / "summary.json").read_bytes()
        series = pd.read_parquet(folders["local"] / "timeseries.parquet")
        for kind in ("ray", "slurm"):
            assert (folders[kind] / "summary.json").read_bytes() == summary, (kind, run_id)
            pd.testing.assert_frame_equal(
                pd.read_parquet(folders[kind] / "timeseries.parquet"), series, check_exact=True
            )
