"""The folders the project writes, and the ones it must not.

The project recognises its folders by what it wrote into them, carrying its identity
(``"project": "bank-retention-testbed"``), never by file names any tool could produce:

- an experiment's folder (also a study's, and a folder of ``sim.run`` runs once reported) holds
  the marker ``.bank-testbed``, JSON ``{"project": ..., "kind": "experiment" | "runs", "format":
  2}``, plus ``"report"``: the names of the files the report owns there;
- a run folder's marker is its manifest ``checksums.json``, written last: ``{"project": ...,
  "kind": "run", "format": 2, "files": {name: SHA-256}}``;
- ``figures/`` holds a marker of kind ``"figures"`` whose ``"files"`` are the images the report
  drew there.

An existing non-empty folder that is none of these, holds none of these (nor a run being written)
and is not the ``runs/`` of a marked experiment is foreign: never written into. Folders written by
earlier versions (a plain-text marker, a ``checksums.json`` of bare digests) are refused in one
line, to rerun into a new folder; their files are left as they are.

What a manifest protects: a run is damaged if its manifest is missing or not the project's, a
listed file is missing or differs from its SHA-256 (truncated, edited without re-hashing), or the
folder holds a file the manifest does not list (:func:`damage`); ``runner.store`` adds the
files a run must have and that its folder's name is its config's id (a swapped or renamed folder).
That catches accidents, truncation, edits, missing, extra and swapped files; someone who rewrites a
file and its checksum on purpose is not caught (nothing is signed).

Writing: a run folder is written atomically (a temporary folder renamed into place); the folder it
replaces is deleted only if it is a sound run folder of the project (every file its manifest's),
else it is moved into ``damaged/`` beside it. Nothing is written or deleted through a symbolic
link inside a store. Temporary folders name their writer (host and pid), so the ones left by a
killed writer can be removed without touching a live writer's. A run folder is copied elsewhere
(``runner.store``'s shared run cache) by :func:`place_copy`: hard links to its manifest's regular
files (copies across file systems), checked, then renamed into place the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from sim.overrides import check_path
from sim.params import ConfigError

PROJECT = "bank-retention-testbed"
FORMAT = 2
MARKER = ".bank-testbed"
LEGACY_MARKER = "written by the bank retention testbed\n"  # the plain-text marker of version 1
CHECKSUMS = "checksums.json"
RUN_FILES = ("provenance.json", CHECKSUMS)  # either makes a folder of a store a run (or damaged)
QUARANTINE = "damaged"  # beside run folders: the damaged folders a rerun replaced
TEMP = re.compile(r"^\..+\.tmp-(?P<host>.+)-(?P<pid>\d+)-[^-]+$")
STALE_SECONDS = 3600  # a temporary folder this old has no live writer, whatever its pid says
EARLIER = "written by an earlier version of this project (left as it is)"


def read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file's table, read by its path on the calling thread: a read through a Python
    file handle on Arrow's thread pool (as ``pandas.read_parquet`` does) can leave a pool thread
    that aborts the process at exit ("terminate called without an active exception"), and a
    process that forks workers should start no threads."""
    return pq.read_table(str(path), use_threads=False).to_pandas(use_threads=False)


def claim(figures: Path, names: list[str]) -> None:
    """List the images ``names`` in the marker of ``figures`` before they are written: the
    project's, so that a report on the folder neither refuses them nor leaves them stale (nor
    those of a command killed while drawing)."""
    listed = (marker(figures, "figures") or {}).get("files", [])
    mark(figures, "figures", files=sorted({*listed, *names}))


def check_output_dir(value: str, key: str = "output.dir") -> None:
    """Refuse an output folder that is blank, has control characters, is not a folder, is (in) a
    run folder, or is an existing non-empty folder the project did not create (ConfigError)."""
    if not value.strip():
        raise ConfigError(f"{key}={value!r} is blank; allowed: a folder path")
    check_path(key, value)  # control characters and length (sim.overrides)
    refuse_foreign(Path(value), key)


