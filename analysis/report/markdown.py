"""``report.md``: the document as Markdown, figures referenced by their path relative to the
results folder (``figures/*.png``). Every text is made plain: no HTML, emphasis or links."""

from __future__ import annotations

import os
import re
from pathlib import Path

from analysis.report.document import Bullets, Cell, Document, Figure, Heading, Para, Table
from analysis.stats import DETECTED


def render(doc: Document, results: Path) -> str:
    out = [f"# {_text(doc.title)}", ""]
    if doc.description:
        out += [_text(doc.description), ""]
    out += [" · ".join(_text(f) for f in doc.facts), ""]
    for section in doc.sections:
        out += [f"## {_text(section.title)}", ""]
        for block in section.blocks:
            out += [*_block(block, results), ""]
    return "\n".join(out).rstrip() + "\n"


def _block(block, results: Path) -> list[str]:
    if isinstance(block, Para):
        text = re.sub(r"^([#+>-])", r"\\\1", _text(block.text))  # not a heading, list, quote
        return [f"*{text}*" if block.note else text]
    if isinstance(block, Heading):
        return [f"### {_text(block.text)}"]
    if isinstance(block, Bullets):
        marks = (f"{n}." if block.ordered else "-" for n in range(1, len(block.items) + 1))
        return [f"{mark} {_text(i)}" for mark, i in zip(marks, block.items, strict=True)]
    if isinstance(block, Figure):
        return _figure(block, results)
    if isinstance(block, Table):
        return _table(block)
    raise TypeError(f"unknown block {block!r}")


def _figure(figure: Figure, results: Path) -> list[str]:
    try:
        rel = figure.png.resolve().relative_to(results.resolve()).as_posix()
    except ValueError:
        rel = Path(os.path.relpath(figure.png.resolve(), results.resolve())).as_posix()
    title = _text(figure.title)
    return [
        f"![{title}]({rel})",
        "",
        f"**Figure {figure.number}. {title}.** {_text(figure.caption)}",
    ]


def _table(table: Table) -> list[str]:
    columns = [_cell_text(c) for c in table.columns]
    rows = [[_cell(c) for c in row] for row in table.rows]
    align = ["---:" if i in table.numeric else "---" for i in range(len(columns))]
    if table.groups:
        columns = ["Point", *columns]
        rows = [[_cell_text(g), *r] for g, r in zip(table.groups, rows, strict=True)]
        align = ["---", *align]
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join(align) + " |"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _cell(c: Cell) -> str:
    text = _code(c.text) if c.code else _text(c.text)
    if c.states_verdict and c.verdict in DETECTED:
        text = f"**{text}**"
    if c.sub:
        text += f" ({_text(c.sub)})"
    return text.replace("|", "\\|")


def _cell_text(text: str) -> str:
    return _text(text).replace("|", "\\|")


def _text(text: str) -> str:
    """Plain text safe in Markdown: no line breaks, no HTML, no emphasis or link syntax."""
    text = " ".join(str(text).split())
    text = re.sub(r"([\\`*\[\]])", r"\\\1", text)
    text = re.sub(r"([<&])(?=[A-Za-z/!?#])", r"\\\1", text)  # no HTML tags or entities
    return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)


def _code(text: str) -> str:
    text = " ".join(str(text).split())
    return f"`` {text} ``" if "`" in text else f"`{text}`"
