"""The command-line front of ``sim.run`` and ``experiments.compare``: what a command line may
say (``sim.overrides``), refused in one line with exit 2 and nothing written; valid forms work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import experiments.compare
import experiments.report
import sim.run
from sim.overrides import check_path
from sim.params import ConfigError
from sim.scenario import load_config

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["population.customers=200", "months=2", "burn_in=1"]
LONG_DIR = f"output.dir=out/{'a' * 300}"
REFUSED = {
    "months=${nonexistent}": "interpolations",
    "months=${months}": "interpolations",
    "months=${oc.env:HOME}": "interpolations",
    "output.dir=${oc.decode:'x'}": "interpolations",
    "hydra.run.dir=/tmp/x": "hydra.* and _target_",
    "hydra/launcher=basic": "hydra.* and _target_",
    "+bank._target_=os.system": "hydra.* and _target_",
    "strategy=[[training]]": "a name or a list of names",
    "strategy=5": "a name or a list of names",
    "strategy={a: 1}": "a name or a list of names",
    "seed=!!python/object:os.system": "YAML tags",
    "months=3\x01": "control character",
    "mon\x1bths=3": "control character",
    "seed=0,1": "is a sweep",
    LONG_DIR: "at most 255 bytes per name",
    "population@_global_=small": "packages",
}


def run_main(module, argv: list[str], capsys) -> tuple[int | None, str, str]:
    """(exit code, stdout, stderr) of ``module.main()`` with ``argv``."""
    old, sys.argv = sys.argv, [module.__name__, *argv]
    try:
        module.main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = old
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("module", [sim.run, experiments.compare], ids=lambda m: m.__name__)
@pytest.mark.parametrize("bad", list(REFUSED))
def test_bad_overrides_are_refused_in_one_line(module, bad, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(module, [*SMALL, "output.dir=out", bad], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("config error: "), err
    assert REFUSED[bad] in err
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize(
    "module, flag",
    [(experiments.compare, "-m"), (experiments.compare, "--multirun"), (sim.run, "--cfg")],
)
def test_hydra_flags_are_refused_saying_how_to_sweep(module, flag, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(module, [flag, "job", "seed=1,2", "output.dir=out"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"config error: {flag} is not supported") and "sweep" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("module", [sim.run, experiments.compare], ids=lambda m: m.__name__)
def test_help_prints_the_usage(module, capsys):
    code, out, err = run_main(module, ["--help"], capsys)
    assert code == 0 and out.startswith("``python -m ") and not err


def test_a_multirun_lists_hydras_jobs_in_its_order():
    jobs = sim.run.jobs(["-m", "seed=0,1", "strategy=training,lean_service", "months=3"])
    assert jobs == [
        ["seed=0", "strategy=training", "months=3"],
        ["seed=0", "strategy=lean_service", "months=3"],
        ["seed=1", "strategy=training", "months=3"],
        ["seed=1", "strategy=lean_service", "months=3"],
    ]
    assert sim.run.jobs(["months=3"]) == [["months=3"]]


def test_the_api_refuses_the_same_overrides():
    for bad in REFUSED:
        with pytest.raises(ConfigError):
            load_config([bad])
    assert load_config(["strategy=[training]", "months=3"]).months == 3


def test_path_limits_count_bytes():
    check_path("output.dir", "results/" + "é" * 127)  # 254 bytes
    with pytest.raises(ConfigError, match="per name"):
        check_path("output.dir", "results/" + "é" * 128)  # 256 bytes
    with pytest.raises(ConfigError, match="too long"):
        check_path("output.dir", "/a" * 2049)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_compare_multirun_fails_cleanly_as_a_process(tmp_path):
    """Once the GlobalHydra crash, with a stray multirun/ folder left behind."""
    proc = cli("experiments.compare", "-m", "seed=1,2", *SMALL, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("config error: -m is not supported")
    assert proc.stderr.count("\n") == 1 and not list(tmp_path.iterdir())


def test_a_long_output_dir_is_refused_before_running_as_a_process(tmp_path):
    proc = cli("sim.run", *SMALL, LONG_DIR, cwd=tmp_path)
    assert proc.returncode == 2 and "per name" in proc.stderr and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and not list(tmp_path.iterdir())


UNWRITABLE = {
    "a folder below a file": lambda tmp: tmp / "a_file" / "out",
    "a virtual file system": lambda tmp: Path("/proc/bank-testbed-out"),
}


@pytest.mark.parametrize("module", [sim.run, experiments.compare], ids=lambda m: m.__name__)
@pytest.mark.parametrize("where", list(UNWRITABLE))
def test_an_unwritable_output_folder_is_refused_before_any_work(
    module, where, capsys, tmp_path, monkeypatch
):
    """Not a traceback after the runs (or a finished run lost): one line, exit 2, nothing run."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("not a folder")
    folder = UNWRITABLE[where](tmp_path)
    code, out, err = run_main(module, [*SMALL, f"output.dir={folder}"], capsys)
    assert code == 2
    assert err.startswith("config error: output.dir: cannot "), err
    assert "allowed: a folder you can write" in err
    assert "Traceback" not in err and "runs" not in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


