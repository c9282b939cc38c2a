"""The executive summary: the arms ranked, one plain sentence each, then the recommendation and
its caveats.

The ranking rule (:data:`RANKING_RULE`) reads only the verdicts on the decision KPIs
(``experiment.decision_kpis``), so the recommendation cannot contradict them: the recommended arm
is better on retention at the horizon and worse on no decision KPI, or no arm is recommended.
"""

from __future__ import annotations

import math

import pandas as pd

from analysis.report.document import Bullets, Heading, Para, Section
from analysis.report.formats import finite, records
from analysis.report.harm import sentence
from analysis.report.labels import Labels
from analysis.stats import (
    BETTER,
    NEGLIGIBLE,
    ROLES,
    UNDECIDED,
    WORSE,
    near_end,
    possibly_small,
)
from sim.kpis import NPV_PARTS, REGISTRY, VALUE_LOST_PARTS, Kpi, counted, decimals

DECISION_KPIS = ("retention_horizon", "retention_mid_high", "aum_retention", "npv")
"""The decision KPIs of an experiment that does not name its own."""
RANKING_RULE = (
    "How strategies are ranked: first those better on {retention} and worse on no decision KPI"
    " ({kpis}); then the others worse on none; then those worse on some; last those worse on"
    " both {retention} and NPV. Within each group, by the NPV difference, then by the retention"
    " difference, largest first. The recommendation is the first strategy of the first group;"
    " when that group is empty, none is recommended."
)
QUALIFIERS = {
    BETTER: "",
    WORSE: "",
    NEGLIGIBLE: " (too small to matter)",
    UNDECIDED: " (not yet clear)",
}
POSSIBLY_SMALL = " (real, but possibly too small to matter)"
"""The qualifier of a better or worse verdict whose interval reaches inside the smallest effect."""
PARTS = (
    *NPV_PARTS,
    *(f"value_lost_{part}" for part in VALUE_LOST_PARTS),
    "revenue",
    "cost",
    "profit",
    "aum_end",
)
"""What arm sentences leave to the tables unless they are decision KPIs: the parts of NPV and
of the value lost, and the money flows NPV and AUM retention already sum up."""
NOT_MODELLED = (
    "Not modelled: competitors reacting to the bank, economic cycles and interest-rate paths,"
    " win-back of customers who left, and negative word of mouth (docs/model.md, section 7)."
)


def ranking(differences: pd.DataFrame, decision_kpis: tuple[str, ...]) -> pd.DataFrame:
    """One row per (point, arm), best first (:data:`RANKING_RULE`): point, arm, group (0-3),
    retention and npv (mean differences) and worse (the decision KPIs it is worse on)."""
    retention, profit = ROLES["retention"], ROLES["profit"]
    kpis = [
        k for k in dict.fromkeys((*decision_kpis, retention, profit)) if k in set(differences.kpi)
    ]
    wide = differences[differences["kpi"].isin(kpis)].pivot_table(
        index=["point", "arm"],
        columns="kpi",
        values=["mean_diff", "verdict"],
        aggfunc="first",
        sort=False,
    )
    rows = []
    for (point, arm), row in wide.iterrows():
        verdict = row["verdict"]
        worse = tuple(k for k in kpis if k in decision_kpis and verdict.get(k) == WORSE)
        both = verdict.get(retention) == WORSE and verdict.get(profit) == WORSE
        group = 3 if both else 2 if worse else 0 if verdict.get(retention) == BETTER else 1
        diff = row["mean_diff"]
        rows.append(
            {
                "point": point,
                "arm": arm,
                "group": group,
                "retention": diff.get(retention, math.nan),
                "npv": diff.get(profit, math.nan),
                "worse": worse,
            }
        )
    ranked = pd.DataFrame(rows, columns=["point", "arm", "group", "retention", "npv", "worse"])
    order = ranked.assign(
        npv=ranked["npv"].fillna(-math.inf), retention=ranked["retention"].fillna(-math.inf)
    )
    order = order.sort_values(
        ["group", "npv", "retention"], ascending=[True, False, False], kind="stable"
    )
    return ranked.loc[order.index].reset_index(drop=True)


