"""Command-line overrides, adversarially: values are literals, group options are the project's
names only (``sim.overrides``, ``sim.scenario``).

An adversarial trial found: escaped interpolations (``$\\{oc.env:HOME\\}``, unescaped by Hydra's
parser) resolving the environment; group values (``population=../../x``) reading any YAML on
disk; ``population=null`` and ``+population.__dict__=x`` giving tracebacks; ``~key`` dropping a
component; ``+strategy.training.hours=10`` switching training on; a 70-digit integer, a dict 200
deep (330 KB of stderr), full-width digits read as numbers, C1 and format characters echoed raw,
4,000-character values echoed whole, Hydra's lexer text for ``café``; ``output.dir=true`` or
``s3://...`` making folders; a 300-character experiment name failing after planning. Each is now
refused before any work in one line (exit 2) naming the key, or, where noted, accepted properly.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

import experiments.compare
import sim.run
from sim.overrides import MAX_DEPTH, MAX_MESSAGE, check_path
from sim.params import ConfigError
from sim.scenario import fit_files, load_config

RUN, COMPARE = "sim.run", "experiments.compare"
CLIS = {RUN: (sim.run, "run_one"), COMPARE: (experiments.compare, "run_experiment")}
SMALL = ["population.customers=200", "months=2", "burn_in=1"]
HOME = r"$\{oc.env:HOME\}"  # escaped: Hydra's parser makes it ${oc.env:HOME}
LONG = 4_000

REFUSED = {  # (cli, override): what the one line says besides the key
    # 1. interpolations, escaped or not, anywhere in the value
    (RUN, f"output.dir=out/{HOME}"): "interpolations",
    (COMPARE, f"experiment.description=a{HOME}"): "interpolations",
    (RUN, f"bank.managed_tier={HOME}"): "interpolations",
    (COMPARE, f"experiment.only=[{HOME}]"): "interpolations",
    (COMPARE, f"+experiment.grid={{months: [{HOME}]}}"): "interpolations",
    (RUN, f"population.weights={{{HOME}: 1}}"): "interpolations",
    (RUN, r"strategy=[$\{months\}]"): "interpolations",
    # 2. group options: the project's names only, one unless the group takes a list
    (RUN, "population=../../../../elsewhere/evil"): "is unknown; choose from",
    (RUN, "bank=/tmp/evil"): "is unknown; choose from",
    (RUN, "bank=calibrated/city_bank"): "is unknown; choose from ['city_bank', 'synthetic']",
    (RUN, "strategy=[../bank/city_bank]"): "is unknown; choose from",
    (RUN, "strategy=[training,/abs/evil]"): "is unknown; choose from",
    (COMPARE, "experiment=../../x"): "is unknown; choose from",
    (COMPARE, "executor=a/b"): "is unknown; choose from",
    (RUN, "population=[small,large]"): "takes one name from",
    (COMPARE, "executor=[local]"): "takes one name from",
    (RUN, "population=null"): "takes one name from",
    (RUN, "bank=null"): "takes one name from",
    (RUN, "strategy=null"): "none: strategy=[]",
    (RUN, "+population=small"): "chosen without +",
    (RUN, "bank/calibrated=city_bank"): "names joined by dots",
    (RUN, "+bank/calibrated=../../../elsewhere/evil"): "names joined by dots",
    (RUN, "+targets=../../../elsewhere/evil"): "not a known key",
    (RUN, "experiment=futures"): "not a known key",
    # 3. keys: private names, deletions, strategies added by their keys
    (RUN, "+population.__dict__=x"): "names starting with _",
    (RUN, "population._customers=1"): "names starting with _",
    (RUN, "~behaviour.weights.service"): "cannot be deleted",
    (RUN, "~months"): "cannot be deleted",
    (RUN, "+strategy.training.hours=10"): "activated with strategy=[training]",
    (RUN, "++strategy.training.hours=10"): "activated with strategy=[training]",
    (RUN, "+strategy.training={hours: 10}"): "activated with strategy=[training]",
    (RUN, "=1"): "names joined by dots",
    # 4. values: numbers, nesting, unicode, quoting
    (RUN, "seed=" + "9" * 70): "integers are allowed from",
    (RUN, "months=-" + "9" * 70): "integers are allowed from",
    (RUN, "population.weights.mass=" + "9" * 70): "integers are allowed from",
    (COMPARE, "+experiment.grid.months=[" + "9" * 70 + "]"): "integers are allowed from",
    (RUN, "behaviour.churn_base=1e999"): "finite",
    (COMPARE, "+experiment.sample.ranges.months=[-inf,6]"): "finite",
    (RUN, "months=" + "{a:" * 200 + "1" + "}" * 200): "nested too deep",
    (RUN, "months=" + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)): "nested too deep",
    (RUN, "months=１２"): "digits 0-9",
    (RUN, 'months="１２"'): "digits 0-9",
    (RUN, "seed='٣'"): "digits 0-9",
    (COMPARE, "experiment.description=a\x85b"): "control character",
    (COMPARE, "experiment.description=a\u202eb"): "control character",
    (COMPARE, "experiment.description='a\u2028b'"): "control character",
    (COMPARE, "experiment.description='a\u00a0b'"): "control character",
    (COMPARE, "experiment.description=a\udc80b"): "control character",
    (COMPARE, "experiment.description=café"): "quote text with non-ASCII characters",
    (RUN, "mönths=1"): "keys are ASCII names",
    # 5. paths are local paths given as text
    (RUN, "output.dir=true"): "is a path: give text",
    (RUN, "output.dir=null"): "is a path: give text",
    (RUN, "output.dir=1.5"): "is a path: give text",
    (RUN, "bank.data.customers=12"): "is a path: give text",
    (RUN, "output.dir=file:///some/folder"): "not a URL",
    (RUN, "output.dir=s3://bucket/x"): "not a URL",
    (COMPARE, "output.dir=s3://bucket/x"): "not a URL",
    (RUN, "bank.data.branches=https://example.com/b.csv"): "not a URL",
    # 6. names too long for the file system, before planning
    (COMPARE, "experiment.name=" + "a" * 300): "at most 255",
    (RUN, f"bank.data.customers={'c' * 300}.csv"): "at most 255 bytes per name",
}


def run(cli: str, argv: list[str], tmp_path: Path, monkeypatch, capsys):
    """(exit code, stderr, what the runner got) of ``python -m cli argv`` in-process, inside
    ``tmp_path``; the runner only records its arguments."""
    module, runner = CLIS[cli]
    got = []
    monkeypatch.setattr(module, runner, lambda *args, **kwargs: got.append(args))
    monkeypatch.setattr(sys, "argv", [cli, *argv])
    monkeypatch.chdir(tmp_path)
    try:
        module.main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err, got


def refusal(cli: str, argv: list[str], tmp_path: Path, monkeypatch, capsys) -> str:
    """The one line of a clean refusal: exit 2, nothing run or written."""
    code, err, got = run(cli, [*SMALL, "output.dir=out", *argv], tmp_path, monkeypatch, capsys)
    assert code == 2 and not got, (code, err)
    assert err.startswith("config error: ") and err.count("\n") == 1, err
    assert len(err) <= len("config error: \n") + MAX_MESSAGE and "Traceback" not in err
    assert not list(tmp_path.iterdir())
    return err


@pytest.mark.parametrize(("cli", "override"), list(REFUSED), ids=lambda x: repr(x)[:60])
def test_the_trials_overrides_are_refused_in_one_line(cli, override, tmp_path, monkeypatch, capsys):
    err = refusal(cli, [override], tmp_path, monkeypatch, capsys)
    key = override.lstrip("+~").partition("=")[0].split("/")[0]
    assert key.encode("unicode_escape").decode() in err, err
    assert REFUSED[cli, override] in err, err


@pytest.mark.parametrize(
    "override",
    [
        f"bank.managed_tier={'y' * LONG}",
        f"experiment.description={'\x85' * (LONG // 4)}",
        f"months=[{'1,' * (LONG // 2 - 10)}1]",
        f"output.dir={'a/' * (LONG // 2)}",
        f"{'k' * LONG}=1",
    ],
    ids=lambda x: x[:20],
)
def test_a_long_value_is_cut_in_the_refusal(override, tmp_path, monkeypatch, capsys):
    err = refusal(COMPARE, [override], tmp_path, monkeypatch, capsys)  # at most MAX_MESSAGE
    assert override[:4] in err and "\x85" not in err, err


@pytest.mark.parametrize(
    "sweep",
    [
        "seed=range(0,100000)",
        "seed=shuffle(range(0,1000000000000))",
        "seed=range(0,10,0)",
        "months=interval(1,3)",
        "months=glob(*)",
    ],
)
def test_a_sweep_too_large_or_not_a_list_is_refused(sweep, tmp_path, monkeypatch, capsys):
    err = refusal(RUN, ["-m", sweep], tmp_path, monkeypatch, capsys)
    assert sweep.partition("=")[0] in err
    assert "10,000 runs" in err or "a sweep lists values" in err


def test_a_multirun_of_choices_and_a_range_is_accepted(tmp_path, monkeypatch, capsys):
    argv = ["-m", *SMALL, "seed=range(0,3)", "strategy=[],[training]", "output.dir=out"]
    code, err, got = run(RUN, argv, tmp_path, monkeypatch, capsys)
    assert code == 0 and not err
    assert [(c.seed, list(c.strategy)) for (c,) in got] == [
        (seed, names) for seed in range(3) for names in ([], ["training"])
    ]


def test_quoted_text_with_non_ascii_characters_is_accepted(tmp_path, monkeypatch, capsys):
    argv = [*SMALL, "output.dir=out", 'experiment.description="café ☕ 第3章"']
    code, err, got = run(COMPARE, argv, tmp_path, monkeypatch, capsys)
    assert code is None and not err
    assert got[0][0].experiment.description == "café ☕ 第3章"


def test_a_quoted_path_that_reads_as_a_number_is_text(tmp_path, monkeypatch, capsys):
    code, err, got = run(RUN, [*SMALL, 'output.dir="123"'], tmp_path, monkeypatch, capsys)
    assert code == 0 and not err and got[0][0].output.dir == "123"


def test_a_strategy_is_activated_by_the_group_then_its_parameters_are_set():
    config = load_config(["strategy=[training]", "strategy.training.hours=10"])
    assert list(config.strategy) == ["training"] and config.strategy["training"].hours == 10
    assert load_config(["strategy=[]"]).strategy == {}


def test_a_named_bank_still_reads_its_calibration():
    """``bank=city_bank`` reads its latest fit (the shipped one, or a calibration's under
    results/) through its defaults list, while ``bank=calibrated/city_bank`` is refused."""
    calibrated = yaml.safe_load(fit_files("city_bank")[-1].read_text())
    config = load_config(["bank=city_bank"])
    assert config.behaviour.churn_base == calibrated["behaviour"]["churn_base"]
    assert config.behaviour.churn_base != load_config([]).behaviour.churn_base


def test_brackets_up_to_the_bound_are_read():
    nested = "[" * MAX_DEPTH + "1" + "]" * MAX_DEPTH
    with pytest.raises(ConfigError) as refused:
        load_config([f"months={nested}"])
    assert "nested" not in str(refused.value) and "months" in str(refused.value)


@pytest.mark.parametrize(
    ("value", "refused"),
    [
        ("s3://bucket/x", "not a URL"),
        ("file:///tmp/x", "not a URL"),
        ("C:relative", "not a URL"),
        ("out/a\u202eb", "control character"),
        ("out/a\x9bb", "control character"),
    ],
)
def test_check_path_refuses_urls_and_non_printing_characters(value, refused):
    with pytest.raises(ConfigError, match=refused):
        check_path("output.dir", value)
    check_path("output.dir", "out/a:b/c d/é")  # a colon inside a path is a folder's name
