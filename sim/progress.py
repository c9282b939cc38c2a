"""The one progress bar of every long command (months of a run, runs of an experiment, trials of
a calibration or optimisation): tqdm to stderr, with the time spent and an ETA in words.

The ETA waits until it means something. The first steps are slow for reasons that do not last
(numba compiles the model in each worker, imports, caches), so a rate read off them is wild: an
experiment of 220 runs opened at "ETA 53:52". The bar shows "ETA once 22/220 done" until
WARM_UP of the work is done (at least MIN_STEPS steps), then the time left at the rate since
half of those steps were done: the warm-up's slow steps never enter it."""

from __future__ import annotations

import math

from tqdm.auto import tqdm

tqdm.monitor_interval = 0  # no monitor thread: pools fork workers from a thread-free process
FORMAT = (
    "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit}"
    " [{elapsed} spent, ETA {eta}{postfix}]"
)
PROGRESS = {"progress": True}
"""``extra=`` of a log record that goes with the progress bars (an estimate of the work, a
stage, a step without a bar): a command shows it on stderr with them, and the rest of what the
libraries log on stdout (``sim.overrides.console_log``)."""
WARM_UP = 0.1
"""The share of the work done before the bar shows an ETA."""
MIN_STEPS = 4
"""The steps done, at least, before the bar shows an ETA."""


def eta_after(total: int | None) -> int | None:
    """The steps after which the bar shows an ETA (None without a total)."""
    if not total:
        return None
    return min(int(total), max(MIN_STEPS, math.ceil(WARM_UP * total)))


class Bar(tqdm):
    """tqdm with an ETA (``{eta}`` in the bar format) from the rate after the warm-up steps."""

    def __init__(self, *args, **kwargs) -> None:
        self.mark: tuple[int, float] | None = None  # (steps, seconds) when the rate starts
        super().__init__(*args, **kwargs)

    def update(self, n: float | None = 1) -> bool | None:
        if not self.disable and self.mark is None:
            show = eta_after(self.total)
            if show is not None and self.n + (n or 0) >= max(1, show // 2):
                self.mark = (int(self.n + (n or 0)), self._time() - self.start_t)
        return super().update(n)

    @property
    def format_dict(self):
        values = super().format_dict
        values["eta"] = self.eta(values["n"], values["total"], values["elapsed"])
        return values

    def eta(self, n: float, total: int | None, elapsed: float) -> str:
        """ "once 22/220 done" during the warm-up, then the time left ("01:05"), "?" without a
        total."""
        show = eta_after(total)
        if show is None or total is None:
            return "?"
        if n >= total:
            return self.format_interval(0)
        if n < show or self.mark is None or n <= self.mark[0] or elapsed <= self.mark[1]:
            return f"once {show}/{total} done"
        rate = (n - self.mark[0]) / (elapsed - self.mark[1])
        return self.format_interval((total - n) / rate)


def bar(total: int, what: str, enabled: bool = True, leave: bool = True) -> Bar:
    """A progress bar over ``total`` ``what`` ("runs", "trials", "months")."""
    return Bar(
        total=total, desc=what, unit=what, bar_format=FORMAT, disable=not enabled, leave=leave
    )
