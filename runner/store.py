"""The results store: one folder per run under ``<experiment>/runs/<run id>``, written atomically.

A run's id is a hash of its resolved scenario (seed included), so a rerun finds what is done, and
a changed config gets a new id and is never served a stale result. ``plan.csv`` maps runs to arms,
points and seeds, and keeps every run ever planned under the experiment's name (a command with
``experiment.only`` adds its arms, hiding none); runs stored by ``python -m sim.run`` (e.g. a
Hydra multirun) have no plan and are grouped by their strategies.

What is read is checked (:func:`problem`): a run is damaged if its files do not match its manifest
(``sim.folders.damage``: missing, truncated, edited, extra files), if its manifest lacks a file
the run must have or lists one it must not (:data:`REQUIRED`, by status and output settings in
its own config), or if its folder's name is not the id recomputed from its own ``config.yaml``
and provenance (a swapped or renamed folder). Damaged runs are named, left out of every statistic
and rerun on resume. Checksums catch accidents, not an attacker who rewrites a file and its
checksum (nothing is signed).

One process at a time holds an experiment folder (``.lock``); a refusal names the holder, or the
leftover child of an ended process that still holds it. ``identity.json`` (what the folder
compares) is rebuilt from the plan and the sound runs if it is unreadable; no refusal advises
removing anything.

The run cache (:data:`CACHE`, ``<output.dir>/.run-cache/<key>/<run id>/``) is shared by every
experiment under one ``output.dir``: a worker puts each run that succeeded into it as it is
stored (:func:`publish`), and a command takes into its store, before running anything, the runs
it lacks that the cache holds (:func:`take_cached`), as hard links checked as above on the copy
(:func:`reusable`: sound, ``ok``, the same output settings). ``<key>`` (:func:`cache_key`)
hashes what else makes a run's files: the code (:func:`code_digest`) and the output settings but
``output.dir``; a store's own run ids leave the code out, as they always did, so a resumed
experiment keeps its runs across a code change while another experiment never gets a run of
other code. Ids and keys are plain hex or not used; symbolic links are never followed.

Folders: see ``sim.folders`` (markers, foreign folders, symbolic links). Stores written by earlier
versions are refused in one line (rerun into a new ``experiment.name``); their files stay as they
are. The report writes only files the project wrote or claimed in the folder's marker
(:func:`reporting`).
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import inspect
import json
import logging
import os
import platform
import re
import stat
from contextlib import contextmanager, suppress
from functools import cache, partial
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml

import sim
from sim.folders import (
    MARKER,
    alive,
    atomic_folder,
    check_writable,
    damage,
    is_run_folder,
    legacy,
    manifest,
    mark,
    marker,
    place_copy,
    read_parquet,
    recognised,
    refuse_foreign,
    refuse_links,
    remove_stale_temps,
    replacing,
    write_json,
)
from sim.params import ConfigError
from sim.provenance import PACKAGES, provenance
from sim.scenario import NOT_SCENARIO, config_yaml, form_text, seeded_hashes
from sim.strategies import REGISTRY

log = logging.getLogger(__name__)

PLAN = "plan.csv"
PLAN_COLUMNS = ["run_id", "arm", "point", "seed"]
IDENTITY = "identity.json"  # the experiment a folder holds (see experiment_identity)
LOCK = ".lock"
DAMAGED = "damaged"
PLAUSIBLE = "plausible.json"  # the calibration's plausible sets an experiment ran at
OWN_FILES = ("experiment.yaml", IDENTITY, PLAN, LOCK, PLAUSIBLE)  # the store's own files
LINKS = (*OWN_FILES, MARKER, "runs", "slurm")  # where the store writes: never symbolic links
RECORD = ("config.yaml", "provenance.json")  # every run folder's, besides its manifest
REQUIRED = {  # by status, as sim.api.RunResult.save and write_failure write them
    "ok": (*RECORD, "summary.json", "timeseries.parquet", "branches.parquet", "leavers.parquet"),
    "failed": RECORD,
}
BY_OUTPUT = {"panel": "panel.parquet", "crm_extract": "crm_extract.parquet"}  # ok, if set on
REPORT_FILES = (  # what analysis.report writes into a results folder (and its temporary files)
    "report.html",
    "report.md",
    "results.xlsx",
    "summary.csv",
    "summary.parquet",
    "differences.csv",
    "differences.parquet",
    "crn.csv",
    "plausible_sets.csv",
    "plausible_summary.csv",
    ".report.html.tmp",
    ".report.md.tmp",
    ".results.tmp.xlsx",
)
FIGURES = "figures"
IMAGES = (".png", ".svg")
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_LOCKS: dict[Path, int] = {}  # experiment folder -> the descriptor holding its lock
_DERIVED: dict[tuple[str, str], tuple[str, frozenset[str], str] | str] = {}  # by file digests
_OUTPUTS: dict[str, dict] = {}  # a run's output settings, by its config.yaml's digest


def open_store(root: Path, specs, reports: bool = False) -> Path:
    """The experiment folder for the planned ``specs``, locked for this process and created;
    refuses (ConfigError) an unwritable place, a foreign folder, a symbolic link where the store
    writes, a folder another process is running, one holding a different experiment, or, if the
    command ``reports``, a folder its report may not write (:func:`check_report`). Temporary
    folders of killed writers go."""
    identity = experiment_identity(specs)
    _check_place(root)
    mark(root)  # first: a kill now leaves a marked folder, never an unrecognised one
    _lock(root)
    try:
        identity = _merged_identity(root, identity, say=log.info)
        if reports:
            check_report(root, "experiment.name")
    except ConfigError:
        release(root)
        raise
    (root / "runs").mkdir(exist_ok=True)
    write_json(root / IDENTITY, dict(sorted(identity.items())))
    removed = remove_stale_temps(root / "runs")
    if removed:
        log.info("Removed %d temporary folders left by interrupted runs.", len(removed))
    open_cache(root)
    return root


def check_store(root: Path, specs) -> None:
    """Refuse (ConfigError) what ``open_store`` refuses but a running experiment, writing nothing
    and taking no lock (a dry run)."""
    _check_place(root)
    _merged_identity(root, experiment_identity(specs))


def _check_place(root: Path) -> None:
    """Refuse an experiment folder that cannot be written, a foreign one (or one whose store
    files the project did not write), or a symbolic link where the store writes."""
    key = "experiment.name"
    check_writable(root)
    refuse_foreign(root, key)
    refuse_links(root, LINKS, key)
    if not marker(root):
        refuse_foreign(root / "runs", key)
        if clash := next((n for n in OWN_FILES if (root / n).exists()), None):
            raise ConfigError(
                f"{key}: {root / clash} was not written by this project; allowed: a new"
                f" {key}, or a folder without {clash}"
            )
    runs = root / "runs"
    if runs.is_dir():
        refuse_links(runs, sorted(p.name for p in runs.iterdir()), key)


def _lock(root: Path) -> None:
    """Hold an exclusive lock on ``root`` for this process, or refuse at once naming the holder
    (the lock goes when the process ends, or with ``release``)."""
    if root in _LOCKS:
        return
    path = root / LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise _not_a_lock(path, exc.strerror) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _not_a_lock(path, "not a regular file")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        recorded = os.read(fd, 32).decode(errors="replace").strip()
        held = os.fstat(fd)
        os.close(fd)
        raise ConfigError(_in_use(root, recorded, held)) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _LOCKS[root] = fd


def _not_a_lock(path: Path, why: str) -> ConfigError:
    return ConfigError(
        f"experiment.name: {path} cannot be this project's lock file ({why}); allowed: no"
        f" {LOCK} there, or the file the project made (move this one away)"
    )


_WAIT = "wait for it to finish or choose another experiment.name"


def _in_use(root: Path, recorded: str, lock: os.stat_result) -> str:
    """Why ``root`` is locked: by the process whose pid the lock file records, or, if that one
    has ended, by a leftover child of it still holding the lock (found in /proc on Linux)."""
    pid = int(recorded) if recorded.isdigit() else None
    if pid is not None and alive(pid):
        return f"experiment.name: {root} is in use by another process (pid {pid}); {_WAIT}"
    holders = ", ".join(str(p) for p in _holders(lock) if p != os.getpid()) or "unknown"
    if pid is None:
        return f"experiment.name: {root} is in use by another process (pid {holders}); {_WAIT}"
    return (
        f"experiment.name: {root} is locked by pid {holders}, a leftover child of pid {pid},"
        f" which has ended; end that process (kill {holders}) or choose another experiment.name"
    )


def _holders(lock: os.stat_result) -> list[int]:
    """The pids of the processes that have the lock file open (Linux /proc; [] elsewhere)."""
    return sorted(int(d.parent.name) for d in Path("/proc").glob("[0-9]*/fd") if _opens(d, lock))


def _opens(fd_dir: Path, lock: os.stat_result) -> bool:
    with suppress(OSError):
        for link in fd_dir.iterdir():
            with suppress(OSError):
                found = os.stat(link)
                if (found.st_dev, found.st_ino) == (lock.st_dev, lock.st_ino):
                    return True
    return False


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
        identity.setdefault(arm, []).append([point, _digest(text)])
    return identity


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _merged_identity(root: Path, identity: dict, say=lambda line: None) -> dict:
    """The folder's identity with this experiment's arms added; refuses an experiment whose
    shared arms differ (a subset of arms, as ``experiment.only`` runs, is the same experiment)."""
    stored = _stored_identity(root, say)
    if any(stored[arm] != identity[arm] for arm in stored.keys() & identity.keys()):
        raise ConfigError(
            f"experiment.name: {root} holds a different experiment; choose another"
            " experiment.name (the stored runs stay as they are)"
        )
    return stored | identity


def _stored_identity(root: Path, say) -> dict:
    """The identity ``root`` records ({} for a new folder); if ``identity.json`` is unreadable, or
    missing beside a plan, rebuilt from the plan and the sound runs (``say`` tells), else
    refused."""
    path = root / IDENTITY
    if not path.exists() and not (root / PLAN).exists():
        return {}
    try:
        doc = json.loads(path.read_text())
        if _is_identity(doc):
            return doc
        why = "is not an experiment's identity"
    except (OSError, ValueError) as exc:
        why = "is missing" if not path.exists() else f"is unreadable ({type(exc).__name__})"
    rebuilt = _rebuilt_identity(root)
    if isinstance(rebuilt, str):
        raise ConfigError(
            f"experiment.name: {path} {why} and cannot be rebuilt from {PLAN} and the runs"
            f" ({rebuilt}); choose another experiment.name (the stored runs stay as they are)"
        )
    say(f"{path} {why}: rebuilt from {PLAN} and the stored runs.")
    return rebuilt


def _is_identity(doc) -> bool:
    """Arm -> a list of [point, digest] pairs of text."""
    return isinstance(doc, dict) and all(
        isinstance(pairs, list) and all(_is_pair(p) for p in pairs) for pairs in doc.values()
    )


def _is_pair(pair) -> bool:
    return isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)


def _rebuilt_identity(root: Path) -> dict | str:
    """The identity from the plan and the sound runs' scenarios, or why it cannot be rebuilt (an
    arm and point without a sound run, or whose runs disagree)."""
    try:
        plan = read_plan(root)
    except ConfigError as exc:
        return str(exc)
    digests: dict[tuple[str, str], set[str]] = {}
    for row in plan.itertuples():
        folder = root / "runs" / row.run_id
        if is_run_folder(folder) and not problem(folder):
            digests.setdefault((row.arm, row.point), set()).add(_derived(folder)[2])
    for arm, point in sorted(set(zip(plan["arm"], plan["point"], strict=True))):
        found = digests.get((arm, point), set())
        if len(found) != 1:
            where = f" at {point}" if point else ""
            return f"arm {arm}{where} has {'no sound run' if not found else 'runs that differ'}"
    identity: dict[str, list[list[str]]] = {}
    for (arm, point), (digest,) in sorted(digests.items()):
        identity.setdefault(arm, []).append([point, digest])
    return identity


def runs_folder(results: Path) -> Path:
    """Where an experiment folder (or a plain folder of run folders) keeps its runs."""
    return results / "runs" if (results / "runs").is_dir() else results


def status(runs_dir: Path, run_id: str) -> str | None:
    """'ok', 'failed', 'damaged' (see :func:`problem`) or None (not run)."""
    folder = runs_dir / run_id
    if not is_run_folder(folder):
        return None
    return DAMAGED if problem(folder) else _provenance(folder)["status"]


def problem(folder: Path) -> str:
    """What is wrong with a stored run ("" if it is sound): its files (``sim.folders.damage``),
    the files its manifest lists against those its status and output settings require, and its
    folder's name against the id of its own config."""
    if found := damage(folder):
        return found
    files = manifest(folder)["files"]
    derived = _derived(folder)
    if isinstance(derived, str):
        return derived
    run_id, required, _ = derived
    if missing := sorted(required - files.keys()):
        return f"{missing[0]} is missing (not in checksums.json)"
    if extra := sorted(files.keys() - required):
        return f"{extra[0]} is not a file of this run (see its status and output settings)"
    if run_id != folder.name:
        return f"its id does not match its config (config.yaml and provenance.json give {run_id})"
    return ""


