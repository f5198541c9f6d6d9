"""Adapters: known multiple-choice formats in, cgr bundles (JSONL or msgpack + manifest.json) out.

Each adapter maps one source row to the item interface of DESIGN.md and names the field when a row
cannot be mapped; every converted item is then validated like any bundle line. Rows are read from
JSONL, a JSON array, CSV (``mmlu-csv``: MMLU's header-less ``question,A,B,C,D,answer`` files) or
Parquet (needs pyarrow: ``pip install 'cgr[build-bundle]'``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from cgr.kernel.bundle import (DEFAULT_LABELS, BundleError, is_msgpack, item_counts, note_id, parse_item,
                               read_values)
from cgr.kernel.records import Item


class RowError(ValueError):
    """A source row the adapter cannot map: ``field`` and ``problem`` go into a BundleError."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


@dataclass(frozen=True)
class Adapter:
    name: str
    dataset: str  # default dataset name of the items
    description: str
    fn: Callable[[dict, "Context"], dict]


@dataclass(frozen=True)
class Context:
    """What an adapter knows besides the row: where it is and the user's choices."""

    source: Path
    number: int  # line / row / item number in the source, from 1
    seed: int


def _text(row: dict, key: str, *, required: bool = True) -> str:
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(key, "missing or empty")
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise RowError(key, f"expected text, got {type(value).__name__}")
    return str(value).strip()


def _relettered(texts: list[str], original: list[str], key: str) -> tuple[list[str], str, dict]:
    """Choices keep their order; labels become A, B, …; the gold follows its original label."""
    if key not in original:
        raise RowError("answerKey", f"{key!r} is not one of the choice labels {original}")
    labels = list(DEFAULT_LABELS[: len(texts)])
    return labels, labels[original.index(key)], {"original_labels": original, "original_answer": key}


def _labelled_choices(row: dict, question_key: str) -> tuple[str, list[str], list[str], str, dict]:
    question = _text(row, question_key)
    choices = row.get("choices")
    if not isinstance(choices, dict) or not isinstance(choices.get("text"), list) \
            or not isinstance(choices.get("label"), list):
        raise RowError("choices", "expected {\"text\": [...], \"label\": [...]}")
    texts = [str(t).strip() for t in choices["text"]]
    original = [str(lbl).strip() for lbl in choices["label"]]
    if len(texts) != len(original):
        raise RowError("choices", f"{len(texts)} texts for {len(original)} labels")
    if len(set(original)) != len(original):
        raise RowError("choices", f"duplicate labels {original}")
    labels, answer, meta = _relettered(texts, original, _text(row, "answerKey"))
    return question, texts, labels, answer, meta


def _arc(row: dict, ctx: Context) -> dict:
    question, texts, labels, answer, meta = _labelled_choices(row, "question")
    return {"id": _text(row, "id"), "question": question, "choices": texts, "labels": labels, "answer": answer,
            "metadata": meta}


def _openbookqa(row: dict, ctx: Context) -> dict:
    question, texts, labels, answer, meta = _labelled_choices(row, "question_stem")
    fact = _text(row, "fact1", required=False)  # the "additional" config's supporting fact
    return {"id": _text(row, "id"), "question": question, "choices": texts, "labels": labels, "answer": answer,
            "context": fact or None, "metadata": meta}


def _sciq(row: dict, ctx: Context) -> dict:
    question, correct = _text(row, "question"), _text(row, "correct_answer")
    options = [correct] + [_text(row, f"distractor{i}") for i in (1, 2, 3)]
    for i, option in enumerate(options[1:], start=1):
        if option in options[:i]:
            raise RowError(f"distractor{i}", f"{option!r} repeats another option (the gold would be ambiguous)")
    item_id = _text(row, "id", required=False) or f"sciq-{ctx.number:05d}"
    # A deterministic per-item shuffle (the source always lists the correct answer first).
    order = sorted(range(4), key=lambda i: hashlib.sha256(f"{ctx.seed}:{item_id}:{i}:{options[i]}".encode()).digest())
    choices = [options[i] for i in order]
    support = _text(row, "support", required=False)
    return {"id": item_id, "question": question, "choices": choices,
            "answer": DEFAULT_LABELS[choices.index(correct)], "context": support or None,
            "metadata": {"original_answer": correct, "shuffle_seed": ctx.seed}}


