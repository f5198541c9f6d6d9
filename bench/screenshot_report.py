"""A screenshot of the ``html`` report (docs/report.png), taken by headless Chromium.

Renders ``cgr report RUN... --format html`` for the given run directories, or, with none, for a
fresh run of the shipped sample's first ``--limit`` items with ``--solver`` (default: the
diagnostic echo solver, no model), then has Chromium load the page (scripts on) and save a PNG.

    python bench/screenshot_report.py                                  # echo solver, 40 items
    python bench/screenshot_report.py --solver llama                    # the default small model
    python bench/screenshot_report.py cgr-run --out docs/report.png    # an existing run

Needs a Chromium binary (Debian: ``apt-get install chromium``; or set CGR_CHROMIUM to one).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cgr.kernel.api import ReportRequest
from cgr.kernel.config import RunConfig
from cgr.kernel.pipeline import run
from cgr.kernel.store import read_records
from cgr.plugins.html_report import render

ROOT = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def find_chromium() -> str | None:
    """The Chromium to use: $CGR_CHROMIUM, else the first of BROWSERS on PATH."""
    if os.environ.get("CGR_CHROMIUM"):
        return shutil.which(os.environ["CGR_CHROMIUM"])
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def chromium(browser: str, url: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on ``url`` with its own throw-away profile; scripts run for up to 2 s of
    virtual time before ``--dump-dom`` / ``--screenshot`` act."""
    with tempfile.TemporaryDirectory(prefix="cgr-chromium-") as profile:
        cmd = [
            browser,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=2000",
            *args,
            url,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def sample_run(out: Path, solver: str, limit: int) -> Path:
    """A run of the shipped sample's first ``limit`` items with ``solver`` in ``out``."""
    summary = run(RunConfig(out=out, solver=solver, limit=limit, resume=out.exists()))
    print(f"{out}: {summary.total} records ({solver} solver)", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="*", type=Path, help="run directories (default: a fresh sample run)")
    ap.add_argument("--solver", default="echo", help="solver of the fresh sample run (default: echo)")
    ap.add_argument("--limit", type=int, default=40, help="items of the fresh sample run (default: 40)")
    ap.add_argument("--work", type=Path, help="where to keep the fresh run (default: a temporary directory)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png", help="the PNG (default: docs/report.png)")
    ap.add_argument("--html", type=Path, help="also keep the HTML report here")
    ap.add_argument("--size", default="1280,1600", help="window WIDTH,HEIGHT in pixels (default: 1280,1600)")
    args = ap.parse_args(argv)
    browser = find_chromium()
    if browser is None:
        print("screenshot_report: no Chromium found (apt-get install chromium, or set CGR_CHROMIUM)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="cgr-screenshot-") as tmp:
        runs = args.runs or [sample_run(args.work or Path(tmp) / "run", args.solver, args.limit)]
        records = [r for d in runs for r in read_records(d)]
        page = args.html or Path(tmp) / "report.html"
        page.write_text(render(ReportRequest(records, runs=list(runs))), encoding="utf-8")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.unlink(missing_ok=True)
        shot, size = f"--screenshot={args.out.resolve()}", f"--window-size={args.size}"
        proc = chromium(browser, page.resolve().as_uri(), shot, size)
    if not args.out.is_file() or args.out.read_bytes()[:8] != PNG_MAGIC:
        err = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        print(f"screenshot_report: Chromium wrote no PNG to {args.out}: {err}", file=sys.stderr)
        return 1
    print(f"{args.out}: {args.out.stat().st_size:,} bytes, report of {len(records)} records from {len(runs)} run(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