def _derived(folder: Path) -> tuple[str, frozenset[str], str] | str:
    """(run id, the files the run must have, its scenario's digest) from a run folder whose
    files match its manifest, or why they cannot be derived; cached by the digests of its
    config and provenance."""
    files = manifest(folder)["files"]
    if lacking := [n for n in RECORD if n not in files]:
        return f"{lacking[0]} is missing (not in checksums.json)"
    key = tuple(files[n] for n in RECORD)
    if key not in _DERIVED:
        try:
            _DERIVED[key] = _derive(_config(folder), _provenance(folder))
        except (AttributeError, KeyError, TypeError, ValueError, yaml.YAMLError):
            _DERIVED[key] = "config.yaml or provenance.json does not describe a run"
    return _DERIVED[key]


def _derive(config: dict, record: dict) -> tuple[str, frozenset[str], str]:
    required = set(REQUIRED[record["status"]])
    if record["status"] == "ok":
        output = config.get("output") or {}
        required |= {name for key, name in BY_OUTPUT.items() if output.get(key)}
    text = _scenario_text(config, record)
    return seeded_hashes(text, [int(config["seed"])])[0], frozenset(required), _digest(text)


def _scenario_text(config: dict, record: dict) -> str:
    """``sim.scenario.scenario_text`` of a stored run: its config without seed and output, and
    the digests of the bank's files it was run with (from its provenance)."""
    form = {k: v for k, v in config.items() if k not in NOT_SCENARIO}
    files = record.get("bank_files_sha256") or {}
    return form_text(form, {k.removeprefix("bank.data."): v for k, v in files.items()})


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
    return is_run_folder(folder) and not problem(folder)


