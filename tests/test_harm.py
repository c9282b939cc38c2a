"""Who gets hurt (analysis.harm): paired differences of the leavers tables against a planted
truth, groups that add up to the whole, the closed branches' catchments, and the report's
section, console lines and workbook sheet."""

import numpy as np
import pandas as pd
import pytest

from analysis.harm import CLOSED, DIMENSIONS, OPEN, Leavers, by_area, harm
from analysis.report import statistics, who_gets_hurt
from analysis.report.document import Para
from analysis.report.harm import console_lines, sentence
from analysis.report.labels import Labels
from analysis.report.sections import build
from analysis.report.workbook import harm_sheet
from runner.store import experiment_meta, load

SEEDS = range(8)
SEGMENTS = ("farmer", "retiree", "family")


def leavers_table(rng, extra_farmers: float, catchment_of_farmers: int) -> pd.DataFrame:
    """A run's leavers: of the opening book, each (segment, catchment) group about 100 exits
    (noise sd 5), farmers in one catchment ``extra_farmers`` more; and 50 newcomers, plus as
    many more as farmers leave (a strategy that brings in customers who leave)."""
    rows = [
        dict(
            book="newcomers", reason="switched", tier="mass", segment="family", banks_by="digital",
            catchment=0, area_x=0, area_y=1, exits=50.0 + extra_farmers, value_lost=0.0,
        )
    ]  # fmt: skip
    for segment in SEGMENTS:
        for catchment in range(3):
            exits = 100 + rng.normal(0, 5)
            if segment == "farmer" and catchment == catchment_of_farmers:
                exits += extra_farmers
            rows.append(
                dict(
                    book="opening_book", reason="switched", tier="mass", segment=segment,
                    banks_by="branch", catchment=catchment, area_x=catchment, area_y=0, exits=exits,
                    value_lost=exits * 1_000.0,
                )
            )  # fmt: skip
    return pd.DataFrame(rows)


def planted(extra: float) -> Leavers:
    """Baseline and ``close`` on the same seeds; ``close`` closes branch 2, where farmers leave
    ``extra`` more (the baseline's own noise is shared: common random numbers)."""
    tables, branches = [], []
    for seed in SEEDS:
        base = leavers_table(np.random.default_rng(seed), 0.0, 2)
        arm = leavers_table(np.random.default_rng(seed), extra, 2)
        arm["exits"] += np.random.default_rng(100 + seed).normal(0, 3, len(arm))
        for name, table, closed in (("baseline", base, False), ("close", arm, True)):
            keys = dict(point="", arm=name, seed=seed)
            tables.append(table.assign(**keys))
            branches.append(
                pd.DataFrame(
                    dict(keys, catchment=[0, 1, 2], label=["A", "B", "C"], x=[1.0, 2, 3],
                         y=[5.0, 5, 5], closed=[False, False, closed])
                )
            )  # fmt: skip
    return Leavers(pd.concat(tables, ignore_index=True), pd.concat(branches, ignore_index=True))


def row(table: pd.DataFrame, dimension: str, group: str) -> pd.Series:
    found = table[(table["dimension"] == dimension) & (table["group"] == group)]
    assert len(found) == 1, (dimension, group)
    return found.iloc[0]


def test_a_planted_harm_is_found_where_it_is_and_nowhere_else():
    table = harm(planted(60.0), "baseline")
    farmers = row(table, "segment", "farmer")
    assert farmers["exits_low"] > 0 and farmers["exits_low"] <= 60 <= farmers["exits_high"]
    assert farmers["n"] == len(SEEDS) and farmers["base_exits"] == pytest.approx(300, rel=0.1)
    for other in ("retiree", "family"):
        r = row(table, "segment", other)
        assert r["exits_low"] < 0 < r["exits_high"] and abs(r["exits"]) < 10
    closed, still_open = row(table, "closed", CLOSED), row(table, "closed", OPEN)
    assert closed["exits_low"] > 0 and still_open["exits_low"] < 0 < still_open["exits_high"]
    assert row(table, "catchment", "2")["exits"] == pytest.approx(closed["exits"])


def test_no_harm_planted_reads_as_none():
    table = harm(planted(0.0), "baseline")
    total = row(table, "all", "all")
    assert total["exits_low"] < 0 < total["exits_high"]
    assert (table["exits_low"] < 0).all() and (table["exits_high"] > 0).all()


