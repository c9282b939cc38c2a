"""``python -m sim.run [-m] [key=value ...]``: run one scenario from the command line.

Overrides compose ``configs/`` as in Hydra (``sim.overrides`` says what a value may be). With
``-m`` (``--multirun``) a sweep such as ``seed=0,1,2 strategy=training,lean_service`` runs every
combination, one after another, as Hydra's basic sweeper orders them. Every config is validated
before any work; a bad one is refused with one line naming the key, the value and what is allowed
(exit 2, nothing written). Each run prints a KPI table (and a line on the CRM extract) and writes
its folder under ``output.dir``. ``-h``/``--help`` prints this text; other flags are refused.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sim.api import RunResult, run_scenario
from sim.config import Config
from sim.folders import check_writable
from sim.kpis import registry
from sim.overrides import check_overrides, refuse, split_flags, sweeps
from sim.params import ConfigError
from sim.scenario import GROUPS, load_config

HELP = ("-h", "--help")
MULTIRUN = ("-m", "--multirun")


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


def crm_line(extract) -> str:
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


def jobs(args: list[str]) -> list[list[str]]:
    """The overrides of each run the command line asks for (several with ``-m``)."""
    flags, overrides = split_flags(
        args, "sim.run", (*MULTIRUN, *HELP), "sweep with -m, e.g. -m seed=0,1,2"
    )
    multirun = bool(flags & set(MULTIRUN))
    parsed = check_overrides(overrides, GROUPS, multirun=multirun)
    return sweeps(parsed) if multirun else [overrides]


def main() -> None:
    """Validate every run's config (one-line errors, exit 2), then run them in order."""
    args = sys.argv[1:]
    if set(args) & set(HELP):
        print(__doc__)
        return
    try:
        runs = [(job, load_config(job)) for job in jobs(args)]
        for folder in {Path(config.output.dir) for _, config in runs}:
            check_writable(folder)
    except ConfigError as exc:
        refuse(exc)
    for number, (job, config) in enumerate(runs):
        if len(runs) > 1:
            print(f"Run {number + 1} of {len(runs)}: {' '.join(job)}")
        run_one(config)


if __name__ == "__main__":
    main()
