"""The report as a document: sections of paragraphs, headings, bullets, tables and figures.

:func:`analysis.report.sections.build` fills it from the statistics; :mod:`.html` and
:mod:`.markdown` render all of it, :mod:`.console` renders some of the same blocks as text.
Every text in it is plain text: the renderers escape it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Cell:
    text: str
    sub: str = ""  # a second, smaller line (e.g. a CI)
    verdict: str = ""  # the verdict (a word of analysis.stats.VERDICTS) whose colour it takes
    code: bool = False  # monospace (config keys and overrides)

    @property
    def states_verdict(self) -> bool:
        """The cell says its verdict (rather than showing a number in the verdict's colour)."""
        return bool(self.verdict) and self.text == self.verdict


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Cell]]
    numeric: frozenset[int] = frozenset()  # right-aligned columns
    kind: str = ""  # CSS class
    groups: list[str] | None = None  # each row's parameter point: a heading row in HTML whenever
    # it changes, a first column in Markdown

    def headed_rows(self) -> list[tuple[str | None, list[Cell]]]:
        """Each row with the group heading to show above it: None within a group."""
        groups = self.groups or [None] * len(self.rows)
        above = [None, *groups][: len(groups)]
        return [
            (group if group != prior else None, row)
            for group, prior, row in zip(groups, above, self.rows, strict=True)
        ]


@dataclass
class Para:
    text: str
    note: bool = False  # smaller, muted


@dataclass
class Bullets:
    items: list[str]
    ordered: bool = False  # numbered (a ranking)


@dataclass
class Figure:
    number: int
    name: str
    title: str
    caption: str
    png: Path


@dataclass
class Heading:
    text: str


BLOCKS = {"para": Para, "bullets": Bullets, "figure": Figure, "heading": Heading, "table": Table}
"""Every kind of block a section holds, by the name the HTML template tests it with."""


@dataclass
class Section:
    id: str
    title: str
    blocks: list = field(default_factory=list)


@dataclass
class Document:
    title: str
    description: str
    facts: list[str]  # one line under the title
    sections: list[Section]
