"""``python -m experiments.report RESULTS_DIR [--arms A,B,...]``: the statistics, charts, report
and workbook of a (possibly partial) results store (see :mod:`analysis.report`). ``--arms`` picks
the arms the charts show beside the baseline (default: the experiment's ``chart_arms``, else those
with the largest effects); the tables always hold every arm.

The report writes only into a folder of this project's results, never through a symbolic link
there, and never over a file the project did not write (``runner.store.reporting``); a folder
written by an earlier version is refused (rerun into a new ``experiment.name``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.report import NothingToReport, report
from runner import store
from sim.overrides import console_log
from sim.params import ConfigError

KEY = "experiments.report"


def main(args: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="./testbed experiments.report", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "results", type=Path, help="an experiment's folder, e.g. results/experiments/playbook"
    )
    parser.add_argument(
        "--arms", help="comma-separated arms the charts show, e.g. training,mentoring"
    )
    options = parser.parse_args(args)
    if not options.results.is_dir():
        parser.exit(2, f"error: {options.results} is not a folder\n")
    arms = [a.strip() for a in options.arms.split(",") if a.strip()] if options.arms else None
    try:
        store.check_report(options.results, KEY)
        _check_arms(options.results, arms)
        with store.reporting(options.results, KEY), console_log():
            report(options.results, out=print, arms=arms)
    except (NothingToReport, ConfigError) as exc:
        parser.exit(2, f"error: {exc}\n")


def _check_arms(results: Path, arms: list[str] | None) -> None:
    """Refuse (ConfigError) chart arms the results do not hold."""
    if arms:
        stored = list(dict.fromkeys(store.load(results).get("arm", [])))
        if unknown := [a for a in arms if a not in stored]:
            raise ConfigError(
                f"--arms: {unknown[0]!r} is not an arm of the results; arms: {stored}"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
