"""Bad command lines for both CLIs, and what a CLI did with one.

:func:`bad_overrides` is a hypothesis strategy of ``(argv, nonsense)``: one bad argument (wrong
type, out of range, NaN/inf, huge, numeric extremes, unknown key, interpolation (escaped too),
YAML tag, Hydra flag, control or non-printing character, brackets nested too deep, unicode
(full-width digits, RTL override, combining marks, emoji, C1 controls), ``hydra.*``,
``_target_``, private, deleted or added key, wrong group shape, path-like group value, URL or
non-text path, a list of the wrong length) after the arguments it needs (``strategy=[NAME]`` for a
strategy's key). ``nonsense`` is True when the value is outside the documented range, so
accepting it is silently wrong. :func:`outcome` runs a CLI's ``main()`` in-process, in a
temporary folder, with its runner replaced by one that only records that the command line was
accepted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import sys
import traceback
from pathlib import Path

from hypothesis import strategies as st

import experiments.compare
import sim.run
from sim.overrides import PATHS
from sim.params import Per
from sim.scenario import load_config
from sim.strategies import REGISTRY

REFUSED, TRACEBACK, ACCEPTED = "refused cleanly", "traceback", "accepted"
CLIS = {
    "sim.run": (sim.run, "run_one"),
    "experiments.compare": (experiments.compare, "run_experiment"),
}
HYDRA_FLAGS = [
    "-m", "--multirun", "--cfg", "job", "-c", "--info", "--resolve", "-p", "--package", "-cd",
    "--config-dir", "-cn", "--config-name", "-cp", "--config-path", "--run", "-r", "--version",
    "--hydra-help", "--shell-completion", "-sc", "--experimental-rerun", "-",
]  # fmt: skip
INTERPOLATIONS = [
    "${nonexistent}", "${months}", "${oc.env:HOME}", "${oc.env:PATH,x}", "${oc.decode:'1'}",
    "${oc.create:{a: 1}}", "${oc.select:months}", "${eval:1+1}", "'${months}'", "x${months}",
    "[${months}]", "{a: ${months}}", "\\${months}", "${hydra:runtime.cwd}",
]  # fmt: skip
TAGS = ["!!python/object:os.system", "'!!python/name:os.system'", "!!binary aGk=", "!tag x"]
SHAPES = ["[[training]]", "5", "{a: 1}", "[1, 2]", "[[]]", "[training, [mentoring]]", "1.5", "true"]
BROKEN = ["[1", "{a: 1", "]", "'unclosed", "[,]", "a=b=c", "{{}}", "(1)", "@", "[[[[[[1]]]]]]"]
HUGE = ["1e308", "1" + "0" * 40]  # above any upper bound (their negatives: below any lower)
NON_FINITE = ["nan", "inf", "-inf", "NaN", "+inf"]
WRONG_TYPES = ["abc", "[1, 2]", "{a: 1}", "''", "2020-01-01", "0x10", "1_000x", "9" * 5000]
UNICODE = ["３", "٣", "①", "три", "💥", "\u200b", "e\u0301", "\ufeff1"]
MORE_UNICODE = [
    "１２", '"１２"', "'٣'", "' 7\u2003'", "1\u202e2", "'a\u202eb'", "e\u0301", "'\u00a0'",
    "💥", "x💥", "\u0085", "'a\u009bb'", "x\u2028y", "'\u2029'", "\udc80",
]  # fmt: skip
ESCAPED = [
    "$\\{oc.env:HOME\\}", "out/$\\{oc.env:HOME\\}", "x$\\{months\\}", "[$\\{months\\}]",
    "{a: $\\{months\\}}", "$\\{oc.decode:1\\}",
]  # fmt: skip
DEEP = ["[" * 9 + "1" + "]" * 9, "{a: " * 9 + "1" + "}" * 9, "[" * 200 + "]" * 200,
        "{a:" * 200 + "1" + "}" * 200, "[" * 5 + "{a: " * 5 + "1" + "}" * 5 + "]" * 5]  # fmt: skip
EXTREME = ["9" * 70, "-" + "9" * 70, str(2**63), "1e999", "-1e999", "NaN", "nAn", "+inf", "-INF"]
PATH_LIKE = [
    "../x", "/abs", "a/b", "../../../../etc/evil", "calibrated/city_bank", "[../x]",
    "[training,/abs]", "[small,large]", "[training,../bank/city_bank]", "null", "[null]",
]  # fmt: skip
NOT_PATHS = [
    "output.dir=true", "output.dir=false", "output.dir=null", "output.dir=1", "output.dir=1.5",
    "output.dir=[a]", "output.dir=file:///tmp/x", "output.dir=s3://bucket/x",
    "output.dir=http://h/x", "-m output.dir=a,true", "bank.data.customers=s3://b/x.csv",
    "bank.data.branches=true", "bank.data.segments=12",
]  # fmt: skip
BAD_KEYS = [
    "+population.__dict__=x", "+population.__class__=x", "population._private=1",
    "~behaviour.weights.service", "~months", "+strategy.training.hours=10",
    "++strategy.training.hours=10", "bank/calibrated=x", "+bank/calibrated=../../x",
    "+targets=../../x", "targets=synthetic", "=1", "+population=small", "++population=small",
]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Leaf:
    """A parameter a command line can set: its key, type, metadata and the overrides it needs."""

    key: str
    kind: type
    meta: dict
    needs: tuple[str, ...] = ()


def leaves() -> list[Leaf]:
    """Every leaf parameter of the default scenario and of each strategy's config."""
    found = list(_walk(load_config([]), ""))
    for name, strategy in REGISTRY.items():
        if not name.startswith("test_"):
            needs = (f"strategy=[{name}]",)
            found += [
                dataclasses.replace(leaf, needs=needs)
                for leaf in _walk(strategy.Config(), f"strategy.{name}.")
            ]
    return found


