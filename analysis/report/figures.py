"""The report's figures: ``analysis.charts.draw_all`` into ``figures/``, in a forked child
process when that keeps this one thread-free, with the images of earlier reports removed, and
their progress shown (:class:`ChartProgress`)."""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
import traceback
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

from runner.store import forget_locks
from sim.folders import claim, mark, marker, refuse_links
from sim.progress import PROGRESS, bar
from sim.resources import die_with_parent

log = logging.getLogger(__name__)


@dataclass
class ChartFile:
    """A drawn chart (``analysis.charts.Chart`` without its matplotlib figure)."""

    name: str
    title: str
    caption: str
    png: Path
    svg: Path

    @classmethod
    def of(cls, chart) -> ChartFile:
        return cls(
            str(chart.name), str(chart.title), str(chart.caption), Path(chart.png), Path(chart.svg)
        )


class ChartProgress:
    """``draw_all``'s ``on_chart``: before each chart generator that applies to the data, a
    step of a progress bar on a terminal, else a logged line "Charts (3 of 9): tradeoff…" (with
    the progress bars: a command shows it on stderr); ``plan`` (``draw_all``'s ``on_plan``) is
    told which apply, so a chart that does not (the sweep charts without a sweep) is neither
    counted nor named. It works in the process that draws (a forked child, too), creating its
    bar there on the first chart."""

    def __init__(self) -> None:
        self.done = 0
        self.total: int | None = None
        self.bar = None

    def plan(self, names: list[str]) -> None:
        self.total = len(names)

    def __call__(self, name: str) -> None:
        from analysis.charts import CHARTS

        self.done += 1
        total = len(CHARTS) if self.total is None else self.total
        if not sys.stderr.isatty():
            words = str(name).replace("_", " ")
            log.info("Charts (%d of %d): %s…", self.done, total, words, extra=PROGRESS)
            return
        if self.bar is None:
            self.bar = bar(total, "charts", leave=False)
        self.bar.set_postfix_str(str(name), refresh=False)
        self.bar.update()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def draw_figures(
    results: Path,
    tables: dict[str, pd.DataFrame],
    figures: Path,
    arms: list[str] | None = None,
    on_chart=None,
) -> tuple[list[ChartFile], str]:
    """The charts drawn into ``figures`` (stale images of earlier reports removed) and, if
    drawing failed, the traceback. ``arms`` chooses the arms of the charts (all by default);
    ``on_chart(name)`` is called before each chart generator, in the process that draws.

    Drawing happens in a forked child process when this process has no helper threads yet: the
    charts read the runs' Parquet files, which starts Arrow's thread pool, and the process must
    stay thread-free to fork the workers of a next experiment safely (``runner/__init__``).
    A process that has threads already gains nothing from that (and should not fork): it draws.
    """
    if (
        "fork" not in multiprocessing.get_all_start_methods()
        or multiprocessing.current_process().daemon  # may not have children
        or _has_threads()
    ):
        return _draw(results, tables, figures, arms, on_chart)
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    args = (os.getpid(), send, results, tables, figures, arms, on_chart)
    child = context.Process(target=_draw_in_child, args=args)
    child.start()
    send.close()
    try:
        charts, failure = receive.recv()
    except EOFError:
        charts, failure = [], "RuntimeError: the process drawing the figures died\n"
    finally:
        receive.close()
        child.join()
    return charts, failure


def _has_threads() -> bool:
    try:
        return len(os.listdir("/proc/self/task")) > 1  # native threads too (Linux)
    except OSError:
        return threading.active_count() > 1


def _draw(results: Path, tables, figures: Path, arms, on_chart) -> tuple[list[ChartFile], str]:
    try:
        from analysis import charts as plots

        on_save = partial(claim, figures)
        plan = on_chart.plan if isinstance(on_chart, ChartProgress) else None
        drawn = plots.draw_all(
            results, tables, figures, arms=arms, on_chart=on_chart, on_save=on_save, on_plan=plan
        )
        charts = [ChartFile.of(c) for c in drawn]
        _remove_stale(figures, charts)
        return charts, ""
    except Exception:  # the statistics are worth a report without figures
        return [], traceback.format_exc()
    finally:
        if isinstance(on_chart, ChartProgress):
            on_chart.close()


def _draw_in_child(parent: int, send, results: Path, tables, figures: Path, arms, on_chart):
    """Draw in the forked child: it dies with its parent and leaves the parent's experiment
    locks to the parent (which keeps holding them), so a killed report leaves no process behind
    and nothing holding the experiment's folder."""
    forget_locks()
    die_with_parent(parent)
    try:
        send.send(_draw(results, tables, figures, arms, on_chart))
    finally:
        send.close()


def _listed(figures: Path) -> list[str]:
    return (marker(figures, "figures") or {}).get("files", [])


def _remove_stale(figures: Path, charts: list[ChartFile]) -> None:
    """Remove the images an earlier report drew (listed in the marker of ``figures``) and this one
    did not, then list this one's: an image the project did not draw stays, and nothing is
    removed through a symbolic link (refused: ConfigError)."""
    refuse_links(figures.parent, [figures.name], "report")
    if not figures.is_dir():
        return
    drawn = {p.name for c in charts for p in (c.png, c.svg)}
    for name in set(_listed(figures)) - drawn:
        path = figures / name
        if path.is_file() and not path.is_symlink():
            path.unlink()
    mark(figures, "figures", files=sorted(drawn))
