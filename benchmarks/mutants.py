"""A small mutation check: do the tests catch a changed operator, constant, condition or check in
the money (the ledger, the books, the KPIs and the NPV), the statistics behind the verdicts, and
the run folders' integrity rules?

    .venv/bin/python benchmarks/mutants.py                                # every target
    .venv/bin/python benchmarks/mutants.py --files sim/ledger.py sim/mechanisms/books.py
    .venv/bin/python benchmarks/mutants.py --max-mutants 30 --seed 1      # 30 per file, sampled
    .venv/bin/python benchmarks/mutants.py --list                         # the mutants, not run

Each target file is parsed with ``ast`` and mutated one change at a time: a comparison flipped
(== and !=, < and <=, > and >=, in and not in, is and is not), an arithmetic operator swapped
(+ and -, * and /, // and /, ** to *, & and |), a constant 0 and 1 (or True and False) swapped,
``and`` and ``or`` swapped, a ``not``, unary minus or ``~`` removed, a returned expression
replaced by None (a returned constant is swapped as a constant: ``return False`` is mutated to
``return True``, not to the equally falsy None), a ``raise`` deleted (replaced by ``pass``).
Message text (f-strings) is not mutated.

The shared working tree is never written: the repository's files (``git ls-files``, untracked
ones not ignored included) are copied into a temporary folder per worker, a mutant is written
into that copy only, and the test files mapped to its target (:data:`TARGETS`) run there with
``pytest -x -q -n 0`` in a process forked from this one (third-party libraries already imported, the
project's modules imported afresh from the copy) under a timeout. The copy's file is restored
after every mutant, also on Ctrl-C (or SIGTERM), and the copies are deleted at the end. The
unmutated copy must pass its tests first (the baseline), or nothing is scored. Numba's on-disk
cache is copied too, so kernels are not recompiled for every mutant; a mutant in code Numba
compiles (a ``sim.compiled`` formula, or module-level code of a file that has one) runs with an
empty cache instead, since a cached kernel that inlines the mutated function would not notice it.
``--root DIR`` copies another checkout (e.g. an export of a commit) instead of this one.

A mutant is *killed* when the tests fail (or time out), *survives* when they pass, and is
*excluded* when it is listed in :data:`EQUIVALENT`: a change that cannot alter behaviour, with
the reason. The score is killed / (mutants - excluded), per file and over all; survivors are
listed with their line. The exit status is 1 when the score is below ``--fail-under``.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Each target and the tests that exercise it, fastest first (with -x a mutant dies early).
TARGETS: dict[str, tuple[str, ...]] = {
    "sim/ledger.py": ("tests/test_ledger.py", "tests/test_books.py"),
    "sim/mechanisms/books.py": ("tests/test_books.py", "tests/test_discount.py"),
    "sim/metrics.py": (
        "tests/test_discount.py",
        "tests/test_books.py",
        "tests/test_metrics.py",
        "tests/test_crm_extract.py",
    ),
    "sim/folders.py": ("tests/test_folders.py",),
    "analysis/stats.py": ("tests/test_stats_rules.py", "tests/test_stats.py"),
}

# Mutants that cannot change behaviour: (file, text on the mutated line, kind, why). A mutant is
# excluded when its file ("*": any) and kind match and its line contains the text.
EQUIVALENT: tuple[tuple[str, str, str, str], ...] = (
    (
        "*",
        "",
        "True -> False in zip(strict=)",
        "zip's strict=True only turns a programming error (sequences of different lengths, all"
        " built from the same rows) into an exception; no input reaches it",
    ),
    (
        "analysis/stats.py",
        "groups = {key: g for key, g in",
        "False -> True in groupby(sort=)",
        "the groups go into a dict read by key: their order is never seen",
    ),
    (
        "analysis/stats.py",
        'for point, g in base.groupby("point", sort=False):',
        "False -> True in groupby(sort=)",
        "the scales go into a dict read by point: their order is never seen",
    ),
    (
        "analysis/stats.py",
        "tested.groupby(",
        "False -> True in groupby(sort=)",
        "transform returns its result aligned with the rows, sorted groups or not",
    ),
    (
        "analysis/stats.py",
        "out.itertuples(index=False)",
        "False -> True in itertuples(index=)",
        "the rows' fields are read by name (d.kpi, d.n ...): an extra Index field is never read",
    ),
    (
        "analysis/stats.py",
        "return BETTER if (low > 0) == higher_is_better else WORSE",
        "> -> >=",
        "reached only when low > 0 or high < 0; low == 0 with high < 0 is no interval",
    ),
    (
        "analysis/stats.py",
        "return low if low > 0 else high",
        "> -> >=",
        "near_end is asked only of intervals that exclude 0 (better or worse): low is never 0",
    ),
    (
        "analysis/stats.py",
        "if n >= 3 and distinct_values(d)[0] > 1:",
        "> -> >=",
        "scipy.stats.skew of equal values is NaN, what the guard gives; the guard only spares"
        " SciPy's warning, which the block around it silences",
    ),
    (
        "analysis/stats.py",
        "if n >= 3 and distinct_values(d)[0] > 1:",
        "1 -> 0",
        "as above: with at least one value, 'more than 0 distinct' only adds equal samples,"
        " whose skewness SciPy gives as NaN",
    ),
    (
        "analysis/stats.py",
        "if var_a > 0 and var_b > 0:",
        "and -> or",
        "scipy.stats.pearsonr of a constant sample is NaN, what the guard gives; the guard only"
        " spares SciPy's ConstantInputWarning (a RuntimeWarning), silenced around the call",
    ),
    (
        "analysis/stats.py",
        "if var_a > 0 and var_b > 0:",
        "> -> >=",
        "as above: a zero variance lets pearsonr run on a constant sample, which gives NaN",
    ),
    (
        "analysis/stats.py",
        "if n < 2 or not np.isfinite(sd):",
        "or -> and",
        "the callers' sd is NaN exactly when n < 2 (ddof=1 of finite values otherwise)",
    ),
    (
        "analysis/stats.py",
        "if np.isfinite(low) and np.isfinite(high):",
        "and -> or",
        "an interval's ends are both finite or both NaN (_judge clears both with its note)",
    ),
    (
        "analysis/stats.py",
        "if not (np.isfinite(num) and np.isfinite(den)):",
        "and -> or",
        "the ratios' inputs are half-widths and variances, finite or NaN, never infinite; with"
        " a NaN input both forms give NaN, and they differ only for an infinite one",
    ),
    (
        "sim/metrics.py",
        'gone = c["left"] >= 0',
        ">= -> >",
        "nobody leaves in model month 0: exits start in month 1, and settling before month 0"
        " keeps 'left' as the records show it (-1 for every customer of the opening book)",
    ),
    (
        "sim/metrics.py",
        'gone = c["left"] >= 0',
        "0 -> 1",
        "as above: 'left' is -1 or a month from 1 on, so >= 0 and >= 1 agree",
    ),
    (
        "sim/metrics.py",
        "churned = (left > t0) & (left <= t0 + observed)",
        "> -> >=",
        "the extract's customers were active at the end of month t0, so none left in t0",
    ),
    (
        "sim/folders.py",
        "if time.time() - path.stat().st_mtime > STALE_SECONDS:",
        "> -> >=",
        "a temporary folder exactly STALE_SECONDS old to the nanosecond: a continuous clock never"
        " stops there, so > and >= cannot be told apart",
    ),
    (
        "sim/folders.py",
        "shutil.rmtree(path, ignore_errors=True)",
        "True -> False in rmtree(ignore_errors=)",
        "removing a stale temporary folder fails only in a race with another process or on"
        " a file system that refuses it; a test runs as any user, root included, and cannot"
        " provoke either without replacing shutil itself",
    ),
)

COMPARE = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
ARITHMETIC = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Pow: ast.Mult,
    ast.BitAnd: ast.BitOr,
    ast.BitOr: ast.BitAnd,
}
SYMBOL = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Pow: "**",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.And: "and",
    ast.Or: "or",
    ast.Not: "not ",
    ast.USub: "-",
    ast.Invert: "~",
}
SKIPPED_FIELDS = {"annotation", "returns", "type_comment"}  # annotations are never evaluated
OUTPUT = ".mutant-pytest.txt"  # in each copy: the last test run's output
NUMBA_DECORATORS = {"formula", "kernel", "njit", "jit", "vectorize", "guvectorize"}


@dataclass(frozen=True)
class Mutant:
    file: str
    node: int  # the mutated node's index in :func:`_nodes` order
    change: str  # how to apply it (see :func:`_apply`)
    line: int
    kind: str  # e.g. "== -> !="
    source: str  # the original line, stripped
    compiled: bool = False  # in code Numba compiles (or module level of a file that has some)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


# --------------------------------------------------------------------------------------------
# Making mutants
# --------------------------------------------------------------------------------------------


def _nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node that may be mutated, in a fixed order: annotations and f-strings left out
    (docstrings are strings, never mutated)."""
    out: list[ast.AST] = []

    def visit(node: ast.AST) -> None:
        out.append(node)
        if isinstance(node, ast.JoinedStr):
            return
        for field, value in ast.iter_fields(node):
            if field in SKIPPED_FIELDS:
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    visit(child)

    visit(tree)
    return out


