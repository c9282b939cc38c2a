"""The run cache: a run with the same id, code and output settings is run once under an
``output.dir`` and reused by every experiment there (``runner.store``: ``take_cached``,
``publish``), only when its checks pass: a damaged, incomplete, failed or linked cached run is run
again, never reused; ids and keys that are not plain hex are never paths.

Tiny banks (300 customers, 3 months, no burn-in, 2 seeds), one worker, no report. Runs executed
are counted where ``experiments.compare`` hands them to the executor (``run_all``).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

import experiments.compare as compare_module
import runner.store as store
from analysis.report import statistics
from experiments.compare import prepare, run_experiment
from runner.config import compose
from runner.plan import RunSpec
from runner.store import CACHE, cache_key, load, status
from sim.folders import CHECKSUMS, damage, place_copy

TINY = [
    "population.customers=300",
    "months=3",
    "burn_in=0",
    "replications=2",
    "executor.workers=1",
    "report=false",
]
TRAINING = 'experiment.arms={baseline: [], training: ["strategy=[training]"]}'
CLOSE3 = (
    "experiment.arms={baseline: [],"
    ' close3: ["strategy=[outlet_closure]", "strategy.outlet_closure.count=3"]}'
)


@pytest.fixture
def executed(monkeypatch) -> list[int]:
    """How many runs each batch handed to the executor (``experiments.compare.run_all``)."""
    counts: list[int] = []
    real = compare_module.run_all

    def counting(specs, *args, **kwargs):
        counts.append(len(specs))
        return real(specs, *args, **kwargs)

    monkeypatch.setattr(compare_module, "run_all", counting)
    return counts


def experiment(out: Path, name: str, arms: str, *more: str) -> tuple[int, Path]:
    """The tiny experiment ``name`` with ``arms`` under ``out``, in this process: (exit code,
    its folder)."""
    overrides = [*TINY, f"output.dir={out}", f"experiment.name={name}", arms, *more]
    compare, specs, root = prepare(compose(overrides), overrides)
    return run_experiment(compare, specs, root, progress=False), root


def planned(out: Path, arms: str, run_id: str) -> RunSpec:
    """The run ``run_id`` as an experiment with ``arms`` under ``out`` plans it (a dry run's
    plan: nothing written)."""
    overrides = [*TINY, f"output.dir={out}", "experiment.name=planned", arms, "dry_run=true"]
    _, specs, _ = prepare(compose(overrides), overrides)
    return next(s for s in specs if s.run_id == run_id)


def arm(root: Path, name: str) -> pd.DataFrame:
    """The stored runs of one arm (``store.load``), by seed."""
    runs = load(root)
    return runs[runs["arm"] == name].sort_values("seed").reset_index(drop=True)


def cached(out: Path, run_id: str) -> Path:
    """The cache folder of the run ``run_id`` (under whichever key holds it)."""
    (found,) = [p for p in (out / CACHE).glob(f"*/{run_id}") if p.is_dir()]
    return found


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def tree(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every path under ``folder``: (mtime in ns, bytes or b"" for a folder)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else b"")
        for p in sorted(folder.rglob("*"))
    }


def temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*.tmp-*")]


def test_a_second_experiment_runs_none_of_the_runs_it_shares(tmp_path, executed, capsys):
    out = tmp_path / "out"
    code, first = experiment(out, "first", TRAINING)
    assert code == 0 and executed == [4]
    capsys.readouterr()

    before = tree(out)
    assert experiment(out, "second", CLOSE3, "dry_run=true")[0] == 0  # writes nothing
    assert (
        "0 already stored, 2 to be reused from the run cache, 2 to run" in capsys.readouterr().out
    )
    assert tree(out) == before and executed == [4]

    code, second = experiment(out, "second", CLOSE3)
    assert code == 0
    assert executed[1:] == [2]  # the close3 arm only: the baseline came from the cache
    text = capsys.readouterr().out
    assert "= 4 runs; 0 already stored, 2 reused from the run cache, 2 to run" in text
    assert f"2 of 4 runs reused from the run cache {out / CACHE}" in text
    assert "Ran 2 runs" in text

    base = arm(first, "baseline")
    pd.testing.assert_frame_equal(arm(second, "baseline"), base)
    for run_id in base["run_id"]:
        stored = files(first / "runs" / run_id)
        assert files(second / "runs" / run_id) == stored == files(cached(out, run_id))
    assert len(load(second)) == 4 and (load(second)["status"] == "ok").all()

    code, third = experiment(out, "third", CLOSE3)  # every run shared: none run
    assert code == 0 and executed[2:] == [0]
    pd.testing.assert_frame_equal(statistics(third)["summary"], statistics(second)["summary"])
    assert not temps(out)


def test_a_stored_experiment_resumes_from_its_own_store(tmp_path, executed, capsys):
    """The cache adds to resuming, never replaces it: an experiment's own runs are used first."""
    out = tmp_path / "out"
    assert experiment(out, "first", TRAINING)[0] == 0
    shutil.rmtree(out / CACHE)  # cleared by hand: the store is whole without it
    capsys.readouterr()
    code, root = experiment(out, "first", TRAINING)
    assert code == 0 and executed == [4, 0]
    assert "= 4 runs; 4 already stored, 0 to run" in capsys.readouterr().out
    assert (load(root)["status"] == "ok").all()
    code, _ = experiment(out, "again", TRAINING)  # the cleared cache has nothing to give
    assert code == 0 and executed[2:] == [4]


