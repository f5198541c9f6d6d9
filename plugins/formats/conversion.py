"""Converting sources with a registered adapter, writing bundles, and summarizing them.

Every converted item is validated like any bundle line, and every error names file, line/row/item
and field. The adapters and readers come from a ``Plugins`` object (default: ``load_plugins()``), so
a third-party adapter converts like a built-in one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from cgr.kernel.api import RowContext, RowError
from cgr.kernel.bundle import Bundle, BundleError, note_id, parse_item, read_values
from cgr.kernel.manager import Entry, Plugins, load_plugins
from cgr.kernel.records import Item
from cgr.plugins.formats.adapters import declared_options

MSGPACK_SUFFIXES = (".msgpack", ".mpk")
#: Suffixes a reader claims but ``write_bundle`` cannot write (they would not read back).
UNWRITABLE_SUFFIXES = (".parquet", ".arrow", ".csv")


@dataclass
class Conversion:
    items: list[Item]
    skipped: list[BundleError] = field(default_factory=list)
    rows: int = 0


def check_options(adapter: Entry, options: Mapping[str, str]) -> dict[str, str]:
    """``options`` if adapter ``adapter`` declares them all with allowed values, else ValueError."""
    declared = declared_options(adapter.obj)
    if declared is None:
        return dict(options)
    for key, value in options.items():
        if key not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise ValueError(f"adapter {adapter.name!r} has no option {key!r} (its options: {known})")
        if declared[key] and value not in declared[key]:
            raise ValueError(f"adapter {adapter.name!r}: option {key}={value!r} is not one of {list(declared[key])}")
    return dict(options)


def convert(
    source: Path | str,
    fmt: str,
    *,
    dataset: str | None = None,
    task: str | None = None,
    seed: int = 0,
    skip_invalid: bool = False,
    options: Mapping[str, str] | None = None,
    plugins: Plugins | None = None,
) -> Conversion:
    """Convert ``source`` with the adapter registered as ``fmt``, reading it with the reader of its
    suffix (JSONL when none claims it). A row that cannot be converted raises a BundleError naming
    file, line/row/item and field, or with ``skip_invalid`` is listed in ``skipped``. An unknown
    ``fmt`` is an UnknownPluginError; an option the adapter does not declare, a ValueError."""
    source = Path(source)
    plugins = plugins if plugins is not None else load_plugins()
    adapter = plugins.get("adapter", fmt)
    options = check_options(adapter, options or {})
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise BundleError(source, None, None, f"cannot read: {exc.strerror or exc}") from None
    unit, rows = read_values(source, data, plugins.readers())
    out = convert_rows(
        rows, adapter, source=source, unit=unit, dataset=dataset, task=task, seed=seed, options=options,
        skip_invalid=skip_invalid,
    )  # fmt: skip
    if not out.items:
        raise BundleError(source, None, None, f"no convertible items ({out.rows} rows, {len(out.skipped)} skipped)")
    return out


def convert_rows(
    rows: Iterable[tuple[int, object]],
    adapter: Entry,
    *,
    source: Path,
    unit: str = "line",
    dataset: str | None = None,
    task: str | None = None,
    seed: int = 0,
    options: Mapping[str, str] | None = None,
    skip_invalid: bool = False,
) -> Conversion:
    """Convert (number, row) pairs that came from ``source`` with ``adapter`` (an adapter Entry);
    the one conversion behind :func:`convert`, for callers that read rows themselves."""
    out = Conversion(items=[])
    seen: dict[str, int] = {}
    opts = dict(options or {})
    for number, row in rows:
        out.rows += 1
        try:
            ctx = RowContext(source, number, seed, opts)
            item = _convert_row(adapter, row, ctx, dataset, task, unit)
            note_id(seen, item, source, number, unit)
        except BundleError as exc:
            if not skip_invalid:
                raise
            out.skipped.append(exc)
            continue
        out.items.append(item)
    return out


def _convert_row(
    adapter: Entry, row: object, ctx: RowContext, dataset: str | None, task: str | None, unit: str
) -> Item:
    source, number = ctx.source, ctx.number
    if not isinstance(row, dict):
        raise BundleError(source, number, None, f"expected an object, got {type(row).__name__}", unit)
    try:
        mapped = adapter.obj(row, ctx)
    except RowError as exc:
        raise BundleError(source, number, exc.field, exc.problem, unit) from None
    if not isinstance(mapped, dict):
        raise BundleError(source, number, None, f"adapter {adapter.name!r} returned {type(mapped).__name__}", unit)
    default_dataset = adapter.extra.get("dataset", "")
    if default_dataset:  # a mapping adapter: defaults and provenance
        mapped = {k: v for k, v in mapped.items() if v is not None}
        mapped["dataset"] = dataset or default_dataset
        mapped.setdefault("task", mapped["dataset"])
        mapped["metadata"] = {"source": f"{source.name}:{number}", **mapped.get("metadata", {})}
    elif dataset:  # complete items (the cgr adapter)
        mapped = {**mapped, "dataset": dataset}
    if task:
        mapped = {**mapped, "task": task}
    return parse_item(mapped, source, number, unit)


# ------------------------------------------------------------------------------- writing ------
def write_bundle(items: list[Item], out: Path | str, manifest: dict[str, Any], *, force: bool = False) -> Path:
    """Write ``items`` to ``out`` (a msgpack array for ``.msgpack``/``.mpk``, a JSON array for
    ``.json``, else JSONL) and ``manifest.json`` beside it, each atomically; returns the manifest's
    path. Refuses to overwrite unless ``force`` (FileExistsError), and refuses a suffix that would
    be read back as another format (ValueError)."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix in UNWRITABLE_SUFFIXES:
        raise ValueError(f"{out}: cannot write a {suffix} bundle; use .jsonl, .json or .msgpack")
    manifest_path = out.with_name("manifest.json")
    for path in (out, manifest_path):
        if path.exists() and not force:
            raise FileExistsError(f"{path} exists (use --force to overwrite)")
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix in MSGPACK_SUFFIXES:
        data = msgspec.msgpack.encode(items)
    elif suffix == ".json":
        data = msgspec.json.encode(items) + b"\n"
    else:
        data = b"".join(msgspec.json.encode(item) + b"\n" for item in items)
    counts = item_counts(items)
    full = {**manifest, "count": counts["count"], "sha256": hashlib.sha256(data).hexdigest(), "tasks": counts["tasks"]}
    _atomic_write(out, data)
    _atomic_write(manifest_path, json.dumps(full, indent=2, ensure_ascii=False).encode() + b"\n")
    return manifest_path


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- summarizing ----
def item_counts(items: list[Item]) -> dict[str, Any]:
    """Counts per dataset/task, per number of options and per gold position (from 1)."""

    def counted(values: Iterable[object]) -> dict[str, int]:
        return {str(k): v for k, v in sorted(Counter(values).items())}

    return {
        "count": len(items),
        "tasks": counted(f"{it.dataset}/{it.task}" for it in items),
        "options": counted(len(it.choices) for it in items),
        "gold_position": counted(it.labels.index(it.answer) + 1 for it in items),
        "with_context": sum(1 for it in items if it.context),
    }


def summary(bundle: Bundle) -> dict[str, Any]:
    """What ``cgr bundle check`` reports: ``bundle.describe()`` plus :func:`item_counts`."""
    return {**bundle.describe(), **item_counts(bundle.items)}