def _changes(node: ast.AST, keyword: str | None = None) -> list[tuple[str, str]]:
    """(change, kind) of every mutation of one node (``keyword``: the argument a constant is
    passed as, named in the kind, e.g. "strict=True -> False")."""
    out = []
    if isinstance(node, ast.Compare):
        for j, op in enumerate(node.ops):
            if type(op) in COMPARE:
                new = COMPARE[type(op)]
                out.append((f"compare:{j}", f"{SYMBOL[type(op)]} -> {SYMBOL[new]}"))
    elif isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in ARITHMETIC:
        new = ARITHMETIC[type(node.op)]
        out.append(("arithmetic", f"{SYMBOL[type(node.op)]} -> {SYMBOL[new]}"))
    elif isinstance(node, ast.BoolOp):
        new = ast.Or if isinstance(node.op, ast.And) else ast.And
        out.append(("boolean", f"{SYMBOL[type(node.op)]} -> {SYMBOL[new]}"))
    elif isinstance(node, ast.UnaryOp) and type(node.op) in (ast.Not, ast.USub, ast.Invert):
        out.append(("unary", f"{SYMBOL[type(node.op)].strip()}x -> x"))
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        named = f" in {keyword}" if keyword else ""
        out.append(("constant", f"{node.value} -> {not node.value}{named}"))
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
        if node.value in (0, 1):
            out.append(("constant", f"{node.value!r} -> {type(node.value)(1 - node.value)!r}"))
    elif isinstance(node, ast.Return) and node.value is not None:
        if not isinstance(node.value, ast.Constant):  # constants: swapped above, or None
            out.append(("return", "return x -> return None"))
    elif isinstance(node, ast.Raise):
        out.append(("raise", "raise -> pass"))
    return out


