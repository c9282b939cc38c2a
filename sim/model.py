"""BankModel: the world, the services its mechanisms share, and the monthly order.

Customers are columns (:mod:`sim.customers`) updated with array operations; branches, client
managers, partners and competitors are Mesa agents (:mod:`sim.agents`). Each monthly mechanism
is a module of :mod:`sim.mechanisms`; the model runs them in this order (after a bookkeeping
step that archives leavers' rows once they are many):

1. competitors update their pull;
2. strategies act (``before_customers``);
3. staffing: manager quits and their customers' fate, learning, assignment, contact allocation;
4. service: branch visits and digital sessions, branch load, waits and service quality;
5. wealth: balances move, tiers follow AUM;
6. experience and satisfaction;
7. exits: switching (churn hazard) and natural exits;
8. engagement: referrals, cross-sell and product drops, complaints, usage;

(from trust and attention in 3 to 8 in one compiled pass over the customers: :mod:`sim.month`)
9. acquisition: referred friends and organic newcomers;
10. strategies act (``after_customers``);
11. the books close for the month;
12. KPIs are recorded (measured months only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from mesa import Model

from sim import bankdata, behaviour, geography, metrics, opening
from sim import month as customer_pass
from sim.agents import Branch, Competitor, Manager, Partner
from sim.arrivals import Arrivals
from sim.config import TIERS, Config
from sim.customers import CHANNELS, EXIT_REASONS, Customers, masked_sum, referrer_of
from sim.ledger import Ledger
from sim.market import Market
from sim.mechanisms import acquisition, books, exits, service, staffing
from sim.progress import bar as progress_bar
from sim.rng import Streams
from sim.settle import settle
from sim.strategies import base as strategies


@dataclass(frozen=True)
class Joining:
    """People about to join through one channel (:meth:`BankModel.joining`): their keys, their
    ``drawn`` segment, AUM and weight, homes (None: drawn from their keys), tenure (None: new
    customers) and, for referred friends, each one's referrer (a row of the customers)."""

    keys: np.ndarray
    drawn: dict[str, np.ndarray]
    channel: str
    xy: np.ndarray | None = None
    tenure: np.ndarray | None = None
    referrer: np.ndarray | None = None


