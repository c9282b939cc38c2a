"""The page "Try a scenario": choose strategies and levers, then step the scenario and its
baseline month by month with Mesa's SolaraViz (play, step, reset) and watch the map and charts."""

from __future__ import annotations

import dataclasses
import html

import solara
from mesa.visualization import SolaraViz

from dashboard.figures import city_map_chart, trends_chart
from dashboard.scenario import SCENARIO, Lever, ScenarioPair, Settings, description, levers
from sim.params import ConfigError
from sim.strategies import REGISTRY, title

HIDE_EMPTY_CARD = (
    ".v-card:has(> .v-card__text > .v-sheet:empty) { display: none; }"
    " .v-tabs:not(:has(.v-tab ~ .v-tab)) { display: none; }"
)
"""Hides SolaraViz's card "Model Parameters", empty here (the card "Scenario" holds them), and
its tab bar of one page ("PAGE 0")."""
settings = solara.reactive(Settings())
"""The controls' choice (one per browser session)."""


def CityMap(model: ScenarioPair):
    months = f"{model.month} month{'' if model.month == 1 else 's'}"
    heading = f"The scenario's city after {months}"
    png = solara.use_memo(
        lambda: city_map_chart(model.arms[SCENARIO], heading).png(), [model, model.month]
    )
    return solara.Image(png, format="png")


def Trends(model: ScenarioPair):
    png = solara.use_memo(lambda: trends_chart(model).png(), [model, model.month])
    return solara.Image(png, format="png")


@solara.component
def ScenarioPage():
    chosen = settings.value
    model, error = solara.use_memo(lambda: _built(chosen), [chosen])
    solara.Style(HIDE_EMPTY_CARD)
    with solara.Sidebar():
        Controls()
    if error:
        solara.Error(error)
        return
    SolaraViz(
        model,
        components=[(CityMap, 0), (Trends, 0)],
        model_params={"settings": chosen},
        name="Try a scenario",
        play_interval=150,
    ).key(repr(chosen))


def _built(chosen: Settings) -> tuple[ScenarioPair | None, str]:
    """The model pair of the settings, or the config's refusal."""
    try:
        return ScenarioPair(chosen), ""
    except ConfigError as exc:
        return None, str(exc)


@solara.component
def Controls():
    chosen = settings.value
    titles = {title(name): name for name in REGISTRY}
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
    solara.Text(lever.unit, style={"font-size": "0.8em", "color": "#555"})


def _set(**changes) -> None:
    settings.set(dataclasses.replace(settings.value, **changes))