def check_study_folder(folder: Path, key: str) -> None:
    """Refuse (ConfigError) a study's folder (calibration, optimisation) that cannot be written
    or that the project did not create."""
    check_writable(folder, key)
    refuse_foreign(folder, key)


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
    """Raise ConfigError if ``folder`` exists and is not a folder this project may write into, or
    is (inside) a run folder."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{key}={str(folder)!r} is a file; allowed: a folder")
    if run := next((p for p in [folder, *folder.parents] if _looks_like_run(p)), None):
        where = "a run folder" if run == folder else f"inside the run folder {run}"
        raise ConfigError(
            f"{key}={str(folder)!r} is {where}; allowed: a folder of runs, e.g. {run.parent}"
        )
    if folder.is_dir() and not recognised(folder):
        if legacy(folder):
            raise ConfigError(f"{key}={str(folder)!r} holds results {EARLIER}; choose a new {key}")
        raise ConfigError(
            f"{key}={str(folder)!r} is a non-empty folder this project did not create;"
            " allowed: a new or empty folder, or one holding results of this project"
        )


def refuse_links(folder: Path, names, key: str) -> None:
    """Raise ConfigError naming the first of ``folder``'s entries ``names`` that is a symbolic
    link: the project never writes or deletes through one."""
    if link := next((folder / n for n in names if (folder / n).is_symlink()), None):
        raise ConfigError(
            f"{key}: {link} is a symbolic link, which the project never writes or deletes"
            " through; allowed: a real file or folder there, or none (move the link away)"
        )


def recognised(folder: Path) -> bool:
    """Empty, the project's (:func:`is_ours`, or the ``runs/`` of a marked experiment), or holding
    a folder of the project's (or of version 1, marked) or a run being written (a folder that
    cannot be read is not recognised)."""
    try:
        if is_ours(folder) or (folder.name == "runs" and marker(folder.parent, "experiment")):
            return True
        children = list(folder.iterdir())
        return not children or any(_ours_within(child) for child in children)
    except OSError:
        return False


def _ours_within(child: Path) -> bool:
    if child.is_symlink() or not child.is_dir():
        return False
    return bool(TEMP.match(child.name)) or is_ours(child) or _legacy_marker(child)


def is_ours(folder: Path) -> bool:
    """Marked by the project, or a run folder of the project (its manifest)."""
    return marker(folder) is not None or manifest(folder) is not None


def legacy(folder: Path) -> bool:
    """Written by version 1: its plain-text marker, or run folders with bare-digest checksums."""
    try:
        folders = [folder, *(c for c in folder.iterdir() if c.is_dir() and not c.is_symlink())]
    except OSError:
        return False
    return _legacy_marker(folder) or any(_bare_digests(_json(f / CHECKSUMS)) for f in folders)


def _legacy_marker(folder: Path) -> bool:
    try:
        return (folder / MARKER).read_text() == LEGACY_MARKER
    except (OSError, UnicodeDecodeError):
        return False


def _bare_digests(doc) -> bool:
    """A version-1 manifest: file name -> SHA-256, nothing else."""
    digests = doc.values() if isinstance(doc, dict) else []
    return bool(digests) and all(isinstance(v, str) and len(v) == 64 for v in digests)


def _looks_like_run(folder: Path) -> bool:
    """A run folder of this version, or one with both a run's file names (version 1)."""
    return manifest(folder) is not None or all((folder / n).is_file() for n in RUN_FILES)


def _json(path: Path):
    """The JSON document of a regular file (not a link), None if there is none or unreadable."""
    try:
        return json.loads(path.read_text()) if path.is_file() and not path.is_symlink() else None
    except (OSError, ValueError):
        return None


