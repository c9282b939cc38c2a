"""The docs stay true to the code."""

from pathlib import Path

from sim.config import parameter_markdown, parameter_rows

ROOT = Path(__file__).resolve().parent.parent


def test_parameter_reference_is_up_to_date():
    text = (ROOT / "docs" / "parameters.md").read_text()
    assert text == parameter_markdown(), "regenerate: python -m sim.config > docs/parameters.md"


def test_every_parameter_has_unit_and_source():
    for key, _, unit, _, source in parameter_rows():
        assert unit and source, key


def test_readme_quickstart_commands_exist():
    readme = (ROOT / "README.md").read_text()
    assert "python -m experiments.compare" in readme
    assert "python -m pytest" in readme
