"""The results store: one folder per run under ``<experiment>/runs/<run id>``, written atomically.

A run's id is a hash of its resolved scenario (seed included), so a rerun finds what is done, and
a changed config gets a new id and is never served a stale result. ``plan.csv`` maps runs to arms,
points and seeds; runs stored by ``python -m sim.run`` (e.g. a Hydra multirun) have no plan and
are grouped by their strategies.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import yaml

from sim.folders import (
    atomic_folder,
    check_writable,
    damage,
    is_run_folder,
    mark,
    refuse_foreign,
    remove_stale_temps,
)
from sim.params import ConfigError
from sim.provenance import provenance
from sim.scenario import config_yaml

PLAN = "plan.csv"
IDENTITY = "identity.json"  # the experiment a folder holds (see experiment_identity)
LOCK = ".lock"
DAMAGED = "damaged"
_LOCKS: dict[Path, int] = {}  # experiment folder -> the descriptor holding its lock


def open_store(root: Path, specs) -> Path:
    """The experiment folder for the planned ``specs``, locked for this process and created;
    refuses (ConfigError) an unwritable place, a foreign folder, a folder another process is
    running, or one holding a different experiment. Temporary folders of killed writers go."""
    identity = experiment_identity(specs)
    _check_place(root)
    root.mkdir(parents=True, exist_ok=True)
    _lock(root)
    try:
        identity = _merged_identity(root, identity)
    except ConfigError:
        release(root)
        raise
    mark(root)
    (root / "runs").mkdir(exist_ok=True)
    (root / IDENTITY).write_text(json.dumps(identity, indent=2, sort_keys=True))
    removed = remove_stale_temps(root / "runs")
    if removed:
        print(f"Removed {len(removed)} temporary folders left by interrupted runs.")
    return root


def check_store(root: Path, specs) -> None:
    """Refuse (ConfigError) what ``open_store`` refuses but a running experiment, writing nothing
    and taking no lock (a dry run)."""
    _check_place(root)
    _merged_identity(root, experiment_identity(specs))


def _check_place(root: Path) -> None:
    """Refuse an experiment folder that cannot be written, or a foreign one."""
    check_writable(root)
    refuse_foreign(root, "experiment.name")
    refuse_foreign(root / "runs", "experiment.name")


def _lock(root: Path) -> None:
    """Hold an exclusive lock on ``root`` for this process, or refuse at once with the holder's
    pid (the lock goes when the process ends, or with ``release``)."""
    if root in _LOCKS:
        return
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise ConfigError(
            f"experiment.name: {root} is in use by another process (pid {holder});"
            " wait for it to finish or choose another experiment.name"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _LOCKS[root] = fd


def release(root: Path) -> None:
    """Let go of the lock ``open_store`` took on ``root``."""
    fd = _LOCKS.pop(root, None)
    if fd is not None:
        os.close(fd)


def forget_locks() -> None:
    """In a forked worker: close the inherited lock descriptors, so the lock goes with the process
    that took it (the parent keeps holding it)."""
    while _LOCKS:
        os.close(_LOCKS.popitem()[1])


def experiment_identity(specs) -> dict[str, list[list[str]]]:
    """Arm -> its (point, scenario hash) pairs: what the experiment compares, without its seeds
    (replications may grow). Arms, their overrides, common and command-line overrides, grids and
    samples all change it."""
    scenarios = {(s.arm, s.point): s.scenario for s in specs}
    identity: dict[str, list[list[str]]] = {}
    for (arm, point), text in sorted(scenarios.items()):
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        identity.setdefault(arm, []).append([point, digest])
    return identity


def _merged_identity(root: Path, identity: dict) -> dict:
    """The folder's identity with this experiment's arms added; refuses an experiment whose
    shared arms differ (a subset of arms, as ``experiment.only`` runs, is the same experiment)."""
    path = root / IDENTITY
    try:
        stored = json.loads(path.read_text()) if path.exists() else {}
    except ValueError:
        raise ConfigError(
            f"experiment.name: {path} is unreadable; remove the folder or choose another"
            " experiment.name"
        ) from None
    if any(stored[arm] != identity[arm] for arm in stored.keys() & identity.keys()):
        raise ConfigError(
            f"experiment.name: {root} holds a different experiment; choose another"
            " experiment.name or remove the folder"
        )
    return stored | identity


def runs_folder(results: Path) -> Path:
    """Where an experiment folder (or a plain folder of run folders) keeps its runs."""
    return results / "runs" if (results / "runs").is_dir() else results


def status(runs_dir: Path, run_id: str) -> str | None:
    """'ok', 'failed', 'damaged' (a file missing, truncated or edited) or None (not run)."""
    folder = runs_dir / run_id
    if not is_run_folder(folder):
        return None
    return DAMAGED if damage(folder) else _provenance(folder)["status"]


def run_provenance(results: Path, run_id: str) -> dict | None:
    """A stored run's provenance record (``runs/<id>/provenance.json``), None if not stored or
    damaged."""
    folder = runs_folder(results) / run_id
    return _provenance(folder) if _sound(folder) else None


def run_config(results: Path, run_id: str) -> dict:
    """A stored run's resolved scenario (``runs/<id>/config.yaml``), {} if not stored or
    damaged."""
    folder = runs_folder(results) / run_id
    return _config(folder) if _sound(folder) else {}


def _sound(folder: Path) -> bool:
    return is_run_folder(folder) and not damage(folder)


def _config(folder: Path) -> dict:
    return yaml.safe_load((folder / "config.yaml").read_text()) or {}


def _provenance(folder: Path) -> dict:
    return json.loads((folder / "provenance.json").read_text())


def stored(root: Path, specs) -> dict[str, str | None]:
    """Run id -> ``status`` in the store at ``root`` of each planned run, once per run id."""
    return {s.run_id: status(root / "runs", s.run_id) for s in specs}


def write_plan(root: Path, specs) -> None:
    rows = [{"run_id": s.run_id, "arm": s.arm, "point": s.point, "seed": s.seed} for s in specs]
    pd.DataFrame(rows).to_csv(root / PLAN, index=False)


def write_failure(runs_dir: Path, spec, started: str, finished: str, error: str) -> None:
    """Record a run that raised: its config and provenance with the traceback, no results."""
    with atomic_folder(runs_dir / spec.run_id) as tmp:
        (tmp / "config.yaml").write_text(config_yaml(spec.config))
        record = provenance(spec.config, started, finished, "failed", error)
        (tmp / "provenance.json").write_text(json.dumps(record, indent=2))


def load(results: Path) -> pd.DataFrame:
    """One row per stored run: run_id, arm, point, seed, status, error and the summary's KPIs.

    ``results`` is an experiment folder (with ``runs/`` and a plan) or a folder of run folders.
    A run whose files do not match their checksums is ``damaged`` (its error says why), with no
    KPIs.
    """
    planned = (results / PLAN).exists()
    rows, damaged, settings = [], [], {}
    for folder in sorted(p for p in runs_folder(results).iterdir() if is_run_folder(p)):
        if problem := damage(folder):
            damaged.append({"run_id": folder.name, "status": DAMAGED, "error": problem})
            continue
        rows.append(_row(folder))
        if not planned:  # arms and points come from the runs' own settings
            settings[folder.name] = _settings(_config(folder))
    runs = pd.DataFrame(rows)
    if not planned:
        grouped = _arms_and_points(runs, settings) if len(runs) else runs
        return pd.concat([grouped, pd.DataFrame(damaged)], ignore_index=True)
    runs = pd.concat([runs, pd.DataFrame(damaged)], ignore_index=True)
    if runs.empty:
        return runs
    plan = pd.read_csv(results / PLAN, dtype={"point": str}, keep_default_na=False)
    runs = plan.merge(runs.drop(columns="seed", errors="ignore"), on="run_id", how="left")
    runs["status"] = runs["status"].fillna("missing")
    return runs


def _row(folder: Path) -> dict:
    """A sound run's row: its provenance and, if it succeeded, its summary's KPIs."""
    record = _provenance(folder)
    row = {
        "run_id": folder.name,
        "status": record["status"],
        "seed": record["seed"],
        "strategies": ",".join(record["strategies"]),
        "error": record.get("error", ""),
    }
    if record["status"] == "ok":
        summary = json.loads((folder / "summary.json").read_text())
        row |= {k: v for k, v in summary.items() if k not in row and not isinstance(v, list)}
    return row


def without_damaged(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with the damaged ones out of every count: planned runs count as missing, runs
    without a plan (no arm known) are dropped."""
    damaged = runs["status"] == DAMAGED if len(runs) else pd.Series(dtype=bool)
    if not damaged.any():
        return runs
    unknown = runs["arm"].isna() if "arm" in runs else damaged
    runs = runs[~(damaged & unknown)]
    return runs.assign(status=runs["status"].replace(DAMAGED, "missing"))


