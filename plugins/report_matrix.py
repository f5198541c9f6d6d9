"""The solver x dataset matrix of a report: direct -> assisted and the paired delta with its interval.

Rows are solvers (plugin/model, the records' ``solver``), columns datasets; one block per generator.
A matrix cell pools the records of one (solver, generator, dataset): its accuracies are macro over
the dataset's tasks (the report's cells), and the delta assisted - direct (the primary direct mode,
``record.direct``) is the report's paired, task-stratified comparison: the same interval and exact
tests (:func:`cgr.plugins.stats_interval.paired_difference`). ``cgr report --format json`` has it
under ``matrix``; the table and Markdown formats show it when there is more than one solver,
dataset or generator (a grid, or several run directories).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from cgr.kernel.records import Record
from cgr.plugins.stats_interval import INTERVAL, paired_difference

__all__ = ["format_matrix", "format_matrix_markdown", "matrix", "worth_showing"]

EXPLAIN = (
    "direct -> assisted accuracy, macro over each dataset's tasks; delta = assisted - direct (primary direct mode) "
    "with its paired 95% interval"
)


def matrix(records: list[Record], *, resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Rows (solvers), columns (datasets) and one block of cells per generator (see the module doc)."""
    groups: dict[tuple[str, str, str], dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        groups[(r.generator, r.solver, r.dataset)][r.task].append(r)
    solvers = sorted({s for _, s, _ in groups})
    datasets = sorted({d for _, _, d in groups})
    generators = sorted({g for g, _, _ in groups})
    blocks = []
    for generator in generators:
        cells = []
        for solver in solvers:
            for dataset in datasets:
                tasks = groups.get((generator, solver, dataset))
                if tasks:
                    cells.append(_cell(solver, dataset, tasks, resamples, seed))
        blocks.append({"generator": generator, "cells": cells})
    return {
        "rows": solvers,
        "columns": datasets,
        "generators": generators,
        "direct_modes": sorted({r.direct.mode for r in records}),
        "explain": EXPLAIN,
        "interval": INTERVAL,
        "blocks": blocks,
    }


def _cell(solver: str, dataset: str, tasks: dict[str, list[Record]], resamples: int, seed: int) -> dict[str, Any]:
    pairs = [
        (np.array([r.direct.correct for r in rs], dtype=float), np.array([r.assisted.correct for r in rs], dtype=float))
        for _, rs in sorted(tasks.items())
    ]
    result = paired_difference(pairs, resamples=resamples, seed=seed)
    return {
        "solver": solver,
        "dataset": dataset,
        "n": sum(len(rs) for rs in tasks.values()),
        "tasks": len(tasks),
        "direct_acc": float(np.mean([d.mean() for d, _ in pairs])),
        "assisted_acc": float(np.mean([a.mean() for _, a in pairs])),
        **{k: result.get(k) for k in ("delta", "ci_low", "ci_high", "exact_p", "mcnemar_p")},
    }


def worth_showing(m: dict[str, Any]) -> bool:
    """Whether the text formats show the matrix: more than one solver, dataset or generator."""
    return len(m["rows"]) > 1 or len(m["columns"]) > 1 or len(m["generators"]) > 1


def _text(c: dict[str, Any] | None) -> str:
    if c is None:
        return "-"
    delta = "" if c["delta"] is None else f" {c['delta']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]"
    return f"{c['direct_acc']:.2f} -> {c['assisted_acc']:.2f}{delta} n={c['n']}"


def _grid(m: dict[str, Any], block: dict[str, Any]) -> list[list[str]]:
    by = {(c["solver"], c["dataset"]): c for c in block["cells"]}
    rows = [["solver \\ dataset", *m["columns"]]]
    rows += [[s, *(_text(by.get((s, d))) for d in m["columns"])] for s in m["rows"]]
    return rows


def _title(m: dict[str, Any], block: dict[str, Any]) -> str:
    return f"generator {block['generator']}" + (" (one of several)" if len(m["blocks"]) > 1 else "")


def format_matrix(m: dict[str, Any]) -> str:
    """Plain text: per generator a solver x dataset table of direct -> assisted and the delta."""
    lines = [f"matrix: {m['explain']}"]
    for block in m["blocks"]:
        rows = _grid(m, block)
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines += ["", _title(m, block)]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(len(lines) - len(rows) + 1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_matrix_markdown(m: dict[str, Any]) -> str:
    """The matrix in Markdown: one table per generator."""
    out = [f"Matrix: {m['explain']}."]
    for block in m["blocks"]:
        rows = _grid(m, block)
        out += ["", f"*{_title(m, block)}*", ""]
        out.append("| " + " | ".join(v.replace("|", "\\|") for v in rows[0]) + " |")
        out.append("|---|" + "---|" * (len(rows[0]) - 1))
        out += ["| " + " | ".join(v.replace("|", "\\|") for v in r) + " |" for r in rows[1:]]
    return "\n".join(out)
