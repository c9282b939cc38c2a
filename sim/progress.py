"""The one progress bar of every long command (months of a run, runs of an experiment, trials of
a calibration or optimisation): tqdm to stderr, with the time spent and an ETA in words."""

from __future__ import annotations

from tqdm.auto import tqdm

tqdm.monitor_interval = 0  # no monitor thread: pools fork workers from a thread-free process
FORMAT = (
    "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit}"
    " [{elapsed} spent, ETA {remaining}{postfix}]"
)
PROGRESS = {"progress": True}
"""``extra=`` of a log record that goes with the progress bars (an estimate of the work, a
stage, a step without a bar): a command shows it on stderr with them, and the rest of what the
libraries log on stdout (``sim.overrides.console_log``)."""


def bar(total: int, what: str, enabled: bool = True, leave: bool = True) -> tqdm:
    """A progress bar over ``total`` ``what`` ("runs", "trials", "months")."""
    return tqdm(
        total=total, desc=what, unit=what, bar_format=FORMAT, disable=not enabled, leave=leave
    )