def _config(folder: Path) -> dict:
    return yaml.load((folder / "config.yaml").read_text(), Loader=LOADER) or {}


def _provenance(folder: Path) -> dict:
    return json.loads((folder / "provenance.json").read_text())


def stored(root: Path, specs) -> dict[str, str | None]:
    """Run id -> ``status`` in the store at ``root`` of each planned run, once per run id."""
    return {s.run_id: status(root / "runs", s.run_id) for s in specs}


def read_plan(root: Path) -> pd.DataFrame:
    """``plan.csv``, each row once (a hand-edited plan may repeat some); refuses (ConfigError) a
    plan that cannot be read."""
    path = root / PLAN
    try:
        text = {c: str for c in ("run_id", "arm", "point")}
        plan = pd.read_csv(path, dtype=text, keep_default_na=False)[PLAN_COLUMNS]
        plan["seed"] = plan["seed"].astype(int)
    except (OSError, ValueError, KeyError) as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"{path} cannot be read as a plan ({why}); allowed: the plan the project wrote,"
            f" columns {', '.join(PLAN_COLUMNS)}"
        ) from None
    return plan.drop_duplicates(ignore_index=True)


def write_plan(root: Path, specs) -> None:
    """Add the runs of ``specs`` to the plan, which keeps every run ever planned under the
    experiment's name once (written atomically)."""
    rows = [{"run_id": s.run_id, "arm": s.arm, "point": s.point, "seed": s.seed} for s in specs]
    plan = pd.DataFrame(rows, columns=PLAN_COLUMNS)
    if (root / PLAN).exists():
        old = read_plan(root)
        planned = {s.run_id: (_digest(s.scenario), s.seed) for s in specs}
        old = old[~mislabelled(old, expected_scenarios(root), planned.get)]
        plan = pd.concat([old, plan], ignore_index=True).drop_duplicates()
    with replacing(root / PLAN) as tmp:
        plan.to_csv(tmp, index=False)


