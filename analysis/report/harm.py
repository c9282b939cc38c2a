"""The report's "Who gets hurt": per strategy, a sentence naming the groups that lose (or keep)
more customers than the baseline on the same seeds, and a table of the extra exits and value
lost by exit reason, tier, segment, channel and branch catchment (:mod:`analysis.harm`)."""

from __future__ import annotations

import math

import pandas as pd

from analysis.harm import CLOSED, DIMENSIONS
from analysis.report.document import Cell, Para, Section, Table
from analysis.report.labels import Labels

REASONS = {
    "switched": "switched to a rival",
    "followed_manager": "followed their manager",
    "natural": "left naturally",
    "closure": "switched after their branch closed",
}
CHANNELS = {"branch": "branch users", "digital": "digital users"}
NEAR = {CLOSED: "near the closed branches", "open": "near branches left open"}
BOOKS = {"opening_book": "customers at the start", "newcomers": "newcomers"}
NAMED = 2  # groups named per dimension in a sentence


def group_words(dimension: str, group: str, row: pd.Series | None = None) -> str:
    """A group in a banker's words: "mass-tier customers", "farmers", "digital users"."""
    if dimension == "tier":
        return f"{group}-tier customers"
    if dimension == "segment":
        return _plural(group.replace("_", " "))
    if dimension == "banks_by":
        return CHANNELS.get(group, group)
    if dimension == "reason":
        return REASONS.get(group, group)
    if dimension == "closed":
        return NEAR.get(group, group)
    if dimension == "catchment":
        return f"near branch {_branch(group, row)}"
    if dimension == "book":
        return BOOKS.get(group, group)
    return "customers at the start"


def _branch(group: str, row: pd.Series | None) -> str:
    """A catchment's branch label, and how often the arm closed it."""
    if row is None or not isinstance(row.get("label"), str):
        return group
    share = row.get("closed_share", 0.0)
    n = int(row["n"])
    closed = round(share * n) if math.isfinite(share) else 0
    if closed == 0:
        return row["label"]
    return f"{row['label']} (closed{'' if closed == n else f' in {closed} of {n} seeds'})"


def _plural(noun: str) -> str:
    if noun.endswith("s"):
        return noun
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def count(x: float) -> str:
    """A signed count to two significant digits from 100 up: "+1,900", "-74", "+3"."""
    if not math.isfinite(x):
        return "n/a"
    step = 10 ** max(0, int(math.log10(abs(x))) - 1) if abs(x) >= 100 else 1
    return f"{round(x / step) * step:+,.0f}"


def sentence(rows: pd.DataFrame, months: int) -> str:
    """Who an arm hurts (or spares), from its rows of :func:`analysis.harm.harm`: e.g. "Hurts
    mass-tier customers (+330 exits), farmers (+150) and retirees (+110), most near the closed
    branches (+260): +320 exits in all over 60 months (95% CI +250 to +400)."."""
    total = _row(rows, "all", "all")
    if total is None:
        return ""
    sign = total["apart"]
    ci = f"95% CI {count(total['exits_low'])} to {count(total['exits_high'])}"
    if sign == 0:
        return (
            f"No clear change in who leaves among the customers at the start over {months} months"
            f" ({count(total['exits'])} exits, {ci})."
        )
    groups = [g for d in ("tier", "segment") for g in _groups(rows, d, sign)]
    where = _groups(rows, "closed", sign)[:1] if CLOSED in set(rows["group"]) else []
    head = "Hurts" if sign > 0 else "Keeps more"
    text = f"{head} {_and(groups) if groups else 'no one group in particular'}"
    if where:
        text += f", most {where[0]}"
    return (
        f"{text}: {count(total['exits'])} exits of the customers at the start over {months}"
        f" months ({ci})."
    )


def _groups(rows: pd.DataFrame, dimension: str, sign: int) -> list[str]:
    """The groups of a dimension apart from zero in the arm's direction, largest first."""
    mine = rows[(rows["dimension"] == dimension) & (rows["apart"] == sign)]
    mine = mine.reindex(mine["exits"].abs().sort_values(ascending=False).index).head(NAMED)
    return [
        f"{group_words(dimension, r['group'])} ({count(r['exits'])}"
        f"{' exits' if i == 0 and dimension == 'tier' else ''})"
        for i, (_, r) in enumerate(mine.iterrows())
    ]


def _and(items: list[str]) -> str:
    return " and ".join(filter(None, (", ".join(items[:-1]), items[-1])))


