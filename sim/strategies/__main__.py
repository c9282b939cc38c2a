"""``python -m sim.strategies``: write each strategy's Hydra file and ``docs/strategies.md``.

Both are generated from the typed configs and docstrings, so they cannot drift from the code.
"""

from pathlib import Path

from sim.strategies import REGISTRY
from sim.strategies.base import config_yaml, strategies_markdown

ROOT = Path(__file__).resolve().parents[2]

if __name__ == "__main__":
    configs = ROOT / "configs" / "strategy"
    configs.mkdir(parents=True, exist_ok=True)
    for name, cls in sorted(REGISTRY.items()):
        (configs / f"{name}.yaml").write_text(config_yaml(cls))
    (ROOT / "docs" / "strategies.md").write_text(strategies_markdown(list(REGISTRY)))
    print(f"wrote {len(REGISTRY)} files in {configs} and docs/strategies.md")
