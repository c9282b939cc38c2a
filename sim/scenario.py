"""A scenario: composed from ``configs/`` with Hydra overrides, validated, typed, and named.

:func:`load_config` is the one way from overrides to a :class:`~sim.config.Config` whose
strategies' parameters are typed (once); :func:`run_id` names a run by a hash of its resolved
scenario (seed included, ``output`` settings not).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sim.config import Config, check_literals, register, validate
from sim.overrides import check_overrides
from sim.params import ConfigError, one_line
from sim.strategies import REGISTRY, strategy_config

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
GROUPS = {
    d.name: sorted(p.stem for p in d.glob("*.yaml")) for d in CONFIG_DIR.iterdir() if d.is_dir()
}
register()


def load_config(overrides: list[str] | None = None) -> Config:
    """Compose ``configs/`` with Hydra overrides into a validated Config (or raise ConfigError)."""
    composed = compose_config(overrides)
    check_literals(list(overrides or []))
    return to_config(composed)


def compose_config(overrides: list[str] | None = None, name: str = "config") -> DictConfig:
    """Compose ``configs/<name>.yaml`` with overrides (checked: ``sim.overrides``); Hydra's
    errors become one-line ConfigErrors."""
    check_overrides(list(overrides or []), GROUPS)
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            return compose(config_name=name, overrides=list(overrides or []))
    except MissingConfigException as exc:
        group, _, option = (exc.missing_cfg_file or "").partition("/")
        if group not in GROUPS or not option:
            raise ConfigError(one_line(exc)) from None
        raise ConfigError(f"{group}={option!r} is unknown; choose from {GROUPS[group]}") from None
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(one_line(exc)) from None


def to_config(cfg: DictConfig | Config, schema: type[Config] = Config) -> Config:
    """Typed, validated config (``schema`` or a subclass) from a Hydra DictConfig, or a Config
    whose types are checked; each strategy's parameters are typed and checked against the
    scenario."""
    if not isinstance(cfg, Config):
        plain = OmegaConf.to_container(cfg, resolve=True)
        plain.pop("hydra", None)
        try:
            cfg = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), plain))
        except OmegaConfBaseException as exc:
            raise ConfigError(one_line(exc)) from None
    validate(cfg)
    cfg.strategy = {name: _typed(name, params, cfg) for name, params in cfg.strategy.items()}
    return cfg


def _typed(name: str, params, scenario: Config):
    """One strategy's typed config, refused if it does not fit the scenario."""
    typed = strategy_config(name, params)
    REGISTRY[name].check(typed, scenario)
    return typed


def config_yaml(config: Config) -> str:
    """The whole config as YAML (a run folder's ``config.yaml``)."""
    return OmegaConf.to_yaml(OmegaConf.structured(config))


def scenario_text(config: Config) -> str:
    """The resolved scenario as text, without its seed and output settings."""
    scenario = OmegaConf.to_container(OmegaConf.structured(config))
    del scenario["output"], scenario["seed"]
    return OmegaConf.to_yaml(scenario)


def seeded_hash(text: str, seed: int) -> str:
    """Run id of a scenario (``scenario_text``) run with ``seed``."""
    return hashlib.sha256(f"{text}seed: {seed}\n".encode()).hexdigest()[:16]


def run_id(config: Config) -> str:
    """The run id: a hash of everything that shapes the results (``output`` settings do not)."""
    return seeded_hash(scenario_text(config), config.seed)