def _gold_index(value: object, n: int, key: str) -> int:
    if isinstance(value, bool) or value is None:
        raise RowError(key, f"expected an option index or letter, got {value!r}")
    if isinstance(value, int):
        index = value
    elif isinstance(value, str) and value.strip().isdigit():
        index = int(value.strip())
    elif isinstance(value, str) and value.strip().upper() in DEFAULT_LABELS[:n]:
        index = DEFAULT_LABELS.index(value.strip().upper())
    else:
        raise RowError(key, f"expected an option index or letter, got {value!r}")
    if not 0 <= index < n:
        raise RowError(key, f"index {index} is out of range for {n} choices")
    return index


def _mmlu(row: dict, ctx: Context) -> dict:
    question = _text(row, "question")
    choices = row.get("choices")
    if not isinstance(choices, list):
        raise RowError("choices", f"expected a list, got {type(choices).__name__}")
    choices = [str(c).strip() for c in choices]
    subject = _text(row, "subject", required=False)
    item_id = _text(row, "id", required=False) or f"{subject or 'mmlu'}-{ctx.number:05d}"
    return {"id": item_id, "task": subject or None, "question": question, "choices": choices,
            "answer": DEFAULT_LABELS[_gold_index(row.get("answer"), len(choices), "answer")],
            "metadata": {"original_answer": row.get("answer")}}


def _mmlu_csv(row: dict, ctx: Context) -> dict:
    cells = row["cells"]
    if len(cells) != 6:
        raise RowError("row", f"expected 6 columns (question, A, B, C, D, answer), got {len(cells)}")
    subject = ctx.source.stem.removesuffix("_test").removesuffix("_dev").removesuffix("_val")
    return {"id": f"{subject}-{ctx.number:05d}", "task": subject, "question": cells[0].strip(),
            "choices": [c.strip() for c in cells[1:5]],
            "answer": DEFAULT_LABELS[_gold_index(cells[5], 4, "answer")]}


def _cgr(row: dict, ctx: Context) -> dict:
    return row


ADAPTERS: dict[str, Adapter] = {a.name: a for a in (
    Adapter("cgr", "", "cgr items (validate and re-encode; e.g. JSONL to msgpack)", _cgr),
    Adapter("arc", "ai2_arc", "ARC (allenai/ai2_arc): id, question, choices{text,label}, answerKey; "
                              "labels re-lettered A, B, ...", _arc),
    Adapter("openbookqa", "openbookqa", "OpenBookQA: id, question_stem, choices{text,label}, answerKey "
                                        "[, fact1 as context]", _openbookqa),
    Adapter("sciq", "sciq", "SciQ: question, correct_answer, distractor1-3 [, support as context]; "
                            "options shuffled per item with --seed", _sciq),
    Adapter("mmlu", "mmlu", "MMLU (cais/mmlu): question, subject (the task), choices[], answer (index or "
                            "letter)", _mmlu),
    Adapter("mmlu-csv", "mmlu", "MMLU's original CSV files: question,A,B,C,D,answer (no header); "
                                "the task is the file's subject", _mmlu_csv),
)}


