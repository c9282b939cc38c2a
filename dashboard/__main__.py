"""Start the dashboard: ``python -m dashboard [--host HOST] [--port PORT] [--results DIR]``
(``./testbed dashboard``) serves ``dashboard.app`` with Solara and prints its address; the page
"Results" lists the stores in ``DIR`` (``results/experiments``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 8765
RESULTS = Path("results/experiments")
QUIET = {"SOLARA_THEME_SHOW_BANNER": "False", "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
"""Solara settings that keep the framework out of sight: no "This website runs on Solara"
banner over the page, no usage telemetry (the new-version check is ``--no-check-version``)."""


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="./testbed dashboard", description=__doc__)
    parser.add_argument("--host", default="localhost", help="address to listen on (localhost)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"({DEFAULT_PORT})")
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help=f"folder of results stores ({RESULTS})"
    )
    return parser.parse_args(argv)


def command(host: str, port: int) -> list[str]:
    """The Solara server's command line."""
    return [
        *(sys.executable, "-m", "solara", "run", "dashboard.app"),
        *("--host", host, "--port", str(port), "--production", "--no-open", "--no-check-version"),
    ]


def main(argv: list[str] | None = None) -> None:
    """Become the Solara server (so that stopping this process stops the server)."""
    args = parse(sys.argv[1:] if argv is None else argv)
    os.environ["DASHBOARD_RESULTS"] = str(args.results.resolve())
    os.environ.update(QUIET)
    os.chdir(ROOT)
    print(f"Dashboard at http://{args.host}:{args.port} (Ctrl+C stops it)", flush=True)
    line = command(args.host, args.port)
    os.execv(line[0], line)


if __name__ == "__main__":
    main()
