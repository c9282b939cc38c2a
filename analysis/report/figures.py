"""The report's figures: ``analysis.charts.draw_all`` into ``figures/``, in a forked child
process when that keeps this one thread-free, with the images of earlier reports removed."""

from __future__ import annotations

import multiprocessing
import os
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


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


def draw_figures(
    results: Path, tables: dict[str, pd.DataFrame], figures: Path
) -> tuple[list[ChartFile], str]:
    """The charts drawn into ``figures`` (stale images of earlier reports removed) and, if
    drawing failed, the traceback.

    Drawing happens in a forked child process when this process has no helper threads yet: the
    charts read the runs' Parquet files, which starts Arrow's thread pool, and the process must
    stay thread-free to fork the workers of a next experiment safely (``experiments/__init__``).
    A process that has threads already gains nothing from that (and should not fork): it draws.
    """
    if (
        "fork" not in multiprocessing.get_all_start_methods()
        or multiprocessing.current_process().daemon  # may not have children
        or _has_threads()
    ):
        return _draw(results, tables, figures)
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_draw_in_child, args=(send, results, tables, figures))
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


def _draw(results: Path, tables, figures: Path) -> tuple[list[ChartFile], str]:
    try:
        from analysis import charts as plots

        charts = [ChartFile.of(c) for c in plots.draw_all(results, tables, figures)]
        _remove_stale(figures, charts)
        return charts, ""
    except Exception:  # the statistics are worth a report without figures
        return [], traceback.format_exc()


def _draw_in_child(send, results: Path, tables, figures: Path) -> None:
    try:
        send.send(_draw(results, tables, figures))
    finally:
        send.close()


def _remove_stale(figures: Path, charts: list[ChartFile]) -> None:
    """Remove the images of charts an earlier report drew and this one did not."""
    keep = {p.resolve() for c in charts for p in (c.png, c.svg)}
    for path in [*figures.glob("*.png"), *figures.glob("*.svg")]:
        if path.resolve() not in keep:
            path.unlink()
