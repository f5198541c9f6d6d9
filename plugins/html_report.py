"""The ``html`` reporter: one self-contained HTML page with the results people want to look at.

``cgr report RUN... --format html -o report.html`` writes a page that loads nothing (inline CSS, an
inline script, plots inline as SVG drawn by matplotlib) with:

1. per-cell direct vs assisted accuracy (scatter, diagonal);
2. the macro delta assisted − direct of each partition with its 95% interval;
3. per-cell gain against the scaffold's mean solver calls per item;
4. per cell, the share of records an auditor flagged, of each assisted status and of each
   generator-side outcome (stacked bars);
5. a browsable, filterable item table; each row expands to the scaffold, its output and its trace.

The questions are not in the records: they are joined by item id from each run's bundle (its path
and sha256 are in ``run.json``); where the bundle is gone or changed, the question column says so.
Record text is hostile: see ``html_items`` for how it is bounded and escaped.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cgr.kernel import __version__
from cgr.kernel.api import ReportRequest
from cgr.kernel.bundle import load_bundle
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.records import Item, Record
from cgr.kernel.store import read_manifest
from cgr.plugins import html_assets, html_items, html_plots, stats
from cgr.plugins.html_items import esc


@hookimpl
def register_reporters(register):
    register(
        "html",
        render,
        description="one self-contained HTML page: plots (inline SVG) and a filterable item table",
    )


@dataclass
class Questions:
    """Items of the runs' bundles by id, a line per run for the page, and why questions may be missing."""

    items: dict[str, Item] = field(default_factory=dict)
    runs: list[str] = field(default_factory=list)  # HTML, escaped
    problems: list[str] = field(default_factory=list)  # plain text


def _bundle_items(run: Path) -> tuple[list[Item], str, str | None]:
    """(items, a line describing the run and its bundle, the problem if the questions are unavailable)."""
    try:
        manifest = read_manifest(run)
    except Exception as exc:  # noqa: BLE001 - any unreadable manifest: the report still renders
        return [], f"{run}", f"no run manifest in {run} ({_one_line(exc)})"
    bundle = manifest.bundle if isinstance(manifest.bundle, dict) else {}
    solver = manifest.solver.get("name", "?") if isinstance(manifest.solver, dict) else "?"
    model = manifest.solver.get("model") if isinstance(manifest.solver, dict) else None
    gen = manifest.generator.get("strategy") if isinstance(manifest.generator, dict) else None
    line = (
        f"{run}: solver {solver}{'/' + str(model) if model else ''}, generator "
        f"{manifest.generator.get('name', '?') if isinstance(manifest.generator, dict) else '?'}"
        f"{'/' + str(gen) if gen else ''}, {manifest.records} records ({manifest.status}), "
        f"bundle {bundle.get('name', '?')}"
    )
    path, want = bundle.get("path"), bundle.get("sha256")
    if not isinstance(path, str) or not path:
        return [], line, f"run {run} names no bundle path"
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return [], line, f"bundle {path} of run {run} cannot be read ({exc.strerror or exc})"
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        return [], line, f"bundle {path} has changed since run {run} (sha256 {got[:12]}…, the run used {want!s:.12}…)"
    try:
        return load_bundle(path).items, line + " (sha256 ok)", None
    except Exception as exc:  # noqa: BLE001 - a BundleError or a reader plugin's failure
        return [], line, f"bundle {path} of run {run} cannot be loaded ({_one_line(exc)})"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def questions(runs: list[Path]) -> Questions:
    """The items of every run's bundle (the first run's wins where two bundles share an id)."""
    out = Questions()
    for run in runs:
        items, line, problem = _bundle_items(Path(run))
        out.runs.append(esc(line, 1000) + (f' <span class="neg">— {esc(problem, 1000)}</span>' if problem else ""))
        if problem:
            out.problems.append(problem)
        for item in items:
            out.items.setdefault(item.id, item)
    return out