# ------------------------------------------------------------------------------- reading ------
def read_rows(path: Path, fmt: str) -> tuple[str, Iterator[tuple[int, object]]]:
    """The unit of position ("line", "row" or "item") and (position, row) pairs of a source file."""
    suffix = path.suffix.lower()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(path, None, None, f"cannot read: {exc.strerror or exc}") from None
    if fmt == "mmlu-csv":
        return "line", _csv_rows(path, data)
    if suffix == ".csv":
        raise BundleError(path, None, None, "CSV is read for --from mmlu-csv only; other formats come as "
                                            "JSONL, a JSON array, msgpack or Parquet")
    if suffix == ".parquet":
        return "row", _parquet_rows(path)
    if suffix == ".json":
        try:
            values = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BundleError(path, getattr(exc, "lineno", None), None, f"invalid JSON: {exc}") from None
        if not isinstance(values, list):
            raise BundleError(path, None, None, f"expected a JSON array of rows, got {type(values).__name__}")
        return "item", enumerate(values, start=1)
    return read_values(path, data)  # JSONL, or a msgpack array


def _csv_rows(path: Path, data: bytes) -> Iterator[tuple[int, object]]:
    """Header-less CSV records as ``{"cells": [...]}``, numbered by the line each starts on."""
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


def _parquet_rows(path: Path) -> Iterator[tuple[int, object]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise BundleError(path, None, None, "reading Parquet needs pyarrow: pip install 'cgr[build-bundle]'") from None
    yield from enumerate(pq.read_table(path).to_pylist(), start=1)


# ------------------------------------------------------------------------------ converting ----
@dataclass
class Conversion:
    items: list[Item]
    skipped: list[BundleError] = field(default_factory=list)
    rows: int = 0


def convert(source: Path | str, fmt: str, *, dataset: str | None = None, task: str | None = None,
            seed: int = 0, skip_invalid: bool = False) -> Conversion:
    """Convert ``source`` with adapter ``fmt``. A row that cannot be converted raises a BundleError
    naming file, line/row/item and field, or with ``skip_invalid`` is listed in ``skipped``."""
    source = Path(source)
    if fmt not in ADAPTERS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(ADAPTERS)}")
    adapter = ADAPTERS[fmt]
    unit, rows = read_rows(source, fmt)
    out = Conversion(items=[])
    seen: dict[str, int] = {}
    for number, row in rows:
        out.rows += 1
        try:
            item = _convert_row(adapter, row, Context(source, number, seed), dataset, task, source, number, unit)
            note_id(seen, item, source, number, unit)
        except BundleError as exc:
            if not skip_invalid:
                raise
            out.skipped.append(exc)
            continue
        out.items.append(item)
    if not out.items:
        raise BundleError(source, None, None, f"no convertible items ({out.rows} rows, {len(out.skipped)} skipped)")
    return out


def _convert_row(adapter: Adapter, row: object, ctx: Context, dataset: str | None, task: str | None,
                 source: Path, number: int, unit: str) -> Item:
    if not isinstance(row, dict):
        raise BundleError(source, number, None, f"expected an object, got {type(row).__name__}", unit)
    try:
        mapped = adapter.fn(row, ctx)
    except RowError as exc:
        raise BundleError(source, number, exc.field, exc.problem, unit) from None
    if adapter.name != "cgr":
        mapped = {k: v for k, v in mapped.items() if v is not None}
        mapped["dataset"] = dataset or adapter.dataset
        mapped.setdefault("task", mapped["dataset"])
        mapped["metadata"] = {"source": f"{source.name}:{number}", **mapped.get("metadata", {})}
    elif dataset:
        mapped = {**mapped, "dataset": dataset}
    if task:
        mapped = {**mapped, "task": task}
    return parse_item(mapped, source, number, unit)


# ------------------------------------------------------------------------------- writing ------
def write_bundle(items: list[Item], out: Path | str, manifest: dict, *, force: bool = False) -> Path:
    """Write ``items`` to ``out`` (msgpack array for ``.msgpack``/``.mpk``, else JSONL) and
    ``manifest.json`` beside it, each atomically. Refuses to overwrite unless ``force``."""
    out = Path(out)
    manifest_path = out.with_name("manifest.json")
    for path in (out, manifest_path):
        if path.exists() and not force:
            raise FileExistsError(f"{path} exists (use --force to overwrite)")
    out.parent.mkdir(parents=True, exist_ok=True)
    if is_msgpack(out):
        data = msgspec.msgpack.encode(items)
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
