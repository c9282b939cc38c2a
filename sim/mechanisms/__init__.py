"""The monthly mechanisms, one module each, in the order ``BankModel.step`` runs them.

Each module holds its constants and a ``step(model, ...)`` function that reads and writes the
model's customers (columns), agents and levers; none imports :mod:`sim.model`. The model owns the
world and the services they share (adding and removing customers, branch geometry, the ledger and
the random streams).

- :mod:`~sim.mechanisms.staffing` (3): manager quits, learning, assignment, contacts, attention
- :mod:`~sim.mechanisms.service` (4): branch visits, digital sessions, waits, service cost
- :mod:`~sim.mechanisms.wealth` (5): balances, tiers, ageing
- :mod:`~sim.mechanisms.experience` (6): experience and satisfaction
- :mod:`~sim.mechanisms.exits` (7): switching and natural exits
- :mod:`~sim.mechanisms.engagement` (8): referrals, cross-sell, complaints, engagement, usage
- :mod:`~sim.mechanisms.acquisition` (9): referred friends and organic newcomers
- :mod:`~sim.mechanisms.books` (11): the month's ledger
"""
