"""The Solara app: two pages, "Try a scenario" and "Results", as tabs under the app bar
(``python -m dashboard`` serves it)."""

from __future__ import annotations

import solara

from dashboard.results import warm
from dashboard.results_page import ResultsPage
from dashboard.scenario_page import ScenarioPage

PAGES = {"Try a scenario": ScenarioPage, "Results": ResultsPage}
SIDEBAR_WIDTH = 400
LAYOUT_CSS = f"""
.v-navigation-drawer {{
  width: {SIDEBAR_WIDTH}px !important;
  min-width: {SIDEBAR_WIDTH}px !important;
  max-width: {SIDEBAR_WIDTH}px !important;
}}
.v-navigation-drawer .v-select__selections {{ min-width: 0; }}
"""
"""The sidebar keeps the width the content's left margin leaves for it (Solara's drawer would
otherwise widen to its longest line, e.g. a folder's path, and cover the content's left edge)."""

warm()  # the newest store's statistics, read while the first page is being looked at


@solara.component
def Page():
    shown = solara.use_reactive(0)
    solara.Title("Bank retention testbed")
    solara.Style(LAYOUT_CSS)
    with solara.AppBar(), solara.lab.Tabs(value=shown, align="center"):
        for name in PAGES:
            solara.lab.Tab(name)
    list(PAGES.values())[shown.value]()
