"""``python -m experiments.pilot [key=value ...]``: the targeting lab.

A bank that wants to know whom to contact runs a pilot: it treats a random share of its customers
and watches who leaves. This command runs that pilot on ``pilot.banks`` simulated banks, fits churn
and uplift models to it as an analyst would, then compares the targeting policies on
``replications`` other banks, each contacting ``pilot.budget`` real customers: a random list, the
bank's risk rule, the top churn scores, the top uplift scores, the top expected value saved and
the oracle (the true value saved, which only a simulation knows).

1. **Pilot** (store ``<output.dir>/<experiment.name>-pilot``): on each pilot bank, three runs on
   one seed: the pilot (``strategy.campaign`` treats ``pilot.share`` of the eligible customers of
   each tier, at random), no campaign, and everyone treated. The last two are every customer's
   potential outcomes. ``pilot_extract.parquet`` holds the pilot's rows as a bank sees them, plus
   the truth in ``true_*`` columns.
2. **Models** (``analysis.targeting``): churn and uplift models on the pilot's observable columns,
   evaluated out of fold against the truth (``models.csv``, ``figures/uplift_curves.png``).
3. **Policies** (store ``<output.dir>/<experiment.name>``): on each policy bank the baseline and
   everyone-treated runs give the truth; the models score the book at the reference month; each
   policy then runs as an arm on the same seeds, and the usual report gives its verdicts.
   ``targeting.csv`` and ``targeting.md`` add what each list kept, saved, cost and got wrong, and
   ``figures/budget_curve.png`` the value saved against the contacts, per policy.

Everything is validated first (one line, exit 2, nothing written); a rerun resumes; runs that
fail are recorded and the command exits 1 after the others. ``dry_run=true`` only plans.
``-h`` prints this text; docs/targeting.md has a worked example.
"""

from __future__ import annotations

import copy
import hashlib
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hydra.core.config_store import ConfigStore

from experiments.compare import dry_run, failures, run_batch, scenario_overrides
from runner.config import AUTO, CompareConfig, check_experiment
from runner.plan import RunSpec, plan
from runner.store import check_store, open_store, release, reporting
from sim.config import TIERS
from sim.folders import replacing
from sim.overrides import HELP, check_overrides, command, split_flags
from sim.params import ANY_LENGTH, ConfigError, param
from sim.scenario import GROUPS, compose_replacing, config_yaml, to_config
from sim.treatments import REGISTRY as TREATMENTS

PILOT_SEEDS = 10_000  # pilot bank i runs on seed ``seed + PILOT_SEEDS + i``: never a policy's
SCORES = ".scores"  # under output.dir: the policies' score files, each named by its SHA-256
OVERRIDES = ["output.panel=false", "output.crm_extract=true", "months=12"]
"""Every run's scenario before the command line's: no panel, the CRM extract (the lab's data),
and a year after the contact (the outcome window; ``months=`` on the command line changes it)."""
EXTRACT = "pilot_extract.parquet"
MODEL_OF = {"churn": "churn_gbm", "uplift": "uplift_x_learner"}
"""The policies that follow a model, and the model (``analysis.targeting``); ``value`` ranks by
the uplift model's score x the customer's lifetime value."""
POLICIES = ("random", "risk", "churn", "uplift", "value", "oracle")
MODEL_POLICIES = POLICIES[2:]  # those that need the fitted models (or the truth) to score


@dataclass
class PilotBlock:
    treatment: str = param(
        "call",
        "the treatment piloted and targeted",
        "docs/strategies.md#campaign",
        choices=tuple(TREATMENTS),
    )
    share: float = param(
        0.5, "share of each tier's eligible customers treated in the pilot", "a balanced pilot",
        0.01, 0.99,
    )  # fmt: skip
    banks: int = param(4, "pilot banks (seeds of their own)", "cost against model quality", 2, 100)
    budget: float = param(
        10_000.0,
        "real customers each policy contacts",
        "a campaign's size: about 5% of the default bank's customers",
        1.0,
        1e8,
    )
    tiers: list[str] = param(
        list(TIERS), "tiers eligible for the treatment", "choice", choices=TIERS, length=ANY_LENGTH
    )
    folds: int = param(5, "cross-validation folds on the pilot", "convention", 2, 20)
    campaign: dict[str, Any] = param(
        {},
        "more parameters of every arm's campaign, e.g. {call_save: 0.4}",
        "docs/strategies.md#campaign",
        length=ANY_LENGTH,
    )


@dataclass
class PilotConfig(CompareConfig):
    pilot: PilotBlock = field(default_factory=PilotBlock)