def _walk(node, prefix: str):
    if isinstance(node, dict):
        for name, item in node.items():
            if dataclasses.is_dataclass(item):
                yield from _walk(item, f"{prefix}{name}.")
        return
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if dataclasses.is_dataclass(value) or isinstance(value, dict):
            yield from _walk(value, f"{prefix}{f.name}.")
        elif isinstance(value, (bool, int, float, str)):
            yield Leaf(f"{prefix}{f.name}", type(value), dict(f.metadata))


def wrong_lengths() -> list[str]:
    """For each list parameter of the scenario with a declared length (``sim.params.Per``): the
    list empty, one short, one long and twice as long."""
    found = []
    for key, rule in _lengths(load_config([]), ""):
        n = len(rule.names)
        found += [f"{key}=[{','.join(['0.1'] * k)}]" for k in (0, n - 1, n + 1, 2 * n) if k != n]
    return found


def _lengths(node, prefix: str):
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if dataclasses.is_dataclass(value):
            yield from _lengths(value, f"{prefix}{f.name}.")
        elif isinstance(f.metadata.get("length"), Per):
            yield f"{prefix}{f.name}", f.metadata["length"]


def extremes(leaf: Leaf) -> list[str]:
    """Numbers no parameter takes: beyond int64, nan and inf spelled variously; for an integer
    -0.0 and 1e308, and 1e308 above any upper bound."""
    bounded = leaf.kind is int or leaf.meta.get("hi") is not None
    return [*EXTREME, *(["1e308"] if bounded else []), *(["-0.0"] if leaf.kind is int else [])]


def out_of_range(leaf: Leaf) -> list[str]:
    """Values just and far outside the leaf's documented range or choices."""
    lo, hi, choices = leaf.meta.get("lo"), leaf.meta.get("hi"), leaf.meta.get("choices")
    values = []
    if choices:
        values += ["not_a_choice", f"{choices[0]}x"]
    step = 1 if leaf.kind is int else 1e-6
    if lo is not None:
        values += [repr(lo - step), repr(lo - 1000 * max(1, abs(lo))), *(f"-{h}" for h in HUGE)]
    if hi is not None:
        values += [repr(hi + step), repr(hi * 1000 + 1000), *HUGE]
    return values


