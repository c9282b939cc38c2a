"""The verdicts' error rates on known distributions: the table of docs/experiments.md.

    .venv/bin/python benchmarks/validity.py                 # 600 families a case, ~15 min
    .venv/bin/python benchmarks/validity.py --families 300  # quicker, wider Monte Carlo error

Per distribution of the per-seed differences (mean 0, sd 1; the smallest effect is 0.5 sd),
seeds (10, 20, 60, or auto's looks at 10, 20, ... 60) and family size (1, 3, 10 arms):
family-wise coverage with no effect, the chance that no effect is called better or worse, that
the smallest effect is called negligible, and that 0.9 of it is called better or worse by at
least the smallest effect (``analysis.validity``). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import time

from analysis.validity import DISTRIBUTIONS, Case, table

AUTO = (10, 20, 30, 40, 50, 60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=600)
    families = parser.parse_args().families
    clock = time.perf_counter()
    rows = []
    for distribution in DISTRIBUTIONS:
        for seeds in (10, 20, 60, AUTO):
            for arms in (1, 3, 10):
                cases = [Case(distribution, seeds, arms, e) for e in (0.0, 1.0, 0.9)]
                null, edge, near = (r for _, r in table(cases, families).iterrows())
                rows.append(
                    f"| {distribution} | {null.seeds} | {arms} | {null.coverage:.1%} |"
                    f" {null.better + null.worse:.1%} | {edge.negligible:.1%} |"
                    f" {near.beyond:.1%} | {near.better:.1%} | {null.seeds_used:.0f} |"
                )
                print(rows[-1], flush=True)
    print(
        "\n| differences | seeds | arms | coverage, no effect | better or worse, no effect |"
        " negligible at 1.0 s | beyond s at 0.9 s | better at 0.9 s | seeds used, no effect |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(
        f"\n{families:,} families a case; Monte Carlo standard error of a 5% rate:"
        f" {(0.05 * 0.95 / families) ** 0.5:.1%}; {time.perf_counter() - clock:.0f} s"
    )


if __name__ == "__main__":
    main()
