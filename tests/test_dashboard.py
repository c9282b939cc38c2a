"""The dashboard: its scenario pair and results tables, and both pages in a real browser.

The browser tests start ``python -m dashboard`` on a free port and drive Debian's ``chromium``
with Playwright (no browser download; ``.ci/run`` installs chromium). The page "Results" opens a
two-strategy store of the tiny playbook's scenario (tests/tiny_store.py: 300 customers, 2 burn-in
+ 6 measured months, 2 seeds), made in this process before the dashboard starts: the server draws
its charts twice, so it holds fewer arms than the chart and report tests' ``tiny_playbook``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright
from tiny_store import playbook

from dashboard import __main__ as cli
from dashboard.figures import _MAPS, _TRENDS, FONT, TIER_COLOURS, Animated, smallest_text, snapshot
from dashboard.results import (
    ChartImage,
    charts,
    open_store,
    store_names,
    stores,
    summary_table,
    verdict_table,
    who_gets_hurt_lines,
)
from dashboard.results_page import heading
from dashboard.scenario import (
    BASELINE,
    MAIN_LEVERS,
    SCENARIO,
    ScenarioPair,
    Settings,
    at_risk,
    levers,
    overrides,
)
from sim.config import TIERS
from sim.scenario import load_config
from sim.strategies import REGISTRY, title

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IMAGE_PIXELS = """(img) => {
  if (!img.complete || !img.naturalWidth) return "";
  const canvas = document.createElement("canvas");
  [canvas.width, canvas.height] = [img.naturalWidth, img.naturalHeight];
  canvas.getContext("2d").drawImage(img, 0, 0);
  return canvas.toDataURL();
}"""
"""An image's pixels as a data URL, read in the page (ipywidgets show images as blob URLs, new
ones at every render), or "" while it loads."""
FIGURES = ".dashboard-figures img"
NEW_IMAGE = """(before) => {
  const img = document.querySelectorAll(".dashboard-figures img")[1];
  return img && img.src !== before && img.complete && img.naturalWidth > 0;
}"""
"""Whether the trends figure shows a new image, loaded."""
WATCH_FIRST_CHART = """() => {
  const started = performance.now();
  let empty = false;
  const look = () => {
    const chart = document.querySelector(".dashboard-chart img");
    if (!chart) { empty = true; return; }
    if (!empty || window.firstChart) return;
    window.firstChart = {
      seconds: (performance.now() - started) / 1000,
      pending: !!document.querySelector(".dashboard-drawing"),
    };
  };
  window.firstChart = null;
  look();
  new MutationObserver(look).observe(document.body, {childList: true, subtree: true});
}"""
"""Records when the first chart appears once none shows (a new set), and whether others were
still being drawn then."""
WIDEN_SIDEBAR = """() => {
  const line = document.createElement("div");
  line.style.whiteSpace = "nowrap";
  line.textContent = "a long store name, as a folder's path: " + "/results".repeat(20);
  document.querySelector(".v-navigation-drawer .v-card").appendChild(line);
}"""
"""Puts a long unbreakable line into the sidebar (as a long name or path would)."""
LEFT_EDGES = """() => [...document.querySelectorAll(
  "main h2, main h3, main table, main .dashboard-chart, main .v-select")]
  .filter(e => e.offsetParent !== null).map(e => e.getBoundingClientRect().left)"""
"""The left edges of the content's headings, tables, charts and selects."""

# --------------------------------------------------------------------------------------------
# The scenario pair and the tables, without a browser
# --------------------------------------------------------------------------------------------


def test_every_lever_is_a_numeric_parameter_within_its_configured_range():
    for name, params in MAIN_LEVERS.items():
        assert name in REGISTRY
        for lever in levers(name):
            assert lever.name in params
            assert lever.lo <= lever.default <= lever.hi
            assert 0 < lever.step <= max((lever.hi - lever.lo) / 10, 1)
            assert isinstance(lever.default, int | float) and not isinstance(lever.default, bool)


