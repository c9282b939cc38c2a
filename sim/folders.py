"""The folders the project writes, and the ones it must not.

A run folder is written atomically (a temporary folder renamed into place) and ends with
``checksums.json``, the SHA-256 of each of its files, so a truncated, edited or missing file is
found when the run is read. An experiment folder carries a small marker file; a folder of runs is
recognised by its runs. An existing non-empty folder that is neither marked nor holds runs or
experiments is foreign and never written into. Temporary folders name their writer (host and
pid), so the ones left by a killed writer can be removed without touching a live writer's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from sim.overrides import check_path
from sim.params import ConfigError

MARKER = ".bank-testbed"
CHECKSUMS = "checksums.json"
RUN_FILES = ("provenance.json", CHECKSUMS)  # either makes a run folder (sound or damaged)
STORE_FILES = ("experiment.yaml", "plan.csv")  # both: an experiment folder written before markers
TEMP = re.compile(r"^\..+\.tmp-(?P<host>.+)-(?P<pid>\d+)-[^-]+$")
STALE_SECONDS = 3600  # a temporary folder this old has no live writer, whatever its pid says


def check_output_dir(value: str, key: str = "output.dir") -> None:
    """Refuse an output folder that is blank, has control characters, is not a folder, or is an
    existing non-empty folder the project did not create (raises ConfigError)."""
    if not value.strip():
        raise ConfigError(f"{key}={value!r} is blank; allowed: a folder path")
    check_path(key, value)  # control characters and length (sim.overrides)
    refuse_foreign(Path(value), key)


def check_writable(folder: Path, key: str = "output.dir") -> None:
    """Refuse (ConfigError) a folder that cannot be made or written, before any work: a scratch
    folder is made and removed in its deepest existing ancestor, whose times are then restored
    (permissions alone do not tell: root may write anywhere but a read-only or virtual file
    system)."""
    existing = next(p for p in [folder, *folder.parents] if p.exists())
    allowed = "allowed: a folder you can write, e.g. output.dir=results"
    if not existing.is_dir():
        raise ConfigError(f"{key}: cannot make {folder}, {existing} is a file; {allowed}")
    stamp = existing.stat()
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".write-check-", dir=existing))
        os.utime(existing, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # leave no trace
    except OSError as exc:
        raise ConfigError(
            f"{key}: cannot write {folder} ({exc.strerror} in {existing}); {allowed}"
        ) from None


def refuse_foreign(folder: Path, key: str) -> None:
    """Raise ConfigError if ``folder`` exists and is not a folder this project may write into."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{key}={str(folder)!r} is a file; allowed: a folder")
    if folder.is_dir() and not recognised(folder):
        raise ConfigError(
            f"{key}={str(folder)!r} is a non-empty folder this project did not create;"
            " allowed: a new or empty folder, or one holding results of this project"
        )


def recognised(folder: Path) -> bool:
    """Empty, marked, a run folder, or holding a marked folder, a run, an experiment or a run
    being written (a folder that cannot be read is not recognised)."""
    try:
        if is_ours(folder):
            return True
        children = list(folder.iterdir())
        return not children or any(
            TEMP.match(child.name) or (child.is_dir() and is_ours(child)) for child in children
        )
    except OSError:
        return False


def is_ours(folder: Path) -> bool:
    """Marked by the project, a run folder, or an experiment folder written before markers."""
    marked = any((folder / name).is_file() for name in (MARKER, *RUN_FILES))
    return marked or all((folder / name).is_file() for name in STORE_FILES)


def mark(folder: Path) -> None:
    """Create ``folder`` (and its parents) if needed and mark it as the project's experiment."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / MARKER
    if not marker.exists():
        marker.write_text("written by the bank retention testbed\n")


def is_run_folder(folder: Path) -> bool:
    """A folder holding a run (complete or damaged), not a temporary one."""
    visible = folder.is_dir() and not folder.name.startswith(".")
    return visible and any((folder / name).is_file() for name in RUN_FILES)


def write_checksums(folder: Path) -> None:
    """Record the SHA-256 of every file of ``folder`` (written last)."""
    sums = {p.name: _sha256(p) for p in sorted(folder.iterdir()) if p.is_file()}
    (folder / CHECKSUMS).write_text(json.dumps(sums, indent=2))


def damage(folder: Path) -> str:
    """What is wrong with a run folder ("" if every file matches its checksum)."""
    try:
        sums = json.loads((folder / CHECKSUMS).read_text())
    except (OSError, ValueError):
        return f"{CHECKSUMS} is missing or unreadable"
    if not isinstance(sums, dict) or "provenance.json" not in sums:
        return f"{CHECKSUMS} does not list the run's files"
    for name, digest in sums.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if _sha256(path) != digest:
            return f"{name} does not match its checksum"
    return ""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def atomic_folder(target: Path):
    """Yield a temporary folder beside ``target``; on success it replaces ``target`` whole, with
    its checksums written last. An old ``target`` is moved aside before the rename, so a kill
    leaves either the old folder, the new one, or none, never a mix."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_folder(target)
    try:
        yield tmp
        write_checksums(tmp)
        if target.exists():
            old = _temp_folder(target)
            os.replace(target, old / target.name)
            os.replace(tmp, target)
            shutil.rmtree(old)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _temp_folder(target: Path) -> Path:
    """A new temporary folder beside ``target`` named by this writer's host and pid."""
    prefix = f".{target.name}.tmp-{socket.gethostname()}-{os.getpid()}-"
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    tmp.chmod(0o755)
    return tmp


def remove_stale_temps(folder: Path) -> list[Path]:
    """Remove the temporary folders in ``folder`` left by writers that are gone (a dead pid on
    this host, or older than ``STALE_SECONDS``); the ones removed."""
    stale = [
        p for p in folder.iterdir() if p.is_dir() and (m := TEMP.match(p.name)) and _stale(p, m)
    ]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


def _stale(path: Path, match: re.Match) -> bool:
    if time.time() - path.stat().st_mtime > STALE_SECONDS:
        return True
    return match["host"] == socket.gethostname() and not _alive(int(match["pid"]))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True
