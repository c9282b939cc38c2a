"""A scenario: composed from ``configs/`` with Hydra overrides, validated, typed, and named.

:func:`load_config` is the one way from overrides to a :class:`~sim.config.Config` whose
strategies' parameters are typed (once); :func:`with_values` derives a config with some keys set
(a typed merge, validated as :func:`to_config` validates) without composing again;
:func:`run_id` names a run by a hash of its resolved scenario (seed included, ``output`` settings
not), whose text is :func:`scenario_text`.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sim import bankdata
from sim.config import Config, check_literal, check_literals, field_default, register, validate
from sim.overrides import brief, check_overrides, shown
from sim.params import ConfigError, one_line, type_hints, unknown_key
from sim.strategies import REGISTRY, strategy_config
from sim.strategies.base import not_a_parameter

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
FOLDERS = [d.name for d in sorted(CONFIG_DIR.iterdir()) if d.is_dir()]


def _chosen(path: Path) -> set[str]:
    """The config groups (folders of ``configs/``) a top config's defaults list chooses from."""
    entries = yaml.safe_load(path.read_text()).get("defaults", [])
    return {name for e in entries if isinstance(e, dict) for name in e} & set(FOLDERS)


CHOSEN = {path.stem: _chosen(path) for path in CONFIG_DIR.glob("*.yaml")}
"""Each top config's config groups (``configs/targets/`` is a folder read by a setting)."""
GROUPS = {
    group: sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))
    for group in FOLDERS
    if any(group in groups for groups in CHOSEN.values())
}
"""Every config group a command line chooses from -> its options (its folder's YAML files)."""
FITS = Path("results") / "calibration"
"""Where ``experiments.calibrate`` writes a bank's latest fit, ``<bank>/calibrated.yaml``
(relative to the working folder, as every command's ``output.dir``). When the folder exists it is
on Hydra's search path, so a bank's ``optional /<bank>@_global_: calibrated`` default composes its
latest fit after the shipped one (``configs/bank/calibrated/<bank>.yaml``): :func:`fit_files`."""
NOT_SCENARIO = ("seed", "output")  # a run's settings that are not its scenario (run ids add seeds)
MISSING = object()  # what :func:`value_at` gives for a key a config does not have
YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's when PyYAML has it
register()


def load_config(overrides: list[str] | None = None) -> Config:
    """Compose ``configs/`` with Hydra overrides into a validated Config (or raise ConfigError)."""
    composed = compose_config(overrides)
    check_literals(list(overrides or []))
    return to_config(composed)


def compose_config(overrides: list[str] | None = None, name: str = "config") -> DictConfig:
    """Compose ``configs/<name>.yaml`` with overrides (checked: ``sim.overrides``, and neither a
    folder of ``configs/`` that is not its config group nor a strategy added by its keys);
    Hydra's errors become one-line ConfigErrors."""
    for override in check_overrides(list(overrides or []), GROUPS):
        key = override.key_or_group
        if key in FOLDERS and key not in CHOSEN[name]:
            raise ConfigError(unknown(key))  # Hydra would read its files
        _check_added(override)
    fits = [f"hydra.searchpath=['file://{FITS.resolve()}']"] if FITS.is_dir() else []
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            return compose(config_name=name, overrides=[*list(overrides or []), *fits])
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(brief(one_line(exc, unknown))) from None


def fit_files(bank: str) -> list[Path]:
    """The fits ``bank=<bank>`` composes, the last winning: the shipped one and the latest
    (:data:`FITS`), those that exist. A calibration writes its fit over the latest, so the latest
    sets every key the shipped one does."""
    files = (CONFIG_DIR / "bank" / "calibrated" / f"{bank}.yaml", FITS / bank / "calibrated.yaml")
    return [path for path in files if path.is_file()]


