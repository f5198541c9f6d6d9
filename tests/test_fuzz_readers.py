"""Fuzzed bundles in the other formats (issue 14): msgpack, JSON arrays, CSV, Parquet and Arrow read
through the registered readers, and ``convert`` with every built-in adapter on rows of any shape.
Either valid items or one BundleError naming file, item/row/line and field; nothing else escapes.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cgr.kernel.bundle import Bundle, BundleError
from cgr.kernel.manager import load_plugins
from cgr.plugins.formats import convert
from tests.test_fuzz_support import (
    broken,
    bundles,
    check_bundle,
    check_error,
    check_outcome,
    fuzz,
    items,
    json_values,
    msgpack_values,
    text,
)

PLUGINS = load_plugins(builtins=("cgr.plugins.formats",), entry_points=False)
ADAPTERS = [a.name for a in PLUGINS.all("adapter")]


@contextmanager
def source(data: bytes, suffix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"src{suffix}"
        path.write_bytes(data)
        yield path


def encode(values: Any, suffix: str) -> bytes:
    return msgspec.msgpack.encode(values) if suffix == ".msgpack" else json.dumps(values).encode()


# ------------------------------------------------------------------------ msgpack and JSON ---
@fuzz(50)
@given(data=st.data(), rows=bundles(max_size=3), suffix=st.sampled_from([".msgpack", ".json"]))
def test_a_broken_item_in_an_array_is_named_by_position_and_field(data, rows, suffix):
    k = data.draw(st.integers(0, len(rows) - 1), label="bad item index")
    bad, field = data.draw(broken(rows[k]), label="broken item")
    with source(encode([*rows[:k], bad, *rows[k + 1 :]], suffix), suffix) as path:
        out = check_outcome(path, lines=len(rows), unit="item")
        assert isinstance(out, BundleError), f"accepted an item with a bad {field!r}: {bad}"
        assert out.line == k + 1 and out.field is not None and out.field.startswith(field), (field, str(out))


@fuzz(50)
@given(
    values=st.one_of(
        msgpack_values,
        st.lists(st.one_of(msgpack_values, st.dictionaries(st.sampled_from(["id", "choices", "metadata"]),
                                                           msgpack_values)), max_size=4),
    ),
    rows=bundles(max_size=2),
    mix=st.booleans(),
)  # fmt: skip
def test_any_msgpack_value_gives_items_or_one_named_error(values, rows, mix):
    """Bytes, extension types, big integers, NaN, non-text keys, wherever they may be."""
    if mix and isinstance(values, list):
        values = [*rows, *values]
    with source(msgspec.msgpack.encode(values), ".msgpack") as path:
        check_outcome(path, lines=len(values) if isinstance(values, list) else None, unit="item")


@fuzz(30)
@given(
    data=st.one_of(
        st.binary(max_size=200),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.sampled_from([b"[" * 5_000, b"9" * 5_000, b"\x91" * 5_000, b"\xdd\xff\xff\xff\xff", b"\xc1"]),
    ),
    suffix=st.sampled_from([".msgpack", ".mpk", ".json", ".csv", ".parquet", ".arrow"]),
)
def test_garbage_in_any_format_is_one_named_error(data, suffix):
    with source(data, suffix) as path:
        unit = {".csv": "line", ".parquet": "row", ".arrow": "row"}.get(suffix, "item")
        check_outcome(path, unit=unit)


# ---------------------------------------------------------------------- Parquet and Arrow ----
def table_bytes(rows: list[dict[str, Any]], kind: str) -> bytes:
    table = pa.Table.from_pylist(rows)
    sink = io.BytesIO()
    if kind == ".parquet":
        pq.write_table(table, sink)
    else:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    return sink.getvalue()


@fuzz(20)
@given(data=st.data(), rows=bundles(max_size=3), kind=st.sampled_from([".parquet", ".arrow"]))
def test_tables_of_items_load_or_name_the_row(data, rows, kind):
    """Items as table rows (columns shared by all rows: missing ones read as null), one maybe broken."""
    if data.draw(st.booleans(), label="break one"):
        k = data.draw(st.integers(0, len(rows) - 1))
        rows[k], _ = data.draw(broken(rows[k]))
    try:
        blob = table_bytes(rows, kind)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        assume(False)  # pyarrow cannot make one table of these rows: nothing to read
    with source(blob, kind) as path:
        check_outcome(path, lines=len(rows), unit="row")


# ---------------------------------------------------------------------- convert, any adapter ---
DIGITS = st.sampled_from(["0", "3", " 2 ", "²", "١", "٣", "1" * 5_000, "-1", "99", "1e3", "", "D", "d", "Z", "ß"])
cell = st.one_of(
    text, DIGITS, st.integers(-3, 40), st.integers(-(2**63), 2**64 - 1), st.none(), st.booleans(), st.floats()
)
texts_n = st.integers(0, 30).flatmap(lambda n: st.lists(text, min_size=n, max_size=n))


@st.composite
def labelled(draw: st.DrawFn) -> dict[str, Any]:
    """``{"text": [...], "label": [...]}`` as ARC and OpenBookQA have it, up to 30 options."""
    texts = draw(texts_n)
    labels = draw(st.one_of(st.lists(text, min_size=len(texts), max_size=len(texts), unique=True), texts_n))
    return {"text": texts, "label": labels}


@st.composite
def loose_rows(draw: st.DrawFn) -> dict[str, Any]:
    """A row with the keys the built-in adapters read, each any value or a well-shaped one."""
    row: dict[str, Any] = {}
    for key in ("id", "question", "question_stem", "fact1", "subject", "support", "correct_answer",
                "distractor1", "distractor2", "distractor3"):  # fmt: skip
        if draw(st.integers(0, 3)):
            row[key] = draw(st.one_of(st.text(min_size=1, max_size=8), cell))
    row["choices"] = draw(st.one_of(labelled(), texts_n, cell))
    labels = row["choices"]["label"] if isinstance(row["choices"], dict) else []
    row["answerKey"] = draw(st.sampled_from(labels) if labels else cell)
    row["answer"] = draw(cell)
    return row


word = st.text(min_size=1, max_size=6).filter(str.strip)


@st.composite
def shaped_rows(draw: st.DrawFn, fmt: str) -> dict[str, Any]:
    """A row of ``fmt``'s own shape, with up to 30 options and an answer of any spelling."""
    n = draw(st.integers(2, 30))
    options = draw(st.lists(word, min_size=n, max_size=n, unique=True))
    if fmt in ("arc", "openbookqa"):
        labels = draw(st.lists(word, min_size=n, max_size=n, unique=True))
        key = "question" if fmt == "arc" else "question_stem"
        return {"id": draw(word), key: draw(word), "choices": {"text": options, "label": labels},
                "answerKey": draw(st.sampled_from(labels) | cell)}  # fmt: skip
    if fmt == "sciq":
        return {"question": draw(word), "correct_answer": options[0],
                **{f"distractor{i}": draw(st.sampled_from(options) | cell) for i in (1, 2, 3)}}  # fmt: skip
    if fmt == "mmlu":
        answer = draw(st.one_of(st.integers(-1, n), DIGITS, st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ")))
        return {"question": draw(word), "subject": draw(word), "choices": options, "answer": answer}
    return draw(items())


def adapter_rows(fmt: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(shaped_rows(fmt), loose_rows())


@fuzz(100)
@given(
    data=st.data(),
    fmt=st.sampled_from([a for a in ADAPTERS if a != "mmlu-csv"]),
    suffix=st.sampled_from([".jsonl", ".msgpack"]),
    skip=st.booleans(),
)
def test_convert_with_any_adapter_gives_items_or_named_errors(data, fmt, suffix, skip):
    """Unicode digits and 5000-digit numbers as answers, 30 options, labels that do not match: every
    row becomes an item or a BundleError naming its line/item (listed with --skip-invalid)."""
    rows = data.draw(st.lists(adapter_rows(fmt), min_size=1, max_size=3), label="rows")
    blob = b"".join(json.dumps(r).encode() + b"\n" for r in rows) if suffix == ".jsonl" else encode(rows, suffix)
    unit = "line" if suffix == ".jsonl" else "item"
    with source(blob, suffix) as path:
        try:
            out = convert(path, fmt, skip_invalid=skip, plugins=PLUGINS)
        except BundleError as exc:
            check_error(exc, path, lines=len(rows), unit=unit)
            return
        check_bundle(Bundle(path, out.items, {}, ""))
        assert len(out.items) + len(out.skipped) == out.rows == len(rows)
        for err in out.skipped:
            check_error(err, path, lines=len(rows), unit=unit)
            assert err.line is not None, str(err)


@fuzz(30)
@given(
    records=st.lists(st.lists(st.one_of(text, DIGITS), max_size=8), min_size=1, max_size=4),
    raw=st.one_of(st.none(), st.binary(max_size=60)),
)
def test_convert_of_any_csv_with_mmlu_csv(records, raw):
    """Any CSV (quoted newlines, NUL, wrong column counts, any answer cell), or any bytes."""
    buf = io.StringIO()
    import csv

    csv.writer(buf).writerows(records)
    blob = raw if raw is not None else buf.getvalue().encode()
    with source(blob, ".csv") as path:
        try:
            out = convert(path, "mmlu-csv", skip_invalid=True, plugins=PLUGINS)
        except BundleError as exc:
            check_error(exc, path)
            return
        check_bundle(Bundle(path, out.items, {}, ""))


@pytest.mark.parametrize(
    "fmt, row",
    [
        ("mmlu", {"question": "q", "choices": ["a", "b"], "answer": "²"}),
        ("mmlu", {"question": "q", "choices": ["a", "b"], "answer": "1" * 5_000}),
        ("mmlu", {"question": "q", "choices": [str(i) for i in range(30)], "answer": 28}),
        ("arc", {"id": "a1", "question": "q", "answerKey": "x28",
                 "choices": {"text": [str(i) for i in range(30)], "label": [f"x{i}" for i in range(30)]}}),
    ],
)  # fmt: skip
def test_adapter_reproducers(tmp_path, fmt, row):
    """The smallest reproducers of the adapter failures the fuzzing found (h4_fixes.md, fix 5)."""
    path = tmp_path / "src.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(BundleError) as err:
        convert(path, fmt, plugins=PLUGINS)
    check_error(err.value, path, lines=1)
    assert err.value.line == 1 and err.value.field in ("answer", "answerKey", "choices"), str(err.value)


@pytest.mark.parametrize(
    "suffix, metadata",
    [
        (".msgpack", {"b": b"\xff"}),  # bytes: written back as base64 text
        (".msgpack", {"x": msgspec.msgpack.Ext(1, b"x")}),  # cannot be written as JSON at all
        (".msgpack", {"n": {1: "a"}}),  # a non-text key inside
        (".jsonl", {"big": 2**64}),  # beyond what msgpack holds: converting to .msgpack fails
        (".jsonl", {"inf": float("inf")}),  # written back as null
    ],
)
def test_metadata_that_is_not_plain_json_is_refused(tmp_path, suffix, metadata):
    """Metadata that does not survive being written as JSON (converted bundles) is a named error at
    load time, not a converted bundle that differs or a TypeError later (h4_fixes.md, fix 4)."""
    item = {"id": "a", "dataset": "d", "question": "q", "choices": ["x", "y"], "answer": "A", "metadata": metadata}
    path = tmp_path / f"b{suffix}"
    path.write_bytes(msgspec.msgpack.encode([item]) if suffix == ".msgpack" else json.dumps(item).encode() + b"\n")
    out = check_outcome(path, unit="item" if suffix == ".msgpack" else "line")
    assert isinstance(out, BundleError) and out.line == 1 and out.field == "metadata", out
