"""``cgr export`` (a run's records as one flat table, CSV or Parquet) and ``cgr show`` (one item's
whole story, see :mod:`cgr.plugins.show`).

``records.jsonl`` is nested (three channels, audits, a solver-call trace) and carries no question
text. The export has one row per item and channel (``direct``, ``assisted``, ``generator_side``
and, with ``--budget-baseline``, ``budget_matched``), flat columns only, and the question and
options joined in from the run's bundle, so ``pandas.read_csv``/``read_parquet`` or duckdb read it
as is. The bundle is found as ``cgr replay`` finds it (``run.json``'s path and sha256, or
``--bundle``); without it the question columns stay empty, with one warning.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import click

from cgr.kernel.api import Reader
from cgr.kernel.bundle import BundleError
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import Plugins
from cgr.kernel.records import Channel, Item, Record
from cgr.kernel.store import StoreError, read_records
from cgr.plugins.run_bundle import load_run_bundle

CHANNELS = ("direct", "assisted", "generator_side", "budget_matched")

#: Column name -> Arrow type name (``string`` columns may be null where a value does not apply).
COLUMNS: dict[str, str] = {
    "run": "string",
    "item_id": "string",
    "dataset": "string",
    "task": "string",
    "solver": "string",
    "generator": "string",
    "channel": "string",
    "answer": "string",  # null: no answer
    "correct": "bool",
    "gold": "string",
    "calls": "int64",
    "prompt_tokens": "int64",
    "completion_tokens": "int64",
    "latency_s": "float64",
    "status": "string",  # the assisted channel's outcome; null on the other channels
    "method": "string",
    "error": "string",
    "flagged": "bool",  # any auditor flagged the item's scaffold
    "question": "string",  # "" when the run's bundle is not found
    "choices": "string",  # JSON array of the option texts
    "labels": "string",  # JSON array of their labels
}
FORMATS = ("csv", "parquet")
PYARROW_MISSING = "Parquet export needs pyarrow: pip install 'cgr[build-bundle]' (or pip install pyarrow)"


def _warn(message: str) -> None:
    print(f"cgr: warning: {message}", file=sys.stderr)


def run_items(
    run_dir: Path,
    bundle: Path | None = None,
    *,
    readers: Mapping[str, Reader] | None = None,
    warn: Callable[[str], None] = _warn,
) -> dict[str, Item]:
    """The items of a run's bundle by id; ``{}`` and one warning when the bundle cannot be had."""
    try:
        loaded = load_run_bundle(run_dir, bundle, readers=readers, warn=warn)
    except (StoreError, BundleError) as exc:
        warn(f"{exc}; question and options left empty")
        return {}
    return {it.id: it for it in loaded.items}


def record_rows(record: Record, run: str, item: Item | None) -> Iterator[dict[str, Any]]:
    """The rows of one record: one per channel it has."""
    flagged = any(a.verdict == "flag" for a in record.audits)
    for name in CHANNELS:
        channel: Channel | None = getattr(record, name)
        if channel is None:
            continue
        yield {
            "run": run,
            "item_id": record.item_id,
            "dataset": record.dataset,
            "task": record.task,
            "solver": record.solver,
            "generator": record.generator,
            "channel": name,
            "answer": channel.answer,
            "correct": bool(channel.correct),
            "gold": record.gold,
            "calls": channel.calls,
            "prompt_tokens": channel.prompt_tokens,
            "completion_tokens": channel.completion_tokens,
            "latency_s": float(channel.latency_s),
            "status": record.assisted.status if name == "assisted" else None,
            "method": channel.method,
            "error": channel.error,
            "flagged": flagged,
            "question": item.question if item else "",
            "choices": json.dumps(item.choices if item else [], ensure_ascii=False),
            "labels": json.dumps(item.labels if item else [], ensure_ascii=False),
        }


def export_rows(
    run_dirs: list[Path],
    bundle: Path | None = None,
    *,
    readers: Mapping[str, Reader] | None = None,
    warn: Callable[[str], None] = _warn,
) -> list[dict[str, Any]]:
    """Every row of every run, in record order (runs in the order given)."""
    rows: list[dict[str, Any]] = []
    for run_dir in run_dirs:
        records = read_records(run_dir)
        items = run_items(run_dir, bundle, readers=readers, warn=warn)
        for record in records:
            rows.extend(record_rows(record, str(run_dir), items.get(record.item_id)))
    return rows


def to_csv(rows: list[dict[str, Any]]) -> str:
    """CSV with a header: RFC 4180 quoting, \\n line ends, null as an empty field, booleans True/False."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    """The rows as one Parquet file with the typed schema of :data:`COLUMNS`."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise click.ClickException(PYARROW_MISSING) from None
    types = {"string": pa.string(), "bool": pa.bool_(), "int64": pa.int64(), "float64": pa.float64()}
    schema = pa.schema([(name, types[kind]) for name, kind in COLUMNS.items()])
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, path)


def _format_of(fmt: str | None, output: Path | None) -> str:
    if fmt:
        return fmt
    return "parquet" if output is not None and output.suffix.lower() in (".parquet", ".pq") else "csv"


@hookimpl
def register_commands(cli, plugins: Plugins):
    from cgr.plugins.show import show_command

    readers = plugins.readers()

    @cli.command(
        epilog="\b\nExamples:\n  cgr export cgr-run -o cgr-run.csv\n"
        "  cgr export runs/a runs/b --format parquet -o runs.parquet\n"
        "  python -c \"import pandas; print(pandas.read_csv('cgr-run.csv').groupby('channel').correct.mean())\""
    )
    @click.argument("dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        help="csv or parquet (default: from the -o suffix, else csv).",
    )
    @click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write to this file (default for csv: standard output).",
    )
    @click.option(
        "--bundle",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="The runs' bundle, if not where run.json says (its sha256 must match).",
    )
    def export(dirs, fmt, output, bundle):
        """One flat table of runs' results: a row per item and channel, with the question and options."""
        fmt = _format_of(fmt, output)
        if fmt == "parquet" and output is None:
            raise click.UsageError("--format parquet needs -o FILE (Parquet is binary)")
        if fmt == "parquet":  # before the work: a missing pyarrow is one line, at once
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise click.ClickException(PYARROW_MISSING) from None
        rows = export_rows(list(dirs), bundle, readers=readers)
        if fmt == "csv":
            text = to_csv(rows)
            if output is None:
                click.echo(text, nl=False)
                return
            output.write_text(text, encoding="utf-8", newline="")
        else:
            write_parquet(rows, output)
        items = len({(r["run"], r["item_id"]) for r in rows})
        click.echo(f"{output}: {len(rows)} rows ({items} items x channels) of {len(dirs)} run(s), {fmt}", err=True)

    cli.add_command(show_command(readers))
