"""The strategies' measured effects: from a comparison's differences to docs/strategies.md."""

import pandas as pd

from analysis.stats import BETTER
from experiments.effects import MEASURES, effects
from sim.strategies.base import effects_markdown


def differences() -> pd.DataFrame:
    rows = []
    for arm, shift in (("training", 0.001), ("lean_service", 0.02)):
        for name, kpi in MEASURES.items():
            scale = 1e6 if name == "npv" else 1.0
            mean = shift * scale
            rows.append(
                {"point": "", "arm": arm, "kpi": kpi, "n": 20, "mean_diff": mean,
                 "ci_low": mean - 0.001 * scale, "ci_high": mean + 0.001 * scale,
                 "verdict": BETTER}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_effects_keep_the_written_reasons(tmp_path):
    table = effects(differences(), {"training": "skill takes years to show"})
    assert list(table["strategy"]) == ["training", "lean_service"]
    assert table.loc[0, "why"] == "skill takes years to show" and table.loc[1, "why"] == ""
    assert table.loc[1, "retention"] == 0.02 and table.loc[1, "npv_high"] == 21_000.0
    path = tmp_path / "effects.csv"
    table.to_csv(path, index=False)
    text = "\n".join(effects_markdown(path))
    assert "| `lean_service` | +2.00 (+1.90 to +2.10), better |" in text
    assert "skill takes years to show" in text and "20 seeds" in text


def test_no_effects_file_no_table(tmp_path):
    assert effects_markdown(tmp_path / "missing.csv") == []