def recommended(ranked: pd.DataFrame, references=()) -> dict | None:
    """The first arm of the first group, if that group has any; never one of the ``references``
    (``experiment.references``: arms shown for comparison, not a choice)."""
    first = ranked[(ranked["group"] == 0) & ~ranked["arm"].isin(list(references))]
    return records(first.head(1))[0] if len(first) else None


def executive_section(
    tables: dict[str, pd.DataFrame], labels: Labels, experiment: dict, seeds: int, short: dict
) -> Section:
    """The executive summary of a report with verdicts: the ranked arms, the recommendation and
    its caveats (without verdicts: why there is no ranking)."""
    section = Section("summary", "Executive summary")
    differences = tables.get("differences")
    if differences is None or differences.empty:
        section.blocks.append(Para("No runs of the baseline to compare with: no ranking."))
        return section
    decision = tuple(experiment.get("decision_kpis") or DECISION_KPIS)
    ranked = ranking(differences, decision)
    by_key = {
        key: g.set_index("kpi") for key, g in differences.groupby(["point", "arm"], sort=False)
    }
    baseline = labels.arm(experiment.get("baseline", "baseline"))
    section.blocks.append(
        Para(
            f"{counted(len(ranked), 'strategy', 'strategies')} against the {baseline.lower()} on"
            f" the same {counted(seeds, 'seed')},"
            f" over {labels.months} months. Ranked, best first:"
        )
    )
    references = list(experiment.get("references") or [])
    sentences = [
        arm_sentence(by_key[(r["point"], r["arm"])], _name(r, labels, short), labels, decision)
        + _who(tables.get("harm"), r, labels.months)
        for r in records(ranked)
    ]
    section.blocks.append(Bullets(sentences, ordered=True))
    chosen = recommended(ranked, references)
    section.blocks.append(Heading("Recommendation"))
    section.blocks += [
        Para(text) for text in _recommendation(chosen, ranked, labels, short, decision, references)
    ]
    mine = None if chosen is None else by_key[(chosen["point"], chosen["arm"])]
    section.blocks.append(Bullets(caveats(mine, labels, seeds, decision)))
    section.blocks.append(Para(ranking_rule(labels, decision), note=True))
    return section


def _who(harm: pd.DataFrame | None, row: dict, months: int) -> str:
    """Who the arm hurts or spares, as a second sentence (:mod:`.harm`); "" without leavers."""
    if harm is None or harm.empty:
        return ""
    mine = harm[(harm["point"] == row["point"]) & (harm["arm"] == row["arm"])]
    return f" {sentence(mine, months)}" if len(mine) else ""


def ranking_rule(labels: Labels, decision: tuple[str, ...]) -> str:
    kpis = ", ".join(labels.kpi(k).short for k in decision)
    return RANKING_RULE.format(retention=labels.kpi(ROLES["retention"]).short, kpis=kpis)


def arm_sentence(d: pd.DataFrame, name: str, labels: Labels, decision: tuple[str, ...]) -> str:
    """One arm's differences in a strategy team's words, e.g. "Follow-up service keeps 0.1 more
    customers in every 100 after 60 months (too small to matter) and loses CNY 3.2 M of NPV (too
    small to matter); better on mid/high-tier retention at 60 months (+1.1 pts); worse on
    complaints (+120)." (``d``: its rows of ``paired_differences``, by KPI)."""
    return "; ".join(arm_clauses(d, name, labels, decision)) + "."


def arm_clauses(d: pd.DataFrame, name: str, labels: Labels, decision: tuple[str, ...]) -> list:
    """The clauses of :func:`arm_sentence`: retention and NPV; the other KPIs decided better;
    those decided worse; the decision KPIs not yet clear (each only when it names any)."""
    retention, profit = ROLES["retention"], ROLES["profit"]
    head = f"{name} {_customers(d.loc[retention], labels.months)}"
    if profit in d.index:
        head += f" and {_money(d.loc[profit])}"
    clauses = [head]
    others = _others(d, decision)
    for verdict in (BETTER, WORSE):
        named = [_named(d.loc[k], labels.kpi(k)) for k in others if d.loc[k, "verdict"] == verdict]
        if named:
            clauses.append(f"{verdict} on {_and(named)}")
    unclear = [k for k in others if k in decision and d.loc[k, "verdict"] == UNDECIDED]
    if unclear:
        clauses.append(f"not yet clear on {_and([labels.kpi(k).short for k in unclear])}")
    return clauses