def _compiled_lines(tree: ast.Module) -> set[int]:
    """The lines whose code Numba compiles: functions decorated with a Numba decorator (or the
    project's ``sim.compiled`` ones) and, in a module that has such functions, its module-level
    code (constants a compiled function reads are frozen into its machine code)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any(_is_numba(d) for d in node.decorator_list):
            lines |= set(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    if lines:
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef | ast.ClassDef):
                lines |= set(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _is_numba(decorator: ast.expr) -> bool:
    return (
        _name(decorator.func if isinstance(decorator, ast.Call) else decorator) in NUMBA_DECORATORS
    )


def _name(function: ast.expr) -> str:
    """A called function's name: ``zip``, ``mkdir`` (of ``path.mkdir``), or "" if computed."""
    if isinstance(function, ast.Attribute):
        return function.attr
    return getattr(function, "id", "")


def mutants(file: str, source: str) -> list[Mutant]:
    """Every mutant of one file's source."""
    tree = ast.parse(source)
    lines = source.splitlines()
    compiled = _compiled_lines(tree)
    keywords = {
        id(k.value): f"{_name(call.func)}({k.arg}=)"
        for call in ast.walk(tree)
        if isinstance(call, ast.Call)
        for k in call.keywords
    }
    found = []
    for index, node in enumerate(_nodes(tree)):
        for change, kind in _changes(node, keywords.get(id(node))):
            line = node.lineno
            text = lines[line - 1].strip()
            found.append(Mutant(file, index, change, line, kind, text, line in compiled))
    return found


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    return {
        id(child): parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)
    }


