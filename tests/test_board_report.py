"""The report as a board reads it: the executive summary first (ranking, recommendation,
caveats), labels that name the horizon and the strategies, the common-random-numbers sentence in
plain words, and the workbook ``results.xlsx``.

The store is made without running the model: the experiment is planned for real, its runs are
made-up summaries (a stand-in for ``executors.run_all``), and charts are not drawn.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from made_up import made_up_run

from analysis.report import NothingToReport, report
from analysis.report.executive import DECISION_KPIS, arm_sentence, executive_section, ranking
from analysis.report.labels import Labels
from analysis.report.sections import _headline, crn_plain
from analysis.stats import BETTER, NEGLIGIBLE, UNDECIDED, VERDICTS, WORSE, verdicts
from experiments import compare as compare_module
from experiments.compare import prepare
from runner.executors import Outcome
from sim.kpis import registry
from sim.scenario import compose_config
from sim.strategies import title

MONTHS = 24
# arm -> (retention, mid/high retention, NPV in CNY M) against the baseline
EFFECTS = {
    "baseline": (0.0, 0.0, 0.0),
    "product_innovation": (0.02, 0.01, 30.0),  # better on both: recommended
    "digital_scenario": (0.04, -0.02, 60.0),  # more NPV, but worse on the affluent
    "lean_service": (0.02, 0.01, -40.0),  # a trade-off: worse on NPV
    "training": (0.0, 0.0, 0.0),  # no difference at all
    "partner_promotion": (-0.02, -0.01, -40.0),  # worse on both
}


# --------------------------------------------------------------------------------------------
# A store of made-up runs, reported once
# --------------------------------------------------------------------------------------------


def made_up_summary(arm: str, seed: int) -> dict:
    retention, mid_high, npv = EFFECTS[arm]
    noise = 0.001 * np.sin(seed)  # shared by the arms: common random numbers
    own = 0.0002 * np.cos(seed * (1 + list(EFFECTS).index(arm)))  # each arm's own noise
    return {
        "months": MONTHS,
        "retention_horizon": 0.7 + retention + noise + own,
        "retention_mid_high": 0.72 + mid_high + noise + own,
        "aum_retention": 0.9 + noise + own,
        "npv": (900.0 + npv + 5 * np.cos(seed) + 1000 * own) * 1e6,
        "npv_opening_book": (800.0 + npv * 2.5 + 1000 * own) * 1e6,
        "npv_newcomers": (150.0 + 1000 * own) * 1e6,
        "npv_fixed": (-50.0 - npv * 1.5 + 5 * np.cos(seed) - 2000 * own) * 1e6,
    }


def made_up_run_all(specs, runs_dir: Path, executor, progress=True):
    outcomes = []
    for s in specs:
        made_up_run(Path(runs_dir) / s.run_id, s, made_up_summary(s.arm, s.seed))
        outcomes.append(Outcome(s.run_id, s.arm, s.seed, "ok", 0.0))
    return outcomes


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """(results folder, console lines) of the made-up experiment, reported."""
    out = tmp_path_factory.mktemp("board")
    args = [
        "population.customers=300",
        f"months={MONTHS}",
        "burn_in=2",
        "replications=8",
        "report=false",
        f"experiment.only=[{','.join(a for a in EFFECTS if a != 'baseline')}]",
        f"output.dir={out}",
    ]
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        from analysis import charts

        patch.setattr(compare_module, "run_all", made_up_run_all)
        patch.setattr(charts, "draw_all", lambda *args, **kwargs: [])
        compare, specs, root = prepare(compose_config(args, name="compare"), args)
        assert compare_module.run_experiment(compare, specs, root, progress=False) == 0
        report(root, out=lines.append)
    return root, lines


def visible(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


# --------------------------------------------------------------------------------------------
# The executive summary
# --------------------------------------------------------------------------------------------


def test_executive_summary_comes_first_in_html_and_markdown_and_last_in_the_console(board):
    root, lines = board
    page = (root / "report.html").read_text()
    assert re.findall(r'<section id="([^"]+)"', page)[0] == "summary"
    md = (root / "report.md").read_text()
    assert re.findall(r"^## (.*)$", md, re.MULTILINE)[0] == "Executive summary"
    text = "\n".join(lines)
    summary = text[text.index("EXECUTIVE SUMMARY") :]
    assert text.index("Workbook: ") < text.index("EXECUTIVE SUMMARY")
    ranked = re.findall(r"^\s+(\d+)\. (.+?) keeps", summary, re.MULTILINE)
    assert [int(n) for n, _ in ranked] == list(range(1, len(EFFECTS)))
    order = [name for _, name in ranked]
    assert order[0] == title("product_innovation")  # the only arm better and worse on nothing
    assert order[-1] == title("partner_promotion")  # worse on both
    assert f"Recommended: {title('product_innovation')}." in summary
    assert f"Recommended: {title('product_innovation')}." in visible(page)


def test_arm_sentences_speak_of_customers_in_every_100_and_money(board):
    root, _ = board
    md = (root / "report.md").read_text()
    product = title("product_innovation")
    assert re.search(
        rf"^\d+\. {product} keeps 2\.0 more customers in every 100 after {MONTHS} months and adds"
        rf" CNY 30\.0 M of NPV; better on mid/high-tier retention at {MONTHS} months"
        r" \(\+1\.0 pts\)\.$",
        md,
        re.MULTILINE,
    )
    digital = re.search(rf"^\d+\. {title('digital_scenario')} .*$", md, re.MULTILINE)[0]
    assert f"worse on mid/high-tier retention at {MONTHS} months (-2.0 pts)" in digital
    training = re.search(rf"^\d+\. {title('training')} .*$", md, re.MULTILINE)[0]
    assert training.count("(too small to matter)") == 2
    assert "better on" not in training and "worse on" not in training
    assert "Fixed costs weigh heavily" in md  # its fixed costs exceed its NPV difference
    assert "model evidence" in md and "Not modelled" in md and "8 seeds" in md


def test_a_real_but_possibly_small_gain_is_never_called_worth_acting_on():
    """Better whose interval reaches inside the smallest effect: the sentence qualifies it and,
    recommended, the caveats say by at least how much."""
    table = differences(arm("modest", {"retention_horizon": BETTER}, 0.003, 1e6))
    retention = table["kpi"] == "retention_horizon"
    table.loc[retention, ["ci_low", "ci_high", "smallest_effect"]] = (0.001, 0.005, 0.0025)
    table.loc[retention, "clears"] = False
    section = executive_section({"differences": table}, Labels(MONTHS), {}, 10, {})
    text = " ".join(getattr(b, "text", " ".join(getattr(b, "items", []))) for b in section.blocks)
    assert (
        "keeps 0.30 more customers in every 100 after 24 months (real, but possibly too small"
        in text
    )
    assert "Recommended: modest." in text
    assert (
        f"Its retention at {MONTHS} months is better for real, but possibly by less than the"
        " 0.25 pts worth acting on (by at least 0.10 pts)." in text
    )


def test_arm_sentences_name_the_kpis_decided_better_or_worse_and_only_those():
    """Decision KPIs first, then secondary ones in report order, each with its amount; not the
    negligible or undecided secondary ones, nor the parts of NPV unless they are decision KPIs;
    an undecided decision KPI is not yet clear."""
    mid_high = {"retention_mid_high": BETTER, "aum_retention": UNDECIDED}
    rows = [
        (a, k, 0.011 if k == "retention_mid_high" else diff, v)
        for a, k, diff, v in arm("follow_up", mid_high, 0.001, -3.2e6)
    ]
    rows += [
        ("follow_up", "revenue", 2e6, NEGLIGIBLE),
        ("follow_up", "npv_fixed", -5e6, WORSE),
        ("follow_up", "complaints", 120.0, WORSE),
        ("follow_up", "satisfaction", 0.012, BETTER),
        ("follow_up", "effort", -0.02, UNDECIDED),
    ]
    d = differences(rows).set_index("kpi")
    d.loc["satisfaction", "clears"] = False
    text = arm_sentence(d, "Follow-up service", Labels(MONTHS), DECISION_KPIS)
    assert text == (
        f"Follow-up service keeps 0.10 more customers in every 100 after {MONTHS} months (too"
        " small to matter) and loses CNY 3.2 M of NPV (too small to matter); better on"
        f" mid/high-tier retention at {MONTHS} months (+1.1 pts) and satisfaction (+0.012,"
        f" possibly small); worse on complaints (+120); not yet clear on AUM retention at"
        f" {MONTHS} months."
    )
    decided = arm_sentence(d, "F", Labels(MONTHS), (*DECISION_KPIS, "npv_fixed"))
    assert "worse on NPV of fixed costs (-CNY 5.0 M) and complaints (+120);" in decided


def test_the_verdict_headline_counts_the_possibly_small_ones():
    table = differences(
        [
            *arm("clear", {"retention_horizon": BETTER}, 0.02, 0.0),
            *arm("modest", {"retention_horizon": BETTER}, 0.003, 0.0),
        ]
    ).assign(smallest_effect=0.0025)
    modest = (table["arm"] == "modest") & (table["kpi"] == "retention_horizon")
    table.loc[modest, "clears"] = False
    text = _headline(verdicts(table), "baseline", Labels(MONTHS))
    assert f"Retention at {MONTHS} months: 2 better (1 possibly small), 0 worse," in text
    assert f"NPV over {MONTHS} months: 0 better, 0 worse, 2 negligible" in text


def differences(rows: list[tuple[str, str, float, str]]) -> pd.DataFrame:
    """Hand-made paired differences: (arm, kpi, mean difference, verdict)."""
    df = pd.DataFrame(rows, columns=["arm", "kpi", "mean_diff", "verdict"])
    return df.assign(point="", n=10, ci_low=df.mean_diff - 1, ci_high=df.mean_diff + 1).assign(
        seeds_needed=np.where(df.verdict == UNDECIDED, 40.0, np.nan),
        clears=True,
        note="",
        smallest_effect=0.0,
        level=0.95,
    )


def arm(name: str, verdicts: dict[str, str], retention: float, npv: float) -> list[tuple]:
    """Rows of one arm: its verdict on each decision KPI (negligible unless given)."""
    diffs = {"retention_horizon": retention, "npv": npv}
    return [(name, k, diffs.get(k, 0.0), verdicts.get(k, NEGLIGIBLE)) for k in DECISION_KPIS]


def test_ranking_rule_on_a_hand_made_verdict_table():
    table = differences(
        [
            *arm("both_worse", {"retention_horizon": WORSE, "npv": WORSE}, -0.02, -9e6),
            *arm("tradeoff", {"retention_horizon": BETTER, "npv": WORSE}, 0.05, -5e6),
            *arm("small_gain", {"retention_horizon": BETTER}, 0.01, 1e6),
            *arm("big_gain", {"retention_horizon": BETTER, "npv": UNDECIDED}, 0.02, 8e6),
            *arm("affluent_loss", {"retention_horizon": BETTER, "aum_retention": WORSE}, 0.1, 9e7),
            *arm("flat_rich", {"npv": BETTER}, 0.0, 2e7),
            *arm("flat", {}, 0.0, 0.0),
        ]
    )
    ranked = ranking(table, DECISION_KPIS)
    assert list(ranked["arm"]) == [
        "big_gain",  # better on retention, worse on none: by NPV
        "small_gain",
        "flat_rich",  # worse on none: by NPV
        "flat",
        "affluent_loss",  # worse on some
        "tradeoff",
        "both_worse",  # worse on both retention and NPV
    ]
    assert list(ranked["group"]) == [0, 0, 1, 1, 2, 2, 3]
    assert ranked.set_index("arm").loc["affluent_loss", "worse"] == ("aum_retention",)


VERDICT = st.sampled_from(VERDICTS)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(VERDICT, min_size=len(DECISION_KPIS), max_size=len(DECISION_KPIS)),
            st.floats(-0.05, 0.05),
            st.floats(-5e7, 5e7),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_the_recommendation_is_never_worse_on_a_decision_kpi(arms):
    rows = [
        row
        for i, (verdicts, retention, npv) in enumerate(arms)
        for row in arm(f"arm{i}", dict(zip(DECISION_KPIS, verdicts, strict=True)), retention, npv)
    ]
    table = differences(rows)
    section = executive_section({"differences": table}, Labels(MONTHS), {}, 10, {})
    texts = [b.text for b in section.blocks if hasattr(b, "text")]
    chosen = [t.removeprefix("Recommended: ").rstrip(".") for t in texts if "Recommended:" in t]
    qualifying = [
        f"arm{i}"
        for i, (verdicts, _, _) in enumerate(arms)
        if verdicts[0] == BETTER and WORSE not in verdicts
    ]
    if not qualifying:
        assert chosen == [] and "No strategy qualifies for a recommendation." in texts
        return
    (name,) = chosen
    mine = table[table["arm"] == name].set_index("kpi")["verdict"]
    assert WORSE not in set(mine) and mine["retention_horizon"] == BETTER
    npvs = table[(table.kpi == "npv") & table.arm.isin(qualifying)].set_index("arm").mean_diff
    assert npvs[name] == npvs.max()


# --------------------------------------------------------------------------------------------
# Labels and plain words
# --------------------------------------------------------------------------------------------


def test_every_retention_label_names_its_horizon(board):
    root, lines = board
    page = (root / "report.html").read_text()
    headers = [visible(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", page, re.DOTALL)]
    labels = [h for h in headers if "retention" in h.lower()]
    assert labels, "no retention column"
    for label in labels:
        assert re.search(r"at \d+ months", label), label
    text = visible(page) + "\n".join(lines)
    assert f"Retention at {MONTHS} months" in text
    assert not re.search(r"retention at (the )?horizon", text, re.IGNORECASE)
    for sentence in re.findall(r"retention [+-]\d", text):  # verdict sentences
        pytest.fail(f"a retention difference without its horizon: {sentence}")
    verdict_lines = [line for line in lines if re.match(r"^  \S.*: retention", line)]
    assert verdict_lines and all(f"retention at {MONTHS} months" in v for v in verdict_lines)
    assert any(line.startswith(f"  {title('lean_service')}: ") for line in verdict_lines)


def test_the_crn_sentence_says_the_precision_and_the_runs_in_plain_words(board):
    crn = pd.DataFrame(
        {
            "point": "",
            "arm": ["a", "b", "c"],
            "n": [20, 20, 20],
            "ratio": [0.05, 0.08, 0.1],
            "equivalent_replications": [400.0, 156.25, 100.0],
        }
    )
    sentence = crn_plain(crn, 60)
    assert sentence.startswith(
        "Every strategy was tested on the same 20 simulated 60-month histories of customers and"
        " events as the baseline"
    )
    assert "about 12 times more precisely" in sentence  # 1 / 0.08
    assert "20 paired runs did the work of about 3,100 unpaired ones" in sentence  # 20 x 156.25
    root, lines = board
    assert "Common random numbers: Every strategy was tested on the same 8" in "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The workbook
# --------------------------------------------------------------------------------------------


def test_workbook_round_trip(board):
    root, lines = board
    path = root / "results.xlsx"
    assert f"Workbook: {path}" in lines
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Summary", "Differences", "Monthly", "Read me"]
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2"
        assert all(cell.font.bold for cell in sheet[1] if cell.value is not None)
    sheets = pd.read_excel(path, sheet_name=None)
    summary = sheets["Summary"].set_index("Arm")
    stored = pd.read_csv(root / "summary.csv").set_index("arm")
    kpis = registry(MONTHS)
    for name in ("retention_horizon", "retention_mid_high", "npv"):
        kpi = kpis[name]
        column = f"{kpi.label} ({kpi.unit})"
        expected = stored[name] * kpi.scale
        assert np.allclose(summary.loc[stored.index, column], expected), column
        low = summary.loc[stored.index, f"{column}, CI low"]
        assert np.allclose(low, stored[f"{name}_ci_low"] * kpi.scale)
    verdict = f"Verdict on retention at {MONTHS} months"
    assert summary.loc["partner_promotion", verdict] == WORSE
    assert summary.loc["baseline", "Strategy"] == "Baseline"
    diffs = sheets["Differences"].set_index(["Arm", "KPI"])
    npv = diffs.loc[("product_innovation", f"NPV over {MONTHS} months")]
    assert npv["Difference"] == pytest.approx(30.0, abs=0.1) and npv["Verdict"] == BETTER
    readme = sheets["Read me"].set_index("Item")["What it holds"]
    assert f"{MONTHS} measured months" in readme["Horizon"]
    assert readme["Seeds"].startswith("8 per strategy")
    assert "8.0% a year" in readme["Discount rate"]


def test_a_folder_with_nothing_to_report_raises(tmp_path):
    with pytest.raises(NothingToReport, match=r"\./testbed compare"):
        report(tmp_path, out=lambda line: None)
