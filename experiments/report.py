"""``python -m experiments.report RESULTS_DIR``: the statistics, charts and report of a (possibly
partial) results store (see :mod:`analysis.report`)."""

from __future__ import annotations

import sys
from pathlib import Path

from analysis.report import report


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: python -m experiments.report RESULTS_DIR")
    results = Path(sys.argv[1])
    if not results.is_dir():
        sys.exit(f"error: {results} is not a folder")
    report(results)


if __name__ == "__main__":
    main()
