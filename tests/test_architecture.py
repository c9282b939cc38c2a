"""The import graph of sim/, experiments/, analysis/ and dashboard/: no cycle, and the packages
layered.

Every module is parsed with ``ast``; its imports at module level and inside functions count alike.
``from x import y`` names the submodule ``x.y`` when there is one, else ``x``. Importing
``p.q.r`` from outside ``p.q`` also runs the packages ``p`` and ``p.q``, so those count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sim", "experiments", "analysis", "dashboard")
ANALYSIS_MAY_READ = {"experiments.store", "experiments.config"}


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


def imports(name: str) -> set[str]:
    """The modules of ours that ``name`` names in its imports."""
    tree = ast.parse(MODULES[name].read_text(), str(MODULES[name]))
    nodes = (n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return {target for node in nodes for target in named(name, node) if target in MODULES}


NAMED = {name: imports(name) for name in MODULES}
GRAPH = {name: set().union(*(with_packages(name, t) for t in NAMED[name])) for name in MODULES}
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
    assert {"sim.scenario", "sim.params", "experiments.store", "analysis.stats"} <= set(MODULES)
    assert "sim.params" in NAMED["sim.config"]
    assert "analysis.stats" in NAMED["experiments.compare"]  # from analysis.stats import ...
    assert "sim.strategies.base" in GRAPH["sim.model"]  # from sim.strategies import base
    assert "sim.strategies" in GRAPH["sim.model"]  # the package runs first
    assert "sim.strategies" not in GRAPH["sim.strategies.training"]  # its own package


def test_find_cycle_reports_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_there_is_no_import_cycle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_model_config_imports_neither_strategies_nor_the_scenario():
    assert not {m for m in GRAPH["sim.config"] if m.startswith(("sim.strategies", "sim.scenario"))}


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.split(".")[0] == "sim"))
def test_sim_imports_nothing_from_experiments_or_analysis(name):
    assert not {m for m in NAMED[name] if m.split(".")[0] in ("experiments", "analysis")}


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.split(".")[0] == "analysis"))
def test_analysis_reads_experiments_only_through_the_store_and_config(name):
    used = {m for m in NAMED[name] if m.split(".")[0] == "experiments"}
    assert used <= ANALYSIS_MAY_READ, sorted(used - ANALYSIS_MAY_READ)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.split(".")[0] != "dashboard"))
def test_nothing_imports_the_dashboard(name):
    """The dashboard is the top layer: it may use sim, experiments and analysis, none of them it."""
    assert not {m for m in NAMED[name] if m.split(".")[0] == "dashboard"}


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
