"""Planning without a compose per point, and ``dry_run``.

Each arm is composed once and a point's values are set on its config (``sim.scenario.with_values``):
the configs and run ids must be those a full compose gives, the run id must have one definition
(``sim.scenario.run_id``) in every process, and a bad point must be refused as composing refuses
it. ``dry_run=true`` plans and counts without writing anything. Tiny scenarios (300 customers,
2 burn-in + 6 measured months).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from experiments.compare import main as compare_main
from experiments.compare import scenario_overrides
from runner.config import CompareConfig, check_experiment, compose
from runner.plan import plan
from runner.store import CACHE
from sim.params import ConfigError
from sim.scenario import (
    MISSING,
    config_yaml,
    load_config,
    run_id,
    scenario_text,
    to_config,
    value_at,
    with_values,
)

ROOT = Path(__file__).resolve().parent.parent
TINY = ["population.customers=300", "months=6", "burn_in=2", "executor.workers=2"]
GRID = "experiment.grid={strategy.outlet_closure.count: [1, 2], bank.branches: [10, 12]}"
SAMPLE = [
    "experiment.only=[training]",
    "experiment.sample.method=lhs",
    "experiment.sample.points=3",
    "experiment.sample.ranges={months: [4, 9], strategy.training.hours: [10.0, 80.0]}",
]
SWEEPS = {"grid": ["experiment=closure_sweep", GRID], "sample": SAMPLE}


def planned(args: list[str]):
    """(CompareConfig, specs) of an experiment, validated and planned (no store opened)."""
    compare = to_config(compose(args), schema=CompareConfig)
    check_experiment(compare)
    return compare, plan(compare, scenario_overrides(args))


def composed(compare: CompareConfig, spec) -> str:
    """The YAML of a planned run's config composed the slow way: Hydra, every override (the
    point's keys that the arm has)."""
    e = compare.experiment
    base = [*e.overrides, *TINY[:3], *e.arms[spec.arm]]
    arm = load_config(base)
    point = [p for p in spec.point.split(",") if value_at(arm, p.partition("=")[0]) is not MISSING]
    config = load_config([*base, *point, f"seed={spec.seed}"])
    config.output = spec.config.output
    return config_yaml(config)