def _project_json(path: Path, kind: str | None) -> dict | None:
    doc = _json(path)
    ours = isinstance(doc, dict) and doc.get("project") == PROJECT
    return doc if ours and (kind is None or doc.get("kind") == kind) else None


def marker(folder: Path, kind: str | None = None) -> dict | None:
    """The project's marker of ``folder`` (of that ``kind``), None if it has none."""
    return _project_json(folder / MARKER, kind)


def mark(folder: Path, kind: str = "experiment", **fields) -> None:
    """Create ``folder`` (and its parents) if needed and mark it as the project's (an existing
    marker keeps its kind; version 1's is replaced), with ``fields`` set in the marker; refuses
    (ConfigError) a marker file the project did not write."""
    folder.mkdir(parents=True, exist_ok=True)
    old = marker(folder)
    path = folder / MARKER
    if old is None and (path.exists() or path.is_symlink()) and not _legacy_marker(folder):
        raise ConfigError(
            f"{path} was not written by this project; allowed: no {MARKER} there (move it away)"
        )
    new = (old or {"project": PROJECT, "kind": kind, "format": FORMAT}) | fields
    if new != old:
        write_json(folder / MARKER, new)


def write_json(path: Path, doc: dict) -> None:
    """Write ``doc`` to ``path`` atomically."""
    with replacing(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=2))