def test_every_dimensions_groups_add_up_to_the_opening_books_leavers():
    """The groups are of the opening book; the book rows add newcomers (here as many more as
    farmers, whom the totals leave out)."""
    table = harm(planted(60.0), "baseline")
    total = row(table, "all", "all")
    for dimension in set(DIMENSIONS) - {"book"}:
        groups = table[table["dimension"] == dimension]
        for measure in ("exits", "value_lost", "base_exits"):
            assert groups[measure].sum() == pytest.approx(total[measure], rel=1e-9), dimension
    assert row(table, "book", "opening_book")["exits"] == pytest.approx(total["exits"])
    assert row(table, "book", "newcomers")["exits"] == pytest.approx(60.0, abs=5)  # noise: sd 3
    assert row(table, "book", "newcomers")["base_exits"] == pytest.approx(50.0)


def test_the_map_areas_add_up_and_show_where_the_harm_is():
    areas = by_area(planted(60.0), "baseline")
    assert areas["exits"].sum() == pytest.approx(
        row(harm(planted(60.0), "baseline"), "all", "all")["exits"]
    )
    worst = areas.loc[areas["exits"].idxmax()]
    assert worst["area_x"] == 2 and worst["exits_low"] > 0


def test_without_a_baseline_or_leavers_there_is_nothing_to_say():
    found = planted(10.0)
    assert harm(
        Leavers(found.table[found.table["arm"] != "baseline"], found.branches), "baseline"
    ).empty
    assert harm(Leavers(pd.DataFrame(), pd.DataFrame()), "baseline").empty


def test_catchments_are_compared_only_where_branches_stand_still():
    """A catchment is one place across seeds only when every run has its branches at the same
    sites; otherwise the table leaves catchments out (the closed-or-open grouping stays)."""
    found = planted(60.0)
    assert found.fixed_sites and "catchment" in set(harm(found, "baseline")["dimension"])
    moved = found.branches.assign(x=found.branches["x"] + found.branches["seed"])
    table = harm(Leavers(found.table, moved), "baseline")
    assert "catchment" not in set(table["dimension"]) and "closed" in set(table["dimension"])


def test_a_stored_comparison_says_who_gets_hurt_in_its_report(tiny_playbook):
    """The tiny playbook store: every arm's leavers add up to its exits in the summaries, and the
    report's section, console lines and workbook sheet name each strategy with its sentence."""
    runs = load(tiny_playbook)
    tables = statistics(tiny_playbook, runs)
    table = tables["harm"] = who_gets_hurt(tiny_playbook, runs)
    ok = runs[runs["status"] == "ok"]
    exits = ok.assign(exits=ok["customers_start"] + ok["new_customers"] - ok["customers_end"])
    mean = exits.groupby("arm")["exits"].mean()
    books = table[table["dimension"] == "book"].groupby("arm")["exits"].sum()
    for arm in books.index:
        assert books[arm] == pytest.approx(mean[arm] - mean["baseline"], abs=1e-6)
    total = table[table["dimension"] == "all"].set_index("arm")
    labels = Labels.of(runs, experiment_meta(tiny_playbook))
    doc = build(tiny_playbook, tables, runs, charts=[])
    section = next(s for s in doc.sections if s.id == "harm")
    said = [b.text for b in section.blocks if isinstance(b, Para)]
    lines = console_lines(table, labels)
    for arm in total.index:
        assert any(text.startswith(f"{labels.arm(arm)}: ") for text in said), arm
        assert any(line.startswith(f"  {labels.arm(arm)}: ") for line in lines), arm
    sheet = harm_sheet(table, labels)
    assert len(sheet) == len(table) and "Extra exits (customers)" in sheet.columns
    closure = table[(table["arm"] == "outlet_closure") & (table["dimension"] == "reason")]
    assert "closure" in set(closure["group"])


def test_the_sentence_names_the_planted_group_and_nothing_without_a_harm():
    """The words promise what the intervals show: "Hurts" with the planted group and the closed
    branches when the harm is there; "No clear change" when nothing was planted."""
    hurt = sentence(harm(planted(60.0), "baseline").query("arm == 'close'"), 12)
    assert hurt.startswith("Hurts ") and "farmers (+6" in hurt
    assert "near the closed branches" in hurt
    assert "retirees" not in hurt and "families" not in hurt
    none = sentence(harm(planted(0.0), "baseline").query("arm == 'close'"), 12)
    assert none.startswith("No clear change in who leaves")