def cell_labels(cells: list[dict[str, Any]]) -> list[str]:
    """A short label per cell: its task, with the solver / generator / dataset where they vary within a task."""
    tasks = {c["task"] for c in cells}
    vary = [k for k in ("solver", "generator", "dataset") if len({(c["task"], c[k]) for c in cells}) > len(tasks)]
    return [" · ".join([c["task"], *(str(c[k]) for k in vary)]) for c in cells]


def generator_outcomes(records: list[Record], cells: list[dict[str, Any]]) -> list[dict[str, int]]:
    """Per cell (in ``cells``' order), the count of each generator-side outcome."""
    counts: dict[tuple[str, str, str, str], Counter[str]] = {}
    for r in records:
        counts.setdefault((r.solver, r.generator, r.dataset, r.task), Counter())[html_items.generator_outcome(r)] += 1
    return [dict(counts.get((c["solver"], c["generator"], c["dataset"], c["task"]), Counter())) for c in cells]


def _num(x: float | None, fmt: str = ".3f") -> str:
    return "–" if x is None else format(x, fmt)


def _signed(x: float | None) -> str:
    if x is None:
        return "–"
    cls = "pos" if x > 0 else "neg" if x < 0 else ""
    return f'<span class="{cls}">{x:+.3f}</span>'


def _interval(p: dict[str, Any], keys: tuple[str, str, str]) -> str:
    d, lo, hi = (p.get(k) for k in keys)
    if d is None or lo is None or hi is None:
        return "–"
    return f"{_signed(d)} <small>[{lo:+.3f}, {hi:+.3f}]</small>"


def summary(rep: dict[str, Any]) -> str:
    """The partitions (macro accuracies, each comparison's delta with its interval, p-values) as a table."""
    parts = rep["partitions"]
    series = html_plots.comparisons(parts)
    exact = any(p.get("exact_p") is not None for p in parts.values())
    budget = any(p.get("macro_budget") is not None for p in parts.values())
    head = ["partition", "cells", "items", "macro direct", "macro assisted"]
    head += ["macro budget-matched"] if budget else []
    head += [f"assisted {text}: delta [95%]" for text, _, _ in series]
    head += ["McNemar p"] + (["sign-flip p"] if exact else [])
    rows = []
    for name, p in parts.items():
        cells = [esc(name), str(p["n_cells"]), str(p["n_items"]), _num(p["macro_direct"]), _num(p["macro_assisted"])]
        cells += [_num(p.get("macro_budget"))] if budget else []
        cells += [_interval(p, keys) for _, keys, _ in series]
        cells += [_num(p.get("mcnemar_p"), ".3g")] + ([_num(p.get("exact_p"), ".3g")] if exact else [])
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    table = f'<table class="summary"><tr>{"".join(f"<th>{h}</th>" for h in head)}</tr>{"".join(rows)}</table>'
    if rep["regressions"]:
        tasks = ", ".join(esc(r["task"], 200) for r in rep["regressions"][:200])
        table += f'<p class="neg">Regressions (assisted &lt; direct): {tasks}</p>'
    return table


