"""Hypothesis over both CLIs: every bad command line is refused with exit 2, one line on stderr
starting ``config error:``, no traceback, and nothing written (see ``bad_overrides``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from bad_overrides import CLIS, REFUSED, bad_overrides, clean_refusal, leaves, outcome
from hypothesis import given, settings

LEAVES = leaves()


@pytest.mark.parametrize("cli", sorted(CLIS))
def test_every_bad_command_line_is_refused_in_one_line(cli):
    @settings(max_examples=60, deadline=None, database=None, derandomize=True)
    @given(case=bad_overrides(LEAVES, cli))
    def check(case):
        argv, _ = case
        with tempfile.TemporaryDirectory() as tmp:
            what, code, stderr, written = outcome(cli, argv, Path(tmp) / "cwd")
            assert what == REFUSED, (argv, what, stderr[-2000:])
            assert clean_refusal(code, stderr, written), (argv, code, stderr, written)

    check()


def test_the_schema_walk_finds_the_parameters():
    keys = {leaf.key for leaf in LEAVES}
    assert {"months", "seed", "population.customers", "strategy.training.hours"} <= keys
    assert all(leaf.meta.get("unit") is not None for leaf in LEAVES)
