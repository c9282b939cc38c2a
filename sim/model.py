"""BankModel: builds the world and runs the monthly step in one explicit order.

Customers are columns (:mod:`sim.customers`) updated with array operations; branches, client
managers, partners and competitors are Mesa agents (:mod:`sim.agents`). The monthly order is
(after a bookkeeping step that archives leavers' rows once they are many):

1. competitors update their pull;
2. strategies act (``before_customers``);
3. staffing: manager quits and their customers' fate, learning, assignment, contact allocation;
4. service: branch visits and digital sessions, branch load, waits and service quality;
5. wealth: balances move, tiers follow AUM;
6. experience and satisfaction;
7. exits: switching (churn hazard) and natural exits;
8. engagement: referrals, cross-sell and product drops, complaints, usage;
9. organic acquisition;
10. strategies act (``after_customers``);
11. the books close for the month;
12. KPIs are recorded (measured months only).
"""

from __future__ import annotations

import numpy as np
from mesa import DataCollector, Model

from sim import behaviour, geography, metrics
from sim.agents import Branch, Competitor, Manager, Partner
from sim.arrivals import Arrivals
from sim.config import TIERS, Config
from sim.customers import CHANNELS, EXIT_REASONS, Customers, masked_sum
from sim.ledger import Ledger
from sim.rng import Streams
from sim.strategies import base as strategies

NEUTRAL_ATTENTION = 0.5  # attention of a customer who neither gets nor misses a manager