def planned_arms(root: Path) -> list[str]:
    """The arms of every run planned in the store at ``root``, in plan order."""
    return list(dict.fromkeys(read_plan(root)["arm"])) if (root / PLAN).exists() else []


# --------------------------------------------------------------------------------------------
# The run cache: one per output.dir, shared by every experiment under it
# --------------------------------------------------------------------------------------------

CACHE = ".run-cache"
"""The run cache's folder under ``output.dir``, beside the experiment folders (whose names never
start with a dot): ``<output.dir>/.run-cache/<key>/<run id>/``, each a run folder as a store
keeps it, ``<key>`` (:func:`cache_key`) naming the code and output settings that made it."""
NO_CACHE = "the store has no run cache"
HEX = re.compile(r"[0-9a-f]{16}")
"""A run id or a cache key: 16 lower-case hex digits, nothing else (never a path)."""
SIM = Path(sim.__file__).resolve().parent
"""The model's package: its code makes a run (:func:`code_digest`)."""


def cache_of(root: Path) -> Path:
    """The run cache the experiment folder ``root`` shares with the others under its
    ``output.dir``."""
    return root.parent / CACHE


def open_cache(root: Path) -> Path | None:
    """The run cache beside the experiment folder ``root``, created and marked (kind
    ``"cache"``), with the temporary folders of killed writers removed; None, saying why (a
    warning), if it cannot be used: a symbolic link, a file, a folder the project did not write,
    or one it cannot write. The experiment then runs without it."""
    folder = cache_of(root)
    why = _unusable(folder)
    if not why:
        try:
            mark(folder, "cache")
            for keyed in _key_folders(folder):
                remove_stale_temps(keyed)
        except (OSError, ConfigError) as exc:
            why = f"it cannot be written ({exc})"
    if why:
        log.warning("The run cache %s is not used: %s.", folder, why)
        return None
    return folder


