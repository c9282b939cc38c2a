"""The page "Results": open a results store, read its verdicts and means, and see its charts for
the arms picked, each shown as soon as it is drawn."""

from __future__ import annotations

import html
import logging
from pathlib import Path

import pandas as pd
import solara

from dashboard.results import (
    Store,
    charts,
    open_store,
    store_names,
    stores,
    summary_table,
    verdict_table,
    who_gets_hurt_lines,
)
from sim.strategies import title

TABLE_CSS = """
.dashboard-verdicts th, .dashboard-summary th { text-align: left; padding: 4px 10px; }
.dashboard-verdicts td, .dashboard-summary td { padding: 2px 10px; }
.dashboard-summary td, .dashboard-verdicts td:first-child { white-space: nowrap; }
.dashboard-verdicts tr:nth-child(even) { background: #f3f3f3; }
.dashboard-summary tr:nth-child(even) { background: #f3f3f3; }
.dashboard-chart img { max-width: min(100%, 1100px); width: auto; height: auto; }
"""
logger = logging.getLogger(__name__)
store_path = solara.reactive("")
"""The folder chosen (one per browser session); none: the most recently written store."""


@solara.component
def ResultsPage():
    names = store_names(stores())
    shown = store_path.value or str(next(iter(names.values()), ""))
    opened, error = solara.use_memo(lambda: _opened(shown), [shown])
    chosen = next((name for name, path in names.items() if str(path) == shown), None)
    with solara.Sidebar(), solara.Card("Results store"):
        solara.Select(
            "Stored comparisons (newest first)",
            values=list(names),
            value=chosen,
            on_value=lambda name: store_path.set(str(names[name])),
        )
        solara.InputText(
            "Or a folder", value=shown, on_value=store_path.set, continuous_update=False
        )
    if error:
        solara.Warning(error)
        return
    StoreView(opened).key(str(opened.path))


def _opened(path: str) -> tuple[Store | None, str]:
    """The store, or why it cannot be opened (any failure: a store of another version may fail
    anywhere in its statistics, and the page says so rather than going blank)."""
    if not path:
        return None, "No results store yet: run `./testbed compare`, or type a folder."
    try:
        return open_store(Path(path)), ""
    except (ValueError, OSError) as exc:
        return None, f"Cannot open {path}: {exc}"
    except Exception as exc:  # noqa: BLE001 - shown on the page, logged in full
        logger.exception("cannot open %s", path)
        return None, f"Cannot open {path}: {type(exc).__name__}: {exc}"


def heading(opened: Store, name: str) -> str:
    """The store's heading: its name, how many strategies and the horizon."""
    n = len(opened.others)
    strategies = f"{n} strateg{'y' if n == 1 else 'ies'}"
    return f"{name}: {strategies} against the baseline, {opened.months} months"


@solara.component
def StoreView(opened: Store):
    picked, set_picked = solara.use_state([])
    titles = {title(arm): arm for arm in opened.others}
    name = next(iter(store_names([opened.path])))
    Heading(heading(opened, name))
    solara.Text(str(opened.path), style={"color": "#555"})
    Heading("Verdicts against the baseline, on the same seeds", level=3)
    Table(verdict_table(opened), "verdicts")
    if said := who_gets_hurt_lines(opened):
        Heading("Who gets hurt (exits against the baseline, customers at the start)", level=3)
        items = "".join(f"<li>{html.escape(line)}</li>" for line in said)
        solara.HTML(tag="ul", unsafe_innerHTML=items)
    Heading("Means per strategy (95% CIs)", level=3)
    Table(summary_table(opened), "summary")
    solara.SelectMultiple(
        "Strategies in the charts (none: those with the largest effects)",
        [title(arm) for arm in picked],
        sorted(titles),
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
    """The charts, each shown as soon as it is drawn (a thread draws them one at a time; a new
    pick stops it between two charts and starts again)."""

    def draw(cancel):
        drawn = []
        for chart in charts(opened, picked, cancel):
            drawn.append(chart)
            yield tuple(picked), list(drawn)

    result = solara.use_thread(draw, dependencies=[tuple(picked)], intrusive_cancel=False)
    if result.state == solara.ResultState.ERROR:
        solara.Error(f"The charts could not be drawn: {result.error}")
        return
    done = result.state == solara.ResultState.FINISHED
    shown, drawn = result.value or ((), [])
    for chart in drawn if shown == tuple(picked) else []:  # none of an earlier pick
        with solara.Card(classes=["dashboard-chart"]):
            solara.Image(chart.png)
            solara.Text(chart.caption)
    if not done:
        with solara.Row(classes=["dashboard-drawing"]):
            solara.SpinnerSolara(size="40px")
            solara.Text("Drawing the next chart...")
