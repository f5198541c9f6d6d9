"""Source readers: ``fn(path, data)`` yields ``(number, value)`` pairs from one file's bytes.

Each sets ``unit``, the word errors use for its positions (see :mod:`cgr.kernel.bundle`): a msgpack
or JSON array counts items, Parquet and Arrow count rows, CSV counts the line a record starts on.
Parquet and Arrow need pyarrow (``pip install 'cgr[build-bundle]'``), imported only when used.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from cgr.kernel.bundle import BundleError

Rows = Iterator[tuple[int, object]]
F = TypeVar("F", bound=Callable[..., Any])


def counts(unit: str) -> Callable[[F], F]:
    """Mark a reader's unit of position (``line``, ``row``, ``item``) for its error messages."""

    def mark(fn: F) -> F:
        fn.unit = unit  # type: ignore[attr-defined]
        return fn

    return mark


@counts("item")
def read_msgpack(path: Path, data: bytes) -> Rows:
    """A msgpack array of rows (or of cgr items)."""
    try:
        values = msgspec.msgpack.decode(data)
    except msgspec.DecodeError as exc:
        raise BundleError(path, None, None, f"invalid msgpack: {exc}") from None
    if not isinstance(values, list):
        raise BundleError(path, None, None, f"expected a msgpack array, got {type(values).__name__}")
    yield from enumerate(values, start=1)


@counts("item")
def read_json(path: Path, data: bytes) -> Rows:
    """A JSON array of rows (or of cgr items)."""
    try:
        values = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(path, getattr(exc, "lineno", None), None, f"invalid JSON: {exc}") from None
    if not isinstance(values, list):
        raise BundleError(path, None, None, f"expected a JSON array of rows, got {type(values).__name__}")
    yield from enumerate(values, start=1)


@counts("line")
def read_csv(path: Path, data: bytes) -> Rows:
    """Header-less CSV records as ``{"cells": [...]}``, numbered by the line each starts on (for
    adapters such as ``mmlu-csv``); blank records are skipped."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BundleError(path, None, None, f"not UTF-8: {exc}") from None
    reader = csv.reader(text.splitlines(keepends=True))
    start = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                yield start, {"cells": cells}
            start = reader.line_num + 1
    except csv.Error as exc:
        raise BundleError(path, start, None, f"invalid CSV: {exc}") from None


@counts("row")
def read_parquet(path: Path, data: bytes) -> Rows:
    """The rows of a Parquet table (needs pyarrow)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise BundleError(path, None, None, "reading Parquet needs pyarrow: pip install 'cgr[build-bundle]'") from None
    yield from enumerate(pq.read_table(io.BytesIO(data)).to_pylist(), start=1)


@counts("row")
def read_arrow(path: Path, data: bytes) -> Rows:
    """The rows of an Arrow IPC stream or file, e.g. a ``data-*.arrow`` file that HF ``datasets``
    ``save_to_disk`` wrote (needs pyarrow)."""
    try:
        import pyarrow as pa
        import pyarrow.ipc as ipc
    except ImportError:
        raise BundleError(path, None, None, "reading Arrow needs pyarrow: pip install 'cgr[build-bundle]'") from None
    buffer = pa.py_buffer(data)
    try:
        table = ipc.open_stream(buffer).read_all()
    except pa.ArrowInvalid:  # a file-format (not stream) dump
        try:
            table = ipc.open_file(buffer).read_all()
        except pa.ArrowInvalid as exc:
            raise BundleError(path, None, None, f"invalid Arrow IPC data: {exc}") from None
    yield from enumerate(table.to_pylist(), start=1)


#: name -> (reader, suffixes, description); registered by ``register_bundle_formats``.
READERS: dict[str, tuple[Callable[[Path, bytes], Rows], tuple[str, ...], str]] = {
    "msgpack": (read_msgpack, (".msgpack", ".mpk"), "msgpack array of rows or items"),
    "json": (read_json, (".json",), "JSON array of rows or items"),
    "parquet": (read_parquet, (".parquet",), "Parquet table (needs pyarrow)"),
    "arrow": (read_arrow, (".arrow",), "Arrow IPC stream/file, e.g. HF datasets' data-*.arrow (needs pyarrow)"),
    "csv": (read_csv, (".csv",), "header-less CSV records as {'cells': [...]} (mmlu-csv)"),
}
