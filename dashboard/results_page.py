"""The page "Results": open a results store, read its verdicts and means, and see its charts for
the arms picked."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import solara

from dashboard.results import Store, charts, open_store, stores, summary_table, verdict_table
from sim.strategies import title

TABLE_CSS = """
.dashboard-verdicts th, .dashboard-summary th { text-align: left; padding: 4px 10px; }
.dashboard-verdicts td, .dashboard-summary td { padding: 2px 10px; white-space: nowrap; }
.dashboard-verdicts tr:nth-child(even) { background: #f3f3f3; }
.dashboard-summary tr:nth-child(even) { background: #f3f3f3; }
"""
store_path = solara.reactive("")
"""The folder chosen (one per browser session); none: the first store listed."""


@solara.component
def ResultsPage():
    found = [str(p) for p in stores()]
    shown = store_path.value or next(iter(found), "")
    opened, error = solara.use_memo(lambda: _opened(shown), [shown])
    with solara.Sidebar(), solara.Card("Results store"):
        solara.Select(
            "Stored comparisons",
            values=found,
            value=shown if shown in found else None,
            on_value=store_path.set,
        )
        solara.InputText(
            "Or a folder", value=shown, on_value=store_path.set, continuous_update=False
        )
    if error:
        solara.Warning(error)
        return
    StoreView(opened).key(str(opened.path))


def _opened(path: str) -> tuple[Store | None, str]:
    if not path:
        return None, "No results store yet: run `./testbed compare`, or type a folder."
    try:
        return open_store(Path(path)), ""
    except (ValueError, OSError) as exc:
        return None, f"Cannot open {path}: {exc}"


@solara.component
def StoreView(opened: Store):
    picked, set_picked = solara.use_state([])
    titles = {title(arm): arm for arm in opened.others}
    name, n = opened.path.resolve().name, len(opened.others)
    Heading(f"{name}: {n} strategies against the baseline, {opened.months} months")
    solara.Text(str(opened.path))
    Heading("Verdicts against the baseline, on the same seeds", level=3)
    Table(verdict_table(opened), "verdicts")
    Heading("Means per strategy (95% CIs)", level=3)
    Table(summary_table(opened), "summary")
    solara.SelectMultiple(
        "Strategies in the charts (none: those with the largest effects)",
        [title(arm) for arm in picked],
        list(titles),
        on_value=lambda chosen: set_picked([titles[t] for t in chosen]),
    )
    Charts(opened, picked)


@solara.component
def Heading(text: str, level: int = 2):
    solara.HTML(tag=f"h{level}", unsafe_innerHTML=html.escape(text), style={"margin": "12px 0"})


@solara.component
def Table(table: pd.DataFrame, name: str):
    if table.empty:
        solara.Text("No baseline runs in this store: no differences or verdicts.")
        return
    markup = table.to_html(index=False, classes=f"dashboard-{name}", border=0, escape=True)
    solara.HTML(tag="div", unsafe_innerHTML=markup, style={"overflow-x": "auto"})
    solara.Style(TABLE_CSS)


@solara.component
def Charts(opened: Store, picked: list[str]):
    drawn = solara.use_thread(lambda: charts(opened, picked), dependencies=[tuple(picked)])
    if drawn.state == solara.ResultState.ERROR:
        solara.Error(f"The charts could not be drawn: {drawn.error}")
        return
    if drawn.state != solara.ResultState.FINISHED:
        with solara.Row():
            solara.SpinnerSolara(size="40px")
            solara.Text("Drawing the charts (up to a minute for a large store)...")
        return
    for chart in drawn.value:
        with solara.Card(classes=["dashboard-chart"]):
            solara.Image(chart.png, width="100%")
            solara.Text(chart.caption)
