"""The simulation: a hybrid Mesa model of a bank's customers, branches, managers and rivals."""

from sim.config import Config, ConfigError
from sim.run import RunResult, load_config, run_scenario

__all__ = ["Config", "ConfigError", "RunResult", "load_config", "run_scenario"]