def _check_added(override) -> None:
    """Refuse ``+strategy.<name>...`` for a strategy of ``configs/strategy/``: it is activated by
    ``strategy=[<name>]``, and its parameters are then set without ``+``."""
    head, name, rest = (override.key_or_group.split(".", 2) + ["", ""])[:3]
    added = override.is_add() or override.is_force_add()
    if not added or head != "strategy" or name not in GROUPS["strategy"]:
        return
    key = rest.partition(".")[0]
    if key and name in REGISTRY and key not in _fields(REGISTRY[name].Config):  # type: ignore[arg-type]
        raise ConfigError(not_a_parameter(name, key))
    raise ConfigError(
        f"{shown(override.input_line)} is not allowed; a strategy is activated with"
        f" strategy=[{name}] (or listed with others, e.g. strategy=[playbook,{name}]), not by"
        f" adding its keys; then set its parameters without +: docs/strategies.md#{name}"
    )


def compose_replacing(parsed: list, replaced: Callable[[Any], bool], name: str) -> DictConfig:
    """Compose ``configs/<name>.yaml`` from checked overrides (``sim.overrides``), setting the
    key of each one ``replaced`` picks to its value whole: Hydra would merge a map into the
    preset's, or read a file for a group's name. Refused in one line naming the override."""
    cfg = compose_config([o.input_line for o in parsed if not replaced(o)], name)
    for o in parsed:
        if replaced(o):
            try:
                OmegaConf.update(cfg, o.key_or_group, o.value(), merge=False)
            except OmegaConfBaseException as exc:
                raise ConfigError(
                    brief(f"{shown(o.input_line)}: {one_line(exc, unknown)}")
                ) from None
    return cfg


def to_config(cfg: DictConfig | Config, schema: type[Config] = Config) -> Config:
    """Typed, validated config (``schema`` or a subclass) from a Hydra DictConfig, or a Config
    whose types are checked; each strategy's parameters are typed and checked against the
    scenario. A DictConfig that Hydra composed on ``schema`` is already typed and is only
    converted; any other is merged onto ``schema`` first."""
    if not isinstance(cfg, Config):
        try:
            composed: Any = cfg
            if OmegaConf.get_type(composed) is not schema:
                plain: Any = OmegaConf.to_container(composed, resolve=True)
                plain.pop("hydra", None)
                composed = OmegaConf.merge(OmegaConf.structured(schema), plain)
            cfg = typing.cast(Config, OmegaConf.to_object(composed))
        except OmegaConfBaseException as exc:
            raise ConfigError(brief(one_line(exc, unknown))) from None
        _refuse_unknown(cfg, "")
    validate(cfg)  # first: the files' paths are then text
    if bankdata.apply(cfg):
        validate(cfg)
    cfg.strategy = {name: _typed(name, params, cfg) for name, params in cfg.strategy.items()}
    return cfg


def unknown(key: str) -> str:
    """The refusal of an unknown scenario key, saying where its kind of key is listed and, for
    a strategy's, how to activate the strategy or which parameters it has."""
    _, name, field_name = (key.split(".", 2) + ["", ""])[:3]
    if key.startswith("strategy.") and field_name and name in REGISTRY:
        return not_a_parameter(name, field_name)
    return unknown_key(key, GROUPS["strategy"])


def _refuse_unknown(node, prefix: str) -> None:
    """Refuse a key the schema does not have (a ``+key=...`` override adds it to Hydra's
    composition, and OmegaConf would set it on the dataclass as a plain attribute)."""
    if isinstance(node, dict):
        for name, item in node.items():
            _refuse_unknown(item, f"{prefix}{name}.")
    elif dataclasses.is_dataclass(node):
        known = _fields(type(node))  # type: ignore[arg-type]
        extra = [name for name in vars(node) if name not in known]
        if extra:
            raise ConfigError(brief(unknown(f"{prefix}{extra[0]}")))
        for name in known:
            _refuse_unknown(getattr(node, name), f"{prefix}{name}.")


def _typed(name: str, params, scenario: Config):
    """One strategy's typed config, refused if it does not fit the scenario."""
    typed = strategy_config(name, params)
    REGISTRY[name].check(typed, scenario)
    return typed


