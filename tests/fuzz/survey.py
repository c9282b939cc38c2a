"""``.venv/bin/python tests/fuzz/survey.py [N] [SEED]``: try N (800) bad command lines over both
CLIs and print the figures: tried, refused cleanly, tracebacks, silently accepted nonsense (a value
outside its documented range accepted), other acceptances; then an example of each failure."""

from __future__ import annotations

import collections
import sys
import tempfile
from pathlib import Path

from bad_overrides import ACCEPTED, CLIS, REFUSED, bad_overrides, clean_refusal, leaves, outcome
from hypothesis import Phase, given, seed, settings
from hypothesis import strategies as st


def survey(n: int, seed_: int) -> collections.Counter:
    """Run ``n`` bad command lines over both CLIs; print and return the counts by outcome."""
    counts, examples, leaf_list = collections.Counter(), {}, leaves()
    cases = st.sampled_from(sorted(CLIS)).flatmap(
        lambda cli: bad_overrides(leaf_list, cli).map(lambda case: (cli, *case))
    )

    @seed(seed_)
    @settings(max_examples=n, deadline=None, database=None, phases=[Phase.generate])
    @given(case=cases)
    def tally(case):
        cli, argv, nonsense = case
        what, stderr = judge(cli, argv, nonsense)
        counts[what] += 1
        examples.setdefault(what, (cli, argv, stderr.strip().splitlines()[-1:]))

    tally()
    print(f"overrides tried: {sum(counts.values())}")
    for what, count in counts.most_common():
        print(f"  {what}: {count}")
    for what, example in examples.items():
        if what != REFUSED:
            print(f"example of {what}: {example}")
    return counts


def judge(cli: str, argv: list[str], nonsense: bool) -> tuple[str, str]:
    """What ``cli`` did with ``argv`` in words, and its stderr."""
    with tempfile.TemporaryDirectory() as tmp:
        what, code, stderr, written = outcome(cli, argv, Path(tmp) / "cwd")
    if what == REFUSED and not clean_refusal(code, stderr, written):
        what = "refused, but not in one clean line"
    if what == ACCEPTED:
        what = "silently accepted nonsense" if nonsense else "accepted (documented range)"
    return what, stderr


if __name__ == "__main__":
    n, seed_ = ([int(a) for a in sys.argv[1:]] + [800, 0][len(sys.argv) - 1 :])[:2]
    sys.exit(1 if set(survey(n, seed_)) - {REFUSED} else 0)