def _replace(path: Path, content: bytes) -> None:
    """A new file at ``path`` (another inode: the stores' hard links keep the old one)."""
    path.unlink()
    path.write_bytes(content)


def _truncate_in_place(path: Path) -> None:
    """The same inode cut in half: every store linking it is damaged too."""
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)


CORRUPT = {
    "truncated timeseries": lambda f: _replace(
        f / "timeseries.parquet", (f / "timeseries.parquet").read_bytes()[:100]
    ),
    "edited summary": lambda f: _replace(
        f / "summary.json",
        json.dumps(
            json.loads((f / "summary.json").read_text()) | {"retention_horizon": 1.0}
        ).encode(),
    ),
    "deleted summary": lambda f: (f / "summary.json").unlink(),
    "deleted manifest": lambda f: (f / CHECKSUMS).unlink(),
    "extra file": lambda f: (f / "notes.txt").write_text("x"),
    "summary unlisted": lambda f: _replace(
        f / CHECKSUMS,
        json.dumps(
            (doc := json.loads((f / CHECKSUMS).read_text()))
            | {"files": {k: v for k, v in doc["files"].items() if k != "summary.json"}}
        ).encode(),
    ),
    "truncated in place": lambda f: _truncate_in_place(f / "timeseries.parquet"),
}


@pytest.mark.parametrize("kind", CORRUPT)
def test_a_corrupted_cached_run_is_run_again_not_reused(tmp_path, executed, capsys, kind):
    out = tmp_path / "out"
    assert experiment(out, "first", TRAINING)[0] == 0
    base = arm(out / "first", "baseline")
    victim = base["run_id"].iloc[1]
    CORRUPT[kind](cached(out, victim))
    capsys.readouterr()

    code, second = experiment(out, "second", CLOSE3)
    assert code == 0 and executed[1:] == [3]  # close3's two and the corrupted baseline run
    text = capsys.readouterr().out
    assert "1 reused from the run cache, 3 to run" in text
    assert f"1 run in the run cache not reused, to be run again: {victim} (damaged: " in text
    pd.testing.assert_frame_equal(arm(second, "baseline"), base)  # as the first computed it
    assert status(second / "runs", victim) == "ok" and not damage(second / "runs" / victim)
    again = cached(out, victim)  # the cache holds a sound copy again, the corrupted one set aside
    assert store.reusable(again, planned(out, CLOSE3, victim).config) == ""
    assert [p.name.split("-")[0] for p in (again.parent / "damaged").iterdir()] == [victim]


def test_a_failed_run_is_not_cached_and_not_reused_as_a_success(
    tmp_path, executed, capsys, fail_strategy
):
    out = tmp_path / "out"
    failing = (
        f'experiment.arms={{baseline: [], failing: ["+strategy.{fail_strategy}.fail_seed=1"]}}'
    )
    code, first = experiment(out, "first", failing)
    assert code == 1 and executed == [4]
    runs = arm(first, "failing")
    failed = runs.loc[runs["status"] == "failed", "run_id"].tolist()
    assert len(failed) == 1
    assert not list((out / CACHE).glob(f"*/{failed[0]}"))  # a failure is never cached

    capsys.readouterr()
    code, second = experiment(out, "second", failing)
    assert code == 1 and executed[1:] == [1]  # only the failed run is run again
    assert "3 reused from the run cache, 1 to run" in capsys.readouterr().out
    assert status(second / "runs", failed[0]) == "failed"

    # a failed run put into the cache by hand, under its key, is not taken for a success
    source = first / "runs" / failed[0]
    key = cache_key(planned(out, failing, failed[0]).config)
    shutil.copytree(source, out / CACHE / key / failed[0])
    code, third = experiment(out, "third", failing)
    assert code == 1 and executed[2:] == [1]
    assert f"{failed[0]} (it failed)" in capsys.readouterr().out
    assert status(third / "runs", failed[0]) == "failed"


