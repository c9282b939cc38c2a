"""``python -m sim.run [-m] [key=value ...]``: run one scenario from the command line.

Overrides compose ``configs/`` as in Hydra (``sim.overrides`` says what a value may be). With
``-m`` (``--multirun``) a sweep such as ``seed=0,1,2 strategy=training,lean_service`` runs every
combination, one after another, as Hydra's basic sweeper orders them (at most 1,000 runs). Every
config is validated before any work; a bad one is refused with one line naming the key, the value
and what is allowed (exit 2, nothing written), and so is a run needing more memory than this
machine has available (estimated from its size: ``sim.resources``). Work estimated to take over a
minute has its estimate printed first. ``limits.force=true`` lifts the limits, for those who mean
it. A bank read from files is described first: its extract's size, and a warning when its
branch network is far too large or small for it (``sim.bankdata``). Each run prints a KPI table
(and a line on the CRM extract) and writes its folder under ``output.dir``. ``-h``/``--help``
prints this text; other flags are refused.
"""

from __future__ import annotations

# Mesa first, while few modules are loaded and the stack is short: its import walks the stack
# (mesa.mesa_logging: inspect.stack), at a cost that grows with both.
import mesa  # noqa: F401

# isort: split
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sim.api import RunResult, run_scenario
from sim.config import Config
from sim.folders import check_writable
from sim.kpis import registry
from sim.overrides import check_overrides, console_log, refuse, shown, split_flags, sweeps
from sim.params import ConfigError
from sim.resources import (
    LONG_SECONDS,
    MAX_SWEEP,
    Estimate,
    LimitsConfig,
    check_count,
    check_memory,
    estimate,
    heaviest,
    run_size,
)
from sim.scenario import GROUPS, load_config

if TYPE_CHECKING:
    import pandas as pd

HELP = ("-h", "--help")
MULTIRUN = ("-m", "--multirun")
FORCE = "limits.force"


def format_summary(result: RunResult) -> str:
    """The KPI table printed after a run: every registered KPI in the summary, in registry order,
    with its label and value as ``sim.kpis`` shows them (counts are real customers)."""
    s, cfg = result.summary, result.config
    kpis = registry(cfg.months).items()
    rows = [(kpi.label, kpi.text(s[name])) for name, kpi in kpis if name in s]
    rows.append(("Customers start -> end", f"{s.customers_start:,.0f} -> {s.customers_end:,.0f}"))
    width = max(len(k) for k, _ in rows)
    strategies = ", ".join(cfg.strategy) or "none (baseline)"
    head = (
        f"Strategies: {strategies} | seed {cfg.seed} | {s.customers_start:,.0f} customers"
        f" ({cfg.population.customers:,} simulated)"
        f" | {cfg.burn_in} burn-in + {cfg.months} measured months"
    )
    return "\n".join([head, *(f"  {k:<{width}}  {v:>18}" for k, v in rows)])


def run_one(config: Config) -> None:
    """Run a validated scenario, save its folder and print its KPI table."""
    result = run_scenario(config, progress=True)
    folder = result.save()
    print(format_summary(result))
    if (extract := result.crm_extract) is not None:
        print(crm_line(extract))
    print(f"Run folder: {folder}")


def crm_line(extract: pd.DataFrame) -> str:
    """One line on the CRM extract: who it holds and how many of them left (real customers)."""
    weight = extract["weight"].astype(float)
    real = weight.sum()
    churn = (weight * extract["churned"]).sum() / real if real else 0.0
    month = int(extract["reference_month"].iloc[0]) if len(extract) else 0
    horizon = int(extract["observed_months"].iloc[0]) if len(extract) else 0
    return (
        f"CRM extract: {len(extract):,} simulated ({real:,.0f} real) customers active at measured"
        f" month {month}; {churn:.1%} left within {horizon} months"
    )


def jobs(args: list[str], force: bool = False) -> list[list[str]]:
    """The overrides of each run the command line asks for (several with ``-m``: more than
    MAX_SWEEP refused unless ``force``), without its ``limits.*`` settings (:func:`limits`)."""
    flags, overrides = split_flags(
        args, "sim.run", (*MULTIRUN, *HELP), "sweep with -m, e.g. -m seed=0,1,2"
    )
    overrides = [o for o in overrides if not _is_limits(o)]
    multirun = bool(flags & set(MULTIRUN))
    parsed = check_overrides(overrides, GROUPS, multirun=multirun)
    if not multirun:
        return [overrides]
    listed = sweeps(parsed)  # each is composed next: ~70 ms a run
    swept = " ".join(shown(o.input_line) for o in parsed if o.is_sweep_override())
    if not listed:
        raise ConfigError(f"-m {swept} makes no runs; allowed: sweeps of one value or more")
    check_count(f"-m {swept}", len(listed), MAX_SWEEP, "runs", force, "values")
    return listed


def limits(args: list[str]) -> LimitsConfig:
    """The command line's ``limits.*`` settings; one that is not ``limits.force=true|false`` is
    refused."""
    settings = LimitsConfig()
    for override in check_overrides([a for a in args if _is_limits(a)], {}):
        value = override.value()
        if override.key_or_group != FORCE or not isinstance(value, bool):
            raise ConfigError(
                f"{override.input_line} is not allowed; allowed: {FORCE}=true or {FORCE}=false"
            )
        settings.force = value
    return settings


def _is_limits(arg: str) -> bool:
    return arg.lstrip("+~").partition("=")[0].split(".")[0] == "limits"


def check_runs(configs: list[Config], force: bool) -> Estimate:
    """Refuse a run needing more memory than this machine has available (unless ``force``);
    the estimate of all the runs, one after another."""
    estimates, largest = heaviest(configs)
    need = Estimate(sum(e.seconds for e in estimates), estimate(largest).bytes)
    check_memory(f"a run of {run_size(largest)}", need, force, "customers or months")
    return need


def main() -> None:
    """Run the command line's runs, printing what the project logs (``-h``: the usage)."""
    args = sys.argv[1:]
    if set(args) & set(HELP):
        print(__doc__)
        return
    with console_log():
        run_command(args)


def run_command(args: list[str]) -> None:
    """Validate every run's config (one-line errors, exit 2), then run them in order."""
    try:
        force = limits(args).force
        runs = [(job, load_config(job)) for job in jobs(args, force)]
        for folder in {Path(config.output.dir) for _, config in runs}:
            check_writable(folder)
        need = check_runs([config for _, config in runs], force)
    except ConfigError as exc:
        refuse(exc)
    if need.seconds > LONG_SECONDS:
        many = f" for {len(runs)} runs, one after another" if len(runs) > 1 else ""
        print(f"Estimated{many}: {need}")
    for number, (job, config) in enumerate(runs):
        if len(runs) > 1:
            print(f"Run {number + 1} of {len(runs)}: {' '.join(job)}")
        run_one(config)


if __name__ == "__main__":
    main()