STRATEGY_KEYS = {
    "strategy.training.hours=5": ("not active", "strategy=[training]", "#training"),
    "strategy=[training] strategy.training.budget=5": ("not a parameter", "skill_per_hour"),
    "+strategy.training.budget=5": ("not a parameter", "cost_per_hour", "#training"),
    "strategy.trainingg.hours=5": ("is not a strategy", "outlet_closure", "docs/strategies.md"),
}


@pytest.mark.parametrize("line", list(STRATEGY_KEYS))
def test_a_strategy_key_refusal_says_how_to_activate_it_or_what_it_takes(line, capsys):
    code, _, err = run_main(sim.run, [*SMALL, *line.split()], capsys)
    assert code == 2
    assert all(part in err for part in STRATEGY_KEYS[line]), err


@pytest.mark.parametrize(
    ("line", "hint"),
    [
        ("experiment.nope=1", "docs/experiments.md#the-experiment-config"),
        ("experiment.arms.new=[]", "+experiment.arms.new=..."),
        ("executor.nope=1", "docs/experiments.md#executors"),
    ],
)
def test_an_unknown_experiment_key_points_to_the_page_that_lists_them(line, hint, capsys):
    code, _, err = run_main(experiments.compare, [*SMALL, line], capsys)
    assert code == 2
    assert hint in err, err


def test_report_of_a_folder_without_results_exits_non_zero(tmp_path, capsys):
    code, out, err = run_main(experiments.report, [str(tmp_path)], capsys)
    assert code == 2 and "nothing to report" in err and "./testbed compare" in err
    assert not list(tmp_path.iterdir())
    code, _, err = run_main(experiments.report, [str(tmp_path / "missing")], capsys)
    assert code == 2 and "is not a folder" in err


def test_report_refuses_chart_arms_the_results_do_not_hold(tmp_path, capsys):
    store = tmp_path / "store"
    assert run_main(sim.run, [*SMALL, f"output.dir={store}"], capsys)[0] == 0
    before = sorted(p.name for p in store.iterdir())
    code, _, err = run_main(experiments.report, [str(store), "--arms", "baseline,nope"], capsys)
    assert code == 2 and "'nope' is not an arm of the results" in err, err
    assert sorted(p.name for p in store.iterdir()) == before  # nothing written


def test_chart_arms_that_are_not_arms_are_refused_before_any_work(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = "experiment.chart_arms=[training,nope]"
    code, _, err = run_main(experiments.compare, [*SMALL, "output.dir=out", line], capsys)
    assert code == 2 and "experiment.chart_arms: 'nope' is not an arm; arms: [" in err, err
    assert not list(tmp_path.iterdir())