def damaged_line(runs: pd.DataFrame) -> str:
    """ "2 damaged runs: <ids> — rerun on resume", or "" when none is damaged."""
    ids = sorted(set(runs.loc[runs["status"] == DAMAGED, "run_id"])) if len(runs) else []
    if not ids:
        return ""
    return f"{len(ids)} damaged runs: {', '.join(ids)} — rerun on resume"


def flatten(node: dict | None, prefix: str = ""):
    """(dotted key, value) of every leaf of a nested config, e.g. ("population.customers", 300)."""
    for key, value in (node or {}).items():
        if isinstance(value, dict) and value:
            yield from flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _settings(config: dict) -> dict[str, str]:
    """Dotted key -> value as text of a run's scenario, without its seed and output settings."""
    return {
        key: json.dumps(value)
        for key, value in flatten(config)
        if key.split(".")[0] not in ("seed", "output")
    }


def _arms_and_points(runs: pd.DataFrame, settings: dict[str, dict]) -> pd.DataFrame:
    """Arms and points of runs stored without a plan (e.g. a Hydra multirun of ``sim.run``).

    The arm is the set of strategies ("baseline" for none); the point is the settings that vary
    within an arm. A baseline run is paired with every point that agrees with its own settings.
    """
    runs["arm"] = runs["strategies"].replace("", "baseline")
    keys = set()
    for _, ids in runs.groupby("arm")["run_id"]:
        values = pd.DataFrame([settings[i] for i in ids])
        keys |= {k for k in values if values[k].nunique(dropna=False) > 1}

    def label(run_id: str, only=None) -> str:
        s = settings[run_id]
        chosen = [k for k in sorted(keys) if k in s and (only is None or k in only)]
        return ",".join(f"{k}={s[k]}" for k in chosen)

    runs["point"] = [label(i) for i in runs["run_id"]]
    base = runs[runs["arm"] == "baseline"]
    if base.empty:
        return runs
    own = set().union(*(settings[i] for i in base["run_id"]))
    copies = []
    for point in runs.loc[runs["arm"] != "baseline", "point"].unique():
        if point not in set(base["point"]):
            example = runs.loc[runs["point"] == point, "run_id"].iloc[0]
            copies.append(base[base["point"] == label(example, only=own)].assign(point=point))
    return pd.concat([runs, *copies], ignore_index=True)


def experiment_meta(results: Path) -> dict:
    """The experiment's resolved config, if the folder has one."""
    path = results / "experiment.yaml"
    return yaml.safe_load(path.read_text()) if path.exists() else {}


def load_timeseries(results: Path, runs: pd.DataFrame) -> pd.DataFrame:
    """The monthly time series of the given runs (rows of ``load``), stacked with their run_id,
    arm, point and seed."""
    frames = [
        pd.read_parquet(runs_folder(results) / row.run_id / "timeseries.parquet").assign(
            run_id=row.run_id, arm=row.arm, point=row.point, seed=row.seed
        )
        for row in runs[runs["status"] == "ok"].itertuples()
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load_run_table(results: Path, run_id: str, table: str) -> pd.DataFrame | None:
    """One run's ``panel`` or ``branches`` table, if it was stored and the run is sound."""
    folder = runs_folder(results) / run_id
    path = folder / f"{table}.parquet"
    return pd.read_parquet(path) if path.exists() and _sound(folder) else None
