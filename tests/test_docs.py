"""The docs stay true to the code."""

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from sim.config import parameter_markdown, parameter_rows

ROOT = Path(__file__).resolve().parent.parent


def test_parameter_reference_is_up_to_date():
    text = (ROOT / "docs" / "parameters.md").read_text()
    assert text == parameter_markdown(), "run: .venv/bin/python -m sim.config > docs/parameters.md"


def test_every_parameter_has_unit_and_source():
    for key, _, unit, _, source in parameter_rows():
        assert unit and source, key


def test_readme_quickstart_is_the_two_commands_ci_runs_literally():
    """The quickstart's bash block: the main job, then the tests, each setting up .venv itself;
    .ci/run reads and runs exactly these lines."""
    readme = (ROOT / "README.md").read_text()
    quickstart = readme[readme.index("## Quickstart") :]
    block = next(b for b in FENCE.finditer(quickstart) if b[1] == "bash")
    commands = [line for line in block[2].splitlines() if line.strip()]
    assert [c.split("#")[0].split() for c in commands] == [
        ["./testbed", "compare"],
        ["./testbed", "test"],
    ]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "## Quickstart" in ci and 'bash -euo pipefail -c "$command"' in ci


# --------------------------------------------------------------------------------------------
# Every command in the README and docs runs as written (shrunk to a tiny bank)
# --------------------------------------------------------------------------------------------

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
SHELL_BLOCKS = ("bash", "console", "sh", "")
RUNNERS = (".venv/bin/python -m ", "./testbed ")
NOT_RUN = ("./testbed test", ".venv/bin/python -m pytest", "./testbed dashboard")
"""The test suite, and the dashboard's server (tests/test_dashboard.py drives it in a browser)."""
SHRINK = ["population.customers=300", "months=3", "burn_in=0"]
FAST = (  # the default suite runs these; DOC_COMMANDS=all runs every command found
    "bank.branches=0",
    "sim.run strategy=[outlet_closure,mentoring]",
    "experiment.name=close3",
    "experiment.arms={baseline: []",
)


@dataclass(frozen=True)
class DocCommand:
    source: str  # file:line
    line: str  # the command as written
    error: str  # the documented error line, when the docs show it failing

    @property
    def words(self) -> list[str]:
        words = shlex.split(self.line, comments=True)
        return words if words[0] == "./testbed" else [sys.executable, *words[1:]]

    @property
    def module(self) -> str:
        """The module run: ``./testbed compare``, ``./testbed MODULE`` or ``python -m MODULE``."""
        words = self.words
        if words[0] == "./testbed":
            return "experiments.compare" if words[1] == "compare" else words[1]
        return words[2]

    def argv(self, out: Path) -> list[str]:
        """The command with shrinking overrides appended, writing under ``out``."""
        words = self.words
        if self.module == "sim.targets":  # a file tool: its targets file goes under ``out``
            at = words.index("--out") + 1
            return [*words[:at], str(out / "targets.yaml"), *words[at + 1 :]]
        return [*words, *SHRINK, f"output.dir={out}", *_shrink(self.module, words)]

    def wrote(self, out: Path) -> bool:
        """Whether the command left what it is for under ``out`` (a dry run: nothing)."""
        if "dry_run=true" in self.words:
            return not out.exists()
        if self.module == "sim.targets":
            return (out / "targets.yaml").exists()
        if self.module == "experiments.calibrate":
            return "trials=0" in self.words or any(out.rglob("provenance.json"))
        if self.module == "experiments.optimize":
            return any(out.rglob("optimize.json"))
        return any(out.rglob("summary.json"))


def _shrink(module: str, words: list[str]) -> list[str]:
    """Overrides that keep an experiment tiny: 2 seeds, 2 workers, the local pool; a calibration
    or an optimisation to 2 trials of one seed (a calibration writes no calibrated config); the
    targeting lab to 2 pilot banks and 2 policy banks."""
    if module == "experiments.calibrate":
        trials = [] if "trials=0" in words else ["trials=2"]
        return [*trials, "seeds=1", "write=false"]
    if module == "experiments.optimize":
        return ["trials=2", "seeds=1", "fresh_seeds=2", "executor.workers=2"]
    if module == "experiments.pilot":
        return ["replications=2", "pilot.banks=2", "executor.workers=2"]
    if module != "experiments.compare":
        return []
    seeds = ["replications_min=2", "replications_max=2"]
    if "replications=auto" not in words:
        seeds = ["replications=2"]
    local = ["executor.kind=local"] if any(w.startswith("executor=") for w in words) else []
    return [*seeds, "executor.workers=2", *local]