def _replace(parent: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for field, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, field, new)
            return
        if isinstance(value, list) and any(v is old for v in value):
            value[[i for i, v in enumerate(value) if v is old][0]] = new
            return
    raise LookupError("node not found in its parent")


def mutated_source(source: str, mutant: Mutant) -> str:
    """The source with one mutation applied (the module unparsed: same code, comments gone)."""
    tree = ast.parse(source)
    node = _nodes(tree)[mutant.node]
    change = mutant.change
    if change.startswith("compare:"):
        j = int(change.split(":")[1])
        node.ops[j] = COMPARE[type(node.ops[j])]()
    elif change == "arithmetic":
        node.op = ARITHMETIC[type(node.op)]()
    elif change == "boolean":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif change == "unary":
        _replace(_parents(tree)[id(node)], node, node.operand)
    elif change == "constant":
        node.value = (not node.value) if isinstance(node.value, bool) else 1 - node.value
    elif change == "return":
        node.value = ast.Constant(None)
    elif change == "raise":
        _replace(_parents(tree)[id(node)], node, ast.Pass())
    else:
        raise ValueError(change)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def excluded(mutant: Mutant) -> str:
    """Why the mutant is excluded ("" if it is not)."""
    for file, text, kind, why in EQUIVALENT:
        if file in ("*", mutant.file) and kind == mutant.kind and text in mutant.source:
            return why
    return ""


# --------------------------------------------------------------------------------------------
# Running the tests in a copy
# --------------------------------------------------------------------------------------------


def repository_files(root: Path) -> list[str]:
    """The files of the repository at ``root``: git's, untracked ones not ignored included (or,
    outside git, every file but caches and virtual environments)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=root,
        capture_output=True,
    )
    if listed.returncode == 0:
        return sorted({name for name in listed.stdout.decode().split("\0") if name})
    unwanted = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis"}
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not unwanted & set(p.relative_to(root).parts)
    )


def make_copy(root: Path, into: Path, files: list[str]) -> Path:
    """Copy the repository's files (and Numba's cache of its kernels) into ``into``."""
    for name in files:
        src = root / name
        if src.is_file() and not src.is_symlink():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, into / name)  # times kept: Numba's cache stays valid
    packages = {Path(name).parts[0] for name in files if len(Path(name).parts) > 1}
    for cache in (c for p in sorted(packages) for c in (root / p).glob("**/__pycache__/*.nb[ic]")):
        (into / cache.parent.relative_to(root)).mkdir(parents=True, exist_ok=True)
        shutil.copy2(cache, into / cache.relative_to(root))
    return into


def preload() -> None:
    """Import the heavy third-party libraries once, before forking: the children import only the
    project (from their copy). No helper threads, as the project's commands start none."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("JE_ARROW_MALLOC_CONF", "background_thread:false")
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pytest  # noqa: F401
    import scipy.stats  # noqa: F401

    for name in ("numba", "pyarrow", "yaml", "hypothesis", "mesa", "hydra", "omegaconf"):
        with suppress(ImportError):
            __import__(name)


