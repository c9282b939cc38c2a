"""The results store: one folder per run under ``<experiment>/runs/<run id>``, written atomically.

A run's id is a hash of its resolved scenario (seed included), so a rerun finds what is done, and
a changed config gets a new id and is never served a stale result. ``plan.csv`` maps runs to arms,
points and seeds; runs stored by ``python -m sim.run`` (e.g. a Hydra multirun) have no plan and
are grouped by their strategies.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import yaml

from sim.params import ConfigError
from sim.provenance import atomic_folder, provenance
from sim.scenario import config_yaml

PLAN = "plan.csv"


def open_store(root: Path) -> Path:
    """The experiment folder, created; refuses an unwritable place before any run starts."""
    existing = next(p for p in [root, *root.parents] if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"output.dir: cannot write under {existing} (for {root})")
    (root / "runs").mkdir(parents=True, exist_ok=True)
    return root


def runs_folder(results: Path) -> Path:
    """Where an experiment folder (or a plain folder of run folders) keeps its runs."""
    return results / "runs" if (results / "runs").is_dir() else results


def status(runs_dir: Path, run_id: str) -> str | None:
    """'ok', 'failed' or None (not run)."""
    record = _provenance(runs_dir / run_id)
    return record["status"] if record else None


def run_provenance(results: Path, run_id: str) -> dict | None:
    """A stored run's provenance record (``runs/<id>/provenance.json``), None if not stored."""
    return _provenance(runs_folder(results) / run_id)


def run_config(results: Path, run_id: str) -> dict:
    """A stored run's resolved scenario (``runs/<id>/config.yaml``), {} if not stored."""
    path = runs_folder(results) / run_id / "config.yaml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def _provenance(folder: Path) -> dict | None:
    path = folder / "provenance.json"
    return json.loads(path.read_text()) if path.exists() else None


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
    """
    planned = (results / PLAN).exists()
    rows, settings = [], {}
    for folder in sorted(
        p for p in runs_folder(results).iterdir() if (p / "provenance.json").exists()
    ):
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
        if not planned:  # arms and points come from the runs' own settings
            settings[folder.name] = _settings(run_config(results, folder.name))
        rows.append(row)
    runs = pd.DataFrame(rows)
    if runs.empty:
        return runs
    if not planned:
        return _arms_and_points(runs, settings)
    plan = pd.read_csv(results / PLAN, dtype={"point": str}, keep_default_na=False)
    runs = plan.merge(runs.drop(columns="seed"), on="run_id", how="left")
    runs["status"] = runs["status"].fillna("missing")
    return runs


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
    """One run's ``panel`` or ``branches`` table, if it was stored."""
    path = runs_folder(results) / run_id / f"{table}.parquet"
    return pd.read_parquet(path) if path.exists() else None
