"""The targeting lab end to end (``experiments.pilot``) on a small bank: the pilot extract's
randomisation and truth, the policies' outcomes against the potential outcomes, the oracle as
the ceiling, a treatment without effect that no policy can use, the report section, resuming,
and refusals before any work."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from analysis import pilot as tables
from analysis.report import targeting as lab_report
from analysis.targeting import FEATURES, UNOBSERVABLE, customer_types
from experiments.pilot import EXTRACT, POLICIES, SCORES
from sim.folders import read_parquet

SMALL = ["population.customers=1500", "replications=2", "pilot.banks=2", "pilot.budget=3000"]
NO_EFFECT = "pilot.campaign={call_save: 0, call_annoy_disengaged: 0, call_annoy_complained: 0}"


def lab(out, *more: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "experiments.pilot", *SMALL, f"output.dir={out}", *more],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab")
    proc = lab(out, "report=false")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return out, proc


def test_the_pilot_is_randomised_by_tier_and_its_truth_is_what_the_arms_did(ran):
    out, _ = ran
    x = read_parquet(out / "targeting-pilot" / EXTRACT)
    assert {*FEATURES, "treated", "churned", *UNOBSERVABLE} <= set(x.columns)
    for _, rows in x.groupby(["seed", "tier"], observed=True):
        assert rows["treated"].sum() == round(0.5 * len(rows))
    treated = x["treated"]
    assert (x["churned"][treated] == x["true_churned_treated"][treated]).all()
    assert (x["churned"][~treated] == x["true_churned_control"][~treated]).all()
    assert (x["true_churned_treated"] != x["true_churned_control"]).any()  # the call does something


def test_each_policy_saves_what_its_list_potential_outcomes_say_and_the_oracle_is_the_ceiling(ran):
    out, proc = ran
    root = out / "targeting"
    found = tables.extracts(root)
    book = tables.book(found)
    per_seed = tables.outcomes(found, tables.campaign_costs(root), book)
    assert set(per_seed["arm"]) == {"everyone", *POLICIES}
    uplift = book["true_churned_control"].astype(int) - book["true_churned_treated"].astype(int)
    truth = pd.Series(
        (book["weight"] * uplift).to_numpy(), index=[book["seed"], book["customer_key"]]
    )
    for r in per_seed.itertuples():
        listed = found[r.arm, r.seed]
        keys = listed["customer_key"][listed["treated"]]
        assert r.saved == pytest.approx(truth.loc[r.seed].reindex(keys).sum(), abs=1e-6)
        if r.arm != "everyone":
            assert 0 < r.contacted <= 3000
    saved = per_seed.pivot(index="seed", columns="arm", values="saved")
    assert (saved["oracle"].to_numpy()[:, None] >= saved[list(POLICIES)].to_numpy() - 1e-6).all()
    assert (saved["oracle"] > saved["random"]).all()
    said = proc.stdout
    assert "Calling the 3,000 customers most likely to leave saves" in said
    assert "the best possible list saves" in said


def test_the_scores_are_named_by_their_digest_and_a_rerun_resumes_with_the_same_results(ran):
    out, _ = ran
    files = list((out / SCORES).glob("*.parquet"))
    assert len(files) == 4  # churn, uplift, value, oracle
    import hashlib

    for f in files:
        assert f.stem == hashlib.sha256(f.read_bytes()).hexdigest()
    before = pd.read_csv(out / "targeting" / lab_report.SUMMARY)
    again = lab(out, "report=false")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "0 to run" in again.stdout and "Ran " not in again.stdout
    pd.testing.assert_frame_equal(before, pd.read_csv(out / "targeting" / lab_report.SUMMARY))


def test_the_report_section_says_it_plainly_with_both_figures(ran):
    out, _ = ran
    section = lab_report.section(out / "targeting")
    assert section is not None and section.id == "targeting"
    figures = [b for b in section.blocks if type(b).__name__ == "Figure"]
    assert [f.name for f in figures] == ["budget_curve", "uplift_curves"]
    assert all(f.png.stat().st_size > 10_000 for f in figures)
    assert lab_report.section(out / "targeting-pilot") is None
    report = [sys.executable, "-m", "experiments.report", str(out / "targeting")]
    proc = subprocess.run(report, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]  # the section's figures are the project's
    assert "## Targeting: whom to contact" in (out / "targeting" / "report.md").read_text()


def test_a_treatment_without_effect_saves_no_one_whatever_the_list(tmp_path):
    proc = lab(tmp_path, "report=false", NO_EFFECT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = pd.read_csv(tmp_path / "targeting" / lab_report.SUMMARY)
    assert (summary["saved"] == 0).all() and (summary["value_saved"].abs() < 1e-6).all()
    x = read_parquet(tmp_path / "targeting-pilot" / EXTRACT)
    assert (x["true_churned_treated"] == x["true_churned_control"]).all()
    types = customer_types(x)
    assert set(types.unique()) <= {"sure thing", "lost cause"}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("replications=1", "replications=1 is not allowed"),
        ("replications=auto", "replications=auto: give a number of policy banks"),
        ("pilot.banks=1", "pilot.banks"),
        ("pilot.treatment=letter", "pilot.treatment"),
        ("pilot.tiers=[]", "pilot.tiers=[] makes no one eligible"),
        ("pilot.share=1.5", "pilot.share"),
        ("pilot.campaign={call_sway: 1}", "call_sway"),
    ],
)
def test_bad_settings_are_refused_in_one_line_before_any_work(tmp_path, override, message):
    proc = lab(tmp_path / "out", override)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()


def test_the_oracle_ranks_by_the_true_value_saved():
    book = pd.DataFrame(
        {
            "seed": 0,
            "customer_key": np.arange(4, dtype=np.uint64),
            "weight": 1.0,
            "clv": [100.0, -50.0, 300.0, 10.0],
            "true_churned_control": [True, False, True, False],
            "true_churned_treated": [False, True, True, False],
        }
    )
    book["true_value_lost_control"] = book["clv"] * book["true_churned_control"]
    book["true_value_lost_treated"] = book["clv"] * book["true_churned_treated"]
    from experiments.pilot import policy_scores

    scored = pd.DataFrame({"churn_gbm": 0.0, "uplift_x_learner": 0.0}, index=book.index)
    oracle = policy_scores(scored, book)["oracle"]
    # by true uplift first (a persuadable, two unmoved, a sleeping dog), then by value saved:
    # the sleeping dog is worth -50, so losing it gains 50, still below every unmoved customer
    assert list(np.argsort(-oracle)) == [0, 2, 3, 1] or list(np.argsort(-oracle)) == [0, 3, 2, 1]
    assert oracle[0] > 0.5 and oracle[1] < -0.5 and abs(oracle[2]) < 0.5


def test_a_harm_planted_on_complainers_is_found_by_the_uplift_models(tmp_path):
    """A call that only annoys customers who have complained (observable): its sleeping dogs are
    all complainers, and the uplift list holds far fewer of them than a random list or the churn
    list."""
    planted = "pilot.campaign={call_save: 0, call_annoy_disengaged: 0, call_annoy_complained: 1}"
    proc = lab(tmp_path, "report=false", planted)
    assert proc.returncode == 0, proc.stderr[-3000:]
    x = read_parquet(tmp_path / "targeting-pilot" / EXTRACT)
    dogs = customer_types(x) == "sleeping dog"
    assert dogs.any() and (x["complaints"][dogs] > 0).all()
    found = tables.extracts(tmp_path / "targeting")
    share = {
        arm: np.mean(
            [(f["complaints"][f["treated"]] > 0).mean() for (a, _), f in found.items() if a == arm]
        )
        for arm in ("uplift", "churn", "random")
    }
    assert share["uplift"] < 0.5 * min(share["random"], share["churn"]), share


def test_a_dry_run_plans_both_stores_and_the_model_runs_writing_nothing(tmp_path):
    proc = lab(tmp_path / "out", "dry_run=true")
    assert proc.returncode == 0, proc.stderr
    assert "targeting-pilot: 3 arms x 2 replications = 6 runs" in proc.stdout
    assert "targeting: 4 arms x 2 replications = 8 runs" in proc.stdout
    assert "Then 8 runs of the policies that follow the models" in proc.stdout
    assert not (tmp_path / "out").exists()


def test_a_reference_arm_is_ranked_but_never_recommended():
    from analysis.report.executive import recommended

    ranked = pd.DataFrame({"arm": ["oracle", "uplift", "churn"], "point": "", "group": [0, 0, 1]})
    assert recommended(ranked)["arm"] == "oracle"
    assert recommended(ranked, ["oracle"])["arm"] == "uplift"
    assert recommended(ranked, ["oracle", "uplift"]) is None