def _row(rows: pd.DataFrame, dimension: str, group: str) -> pd.Series | None:
    found = rows[(rows["dimension"] == dimension) & (rows["group"] == group)]
    return found.iloc[0] if len(found) else None


def section(table: pd.DataFrame, labels: Labels, short: dict) -> Section:
    """Per arm (and point), its sentence and its table: the baseline's exits, the extra exits
    and the extra value lost, each with its 95% interval, by group."""
    blocks: list = [Para(INTRO.format(months=labels.months))]
    for (point, arm), rows in table.groupby(["point", "arm"], sort=False):
        at = f" at {short.get(point, point)}" if point else ""
        blocks.append(Para(f"{labels.arm(arm)}{at}: {sentence(rows, labels.months)}"))
        blocks.append(_table(rows))
    blocks.append(Para(NOTE, note=True))
    return Section("harm", "Who gets hurt", blocks)


def shown(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows a report table shows: every group but the catchments, of which only those apart
    from zero or closed by the arm (the workbook has them all)."""
    catchment = rows["dimension"] == "catchment"
    keep = ~catchment | (rows["apart"] != 0) | (rows["closed_share"].fillna(0) > 0)
    if CLOSED not in set(rows["group"]):
        keep &= rows["dimension"] != "closed"
    return rows[keep]


def _table(rows: pd.DataFrame) -> Table:
    cells = []
    for _, r in shown(rows).iterrows():
        verdict = {1: "worse", -1: "better", 0: ""}[r["apart"]]
        cells.append(
            [
                Cell(DIMENSIONS[r["dimension"]].capitalize()),
                Cell(group_words(r["dimension"], r["group"], r)),
                Cell(f"{r['base_exits']:,.0f}"),
                Cell(count(r["exits"]), sub=_ci(r, "exits", count), verdict=verdict),
                Cell(_money(r["value_lost"]), sub=_ci(r, "value_lost", _money)),
            ]
        )
    columns = ["By", "Group", "Baseline exits", "Extra exits", "Extra value lost"]
    return Table(columns, cells, frozenset({2, 3, 4}), "harm")


def _ci(r: pd.Series, measure: str, show) -> str:
    low, high = r[f"{measure}_low"], r[f"{measure}_high"]
    return f"{show(low)} to {show(high)}" if math.isfinite(low) else "no CI"


def _money(x: float) -> str:
    return f"{'+' if x >= 0 else '-'}CNY {abs(x) / 1e6:,.1f} M" if math.isfinite(x) else "n/a"


def console_lines(table: pd.DataFrame | None, labels: Labels) -> list[str]:
    """One line per arm: its sentence."""
    if table is None or table.empty:
        return []
    head = "Who gets hurt (extra exits against the baseline on the same seeds, real customers):"
    return ["", head, *(f"  {line}" for line in arm_sentences(table, labels.months))]


def arm_sentences(table: pd.DataFrame, months: int) -> list[str]:
    """Per arm (and point), its name and :func:`sentence`: "Outlet closure: Hurts ..."."""
    return [
        f"{Labels.arm(arm)}{f' at {point}' if point else ''}: {sentence(rows, months)}"
        for (point, arm), rows in table.groupby(["point", "arm"], sort=False)
    ]


INTRO = (
    "Who leaves because of each strategy: among the customers at the start of the {months}"
    " measured months (the same people in every arm), its exits less the baseline's on the same"
    " seeds, by why they left, tier, segment, the channel they banked by and the branch they"
    " live nearest to (the bank's own branches at the start, whether the strategy closed them),"
    " in real customers; and the lifetime value those extra leavers took with them (discounted"
    " to the start, as NPV is). Positive: more exits or more value lost than on the baseline."
    " The last rows set the customers at the start beside newcomers, whom a strategy may bring"
    " in (more newcomers, more of them leave)."
)
NOTE = (
    "Means over the seeds with Student-t 95% intervals, group by group (not simultaneous: among"
    " many groups some look apart from zero by chance; the sentences name only groups apart"
    " from zero in the direction of the strategy's total). Tier and segment are the leavers' as"
    " they left. 'Switched after their branch closed' counts every switch by a customer whose"
    " branch closed under them, including those who would have switched anyway; the difference"
    " against the baseline is what the closure caused. Value lost can fall while exits rise:"
    " a strategy that lowers every customer's lifetime value (a longer trip to the branch, say)"
    " lowers what each leaver takes with them. The full table is in the workbook's"
    " 'Who gets hurt' sheet; the map of extra exits by area is among the figures."
)
