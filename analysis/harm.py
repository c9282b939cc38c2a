"""Who gets hurt: each arm's extra exits and extra value lost against the baseline on the same
seeds among the opening book (the customers when the measured months began: the same people in
every arm, so their difference is what the strategy did to them), by exit reason, tier, segment,
channel, branch catchment and whether that branch closed, and by area for the map; and the
exits of the opening book beside those of newcomers (whom a strategy may bring in, or not).

Every run stores its leavers grouped alike (``leavers.parquet``, :func:`sim.metrics.leavers`),
so an arm's groups subtract from the baseline's seed by seed; each difference gets its mean
over the seeds and a Student-t 95% interval (per group, not simultaneous: a table of many groups
holds some that look apart from zero by chance, so the sentences name only groups whose interval
excludes zero in the direction of the arm's total).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from runner import store
from sim.metrics import LEAVER_GROUPS

DIMENSIONS = {
    "all": "the opening book",
    "reason": "exit reason",
    "tier": "tier",
    "segment": "segment",
    "banks_by": "channel",
    "closed": "their branch",
    "catchment": "branch catchment",
    "book": "book",
}
"""The groupings of the table, and their words."""
CLOSED, OPEN = "closed", "open"  # the groups of ``closed``: the catchments the arm closed or not
LEVEL = 0.95
MEASURES = ("exits", "value_lost")
RUN_KEYS = ["point", "arm", "seed"]
COLUMNS = {*LEAVER_GROUPS, *MEASURES}  # of a leavers table


@dataclass
class Leavers:
    """The successful runs' leavers tables stacked with point, arm and seed, and per run and
    branch of the bank's own its site (``x``, ``y``), ``label`` and whether it ``closed``."""

    table: pd.DataFrame
    branches: pd.DataFrame

    @classmethod
    def load(cls, results: Path, runs: pd.DataFrame) -> Leavers:
        """Read them from a store (runs without a leavers table, of older versions, left out)."""
        tables, branches = [], []
        for row in runs[runs["status"] == "ok"].itertuples():
            table = store.load_run_table(results, row.run_id, "leavers")
            sites = store.load_run_table(results, row.run_id, "branches")
            if table is None or sites is None or not set(table.columns) >= COLUMNS:
                continue  # a run of an older version
            keys = dict(point=row.point, arm=row.arm, seed=row.seed)
            tables.append(table.assign(**keys))
            own = sites[sites["opened_month"].isna()]
            branches.append(
                pd.DataFrame(
                    {
                        **keys,
                        "catchment": own["branch"].to_numpy(),
                        "label": own["label"].astype(str).to_numpy(),
                        "x": own["x"].to_numpy(),
                        "y": own["y"].to_numpy(),
                        "closed": own["closed_month"].notna().to_numpy(),
                    }
                )
            )
        if not tables:
            return cls(pd.DataFrame(), pd.DataFrame())
        return cls(pd.concat(tables, ignore_index=True), pd.concat(branches, ignore_index=True))

    @property
    def empty(self) -> bool:
        return self.table.empty

    @property
    def fixed_sites(self) -> bool:
        """Whether every run has the same branches at the same sites (a bank's own branch file),
        so that a catchment is one place across seeds (the synthetic bank draws its sites with
        its customers, seed by seed)."""
        sites = self.branches.groupby("catchment")[["x", "y"]].nunique()
        return bool(len(sites)) and int(sites.to_numpy().max()) == 1


def harm(found: Leavers, baseline: str) -> pd.DataFrame:
    """One row per (point, arm, dimension, group) of the opening book's leavers (the ``book``
    rows: of everyone, the opening book's and newcomers'): seeds ``n``, the baseline's mean exits
    (``base_exits``) and each measure's mean paired difference with its 95% interval
    (``exits``, ``exits_low``, ``exits_high``; the same for ``value_lost``), ``apart``: +1 or -1
    when the exits' interval lies above or below zero, else 0; for catchments (banks whose
    branches stand in the same places in every run: :attr:`Leavers.fixed_sites`) the
    branch's ``label`` and ``closed_share``. Groups with no leavers in the arm or the baseline
    are left out."""
    if found.empty or baseline not in set(found.table["arm"]):
        return pd.DataFrame()
    everyone, frames = found.table.assign(all="all"), []
    opening = everyone[everyone["book"] == "opening_book"]
    for dimension in DIMENSIONS:
        leavers = everyone if dimension == "book" else opening
        if dimension == "catchment" and not found.fixed_sites:
            continue  # catchment 3 of one seed is not the place of catchment 3 of another
        if dimension == "closed":
            pairs = _by_closure(paired(leavers, baseline, ["catchment"]), found.branches)
        else:
            pairs = paired(leavers, baseline, [dimension])
        if pairs.empty:
            continue
        pairs = pairs.assign(dimension=dimension, group=pairs[dimension].astype(str))
        frames.append(summarise(pairs, ["point", "arm", "dimension", "group"]))
    if not frames:
        return pd.DataFrame()
    return _with_branches(pd.concat(frames, ignore_index=True), found.branches)