@contextmanager
def replacing(path: Path):
    """Yield a new temporary file beside ``path`` (never an existing file or link), renamed over
    ``path`` on success and removed otherwise."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        tmp.chmod(0o644)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def is_run_folder(folder: Path) -> bool:
    """A folder holding a run (sound or damaged), not a temporary one."""
    visible = folder.is_dir() and not folder.name.startswith(".")
    return visible and any((folder / name).is_file() for name in RUN_FILES)


def manifest(folder: Path) -> dict | None:
    """A run folder's manifest (``checksums.json``), None if it has none of the project's."""
    doc = _project_json(folder / CHECKSUMS, "run")
    return doc if doc is not None and isinstance(doc.get("files"), dict) else None


def write_checksums(folder: Path) -> None:
    """Write the manifest of ``folder``: the SHA-256 of each of its files (written last)."""
    files = {p.name: _sha256(p) for p in sorted(folder.iterdir()) if p.is_file()}
    doc = {"project": PROJECT, "kind": "run", "format": FORMAT, "files": files}
    (folder / CHECKSUMS).write_text(json.dumps(doc, indent=2))


def damage(folder: Path) -> str:
    """What is wrong with a run folder's files ("" if every entry is in its manifest and every
    listed file matches its checksum)."""
    if folder.is_symlink():
        return f"{folder.name} is a symbolic link (never followed)"
    doc = manifest(folder)
    if doc is None:
        if _bare_digests(_json(folder / CHECKSUMS)):
            return f"{CHECKSUMS} was {EARLIER}"
        return f"{CHECKSUMS} is missing, unreadable or not this project's"
    files = doc["files"]
    if extra := sorted(p.name for p in folder.iterdir() if p.name not in (*files, CHECKSUMS)):
        return f"{extra[0]} is not in {CHECKSUMS}"
    for name, digest in files.items():
        path = folder / name
        if path.is_symlink() or not path.is_file():
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
    leaves either the old folder, the new one, or none, never a mix; it is then deleted if it is
    a sound run folder of the project, else kept in ``damaged/`` (:func:`set_aside`)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_folder(target)
    try:
        yield tmp
        write_checksums(tmp)
        _swap_in(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _swap_in(new: Path, target: Path) -> None:
    """Rename the folder ``new`` to ``target``; an old ``target`` is moved aside first (deleted if
    it is a sound run folder of the project, else kept in ``damaged/``), so a kill leaves the old
    folder, the new one or none, never a mix."""
    if target.is_symlink() or (target.exists() and damage(target)):
        set_aside(target)
    if target.exists():
        old = _temp_folder(target)
        os.replace(target, old / target.name)
        os.replace(new, target)
        shutil.rmtree(old)
    else:
        os.replace(new, target)


def place_copy(source: Path, target: Path, check: Callable[[Path], str], replace: bool) -> str:
    """Place at ``target`` a copy of the run folder ``source``: "" once placed, else why not
    (``"damaged: ..."`` if ``source`` is damaged; nothing is then written). Its files are hard
    links to ``source``'s where the file system allows (copies elsewhere), so the copy costs no
    space; it is built in a temporary folder beside ``target`` and renamed into place only if
    ``check`` (given the copy, under ``target``'s name) finds nothing wrong, so a reader never
    sees half a copy or an unchecked one.

    Only the files ``source``'s manifest lists, and the manifest, are taken, each a regular file
    (never a symbolic link, nor a folder that is one; a file it does not list makes ``source``
    damaged). An old ``target`` is replaced as :func:`atomic_folder` replaces it if ``replace``;
    else (a shared cache, where another writer may place the same copy at the same time) a
    ``target`` that passes ``check`` is kept and the copy dropped."""
    doc = manifest(source) if source.is_dir() and not source.is_symlink() else None
    if doc is None:
        return f"damaged: {damage(source) or 'not a run folder'}"
    names = [*doc["files"], CHECKSUMS]
    if any("/" in name or name in ("", ".", "..") for name in names):
        return f"damaged: {CHECKSUMS} names a file outside its folder"
    if extra := sorted(set(os.listdir(source)) - set(names)):
        return f"damaged: {extra[0]} is not in {CHECKSUMS}"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_folder(target)
    try:
        copy = tmp / target.name
        copy.mkdir(mode=0o755)
        for name in names:
            if not _link_or_copy(source / name, copy / name):
                return f"damaged: {name} is missing or not a regular file"
        if why := check(copy):
            return why
        if replace:
            _swap_in(copy, target)
        elif not _placed(target, check):
            try:
                _swap_in(copy, target)  # none, or one set aside or deleted as atomic_folder does
            except (OSError, ConfigError) as exc:
                if not _placed(target, check):  # else another writer placed it first
                    return f"{target} could not be placed ({exc})"
        return ""
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _placed(target: Path, check: Callable[[Path], str]) -> bool:
    """Whether ``target`` is a real folder that ``check`` passes."""
    return target.is_dir() and not target.is_symlink() and not check(target)


def _link_or_copy(source: Path, target: Path) -> bool:
    """Hard-link (else copy) the regular file ``source`` to the new ``target``, never through a
    symbolic link; False if ``source`` is not a regular file."""
    try:
        if not stat.S_ISREG(os.lstat(source).st_mode):
            return False
        try:
            os.link(source, target, follow_symlinks=False)
        except OSError:  # another file system, or links not allowed: a copy
            fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as src, open(target, "xb") as dst:
                shutil.copyfileobj(src, dst)
    except (OSError, ValueError):  # ValueError: a name with a NUL
        return False
    return True


def set_aside(folder: Path) -> Path:
    """Move ``folder`` (a damaged run folder, or a link) into ``damaged/<name>-<UTC time>-<pid>``
    beside it, so that nothing the project may not have written is deleted; the new path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    kept = folder.parent / QUARANTINE / f"{folder.name}-{stamp}-{os.getpid()}"
    refuse_links(folder.parent, [QUARANTINE], "output.dir")
    kept.parent.mkdir(exist_ok=True)
    os.replace(folder, kept)
    return kept


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
        p
        for p in folder.iterdir()
        if p.is_dir() and not p.is_symlink() and (m := TEMP.match(p.name)) and _stale(p, m)
    ]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


def _stale(path: Path, match: re.Match) -> bool:
    if time.time() - path.stat().st_mtime > STALE_SECONDS:
        return True
    return match["host"] == socket.gethostname() and not alive(int(match["pid"]))


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True