def test_overrides_build_a_validated_scenario_and_a_baseline_on_the_same_seed():
    lever = levers("training")[0]
    settings = Settings(("training",), seed=7, customers=2000).with_value(lever, 80.0)
    scenario = load_config(overrides(settings))
    baseline = load_config(overrides(settings, with_strategies=False))
    assert scenario.strategy["training"].hours == 80.0
    assert not baseline.strategy
    assert scenario.seed == baseline.seed == 7
    assert scenario.population.customers == baseline.population.customers == 2000
    assert scenario.bank == baseline.bank


def test_the_bank_has_the_default_banks_branches_and_managers_per_customer():
    full = load_config([])
    for customers in (1000, 5000, 20_000):
        bank = load_config(overrides(Settings((), customers=customers))).bank
        share = customers / full.population.customers
        assert bank.branches == max(1, round(full.bank.branches * share)), customers
        assert bank.managers == max(1, round(full.bank.managers * share)), customers
    assert load_config(overrides(Settings())).bank.branches == 3  # 5,000 customers


def test_a_step_advances_both_banks_and_only_the_scenario_closes_branches():
    pair = ScenarioPair(Settings())
    assert pair.month == 0 and pair.running
    pair.step()
    assert pair.month == 1
    banks = pair.arms.items()
    closed = {arm: sum(not b.is_open for b in bank.branch_list()) for arm, bank in banks}
    assert closed == {SCENARIO: 1, BASELINE: 0}
    series = pair.series(SCENARIO)
    assert list(series["month"]) == [0, 1]
    assert series["retention"].iloc[0] == 1.0 > series["retention"].iloc[1]
    risky = at_risk(pair.arms[SCENARIO])
    assert 0 < np.count_nonzero(risky) < np.count_nonzero(pair.arms[SCENARIO].customers.active)


def test_the_dashboard_command_serves_the_app_on_the_given_address_without_chatter():
    args = cli.parse(["--port", "9001", "--host", "0.0.0.0"])
    line = cli.command(args.host, args.port)
    assert line[:5] == [sys.executable, "-m", "solara", "run", "dashboard.app"]
    assert line[line.index("--port") + 1] == "9001" and "0.0.0.0" in line
    assert cli.parse([]).port == cli.DEFAULT_PORT == 8765
    assert "--no-check-version" in line  # no "New version of Solara available"
    assert cli.QUIET["SOLARA_THEME_SHOW_BANNER"] == "False"


def test_the_figures_text_is_readable_and_every_tier_shows_on_the_map():
    pair = ScenarioPair(Settings())
    pair.step()
    frame = snapshot(pair)
    city, trends = _MAPS[pair.arms[SCENARIO]], _TRENDS[pair]
    assert smallest_text(city.figure) >= FONT and smallest_text(trends.figure) >= FONT
    assert frame.month == 1 and frame.running
    pixels = np.asarray(PIL.Image.open(io.BytesIO(frame.city_map)).convert("RGB")).astype(int)
    plot = pixels[_inside_axes(city)]  # the map itself, not its legend
    for tier, colour in TIER_COLOURS.items():
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        dots = np.count_nonzero(np.abs(plot - rgb).max(axis=-1) <= 12)
        assert dots >= 50, (tier, dots)  # each tier's dots show through the at-risk halos
    assert len(TIER_COLOURS) == len(TIERS)


def _inside_axes(chart: Animated) -> tuple[slice, slice]:
    """The rows and columns of a chart's PNG inside its axes."""
    box = chart.figure.axes[0].get_window_extent()
    rows, columns = chart._crop
    height = chart.figure.bbox.height
    top, bottom = int(height - box.y1) - rows.start + 2, int(height - box.y0) - rows.start - 2
    return slice(top, bottom), slice(
        int(box.x0) - columns.start + 2, int(box.x1) - columns.start - 2
    )


