"""The experiment report: ``report.html`` (self-contained, rendered in headless Chromium) and
``report.md``, written with the figures by ``report.report`` (and so by ``experiments.compare``
and ``python -m experiments.report``).

The tiny playbook shared with the chart tests (``tiny_playbook``,
tests/tiny_store.py: 300 customers, 2 burn-in + 6 measured months, 2 seeds, the baseline and
every playbook arm) is copied and reported once per session; the tests read what it wrote. The
browser test needs Chromium (Debian's ``chromium``, which ``.ci/run`` installs) and fails, saying
so, without it.
"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import struct
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatch
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from analysis.report import build, report, write_report
from analysis.report.html import render as render_html
from analysis.stats import UNDECIDED, VERDICTS
from runner.store import load
from sim.kpis import NPV_PARTS
from sim.strategies import title

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK = yaml.safe_load((ROOT / "configs" / "experiment" / "playbook.yaml").read_text())
ARMS = tuple(PLAYBOOK["arms"])  # the tiny playbook's arms, in the experiment's order
TITLES = {title(arm): arm for arm in ARMS}  # "Manager training" -> "training"
RUNS = 2 * len(ARMS)  # 2 seeds of each arm
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no network: an external resource cannot load
]
PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const loaded = images.filter((i) => i.complete && i.naturalWidth > 0).length;
  const external = performance.getEntriesByType("resource")
    .filter((r) => !r.name.startsWith("data:")).length;
  const overflow = document.documentElement.scrollWidth > window.innerWidth ? 1 : 0;
  const clipped = Array.from(document.querySelectorAll(".scroll"))
    .filter((d) => d.scrollWidth > d.clientWidth + 1).length;  // a table wider than the page
  document.title = `probe images ${loaded}/${images.length} external ${external}`
    + ` overflow ${overflow} clipped ${clipped}`;
});
</script>
"""


GRID = (  # long point labels, as a two-key grid over strategy parameters gives
    "strategy.outlet_closure.count=0,strategy.partner_promotion.budget=500000.0",
    "strategy.outlet_closure.count=6,strategy.partner_promotion.budget=2000000.0",
)


@dataclass
class Reported:
    root: Path
    tables: dict[str, pd.DataFrame]
    printed: str
    html: str
    md: str


@pytest.fixture(scope="session")
def reported(tiny_playbook, tmp_path_factory) -> Reported:
    """The tiny playbook, run by the experiment runner without a report, copied (the shared
    store stays as it is) and reported by ``report.report``."""
    root = tmp_path_factory.mktemp("html_report") / "playbook"
    shutil.copytree(tiny_playbook, root)
    assert not (root / "report.html").exists()  # report=false
    lines: list[str] = []
    tables = report(root, out=lines.append)
    return Reported(
        root,
        tables,
        "\n".join(lines),
        (root / "report.html").read_text(encoding="utf-8"),
        (root / "report.md").read_text(encoding="utf-8"),
    )