def doc_commands() -> list[DocCommand]:
    """Every command of a shell block of the README and docs/ (not the test-suite's)."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text()
        for block in FENCE.finditer(text):
            if block[1] not in SHELL_BLOCKS:
                continue
            first = text.count("\n", 0, block.start(2)) + 1
            lines = _logical_lines(block[2])
            for (offset, raw), (_, shown) in zip(lines, [*lines[1:], (0, "")], strict=True):
                line = raw.strip().removeprefix("$ ")
                if line.startswith(RUNNERS) and not line.startswith(NOT_RUN):
                    error = shown.strip() if shown.strip().startswith("config error: ") else ""
                    found.append(DocCommand(f"{path.name}:{first + offset}", line, error))
    return found


def _logical_lines(body: str) -> list[tuple[int, str]]:
    """(offset of its first line, text) of each line, backslash continuations joined."""
    found, start, parts = [], 0, []
    for i, line in enumerate(body.splitlines()):
        parts.append(line.removesuffix("\\"))
        if not line.endswith("\\"):
            found.append((start, " ".join(parts)))
            start, parts = i + 1, []
    return found


COMMANDS = doc_commands()
CHOSEN = [
    c
    for c in COMMANDS
    if (os.environ.get("DOC_COMMANDS") == "all" or any(f in c.line for f in FAST))
    and "targets=results/" not in c.line  # an earlier command's targets: run in order below
]


BARE_PYTHON = re.compile(r"(?<![\w/.-])python3?(?= )")
"""A ``python`` not given as ``.venv/bin/python``: whichever Python the PATH has, often too old
to run the project (a ``python`` code fence is followed by a newline, not a space)."""


def documents() -> list[Path]:
    """The README, docs/ and the examples' READMEs and files that show commands."""
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "examples").rglob("*.md")),
        *sorted((ROOT / "examples").rglob("*.yaml")),
    ]


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_is_copy_pasteable(path):
    """A command in the docs, in a shell block or inline, runs as ``./testbed ...`` or
    ``.venv/bin/python ...``, never a bare ``python``."""
    bare = [
        f"{path.name}:{n}: {line.strip()}"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if BARE_PYTHON.search(line)
    ]
    assert not bare, bare


def test_the_bare_python_rule_tells_runners_apart():
    flagged = ["python -m sim.run", "`python3 -m x`", "run python x.py", "(python -m a)"]
    allowed = [".venv/bin/python -m sim.run", "./testbed sim.run", "```python", "Python 3.12"]
    assert all(BARE_PYTHON.search(s) for s in flagged)
    assert not any(BARE_PYTHON.search(s) for s in allowed)


def test_the_docs_show_commands_of_every_kind():
    lines = [c.line for c in COMMANDS]
    assert len(COMMANDS) >= 20
    for fast in FAST:
        assert any(fast in line for line in lines), fast
    assert any(c.error for c in COMMANDS)


@pytest.mark.parametrize("command", CHOSEN, ids=[c.source for c in CHOSEN])
def test_a_documented_command_works_as_documented(tmp_path, command):
    out = tmp_path / "out"
    proc = subprocess.run(
        command.argv(out), cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    if command.error:
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip() == command.error
        assert not out.exists()
        return
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert command.wrote(out), proc.stdout[-2000:]


# --------------------------------------------------------------------------------------------
# A clean checkout stays clean: the documented fitting commands write under results/
# --------------------------------------------------------------------------------------------

FITTING = ("sim.targets", "experiments.calibrate")
SMALL_FIT = ["population.customers=2000", "trials=2", "seeds=1", "workers=2", "executor.workers=2"]


def writes_for_others(c: DocCommand) -> bool:
    """A documented command that writes what other commands read: a targets file, or a fit
    (``trials=0`` measures only; ``write=false`` keeps a study to itself)."""
    if len(c.words) < 3 or c.module not in FITTING or c.error:
        return False
    return c.module == "sim.targets" or not {"trials=0", "write=false"} & set(c.words)


def hashes(folder: Path, names: list[str]) -> dict[str, str]:
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names}


def checkout_files() -> list[str]:
    """The files git tracks or would add (ignored ones, such as results/, left out)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def test_the_documented_fitting_commands_leave_a_clean_checkout_clean(tmp_path):
    """The documented commands that write a targets file or a fit, each once, as written and in
    order (tiny), from a working folder holding a copy of examples/ (so that their results/ is not
    the checkout's and a write into examples/ is seen, not done): they change no file of the
    checkout nor of the copy, and the fit ends where bank=<bank> finds it."""
    lines = {c.line: c for c in COMMANDS if writes_for_others(c)}
    assert {c.module for c in lines.values()} == set(FITTING)
    names = checkout_files()
    before = hashes(ROOT, names)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    copied = [
        str(p.relative_to(tmp_path)) for p in (tmp_path / "examples").rglob("*") if p.is_file()
    ]
    for c in lines.values():
        small = SMALL_FIT if c.module == "experiments.calibrate" else []
        proc = subprocess.run(
            [*c.words, *small], cwd=tmp_path, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, (c.source, proc.stderr[-2000:])
    assert hashes(ROOT, names) == before
    assert hashes(tmp_path, copied) == hashes(ROOT, copied)
    assert (tmp_path / "results" / "calibration" / "city_bank" / "calibrated.yaml").is_file()