class Job:
    """One worker: its own copy of the repository and at most one running test process."""

    def __init__(self, copy: Path):
        self.copy = copy
        self.pid: int | None = None
        self.mutant: Mutant | None = None
        self.restore: tuple[Path, bytes] | None = None
        self.started = 0.0
        self.deadline = 0.0

    def start(self, mutant: Mutant | None, source: str | None, tests, timeout: float) -> None:
        cache = None
        if mutant is not None:
            path = self.copy / mutant.file
            assert path.resolve().is_relative_to(self.copy.resolve())  # never the shared tree
            self.restore = (path, path.read_bytes(), path.stat())
            path.write_text(source)
            _drop_bytecode(path)
            if mutant.compiled:  # compile everything afresh: a cached kernel that inlines the
                cache = self.copy / ".numba-mutant"  # mutated code would not notice the change
                shutil.rmtree(cache, ignore_errors=True)
        self.mutant = mutant
        self.started = time.monotonic()
        self.deadline = self.started + timeout * (1 if cache is None else 4)
        self.pid = os.fork()
        if self.pid == 0:
            _child(self.copy, tests, cache)

    def poll(self) -> str | None:
        """'killed' (the tests failed, or crashed), 'survived' (they passed), 'timeout'
        (killed), or None (still running)."""
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            if time.monotonic() < self.deadline:
                return None
            self.stop()
            return "timeout"
        self.pid = None
        return "survived" if os.waitstatus_to_exitcode(status) == 0 else "killed"

    def stop(self) -> None:
        if self.pid is not None:
            with suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)  # the child leads its own process group
            os.waitpid(self.pid, 0)
            self.pid = None

    def put_back(self) -> None:
        if self.restore is not None:
            path, original, stat = self.restore
            path.write_bytes(original)
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # numba's cache stays valid
            _drop_bytecode(path)
            shutil.rmtree(self.copy / ".numba-mutant", ignore_errors=True)
            self.restore = None


def _drop_bytecode(path: Path) -> None:
    for cached in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
        cached.unlink(missing_ok=True)


