"""The import graph of sim/, runner/, analysis/, experiments/ and dashboard/: no cycle, and the
packages layered, each importing only the layers below it (:data:`LAYERS`); the libraries leave
printing to the commands.

Every module is parsed with ``ast``; its imports at module level and inside functions count alike,
but those under ``if TYPE_CHECKING:`` (read by the type checker, never run) are left out of the
graph of what importing a module runs, so a module may name a type from a module that imports it.
``from x import y`` names the submodule ``x.y`` when there is one, else ``x``. Importing
``p.q.r`` from outside ``p.q`` also runs the packages ``p`` and ``p.q``, so those count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sim", "runner", "analysis", "experiments", "dashboard")
"""The layers, lowest first: one scenario; running many and storing them; what the stored runs
mean; the commands; the browser pages."""
LAYERS = {package: set(PACKAGES[: i + 1]) for i, package in enumerate(PACKAGES)}
"""The packages each package may import: itself and those below it."""
ANALYSIS_MAY_READ = {"runner.store", "runner.config"}
"""What of the runner the analysis uses: the store it reads and the experiment schema, never a
plan or an executor (it runs nothing)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
}


def is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def absolute(importer: str, module: str | None, level: int) -> str:
    """The absolute module name of a (possibly relative) ``from`` import."""
    if not level:
        return module or ""
    base = importer.split(".")
    base = base[: len(base) - level + is_package(importer)]
    return ".".join([*base, *([module] if module else [])])


def named(importer: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The modules an import statement names (our packages only)."""
    if isinstance(node, ast.Import):
        names = {alias.name for alias in node.names}
    else:
        source = absolute(importer, node.module, node.level)
        names = {
            f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source
            for alias in node.names
        }
    return {n for n in names if n.split(".")[0] in PACKAGES}


def with_packages(importer: str, target: str) -> set[str]:
    """``target`` and the packages above it that importing it runs, but not the importer's own."""
    parts = target.split(".")
    above = {".".join(parts[:i]) for i in range(1, len(parts))}
    own = {".".join(importer.split(".")[:i]) for i in range(1, importer.count(".") + 2)}
    return ({target} | above) - own - {importer}


def type_only(tree: ast.AST) -> set[ast.AST]:
    """The import statements under ``if TYPE_CHECKING:`` (for the type checker only)."""
    blocks = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Name | ast.Attribute)
        and ast.unparse(node.test).endswith("TYPE_CHECKING")
    ]
    return {n for block in blocks for stmt in block.body for n in ast.walk(stmt)}


