"""``python -m sim.run [key=value ...]``: run one scenario from the command line.

A Hydra app over ``configs/``. The whole config is validated before any work; a bad one is
refused with one line naming the key, the value and what is allowed (exit 2, nothing written).
The run prints a KPI table (and a line on the CRM extract) and writes its folder under
``output.dir``.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from sim.api import RunResult, run_scenario
from sim.kpis import REGISTRY
from sim.params import ConfigError
from sim.scenario import CONFIG_DIR, load_config, to_config


def format_summary(result: RunResult) -> str:
    """The KPI table printed after a run: every registered KPI in the summary, in registry order,
    with its label and value as ``sim.kpis`` shows them (counts are real customers)."""
    s, cfg = result.summary, result.config
    rows = [(kpi.label, kpi.text(s[name])) for name, kpi in REGISTRY.items() if name in s]
    rows.append(("Customers start -> end", f"{s.customers_start:,.0f} -> {s.customers_end:,.0f}"))
    width = max(len(k) for k, _ in rows)
    strategies = ", ".join(cfg.strategy) or "none (baseline)"
    head = (
        f"Strategies: {strategies} | seed {cfg.seed} | {s.customers_start:,.0f} customers"
        f" ({cfg.population.customers:,} simulated)"
        f" | {cfg.burn_in} burn-in + {cfg.months} measured months"
    )
    return "\n".join([head, *(f"  {k:<{width}}  {v:>18}" for k, v in rows)])


@hydra.main(config_path=str(CONFIG_DIR), config_name="config", version_base="1.3")
def _app(cfg: DictConfig) -> None:
    try:
        config = to_config(cfg)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        sys.exit(2)
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


def main() -> None:
    """Validate the overrides (one-line errors, exit 2) before Hydra runs the app."""
    args = sys.argv[1:]
    if not any(a.startswith("-") for a in args):
        try:
            load_config(args)
        except ConfigError as exc:
            print(f"config error: {exc}", file=sys.stderr)
            sys.exit(2)
    _app()


if __name__ == "__main__":
    main()
