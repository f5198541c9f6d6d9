"""cgr-example-extras: an EXAMPLE third-party cgr plugin using the reporter, bundle-format and
command hooks. Each hook is a few lines; see README.md for what each adds."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import click

from cgr.kernel.api import ReportRequest, RowContext, RowError
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.store import read_records

__version__ = "0.1.0"


# ------------------------------------------------------------------ a reporter -----------------
def csv_cells(request: ReportRequest) -> str:
    """One CSV row per cell: solver, generator, dataset, task, n, direct/assisted accuracy, calls."""
    from cgr.plugins.stats import cells  # the built-in statistics plugin's per-cell table

    out = io.StringIO()
    cols = ["solver", "generator", "dataset", "task", "n", "direct_acc", "assisted_acc", "assisted_calls"]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(cols)
    for row in cells(request.records):
        writer.writerow([row[c] for c in cols])
    return out.getvalue()


@hookimpl
def register_reporters(register):
    register("csv-cells", csv_cells)


# ------------------------------------------------------------------ a bundle format ------------
def read_tsv(path: Path, data: bytes):
    """``.tsv``: a header naming ``id``, ``question``, one column per option label, and ``answer``;
    yields one item per line (line numbers count the header as line 1)."""
    lines = data.decode("utf-8").splitlines()
    if not lines:
        return
    header = lines[0].split("\t")
    labels = [h for h in header if len(h) == 1 and h.isupper()]
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        row = dict(zip(header, line.split("\t")))
        yield (
            number,
            {
                "id": row.get("id"),
                "dataset": path.stem,
                "question": row.get("question"),
                "choices": [row.get(lab, "") for lab in labels],
                "labels": labels,
                "answer": row.get("answer"),
            },
        )


def csqa(row: dict, ctx: RowContext) -> dict:
    """A CommonsenseQA row: ``{"id", "question": {"stem", "choices": [{"label", "text"}]}, "answerKey"}``."""
    q = row.get("question")
    if not isinstance(q, dict) or not isinstance(q.get("stem"), str):
        raise RowError("question.stem", "missing")
    choices = q.get("choices")
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise RowError("question.choices", "expected a list of {label, text}")
    labels = [str(c.get("label")) for c in choices]
    if row.get("answerKey") not in labels:
        raise RowError("answerKey", f"{row.get('answerKey')!r} is not one of {labels}")
    return {
        "id": str(row.get("id") or f"csqa-{ctx.number}"),
        "question": q["stem"],
        "choices": [str(c.get("text")) for c in choices],
        "labels": labels,
        "answer": row["answerKey"],
    }


@hookimpl
def register_bundle_formats(register):
    register.reader("tsv", read_tsv, suffixes=(".tsv",))
    register.adapter("csqa", csqa, dataset="commonsense_qa")


# ------------------------------------------------------------------ a command ------------------
@hookimpl
def register_commands(cli):
    @cli.command(epilog="\b\nExample:\n  cgr disagreements cgr-run")
    @click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
    def disagreements(run_dir):
        """The items whose direct and assisted answers differ, and which one was right."""
        records = read_records(run_dir)
        differ = [r for r in records if r.direct.answer != r.assisted.answer]
        for r in differ:
            right = "assisted" if r.assisted.correct else "direct" if r.direct.correct else "neither"
            click.echo(f"{r.item_id}\tdirect={r.direct.answer}\tassisted={r.assisted.answer}\tgold={r.gold}\t{right}")
        click.echo(f"{len(differ)} of {len(records)} items differ", err=True)
