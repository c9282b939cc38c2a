"""The Python API: run one scenario, keep or save its results.

``run_scenario`` returns pandas objects and writes nothing unless asked. A saved run is one
folder under ``output.dir`` named by its run id (``sim.scenario.run_id``), written atomically: a
temporary folder renamed into place (``sim.folders``).
"""

from __future__ import annotations

# Mesa first, while few modules are loaded and the stack is short: its import walks the stack
# (mesa.mesa_logging: inspect.stack), at a cost that grows with both.
import mesa  # noqa: F401

# isort: split
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from sim import metrics
from sim.config import Config
from sim.folders import atomic_folder, refuse_foreign
from sim.model import BankModel
from sim.provenance import provenance
from sim.scenario import config_yaml, load_config, to_config
from sim.scenario import run_id as config_run_id


@dataclass
class RunResult:
    """What one run produced: its config, its run id (the name of its folder) and its pandas
    tables (``crm_extract`` is None when ``output.crm_extract`` is off; ``leavers``:
    :func:`sim.metrics.leavers`)."""

    config: Config
    run_id: str  # sim.scenario.run_id(config): a content hash of the resolved config
    timeseries: pd.DataFrame
    summary: pd.Series
    panel: pd.DataFrame
    branches: pd.DataFrame
    leavers: pd.DataFrame
    started: str  # ISO time
    finished: str
    crm_extract: pd.DataFrame | None = None

    def save(self, directory: str | Path | None = None) -> Path:
        """Write the run folder atomically under ``directory`` (default ``output.dir``), with
        the checksums of its files; refuses a foreign non-empty ``directory`` (ConfigError)."""
        folder = Path(directory or self.config.output.dir)
        refuse_foreign(folder, "output.dir")
        target = folder / self.run_id
        with atomic_folder(target) as tmp:
            (tmp / "config.yaml").write_text(config_yaml(self.config))
            self.timeseries.to_parquet(tmp / "timeseries.parquet", index=False)
            (tmp / "summary.json").write_text(json.dumps(self.summary.to_dict(), indent=2))
            self.branches.to_parquet(tmp / "branches.parquet", index=False)
            self.leavers.to_parquet(tmp / "leavers.parquet", index=False)
            if self.config.output.panel:
                self.panel.to_parquet(tmp / "panel.parquet", index=False)
            if self.config.output.crm_extract and self.crm_extract is not None:
                self.crm_extract.to_parquet(tmp / "crm_extract.parquet", index=False)
            record = provenance(self.config, self.started, self.finished, "ok")
            (tmp / "provenance.json").write_text(json.dumps(record, indent=2))
        return target


def now() -> str:
    """The current UTC time, ISO format, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_scenario(
    scenario: list[str] | Config | DictConfig | None = None,
    *,
    progress: bool = False,
    save: bool | str | Path = False,
    run_id: str | None = None,
) -> RunResult:
    """Run one scenario given Hydra overrides or a config; write files only if ``save``.

    ``save=True`` writes under ``output.dir``; a path writes there instead. ``run_id`` is the
    config's run id when the caller has it already (the experiment planner), else it is computed.
    """
    if scenario is None or isinstance(scenario, list):
        config = load_config(scenario)
    else:
        config = to_config(scenario)
    started = now()
    model = BankModel(config)
    model.run(progress=progress)
    timeseries = metrics.timeseries(model)
    summary = pd.Series(metrics.summarise(model, timeseries))
    result = RunResult(
        config,
        run_id or config_run_id(config),
        timeseries,
        summary,
        metrics.panel(model),
        metrics.branches(model),
        metrics.leavers(model),
        started,
        now(),
        crm_extract=metrics.crm_extract(model),
    )
    if save:
        result.save(None if save is True else save)
    return result
