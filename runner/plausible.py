"""``calibration=<bank>|<plausible.yaml>``: an experiment over a calibration's plausible sets.

``python -m experiments.calibrate bank=<bank>`` writes ``<its output.dir>/<bank>/plausible.yaml``:
the fitted keys and their ranges, and every parameter set it found plausible, best first, each
with its trial and loss. ``python -m experiments.compare calibration=<bank>`` reads it (a path
reads that file), checks it against the scenario before any work, and runs every arm of the
experiment at each of the first ``calibration_sets`` sets (each set is a parameter point, every
arm and set on the same seeds). It implies ``bank=<the file's bank>``, ``replications=`` 10
(:data:`REPLICATIONS`) and ``experiment.name=<name>-<bank>-plausible`` unless the command gives
them; a ``bank=`` other than the file's is refused. The sets used are recorded in the store
(``store.PLAUSIBLE``), where ``analysis.plausible`` finds them to say whether each verdict holds
across them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from runner.config import CompareConfig
from runner.plan import point_label
from runner.store import PLAUSIBLE
from sim.config import Config
from sim.folders import write_json
from sim.overrides import check_overrides, check_path, shown
from sim.params import ConfigError, describe_allowed
from sim.scenario import CONFIG_DIR, FITS, GROUPS
from sim.values import is_number, numeric_key

FILE = "plausible.yaml"
REPLICATIONS = 10
"""Seeds per set when the command gives no ``replications``: the fewest at which the verdicts'
error rates are tested (docs/experiments.md); at 5, most verdicts stay undecided at every set."""
REQUIRED = ("bank", "parameters", "sets")
WRITER = (
    "the file ./testbed experiments.calibrate writes (docs/experiments.md#plausible-calibrations)"
)


@dataclass(frozen=True)
class PlausibleSet:
    trial: int
    loss: float
    values: dict[str, float]


@dataclass(frozen=True)
class Calibration:
    """A calibration's plausible sets, as its file gives them (best first)."""

    path: Path
    sha256: str
    bank: str
    study: str
    rule: str
    parameters: dict[str, list[float]]
    sets: list[PlausibleSet]
    repeated: int = 0  # sets left out for repeating an earlier set's values


def resolve(value: str) -> Path:
    """The plausible.yaml that ``calibration=<value>`` names: a path (a value with a ``/`` or
    ending in ``.yaml``/``.yml``), or a bank's latest, as its fit is found
    (``sim.scenario.FITS``, then the one shipped next to the shipped fit)."""
    check_path("calibration", value)
    if "/" in value or value.endswith((".yaml", ".yml")):
        return Path(value)
    if value not in GROUPS["bank"]:
        raise ConfigError(
            f"calibration={shown(value)}: not a bank or a plausible.yaml; allowed: a bank of"
            f" configs/bank/ ({', '.join(GROUPS['bank'])}) or the path of a {FILE}"
        )
    return next((p for p in _files(value) if p.is_file()), _files(value)[0])


def _files(bank: str) -> tuple[Path, Path]:
    """Where a bank's plausible sets are looked for, the latest first."""
    return FITS / bank / FILE, CONFIG_DIR / "bank" / "calibrated" / f"{bank}.{FILE}"


