"""Where a stored run came from: config, seed, code version, packages, times, status, and the
bank's input files."""

from __future__ import annotations

import platform
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim import bankdata

if TYPE_CHECKING:
    from sim.config import Config

PACKAGES = ("mesa", "numpy", "numba", "scipy", "pandas", "pyarrow", "hydra-core", "omegaconf")
ROOT = Path(__file__).resolve().parent.parent


@cache
def code_version() -> dict:
    """Git commit and dirty flag of the project checkout (None outside git), and versions."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "git_commit": commit,
        "git_dirty": None if status is None else bool(status),
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
    }


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def provenance(
    config: Config, started: str, finished: str, status: str, error: str | None = None
) -> dict[str, Any]:
    """The provenance record of one run."""
    record: dict[str, Any] = {
        "status": status,
        "seed": config.seed,
        "strategies": {name: vars(params) for name, params in config.strategy.items()},
        "started": started,
        "finished": finished,
        **code_version(),
    }
    if files := bankdata.digests(config):  # a bank from files: which versions of them
        record["bank_files_sha256"] = {f"bank.data.{k}": v for k, v in files.items()}
    if error is not None:
        record["error"] = error
    return record
