"""docs/architecture.md against the code: the layers it draws are the layers the import test
enforces, every module and subpackage of a package is named in that package's paragraph, and
every name, path and switch it gives exists."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from test_architecture import LAYERS, MODULES, PACKAGES, ROOT

DOC = (ROOT / "docs" / "architecture.md").read_text()
QUOTED = set(re.findall(r"`([^`\n]+)`", DOC))
DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")
FOLDERS = (*PACKAGES, "benchmarks")


def paragraphs() -> dict[str, str]:
    """Each package's paragraph of "The packages", by the folder it opens with (**`sim/`** ...)."""
    section = DOC.split("\n## The packages\n")[1].split("\n## ")[0]
    found = {}
    for chunk in re.split(r"\n(?=\*\*`\w+/`)", section):
        if m := re.match(r"\*\*`(\w+)/`", chunk):
            found[m.group(1)] = chunk
    return found


PARAGRAPHS = paragraphs()


def parts(folder: str) -> list[str]:
    """A folder's modules (``x.py``, not ``__init__``/``__main__``) and subpackages (``x/``)."""
    return sorted(
        f"{p.name}/" if p.is_dir() else p.name
        for p in (ROOT / folder).iterdir()
        if (p.suffix == ".py" and not p.stem.startswith("__")) or (p / "__init__.py").exists()
    )


def test_the_layer_drawing_is_the_layering_the_import_test_enforces():
    """The indented drawing of the five packages, top layer first: each package may import
    itself and those drawn below it, as ``LAYERS`` says."""
    drawing = DOC.split("Five packages, layered")[1].split("```")[1]
    drawn = [line.split()[0] for line in drawing.strip().splitlines()]
    assert drawn == list(reversed(PACKAGES))
    for i, package in enumerate(drawn):
        assert LAYERS[package] == set(drawn[i:])


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_module_is_named_in_its_packages_paragraph(folder):
    text = PARAGRAPHS[folder]
    named = set(re.findall(r"`([\w/.]+)`", text))
    missing = [p for p in parts(folder) if p not in named and p.rstrip("/") + "/" not in named]
    assert not missing, f"docs/architecture.md's {folder}/ paragraph does not name {missing}"


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_file_a_paragraph_names_exists_in_its_package(folder):
    files = set(re.findall(r"`([\w/]+\.py)`", PARAGRAPHS[folder]))
    home = ROOT / folder
    gone = [f for f in files if not (home / f).exists() and not any(home.rglob(Path(f).name))]
    gone = [f for f in gone if not (ROOT / f).exists()]
    assert not gone, f"the {folder}/ paragraph names files that do not exist: {gone}"


def resolve(name: str) -> bool:
    """Whether a dotted name the doc gives is ours: a module and attributes below it
    (``sim.overrides.console_log``), or a short form whose head is one module's last part
    (``month.customer_month``) or a class or function of one module (``BankModel.step``)."""
    head, *rest = name.split(".")
    if head in PACKAGES:
        for cut in range(len(rest) + 1, 0, -1):
            module = ".".join([head, *rest[: cut - 1]])
            if module in MODULES:
                return _has(importlib.import_module(module), rest[cut - 1 :])
        return False
    for module in MODULES:
        if module.split(".")[-1] == head and _has(importlib.import_module(module), rest):
            return True
        defines = re.search(rf"^(class|def) {head}\b", MODULES[module].read_text(), re.M)
        if defines and _has(importlib.import_module(module), [head, *rest]):
            return True
    return False


def _has(obj, attributes: list[str]) -> bool:
    for attribute in attributes:
        fields = getattr(obj, "__dataclass_fields__", {})
        if attribute in fields and not hasattr(obj, attribute):
            return True  # a dataclass field without a default is a name of the class too
        if not hasattr(obj, attribute):
            return False
        obj = getattr(obj, attribute)
    return True


CODE_NAMES = sorted(
    q
    for q in QUOTED
    if DOTTED.fullmatch(q) and not re.search(r"\.(py|md|html|xlsx|csv|yaml|j2|css|json|toml)$", q)
)


def test_the_doc_gives_code_names():
    assert len(CODE_NAMES) > 20 and "sim.overrides.console_log" in CODE_NAMES


@pytest.mark.parametrize("name", CODE_NAMES)
def test_every_code_name_the_doc_gives_exists(name):
    assert resolve(name), f"docs/architecture.md names `{name}`, which the code does not have"


PATHS = sorted(
    q for q in QUOTED if "/" in q and "<" not in q and re.fullmatch(r"[\w./-]+", q) and "." in q
)


@pytest.mark.parametrize("path", PATHS)
def test_every_path_the_doc_gives_exists(path):
    """A path from the checkout's root, or the end of a path in a package (templates/x.j2)."""
    within = (p for folder in FOLDERS for p in (ROOT / folder).rglob(Path(path).name))
    assert (ROOT / path).exists() or any(p.as_posix().endswith(f"/{path}") for p in within), (
        f"docs/architecture.md names {path}, which does not exist"
    )


def test_every_switch_the_doc_gives_is_read_by_the_code():
    """The environment variables it documents (``BANK_TESTBED_*``) are read somewhere."""
    switches = set(re.findall(r"\bBANK_TESTBED_\w+", DOC))
    code = "".join(p.read_text() for p in MODULES.values())
    assert switches and not {s for s in switches if s not in code}