@dataclass
class Derivations:
    """What a planner keeps while it derives many configs from a few (:func:`with_values`): the
    plain forms of the config parts they share, by identity (:func:`plain`), and the scenarios
    (all but their strategies) already validated. Derived configs share their unchanged parts,
    so none may be changed in place while this is in use."""

    forms: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    validated: set[str] = field(default_factory=set)


def with_values(config: Config, values: dict[str, Any], seen: Derivations | None = None) -> Config:
    """A copy of the validated ``config`` with dotted keys set to ``values``, as if they had been
    overrides: each value is typed by its field as Hydra's merge types it (a map merged into the
    map it replaces) and refused with the same one-line ConfigError. Validated as
    :func:`to_config` validates, limited to what can have changed: the scenario (unless ``seen``
    validated it already) and every strategy if a key outside ``strategy`` is set, else the
    strategies set. Unchanged parts are shared with ``config``."""
    if not values:
        return config
    new = config
    for key, value in values.items():
        new = _assigned(new, type(new), key.split("."), value, key)
    if any(key.partition(".")[0] != "strategy" for key in values):
        text = "" if seen is None else _text(new, ("strategy",), seen.forms)
        if seen is None or text not in seen.validated:
            validate(new)
            if bankdata.apply(new):
                validate(new)
        if seen is not None:
            seen.validated.add(text)
        changed = set(new.strategy)
    elif "strategy" in values:  # the whole set of strategies replaced
        changed = set(new.strategy)
    else:
        changed = {key.split(".")[1] for key in values}
    new.strategy = {
        name: _typed(name, params, new) if name in changed else params
        for name, params in new.strategy.items()
    }
    return new


def _assigned(node, hint, parts: list[str], value, key: str):
    """A shallow copy of ``node`` (of type ``hint``) with the key at ``parts`` set to ``value``,
    typed."""
    name, rest = parts[0], parts[1:]
    current = _child(node, name)
    if current is MISSING:
        raise ConfigError(unknown(key))
    inner, default = _field(node, hint, name)
    if rest:
        new = _assigned(current, inner, rest, value, key)
    else:
        if default is not MISSING:
            check_literal(key, inner, default, value)
        new = _converted(key, inner, current, value)
    if isinstance(node, dict):
        return {**node, name: new}
    copied = copy.copy(node)
    setattr(copied, name, new)
    return copied


def _field(node, hint, name: str):
    """(type, schema default or MISSING) of the field or entry ``name`` of ``node`` (of type
    ``hint``); a map's entry has the map's value type, or its own if that is ``Any``."""
    if isinstance(node, dict):
        inner = typing.get_args(hint)[1] if typing.get_origin(hint) is dict else Any
        item = node[name]
        return (type(item) if inner is Any and dataclasses.is_dataclass(item) else inner), MISSING
    inner, f = _fields(type(node))[name]  # type: ignore[arg-type]
    return inner, field_default(f)


def _child(node, name: str):
    """``node``'s field or entry ``name``, or MISSING."""
    if isinstance(node, dict):
        return node.get(name, MISSING)
    return getattr(node, name) if name in _fields(type(node)) else MISSING  # type: ignore[arg-type]


def _converted(key: str, hint, current, value):
    """``value`` typed as OmegaConf types a field of type ``hint`` set to it (a map merged into
    ``current``, as Hydra merges an override's map), or a ConfigError naming ``key``."""
    try:
        if isinstance(value, dict):
            node = OmegaConf.structured(_holder(hint)(current))
            OmegaConf.update(node, "value", value, merge=True)
        else:
            node = _slot(hint)
            node.value = value
            if not OmegaConf.is_config(node.value):  # a plain value, typed
                return node.value
        typed: Any = OmegaConf.to_object(node)
        return typed.value
    except OmegaConfBaseException as exc:
        raise ConfigError(brief(f"{key}: {str(exc).strip().splitlines()[0]}")) from None


@cache
def _holder(hint) -> type:
    """A one-field dataclass of type ``hint``, for OmegaConf to type a single value."""
    return dataclasses.make_dataclass("Value", [("value", hint)])


