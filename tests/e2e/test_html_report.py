"""The ``html`` reporter end to end: real runs (sandbox, echo solver and the test-only fake solver),
the page rendered, then loaded by a real headless Chromium (scripts on) and checked in the DOM it
dumps: plots, rows, the URL-fragment filter, hostile record text that stays text.

Chromium comes from Debian's ``chromium`` package (CI installs it); the browser tests skip, saying
why, only where no Chromium binary exists.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner

from cgr.kernel import manager
from cgr.kernel.api import ReportRequest
from cgr.kernel.cli import main
from cgr.kernel.config import RunConfig
from cgr.kernel.manager import DEFAULT_PLUGINS, load_plugins
from cgr.kernel.pipeline import run
from cgr.kernel.records import Audit, SolverCall
from cgr.kernel.store import read_records
from cgr.plugins import html_items, html_report
from tests.conftest import ITEMS
from tests.plugins import fake_solver

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "screenshot_report.py"
_spec = importlib.util.spec_from_file_location("screenshot_report", SCRIPT)
assert _spec is not None and _spec.loader is not None
shot = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shot)

CHROMIUM = shot.find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary (Debian: apt-get install chromium; .ci/run installs it)"
)
HTML_PLUGIN = "cgr.plugins.html_report"


def with_html(**kw):
    """Plugins with the html reporter whether or not its entry point is declared yet."""
    builtins = DEFAULT_PLUGINS if HTML_PLUGIN in DEFAULT_PLUGINS else DEFAULT_PLUGINS + (HTML_PLUGIN,)
    return load_plugins(builtins=builtins, **kw)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    """Two runs of the three toy items: the echo solver and the fake one (which gets some right)."""
    base = tmp_path_factory.mktemp("html")
    bundle = base / "toy.jsonl"
    bundle.write_text("".join(json.dumps(it) + "\n" for it in ITEMS))
    plugins = with_html(entry_points=False, extra=(fake_solver,))
    out = []
    for solver in ("echo", "fake"):
        run(RunConfig(bundle=bundle, out=base / solver, solver=solver), plugins=plugins)
        out.append(base / solver)
    return out


def report(runs: list[Path], **kw) -> str:
    records = [r for d in runs for r in read_records(d)]
    return html_report.render(ReportRequest(records, runs=runs, resamples=200, **kw))


def dom(page: Path, fragment: str = "") -> str:
    """The DOM of ``page`` after its script ran, as headless Chromium serializes it."""
    proc = shot.chromium(CHROMIUM, page.resolve().as_uri() + fragment, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "</html>" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


def rows(dumped: str) -> list[tuple[str, str, bool]]:
    """(solver, item id, visible) of each item row, from the opening ``<tbody>`` tags."""
    out = []
    for tag in re.findall(r'<tbody class="item"[^>]*>', dumped):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        out.append((attrs["data-solver"], attrs["data-id"], not re.search(r"\shidden(=|\s|>)", tag)))
    return out


def test_cli_writes_the_page(runs, tmp_path, monkeypatch):
    monkeypatch.setattr(manager, "load_plugins", lambda **kw: with_html(**kw))
    out = tmp_path / "report.html"
    res = CliRunner().invoke(main, ["report", *map(str, runs), "--format", "html", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "html report of 2 run(s)" in res.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert "What is the capital of France?" in text  # questions joined from the runs' bundle


def test_page_is_deterministic_and_loads_nothing(runs):
    first, second = report(runs), report(runs)
    assert first == second
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", first)  # no network: every part inline
    assert first.count("<script") == 1 and first.count("<svg") == 4


@needs_chromium
def test_chromium_renders_plots_and_rows(runs, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(report(runs), encoding="utf-8")
    d = dom(page)
    assert re.search(r"<title>cgr report: 6 records, 4 cells</title>", d)
    assert 'data-filter="ready"' in d  # the script ran
    for plot in ("plot-accuracy", "plot-delta", "plot-gain", "plot-rates"):
        figure = re.search(rf'<figure id="{plot}"[^>]*>(.*?)</figure>', d, re.S)
        assert figure, plot
        assert figure.group(1).lstrip().startswith("<svg") and figure.group(1).count("<path") > 30, plot
    assert [r[:2] for r in rows(d)] == [(s, it["id"]) for s in ("echo", "fake") for it in ITEMS]
    assert all(visible for *_, visible in rows(d))
    assert "6 of 6 items shown" in d
    assert d.count("<details>") == 6 and "solver call(s)" in d
    assert d.count("What is the capital of France?") >= 2


@needs_chromium
@pytest.mark.parametrize(
    ("fragment", "visible"),
    [
        ("#q=capital", {("echo", "geo-1"), ("fake", "geo-1")}),
        ("#task=sci", {("echo", "sci-1"), ("fake", "sci-1")}),
        ("#q=fake&show=gains", {("fake", "geo-2")}),  # fake: direct says B, the scaffold picks "Paris"
        ("#show=losses", {("fake", "sci-1")}),
        ("#status=ok&q=France", {(s, i) for s in ("echo", "fake") for i in ("geo-1", "geo-2")}),
        ("#status=no_such_status", set()),
    ],
)
def test_url_fragment_filters_rows(runs, tmp_path, fragment, visible):
    page = tmp_path / "report.html"
    page.write_text(report(runs), encoding="utf-8")
    d = dom(page, fragment)
    got = rows(d)
    assert len(got) == 6
    assert {(s, i) for s, i, v in got if v} == visible
    assert f"{len(visible)} of 6 items shown" in d


def hostile_records(runs: list[Path]):
    records = read_records(runs[0])
    script = "<script>document.title='pwned'</script>"
    img = "<img src=x onerror=\"document.title='pwned'\">"
    rec = records[0]
    rec.assisted.stdout = f"{script}<script>alert(1)</script>{img}\n" + "x" * 1_000_000
    rec.assisted.stderr = "\x00\x1b[31m\ud800 lone surrogate </pre></details></td></tr></tbody></table>" + script
    rec.assisted.program = f"print('{img}')\n</pre>{script}"
    rec.assisted.trace = [SolverCall(op="solve", prompt=script, options={"x": img}, reply=img * 10_000)] * 80
    rec.audits = [Audit(auditor=img, verdict="flag", reason=script * 1000)]
    rec.task = 'geo" onmouseover="document.title=\'pwned\'" x="'
    rec.assisted.status = "<b>forged</b>"
    return records


@needs_chromium
def test_hostile_text_is_escaped_and_capped(runs, tmp_path):
    page = tmp_path / "report.html"
    records = hostile_records(runs)
    page.write_text(html_report.render(ReportRequest(records, runs=runs, resamples=200)), "utf-8")
    text = page.read_text(encoding="utf-8")
    assert text.count("<script") == 1  # the page's own
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<img" not in text
    assert f"…cut, {len(records[0].assisted.stdout):,} chars" in text  # the 1 MB line, cut with its marker
    assert "… 30 more calls not shown" in text
    # 1 MB of stdout and 80 traced calls of 450 KB each: what shows is 20 KB + 50 calls of 4 KB (escaped)
    plain = len(report(runs[:1]).encode())
    assert len(text.encode()) - plain < 20_000 * 2 + 50 * 4_000 * 2 * 2
    d = dom(page, "#status=%3Cb%3Eforged%3C%2Fb%3E")
    assert "pwned" not in re.search(r"<title>(.*?)</title>", d).group(1)
    assert d.count("<script") == 1 and "<img" not in d and "<b>forged" not in d
    assert [v for *_, v in rows(d)] == [True, False, False]  # the forged status is a filter value, as text


def test_zero_records_is_a_valid_page(tmp_path):
    text = html_report.render(ReportRequest([]))
    assert "<title>cgr report: 0 records, 0 cells</title>" in text and text.count("<svg") == 4
    assert "records given directly" in text
    if CHROMIUM is not None:
        page = tmp_path / "empty.html"
        page.write_text(text, encoding="utf-8")
        d = dom(page)
        assert "0 of 0 items shown" in d and d.count("<svg") == 4


def test_missing_or_changed_bundle_still_renders(runs, tmp_path):
    bundle = Path(json.loads((runs[0] / "run.json").read_text())["bundle"]["path"])
    original = bundle.read_bytes()
    try:
        bundle.write_bytes(original + b"\n")
        text = report(runs[:1])
        assert "has changed since run" in text and '<td class="q">What is the capital' not in text
        assert text.count('<td class="q"><i class="na">question unavailable') == 3
        bundle.unlink()
        text = report(runs[:1])
        assert "cannot be read" in text and text.count('<td class="q"><i class="na">question unavailable') == 3
    finally:
        bundle.write_bytes(original)
    assert '<td class="q">What is the capital of France?</td>' in report(runs[:1])


def test_rows_and_details_are_capped(runs, monkeypatch):
    records = [r for d in runs for r in read_records(d)]
    many = [msgspec.structs.replace(records[i % 6], item_id=f"i{i}") for i in range(30)]
    monkeypatch.setattr(html_items, "DETAIL_ROWS", 4)
    monkeypatch.setattr(html_items, "MAX_ROWS", 25)
    text = html_report.render(ReportRequest(many, resamples=200))
    assert text.count('<tbody class="item"') == 25 and text.count("<details>") == 4
    assert "first 25 of 30 records" in text and "Only the first 4 rows have details" in text


@needs_chromium
def test_screenshot_script_writes_a_png(runs, tmp_path):
    out = tmp_path / "shot.png"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--limit", "6", "--out", str(out), "--html", str(tmp_path / "r.html")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.read_bytes()[:8] == shot.PNG_MAGIC and out.stat().st_size > 20_000
    assert "report of 6 records" in proc.stdout