def _child(copy: Path, tests, numba_cache: Path | None) -> None:
    """In the forked child: run the tests in the copy, exit with pytest's status; Numba's cache
    in ``numba_cache`` if given (else beside each module of the copy)."""
    code = 3
    try:
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        out = os.open(copy / OUTPUT, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.chdir(copy)
        ours = {ROOT, ROOT / "benchmarks"}  # this checkout: never imported from
        sys.path[:] = [str(copy)] + [p for p in sys.path if p and Path(p).resolve() not in ours]
        os.environ["PYTHONPATH"] = str(copy)
        os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
        sys.dont_write_bytecode = True
        if numba_cache is not None:
            os.environ["NUMBA_CACHE_DIR"] = str(numba_cache)
            if "numba" in sys.modules:
                from numba.core import config

                config.reload_config()
        import pytest

        code = int(pytest.main(["-x", "-q", "-n", "0", "-p", "no:cacheprovider", *tests]))
    finally:
        os._exit(code)


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", nargs="+", choices=list(TARGETS), default=list(TARGETS))
    parser.add_argument("--max-mutants", type=int, default=0, help="per file, sampled (0: all)")
    parser.add_argument("--seed", type=int, default=0, help="of the sample")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--timeout", type=float, default=3.0, help="x the baseline's time")
    parser.add_argument("--fail-under", type=float, default=90.0, help="score in percent")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the repository to copy (default: this one)"
    )
    args = parser.parse_args(argv)

    chosen: dict[str, list[Mutant]] = {}
    skipped: dict[str, list[tuple[Mutant, str]]] = {}
    root = args.root.resolve()
    sources = {f: (root / f).read_text() for f in args.files}
    for file in args.files:
        every = mutants(file, sources[file])
        skipped[file] = [(m, why) for m in every if (why := excluded(m))]
        tested = [m for m in every if not excluded(m)]
        if args.max_mutants and len(tested) > args.max_mutants:
            tested = sorted(
                random.Random(f"{args.seed}:{file}").sample(tested, args.max_mutants),
                key=lambda m: (m.line, m.node, m.change),
            )
        chosen[file] = tested
    if args.list:
        for file in args.files:
            for m in chosen[file]:
                print(f"{m.where:32} {m.kind:24} {m.source[:70]}")
            for m, why in skipped[file]:
                print(f"{m.where:32} {m.kind:24} excluded: {why}")
        return 0

    started = time.monotonic()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in background
    signal.signal(signal.SIGTERM, _interrupt)  # stopped like Ctrl-C: copies and children go
    temp = Path(tempfile.mkdtemp(prefix="mutants-"))
    jobs: list[Job] = []
    results: dict[Mutant, str] = {}
    try:
        files = repository_files(root)
        preload()
        jobs = [Job(make_copy(root, temp / f"copy{i}", files)) for i in range(max(1, args.jobs))]
        limits = baseline(jobs[0], args.files, args.timeout)
        if limits is None:
            return 2
        queue = [(m, f) for f in args.files for m in chosen[f]]
        total = len(queue)
        print(f"{total} mutants in {len(args.files)} files, {len(jobs)} workers")
        while queue or any(j.pid is not None for j in jobs):
            for job in jobs:
                if job.pid is None and queue:
                    mutant, file = queue.pop(0)
                    source = mutated_source(sources[file], mutant)
                    job.start(mutant, source, TARGETS[file], limits[file])
                elif job.pid is not None and (outcome := job.poll()) is not None:
                    job.put_back()
                    results[job.mutant] = outcome
                    took = time.monotonic() - job.started
                    m = job.mutant
                    note = f"{len(results)}/{total} {outcome:8} {took:5.1f}s"
                    print(f"  {note} {m.where}: {m.kind}  {m.source[:60]}", flush=True)
            time.sleep(0.02)
    except KeyboardInterrupt:
        print("\ninterrupted: the scores below are of the mutants run so far")
    finally:
        for job in jobs:
            job.stop()
            job.put_back()
        shutil.rmtree(temp, ignore_errors=True)
    score = report(args.files, chosen, skipped, results)
    minutes, seconds = divmod(time.monotonic() - started, 60)
    print(f"took {int(minutes)} min {seconds:.0f} s")
    return 0 if score >= args.fail_under else 1


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def baseline(job: Job, files: list[str], factor: float) -> dict[str, float] | None:
    """Each file's time limit per mutant, from its tests' time on the unmutated copy; None (with
    the reason said) if they do not pass there."""
    limits = {}
    for file in files:
        job.start(None, None, TARGETS[file], 1800.0)
        while (outcome := job.poll()) is None:
            time.sleep(0.05)
        took = time.monotonic() - job.started
        if outcome != "survived":
            tests = " ".join(TARGETS[file])
            print(f"baseline: the tests of {file} fail unmutated ({outcome}); nothing scored.")
            print("".join((job.copy / OUTPUT).read_text().splitlines(True)[-25:]))
            print(f"  see: .venv/bin/python -m pytest -x -q {tests}")
            return None
        limits[file] = factor * took + 10.0
        print(f"baseline: {file}: {len(TARGETS[file])} test files pass in {took:.1f} s")
    return limits


def report(files, chosen, skipped, results) -> float:
    """Print the table and the survivors; the overall score in percent."""
    header = (
        f"{'file':26} {'mutants':>8} {'killed':>7} {'survived':>9} {'excluded':>9} {'score':>7}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    totals = [0, 0, 0, 0]
    survivors = []
    for file in files:
        done = [m for m in chosen[file] if m in results]
        killed = sum(results[m] in ("killed", "timeout") for m in done)
        survived = [m for m in done if results[m] == "survived"]
        survivors += survived
        n_excluded = len(skipped[file])
        row = [len(done) + n_excluded, killed, len(survived), n_excluded]
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        print(f"{file:26} {row[0]:8} {row[1]:7} {row[2]:9} {row[3]:9} {_score(row):>7}")
    print("-" * len(header))
    print(
        f"{'total':26} {totals[0]:8} {totals[1]:7} {totals[2]:9} {totals[3]:9} {_score(totals):>7}"
    )
    if survivors:
        print("\nsurvivors:")
        for m in survivors:
            print(f"  {m.where}: {m.kind}  {m.source}")
    tested = totals[1] + totals[2]
    return 100.0 * totals[1] / tested if tested else 100.0


def _score(row) -> str:
    tested = row[1] + row[2]
    return f"{100.0 * row[1] / tested:.1f}%" if tested else "-"


if __name__ == "__main__":
    sys.exit(main())
