"""The simulation: a hybrid Mesa model of a bank's customers, branches, managers and rivals.

``from sim import run_scenario`` is the entry point; names are imported lazily so that
``python -m sim.<module>`` runs each module cleanly.
"""

from importlib import import_module

_EXPORTS = {
    "Config": "sim.config",
    "ConfigError": "sim.params",
    "RunResult": "sim.api",
    "load_config": "sim.scenario",
    "run_scenario": "sim.api",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