def _unusable(folder: Path) -> str:
    """Why ``folder`` cannot be the run cache ("" if it can: none yet, or the project's)."""
    if folder.is_symlink():
        return "it is a symbolic link (never followed)"
    if folder.exists() and not folder.is_dir():
        return "it is a file"
    if folder.is_dir() and not marker(folder, "cache") and any(folder.iterdir()):
        return f"it was not written by this project (no {MARKER} of kind cache)"
    return ""


def _key_folders(folder: Path) -> list[Path]:
    """The cache's key folders: real folders named by a key (anything else is left alone)."""
    found = (p for p in folder.iterdir() if HEX.fullmatch(p.name))
    return [p for p in found if p.is_dir() and not p.is_symlink()]


@cache
def code_digest() -> str:
    """A digest of the code that makes a run: every Python file of ``sim/`` (the model, its
    strategies and the run folder's writer), the Python version and the versions of the packages
    provenance records. Content, not the git commit: an edited checkout gets another digest."""
    digest = hashlib.sha256()
    for path in sorted(SIM.rglob("*.py")):
        digest.update(f"{path.relative_to(SIM).as_posix()}\0{_file_digest(path)}\n".encode())
    versions = {name: _version(name) for name in PACKAGES}
    digest.update(json.dumps([platform.python_version(), versions], sort_keys=True).encode())
    return digest.hexdigest()[:16]


