"""The report's sections on how the results were made: the configuration (arms and their
overrides, replications and seeds, grid or sample, key scenario settings) and the provenance
(git commit, package versions, run counts, time span, failed runs)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import yaml

from analysis.inference import Design
from analysis.report.document import Cell, Heading, Para, Section, Table
from analysis.report.formats import baseline_mark, pairs_table, records, run_counts, value
from runner import store
from runner.config import AUTO, EXPERIMENT_KEYS, looks
from sim.strategies import title

SCENARIO_KEYS = (  # shown whatever their value, when the scenario has them
    "seed",
    "months",
    "burn_in",
    "population.customers",
    "population.weights",
    "bank.branches",
    "bank.managers",
    "economics.discount_rate",
)
NOT_SCENARIO = ("seed", "output", "strategy", *EXPERIMENT_KEYS)
FAILED_SHOWN = 20


def scenario(results: Path, runs: pd.DataFrame) -> dict:
    """The experiment's resolved config, or for a store without one its first run's config."""
    meta = store.experiment_meta(results)
    if meta:
        return meta
    configs = (store.run_config(results, str(run_id)) for run_id in runs.get("run_id", []))
    return next((c for c in configs if c), {})


def replications(meta: dict, runs: pd.DataFrame) -> tuple[int, bool]:
    """Seeds per arm (the configured number, else the most any arm and point has) and whether
    they were chosen by ``replications=auto``."""
    configured = meta.get("replications")
    if isinstance(configured, int) and not isinstance(configured, bool):
        return configured, False
    if runs.empty or "point" not in runs:
        return 0, configured == AUTO
    return int(runs.groupby(["point", "arm"])["seed"].nunique().max()), configured == AUTO


def sequential_text(meta: dict, differences: pd.DataFrame | None) -> str:
    """For seeds chosen by ``replications=auto``: its design, the looks taken and the level of
    each interval, in a sentence; "" otherwise."""
    planned = looks(meta)
    if not planned or differences is None or differences.empty:
        return ""
    tested = differences[differences["n"] >= 2]
    if tested.empty:
        return ""
    seeds = int(tested["n"].max())
    taken = Design(planned).look(seeds) + 1
    m = int(tested["family_size"].max())
    level = tested.loc[tested["family_size"] == m, "interval_level"].min() * 100
    return (
        f"The seeds were chosen by replications=auto, a group-sequential design with looks at"
        f" {', '.join(map(str, planned))} seeds; it stopped at {seeds} (look {taken} of"
        f" {len(planned)}). Its intervals spend the 5% over the looks (O'Brien-Fleming-type"
        f" alpha spending, Lan-DeMets), so each of a family of {m} is at {level:.6g}% here and"
        " stopping early keeps the 95% promise."
    )


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


def config_section(meta: dict, config: dict, runs, arm_names, baseline) -> Section:
    """The settings table, the arms with their overrides, and the grid or sample."""
    e = meta.get("experiment", {}) or {}
    section = Section("config", "Configuration")
    pairs = _experiment_pairs(meta, runs, baseline) + _scenario_pairs(config, runs)
    section.blocks.append(pairs_table(pairs))
    section.blocks += _arms_blocks(e, runs, arm_names, baseline)
    section.blocks += _points_blocks(e)
    return section


def _experiment_pairs(meta: dict, runs: pd.DataFrame, baseline: str) -> list:
    e = meta.get("experiment", {}) or {}
    pairs: list[tuple[str | Cell, Cell]] = []
    if e:
        pairs.append(("Experiment", Cell(str(e.get("name", "")))))
        pairs.append(("Baseline arm", Cell(str(baseline))))
    reps, auto = replications(meta, runs)
    if reps:
        rule = (
            f"auto (first {meta.get('replications_min')} seeds, then"
            f" {meta.get('replications_batch')} at a time up to {meta.get('replications_max')},"
            f" until every verdict on {', '.join(e.get('decision_kpis') or [])} is decided): "
            if auto
            else ""
        )
        where = " and point" if _has_points(e) else ""
        text = f"{rule}{reps} per arm{where}, seeds {_ranges(_seeds(runs))}, the same for every arm"
        pairs.append(("Replications", Cell(text)))
    if e:
        pairs.append(("Parameter points", Cell(_points_text(e))))
        common = " ".join(map(str, e.get("overrides") or [])) or "none"
        pairs.append(("Overrides for every arm", Cell(common, code=True)))
        executor = meta.get("executor", {}) or {}
        if executor.get("kind"):
            pairs.append(("Executor", Cell(str(executor["kind"]))))
    return pairs


def _scenario_pairs(config: dict, runs: pd.DataFrame) -> list:
    """The key scenario settings (the seed only when no runs say theirs) and the changes from
    the default scenario."""
    pairs: list[tuple[str | Cell, Cell]] = []
    for key in SCENARIO_KEYS:
        setting = _setting(config, key)
        if setting is not None and not (key == "seed" and _seeds(runs)):
            pairs.append((Cell(key, code=True), Cell(value(setting))))
    changed = _changed_from_defaults(dict(store.flatten(config)))
    if changed:
        pairs.append(("Changed from the default scenario", Cell("; ".join(changed), code=True)))
    return pairs


def _arms_blocks(e: dict, runs: pd.DataFrame, arm_names: list[str], baseline: str) -> list:
    arms_cfg = e.get("arms") or {}
    ok = runs[runs["status"] == "ok"] if len(runs) else runs
    planned = runs.groupby("arm").size() if len(runs) else pd.Series(dtype=int)
    done = ok.groupby("arm").size() if len(ok) else pd.Series(dtype=int)
    rows = []
    for arm in arm_names or list(arms_cfg):
        overrides = arms_cfg.get(arm)
        if overrides is None:
            text = "strategies: " + arm if not e else "—"
        else:
            text = " ".join(map(str, overrides)) or "none (the scenario as it is)"
        rows.append(
            [
                Cell(arm, sub=baseline_mark(arm, baseline)),
                Cell(title(arm)),
                Cell(text, code=overrides is not None and bool(overrides)),
                Cell(f"{int(done.get(arm, 0))} / {int(planned.get(arm, 0))}"),
            ]
        )
    blocks = [
        Heading("Arms"),
        Table(["Arm", "Strategy", "Overrides", "Runs ok / planned"], rows, frozenset({3})),
    ]
    skipped = [a for a in arms_cfg if a not in arm_names]
    if skipped and e.get("only"):
        blocks.append(Para(f"Not run (experiment.only): {', '.join(skipped)}.", note=True))
    return blocks


def _points_blocks(e: dict) -> list:
    grid = e.get("grid") or {}
    sample = e.get("sample") or {}
    if grid:
        rows = [[Cell(k, code=True), Cell(", ".join(map(value, v)))] for k, v in grid.items()]
        return [Heading("Grid"), Table(["Key", "Values"], rows)]
    if sample.get("method", "none") != "none":
        rows = [
            [Cell(k, code=True), Cell(value(lo)), Cell(value(hi))]
            for k, (lo, hi) in (sample.get("ranges") or {}).items()
        ]
        return [
            Heading(f"Sample ({sample['method']}, {sample.get('points')} points)"),
            Table(["Key", "Low", "High"], rows, frozenset({1, 2})),
        ]
    return []


def _seeds(runs: pd.DataFrame) -> list[int]:
    return sorted({int(s) for s in runs["seed"].dropna()}) if len(runs) else []


def _setting(config: dict, key: str):
    """The value of a dotted key in a nested config, or None when it has no such key."""
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _changed_from_defaults(flat: dict) -> list[str]:
    """'key: default -> value' of the scenario settings that differ from configs/' defaults."""
    try:
        from sim.scenario import config_yaml, load_config

        defaults = dict(store.flatten(yaml.safe_load(config_yaml(load_config([])))))
    except Exception:  # a report is still a report without this line
        return []
    changed = []
    for key, setting in flat.items():
        if key.split(".")[0] in NOT_SCENARIO:
            continue
        if key not in defaults:
            changed.append(f"{key}={value(setting)}")
        elif defaults[key] != setting:
            changed.append(f"{key}: {value(defaults[key])} → {value(setting)}")
    return changed