def _with_branches(table: pd.DataFrame, branches: pd.DataFrame) -> pd.DataFrame:
    """The catchment rows' branch ``label`` and ``closed_share``, the share of the arm's seeds
    in which that branch closed (NaN on other rows)."""
    own = branches.assign(group=branches["catchment"].astype(str), dimension="catchment")
    keys = ["point", "arm", "dimension", "group"]
    per_arm = own.groupby(keys, as_index=False).agg(
        label=("label", "first"), closed_share=("closed", "mean")
    )
    return table.merge(per_arm, on=keys, how="left")


def by_area(found: Leavers, baseline: str) -> pd.DataFrame:
    """Per (point, arm, area_x, area_y) of the opening book's homes: the mean paired difference
    in exits and value lost over the seeds, their 95% intervals and the baseline's mean exits
    (what the map shows)."""
    if found.empty or baseline not in set(found.table["arm"]):
        return pd.DataFrame()
    opening = found.table[found.table["book"] == "opening_book"]
    pairs = paired(opening, baseline, ["area_x", "area_y"])
    return summarise(pairs, ["point", "arm", "area_x", "area_y"]) if len(pairs) else pairs


def paired(leavers: pd.DataFrame, baseline: str, by: list[str]) -> pd.DataFrame:
    """Each arm's sums over ``by`` less the baseline's on the same point and seed: one row per
    (point, arm, seed, *by) with the ``exits`` and ``value_lost`` differences and the baseline's
    ``base_exits``."""
    sums = leavers.groupby([*RUN_KEYS, *by], observed=True)[list(MEASURES)].sum()
    wide = sums.unstack(by, fill_value=0.0)
    base = wide.xs(baseline, level="arm")
    arms = wide.drop(baseline, level="arm")
    if arms.empty:
        return pd.DataFrame()
    columns = arms.columns.union(base.columns)
    base_on = base.reindex(arms.index.droplevel("arm")).set_axis(arms.index)
    ran = base_on.notna().any(axis=1)  # the seeds the baseline ran
    arms = arms[ran].reindex(columns=columns, fill_value=0.0)
    base_on = base_on[ran].reindex(columns=columns).fillna(0.0)
    long = (arms - base_on).stack(by, future_stack=True)
    return long.join(
        base_on["exits"].stack(by, future_stack=True).rename("base_exits")
    ).reset_index()


def _by_closure(pairs: pd.DataFrame, branches: pd.DataFrame) -> pd.DataFrame:
    """Catchment pairs summed by whether the arm's run closed that catchment's branch."""
    if pairs.empty:
        return pairs
    flags = branches.set_index([*RUN_KEYS, "catchment"])["closed"]
    closed = flags.reindex(pd.MultiIndex.from_frame(pairs[[*RUN_KEYS, "catchment"]]))
    pairs = pairs.assign(closed=np.where(closed.fillna(False).to_numpy(bool), CLOSED, OPEN))
    return pairs.groupby([*RUN_KEYS, "closed"], as_index=False)[[*MEASURES, "base_exits"]].sum()


def summarise(pairs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per ``keys``: seeds, the baseline's mean exits, each measure's mean and interval; groups
    without leavers on either side go."""
    grouped = pairs.groupby(keys, sort=False)
    out = grouped.agg(n=("seed", "nunique"), base_exits=("base_exits", "mean")).reset_index()
    for measure in MEASURES:
        mean, sd = grouped[measure].mean().to_numpy(), grouped[measure].std().to_numpy()
        low, high = t_interval(mean, sd, out["n"].to_numpy())
        out[measure], out[f"{measure}_low"], out[f"{measure}_high"] = mean, low, high
    out["apart"] = np.select([out["exits_low"] > 0, out["exits_high"] < 0], [1, -1], 0)
    some = (out["base_exits"] > 0) | (
        grouped["exits"].apply(lambda d: d.abs().max()).to_numpy() > 0
    )
    return out[some].reset_index(drop=True)


def t_interval(mean: np.ndarray, sd: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Student-t 95% intervals of means (NaN below 2 seeds; the mean itself for no spread)."""
    n = np.asarray(n, float)
    half = np.full_like(mean, np.nan)
    ok = n >= 2
    half[ok] = stats.t.ppf(0.5 + LEVEL / 2, n[ok] - 1) * np.nan_to_num(sd[ok]) / np.sqrt(n[ok])
    return mean - half, mean + half