@pytest.fixture(scope="session")
def grid_report(reported, tmp_path_factory) -> Path:
    """The same runs reported as two points of a grid (without charts): a sweep's tables."""
    folder = tmp_path_factory.mktemp("grid") / "sweep"
    shutil.copytree(reported.root, folder, ignore=shutil.ignore_patterns("figures", "report.*"))
    tables = {
        name: pd.concat([reported.tables[name].assign(point=p) for p in GRID], ignore_index=True)
        for name in ("summary", "verdicts", "crn")
    }
    return write_report(folder, tables, load(folder), charts=[]).html


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of each table's cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.tables: dict[str, list[list[tuple[str, str]]]] = {}  # class -> rows of (text, class)
        self._table = self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("class") or "", [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = ["", attrs.get("class") or ""]

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._row.append((self._cell[0].strip(), self._cell[1]))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data + " "


def parse(text: str) -> Tags:
    tags = Tags()
    tags.feed(text)
    return tags


def captions(text: str) -> list[str]:
    """The text of every figure caption of a page, unescaped."""
    found = re.findall(r"<figcaption>(.*?)</figcaption>", text, re.DOTALL)
    return [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in found]


def charts(reported: Reported) -> list[dict]:
    figures = reported.tables["figures"]
    assert len(figures), f"no charts drawn:\n{reported.printed}"
    return figures.to_dict("records")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


# --------------------------------------------------------------------------------------------
# Files and wiring
# --------------------------------------------------------------------------------------------


def test_report_writes_html_md_and_figures_and_prints_their_paths(reported):
    root = reported.root
    for name in ("report.html", "report.md"):
        assert (root / name).is_file()
        assert f"Report: {root / name}" in reported.printed
    assert f"Figures: {root / 'figures'}" in reported.printed
    assert "not drawn" not in reported.printed
    for chart in charts(reported):
        for kind in ("png", "svg"):
            path = Path(chart[kind])
            assert path.is_file() and path.stat().st_size > 0, path
            assert path.parent == root / "figures"
    # report.py's own outputs are still written and printed
    assert (root / "summary.csv").exists() and (root / "crn.csv").exists()
    training = re.escape(title("training"))
    assert re.search(rf"^\s*{training}: retention at 6 months ", reported.printed, re.MULTILINE)
    means = reported.tables["summary"].set_index("arm")["retention_horizon"] * 100
    for arm in ARMS:  # the arm means table of the report, as text
        line = rf"^{re.escape(title(arm))} +2 .* {means[arm]:.1f} ± "
        assert re.search(line, reported.printed, re.MULTILINE)


# --------------------------------------------------------------------------------------------
# report.html
# --------------------------------------------------------------------------------------------


def test_html_loads_nothing_from_outside(reported):
    text = reported.html
    assert "http://" not in text and "https://" not in text
    assert "<link" not in text.lower()
    assert "<script" not in text.lower()  # no scripts at all, inline or not
    assert "@import" not in text and "url(" not in text
    tags = parse(text).tags
    sources = [(tag, a["src"]) for tag, a in tags if "src" in a]
    assert sources, "no images"
    assert all(src.startswith("data:image/png;base64,") for _, src in sources), sources[:3]
    for tag, attrs in tags:
        href = attrs.get("href")
        assert href is None or href.startswith("#"), (tag, href)  # in-page links only
        assert not {"srcset", "poster", "data", "background"} & set(attrs), (tag, attrs)
        assert tag not in ("iframe", "object", "embed", "video", "audio", "link", "base"), tag


def test_every_chart_is_embedded_with_its_title_and_caption(reported):
    text = reported.html
    sources = {a["src"] for tag, a in parse(text).tags if tag == "img"}
    listed = charts(reported)
    assert len(sources) == len(listed)
    for chart in listed:
        data = base64.b64encode(Path(chart["png"]).read_bytes()).decode("ascii")
        assert f"data:image/png;base64,{data}" in sources, chart["name"]
        assert f'id="figure-{html.escape(chart["name"])}"' in text
        assert any(f"{chart['title']}. {chart['caption']}" in c for c in captions(text))


def test_verdict_table_lists_every_arm_with_its_verdicts_coloured(reported):
    tables = parse(reported.html).tables
    rows = tables["verdicts"]
    assert [row[0][0] for row in rows] == list(TITLES)
    verdicts = reported.tables["verdicts"].set_index("arm")
    for row in rows[1:]:
        arm = TITLES[row[0][0]]
        retention, profit = row[4], row[7]  # Arm Runs Ret Δ verdict NPV Δ verdict
        for (text, cls), role in ((retention, "retention"), (profit, "profit")):
            verdict = verdicts.loc[arm, f"{role}_verdict"]
            assert verdict in VERDICTS
            assert text.startswith(f"{verdict} 2 seeds"), (arm, role, text)  # seeds it used
            assert verdict in cls.split() and "verdict" in cls.split(), (arm, role, cls)
    assert [row[0][0] for row in tables["means"]] == list(TITLES)
    summary = reported.tables["summary"].set_index("arm")
    for row in tables["means"]:
        retention = summary.loc[TITLES[row[0][0]], "retention_horizon"] * 100
        assert row[3][0].startswith(f"{retention:.1f} ± "), row


def test_crn_configuration_provenance_and_reading_note(reported):
    text = reported.html
    root = reported.root
    for section in ("Common random numbers", "Configuration", "Provenance", "How to read"):
        assert section in text
    commits = {json.loads(p.read_text())["git_commit"] for p in root.glob("runs/*/provenance.json")}
    assert len(commits) == 1
    commit = commits.pop()
    assert commit and commit in text and commit in reported.md
    record = json.loads(next(root.glob("runs/*/provenance.json")).read_text())
    for name, version in record["packages"].items():
        assert f"{name} {version}" in text
    assert f"{RUNS} ok, 0 failed, 0 missing (of {RUNS} planned)" in text
    assert "Time span of the runs" in text
    assert html.escape("strategy=[outlet_closure]") in text  # an arm's overrides
    assert "seeds 0–1" in text
    assert "population.customers: 20000 → 300" in text  # changed from the defaults
    assert "simultaneous 95% CI" in text and "Bonferroni" in text and "same seeds" in text
    assert "smallest effect worth acting on" in text
    assert "not distinguishable" not in text and "Holm" not in text
    assert "replications_min" not in text  # experiment keys are not scenario changes
    crn = parse(text).tables["crn"]
    assert any(row[0][0] == title("training") for row in crn)


def test_markdown_has_the_same_content_and_relative_figure_paths(reported):
    md = reported.md
    for heading in re.findall(r"<h2>(.*?)</h2>", reported.html):
        assert f"## {html.unescape(heading)}" in md
    for chart in charts(reported):
        rel = Path(chart["png"]).relative_to(reported.root).as_posix()
        assert rel.startswith("figures/") and rel.endswith(".png")
        assert f"]({rel})" in md
        assert (reported.root / rel).is_file()
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    for arm in TITLES:
        assert any(line.startswith(f"| {arm} |") for line in rows), arm
    assert "data:image" not in md


def test_points_head_their_rows_in_html_and_fill_a_column_in_markdown(grid_report):
    text = grid_report.read_text()
    md = grid_report.with_suffix(".md").read_text()
    for label in ("count=0, budget=500,000", "count=6, budget=2,000,000"):
        assert text.count(f"Point: {label}</th>") == 3  # verdicts, means and CRN tables
        assert f"| {label} | {title('training')} |" in md
    assert "2 parameter points" in text
    rows = parse(text).tables["verdicts"]
    assert [row[0][0] for row in rows] == [*TITLES, *TITLES]


def test_text_is_escaped(reported, tmp_path):
    """Descriptions, arm names, chart titles and captions cannot inject markup."""
    evil = '<script>alert("x")</script> & <img src=x>'
    meta = (reported.root / "experiment.yaml").read_text()
    folder = tmp_path / "evil"
    shutil.copytree(reported.root, folder, ignore=shutil.ignore_patterns("figures", "report.*"))
    (folder / "experiment.yaml").write_text(
        meta.replace(
            meta[meta.index("  description:") : meta.index("  baseline:")],
            f"  description: {json.dumps(evil)}\n",
        )
    )
    png = Path(charts(reported)[0]["png"])
    chart = SimpleNamespace(name='x"y', title=evil, caption=evil, png=png, svg=png)
    tables = dict(reported.tables)
    tables["summary"] = tables["summary"].replace({"arm": {"training": evil}})
    runs = load(folder)
    written = write_report(folder, tables, runs, charts=[chart])
    text = written.html.read_text()
    assert "<script" not in text and "<img src=x" not in text
    page = parse(text)
    assert ("figure", {"id": 'figure-x"y'}) in page.tags
    description = re.search(r'<p class="description">(.*?)</p>', text, re.DOTALL)
    assert html.unescape(description[1]) == evil  # shown as text
    assert any(c.startswith(f"Figure 1. {evil}. {evil}") for c in captions(text))
    assert evil in [row[0][0] for row in page.tables["verdicts"]]  # the arm's name, as text
    md = written.md.read_text()
    assert not re.search(r"(?<!\\)<(script|img)", md), md[:500]  # only as \<script


def test_failed_and_missing_runs_are_counted(reported):
    runs = load(reported.root)
    runs.loc[0, "status"] = "failed"
    runs.loc[0, "error"] = "Traceback ...\nRuntimeError: planned failure"
    runs.loc[1, "status"] = "missing"
    text = render_html(build(reported.root, reported.tables, runs, []))
    assert f"{RUNS - 2} ok, 1 failed, 1 missing (of {RUNS} planned)" in text
    assert "RuntimeError: planned failure" in text
    assert runs.loc[0, "run_id"] in text


def test_a_store_without_experiment_config_or_baseline_is_reported(reported, tmp_path):
    folder = tmp_path / "partial"
    shutil.copytree(reported.root, folder, ignore=shutil.ignore_patterns("figures", "report.*"))
    (folder / "experiment.yaml").unlink()
    runs = load(folder)
    runs = runs[runs["arm"] == "training"]
    tables = {"summary": reported.tables["summary"].query("arm == 'training'")}
    written = write_report(folder, tables, runs, charts=[])
    text = written.html.read_text()
    assert "no differences or verdicts" in text
    assert "training" in text and "Provenance" in text


def test_templates_ship_as_package_data_and_load_from_the_installed_package(tmp_path):
    """pyproject declares every template as package data, and the page renders with them from
    outside the source tree (Jinja2 finds them through the ``analysis.report`` package)."""
    templates = resources.files("analysis.report") / "templates"
    names = {t.name for t in templates.iterdir() if t.is_file()}
    assert {"report.html.j2", "blocks.html.j2", "report.css"} <= names
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = pyproject["tool"]["setuptools"]["package-data"]["analysis.report"]
    for name in names:
        assert any(fnmatch(f"templates/{name}", pattern) for pattern in declared), name
    script = (
        "from analysis.report.document import Document, Section, Para\n"
        "from analysis.report.html import render\n"
        "print(render(Document('T <b>', '', [], [Section('s', 'S', [Para('x')])])))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "<h1>T &lt;b&gt;</h1>" in proc.stdout and "--accent:" in proc.stdout  # CSS inlined


# --------------------------------------------------------------------------------------------
# In a browser
# --------------------------------------------------------------------------------------------


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
    )


def probe(binary: str, page: Path, tmp_path: Path) -> str:
    """Open a copy of ``page`` with the probe script at a projector's 1280 px; what it found."""
    copy = tmp_path / f"probe-{page.parent.name}.html"
    copy.write_text(page.read_text().replace("</body>", PROBE + "</body>"), encoding="utf-8")
    proc = run_chromium(
        binary,
        tmp_path / "profile",
        "--window-size=1280,800",
        "--virtual-time-budget=10000",
        "--dump-dom",
        copy.as_uri(),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    title = re.search(r"<title>probe ([^<]*)</title>", proc.stdout)
    assert title, f"the probe did not run:\n{proc.stdout[:2000]}\n{proc.stderr[-3000:]}"
    return title[1]


def test_report_renders_in_headless_chromium_with_every_image_loaded(
    reported, grid_report, tmp_path
):
    binary = chromium()
    if binary is None:
        pytest.fail(
            "no Chromium binary (chromium, chromium-browser or google-chrome) on PATH;"
            " install Debian's: apt-get install -y chromium (.ci/run does)"
        )
    page = reported.root / "report.html"
    n = len(charts(reported))
    assert probe(binary, page, tmp_path) == f"images {n}/{n} external 0 overflow 0 clipped 0"
    # a sweep's tables fit too
    assert probe(binary, grid_report, tmp_path) == "images 0/0 external 0 overflow 0 clipped 0"

    shot = tmp_path / "report.png"  # the report itself, unchanged, as a presenter sees it
    proc = run_chromium(
        binary,
        tmp_path / "profile",
        "--window-size=1400,4000",
        f"--screenshot={shot}",
        page.as_uri(),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert png_size(shot) == (1400, 4000)
    assert shot.stat().st_size > 50_000  # not a blank page


def test_a_failure_to_draw_still_writes_the_report(reported, tmp_path, monkeypatch, caplog):
    from analysis import charts as plots

    def broken(*args, **kwargs):
        raise ValueError("no charts today")

    monkeypatch.setattr(plots, "draw_all", broken)
    folder = tmp_path / "broken"
    shutil.copytree(reported.root, folder, ignore=shutil.ignore_patterns("figures", "report.*"))
    written = write_report(folder, reported.tables)
    assert written.charts == [] and written.error == "ValueError: no charts today"
    assert "ValueError: no charts today" in caplog.text  # logged, with the traceback
    text = written.html.read_text()
    assert "The figures could not be drawn: ValueError: no charts today" in text
    assert "Verdicts against the baseline" in text and "<img" not in text


# --------------------------------------------------------------------------------------------
# NPV in parts, undecided verdicts, scenario settings
# --------------------------------------------------------------------------------------------


def test_npv_parts_have_their_own_table_with_differences_and_verdicts(reported, tmp_path):
    differences = reported.tables["differences"]
    tables = parse(reported.html).tables
    if set(NPV_PARTS) <= set(differences["kpi"]):  # runs of a sim with the NPV parts
        assert "<h3>NPV in parts</h3>" in reported.html
        rows = [r for r in tables["differences"] if r[0][0] == title("training")]
        npv = differences.set_index(["arm", "kpi"]).loc[("training", "npv")]
        assert rows[0][4][0].startswith("+" if npv.mean_diff >= 0 else "-")
        assert rows[0][4][0].endswith(npv.verdict)
    older = {**reported.tables, "differences": differences[~differences.kpi.isin(NPV_PARTS)]}
    folder = tmp_path / "older"
    shutil.copytree(reported.root, folder, ignore=shutil.ignore_patterns("figures", "report.*"))
    text = write_report(folder, older, load(folder), charts=[]).html.read_text()
    assert "NPV in parts" not in text  # a store of runs without the parts: no table, no crash


def test_an_undecided_verdict_says_about_how_many_seeds_would_decide_it(reported, tmp_path):
    verdicts = reported.tables["verdicts"].copy()
    verdicts.loc[verdicts["arm"] == "training", ["profit_verdict", "profit_seeds_needed"]] = [
        UNDECIDED,
        37.0,
    ]
    tables = {**reported.tables, "verdicts": verdicts}
    text = render_html(build(reported.root, tables, load(reported.root), []))
    row = next(r for r in parse(text).tables["verdicts"] if r[0][0] == title("training"))
    assert row[7][0] == "undecided 2 seeds; about 37 would decide"
    assert "undecided" in row[7][1].split()


def test_scenario_settings_show_population_weights_and_skip_missing_keys(reported, tmp_path):
    folder = tmp_path / "settings"
    shutil.copytree(reported.root, folder, ignore=shutil.ignore_patterns("figures", "report.*"))
    meta = yaml.safe_load((folder / "experiment.yaml").read_text())
    meta["population"].pop("scale", None)
    meta["population"]["weights"] = {"mass": 12, "mid": 4, "high": 1, "private": 0.5}
    del meta["bank"], meta["economics"]  # keys a run's config may not have
    (folder / "experiment.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    written = write_report(folder, reported.tables, load(folder), charts=[])
    pairs = {r[0][0]: r[1][0] for r in parse(written.html.read_text()).tables["pairs"]}
    assert pairs["population.weights"] == "mass: 12, mid: 4, high: 1, private: 0.5"
    assert "bank.branches" not in pairs and "population.scale" not in pairs
