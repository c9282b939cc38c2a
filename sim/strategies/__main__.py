"""``python -m sim.strategies``: write ``configs/strategy/<name>.yaml`` from the typed configs."""

from pathlib import Path

from sim.strategies import REGISTRY
from sim.strategies.base import config_yaml

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "strategy"

if __name__ == "__main__":
    CONFIG_DIR.mkdir(parents=True, exist_ok=True)
    for name, cls in sorted(REGISTRY.items()):
        (CONFIG_DIR / f"{name}.yaml").write_text(config_yaml(cls))
        print(f"wrote {CONFIG_DIR / name}.yaml")
