"""Run one scenario: ``python -m sim.run [key=value ...]`` or ``run_scenario(...)`` from Python.

The CLI is a Hydra app over ``configs/``. It validates the whole config before any work and
refuses a bad one with a single line naming the key, the value and what is allowed (exit 2,
nothing written). A run writes one folder under ``output.dir`` named by a hash of its resolved
config, written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import hydra
import pandas as pd
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sim import metrics
from sim.config import Config, ConfigError, register, to_config
from sim.model import BankModel

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
register()


@dataclass
class RunResult:
    """What one run produced: its config and three pandas tables."""

    config: Config
    timeseries: pd.DataFrame
    summary: pd.Series
    panel: pd.DataFrame

    @property
    def run_id(self) -> str:
        """A content hash of the resolved config (seed included)."""
        return config_hash(self.config)

    def save(self, directory: str | Path | None = None) -> Path:
        """Write the run folder atomically under ``directory`` (default ``output.dir``)."""
        parent = Path(directory or self.config.output.dir)
        parent.mkdir(parents=True, exist_ok=True)
        target = parent / self.run_id
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.run_id}-", dir=parent))
        try:
            (tmp / "config.yaml").write_text(config_yaml(self.config))
            self.timeseries.to_parquet(tmp / "timeseries.parquet", index=False)
            (tmp / "summary.json").write_text(json.dumps(self.summary.to_dict(), indent=2))
            if self.config.output.panel:
                self.panel.to_parquet(tmp / "panel.parquet", index=False)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return target


def config_yaml(config: Config) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(config))


def config_hash(config: Config) -> str:
    return hashlib.sha256(config_yaml(config).encode()).hexdigest()[:16]


def load_config(overrides: list[str] | None = None) -> Config:
    """Compose ``configs/`` with Hydra overrides into a validated Config (or raise ConfigError)."""
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose(config_name="config", overrides=list(overrides or []))
        return to_config(cfg)
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(one_line(exc)) from None


def one_line(exc: Exception) -> str:
    """A Hydra or OmegaConf error as one line that names the key."""
    cause = exc.__cause__ or exc
    lines = [ln.strip() for ln in str(cause).splitlines() if ln.strip()]
    key = getattr(cause, "full_key", None)
    head = lines[0] if lines else type(cause).__name__
    hint = {
        "ConfigKeyError": "not a known key (see docs/parameters.md)",
        "ValidationError": "wrong type",
    }.get(type(cause).__name__, "")
    parts = [f"{key}: " if key else "", head, f" ({hint})" if hint else ""]
    return "".join(parts)


def run_scenario(
    scenario: list[str] | Config | DictConfig | None = None,
    *,
    progress: bool = False,
    save: bool | str | Path = False,
) -> RunResult:
    """Run one scenario given Hydra overrides or a config; write files only if ``save``.

    ``save=True`` writes under ``output.dir``; a path writes there instead.
    """
    if scenario is None or isinstance(scenario, list):
        config = load_config(scenario)
    else:
        config = to_config(scenario)
    model = BankModel(config)
    model.run(progress=progress)
    timeseries = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    result = RunResult(
        config, timeseries, pd.Series(metrics.summarise(model, timeseries)), metrics.panel(model)
    )
    if save:
        result.save(None if save is True else save)
    return result


def format_summary(result: RunResult) -> str:
    """The KPI table printed after a run."""
    s, cfg = result.summary, result.config
    pct = "{:.1%}".format
    money = lambda v: f"CNY {v / 1e6:,.1f} M"  # noqa: E731
    rows = [
        ("Retention after 12 months", pct(s.retention_12m)),
        (f"Retention after {cfg.months} months", pct(s.retention_horizon)),
        ("  mid, high and private tiers", pct(s.retention_mid_high)),
        ("AUM retention", pct(s.aum_retention)),
        ("AUM at end", money(s.aum_end * cfg.population.scale)),
        ("Revenue", money(s.revenue)),
        ("Cost", money(s.cost)),
        ("Profit", money(s.profit)),
        (f"NPV at {cfg.economics.discount_rate:.0%}", money(s.npv)),
        ("New customers", f"{s.new_customers:,.0f}"),
        ("Complaints", f"{s.complaints:,.0f}"),
        ("Satisfaction (0-1)", f"{s.satisfaction:.3f}"),
        ("Effort (0-1, lower is better)", f"{s.effort:.3f}"),
        ("Manager skill (0-1)", f"{s.manager_skill:.3f}"),
        ("Customers start -> end", f"{s.customers_start:,} -> {s.customers_end:,}"),
    ]
    width = max(len(k) for k, _ in rows)
    strategies = ", ".join(cfg.strategy) or "none (baseline)"
    head = (
        f"Strategies: {strategies} | seed {cfg.seed} | {cfg.population.customers:,} customers"
        f" | {cfg.burn_in} burn-in + {cfg.months} measured months"
    )
    return "\n".join([head, *(f"  {k:<{width}}  {v:>18}" for k, v in rows)])


@hydra.main(config_path=str(CONFIG_DIR), config_name="config", version_base="1.3")
def _app(cfg: DictConfig) -> None:
    try:
        config = to_config(cfg)
    except ConfigError as exc:
        sys.exit(f"config error: {exc}")
    result = run_scenario(config, progress=True)
    folder = result.save()
    print(format_summary(result))
    print(f"Run folder: {folder}")


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