@cache
def _slot(hint) -> DictConfig:
    """A reusable typed OmegaConf node of one field of type ``hint``."""
    return OmegaConf.structured(_holder(hint))


@cache
def _fields(cls: type) -> dict[str, tuple[Any, dataclasses.Field]]:
    """Field name -> (type, field) of a dataclass, in order. (Its callers' ``type: ignore``:
    mypy takes a class held in a variable for unhashable, python/mypy#11470.)"""
    hints = type_hints(cls)
    return {f.name: (hints[f.name], f) for f in dataclasses.fields(cls)}


def value_at(config, key: str):
    """The value at a dotted key of a config, or MISSING."""
    node = config
    for name in key.split("."):
        if not (isinstance(node, dict) or dataclasses.is_dataclass(node)):
            return MISSING
        node = _child(node, name)
        if node is MISSING:
            return MISSING
    return node


def plain(node, hint=Any, forms: dict | None = None):
    """A config (or part) as plain data, as OmegaConf gives it: dicts, lists and values, a float
    field's integer as a float. ``forms`` caches the dataclasses' forms by identity (for a caller
    that derives many configs from a few and changes none in place: ``Derivations``)."""
    if dataclasses.is_dataclass(node):
        if forms is not None and id(node) in forms:
            return forms[id(node)][1]
        form = {
            name: plain(getattr(node, name), h, forms)
            for name, (h, _) in _fields(type(node)).items()  # type: ignore[arg-type]
        }
        if forms is not None:
            forms[id(node)] = (node, form)  # the node is kept, so its id is not reused
        return form
    args = typing.get_args(hint)
    if isinstance(node, dict):
        item = args[1] if typing.get_origin(hint) is dict else Any
        return {k: plain(v, item, forms) for k, v in node.items()}
    if isinstance(node, list):
        item = args[0] if typing.get_origin(hint) is list else Any
        return [plain(v, item, forms) for v in node]
    if isinstance(node, int) and not isinstance(node, bool) and float in (hint, *args):
        return float(node)
    return node


def config_yaml(config: Config) -> str:
    """The whole config as YAML (a run folder's ``config.yaml``), as OmegaConf writes it."""
    return yaml.dump(plain(config), Dumper=YAML_DUMPER, sort_keys=False, allow_unicode=True)


def scenario_text(config: Config, forms: dict | None = None) -> str:
    """The resolved scenario as canonical text (compact JSON, in the config's order), without its
    seed and output settings; ``forms``: see :func:`plain`."""
    return _text(config, NOT_SCENARIO, forms)


def _text(config: Config, leave_out: tuple[str, ...], forms: dict | None) -> str:
    form = {
        name: plain(getattr(config, name), hint, forms)
        for name, (hint, _) in _fields(type(config)).items()  # type: ignore[arg-type]
        if name not in leave_out
    }
    digests = bankdata.digests(config) if bankdata.given(config) else {}
    return form_text(form, digests)


def form_text(form: dict, bank_digests: dict[str, str]) -> str:
    """The canonical text of a scenario's plain ``form`` and the digests of the bank's files it
    reads (the files shape the results too): what a run id hashes, also for a stored config."""
    if bank_digests:
        form = form | {"bank_files_sha256": bank_digests}
    return json.dumps(form, separators=(",", ":"))


def seeded_hashes(text: str, seeds: list[int]) -> list[str]:
    """Run ids of a scenario (``scenario_text``) run with each of ``seeds``: the text is hashed
    once, then each seed's line is added to a copy."""
    scenario = hashlib.sha256(text.encode())
    ids = []
    for seed in seeds:
        seeded = scenario.copy()
        seeded.update(f"seed: {seed}\n".encode())
        ids.append(seeded.hexdigest()[:16])
    return ids


def run_id(config: Config) -> str:
    """The run id: a hash of everything that shapes the results (``output`` settings do not)."""
    return seeded_hashes(scenario_text(config), [config.seed])[0]
