"""Made-up run folders for tests of the statistics and reports: sound in the store's eyes (the
files a run must have, its own config, a manifest) but with a summary the test chooses."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sim.folders import write_checksums
from sim.provenance import provenance
from sim.scenario import config_yaml


def made_up_run(folder: Path, spec, summary: dict) -> None:
    """Store run ``spec`` in ``folder`` as a sound ok run whose summary is ``summary``."""
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(config_yaml(spec.config))
    record = provenance(spec.config, "", "", "ok")
    (folder / "provenance.json").write_text(json.dumps(record))
    (folder / "summary.json").write_text(json.dumps(summary))
    output = spec.config.output
    tables = [
        "timeseries",
        "branches",
        "leavers",
        *(t for t in ("panel", "crm_extract") if getattr(output, t)),
    ]
    for table in tables:
        pd.DataFrame({"month": []}).to_parquet(folder / f"{table}.parquet")
    write_checksums(folder)