@cache
def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def cache_key(config) -> str | None:
    """The cache key of a run of ``config``: a hash of :func:`code_digest`, the source files of
    the strategies it runs that live outside ``sim/`` (plug-ins) and its output settings but
    ``output.dir`` (they decide which files it writes and the CRM extract's months; the run id
    leaves them out). None, so the run is neither reused nor cached, if a strategy's source cannot
    be found."""
    plugins = {}
    for name in sorted(config.strategy):
        try:
            source = Path(inspect.getsourcefile(REGISTRY[name]) or "").resolve()
        except (KeyError, TypeError):
            return None
        if not source.is_file():
            return None
        if not source.is_relative_to(SIM):
            plugins[name] = _file_digest(source)
    doc = {"code": code_digest(), "plugins": plugins, "output": _output(config.output)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _output(output) -> dict:
    """Output settings (a dataclass or a stored config's map) without ``dir``."""
    values = dataclasses.asdict(output) if dataclasses.is_dataclass(output) else dict(output or {})
    return {k: v for k, v in values.items() if k != "dir"}


def _cached(folder: Path, spec) -> Path | None:
    """Where the run cache ``folder`` keeps ``spec``'s run; None if its run id or key is not
    plain hex (never a path), or a folder on the way is a symbolic link."""
    key = cache_key(spec.config)
    if key is None or not HEX.fullmatch(spec.run_id) or not HEX.fullmatch(key):
        return None
    if folder.is_symlink() or (folder / key).is_symlink():
        return None
    return folder / key / spec.run_id


def reusable(folder: Path, config) -> str:
    """Why the run folder ``folder`` may not stand for a run of ``config`` ("" if it may): it is
    damaged (:func:`problem`: checksums, required files, its name against its config's id), did
    not succeed, or ran with other output settings."""
    if folder.is_symlink():
        return "it is a symbolic link (never followed)"
    if not is_run_folder(folder):
        return "it is not a run folder"
    if found := problem(folder):
        return f"damaged: {found}"
    if (state := _provenance(folder)["status"]) != "ok":
        return f"it {state}" if state == "failed" else f"its status is {state}"
    if _stored_output(folder) != _output(config.output):
        return "it ran with other output settings"
    return ""


def _stored_output(folder: Path) -> dict:
    """The output settings but ``dir`` of a sound run folder, cached by its config's digest."""
    digest = manifest(folder)["files"]["config.yaml"]
    if digest not in _OUTPUTS:
        _OUTPUTS[digest] = _output(_config(folder).get("output"))
    return _OUTPUTS[digest]


@dataclasses.dataclass
class Cached:
    """What the run cache holds of some runs: the ids it gives (or would give), and the ids it
    holds that cannot be reused, with why (to be run again)."""

    reused: list[str] = dataclasses.field(default_factory=list)
    refused: dict[str, str] = dataclasses.field(default_factory=dict)

    def add(self, run_id: str, why: str) -> None:
        """A cached run: reused when nothing is wrong with it (``why`` empty), else refused."""
        if why:
            self.refused[run_id] = why
        else:
            self.reused.append(run_id)


def take_cached(root: Path, specs) -> Cached:
    """Put into the store at ``root`` the runs of ``specs`` (not stored, failed or damaged there)
    that its run cache holds, each checked on its copy (:func:`reusable`) before the copy is
    renamed into ``runs/<run id>`` (hard links: see ``sim.folders.place_copy``); a failed or
    damaged run there is replaced as a rerun replaces it."""
    found = Cached()
    for spec, source in _held(root, specs):
        if source.is_symlink():
            found.add(spec.run_id, reusable(source, spec.config))
            continue
        try:
            check = partial(reusable, config=spec.config)
            why = place_copy(source, root / "runs" / spec.run_id, check, replace=True)
        except (OSError, ConfigError) as exc:
            why = f"it could not be copied ({exc})"
        found.add(spec.run_id, why)
    return found


def in_cache(root: Path, specs) -> Cached:
    """What :func:`take_cached` would take, writing nothing (a dry run)."""
    found = Cached()
    for spec, source in _held(root, specs):
        found.add(spec.run_id, reusable(source, spec.config))
    return found


def _held(root: Path, specs):
    """(spec, its folder in the run cache) of the ``specs`` the cache of the store at ``root``
    holds something for (none when the cache is a symbolic link or not the project's)."""
    folder = cache_of(root)
    if folder.is_symlink() or not marker(folder, "cache"):
        return
    for spec in specs:
        source = _cached(folder, spec)
        if source is not None and (source.exists() or source.is_symlink()):
            yield spec, source


def publish(runs_dir: Path, spec) -> str:
    """Put the run of ``spec`` just stored in ``runs_dir`` into the run cache of its store, if
    that store has one (:func:`open_cache`) and the run succeeded and is sound; "" once there (or
    already there), else why not. Two writers of the same run at once each build a temporary
    copy; the first renamed into place is kept (``sim.folders.place_copy``)."""
    folder = cache_of(Path(runs_dir).parent)
    if folder.is_symlink() or not marker(folder, "cache"):
        return NO_CACHE
    target = _cached(folder, spec)
    if target is None:
        return "its id or cache key is not plain hex, or its code cannot be told"
    keyed = target.parent
    mark(keyed, "cache", code=code_digest(), output=_output(spec.config.output))
    check = partial(reusable, config=spec.config)
    return place_copy(Path(runs_dir) / spec.run_id, target, check, replace=False)


def write_failure(runs_dir: Path, spec, started: str, finished: str, error: str) -> None:
    """Record a run that raised: its config and provenance with the traceback, no results."""
    with atomic_folder(runs_dir / spec.run_id) as tmp:
        (tmp / "config.yaml").write_text(config_yaml(spec.config))
        record = provenance(spec.config, started, finished, "failed", error)
        (tmp / "provenance.json").write_text(json.dumps(record, indent=2))


def load(results: Path) -> pd.DataFrame:
    """One row per stored run: run_id, arm, point, seed, status, error and the summary's KPIs.

    ``results`` is an experiment folder (with ``runs/`` and a plan) or a folder of run folders.
    A damaged run (:func:`problem`) is ``damaged`` (its error says why), with no KPIs. Refuses
    (ConfigError) a plan that cannot be read.
    """
    planned = (results / PLAN).exists()
    rows, damaged, settings = [], [], {}
    for folder in sorted(p for p in runs_folder(results).iterdir() if is_run_folder(p)):
        if found := problem(folder):
            damaged.append({"run_id": folder.name, "status": DAMAGED, "error": found})
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
    return _with_plan(results, runs, {row["run_id"]: row["seed"] for row in rows})


def _with_plan(results: Path, runs: pd.DataFrame, seeds: dict[str, int]) -> pd.DataFrame:
    """The plan's rows with their runs (``seeds``: of the sound ones); a row that gives a run
    another arm, point or seed than its config has is damaged (:data:`MISLABELLED`)."""
    runs = read_plan(results).merge(
        runs.drop(columns="seed", errors="ignore"), on="run_id", how="left"
    )
    runs["status"] = runs["status"].fillna("missing")
    folder = runs_folder(results)
    wrong = mislabelled(
        runs,
        expected_scenarios(results),
        lambda i: (_derived(folder / i)[2], seeds[i]) if i in seeds else None,
    )
    kpis = [c for c in runs if c not in (*PLAN_COLUMNS, "status", "error")]
    runs.loc[wrong, kpis] = None
    runs.loc[wrong, ["status", "error"]] = [DAMAGED, MISLABELLED]
    return runs


MISLABELLED = "plan.csv gives it an arm, point or seed its config does not have (plan.csv edited)"


def mislabelled(rows: pd.DataFrame, expected: dict, stored) -> pd.Series:
    """Which plan ``rows`` label a run with an arm and point whose scenario digest ``expected``
    (:func:`expected_scenarios`) records otherwise, or with another seed: a plan edited by hand.
    ``stored(run_id)`` gives a run's (scenario digest, seed), or None if unknown."""

    def wrong(row) -> bool:
        if (known := stored(row.run_id)) is None:
            return False
        scenario, seed = known
        return seed != row.seed or expected.get((row.arm, row.point), scenario) != scenario

    return pd.Series([wrong(r) for r in rows.itertuples()], index=rows.index, dtype=bool)


def expected_scenarios(results: Path) -> dict[tuple[str, str], str]:
    """(arm, point) -> scenario digest, as ``identity.json`` records ({} if unreadable)."""
    try:
        identity = json.loads((results / IDENTITY).read_text())
    except (OSError, ValueError):
        return {}
    pairs = identity.items() if _is_identity(identity) else []
    return {(arm, point): digest for arm, points in pairs for point, digest in points}


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
        if key.split(".")[0] not in NOT_SCENARIO
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
        read_parquet(runs_folder(results) / row.run_id / "timeseries.parquet").assign(
            run_id=row.run_id, arm=row.arm, point=row.point, seed=row.seed
        )
        for row in runs[runs["status"] == "ok"].itertuples()
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load_run_table(results: Path, run_id: str, table: str) -> pd.DataFrame | None:
    """One run's ``panel`` or ``branches`` table, if it was stored and the run is sound."""
    folder = runs_folder(results) / run_id
    path = folder / f"{table}.parquet"
    return read_parquet(path) if path.exists() and _sound(folder) else None


def check_report(results: Path, key: str) -> None:
    """Refuse (ConfigError) to report into ``results`` unless the project may write its report
    there: a folder of the project's (not a run folder, not foreign, not of an earlier version),
    no symbolic link where the report writes or reads runs, and no file where the report writes
    that the project did not write (the marker's ``report`` claims; the ``figures/`` marker's
    images)."""
    if manifest(results):
        raise ConfigError(
            f"{key}: {results} is a run folder; allowed: the folder holding it ({results.parent})"
        )
    if not recognised(results):
        if legacy(results):
            raise ConfigError(
                f"{key}: {results} holds results written by an earlier version of this project"
                " (left as they are); rerun the experiment into a new experiment.name"
            )
        raise ConfigError(
            f"{key}: {results} is not a folder of this project's results (no {MARKER} marker,"
            " no run folders of this project); allowed: an experiment's folder or a folder of runs"
        )
    refuse_links(results, (*REPORT_FILES, FIGURES, "runs", MARKER), key)
    claimed = set((marker(results) or {}).get("report", []))
    if clash := next(
        (n for n in REPORT_FILES if n not in claimed and (results / n).exists()), None
    ):
        _not_ours(results / clash, key)
    figures = results / FIGURES
    if figures.is_dir():
        refuse_links(figures, sorted(p.name for p in figures.iterdir()), key)
        drawn = set((marker(figures, "figures") or {}).get("files", []))
        if clash := next((n for n in _images(figures) if n not in drawn), None):
            _not_ours(figures / clash, key)


def _not_ours(path: Path, key: str):
    raise ConfigError(
        f"{key}: {path} was not written by this project and the report would overwrite or"
        f" remove it; allowed: no such file there (move it out of {path.parent})"
    )


@contextmanager
def reporting(results: Path, key: str):
    """Let the report write into ``results``: refused as :func:`check_report` refuses; the names
    of its files are claimed in the folder's marker first (its images are claimed in the
    ``figures/`` marker as they are drawn: ``analysis.report.figures``), and the folder is
    locked as an experiment locks it, so a running experiment refuses the report."""
    check_report(results, key)
    if not marker(results) and not any(is_run_folder(p) for p in runs_folder(results).iterdir()):
        yield  # nothing to report: the report says so, writing nothing
        return
    held = results in _LOCKS
    _lock(results)  # no experiment writes into the folder while its report is written
    try:
        mark(results, "runs", report=list(REPORT_FILES))  # an existing marker keeps its kind
        yield
    finally:
        if not held:
            release(results)


def _images(figures: Path) -> list[str]:
    """The names of the PNG and SVG files in ``figures``."""
    if not figures.is_dir() or figures.is_symlink():
        return []
    return [p.name for p in sorted(figures.iterdir()) if p.suffix in IMAGES and p.is_file()]
