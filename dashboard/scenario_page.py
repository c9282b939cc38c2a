"""The page "Try a scenario": choose strategies and levers (left), then step or run the scenario
and its baseline month by month (the buttons above the figures) and watch the map and charts.

The pair is a Mesa model (:class:`~dashboard.scenario.ScenarioPair`) stepped here rather than by
Mesa's SolaraViz, whose controls speak of threads and "Time" and whose layout left half the page
empty: a month is stepped and both figures encoded in one go (:func:`~dashboard.figures.snapshot`)
and the page receives the two PNGs (:class:`~dashboard.figures.Frame`).
"""

from __future__ import annotations

import dataclasses
import html
import threading

import solara

from dashboard.figures import Frame, snapshot
from dashboard.scenario import (
    AT_RISK_RULE,
    MAIN_LEVERS,
    Lever,
    ScenarioPair,
    Settings,
    description,
    levers,
)
from sim.params import ConfigError
from sim.strategies import title

RUN_PAUSE = 0.3
"""Seconds between two months while the scenario runs (besides the month's own time)."""
FIGURES_CSS = """
.dashboard-figures {
  display: grid; grid-template-columns: repeat(2, minmax(0, 680px)); gap: 16px;
}
.dashboard-figures img { width: 100%; height: auto; }
.dashboard-caption { font-size: 13px; color: #444; margin: 4px 0 0 0; }
"""
settings = solara.reactive(Settings())
"""The controls' choice (one per browser session)."""


@solara.component
def ScenarioPage():
    chosen = settings.value
    resets, set_resets = solara.use_state(0)
    pair, error = solara.use_memo(lambda: _built(chosen), [chosen, resets])
    with solara.Sidebar():
        Controls()
    if error:
        solara.Error(error)
        return
    Run(pair, on_reset=lambda: set_resets(resets + 1)).key(f"{chosen!r} {resets}")


def _built(chosen: Settings) -> tuple[ScenarioPair | None, str]:
    """The model pair of the settings, or the config's refusal."""
    try:
        return ScenarioPair(chosen), ""
    except ConfigError as exc:
        return None, str(exc)


@solara.component
def Run(pair: ScenarioPair, on_reset):
    """The month reached, Step / Run / Reset, and the figures of the month reached."""
    lock = solara.use_memo(threading.Lock, [])
    first = solara.use_memo(lambda: _advanced(pair, lock, months=0), [])
    frame, set_frame = solara.use_state(first)
    running, set_running = solara.use_state(False)

    def step():
        set_frame(_advanced(pair, lock))

    def run(cancel: threading.Event):
        while running and pair.running and not cancel.is_set():
            set_frame(_advanced(pair, lock))
            cancel.wait(RUN_PAUSE)
        if not cancel.is_set():
            set_running(False)

    solara.use_thread(run, dependencies=[running], intrusive_cancel=False)
    solara.Style(FIGURES_CSS)
    with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
        solara.HTML(
            tag="h2",
            unsafe_innerHTML=_month(frame),
            classes=["dashboard-month"],
            style={"margin": "0 16px 0 0", "font-size": "22px"},
        )
        over = not frame.running
        solara.Button("Step", on_click=step, color="primary", disabled=running or over)
        solara.Button(
            "Pause" if running else "Run",
            on_click=lambda: set_running(not running),
            color="primary",
            disabled=over and not running,
        )
        solara.Button("Reset", on_click=on_reset, outlined=True, disabled=running)
        solara.Text("Run: one month after another until you pause.", style={"color": "#555"})
    with solara.Div(classes=["dashboard-figures"]):
        with solara.Column(gap="0"):
            solara.Image(frame.city_map, format="png")
            solara.HTML(tag="p", unsafe_innerHTML=MAP_CAPTION, classes=["dashboard-caption"])
        with solara.Column(gap="0"):
            solara.Image(frame.trends, format="png")
            solara.HTML(tag="p", unsafe_innerHTML=TRENDS_CAPTION, classes=["dashboard-caption"])


MAP_CAPTION = html.escape(
    "Customers still with the bank, by tier, and the branches. An orange halo marks a customer"
    f" {AT_RISK_RULE}."
)
TRENDS_CAPTION = html.escape(
    "The scenario's difference from the baseline (the black zero line), on the same seed and"
    " customers; each title gives the difference now, then the scenario's level against the"
    " baseline's."
)


def _advanced(pair: ScenarioPair, lock: threading.Lock, months: int = 1) -> Frame:
    """Step the pair ``months`` months (none at the end of its run) and draw it."""
    with lock:
        for _ in range(months):
            if pair.running:
                pair.step()
        return snapshot(pair)


def _month(frame: Frame) -> str:
    end = "" if frame.running else ": the end of the run"
    return f"Month {frame.month} of {frame.months}{end}"


@solara.component
def Controls():
    chosen = settings.value
    titles = {title(name): name for name in sorted(MAIN_LEVERS, key=title)}
    with solara.Card("Scenario"):
        solara.SelectMultiple(
            "Strategies",
            [title(name) for name in chosen.strategies],
            list(titles),
            on_value=lambda picked: _set(strategies=tuple(titles[t] for t in picked)),
        )
        for name in chosen.strategies:
            about = f"<b>{html.escape(title(name))}</b>: {html.escape(description(name))}"
            solara.HTML(tag="p", unsafe_innerHTML=about)
            for lever in levers(name):
                LeverSlider(lever)
        solara.InputInt("Seed", value=chosen.seed, on_value=lambda seed: _set(seed=seed))
        solara.SliderInt(
            f"Simulated customers: {chosen.customers:,}",
            value=chosen.customers,
            min=1_000,
            max=20_000,
            step=1_000,
            on_value=lambda n: _set(customers=n),
        )
        solara.Text("A change rebuilds both banks at month 0, on the same seed.")


@solara.component
def LeverSlider(lever: Lever):
    value = settings.value.value(lever)
    slider = solara.SliderInt if lever.integer else solara.SliderFloat
    slider(
        f"{lever.label}: {value:g}",
        value=value,
        min=lever.lo,
        max=lever.hi,
        step=lever.step,
        on_value=lambda v: settings.set(settings.value.with_value(lever, v)),
    )
    solara.Text(lever.unit, style={"font-size": "13px", "color": "#555"})


def _set(**changes) -> None:
    settings.set(dataclasses.replace(settings.value, **changes))