def imports(name: str, run: bool = False) -> set[str]:
    """The modules of ours that ``name`` names in its imports; with ``run``, only those that
    importing it runs (not those under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(MODULES[name].read_text(), str(MODULES[name]))
    skip = type_only(tree) if run else set()
    nodes = (
        n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) and n not in skip
    )
    return {target for node in nodes for target in named(name, node) if target in MODULES}


NAMED = {name: imports(name) for name in MODULES}
RUNS = {name: imports(name, run=True) for name in MODULES}
GRAPH = {name: set().union(*(with_packages(name, t) for t in RUNS[name])) for name in MODULES}
"""Every module of ours that importing a module runs first: what it names and their packages."""


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_graph_is_read_from_every_module():
    assert {"sim.scenario", "sim.params", "runner.store", "analysis.stats"} <= set(MODULES)
    assert "sim.params" in NAMED["sim.config.schema"]
    assert "sim.config.schema" in NAMED["sim.config"]  # a package's re-exports count
    assert "analysis.stats" in NAMED["experiments.compare"]  # from analysis.stats import ...
    assert "sim.strategies.base" in GRAPH["sim.model"]  # from sim.strategies import base
    assert "sim.strategies" in GRAPH["sim.model"]  # the package runs first
    assert "sim.strategies" not in GRAPH["sim.strategies.training"]  # its own package
    assert "sim.model" in NAMED["sim.agents"]  # BankModel, for the type checker only
    assert "sim.model" not in GRAPH["sim.agents"]  # so not run: no cycle


def test_find_cycle_reports_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_there_is_no_import_cycle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_model_config_imports_neither_strategies_nor_the_scenario():
    config = [n for n in MODULES if n == "sim.config" or n.startswith("sim.config.")]
    assert len(config) > 1  # the package and its modules
    used = {m for n in config for m in GRAPH[n]}
    assert not {m for m in used if m.startswith(("sim.strategies", "sim.scenario"))}


def test_the_layers_are_what_the_architecture_says():
    assert LAYERS["sim"] == {"sim"}
    assert LAYERS["runner"] == {"sim", "runner"}
    assert LAYERS["analysis"] == {"sim", "runner", "analysis"}
    assert LAYERS["experiments"] == {"sim", "runner", "analysis", "experiments"}
    assert LAYERS["dashboard"] == set(PACKAGES)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_package_imports_only_the_layers_below_it(name):
    """sim imports none of the others; runner only sim; analysis sim and runner; the commands
    (experiments) all but the dashboard; the dashboard any. Imports for the type checker count
    too: a type from a layer above is a dependency on it."""
    package = name.split(".")[0]
    above = {m for m in NAMED[name] if m.split(".")[0] not in LAYERS[package]}
    assert not above, f"{name} reaches up to {sorted(above)}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.split(".")[0] == "sim"))
def test_sim_imports_nothing_from_the_packages_above(name):
    assert not {m for m in NAMED[name] if m.split(".")[0] != "sim"}


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.split(".")[0] == "analysis"))
def test_analysis_reads_the_runner_only_through_the_store_and_config(name):
    used = {m for m in NAMED[name] if m.split(".")[0] == "runner"}
    assert used <= ANALYSIS_MAY_READ, sorted(used - ANALYSIS_MAY_READ)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.split(".")[0] != "dashboard"))
def test_nothing_imports_the_dashboard(name):
    """The dashboard is the top layer: it may use every other package, none of them it."""
    assert not {m for m in NAMED[name] if m.split(".")[0] == "dashboard"}


def test_the_commands_are_in_experiments_and_the_machinery_in_runner():
    """Every ``python -m experiments.<name>`` stays where the docs say; what runs them is below."""
    commands = ("compare", "report", "calibrate", "optimize", "sensitivity", "robustness")
    assert {f"experiments.{c}" for c in (*commands, "effects")} <= set(MODULES)
    assert {"runner.plan", "runner.executors", "runner.store", "runner.config"} <= set(MODULES)
    assert not {n for n in MODULES if n.split(".")[0] == "runner" and has_main(n)}
    assert not {n for n in MODULES if n.split(".")[0] == "analysis" and has_main(n)}


def has_main(name: str) -> bool:
    """Whether a module is a command: ``python -m`` runs it (``__main__``, or its guard)."""
    return name.endswith("__main__") or '__name__ == "__main__"' in MODULES[name].read_text()


COMMAND_FUNCTIONS = {"sim.overrides.command", "sim.overrides.refuse"}
"""Functions of a library that are the commands' own: ``-h``'s text and the one-line refusal."""
LIBRARIES = sorted(n for n in MODULES if n.split(".")[0] in LAYERS["analysis"])


def printing(name: str) -> list[str]:
    """Where ``name`` calls ``print``: the enclosing function's qualified name and the line."""
    found = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = where
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = f"{where}.{child.name}"
            call = isinstance(child, ast.Call) and isinstance(child.func, ast.Name)
            if call and child.func.id == "print":
                found.append(f"{where}:{child.lineno}")
            visit(child, inner)

    visit(ast.parse(MODULES[name].read_text(), str(MODULES[name])), name)
    return found


def test_printing_is_found():
    """The check sees a print inside a function and names the function."""
    assert {where.split(":")[0] for where in printing("sim.overrides")} == COMMAND_FUNCTIONS
    assert any(where.startswith("sim.targets.main:") for where in printing("sim.targets"))


@pytest.mark.parametrize("name", LIBRARIES)
def test_libraries_log_and_leave_printing_to_the_commands(name):
    """sim, runner and analysis log through ``logging`` (``sim.overrides.console_log`` shows it
    on a command's console); only commands print: modules ``python -m`` runs (sim.run,
    sim.targets, ``python -m sim.config``), and the command helpers of sim.overrides."""
    if has_main(name):
        return
    prints = [where for where in printing(name) if where.split(":")[0] not in COMMAND_FUNCTIONS]
    assert not prints, f"print in a library: {prints}; log it (logging.getLogger(__name__))"


def test_the_dashboard_is_in_the_graph():
    assert {"dashboard.app", "dashboard.scenario"} <= set(MODULES)
    assert "sim.model" in NAMED["dashboard.scenario"]


def test_the_parameter_toolkit_is_imported_from_its_home():
    """``sim.params`` is the one home of the toolkit: nobody takes it from ``sim.config``."""
    toolkit = {"param", "ConfigError", "one_line", "check_node", "check_value", "describe_allowed"}
    paths = [*MODULES.values(), *(ROOT / "tests").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
    wrong = [
        f"{path.relative_to(ROOT)}: {alias.name}"
        for path in paths
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module == "sim.config"
        for alias in node.names
        if alias.name in toolkit
    ]
    assert not wrong
