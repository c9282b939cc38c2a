"""The simulation: a hybrid Mesa model of a bank's customers, branches, managers and rivals."""

from sim.api import RunResult, load_config, run_scenario
from sim.config import Config, ConfigError

__all__ = ["Config", "ConfigError", "RunResult", "load_config", "run_scenario"]
