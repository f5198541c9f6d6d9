"""Fuzzed JSONL bundles (issue 14): whatever the bytes, ``load_bundle`` returns items that satisfy the
item interface or raises one BundleError line naming file, line and field; nothing else escapes.

The hand-written cases of tests/kernel/test_bundle.py pin the exact messages; these properties hold
the loader to the contract on inputs nobody wrote by hand (see tests/test_fuzz_support.py).
"""

from __future__ import annotations

import json
import string
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cgr.kernel.bundle import Bundle, BundleError
from tests.test_fuzz_support import (
    broken,
    bundles,
    check_error,
    check_outcome,
    fuzz,
    json_values,
    jsonl,
    text,
)


@contextmanager
def bundle_file(data: bytes, name: str = "b.jsonl", manifest: bytes | None = None) -> Iterator[Path]:
    """``data`` written to a fresh directory (each example its own: no manifest leaks between them)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        if manifest is not None:
            path.with_name("manifest.json").write_bytes(manifest)
        yield path


def expected(row: dict[str, Any]) -> dict[str, Any]:
    """The item the loader must make of a valid row: defaults filled in, nothing else changed."""
    n = len(row["choices"])
    return {
        "id": row["id"],
        "dataset": row["dataset"],
        "task": row.get("task") or row["dataset"],
        "question": row["question"],
        "choices": row["choices"],
        "labels": row.get("labels") or list(string.ascii_uppercase[:n]),
        "answer": row["answer"],
        "context": row.get("context"),
        "metadata": row.get("metadata", {}),
    }


def loaded(out: Bundle | BundleError) -> list[dict[str, Any]]:
    assert isinstance(out, Bundle), f"a valid bundle was refused: {out}"
    return [
        {k: getattr(it, k) for k in ("id", "dataset", "task", "question", "choices", "labels", "answer", "context")}
        | {"metadata": it.metadata}
        for it in out.items
    ]


# --------------------------------------------------------------------------------- valid -------
@fuzz(40)
@given(
    rows=bundles(),
    ascii=st.booleans(),
    crlf=st.booleans(),
    bom=st.booleans(),
    blank=st.sampled_from([b"", b"\n", b"  \t\n", b"\r\n"]),
)
def test_a_valid_bundle_loads_exactly_its_items(rows, ascii, crlf, bom, blank):
    """Unicode, control characters, escaped or not, CRLF, a BOM, blank lines: the same items."""
    data = jsonl(rows, ascii=ascii, crlf=crlf, bom=bom)
    data = blank + data.replace(b"\n", b"\n" + blank, 1)
    with bundle_file(data) as path:
        assert loaded(check_outcome(path)) == [expected(r) for r in rows]


# ------------------------------------------------------------------------- one item at fault ---
@fuzz(100)
@given(data=st.data(), rows=bundles(max_size=3), ascii=st.booleans())
def test_a_broken_item_is_named_by_line_and_field(data, rows, ascii):
    """One item made invalid in one field (missing, wrong type, empty, too few/many choices, blank
    option, label mismatch, answer not a label, unknown key, bad metadata): the error names its line
    and that field."""
    k = data.draw(st.integers(0, len(rows) - 1), label="bad line index")
    bad, field = data.draw(broken(rows[k]), label="broken item")
    with bundle_file(jsonl([*rows[:k], bad, *rows[k + 1 :]], ascii=ascii)) as path:
        out = check_outcome(path, lines=len(rows))
        assert isinstance(out, BundleError), f"accepted an item with a bad {field!r}: {bad}"
        assert out.line == k + 1, str(out)
        assert out.field is not None and out.field.startswith(field), (field, str(out))


@fuzz(25)
@given(data=st.data(), rows=bundles(min_size=2, max_size=4))
def test_a_repeated_id_names_both_lines(data, rows):
    i, j = sorted(data.draw(st.lists(st.integers(0, len(rows) - 1), min_size=2, max_size=2, unique=True)))
    rows[j] = {**rows[j], "id": rows[i]["id"]}
    with bundle_file(jsonl(rows)) as path:
        out = check_outcome(path, lines=len(rows))
        assert isinstance(out, BundleError) and out.line == j + 1 and out.field == "id", str(out)
        assert f"(first on line {i + 1})" in str(out)


# ----------------------------------------------------------------------------- broken files ---
@fuzz(40)
@given(data=st.data(), rows=bundles(), crlf=st.booleans())
def test_a_truncated_file_fails_on_its_last_line_or_loads(data, rows, crlf):
    """Cut anywhere (mid-line, mid UTF-8 sequence): a clean load of the complete lines' items, or
    an error naming the line that was cut."""
    full = jsonl(rows, ascii=False, crlf=crlf)
    cut = data.draw(st.integers(0, len(full) - 1), label="cut")
    head = full[:cut]
    with bundle_file(head) as path:
        out = check_outcome(path, lines=len(full.splitlines()))
        if isinstance(out, Bundle):
            assert [it.id for it in out.items] == [r["id"] for r in rows[: len(out.items)]]
        elif head.strip():
            assert out.line == len(head.splitlines()), f"the cut is on line {len(head.splitlines())}: {out}"
        else:
            assert out.line is None and "no items" in str(out)


NASTY_LINES = [
    b"[" * 5_000,  # nesting deeper than the recursion limit
    b'{"a":' * 5_000,
    b"1" * 5_000,  # an integer beyond Python's digit limit
    b'{"id": ' + b"9" * 5_000 + b"}",
    b"\xff\xfe\x00{}",
    b"\xef\xbb\xbf",
    b"\x00" * 10,
    b'{"id": "\\ud800"}',  # a lone surrogate
    b"NaN",
    b'"\\u0000"',
    b"{}{}",
    b"\x1b[2J",
]


@fuzz(60)
@given(
    lines=st.lists(
        st.one_of(
            st.sampled_from(NASTY_LINES),
            json_values.map(lambda v: json.dumps(v).encode()),
            st.binary(max_size=40),
            st.just(b'{"id": "ok", "dataset": "d", "question": "q", "choices": ["a", "b"], "answer": "A"}'),
        ),
        max_size=5,
    ),
    sep=st.sampled_from([b"\n", b"\r\n", b"\r"]),
)
def test_any_lines_give_items_or_one_named_error(lines, sep):
    """Garbage, JSON values of any shape, deep nesting, huge numbers, NUL, BOMs, lone surrogates."""
    data = sep.join(lines)
    with bundle_file(data) as path:
        check_outcome(path, lines=len(data.splitlines()))


@fuzz(40)
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".jsonl", ".txt", ""]))
def test_binary_garbage_is_one_named_error(data, suffix):
    with bundle_file(data, name="b" + suffix) as path:
        check_outcome(path, lines=len(data.splitlines()))


# --------------------------------------------------------------------------- the manifest -----
@fuzz(40)
@given(
    rows=bundles(max_size=2),
    manifest=st.one_of(
        st.binary(max_size=60),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(text, json_values, max_size=3).map(lambda v: json.dumps(v).encode()),
        st.sampled_from([b"[" * 5_000, b"9" * 5_000, b"\xff\xfe{}", b'{"sha256": 1}', b"{", b""]),
    ),
)
def test_any_manifest_beside_a_valid_bundle(rows, manifest):
    """A manifest.json of any content: the bundle loads (the manifest used or ignored) or the error
    names manifest.json."""
    with bundle_file(jsonl(rows), manifest=manifest) as path:
        out = check_outcome(path)
        if isinstance(out, BundleError):
            check_error(out, path)
            assert out.path == str(path.with_name("manifest.json")), str(out)
        else:
            assert len(out.items) == len(rows)


def test_a_manifest_that_is_not_text_is_one_named_error(tmp_path):
    """The smallest reproducer of a manifest the loader cannot decode (h4_fixes.md, fix 2)."""
    path = tmp_path / "b.jsonl"
    path.write_bytes(jsonl([{"id": "a", "dataset": "d", "question": "q", "choices": ["x", "y"], "answer": "A"}]))
    (tmp_path / "manifest.json").write_bytes(b"\x80\x81 not text")
    out = check_outcome(path)
    assert isinstance(out, BundleError) and out.path == str(tmp_path / "manifest.json"), out
