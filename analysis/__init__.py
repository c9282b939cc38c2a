"""Analysis of stored experiments: paired statistics and verdicts (``stats``), the charts
(``charts``) and the report (``report``), all read through :mod:`runner.store`.

A library without commands: ``python -m experiments.report`` and ``python -m experiments.compare``
call it.
"""