def _others(d: pd.DataFrame, decision: tuple[str, ...]) -> list[str]:
    """The KPIs of ``d`` other than retention and NPV: the decision KPIs first, then the
    secondary ones (not the :data:`PARTS`) in report order."""
    first = [k for k in decision if k in d.index]
    rest = [k for k in d.index if k not in decision and k not in PARTS]
    return [k for k in (*first, *rest) if k not in ROLES.values()]


def _named(d: pd.Series, kpi: Kpi) -> str:
    """A KPI and its difference, e.g. "complaints (+120)", "AUM retention at 60 months
    (+0.42 pts, possibly small)"."""
    small = ", possibly small" if possibly_small(d["verdict"], d.get("clears", True)) else ""
    return f"{kpi.short} ({_amount(kpi, d['mean_diff'])}{small})"


def _and(items: list[str]) -> str:
    """Items in words: "a", "a and b", "a, b and c"."""
    return " and ".join(filter(None, (", ".join(items[:-1]), items[-1])))


def caveats(d: pd.DataFrame | None, labels: Labels, seeds: int, decision: tuple[str, ...]) -> list:
    """What the recommendation rests on: its undecided or negligible NPV, undecided decision
    KPIs, fixed costs weighing on its NPV, the seeds, model evidence and what was not modelled
    (``d``: the recommended arm's differences by KPI, None without a recommendation)."""
    items = []
    if d is not None:
        items += _small_caveats(d, labels, decision)
        items += _npv_caveats(d, labels)
        open_ = [k for k in decision if k in d.index and d.loc[k, "verdict"] == UNDECIDED]
        open_ = [k for k in open_ if k != ROLES["profit"]]
        if open_:
            names = ", ".join(labels.kpi(k).short for k in open_)
            items.append(f"Not yet decided: {names}; more seeds would tell.")
    items += [
        f"The evidence is {seeds} seeds: {seeds} simulated {labels.months}-month histories of the"
        " same customers and events for every arm. The intervals cover the model's randomness,"
        " not errors in its assumptions.",
        "This is model evidence, from a simulation calibrated to published retention figures,"
        " not a trial with the bank's own customers: pilot a strategy before rolling it out.",
        NOT_MODELLED,
    ]
    return items


def _small_caveats(d: pd.DataFrame, labels: Labels, decision: tuple[str, ...]) -> list[str]:
    """The decision KPIs on which the recommended arm is better or worse, but possibly by less
    than the smallest effect worth acting on."""
    small = [
        k
        for k in decision
        if k in d.index and possibly_small(d.loc[k, "verdict"], d.loc[k, "clears"])
    ]
    return [
        f"Its {labels.kpi(k).short} is {d.loc[k, 'verdict']} for real, but possibly by less than"
        f" the {_size(labels.kpi(k), d.loc[k, 'smallest_effect'])} worth acting on"
        f" (by at least {_size(labels.kpi(k), abs(near_end(*d.loc[k, ['ci_low', 'ci_high']])))})."
        for k in small
    ]


def _size(kpi: Kpi, value: float) -> str:
    """An unsigned amount with its unit, with the decimals that show it: "0.25 pts"."""
    return _amount(kpi, value).lstrip("+")


def _amount(kpi: Kpi, value: float) -> str:
    """A signed difference with its unit, to two significant digits, whole above 1 for KPIs
    shown whole (counts): "+0.42 pts", "-CNY 3.2 M", "+120"."""
    shown = abs(value * kpi.scale)
    digits = decimals(shown)
    return kpi.amount(value, min(1, kpi.digits) if round(shown, digits) >= 1 else digits)