@pytest.mark.parametrize("sweep", SWEEPS, ids=SWEEPS)
def test_planned_configs_and_run_ids_are_those_of_a_full_compose(sweep):
    compare, specs = planned([*TINY, "replications=2", *SWEEPS[sweep]])
    assert len({s.point for s in specs}) >= 3
    for spec in specs:  # one definition of the run id
        assert spec.run_id == run_id(spec.config), (spec.arm, spec.point, spec.seed)
        assert spec.scenario == scenario_text(spec.config)
    for spec in specs[:: max(1, len(specs) // 6)]:
        assert config_yaml(spec.config) == composed(compare, spec), (spec.arm, spec.point)


def test_run_ids_are_the_same_in_another_process():
    args = [*TINY, "replications=2", *SAMPLE]
    _, specs = planned(args)
    code = (
        "import sys; from experiments.compare import scenario_overrides;"
        "from runner.config import CompareConfig, check_experiment, compose;"
        "from runner.plan import plan; from sim.scenario import to_config;"
        "args = sys.argv[1:]; c = to_config(compose(args), schema=CompareConfig);"
        "check_experiment(c); print(' '.join(s.run_id for s in plan(c, scenario_overrides(args))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == [s.run_id for s in specs]


BAD_VALUES = {  # key -> a value the schema refuses
    "strategy.training.hours": "abc",  # not a number
    "months": "many",
    "bank.branches": 2.5,  # not an integer
    "strategy.lean_service.prenotify": 2,  # not a switch
    "strategy.training.hours_": 1.0,  # unknown key
}


@pytest.mark.parametrize(("key", "value"), BAD_VALUES.items(), ids=BAD_VALUES)
def test_a_bad_value_is_refused_as_composing_refuses_it(key, value):
    overrides = ["strategy=[training,lean_service]"]
    config = load_config(overrides)
    with pytest.raises(ConfigError) as merged:
        with_values(config, {key: value})
    with pytest.raises(ConfigError) as whole:
        load_config([*overrides, f"{key}={value}"])
    message, reference = str(merged.value), str(whole.value)
    assert "\n" not in message
    assert key in message and key in reference
    assert str(value) in message or any(
        words in message for words in ("not a known key", "is not a parameter of")
    )


BAD_POINTS = {  # grid -> (the first arm it fails for, the bad point)
    "strategy key": (
        "{strategy.training.hours: [40.0, 1000.0]}",
        "training",
        "strategy.training.hours=1000.0",
    ),
    "scenario key": ("{months: [6, 7], burn_in: [2, 9999]}", "baseline", "months=6,burn_in=9999"),
}


@pytest.mark.parametrize(("grid", "arm", "point"), BAD_POINTS.values(), ids=BAD_POINTS)
def test_a_bad_point_is_refused_naming_the_arm_and_the_point(grid, arm, point):
    args = [*TINY, "replications=2", "experiment.only=[training]", f"experiment.grid={grid}"]
    with pytest.raises(ConfigError) as refused:
        planned(args)
    with pytest.raises(ConfigError) as composing:
        load_config(
            [*TINY[:3], *(["strategy=[training]"] if arm == "training" else []), *point.split(",")]
        )
    assert str(refused.value) == f"experiment.arms.{arm} at {point}: {composing.value}"


def test_config_yaml_is_what_omegaconf_writes():
    """A run folder's config.yaml is written without OmegaConf, in OmegaConf's own format."""
    config = load_config(["strategy=playbook", "population.weights.mass=2"])
    assert config_yaml(config) == OmegaConf.to_yaml(OmegaConf.structured(config))


def test_with_values_shares_what_it_does_not_change():
    config = load_config(["strategy=[training]"])
    before = config_yaml(config)
    moved = with_values(config, {"strategy.training.hours": 20, "months": 24})
    assert moved.strategy["training"].hours == 20.0 and isinstance(moved.months, int)
    assert moved.population is config.population  # shared, not copied
    assert config_yaml(config) == before  # the arm's config is untouched
    assert run_id(moved) != run_id(config)


# --------------------------------------------------------------------------------------------
# dry_run
# --------------------------------------------------------------------------------------------


def cli(monkeypatch, capsys, args: list[str]) -> tuple[int, str]:
    """``python -m experiments.compare ARGS`` in this process: (exit code, stdout)."""
    monkeypatch.setattr(sys, "argv", ["experiments.compare", *args])
    with pytest.raises(SystemExit) as exited:
        compare_main()
    return exited.value.code or 0, capsys.readouterr().out


def files(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every path under ``folder``: (mtime in ns, bytes or b"" for a folder)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else b"")
        for p in sorted(folder.rglob("*"))
    }


def test_dry_run_counts_and_writes_nothing(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    args = [*TINY, f"output.dir={out}", "experiment.only=[training]", "report=false"]
    code, text = cli(monkeypatch, capsys, [*args, "replications=3", "dry_run=true"])
    assert code == 0
    assert "= 6 runs; 0 already stored, 6 to run" in text
    assert "Dry run: nothing was run or written." in text
    assert not out.exists()  # no experiment folder, lock or plan

    code, _ = cli(monkeypatch, capsys, [*args, "replications=2"])  # 4 of the 6 runs stored
    assert code == 0
    runs = out / "playbook" / "runs"
    damaged = sorted(runs.iterdir())[0]
    (damaged / "summary.json").write_text(json.dumps({"edited": True}))
    shutil.rmtree(sorted(runs.iterdir())[1])
    shutil.rmtree(out / CACHE)  # else it would give the runs back (tests/test_run_cache.py)
    before = files(tmp_path)
    code, text = cli(monkeypatch, capsys, [*args, "replications=3", "dry_run=true"])
    assert code == 0
    assert f"1 damaged run: {damaged.name}" in text
    assert "= 6 runs; 2 already stored, 4 to run" in text
    assert files(tmp_path) == before  # nothing written, moved or removed


def test_the_plan_line_says_1_arm_not_1_arms(tmp_path, monkeypatch, capsys):
    args = [*TINY, f"output.dir={tmp_path}", "experiment.only=[baseline]", "replications=2"]
    code, text = cli(monkeypatch, capsys, [*args, "dry_run=true"])
    assert code == 0
    assert "Experiment playbook: 1 arm x 2 replications = 2 runs; 0 already stored" in text


def test_dry_run_with_auto_replications_counts_the_first_batch(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    args = [*TINY, f"output.dir={out}", "experiment.only=[training]", "replications=auto"]
    code, text = cli(monkeypatch, capsys, [*args, "replications_min=2", "dry_run=true"])
    assert code == 0
    assert "= 4 runs; 0 already stored, 4 to run" in text
    assert "up to 120 runs with replications_max=60" in text
    assert not out.exists()


def test_dry_run_refuses_what_a_run_would_refuse(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    args = [*TINY, f"output.dir={out}", "experiment.only=[training]", "replications=2"]
    assert cli(monkeypatch, capsys, [*args, "report=false"])[0] == 0
    before = files(tmp_path)
    monkeypatch.setattr(sys, "argv", ["experiments.compare", *args, "months=7", "dry_run=true"])
    with pytest.raises(SystemExit) as exited:
        compare_main()
    assert exited.value.code == 2
    assert "holds a different experiment" in capsys.readouterr().err
    assert files(tmp_path) == before


def test_with_values_merges_a_map_of_strategies_like_an_override():
    """``{"strategy": {...}}`` is merged into the strategies as Hydra merges a map (it was an
    IndexError): an empty map changes nothing, a new name adds a typed, checked strategy."""
    config = load_config(["population.customers=300", "strategy=[training]"])
    assert list(with_values(config, {"strategy": {}}).strategy) == ["training"]
    merged = with_values(config, {"strategy": {"mentoring": {"start": 2}}}).strategy
    assert sorted(merged) == ["mentoring", "training"] and merged["mentoring"].start == 2
    with pytest.raises(ConfigError, match="strategy.mentoring.start"):
        with_values(config, {"strategy": {"mentoring": {"start": -1}}})
