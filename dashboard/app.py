"""The Solara app: two pages, "Try a scenario" and "Results", as tabs under the app bar
(``python -m dashboard`` serves it)."""

from __future__ import annotations

import solara

from dashboard.results_page import ResultsPage
from dashboard.scenario_page import ScenarioPage

PAGES = {"Try a scenario": ScenarioPage, "Results": ResultsPage}


@solara.component
def Page():
    shown = solara.use_reactive(0)
    solara.Title("Bank retention testbed")
    with solara.AppBar(), solara.lab.Tabs(value=shown, align="center"):
        for name in PAGES:
            solara.lab.Tab(name)
    list(PAGES.values())[shown.value]()