def _npv_caveats(d: pd.DataFrame, labels: Labels) -> list[str]:
    npv = d.loc[ROLES["profit"]]
    items = []
    if npv["verdict"] == UNDECIDED:
        needed = npv["seeds_needed"]
        more = f": about {needed:,.0f} seeds would decide it" if finite(needed) else ""
        items.append(
            f"Its NPV difference is not yet clear (between {_cny(npv['ci_low'])} and"
            f" {_cny(npv['ci_high'])}){more}."
        )
    elif npv["verdict"] == NEGLIGIBLE:
        items.append(
            "Its NPV is about the baseline's (the difference is too small to matter): the case"
            " rests on retention, not on money."
        )
    if set(NPV_PARTS) <= set(d.index):
        fixed = d.loc["npv_fixed", "mean_diff"]
        customers = d.loc["npv_opening_book", "mean_diff"] + d.loc["npv_newcomers", "mean_diff"]
        if abs(fixed) > abs(npv["mean_diff"]):
            gains = "gains" if customers >= 0 else "loses"
            spends = "spends" if fixed < 0 else "saves"
            items.append(
                f"Fixed costs weigh heavily: it {gains} {_cny(abs(customers))} of NPV from"
                f" customers and {spends} {_cny(abs(fixed))} more on fixed costs, netting"
                f" {_cny(npv['mean_diff'])}; fixed costs a fifth higher than assumed would take"
                f" {_cny(abs(fixed) / 5)} off its NPV."
            )
    return items


def _recommendation(
    chosen, ranked, labels: Labels, short: dict, decision, references=()
) -> tuple[str, ...]:
    """The recommendation, then why (and which arms were only references)."""
    shown = [labels.arm(a) for a in references if a in set(ranked["arm"])]
    aside = (
        f"Not candidates, shown for comparison only: {', '.join(shown)} (experiment.references)."
        if shown
        else ""
    )
    ranked = ranked[~ranked["arm"].isin(list(references))]
    return tuple(t for t in (*_choice(chosen, ranked, labels, short, decision), aside) if t)


def _choice(chosen, ranked, labels: Labels, short: dict, decision) -> tuple[str, str]:
    """The recommendation among the candidates, then why."""
    names = ", ".join(labels.kpi(k).short for k in decision)
    if chosen is None:
        return (
            "No strategy qualifies for a recommendation.",
            f"None is better on {labels.kpi(ROLES['retention']).short} without being worse on a"
            f" decision KPI ({names}). Keep the baseline, or weigh the trade-offs above.",
        )
    qualifying = int((ranked["group"] == 0).sum())
    rule = (
        f"keep{'s' if qualifying == 1 else ''} more customers after {labels.months} months than"
        f" the baseline while being worse on no decision KPI ({names})"
    )
    why = (
        f"It is the only strategy that {rule}."
        if qualifying == 1
        else f"Of the {qualifying} strategies that {rule}, it adds the most NPV."
    )
    return f"Recommended: {_name(chosen, labels, short)}.", why


def _name(row: dict, labels: Labels, short: dict) -> str:
    title = labels.arm(row["arm"])
    return f"{title} at {short.get(row['point'], row['point'])}" if row["point"] else title


def _customers(d: pd.Series, months: int) -> str:
    """A retention difference as customers kept in every 100 (its points: the rate's display
    scale), with its verdict's qualifier."""
    pts = d["mean_diff"] * REGISTRY[ROLES["retention"]].scale
    if not finite(pts):
        return f"has no paired runs to compare after {months} months"
    if abs(pts) < 0.005:
        return f"keeps as many customers after {months} months{_qualifier(d)}"
    digits = 1 if abs(pts) >= 0.95 else 2
    more = "more" if pts >= 0 else "fewer"
    amount = f"{abs(pts):,.{digits}f} {more} customers in every 100"
    return f"keeps {amount} after {months} months{_qualifier(d)}"


def _qualifier(d: pd.Series) -> str:
    """What a verdict adds to a sentence: nothing for a difference at least the smallest
    effect, else how sure or how small it is."""
    if possibly_small(d["verdict"], d.get("clears", True)):
        return POSSIBLY_SMALL
    return QUALIFIERS[d["verdict"]]


def _money(d: pd.Series) -> str:
    diff = d["mean_diff"]
    if not finite(diff):
        return "has no NPV to compare"
    verb = "adds" if diff >= 0 else "loses"
    return f"{verb} {_cny(abs(diff))} of NPV{_qualifier(d)}"


def _cny(value: float) -> str:
    """An amount of money in the NPV's display unit (``sim.kpis``), e.g. "CNY 6.6 M",
    "-CNY 11.0 M"."""
    return REGISTRY[ROLES["profit"]].amount(value).removeprefix("+")