def bad_overrides(leaf_list: list[Leaf], cli: str) -> st.SearchStrategy:
    """``(argv, nonsense)``: a command line of ``cli`` with one bad argument."""
    flags = [f for f in HYDRA_FLAGS if cli != "sim.run" or f not in sim.run.MULTIRUN]
    leaf = st.sampled_from(leaf_list)
    ranged = st.sampled_from([lf for lf in leaf_list if out_of_range(lf)])
    anything = [*WRONG_TYPES, *UNICODE, "[[training]]", "{a: 1}", *BROKEN]

    def on_leaf(values_of, leaves_=leaf) -> st.SearchStrategy:
        return leaves_.flatmap(
            lambda lf: st.sampled_from(values_of(lf)).map(
                lambda v: ([*lf.needs, f"{lf.key}={v}"], v in out_of_range(lf))
            )
        )

    def alone(values: list[str], nonsense: bool = False) -> st.SearchStrategy:
        return st.sampled_from(values).map(lambda a: (a.split(" "), nonsense))

    key = leaf.map(lambda lf: lf.key) | st.sampled_from(["strategy", "population", "months"])
    return st.one_of(
        on_leaf(out_of_range, ranged),
        on_leaf(lambda lf: NON_FINITE if lf.kind in (int, float) else ["[nan]"]),
        on_leaf(lambda lf: [v for v in anything if _wrong_for(lf, v)] or ["[1"]),
        on_leaf(extremes).map(lambda case: (case[0], True)),
        on_leaf(lambda lf: DEEP),
        on_leaf(lambda lf: MORE_UNICODE),
        key.flatmap(lambda k: st.sampled_from([*INTERPOLATIONS, *ESCAPED, *TAGS]).map(
            lambda v: ([f"{k}={v}"], False))),
        st.sampled_from(["strategy", "population", "executor", "experiment", "bank"]).flatmap(
            lambda g: st.sampled_from([*SHAPES, *PATH_LIKE]).map(lambda v: ([f"{g}={v}"], False))),
        alone(NOT_PATHS, nonsense=True),
        alone(wrong_lengths(), nonsense=True),
        alone(BAD_KEYS),
        alone(flags).map(lambda a: ([*a[0], "seed=1,2"], False)),
        alone(["hydra.run.dir=/tmp/x", "hydra/launcher=basic", "+hydra.job.chdir=true",
               "a._target_=os.system", "+bank._target_=os.system",
               "++strategy.training._target_=os.system", "~hydra", "population@_global_=small"]),
        st.text(st.characters(codec="utf-8", exclude_characters="=,'\"\\[]{}()"),
                min_size=1, max_size=12).map(lambda k: ([f"{k.strip() or 'x'}_zz=1"], False)),
        leaf.map(lambda lf: ([f"{lf.key}.sub=1"], False)),
        st.sampled_from(["\x00", "\x01", "\t", "\n", "\x1b[31m", "\x7f"]).flatmap(
            lambda c: leaf.map(lambda lf: ([f"{lf.key}=1{c}"], False))
            | leaf.map(lambda lf: ([f"{lf.key}{c}=1"], False))),
        leaf.map(lambda lf: ([f"{lf.key}={'9' * 4100}"], False)),
        alone([f"output.dir=/tmp/{'a' * 300}", f"output.dir=/tmp/{'é' * 200}",
               "output.dir=" + "/a" * 2100, "seed=1,2", "months=range(1,3)",
               f"experiment.name={'a' * 300}", f"bank.data.customers={'a' * 300}.csv"]),
    )  # fmt: skip


def _wrong_for(leaf: Leaf, value: str) -> bool:
    """A value of another type than the leaf's (a string leaf takes almost any text, a path
    ``@`` too)."""
    if leaf.kind is not str:
        return True
    return value in SHAPES[:1] + BROKEN and not (leaf.key in PATHS and value == "@")


@contextlib.contextmanager
def sandbox(folder: Path):
    """Run inside ``folder`` (created), restoring the working directory afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    here = os.getcwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(here)


class Accepted(Exception):
    """Raised by the stand-in runner: the command line passed every check."""


def outcome(cli: str, argv: list[str], folder: Path) -> tuple[str, int | None, str, list[Path]]:
    """(what happened, exit code, stderr, files written) for ``python -m CLI argv`` in-process,
    inside ``folder``; output.dir points into it unless argv sets it."""
    module, runner = CLIS[cli]
    output = [] if any(a.startswith("output.dir=") for a in argv) else [f"output.dir={folder}/out"]
    err, code, what = io.StringIO(), None, ACCEPTED
    original, original_argv = getattr(module, runner), sys.argv
    setattr(module, runner, _refuse_to_run)
    sys.argv = [cli, *argv, *output]
    try:
        with (
            sandbox(folder),
            contextlib.redirect_stderr(err),
            contextlib.redirect_stdout(io.StringIO()),
        ):
            module.main()
    except SystemExit as exc:
        code, what = exc.code, REFUSED
    except Accepted:
        what = ACCEPTED
    except Exception:  # noqa: BLE001 - a traceback is what we count
        what, code = TRACEBACK, None
        err.write(traceback.format_exc())
    finally:
        setattr(module, runner, original)
        sys.argv = original_argv
    written = [p for p in folder.rglob("*")]
    return what, code, err.getvalue(), written


def _refuse_to_run(*args, **kwargs):
    raise Accepted


def clean_refusal(code, stderr: str, written: list[Path]) -> bool:
    """Exit 2, exactly one stderr line starting ``config error:``, no traceback, nothing
    written."""
    lines = stderr.splitlines()
    one_line = len(lines) == 1 and lines[0].startswith("config error:")
    return code == 2 and one_line and "Traceback" not in stderr and not written