def _has_points(e: dict) -> bool:
    return bool(e.get("grid")) or (e.get("sample") or {}).get("method", "none") != "none"


def _points_text(e: dict) -> str:
    grid = e.get("grid") or {}
    sample = e.get("sample") or {}
    if grid:
        sizes = [len(v) for v in grid.values()]
        return f"grid over {len(grid)} keys, {' × '.join(map(str, sizes))} = {math.prod(sizes)}"
    if sample.get("method", "none") != "none":
        return f"{sample['method']} sample of {sample.get('points')} points"
    return "none: one scenario"


def _ranges(values: list[int]) -> str:
    """[0, 1, 2, 5] -> '0–2, 5'."""
    if not values:
        return "—"
    parts, start = [], values[0]
    for prev, cur in zip(values, [*values[1:], None], strict=True):
        if cur is None or cur != prev + 1:
            parts.append(str(start) if start == prev else f"{start}–{prev}")
            start = cur
    return ", ".join(parts)


# --------------------------------------------------------------------------------------------
# Provenance
# --------------------------------------------------------------------------------------------


def provenance_section(results: Path, runs: pd.DataFrame) -> Section:
    """Where the results are, what ran them and when, and which runs failed."""
    stored = _provenance_records(results, runs)
    planned = runs["run_id"].nunique() if len(runs) else 0
    pairs: list[tuple[str, Cell]] = [
        ("Results folder", Cell(str(results.resolve()), code=True)),
        ("Runs", Cell(f"{run_counts(runs)} (of {planned} planned)")),
        *_time_span(stored),
        *_commits(stored),
        *_environment(stored),
    ]
    section = Section("provenance", "Provenance", [pairs_table(pairs)])
    section.blocks += _failed_blocks(runs)
    return section