@dataclass
class Lab:
    """A validated lab: its settings, the command line's scenario overrides and its stores."""

    settings: PilotConfig
    scenario: list[str]
    pilot_root: Path
    root: Path

    def stage(self, name: str, arms: dict[str, list[str]], seed: int, seeds: int) -> PilotConfig:
        """The settings of one store: its arms on ``seeds`` seeds from ``seed``."""
        s = copy.deepcopy(self.settings)
        s.experiment.name, s.experiment.arms, s.experiment.overrides = name, arms, OVERRIDES
        s.seed, s.replications = seed, seeds
        return s

    def pilot(self) -> PilotConfig:
        """The pilot store's settings: no one treated, everyone treated, and the pilot, on the
        pilot banks' own seeds."""
        p = self.settings.pilot
        arms = {
            "control": [],
            "everyone": campaign(p, "everyone"),
            "pilot": campaign(p, "random", f"strategy.campaign.share={p.share}"),
        }
        name = f"{self.settings.experiment.name}-pilot"
        s = self.stage(name, arms, self.settings.seed + PILOT_SEEDS, p.banks)
        s.experiment.baseline = "control"
        return s

    def policies(self, scores: dict[str, Path] | None = None) -> PilotConfig:
        """The policy store's settings: the truth's two arms and the policies that need no model,
        and with ``scores`` (policy -> its score file) the others."""
        p = self.settings.pilot
        budget = f"strategy.campaign.budget={p.budget}"
        arms = {
            "baseline": [],
            "everyone": campaign(p, "everyone"),
            "random": campaign(p, "random", budget),
            "risk": campaign(p, "risk", budget),
        }
        for policy, path in (scores or {}).items():
            arms[policy] = campaign(p, "scores", budget, f"strategy.campaign.scores={path}")
        s = self.stage(self.settings.experiment.name, arms, self.settings.seed, self.seeds)
        s.experiment.baseline = "baseline"
        s.experiment.references = [a for a in ("everyone", "oracle") if a in arms]  # yardsticks
        return s

    @property
    def seeds(self) -> int:
        return int(self.settings.replications)


def campaign(p: PilotBlock, select: str, *more: str) -> list[str]:
    """An arm's overrides: the campaign of ``p``'s treatment choosing by ``select``."""
    return [
        "strategy=[campaign]",
        f"strategy.campaign.treatment={p.treatment}",
        f"strategy.campaign.tiers=[{','.join(p.tiers)}]",
        f"strategy.campaign.select={select}",
        *(f"strategy.campaign.{k}={v}" for k, v in p.campaign.items()),
        *more,
    ]


def compose(overrides: list[str]):
    """``configs/pilot.yaml`` with ``overrides``."""
    ConfigStore.instance().store(name="pilot_schema", node=PilotConfig)
    parsed = check_overrides(overrides, GROUPS)
    return compose_replacing(parsed, lambda o: o.key_or_group == "pilot.campaign", "pilot")


def check_pilot(settings: PilotConfig) -> None:
    """Refuse settings the lab cannot work with (one-line ConfigError)."""
    if settings.replications == AUTO:
        raise ConfigError(
            "replications=auto: give a number of policy banks, the same for every policy"
        )
    if int(settings.replications) > PILOT_SEEDS:
        raise ConfigError(f"replications={settings.replications}; allowed at most {PILOT_SEEDS}")
    if not settings.pilot.tiers:
        raise ConfigError(f"pilot.tiers=[] makes no one eligible; choose from {list(TIERS)}")


def prepare(args: list[str]) -> Lab:
    """Validate and plan the pilot and the policies that need no model, before any work."""
    _, overrides = split_flags(args, "experiments.pilot", HELP, "see -h")
    settings = to_config(compose(overrides), schema=PilotConfig)
    check_pilot(settings)
    scenario = [o for o in scenario_overrides(overrides) if not o.lstrip("+~").startswith("pilot")]
    out = Path(settings.output.dir)
    lab = Lab(
        settings,
        scenario,
        out / f"{settings.experiment.name}-pilot",
        out / settings.experiment.name,
    )
    for stage, root in ((lab.pilot(), lab.pilot_root), (lab.policies(), lab.root)):
        check_experiment(stage)
        check_store(root, plan(stage, scenario))
    return lab


def run_stage(lab: Lab, stage: PilotConfig, root: Path, progress: bool) -> bool:
    """Run what a store lacks; whether every run succeeded (failures are printed)."""
    specs: list[RunSpec] = plan(stage, lab.scenario)
    open_store(root, specs, stage.report)
    try:
        (root / "experiment.yaml").write_text(config_yaml(stage))
        outcomes = run_batch(stage, specs, root, progress)
    finally:
        release(root)
    return not failures(outcomes)


