"""The dashboard: its scenario pair and results tables, and both pages in a real browser.

The browser tests start ``python -m dashboard`` on a free port and drive Debian's ``chromium``
with Playwright (no browser download; ``.ci/run`` installs chromium). The page "Results" opens a
two-strategy store of the tiny playbook's scenario (tests/tiny_store.py: 300 customers, 2 burn-in
+ 6 measured months, 2 seeds), made in this process before the dashboard starts: the server draws
its charts twice, so it holds fewer arms than the chart and report tests' ``tiny_playbook``.
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright
from tiny_store import playbook

from dashboard import __main__ as cli
from dashboard.results import open_store, stores, summary_table, verdict_table
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
from sim.scenario import load_config
from sim.strategies import REGISTRY

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


def test_a_step_advances_both_banks_and_only_the_scenario_closes_branches():
    pair = ScenarioPair(Settings(("outlet_closure",), customers=2000))
    assert pair.month == 0 and pair.running
    pair.step()
    assert pair.month == 1
    banks = pair.arms.items()
    closed = {arm: sum(not b.is_open for b in bank.branch_list()) for arm, bank in banks}
    assert closed == {SCENARIO: 2, BASELINE: 0}
    series = pair.series(SCENARIO)
    assert list(series["month"]) == [0, 1]
    assert series["retention"].iloc[0] == 1.0 > series["retention"].iloc[1]
    risky = at_risk(pair.arms[SCENARIO])
    assert 0 < np.count_nonzero(risky) < np.count_nonzero(pair.arms[SCENARIO].customers.active)


def test_the_dashboard_command_serves_the_app_on_the_given_address():
    args = cli.parse(["--port", "9001", "--host", "0.0.0.0"])
    line = cli.command(args.host, args.port)
    assert line[:5] == [sys.executable, "-m", "solara", "run", "dashboard.app"]
    assert line[line.index("--port") + 1] == "9001" and "0.0.0.0" in line
    assert cli.parse([]).port == cli.DEFAULT_PORT == 8765


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


@pytest.fixture
def page(browser, server):
    """A fresh session of the dashboard; fails the test on any console or page error."""
    context = browser.new_context(viewport={"width": 1600, "height": 1100})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.goto(server)
    tab.locator("img").nth(1).wait_for(timeout=60_000)  # the map and the trends
    yield tab
    context.close()
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
        time.sleep(0.5)
    pytest.fail(f"the image did not change within {seconds} s")


def _pick(page, label: str, option: str) -> None:
    """Toggle ``option`` in the multi-select labelled ``label``."""
    page.locator(".v-select", has=page.get_by_text(label, exact=True)).click()
    page.locator(".menuable__content__active .v-list-item", has_text=option).click()
    page.keyboard.press("Escape")


def test_the_scenario_page_loads_with_its_controls_map_and_charts(page):
    assert page.get_by_role("tab", name="Try a scenario").is_visible()
    assert page.get_by_text("Outlet closure", exact=True).first.is_visible()
    for control in ("Count: 2", "Staff moved: 0.5", "Seed", "Simulated customers: 5,000"):
        assert page.get_by_text(control, exact=True).first.is_visible(), control
    assert page.get_by_role("button", name="Step").is_visible()


def test_choosing_a_strategy_and_stepping_change_the_chart(page):
    trends = page.locator("img").nth(1)
    start = _image_hash(trends)
    _pick(page, "Strategies", "Manager training")
    page.get_by_text("Training and sharing sessions", exact=False).wait_for(timeout=30_000)
    chosen = _wait_for_change(page.locator("img").nth(1), start)
    page.get_by_role("button", name="Step").click()
    page.get_by_text("Time: 1.0").wait_for(timeout=30_000)
    _wait_for_change(page.locator("img").nth(1), chosen)


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
    before = _image_hash(page.locator(".dashboard-chart img").first)
    _pick(page, "Strategies in the charts (none: those with the largest effects)", "Outlet closure")
    _wait_for_change(page.locator(".dashboard-chart img").first, before, seconds=90)


# --------------------------------------------------------------------------------------------
# The results tables, on the same store
# --------------------------------------------------------------------------------------------


def test_the_tables_label_each_arm_and_kpi_for_the_stores_horizon(store):
    opened = open_store(store)
    assert opened.arms[0] == "baseline" and set(opened.others) == {"training", "outlet_closure"}
    verdicts = verdict_table(opened)
    assert "Δ Retention at 6 months (pts)" in verdicts.columns
    assert set(verdicts["Strategy"]) == {"Manager training", "Outlet closure"}
    summary = summary_table(opened)
    assert list(summary["Strategy"])[0] == "Baseline" and set(summary["Runs"]) == {"2"}
    assert stores(store.parent) == [store]
