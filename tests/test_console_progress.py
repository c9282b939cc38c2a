"""What a comparison prints while it runs and when it ends: the progress bar's ETA, the charts'
progress, the note on AUM retention above 100% and counts in the singular.

The console summary is read off the tiny playbook store (tests/tiny_store.py), its tables
changed where a case needs a value the tiny runs do not have.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pandas as pd
import pytest

from analysis.report import Written, console, statistics
from analysis.report.figures import ChartFile, ChartProgress
from analysis.report.labels import Labels
from runner.store import experiment_meta, load
from sim.kpis import counted
from sim.progress import MIN_STEPS, WARM_UP, bar, eta_after


class Clock:
    """A clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def timed_bar(total: int) -> tuple:
    """A progress bar on a clock the test moves, writing to a string, refreshed every step."""
    clock = Clock()
    progress = bar(total, "runs")
    progress.fp = io.StringIO()
    progress.sp = progress.status_printer(progress.fp)
    progress._time = clock
    progress.start_t = progress.last_print_t = 0.0
    progress.mininterval, progress.miniters = 0, 0
    return progress, clock


def eta_text(progress) -> str:
    return str(progress).split("ETA ")[1].split(",")[0].rstrip("]")


def test_no_eta_until_the_warm_up_is_done_then_the_later_rate():
    """220 runs on 2 workers: the first two take a minute (numba compiles in each worker), then
    a run ends every second. tqdm read 01:00 a run off the first and said about 3:39:00 left;
    the bar says when it will know, then the time left at the later rate."""
    progress, clock = timed_bar(220)
    show = eta_after(220)
    assert show == 22 == max(MIN_STEPS, round(WARM_UP * 220))
    ends = [60.0, 60.0, *(60.0 + k for k in range(1, 219))]
    seen = {}
    for done, end in enumerate(ends, 1):
        clock.now = end
        progress.update()
        seen[done] = eta_text(progress)
    for done in range(1, show):
        assert seen[done] == "once 22/220 done", done  # no time: no wild guess
    assert ":" not in seen[1]
    left = {done: 220 - done for done in (22, 50, 100, 200)}  # a second a run from now on
    for done, seconds in left.items():
        minutes, rest = map(int, seen[done].split(":"))
        assert minutes * 60 + rest == pytest.approx(seconds, abs=2), done
    assert seen[220] == "00:00"
    progress.close()


def test_a_short_bar_waits_a_few_steps_and_a_bar_without_total_has_no_eta():
    assert eta_after(10) == MIN_STEPS and eta_after(3) == 3 and eta_after(1) == 1
    assert eta_after(None) is None and eta_after(0) is None
    progress, clock = timed_bar(10)
    for done in range(1, 11):
        clock.now = float(done)
        progress.update()
        assert (":" in eta_text(progress)) == (done >= MIN_STEPS), done
    progress.close()
    quiet = bar(5, "runs", enabled=False)  # a disabled bar still counts, silently
    quiet.update()
    quiet.close()


def test_chart_progress_counts_and_names_only_the_charts_that_apply(caplog):
    """A comparison without a sweep drew 9 charts and said "Charts (5 of 11): sweep heatmap…";
    now the count is of the charts that apply, and a sweep chart is not named."""
    progress = ChartProgress()
    progress.plan(["retention_over_time", "forest", "churn"])
    with caplog.at_level(logging.INFO, logger="analysis.report.figures"):
        for name in ("retention_over_time", "forest", "churn"):
            progress(name)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "Charts (1 of 3): retention over time…",
        "Charts (2 of 3): forest…",
        "Charts (3 of 3): churn…",
    ]


@pytest.fixture(scope="module")
def playbook(tiny_playbook):
    """(tables, runs, experiment, labels) of the tiny playbook store."""
    runs, meta = load(tiny_playbook), experiment_meta(tiny_playbook)
    return statistics(tiny_playbook), runs, meta.get("experiment") or {}, Labels.of(runs, meta)


def with_aum(tables: dict, mean: float, high: float) -> dict:
    summary = tables["summary"].copy()
    summary["aum_retention"], summary["aum_retention_ci_high"] = mean, high
    summary["aum_retention_ci_low"] = 2 * mean - high
    return {**tables, "summary": summary}


def test_an_aum_retention_above_100_percent_is_explained_under_the_means(playbook):
    tables, runs, experiment, labels = playbook
    lines = console.summary(with_aum(tables, 1.021, 1.03), runs, experiment, labels)
    text = "\n".join(lines)
    assert "102.1" in text  # the means table shows it
    assert "AUM retention can exceed 100%" in text
    note = next(i for i, line in enumerate(lines) if line.startswith("AUM retention can"))
    means = next(i for i, line in enumerate(lines) if line.startswith("Means over seeds"))
    assert note == means + 1  # right under the table
    assert "balances of those who stay grow" in " ".join(lines[note : note + 3])
    within = console.summary(with_aum(tables, 0.95, 0.97), runs, experiment, labels)
    assert not any("can exceed 100%" in line for line in within)  # nothing to explain
    reaching = console.summary(with_aum(tables, 0.99, 1.01), runs, experiment, labels)
    assert any("can exceed 100%" in line for line in reaching)  # its CI reaches past 100%


def one_arm(tables: dict, arm: str) -> dict:
    """The tables as if the experiment had the baseline and ``arm`` only."""
    kept = {}
    for name, table in tables.items():
        if isinstance(table, pd.DataFrame) and "arm" in table.columns:
            table = table[table["arm"].isin(["baseline", arm])]
            if "family_size" in table.columns:
                table = table.assign(family_size=1)
        kept[name] = table
    return kept


def test_one_strategy_is_one_in_the_verdicts(playbook):
    tables, runs, experiment, labels = playbook
    lines = console.summary(one_arm(tables, "outlet_closure"), runs, experiment, labels)
    text = " ".join(lines)
    assert "for the 1 strategy of each KPI" in text and "1 strategies" not in text


def test_one_strategy_is_one_in_the_executive_summary(playbook):
    tables, runs, experiment, labels = playbook
    lines = console.executive(one_arm(tables, "outlet_closure"), experiment, labels, 2)
    text = " ".join(lines)
    assert "1 strateg" in text and "1 strategies" not in text


def test_one_chart_and_one_run_are_singular(tmp_path: Path):
    chart = ChartFile("forest", "Forest", "What it shows.", tmp_path / "a.png", tmp_path / "a.svg")
    written = Written(tmp_path / "r.html", tmp_path / "r.md", tmp_path / "figures", [chart])
    assert f"Figures: {tmp_path / 'figures'} (1 chart)" in console.written(written)
    written.charts = [chart, chart]
    assert f"Figures: {tmp_path / 'figures'} (2 charts)" in console.written(written)
    assert [counted(n, "run") for n in (1, 0, 1000)] == ["1 run", "0 runs", "1,000 runs"]
    assert counted(2, "strategy", "strategies") == "2 strategies"