def _provenance_records(results: Path, runs: pd.DataFrame) -> list[dict]:
    """The provenance records of the stored runs among ``runs``."""
    if runs.empty:
        return []
    ids = pd.unique(runs.loc[runs["status"] != "missing", "run_id"])
    found = (store.run_provenance(results, str(run_id)) for run_id in ids)
    return [record for record in found if record]


def _time_span(stored: list[dict]) -> list[tuple[str, Cell]]:
    started = [t for t in (_time(r.get("started")) for r in stored) if t is not None]
    finished = [t for t in (_time(r.get("finished")) for r in stored) if t is not None]
    if not (started and finished):
        return []
    first, last = min(started), max(finished)
    span = f"{first:%Y-%m-%d %H:%M:%S} to {last:%Y-%m-%d %H:%M:%S} UTC"
    return [("Time span of the runs", Cell(span, sub=_duration(last - first)))]


def _commits(stored: list[dict]) -> list[tuple[str, Cell]]:
    """One row per git commit (and state) the runs were made at, the most common first."""
    commits: dict[tuple, int] = {}
    for r in stored:
        key = (r.get("git_commit"), r.get("git_dirty"))
        commits[key] = commits.get(key, 0) + 1
    pairs = []
    for (commit, dirty), n in sorted(commits.items(), key=lambda kv: -kv[1]):
        state = {True: "dirty: uncommitted changes", False: "clean", None: "unknown"}[dirty]
        where = f"{n} runs" if len(commits) > 1 else ""
        text, sub = str(commit or "not in a git checkout"), ", ".join(filter(None, [state, where]))
        pairs.append(("Git commit", Cell(text, sub=sub, code=True)))
    return pairs


def _environment(stored: list[dict]) -> list[tuple[str, Cell]]:
    pairs = []
    pythons = sorted({str(r.get("python")) for r in stored if r.get("python")})
    if pythons:
        pairs.append(("Python", Cell(", ".join(pythons))))
    packages: dict[str, set] = {}
    for r in stored:
        for name, version in (r.get("packages") or {}).items():
            packages.setdefault(name, set()).add(str(version))
    if packages:
        text = ", ".join(f"{k} {' / '.join(sorted(v))}" for k, v in packages.items())
        pairs.append(("Packages", Cell(text)))
    return pairs


def _failed_blocks(runs: pd.DataFrame) -> list:
    failed = runs[runs["status"] == "failed"] if len(runs) else runs
    if failed.empty:
        return []
    rows = []
    for row in records(failed.head(FAILED_SHOWN)):
        error = str(row.get("error") or "").strip().splitlines()
        rows.append(
            [
                Cell(str(row["arm"])),
                Cell(value(row.get("seed"))),
                Cell(str(row["run_id"]), code=True),
                Cell(error[-1] if error else ""),
            ]
        )
    blocks = [Heading("Failed runs"), Table(["Arm", "Seed", "Run", "Error"], rows)]
    if len(failed) > FAILED_SHOWN:
        blocks.append(Para(f"… and {len(failed) - FAILED_SHOWN} more.", note=True))
    blocks.append(Para("Tracebacks are in runs/<run id>/provenance.json.", note=True))
    return blocks


def _time(text) -> datetime | None:
    try:
        t = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def _duration(delta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