def run(lab: Lab, progress: bool = True) -> int:
    """The pilot, the models, the policies and the report; the exit code (1 if a run failed)."""
    if lab.settings.dry_run:
        dry_run(lab.pilot(), plan(lab.pilot(), lab.scenario), lab.pilot_root)
        dry_run(lab.policies(), plan(lab.policies(), lab.scenario), lab.root)
        print(
            f"Then {len(MODEL_POLICIES) * lab.seeds} runs of the policies that follow the models"
            f" ({', '.join(MODEL_POLICIES)}), once the models are fitted."
        )
        return 0
    from analysis import pilot as tables  # pandas and scikit-learn: loaded only to analyse
    from analysis import targeting

    print("1/4 The pilot, and every pilot customer's two potential outcomes")
    if not run_stage(lab, lab.pilot(), lab.pilot_root, progress):
        return _failed()
    extract = tables.pilot_extract(lab.pilot_root)
    with replacing(lab.pilot_root / EXTRACT) as tmp:
        extract.to_parquet(tmp, index=False)
    print("2/4 The policy banks' truth, and the policies that need no model")
    if not run_stage(lab, lab.policies(), lab.root, progress):
        return _failed()
    print(f"3/4 Churn and uplift models fitted to {len(extract):,} pilot customers")
    book = tables.book(tables.extracts(lab.root))
    fitted = targeting.fit(extract, random_state=lab.settings.seed)
    scores = policy_scores(fitted.score(book), book)
    out = Path(lab.settings.output.dir)
    files = {name: write_scores(out, book, score) for name, score in scores.items()}
    print("4/4 The policies that follow the models")
    if not run_policies(lab, files, progress):
        return _failed()
    from analysis.report import targeting as lab_report

    summary = tables.analyse(lab.root, extract, book, scores, lab.settings.pilot, lab.settings.seed)
    print("\n".join(lab_report.sentences(summary, lab.settings.pilot.budget)))
    if lab.settings.report:
        from analysis import report

        with reporting(lab.root, "experiment.name"):
            report.report(lab.root, out=print)
    print(f"Results: {lab.root}")
    return 0


def run_policies(lab: Lab, files: dict[str, Path], progress: bool) -> bool:
    """Run the policies that follow the scores ``files`` into the policies store; refuses
    (ConfigError) a store whose such policies were scored by another pilot's models."""
    try:
        return run_stage(lab, lab.policies(files), lab.root, progress)
    except ConfigError as exc:
        if "holds a different experiment" not in str(exc):
            raise
        raise ConfigError(
            f"experiment.name: {lab.root} holds policies scored by another pilot's models (the"
            " pilot or the code changed); choose another experiment.name (the runs already made"
            " come from the run cache)"
        ) from None


def _failed() -> int:
    print(
        "Some runs failed; their tracebacks are in runs/<run id>/provenance.json. Rerun the same"
        " command to retry them."
    )
    return 1


def policy_scores(scored: pd.DataFrame, book: pd.DataFrame) -> dict[str, np.ndarray]:
    """Policy -> each book row's score (higher: contacted first) for the policies that need one."""
    from analysis.targeting import true_saved

    uplift = scored[MODEL_OF["uplift"]].to_numpy()
    true = true_saved(book)
    return {
        "churn": scored[MODEL_OF["churn"]].to_numpy(),
        "uplift": uplift,
        "value": uplift * book["clv"].to_numpy(),
        "oracle": true["saved"].to_numpy() + _tie_break(true["value_saved"].to_numpy()),
    }


def _tie_break(value: np.ndarray) -> np.ndarray:
    """``value`` squeezed into (-0.5, 0.5) in its order: added to the true uplift (-1, 0 or 1),
    it orders customers of equal uplift by value without crossing an uplift."""
    return value / (2.0 * np.abs(value).max() + 1.0) if len(value) else value


def write_scores(out: Path, book: pd.DataFrame, score: np.ndarray) -> Path:
    """A score file (seed, customer_key, score) under ``out``/.scores, named by its SHA-256, so
    that an arm's run id changes with its scores; its absolute path."""
    frame = pd.DataFrame(
        {
            "seed": book["seed"].to_numpy(np.int64),
            "customer_key": book["customer_key"],
            "score": score,
        }
    )
    data = io.BytesIO()
    frame.to_parquet(data, index=False)
    path = out / SCORES / f"{hashlib.sha256(data.getvalue()).hexdigest()}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        tmp.write_bytes(data.getvalue())
    return path.resolve()


def main(args: list[str] | None = None) -> int:
    return command(__doc__, prepare, run, args)


if __name__ == "__main__":
    sys.exit(main())
