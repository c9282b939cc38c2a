"""The Python API: compose a config, run one scenario, keep or save its results.

``run_scenario`` returns pandas objects and writes nothing unless asked. A saved run is one
folder under ``output.dir`` named by a hash of its resolved scenario (seed included), written
atomically: a temporary folder renamed into place.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sim import metrics
from sim.config import Config, ConfigError, one_line, register, to_config
from sim.model import BankModel
from sim.provenance import atomic_folder, provenance

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
register()


@dataclass
class RunResult:
    """What one run produced: its config and its pandas tables (``crm_extract`` is None when
    ``output.crm_extract`` is off)."""

    config: Config
    timeseries: pd.DataFrame
    summary: pd.Series
    panel: pd.DataFrame
    branches: pd.DataFrame
    started: str  # ISO time
    finished: str
    crm_extract: pd.DataFrame | None = None

    @property
    def run_id(self) -> str:
        """A content hash of the resolved config (seed included)."""
        return config_hash(self.config)

    def save(self, directory: str | Path | None = None) -> Path:
        """Write the run folder atomically under ``directory`` (default ``output.dir``)."""
        target = Path(directory or self.config.output.dir) / self.run_id
        with atomic_folder(target) as tmp:
            (tmp / "config.yaml").write_text(config_yaml(self.config))
            self.timeseries.to_parquet(tmp / "timeseries.parquet", index=False)
            (tmp / "summary.json").write_text(json.dumps(self.summary.to_dict(), indent=2))
            self.branches.to_parquet(tmp / "branches.parquet", index=False)
            if self.config.output.panel:
                self.panel.to_parquet(tmp / "panel.parquet", index=False)
            if self.config.output.crm_extract and self.crm_extract is not None:
                self.crm_extract.to_parquet(tmp / "crm_extract.parquet", index=False)
            record = provenance(self.config, self.started, self.finished, "ok")
            (tmp / "provenance.json").write_text(json.dumps(record, indent=2))
        return target


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def config_yaml(config: Config) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(config))


def config_hash(config: Config) -> str:
    """The run id: a hash of everything that shapes the results (``output`` settings do not)."""
    return seeded_hash(scenario_text(config), config.seed)


def scenario_text(config: Config) -> str:
    """The resolved scenario as text, without its seed and output settings."""
    scenario = OmegaConf.to_container(OmegaConf.structured(config))
    del scenario["output"], scenario["seed"]
    return OmegaConf.to_yaml(scenario)


def seeded_hash(scenario: str, seed: int) -> str:
    """Run id of a scenario (``scenario_text``) run with ``seed``."""
    return hashlib.sha256(f"{scenario}seed: {seed}\n".encode()).hexdigest()[:16]


def load_config(overrides: list[str] | None = None) -> Config:
    """Compose ``configs/`` with Hydra overrides into a validated Config (or raise ConfigError)."""
    return to_config(compose_config(overrides))


def compose_config(overrides: list[str] | None = None, name: str = "config") -> DictConfig:
    """Compose ``configs/<name>.yaml`` with overrides; Hydra's errors become one-line
    ConfigErrors."""
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            return compose(config_name=name, overrides=list(overrides or []))
    except MissingConfigException as exc:
        group, _, option = (exc.missing_cfg_file or "").partition("/")
        if not option:
            raise ConfigError(one_line(exc)) from None
        known = sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))
        raise ConfigError(f"{group}={option!r} is unknown; choose from {known}") from None
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(one_line(exc)) from None


def run_scenario(
    scenario: list[str] | Config | DictConfig | None = None,
    *,
    progress: bool = False,
    save: bool | str | Path = False,
) -> RunResult:
    """Run one scenario given Hydra overrides or a config; write files only if ``save``.

    ``save=True`` writes under ``output.dir``; a path writes there instead.
    """
    if scenario is None or isinstance(scenario, list):
        config = load_config(scenario)
    else:
        config = to_config(scenario)
    started = now()
    model = BankModel(config)
    model.run(progress=progress)
    timeseries = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    summary = pd.Series(metrics.summarise(model, timeseries))
    result = RunResult(
        config,
        timeseries,
        summary,
        metrics.panel(model),
        metrics.branches(model),
        started,
        now(),
        crm_extract=metrics.crm_extract(model),
    )
    if save:
        result.save(None if save is True else save)
    return result