def read(value: str) -> Calibration:
    """The calibration ``calibration=<value>`` names, its structure checked (one-line
    ConfigError naming the file): bank, parameters (key -> [low, high]) and at least one set
    (trial, loss and a value within its range for every parameter)."""
    path = resolve(value)
    if not path.is_file():
        if path in _files(value):
            raise ConfigError(
                f"calibration={value}: no calibration of bank {value} ({path} does not exist):"
                f" run ./testbed experiments.calibrate bank={value} ... first"
            )
        raise ConfigError(f"calibration={shown(value)}: {path} is not a file; allowed: a {FILE}")
    data = path.read_bytes()
    try:
        doc = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise _bad(path, f"is not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict):
        raise _bad(path, f"is not a map of {', '.join(REQUIRED)}")
    if missing := [k for k in REQUIRED if k not in doc]:
        raise _bad(path, f"has no {missing[0]!r}")
    bank = doc["bank"]
    if bank not in GROUPS["bank"]:
        raise _bad(path, f"bank={bank!r} is not a bank of configs/bank/ ({GROUPS['bank']})")
    parameters = _parameters(path, doc["parameters"])
    sets = [_set(path, n, s, parameters) for n, s in enumerate(_list(path, doc["sets"]), 1)]
    distinct: dict[tuple, PlausibleSet] = {}
    for s in sets:  # a set repeating an earlier one's values is the same bank: once, the best
        distinct.setdefault(tuple(s.values.items()), s)
    return Calibration(
        path,
        hashlib.sha256(data).hexdigest(),
        bank,
        str(doc.get("study", "")),
        str(doc.get("rule", "")),
        parameters,
        list(distinct.values()),
        len(sets) - len(distinct),
    )


def _bad(path: Path, what: str) -> ConfigError:
    return ConfigError(f"calibration: {path} {what}; allowed: {WRITER}")


def _parameters(path: Path, node) -> dict[str, list[float]]:
    if not isinstance(node, dict) or not node:
        raise _bad(path, "has no parameters (key: [low, high])")
    for key, bounds in node.items():
        pair = isinstance(bounds, list) and len(bounds) == 2 and all(map(is_number, bounds))
        if not pair or not bounds[0] < bounds[1]:
            raise _bad(path, f"parameters.{key}={bounds!r} is not [low, high] with low < high")
    return {str(k): list(v) for k, v in node.items()}


def _list(path: Path, node) -> list:
    if not isinstance(node, list) or not node:
        raise _bad(path, "has no sets (a list, best first)")
    return node


def _set(path: Path, n: int, node, parameters: dict[str, list[float]]) -> PlausibleSet:
    """The ``n``-th set, checked: a trial number, a loss and a value in range for each
    parameter (no other key)."""
    where = f"sets[{n}]"
    if not isinstance(node, dict) or not {"trial", "loss", "values"} <= node.keys():
        raise _bad(path, f"{where} is not {{trial, loss, values}}")
    trial, loss, values = node["trial"], node["loss"], node["values"]
    if isinstance(trial, bool) or not isinstance(trial, int) or not is_number(loss):
        raise _bad(path, f"{where}: trial={trial!r}, loss={loss!r} are not a trial and a loss")
    if not isinstance(values, dict) or set(values) != set(parameters):
        got = sorted(values) if isinstance(values, dict) else values
        raise _bad(path, f"{where} (trial {trial}): values {got} are not {sorted(parameters)}")
    for key, (low, high) in parameters.items():
        value = values[key]
        if not is_number(value) or not low <= value <= high:
            raise _bad(path, f"{where} (trial {trial}): {key}={value!r} is outside [{low}, {high}]")
    return PlausibleSet(trial, float(loss), {k: values[k] for k in parameters})


def implied(calibration: Calibration, overrides: list[str], name: str) -> list[str]:
    """The overrides ``calibration=`` implies that the command does not give: its bank (another
    ``bank=`` is refused), :data:`REPLICATIONS` seeds and the experiment's folder
    ``<name>-<bank>-plausible`` (``name``: the preset's)."""
    given = {o.key_or_group: o.value() for o in check_overrides(overrides, GROUPS)}
    bank = calibration.bank
    if given.get("bank", bank) != bank:
        raise ConfigError(
            f"bank={given['bank']} with calibration: {calibration.path} calibrates bank {bank};"
            f" allowed: bank={bank}, or no bank= (calibration= implies it)"
        )
    defaults = {
        "bank": bank,
        "replications": str(REPLICATIONS),
        "experiment.name": f"{name}-{bank}-plausible",
    }
    return [f"{k}={v}" for k, v in defaults.items() if k not in given]


def check(calibration: Calibration, compare: CompareConfig, baseline: Config) -> None:
    """Refuse (ConfigError) a calibration that cannot run: an experiment with a grid or sample
    (the sets are its points), or a fitted key the ``baseline`` arm's scenario does not have as
    a number, or whose sets leave what the key allows."""
    e = compare.experiment
    if e.grid or e.sample.method != "none":
        raise ConfigError(
            f"calibration={compare.calibration} with experiment {e.name}'s grid or sample: the"
            " plausible sets are the experiment's points; allowed: an experiment without"
            " (e.g. experiment=playbook)"
        )
    for key in calibration.parameters:
        _, meta = numeric_key(baseline, key, f"calibration: {calibration.path}")
        low, high = meta.get("lo"), meta.get("hi")
        for s in calibration.sets:
            value = s.values[key]
            if (low is not None and value < low) or (high is not None and value > high):
                raise _bad(
                    calibration.path,
                    f"trial {s.trial}: {key}={value:g} is out of range; {key} allows"
                    f" {describe_allowed(meta)}",
                )


def record(calibration: Calibration, sets: list[PlausibleSet]) -> dict:
    """What the store keeps of the calibration: the file, the parameters and each set used with
    its number (1: the best), trial, loss, values and point label."""
    return {
        "file": str(calibration.path),
        "sha256": calibration.sha256,
        "bank": calibration.bank,
        "study": calibration.study,
        "rule": calibration.rule,
        "parameters": calibration.parameters,
        "sets_in_file": len(calibration.sets),
        "sets": [
            {
                "set": n,
                "trial": s.trial,
                "loss": s.loss,
                "point": point_label(s.values),
                "values": s.values,
            }
            for n, s in enumerate(sets, 1)
        ],
    }


def write(root: Path, calibration: Calibration, sets: list[PlausibleSet]) -> None:
    """Record the sets in the experiment folder (``store.PLAUSIBLE``)."""
    write_json(root / PLAUSIBLE, record(calibration, sets))


def line(calibration: Calibration, sets: list[PlausibleSet], seeds: int) -> str:
    """The calibration in one line, for the command to print."""
    study = f"study {calibration.study}, " if calibration.study else ""
    k, total = len(sets), len(calibration.sets)
    chosen = (
        f"the best {k} of its {total} plausible sets" if k < total else f"its {k} plausible sets"
    )
    if calibration.repeated:
        chosen += f" ({calibration.repeated} repeating a better one's values left out)"
    return (
        f"Calibration of bank {calibration.bank} ({study}{calibration.path}): {chosen}, every"
        f" arm at each on the same {seeds} seeds"
    )