def cells_table(rep: dict[str, Any], labels: list[str]) -> str:
    """One row per cell: n, the channels' accuracies, mean calls, flags, generator answers."""
    budget = any(c["budget_acc"] is not None for c in rep["cells"])
    head = ["cell", "n", "direct", "assisted", "gain", "generator", "calls d/a", "no answer d/a", "flagged"]
    head += ["budget-matched"] if budget else []
    rows = []
    for c, label in zip(rep["cells"], labels):
        answered = c["generator_answered"]
        cells = [
            esc(label, 300),
            str(c["n"]),
            f"{c['direct_acc']:.3f}",
            f"{c['assisted_acc']:.3f}",
            _signed(c["assisted_acc"] - c["direct_acc"]),
            f"{c['generator_acc']:.3f} ({answered} answered)" if answered else "–",
            f"{c['direct_calls']:.1f} / {c['assisted_calls']:.1f}",
            f"{c['direct_extract_fail']} / {c['assisted_no_answer']}",
            str(c["flagged"]),
        ]
        if budget:
            cells.append(_num(c["budget_acc"]))
        rows.append("<tr>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
    if not rows:
        return '<p class="empty">No cells: the runs hold no records.</p>'
    return f'<table class="summary"><tr>{"".join(f"<th>{h}</th>" for h in head)}</tr>{"".join(rows)}</table>'


def _filters(table: html_items.Table) -> str:
    shows = [
        ("gains", "assisted right, direct wrong"),
        ("losses", "assisted wrong, direct right"),
        ("flagged", "flagged"),
    ]
    return (
        '<div class="filters">'
        '<label>filter <input type="search" id="f-q" placeholder="text in the row (id, question, answers…)"></label>'
        + html_items.select("task", "task", table.tasks)
        + html_items.select("status", "status", table.statuses)
        + html_items.select("show", "show", (), shows)
        + '<span id="f-count"></span></div>'
    )


def render(request: ReportRequest) -> str:
    """The whole page (deterministic: the same runs give the same bytes)."""
    records = request.records
    rep = stats.report(records, tau=request.tau, resamples=request.resamples, seed=request.seed)
    qs = questions(list(request.runs))
    labels = cell_labels(rep["cells"])
    outcomes = generator_outcomes(records, rep["cells"])
    plots = html_plots.draw_all(rep, outcomes, labels)
    if not request.runs:
        missing = "question unavailable: the records came without their run directory"
    elif qs.problems:
        missing = "question unavailable: " + "; ".join(qs.problems)
    else:
        missing = "question unavailable: item not in the run's bundle"
    table = html_items.item_table(records, qs.items, missing)
    notes = [f"Bundle problem: {esc(p, 1000)}. The question column says so." for p in qs.problems]
    warnings = "".join(f'<p class="note">{esc(w, 2000)}</p>' for w in rep.get("warnings", [])[:20])
    if table.rows < table.total:
        notes.append(f"The table lists the first {table.rows:,} of {table.total:,} records.")
    if table.detailed < table.rows:
        notes.append(
            f"Only the first {table.detailed:,} rows have details (scaffold, output, trace), to keep the page bounded."
        )
    if len(rep["cells"]) > html_plots.MAX_CELLS:
        notes.append(f"The plots show the first {html_plots.MAX_CELLS} of {len(rep['cells'])} cells.")
    n, ncells = len(records), len(rep["cells"])
    boot = rep["bootstrap"]
    title = f"cgr report: {n:,} record{'s' * (n != 1)}, {ncells} cell{'s' * (ncells != 1)}"
    figures = "".join(
        f'<figure id="{key}" class="{"wide" if key == "plot-rates" else "plot"}">{svg}</figure>'
        for key, svg in plots.items()
    )
    runs = "".join(f"<li>{line}</li>" for line in qs.runs) or "<li>records given directly (no run directory)</li>"
    js = html_assets.JS
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{html_assets.csp(js)}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f'<meta name="generator" content="cgr {esc(__version__)}">',
            f"<title>{esc(title)}</title><style>{html_assets.CSS}</style></head>\n<body>",
            f"<header><h1>{esc(title)}</h1>",
            f'<p class="meta">cgr {esc(__version__)} · gate tau = {rep["tau"]:.2f} · {boot["resamples"]} '
            f"bootstrap resamples, seed {boot['seed']} · intervals: {esc(boot['interval'])}</p>",
            f'<ul class="runs">{runs}</ul></header>',
            '<section id="summary"><h2>Partitions</h2>',
            summary(rep),
            warnings,
            '</section>\n<section id="plots"><h2>Plots</h2><div class="plots">',
            figures,
            '</div></section>\n<section id="cells"><h2>Cells</h2>',
            cells_table(rep, labels),
            '</section>\n<section id="items"><h2>Items</h2>',
            "".join(f'<p class="note">{x}</p>' for x in notes),
            _filters(table),
            table.html,
            f"</section>\n<script>{js}</script></body></html>\n",
        ]
    )