class BankModel(Model):
    """One bank, its city, its customers and its rivals, stepped month by month."""

    def __init__(self, config: Config):
        super().__init__(rng=config.seed)
        self.config = config
        self.month = 0
        self.streams = Streams(config.seed)
        self.ledger = Ledger()
        self.segment_names = list(config.population.segments)
        self.seg = _segment_table(config)
        self.arrivals = Arrivals(config, self.seg, self.streams)
        self._constants()
        self.contact_need = np.asarray(config.behaviour.contact_need, np.float64)
        self.fit_bonus = np.zeros(len(self.segment_names), np.float32)

        self.customers = Customers(int(config.population.customers * 1.2) + 64)
        self.events = metrics.new_events()
        self._build_world()
        self.spare_contacts = np.zeros(len(self.managers))  # per desk, after last month's needs
        self.reset_levers()
        self.strategies = strategies.build(self)
        for strategy in self.strategies:
            strategy.setup()
        self.cohort = None if config.burn_in else metrics.Cohort(self)
        self.datacollector = DataCollector()  # reporters are set at the first measured month

    # ----------------------------------------------------------------------------------------
    # Building the world
    # ----------------------------------------------------------------------------------------

    def _constants(self) -> None:
        b = self.config.behaviour
        self.log_base_hazard = _log(behaviour.monthly(b.churn_base))
        self.log_product_hazard = _log(b.product_hazard)
        self.log_tier_hazard = _log(b.tier_hazard)
        self.log_manager_change = _log(b.manager_change_hazard)
        self.log_referred = _log(b.referred_hazard)
        self.wealth_share = np.asarray(self.config.economics.wealth_share, np.float32)
        self.managed_tier = TIERS.index(self.config.bank.managed_tier)
        self.shock_decay = np.float32(0.5 ** (1.0 / b.shock_half_life))

    def _build_world(self) -> None:
        cfg = self.config
        keys = self.arrivals.keys("opening_book", cfg.population.customers)
        drawn = self.arrivals.sampled(keys, self.arrivals.cells())
        xy = self.arrivals.homes(keys, drawn["segment"])
        sites = geography.branch_sites(
            self.streams.generator("branch_sites"), xy, drawn["weight"], cfg.bank.branches
        )
        bank = cfg.bank
        for i, (x, y) in enumerate(sites):
            Branch(self, i, x, y, bank.branch_cost, bank.branch_quality)
        self.rehome()
        for name, partner in cfg.market.partners.items():
            Partner(self, name, partner)
        for name, competitor in cfg.market.competitors.items():
            Competitor(self, name, competitor)
        tenure = self.arrivals.tenure(keys)
        self.add_customers(keys, drawn, "opening_book", xy=xy, tenure=tenure)
        self._staff_branches()
        self._hire_team()
        self.assign_managers(trust=bank.opening_trust)

    def _staff_branches(self) -> None:
        """Size each branch's capacity to its opening catchment's visits."""
        load = self.branch_visits()
        for branch in self.branches:
            branch.capacity = max(load[branch.index], 1.0) / self.config.bank.branch_utilisation

    def branch_visits(self) -> np.ndarray:
        """Real branch visits per month by branch, from the active customers' channel mix."""
        c, bank = self.customers, self.config.bank
        visits = bank.visits_per_month * (1.0 - c.digital) * c.weight * c.active
        return np.bincount(c.branch, weights=visits, minlength=len(self.branches))

    def _hire_team(self) -> None:
        """Desks go to branches in proportion to their customers who get a manager."""
        cfg, c = self.config.bank, self.customers
        rng = self.streams.generator("managers")
        skill = np.clip(
            rng.normal(cfg.manager_skill, cfg.manager_skill_sd, cfg.managers), 0.05, 0.98
        )
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
        return sorted(self.branches, key=lambda b: b.index)

    def desk_list(self) -> list[Manager]:
        return sorted(self.managers, key=lambda m: m.desk)

    # ----------------------------------------------------------------------------------------
    # Adding customers (opening book and every acquisition channel)
    # ----------------------------------------------------------------------------------------

    def add_customers(
        self, keys, drawn: dict, channel: str, xy=None, tenure=None, referred=False
    ) -> slice:
        """Add the people with these keys (``drawn``: their segment, AUM and weight; the rest is
        read from their keys); returns their rows. Homes are drawn unless ``xy`` is given.

        New customers (``tenure`` None) cost ``population.acquisition_cost`` per real customer.
        """
        n, seg = len(keys), drawn["segment"]
        if n == 0:
            return slice(self.customers.n, self.customers.n)
        xy = self.arrivals.homes(keys, seg) if xy is None else xy
        branch, distance = self.open_branches.nearest(xy)
        rows = self.customers.append(
            key=keys,
            **drawn,
            **self.arrivals.person(keys, seg),
            x=xy[:, 0],
            y=xy[:, 1],
            tier=behaviour.tiers(drawn["aum"]),
            branch=branch,
            distance=distance,
            referred=referred,
            channel=CHANNELS.index(channel),
            joined=self.month - (0 if tenure is None else tenure),
            last_used=self.month,
        )
        if tenure is None:
            weight = self.customers.weight[rows]
            self.events[f"new_{channel}"] += float(weight.sum(dtype=np.float64))
            self.book_share("acquisition", self.config.population.acquisition_cost * weight, rows)
        return rows

    def acquire(self, channel: str, real_rate: float, skew=None, stream: str = "") -> slice:
        """This month's newcomers through a channel: ``real_rate`` real arrivals expected,
        segments skewed by ``skew``; ``stream`` (default: the channel) numbers the arrivals."""
        stream = stream or channel
        cells = self.arrivals.cells(skew)
        n = self.arrivals.count_this_month(stream, self.month, real_rate, cells)
        keys = self.arrivals.keys(stream, n)
        return self.add_customers(keys, self.arrivals.sampled(keys, cells), channel)

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

    def open_branch(self, x: float, y: float) -> Branch:
        """Open a branch at (x, y) km, staffed for the catchment it takes over."""
        bank = self.config.bank
        branch = Branch(self, len(self.branches), x, y, bank.branch_cost, bank.branch_quality)
        self.rehome()
        branch.capacity = max(self.branch_visits()[branch.index], 1.0) / bank.branch_utilisation
        return branch

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
        for branch in self.branches:
            branch.quality_bonus, branch.wait_factor = 0.0, 1.0
        for manager in self.managers:
            manager.learning_multiplier = manager.quit_multiplier = 1.0
            manager.contacts = bank.manager_contacts

    def step(self) -> None:
        self.month += 1
        t = self.month
        self.events = metrics.new_events()
        self.customers.compact()
        self.reset_levers()
        for competitor in self.competitors:
            competitor.step()
        self._strategies("before_customers", t)
        self._staff(t)
        self._serve()
        self._grow_wealth(t)
        pull, fee, fit = self._experience(t)
        self._exits(t, pull)
        self._engage(t, fee, fit)
        self._acquire_organic(t)
        self._strategies("after_customers", t)
        self._book()
        self._record(t)

    def _strategies(self, hook: str, t: int) -> None:
        for strategy in self.strategies:
            if strategy.active(t):
                getattr(strategy, hook)(t)
            elif hook == "after_customers" and strategy.ended(t):
                strategy.after_end(t)

    # 3. Staffing ------------------------------------------------------------------------------

    def _staff(self, t: int) -> None:
        c, cfg = self.customers, self.config
        desks = self.desk_list()
        if desks:
            self._quits(t, desks)
            desks = self.desk_list()
            for manager in desks:
                manager.learn(cfg.bank.learning_rate)
        self.assign_managers(trust=cfg.behaviour.trust_after_change)
        managed = c.manager >= 0
        c.trust += (1.0 - c.trust) / np.float32(cfg.bank.trust_months) * managed
        c.attention[:] = self._attention(c, desks)

    def _attention(self, c, desks: list[Manager]) -> np.ndarray:
        """Manager attention 0-1: neutral 0.5 without a manager or need; a manager adds up to 0.5
        by contact coverage x skill x trust; in managed tiers, unmet need for contact costs up to
        the neglect penalty. Looked up by cell (desk + 1, tier); desk row 0 is "no manager"."""
        cell = (c.manager + 1) * 4 + c.tier
        customers = np.bincount(cell, weights=c.weight * c.active, minlength=(len(desks) + 1) * 4)
        skill = np.array([m.skill for m in desks], np.float32)
        contacts = np.array([m.contacts for m in desks], np.float64)
        served, spare = behaviour.contact_coverage(
            customers.reshape(-1, 4)[1:], self.contact_need, contacts
        )
        self.spare_contacts = spare  # per desk, real contacts
        coverage = np.vstack([np.zeros(4), served])
        wants = (self.contact_need > 0) & (np.arange(4) >= self.managed_tier)
        base = NEUTRAL_ATTENTION - self.config.behaviour.neglect_penalty * (1 - coverage) * wants
        span = (1.0 - NEUTRAL_ATTENTION) * coverage * np.r_[0.0, skill][:, None]
        attention = base.astype(np.float32).ravel()[cell]
        attention += span.astype(np.float32).ravel()[cell] * c.trust
        return attention

    def _quits(self, t: int, desks: list[Manager]) -> None:
        c, bank = self.customers, self.config.bank
        u = self.streams.uniform("manager_quits", t, [m.desk for m in desks])
        rate = behaviour.monthly(bank.manager_quit_rate)
        leaving = [m for m, draw in zip(desks, u, strict=True) if draw < rate * m.quit_multiplier]
        if not leaving:
            return
        quit_desks = np.array([m.desk for m in leaving])
        theirs = c.active & np.isin(c.manager, quit_desks)
        rows = np.flatnonzero(theirs)
        u = self.streams.uniform("manager_follow", t, c.key[rows])
        follow = np.zeros_like(theirs)
        follow[rows] = u < bank.follow_manager * c.trust[rows]
        self.exit(follow, "followed_manager", t)
        stay = theirs & ~follow
        c.trust[stay] = self.config.behaviour.trust_after_change
        c.manager_change[stay] = t
        for m in leaving:
            m.remove()
            Manager(self, m.desk, m.branch, bank.hire_skill, bank.manager_contacts)
        self.events["manager_quits"] += len(leaving)

    def assign_managers(self, trust: float) -> None:
        """Match managers to tiers: customers who fell below the managed tier lose theirs;
        those at or above it without one get a desk at their branch (dealt round-robin over
        its desks, least loaded in real customers first), starting with ``trust``."""
        c, desks = self.customers, self.desk_list()
        expects = c.tier >= self.managed_tier
        c.manager[(c.manager >= 0) & ~expects] = -1
        need = np.flatnonzero(c.active & (c.manager < 0) & expects)
        if not desks or not len(need):
            return
        c.trust[need] = trust
        desk_branch = np.array([m.branch for m in desks])
        managed = c.active & (c.manager >= 0)
        load = np.zeros(len(desks))  # real customers per desk
        load += np.bincount(c.manager[managed], weights=c.weight[managed], minlength=len(desks))
        for b in np.unique(c.branch[need]):
            mine = need[c.branch[need] == b]
            candidates = np.flatnonzero(desk_branch == b)
            if not len(candidates):
                candidates = np.arange(len(desks))
            order = candidates[np.argsort(load[candidates], kind="stable")]
            c.manager[mine] = order[np.arange(len(mine)) % len(order)]
            load += np.bincount(c.manager[mine], weights=c.weight[mine], minlength=len(desks))

    # 4. Service -------------------------------------------------------------------------------

    def _serve(self) -> None:
        c, bank = self.customers, self.config.bank
        load = self.branch_visits()
        for branch in self.branch_list():
            branch.serve(load[branch.index], bank.wait_minutes)
        self.events["visits"] = float(load.sum())
        self.events["sessions"] = masked_sum(c.digital * c.weight, c.active) * (
            bank.sessions_per_month
        )
        visits = bank.visits_per_month * (1.0 - c.digital) * bank.visit_cost
        sessions = bank.sessions_per_month * c.digital * bank.digital_cost
        self.book_customers("service", (visits + sessions) * c.weight * c.active)

    # 5. Wealth --------------------------------------------------------------------------------

    def _grow_wealth(self, t: int) -> None:
        c, m = self.customers, self.config.market
        z = self.streams.generator("market", t).standard_normal()
        market_return = m.market_return / 12.0 + m.market_volatility * z
        noise = self.streams.shock("wealth", t, c.key)
        log_growth = behaviour.log_growth(
            self.wealth_share[c.tier],
            market_return,
            noise,
            m.deposit_growth / 12.0,
            m.balance_volatility,
        )
        c.aum *= np.exp(log_growth * c.active)  # leavers' balances stay frozen
        c.age[:] += np.float32(1 / 12) * c.active
        tier = behaviour.tiers(c.aum)
        self.events["upgrades"] += masked_sum(c.weight, tier > c.tier)
        self.events["downgrades"] += masked_sum(c.weight, tier < c.tier)
        c.tier[:] = tier

    # 6. Experience ----------------------------------------------------------------------------

    def _experience(self, t: int):
        """Update satisfaction; returns this month's competitor pull, fee surprises and fit."""
        c, b, cfg = self.customers, self.config.behaviour, self.config
        branches = self.branch_list()
        quality = np.array([br.quality for br in branches], np.float32)[c.branch]
        wait = np.array([br.wait for br in branches], np.float32)[c.branch]
        near = behaviour.convenience(c.distance, cfg.bank.distance_km)
        d = c.digital
        digital_quality = min(self.digital_quality, 1.0)
        c.effort[:] = behaviour.effort(d, wait, near, digital_quality)
        fit = np.clip(c.fit + self.fit_bonus[c.segment], 0.0, 1.0)
        components = {
            "service": (1.0 - d) * quality + d * digital_quality,
            "convenience": d + (1.0 - d) * near,
            "effort": 1.0 - c.effort,
            "attention": c.attention,
            "fit": fit,
        }
        fee = (
            self.streams.uniform("fees", t, c.key) < b.fee_surprise_rate * self.fee_surprise_factor
        )
        pull = sum((comp.pull_on(c.tier, d) for comp in self.competitors), np.float32(0))
        penalty = np.where(fee, np.float32(b.fee_surprise_penalty), np.float32(0))
        penalty += np.float32(b.competitor_penalty) * pull
        now = behaviour.experience(components, b.weights, c.perks - penalty)
        c.satisfaction += behaviour.smooth_step(c.satisfaction, now, b.smoothing) * c.active
        return pull, fee & c.active, fit

    # 7. Exits ---------------------------------------------------------------------------------

    def _exits(self, t: int, pull) -> None:
        c, b = self.customers, self.config.behaviour
        f32 = np.float32
        tenure = (t - c.joined).astype(f32)
        log_hazard = (
            self.log_base_hazard
            + f32(b.satisfaction_coef) * (f32(b.satisfaction_ref) - c.satisfaction)
            + self.log_product_hazard[np.minimum(c.products, 4) - 1]
            + np.log(
                behaviour.tenure_multiplier(
                    tenure, b.new_customer_hazard, max(b.long_tenure_hazard, 1e-12), b.tenure_months
                )
            )
            + self.log_tier_hazard[c.tier]
            + f32(b.competitor_coef) * pull
            + np.where(
                t - c.manager_change < b.manager_change_months,
                self.log_manager_change,
                f32(0),
            )
            + np.where(c.referred, self.log_referred, f32(0))
            + c.shock
        )
        switching = np.exp(log_hazard)
        natural = behaviour.natural_exit_hazard(c.age, b.natural_exit, b.old_age_exit)
        total = switching + natural
        p_leave = -np.expm1(-total)
        p_natural = p_leave * np.divide(natural, total, out=np.zeros_like(total), where=total > 0)
        u = self.streams.uniform("churn", t, c.key)
        leave = c.active & (u < p_leave)
        is_natural = u < p_natural
        self.exit(leave & is_natural, "natural", t)
        self.exit(leave & ~is_natural, "switched", t)
        c.shock[:] *= self.shock_decay

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

    # 8. Engagement ----------------------------------------------------------------------------

    def _engage(self, t: int, fee, fit) -> None:
        c, b = self.customers, self.config.behaviour
        sat = c.satisfaction
        p_refer = b.referral_rate * np.clip(
            (sat - b.referral_threshold) / (1.0 - b.referral_threshold + 1e-9), 0.0, 1.0
        )
        referrers = np.flatnonzero(
            c.active & (self.streams.uniform("referrals", t, c.key) < p_refer)
        )
        u = self.streams.uniform("products", t, c.key)
        add = c.active & (u < b.cross_sell_rate * sat * fit) & (c.products < 6)
        drop = c.active & (u > 1.0 - b.drop_rate * (1.0 - sat)) & (c.products > 1)
        c.products[:] += add.astype(np.int8) - drop.astype(np.int8)
        p_complain = b.complaint_rate * (1.0 - sat) + b.complaint_fee * fee
        complain = c.active & (self.streams.uniform("complaints", t, c.key) < p_complain)
        c.complaints[:] += complain
        self.events["complaints"] += masked_sum(c.weight, complain)
        self.events["fee_complaints"] += masked_sum(c.weight, complain & fee)
        use = -np.expm1(-b.usage_rate * c.products * sat)
        used = c.active & (self.streams.uniform("usage", t, c.key) < use)
        np.copyto(c.last_used, t, where=used)
        self._referred(referrers)

    def _referred(self, referrers: np.ndarray) -> None:
        """Referred friends join: keyed to their referrer, in the referrer's segment, living
        nearby, a little richer (:meth:`Arrivals.friends`)."""
        if not len(referrers):
            return
        c = self.customers
        who, friends = self.arrivals.friends(
            c.key[referrers], c.friends[referrers], c.segment[referrers], c.weight[referrers]
        )
        c.friends[referrers] += 1
        keys = friends.pop("key")
        near = np.column_stack([c.x[referrers], c.y[referrers]])[who]
        self.add_customers(
            keys, friends, "referral", xy=self.arrivals.near(keys, near), referred=True
        )

    # 9. Acquisition ---------------------------------------------------------------------------

    def _acquire_organic(self, t: int) -> None:
        self.acquire("organic", self.config.population.organic_rate * self.real_active)

    @property
    def real_active(self) -> float:
        """Real customers the bank has: the weights of the active simulated ones."""
        c = self.customers
        return masked_sum(c.weight, c.active)

    # 11. Books --------------------------------------------------------------------------------

    def _book(self) -> None:
        c, e, bank = self.customers, self.config.economics, self.config.bank
        weight = c.weight * c.active
        wealth = c.aum * self.wealth_share[c.tier] * weight
        newcomer = c.cohort == 0
        books = {
            "deposit_margin": (e.deposit_margin / 12.0, c.aum * weight - wealth),
            "wealth_fees": (e.wealth_fee / 12.0, wealth),
            "loan_interest": (e.loan_margin / 12.0, c.loan * weight),
            "payment_income": (e.payment_income, weight),
        }
        loans = books["loan_interest"][1]
        books["credit_losses"] = (e.default_rate / 12.0 * e.loss_given_default, loans)
        for line, (rate, base) in books.items():
            self.book_customers(line, base, newcomer, rate)
        self.ledger.book("branches", sum(b.cost for b in self.branches if b.is_open) / 12.0)
        self.ledger.book("staff", len(self.managers) * bank.manager_salary / 12.0)
        self.books = self.ledger.close()

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

    # 12. Records ------------------------------------------------------------------------------

    def _record(self, t: int) -> None:
        if t == self.config.burn_in:
            self.cohort = metrics.Cohort(self)
        elif t > self.config.burn_in:
            self.kpis = metrics.monthly_kpis(self)
            if not self.datacollector.model_reporters:
                self.datacollector = DataCollector(model_reporters=metrics.reporters(self.kpis))
            self.datacollector.collect(self)

    def run(self, progress: bool = False) -> None:
        """Run burn-in and measured months, with an optional progress bar."""
        from tqdm.auto import trange

        total = self.config.burn_in + self.config.months
        for _ in trange(total, desc="months", unit="mo", disable=not progress, leave=False):
            self.step()


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


def _log(value) -> np.ndarray:
    """Natural log as float32, with zero mapped to a tiny positive number (no hazard)."""
    return np.log(np.maximum(np.asarray(value, np.float64), 1e-30)).astype(np.float32)