def test_a_run_of_other_code_is_not_reused_but_a_store_keeps_its_runs(
    tmp_path, executed, monkeypatch
):
    """The cache key holds the code's digest (``sim/``, Python and package versions): runs of
    other code are not reused by another experiment. A store keeps its own stored runs across
    a code change, as it always did (its run ids leave the code out)."""
    out = tmp_path / "out"
    assert experiment(out, "first", TRAINING)[0] == 0
    monkeypatch.setattr(store, "code_digest", lambda: "0123456789abcdef")
    assert experiment(out, "first", TRAINING)[0] == 0  # resumed: its own runs
    assert experiment(out, "second", TRAINING)[0] == 0  # another experiment: run again
    assert executed == [4, 0, 4]
    assert len(list((out / CACHE).glob("*/*/summary.json"))) == 8  # both codes' runs, apart


def test_the_cache_key_follows_code_and_output_settings_not_the_folder():
    from sim.scenario import load_config

    config = load_config(["population.customers=300", "months=3", "burn_in=0"])
    key = cache_key(config)
    assert store.HEX.fullmatch(key)
    moved = load_config(["population.customers=300", "months=3", "burn_in=0", "output.dir=x"])
    assert cache_key(moved) == key
    for other in ("output.panel=false", "output.crm_reference_month=2"):
        changed = load_config(["population.customers=300", "months=3", "burn_in=0", other])
        assert cache_key(changed) != key


def test_links_and_ids_that_are_not_plain_hex_are_never_followed(tmp_path, executed, capsys):
    out = tmp_path / "out"
    assert experiment(out, "first", TRAINING)[0] == 0
    base = arm(out / "first", "baseline")
    one, two = base["run_id"]

    # a cached run replaced by a link to a sound copy elsewhere: not followed, run again
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(cached(out, one), elsewhere / one)
    link = cached(out, one)
    shutil.rmtree(link)
    link.symlink_to(elsewhere / one, target_is_directory=True)
    before = files(elsewhere / one)
    capsys.readouterr()
    assert experiment(out, "second", CLOSE3)[0] == 0
    assert executed[1:] == [3]
    assert f"{one} (it is a symbolic link (never followed))" in capsys.readouterr().out
    assert files(elsewhere / one) == before
    assert not link.is_symlink()  # the link set aside (not followed), a sound run in its place
    assert [p.is_symlink() for p in (link.parent / "damaged").iterdir()] == [True]

    # ids and keys that are not plain hex are never made into paths
    spec = planned(out, TRAINING, two)
    for bad in ("../first", "/etc", two.upper(), two + "0", f"{two}/.."):
        fake = SimpleNamespace(run_id=bad, config=spec.config)
        assert store.take_cached(out / "first", [fake]).reused == []
        assert store.in_cache(out / "first", [fake]).reused == []
        assert store.publish(out / "first" / "runs", fake) != ""
    assert not (out / "etc").exists() and not (tmp_path / "first").exists()


def test_a_linked_cache_folder_is_not_used(tmp_path, executed, caplog):
    out = tmp_path / "out"
    assert experiment(out, "first", TRAINING)[0] == 0
    elsewhere = tmp_path / "elsewhere"
    shutil.move(out / CACHE, elsewhere)  # a sound cache, linked from where the cache goes
    (out / CACHE).symlink_to(elsewhere, target_is_directory=True)
    before = tree(elsewhere)
    assert experiment(out, "second", TRAINING)[0] == 0
    assert executed == [4, 4]  # not used: every run run
    assert tree(elsewhere) == before  # nothing written through the link
    assert "is not used: it is a symbolic link (never followed)" in caplog.text


def _publish_many(source: str, target: str, times: int) -> list[str]:
    check = lambda copy: "" if not damage(copy) else "damaged"  # noqa: E731
    return [place_copy(Path(source), Path(target), check, replace=False) for _ in range(times)]


def test_writers_placing_the_same_run_at_once_leave_one_sound_copy(tmp_path):
    out = tmp_path / "out"
    assert experiment(out, "first", TRAINING)[0] == 0
    source = next(p for p in (out / "first" / "runs").iterdir() if not p.name.startswith("."))
    target = tmp_path / "shared" / source.name
    context = multiprocessing.get_context("fork")
    with context.Pool(4) as pool:
        results = pool.starmap(_publish_many, [(str(source), str(target), 10)] * 4)
    assert all(why == "" for batch in results for why in batch)
    assert files(target) == files(source) and not damage(target)
    assert sorted(os.listdir(target.parent)) == [source.name]  # no temp folder, no set-aside
