"""``report.html``: the document rendered with the Jinja2 templates of ``templates/``.

The page loads nothing from anywhere: the CSS (``report.css``) is inlined, the figures are
embedded as base64 PNG data URIs, and there are no scripts, fonts, stylesheets or links to other
pages. Autoescaping escapes every text that goes into it.
"""

from __future__ import annotations

import base64
from functools import cache
from pathlib import Path

import jinja2

from analysis.report.document import BLOCKS, Document


def render(doc: Document) -> str:
    return _environment().get_template("report.html.j2").render(doc=doc)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("analysis.report", "templates"),
        autoescape=jinja2.select_autoescape(("html", "html.j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.tests.update({name: _is(kind) for name, kind in BLOCKS.items()})
    env.filters["data_uri"] = _png_data_uri
    return env


def _is(kind: type):
    return lambda block: isinstance(block, kind)


def _png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")