# --------------------------------------------------------------------------------------------
# Both pages in a browser
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A two-strategy store, the one store of the dashboard's results folder (the dashboard
    lists the stores of its folder)."""
    out = tmp_path_factory.mktemp("dashboard-results")
    return playbook(out, "experiment.name=tiny", "experiment.only=[training,outlet_closure]")


@pytest.fixture(scope="module")
def server(store):
    """The dashboard on a free port, as ``python -m dashboard`` starts it."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    results = store.parent
    command = [sys.executable, "-m", "dashboard", "--port", str(port), "--results", str(results)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}/"
    try:
        _wait_until_it_answers(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def _wait_until_it_answers(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the dashboard stopped: {process.stdout.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the dashboard did not answer at {url} within {seconds} s")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"no {CHROMIUM}: the dashboard's browser tests need Debian's chromium;"
            " install it with: apt-get install -y chromium (.ci/run does)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _open(browser, server: str, width: int = 1600, height: int = 1100):
    """A fresh session of the dashboard at the given window size, its figures shown; and the
    list its console and page errors collect in."""
    context = browser.new_context(viewport={"width": width, "height": height})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.goto(server)
    tab.locator(FIGURES).nth(1).wait_for(timeout=60_000)  # the map and the trends
    return tab, errors


@pytest.fixture
def page(browser, server):
    """A fresh session of the dashboard; fails the test on any console or page error."""
    tab, errors = _open(browser, server)
    yield tab
    tab.context.close()
    assert not errors, errors


@pytest.fixture(params=[(1280, 800), (1920, 1080)], ids=["1280px", "1920px"])
def sized(request, browser, server):
    """A fresh session in a window as wide as a laptop's screen, then as a large monitor's."""
    tab, errors = _open(browser, server, *request.param)
    yield tab
    tab.context.close()
    assert not errors, errors


def _image_hash(image) -> str:
    """A hash of the pixels of the image, once it has loaded."""
    image.wait_for(timeout=90_000)
    deadline = time.monotonic() + 30
    while not (pixels := image.evaluate(IMAGE_PIXELS)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return hashlib.sha256(pixels.encode()).hexdigest()


def _wait_for_change(image, before: str, seconds: float = 60) -> str:
    """The image's new hash once it shows other pixels than ``before``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            now = _image_hash(image)
        except PlaywrightError:  # replaced while read: read the new one
            continue
        if now != before:
            return now
        time.sleep(0.2)
    pytest.fail(f"the image did not change within {seconds} s")


def _box(locator, seconds: float = 30.0) -> dict:
    """The element's box once it is shown: a page that re-renders after a pick replaces its
    elements, whose box reads None until the new one is laid out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(PlaywrightError):
            if (box := locator.bounding_box(timeout=1_000)) is not None:
                return box
        time.sleep(0.1)
    pytest.fail(f"{locator} was not shown within {seconds} s")


def _pick(page, label: str, option: str) -> None:
    """Toggle ``option`` in the multi-select labelled ``label``."""
    page.locator(".v-select", has=page.get_by_text(label, exact=True)).click()
    page.locator(".menuable__content__active .v-list-item", has_text=option).click()
    page.keyboard.press("Escape")


def _options(page, label: str) -> list[str]:
    """The options of the select labelled ``label``, in their order."""
    page.locator(".v-select", has=page.get_by_text(label, exact=True)).click()
    items = page.locator(".menuable__content__active .v-list-item")
    items.first.wait_for()
    shown = [items.nth(i).inner_text().strip() for i in range(items.count())]
    page.keyboard.press("Escape")
    return shown


def _month_shown(page) -> int:
    """The month reached, as the page says it ("Month 6 of 60")."""
    return int(page.locator(".dashboard-month").inner_text().split()[1])


def _beside_the_sidebar(page) -> None:
    """The sidebar ends where the content begins: no element of the content under it."""
    sidebar = _box(page.locator(".v-navigation-drawer"))
    edge = sidebar["x"] + sidebar["width"]
    lefts = page.evaluate(LEFT_EDGES)
    assert lefts and min(lefts) >= edge, (edge, sorted(lefts)[:5])


def test_the_scenario_page_speaks_a_bankers_words_and_shows_month_zero(page):
    assert page.get_by_role("tab", name="Try a scenario").is_visible()
    assert page.get_by_text("Outlet closure", exact=True).first.is_visible()
    for control in ("Count: 1", "Staff moved: 0.5", "Seed", "Simulated customers: 5,000"):
        assert page.get_by_text(control, exact=True).first.is_visible(), control
    assert page.get_by_text("Month 0 of 60", exact=True).is_visible()
    for button in ("Step", "Run", "Reset"):
        assert page.get_by_role("button", name=button).is_visible(), button
    text = page.locator("body").inner_text()
    for chatter in ("Use Threads", "Time:", "Play Interval", "Solara", "Model Parameters"):
        assert chatter not in text, chatter
    strategies = _options(page, "Strategies")
    assert strategies == sorted(title(name) for name in MAIN_LEVERS)  # by title, as read


def test_choosing_a_strategy_and_stepping_change_the_chart(page):
    trends = page.locator(FIGURES).nth(1)
    start = _image_hash(trends)
    _pick(page, "Strategies", "Manager training")
    page.get_by_text("Training and sharing sessions", exact=False).wait_for(timeout=30_000)
    chosen = _wait_for_change(page.locator(FIGURES).nth(1), start)
    page.get_by_role("button", name="Step").click()
    page.get_by_text("Month 1 of 60", exact=True).wait_for(timeout=30_000)
    _wait_for_change(page.locator(FIGURES).nth(1), chosen)
    page.get_by_role("button", name="Run").click()
    page.get_by_text("Month 3 of 60", exact=True).wait_for(timeout=30_000)
    page.get_by_role("button", name="Pause").click()
    page.get_by_role("button", name="Run").wait_for(timeout=30_000)
    paused = _month_shown(page)
    time.sleep(1.0)  # three months' worth of running
    assert paused <= _month_shown(page) <= paused + 1  # at most the month under way when paused
    page.get_by_role("button", name="Reset").click()
    page.get_by_text("Month 0 of 60", exact=True).wait_for(timeout=30_000)


def test_a_month_steps_quickly_with_its_controls_and_readable_figures_in_view(sized):
    """Two strategies chosen: Step, Run and Reset still in the window (whose height is a
    laptop's at 1,280 px); a month steps in well under a second (loosely: a loaded machine may
    be slower); the figures' smallest text shows at 12 px or more."""
    page = sized
    _pick(page, "Strategies", "Manager training")
    page.get_by_text("Training and sharing sessions", exact=False).wait_for(timeout=30_000)
    page.get_by_role("button", name="Step").wait_for()
    window = page.viewport_size
    for name in ("Step", "Run", "Reset"):
        box = _box(page.get_by_role("button", name=name))
        assert box["y"] >= 0 and box["y"] + box["height"] <= window["height"], (name, box)
        assert box["x"] + box["width"] <= window["width"], (name, box)
    seconds = []
    for month in (1, 2, 3):
        source = page.locator(FIGURES).nth(1).get_attribute("src")
        started = time.monotonic()
        page.get_by_role("button", name="Step").click()
        page.wait_for_function(NEW_IMAGE, arg=source, timeout=30_000)
        page.get_by_text(f"Month {month} of 60", exact=True).wait_for(timeout=30_000)
        seconds.append(time.monotonic() - started)
    print(f"a month in the browser at {window['width']} px: {[round(t, 2) for t in seconds]} s")
    assert min(seconds) < 2.0, seconds
    for i in range(2):
        shown, natural = (
            page.locator(FIGURES).nth(i).evaluate("img => [img.clientWidth, img.naturalWidth]")
        )
        assert FONT * Animated.DPI / 72 * shown / natural >= 12, (i, shown, natural)


def test_the_results_page_shows_the_newest_store_beside_the_sidebar(sized, store):
    """At 1,280 and 1,920 px the sidebar leaves the content whole; the store is named by its
    experiment; the first chart shows while the others are still being drawn."""
    page = sized
    page.evaluate(WATCH_FIRST_CHART)
    page.get_by_role("tab", name="Results").click()
    page.get_by_text("tiny: 2 strategies against the baseline, 6 months").wait_for(timeout=30_000)
    page.locator(".dashboard-chart img").first.wait_for(timeout=60_000)
    first = page.evaluate("window.firstChart")
    print(f"first chart {first['seconds']:.1f} s after opening Results")
    assert first["seconds"] <= 30, first  # loosely: a few seconds on an idle machine
    assert page.locator(".v-select__selection").first.inner_text() == "tiny"
    page.locator(".dashboard-drawing").wait_for(state="detached", timeout=90_000)
    _beside_the_sidebar(page)
    page.evaluate(WIDEN_SIDEBAR)
    time.sleep(0.3)  # a frame or two for the layout
    _beside_the_sidebar(page)


def test_the_results_page_shows_a_stores_verdicts_and_the_arm_picker_redraws(page, store):
    page.get_by_role("tab", name="Results").click()
    page.get_by_text("tiny: 2 strategies against the baseline, 6 months").wait_for(timeout=30_000)
    assert page.get_by_label("Or a folder").input_value() == str(store)
    table = page.locator("table.dashboard-verdicts")
    rows = table.locator("tbody tr")
    assert rows.count() == 2
    assert {rows.nth(i).locator("td").first.inner_text() for i in range(2)} == {
        "Manager training",
        "Outlet closure",
    }
    assert "Retention at 6 months" in table.locator("thead").inner_text()
    hurt = page.get_by_text("Who gets hurt (exits against the baseline").locator(
        "xpath=following::ul[1]"
    )
    assert hurt.locator("li").count() == 2 and "Outlet closure: " in hurt.inner_text()
    before = _image_hash(page.locator(".dashboard-chart img").first)
    page.evaluate(WATCH_FIRST_CHART)
    _pick(page, "Strategies in the charts (none: those with the largest effects)", "Outlet closure")
    _wait_for_change(page.locator(".dashboard-chart img").first, before, seconds=90)
    first = page.evaluate("window.firstChart")
    print(f"first chart of the new pick after {first['seconds']:.1f} s")
    assert first["pending"], first  # shown while the others were still being drawn


# --------------------------------------------------------------------------------------------
# The results tables, on the same store
# --------------------------------------------------------------------------------------------


def test_the_tables_label_each_arm_and_kpi_for_the_stores_horizon(store):
    opened = open_store(store)
    assert opened.arms[0] == "baseline" and set(opened.others) == {"training", "outlet_closure"}
    verdicts = verdict_table(opened)
    assert "Δ Retention at 6 months (pts) (95% CI)" in verdicts.columns
    assert set(verdicts["Strategy"]) == {"Manager training", "Outlet closure"}
    summary = summary_table(opened)
    assert list(summary["Strategy"])[0] == "Baseline" and set(summary["Runs"]) == {"2"}
    assert stores(store.parent) == [store]
    said = who_gets_hurt_lines(opened)  # the report's sentences, one per strategy
    assert sorted(line.split(": ")[0] for line in said) == ["Manager training", "Outlet closure"]
    assert all("customers at the start over 6 months" in line for line in said)


def test_stores_are_listed_newest_first_and_named_by_their_experiment(tmp_path):
    for age, (folder, name) in enumerate([("b", "second"), ("a", "first"), ("c", "first")]):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "experiment.yaml").write_text(f"experiment:\n  name: {name}\n")
        os.utime(tmp_path / folder / "experiment.yaml", (1e9 - age * 100, 1e9 - age * 100))
    (tmp_path / "notes").mkdir()  # not a store
    found = stores(tmp_path)
    assert [p.name for p in found] == ["b", "a", "c"]  # the most recently written first
    assert list(store_names(found)) == ["second", "first (a)", "first (c)"]


def test_the_heading_counts_the_strategies_in_words(store):
    opened = open_store(store)
    assert heading(opened, "tiny") == "tiny: 2 strategies against the baseline, 6 months"
    one = dataclasses.replace(opened, arms=opened.arms[:2])
    assert heading(one, "tiny") == "tiny: 1 strategy against the baseline, 6 months"


def test_the_charts_come_one_at_a_time_until_cancelled(store):
    opened = open_store(store)
    assert open_store(store) is opened  # read once until the store changes
    cancel = threading.Event()
    drawn = charts(opened, ["training"], cancel)
    first = next(drawn)
    assert isinstance(first, ChartImage) and first.png.startswith(b"\x89PNG")
    cancel.set()
    assert list(drawn) == []  # stopped before the next chart
    again = next(charts(opened, ["training"]))
    assert again is not first and again.title == first.title  # a set left unfinished: not kept