class BankModel(Model):
    """One bank, its city, its customers and its rivals, stepped month by month."""

    def __init__(self, config: Config):
        super().__init__(rng=config.seed)
        self._rosters: dict[str, list] = {}  # sorted agents (_roster), until agents change
        self.config = config
        self.month = 0
        self.streams = Streams(config.seed)
        self.ledger = Ledger()
        self.segment_names = list(config.population.segments)
        self.seg = _segment_table(config)
        self.arrivals = Arrivals(config, self.seg, self.streams)
        self.planned = None  # branches of the branch file that open during the run
        self.wealth_share = np.asarray(config.economics.wealth_share, np.float32)
        self.managed_tier = TIERS.index(config.bank.managed_tier)
        self.contact_need = np.asarray(config.behaviour.contact_need, np.float64)
        self.fit_bonus = np.zeros(len(self.segment_names), np.float32)

        self.customers = Customers(int(config.population.customers * 1.2) + 64)
        self.by_segment = np.zeros(len(self.segment_names))  # real active customers
        self.events = metrics.new_events()
        self._build_world()
        longest = config.burn_in + config.months - int(self.customers.joined.min(initial=0))
        self.tenure_log_hazard = exits.tenure_logs(config.behaviour, longest + 1)
        self.market = Market(self)
        settle(self, config.population.settle_months)
        self.reset_levers()
        self.strategies = strategies.build(self)
        for strategy in self.strategies:
            strategy.setup()
        self.cohort = None if config.burn_in else metrics.Cohort(self)
        self.crm = None  # the CRM extract's snapshot, taken at its reference month
        metrics.crm_snapshot(self)
        self.kpi_rows: list[dict[str, float]] = []  # one ``monthly_kpis`` row per measured month

    # ----------------------------------------------------------------------------------------
    # Building the world
    # ----------------------------------------------------------------------------------------

    def _build_world(self) -> None:
        cfg = self.config
        data = bankdata.load(cfg) if bankdata.given(cfg) else None
        if data is not None and data.branches is not None:
            self.arrivals.around = opening.branch_homes(data, cfg.bank.city_km)
        if data is not None and data.customers is not None:
            keys, drawn, xy, tenure, known = self._extract_book(data)
        else:
            keys = self.arrivals.keys("opening_book", cfg.population.customers)
            drawn = self.arrivals.sampled(keys, self.arrivals.cells())
            xy = self.arrivals.homes(keys, drawn["segment"])
            tenure, known = self.arrivals.tenure(keys), {}
        self._open_branches(data, xy, drawn["weight"])
        for name, partner in cfg.market.partners.items():
            Partner(self, name, partner)
        for name, competitor in cfg.market.competitors.items():
            Competitor(self, name, competitor)
        rows = self.add_customers(keys, drawn, "opening_book", xy=xy, tenure=tenure)
        for name, values in known.items():
            getattr(self.customers, name)[rows] = values
        self._staff_branches(data)
        self._hire_team(data)
        staffing.assign_managers(self, trust=cfg.bank.opening_trust)

    def _extract_book(self, data: bankdata.BankData):
        """The opening book resampled from a CRM extract (:mod:`sim.opening`): keys, segment,
        AUM and weight, homes, tenure, and the columns the extract gives."""
        pop = self.config.population
        keys = self.arrivals.keys("opening_book", pop.customers)
        u = self.streams.uniform64("arrival:extract_row", 0, keys)
        picked = opening.resampled(data, u, self.arrivals.weight)
        c = data.customers.iloc[picked["row"]]
        segment = c["segment"].to_numpy(np.int8)
        guess = segment < 0
        segment[guess] = opening.likeliest_segment(
            c["age"].to_numpy()[guess], c["aum"].to_numpy()[guess], self.seg
        )
        branch = c["branch"].to_numpy()
        aum = c["aum"].to_numpy(np.float64)
        drawn = {"segment": segment, "aum": aum, "weight": picked["weight"]}
        xy = self.arrivals.homes(keys, segment, None if (branch < 0).any() else branch)
        known = {"age": c["age"].to_numpy(), "products": c["products"].to_numpy()}
        digital = c["digital"].to_numpy()
        if not np.isnan(digital).any():
            known["digital"] = digital
        return keys, drawn, xy, c["tenure_months"].to_numpy(np.int32), known

    def _open_branches(self, data, xy, weight) -> None:
        """The opening branches: the file's, or sites where the opening book lives."""
        bank = self.config.bank
        if data is not None and data.branches is not None:
            table = data.branches
            self.planned = table[table["opening_month"] > 0]
            for i, row in data.opening_branches.iterrows():
                cost = bank.branch_cost if np.isnan(row["cost"]) else row["cost"]
                Branch(self, i, row["x"], row["y"], cost, bank.branch_quality, row["branch"])
        else:
            rng = self.streams.generator("branch_sites")
            sites = geography.branch_sites(rng, xy, weight, bank.branches)
            for i, (x, y) in enumerate(sites):
                Branch(self, i, x, y, bank.branch_cost, bank.branch_quality)
        self.rehome()

    def _staff_branches(self, data) -> None:
        """Size each branch's capacity to its opening catchment's visits, unless the file gives
        it."""
        load = self.branch_visits()
        given = self._branch_column(data, "capacity")
        for branch in self.branches:
            capacity = given[branch.index] if given is not None else np.nan
            if np.isnan(capacity):
                capacity = max(load[branch.index], 1.0) / self.config.bank.branch_utilisation
            branch.capacity = capacity

    def _branch_column(self, data, name: str):
        """A column of the opening branches in the branch file, or None."""
        if data is None or data.branches is None:
            return None
        return data.opening_branches[name].to_numpy(np.float64)

    def branch_visits(self) -> np.ndarray:
        """Real branch visits per month by branch, from the active customers' channel mix."""
        c, per_month = self.customers, np.float32(self.config.bank.visits_per_month)
        visits = service.visits(per_month, c.digital, c.weight * c.active)
        return np.bincount(c.branch, weights=visits, minlength=len(self.branches))

    def _hire_team(self, data) -> None:
        """Desks go to branches as the branch file's staff says, or in proportion to their
        customers who get a manager."""
        cfg, c = self.config.bank, self.customers
        rng = self.streams.generator("managers")
        skill = np.clip(
            rng.normal(cfg.manager_skill, cfg.manager_skill_sd, cfg.managers), 0.05, 0.98
        )
        staff = self._branch_column(data, "staff")
        if staff is not None and not np.isnan(staff).any():
            desk_branch = np.repeat(np.arange(len(staff)), staff.astype(int))
        else:
            managed = np.bincount(c.branch, weights=c.weight * (c.tier >= self.managed_tier))
            managed = np.pad(managed, (0, cfg.branches - len(managed)))
            desk_branch = behaviour.apportion(managed + 1e-9, cfg.managers)
        for desk in range(cfg.managers):
            Manager(self, desk, desk_branch[desk], skill[desk], cfg.manager_contacts)

    @property
    def branches(self):
        return self.agents_by_type[Branch]

    @property
    def managers(self):
        return self.agents_by_type.get(Manager, [])

    @property
    def partners(self):
        return self.agents_by_type.get(Partner, [])

    @property
    def competitors(self):
        return self.agents_by_type.get(Competitor, [])

    def branch_list(self) -> list[Branch]:
        """The branches in index order."""
        return list(self._roster("branches"))

    def desk_list(self) -> list[Manager]:
        """The client managers in desk order."""
        return list(self._roster("desks"))

    def team(self) -> list[Manager]:
        """The client managers in the order they were hired (as ``managers`` iterates)."""
        return list(self._roster("team"))

    def _roster(self, name: str) -> list:
        """A list of agents, kept until an agent joins or leaves the model."""
        roster = self._rosters.get(name)
        if roster is None:
            if name == "branches":
                roster = sorted(self.branches, key=lambda b: b.index)
            elif name == "desks":
                roster = sorted(self.managers, key=lambda m: m.desk)
            else:
                roster = list(self.managers)
            self._rosters[name] = roster
        return roster

    def register_agent(self, agent) -> None:
        super().register_agent(agent)
        self._rosters = {}

    def deregister_agent(self, agent) -> None:
        super().deregister_agent(agent)
        self._rosters = {}

    # ----------------------------------------------------------------------------------------
    # Adding customers (opening book and every acquisition channel)
    # ----------------------------------------------------------------------------------------

    def add_customers(self, keys, drawn: dict, channel: str, xy=None, tenure=None) -> slice:
        """Add the people with these keys (``drawn``: their segment, AUM and weight; the rest is
        read from their keys); returns their rows. Homes are drawn unless ``xy`` is given.

        New customers (``tenure`` None) cost ``population.acquisition_cost`` per real customer.
        """
        return self.admit([self.joining(keys, drawn, channel, xy, tenure)])[0]

    def joining(
        self, keys, drawn: dict, channel: str, xy=None, tenure=None, referrer=None
    ) -> Joining:
        """People who join as :meth:`add_customers` says, counted in the market (``by_segment``)
        now and added to the columns by :meth:`admit`, which must follow before anything reads
        the customers (so that channels whose joining depends on the market's headroom can be
        drawn one after another and added in one batch)."""
        if len(keys):
            weight = np.asarray(drawn["weight"]).astype(np.float32)  # as the column holds it
            self.by_segment += np.bincount(drawn["segment"], weight, len(self.segment_names))
        return Joining(keys, drawn, channel, xy, tenure, referrer)

    def admit(self, groups: list[Joining]) -> list[slice]:
        """Add the people of ``groups`` (:meth:`joining`) in order, in one batch (one query for
        their nearest open branches, one draw of their attributes, one append); then count each
        group's newcomers and book what they cost. Returns each group's rows."""
        c, rows, start = self.customers, [], self.customers.n
        for group in groups:
            rows.append(slice(start, start + len(group.keys)))
            start += len(group.keys)
        if present := [g for g in groups if len(g.keys)]:
            c.append(**self._columns(present))
        cost = self.config.population.acquisition_cost
        for group, where in zip(groups, rows, strict=True):
            if group.tenure is None and len(group.keys):
                weight = c.weight[where]
                self.events[f"new_{group.channel}"] += float(weight.sum(dtype=np.float64))
                self.book_share("acquisition", cost * weight, where)
        return rows

    def _columns(self, groups: list[Joining]) -> dict[str, np.ndarray]:
        """The customer columns of the people joining in ``groups`` (none of them empty)."""

        def joined(column) -> np.ndarray:
            return np.concatenate([column(g) for g in groups])

        keys = joined(lambda g: g.keys)
        drawn = {name: joined(lambda g, name=name: g.drawn[name]) for name in groups[0].drawn}
        home = self.arrivals.homes
        xy = joined(lambda g: home(g.keys, g.drawn["segment"]) if g.xy is None else g.xy)
        branch, distance = self.open_branches.nearest(xy)
        return {
            "key": keys,
            **drawn,
            **self.arrivals.person(keys, drawn["segment"]),
            "x": xy[:, 0],
            "y": xy[:, 1],
            "tier": behaviour.tiers(drawn["aum"]),
            "branch": branch,
            "distance": distance,
            "near": behaviour.convenience(distance, self.config.bank.distance_km),
            "referred": joined(lambda g: np.full(len(g.keys), g.referrer is not None)),
            "referrer": joined(self._referrers),
            "channel": joined(lambda g: np.full(len(g.keys), CHANNELS.index(g.channel))),
            "joined": joined(lambda g: self.month - _tenure(g)),
            "last_used": self.month,
        }

    def _referrers(self, group: Joining) -> np.ndarray:
        """Each joining person's referrer as the ``referrer`` column codes it: tier x 2 + 1 if
        they bank mostly digitally (``customers.referrer_of``), -1 for people nobody referred."""
        if group.referrer is None:
            return np.full(len(group.keys), -1, np.int8)
        c = self.customers
        return referrer_of(c.tier[group.referrer], c.digital[group.referrer])

    def acquire(self, channel: str, real_rate: float, skew=None, stream: str = "") -> slice:
        """This month's newcomers through a channel (:meth:`newcomers`), added; their rows."""
        return self.admit([self.newcomers(channel, real_rate, skew, stream)])[0]

    def newcomers(self, channel: str, real_rate: float, skew=None, stream: str = "") -> Joining:
        """This month's newcomers through a channel: ``real_rate`` real people reached and won
        (segments skewed by ``skew``), of whom those not with the bank yet join (the market's
        headroom); ``stream`` (default: the channel) numbers the arrivals. Counted in the market
        now, added by :meth:`admit` (:meth:`joining`)."""
        stream = stream or channel
        cells = self.arrivals.cells(skew)
        n = self.arrivals.count_this_month(stream, self.month, real_rate, cells)
        keys = self.arrivals.keys(stream, n)
        drawn = self.arrivals.sampled(keys, cells)
        join = self.market.joins(self, keys, drawn["segment"])
        return self.joining(keys[join], {k: v[join] for k, v in drawn.items()}, channel)

    # ----------------------------------------------------------------------------------------
    # Branch geometry
    # ----------------------------------------------------------------------------------------

    def rehome(self) -> None:
        """Send every customer to the nearest open branch (after branches open or close)."""
        branches = self.branch_list()
        sites = np.array([(b.x, b.y) for b in branches], np.float32)
        open_ids = np.array([b.index for b in branches if b.is_open], np.int32)
        self.open_branches = geography.OpenBranches(sites, open_ids)
        c = self.customers
        c.branch[:], c.distance[:] = self.open_branches.nearest(np.column_stack([c.x, c.y]))
        c.near[:] = behaviour.convenience(c.distance, self.config.bank.distance_km)

    def close_branches(self, indices) -> np.ndarray:
        """Close branches: their customers go to the nearest open branch and their desks move
        there too. Returns the rows of the customers who were rehomed."""
        closing = [b for b in self.branch_list() if b.index in set(indices) and b.is_open]
        if len(closing) >= sum(b.is_open for b in self.branches):
            raise ValueError("cannot close every open branch")
        c = self.customers
        rehomed = np.flatnonzero(c.active & np.isin(c.branch, [b.index for b in closing]))
        for branch in closing:
            branch.is_open = False
            branch.closed = self.month
        self.rehome()
        for branch in closing:
            new_home, _ = self.open_branches.nearest(np.array([[branch.x, branch.y]]))
            for manager in self.managers:
                if manager.branch == branch.index:
                    manager.branch = int(new_home[0])
        return rehomed

    def open_branch(self, x: float, y: float, cost=None, label: str = "", capacity=None) -> Branch:
        """Open a branch at (x, y) km, staffed for the catchment it takes over unless its
        ``capacity`` (visits per month) is given; ``cost`` CNY a year (default the bank's)."""
        bank = self.config.bank
        cost = bank.branch_cost if cost is None else cost
        index = len(self.branches)
        branch = Branch(self, index, x, y, cost, bank.branch_quality, label)
        self.rehome()
        if capacity is None:
            capacity = max(self.branch_visits()[index], 1.0) / bank.branch_utilisation
        branch.capacity = capacity
        return branch

    def _open_planned(self, t: int) -> None:
        """Open the branch file's branches whose opening month this is."""
        due = self.planned[self.planned["opening_month"] + self.config.burn_in == t]
        for _, row in due.iterrows():
            given = {k: None if np.isnan(row[k]) else row[k] for k in ("cost", "capacity")}
            self.open_branch(row["x"], row["y"], label=row["branch"], **given)

    # ----------------------------------------------------------------------------------------
    # The monthly step
    # ----------------------------------------------------------------------------------------

    def reset_levers(self) -> None:
        """Return every lever to the bank's own setting; active strategies then apply theirs.

        Levers are rebuilt each month, so strategies compose: perks, fit and quality bonuses and
        digital quality add up; fee-surprise, wait, learning, quit and contact factors multiply.
        """
        bank = self.config.bank
        self.digital_quality = bank.digital_quality
        self.fee_surprise_factor = 1.0
        self.fit_bonus[:] = 0.0
        self.customers.perks[:] = 0.0
        self.customers.engagement_lift[:] = 0.0
        for branch in self._roster("branches"):
            branch.quality_bonus, branch.wait_factor = 0.0, 1.0
        for manager in self._roster("team"):
            manager.learning_multiplier = manager.quit_multiplier = 1.0
            manager.coaching = 0.0
            manager.budget.reset(bank.manager_contacts)  # a new month's contact time

    def step(self) -> None:
        self.month += 1
        t = self.month
        self.events = metrics.new_events()
        self.customers.compact()
        self.reset_levers()
        for competitor in self.competitors:
            competitor.step()
        if self.planned is not None:
            self._open_planned(t)
        self._strategies("before_customers", t)
        staffing.staff(self, t)
        referrers = customer_pass.run(self, t)
        acquisition.step(self, referrers)
        self._strategies("after_customers", t)
        tally = customer_pass.tally(self)
        books.step(self, tally.lines)
        self._record(t, tally)

    def _strategies(self, hook: str, t: int) -> None:
        for strategy in self.strategies:
            if strategy.active(t):
                getattr(strategy, hook)(t)
            elif hook == "after_customers" and strategy.ended(t):
                strategy.after_end(t)

    def exit(self, mask: np.ndarray, reason: str, t: int) -> None:
        """Customers in ``mask`` leave the bank this month for ``reason``."""
        c = self.customers
        idx = np.flatnonzero(mask)
        c.active[idx] = False
        c.left[idx] = t
        c.exit_reason[idx] = EXIT_REASONS.index(reason)
        weight = c.weight[idx]
        self.events[f"exit_{reason}"] += float(weight.sum(dtype=np.float64))
        for names, column in ((TIERS, c.tier), (self.segment_names, c.segment)):
            counts = np.bincount(column[idx], weights=weight, minlength=len(names))
            for name, n in zip(names, counts, strict=True):
                self.events[f"exits_{name}"] += float(n)
        self.by_segment -= counts  # the last counts are by segment

    @property
    def real_active(self) -> float:
        """Real customers the bank has: the weights of the active simulated ones."""
        c = self.customers
        return masked_sum(c.weight, c.active)

    def book_customers(self, line: str, amounts, newcomer=None, rate: float = 1.0) -> None:
        """Book ``rate`` x one amount per row (CNY, for the real customers the row stands for),
        split between the opening book (the measured cohort) and ``newcomer`` rows (default:
        everyone outside the cohort)."""
        newcomer = self.customers.cohort == 0 if newcomer is None else newcomer
        total = float(np.sum(amounts, dtype=np.float64))
        new = float(np.sum(amounts, where=newcomer, dtype=np.float64))
        self.ledger.book(line, rate * (total - new), "opening_book")
        self.ledger.book(line, rate * new, "newcomers")

    def book_share(self, line: str, amount, rows) -> None:
        """Book ``amount`` (CNY; a total, or one amount per row) spent on or earned from the
        customers in ``rows``, split between the opening book and newcomers by their weight
        (to the fixed group if there is nobody to split it by)."""
        c = self.customers
        weight = c.weight[rows].astype(np.float64)
        if np.ndim(amount) == 0:
            if weight.sum() <= 0:
                self.ledger.book(line, amount)
                return
            amount = amount * weight / weight.sum()
        newcomer = c.cohort[rows] == 0
        self.ledger.book(line, float(np.sum(amount, where=~newcomer)), "opening_book")
        self.ledger.book(line, float(np.sum(amount, where=newcomer)), "newcomers")

    def _record(self, t: int, tally: metrics.Tally) -> None:
        if t == self.config.burn_in:
            self.cohort = metrics.Cohort(self)
        elif t > self.config.burn_in:
            self.kpi_rows.append(metrics.monthly_kpis(self, tally))
        metrics.crm_snapshot(self)

    def run(self, progress: bool = False) -> None:
        """Run burn-in and measured months, with an optional progress bar."""
        total = self.config.burn_in + self.config.months
        with progress_bar(total, "months", progress, leave=False) as bar:
            for _ in range(total):
                self.step()
                bar.update()


def _tenure(group: Joining) -> np.ndarray:
    """Months with the bank of people joining: 0 for new customers."""
    return np.zeros(len(group.keys), np.int32) if group.tenure is None else group.tenure


def _segment_table(config: Config) -> dict[str, np.ndarray]:
    """Segment parameters as arrays indexed by segment number."""
    segments = list(config.population.segments.values())
    fields = (
        "share",
        "age_mean",
        "age_sd",
        "aum_median",
        "aum_sigma",
        "income",
        "digital",
        "urban",
        "rural",
        "products",
        "loan_share",
        "fit",
    )
    return {f: np.array([getattr(s, f) for s in segments], np.float64) for f in fields}
