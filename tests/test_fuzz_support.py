"""Shared pieces of the fuzz tests (issue 14): hypothesis settings, strategies for items and bundle
files, and the two checks every outcome must pass. It has no tests of its own.

The contract the fuzz tests hold the loader to: for any input, ``load_bundle`` either returns a
Bundle whose every item satisfies the item interface (DESIGN.md), or raises a ``BundleError`` whose
message is one printable line that starts with the file and, where a line/item is at fault, names
it; no other exception type escapes.
"""

from __future__ import annotations

import json
import os
import string
import unicodedata
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from cgr.kernel.bundle import Bundle, BundleError, load_bundle
from cgr.kernel.manager import load_plugins
from cgr.kernel.records import Item

FIELDS = ("id", "dataset", "task", "question", "choices", "labels", "answer", "context", "metadata")
REQUIRED = ("id", "dataset", "question", "choices", "answer")

#: The registered readers (suffix -> reader), loaded once for all fuzz tests.
READERS = load_plugins(entry_points=False).readers()


def fuzz(max_examples: int) -> settings:
    """Reproducible settings: derandomized, no example database, no deadline (the machine is shared),
    and no shrinking (it can take minutes; a failure reports the first failing example as drawn).
    ``CGR_FUZZ_SCALE=10`` runs ten times the examples (a deeper search; still reproducible)."""
    return settings(
        max_examples=max(1, round(max_examples * float(os.environ.get("CGR_FUZZ_SCALE", "1")))),
        deadline=None,
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.reuse, Phase.generate),
        report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    )


# ------------------------------------------------------------------------------ strategies ----
#: Any text a JSON string can carry and Python can encode (no lone surrogates): unicode, control
#: characters, line and paragraph separators, NUL.
ANY_CHAR = st.characters(exclude_categories=("Cs",))
TRICKY = st.sampled_from(["\n", "\r", "\r\n", "\x00", "\x1b[31m", "\u2028", "\u2029", "\x85", "\ufeff", "\t", " "])
text = st.one_of(
    st.text(ANY_CHAR, max_size=30), st.lists(st.one_of(TRICKY, st.text(ANY_CHAR, max_size=4))).map("".join)
)
nonblank = text.filter(lambda s: bool(s.strip()))
nonempty = text.filter(bool)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.floats(allow_nan=False, allow_infinity=False), text
)
json_values = st.recursive(
    json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
    max_leaves=8,
)  # fmt: skip
#: Anything msgspec's msgpack can carry (what a msgpack bundle may decode to): bytes, big ints,
#: non-text keys, NaN, extension values.
msgpack_values = st.recursive(
    st.one_of(
        json_scalars, st.binary(max_size=8), st.integers(-(2**63), 2**64 - 1), st.floats(),
        st.builds(msgspec.msgpack.Ext, st.integers(0, 127), st.binary(max_size=4)),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.one_of(text, st.integers(-5, 5)), inner, max_size=3)
    ),
    max_leaves=8,
)  # fmt: skip


@st.composite
def items(draw: st.DrawFn, item_id: str | None = None) -> dict[str, Any]:
    """One valid item (as decoded JSON): unicode and control characters in every text, optional
    fields present or not, custom labels or the default ones."""
    n = draw(st.integers(2, 26))
    item: dict[str, Any] = {
        "id": item_id if item_id is not None else draw(nonempty),
        "dataset": draw(nonempty),
        "question": draw(nonempty),
        "choices": draw(st.lists(nonblank, min_size=n, max_size=n)),
    }
    labels = draw(st.none() | st.lists(nonempty, min_size=n, max_size=n, unique=True))
    if labels is not None:
        item["labels"] = labels
    item["answer"] = draw(st.sampled_from(labels or list(string.ascii_uppercase[:n])))
    for key, value in (("task", st.none() | text), ("context", st.none() | text), ("metadata", json_objects)):
        if draw(st.booleans()):
            item[key] = draw(value)
    return item


json_objects = st.dictionaries(text, json_values, max_size=3)


@st.composite
def bundles(draw: st.DrawFn, min_size: int = 1, max_size: int = 4) -> list[dict[str, Any]]:
    """A few valid items with distinct ids."""
    ids = draw(st.lists(nonempty, min_size=min_size, max_size=max_size, unique=True))
    return [draw(items(item_id=i)) for i in ids]


def wrong_types(*but: type) -> st.SearchStrategy[Any]:
    """JSON values that are not of the types ``but`` (bool is not an int here, as in JSON)."""
    pool = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.lists(json_scalars, max_size=2),
        st.dictionaries(text, json_scalars, max_size=2), text,
    )  # fmt: skip
    return pool.filter(lambda v: not isinstance(v, but) or (isinstance(v, bool) and bool not in but))


@st.composite
def broken(draw: st.DrawFn, item: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """``item`` made invalid in one field: (the bad item, the field its error must name)."""
    bad = dict(item)
    n = len(item["choices"])
    labels = item.get("labels") or list(string.ascii_uppercase[:n])
    kind = draw(st.sampled_from(
        ["missing", "wrong_type", "empty", "few_choices", "many_choices", "blank_choice", "choice_type",
         "label_count", "label_dup", "answer", "extra", "metadata"]
    ))  # fmt: skip
    if kind == "missing":
        field = draw(st.sampled_from(REQUIRED))
        del bad[field]
    elif kind == "wrong_type":
        field = draw(st.sampled_from(FIELDS))
        optional = field in ("task", "labels", "context", "metadata")
        wanted: tuple[type, ...] = {"choices": (list,), "labels": (list,), "metadata": (dict,)}.get(field, (str,))
        bad[field] = draw(wrong_types(*wanted).filter(lambda v: not (optional and v is None)))
    elif kind == "empty":
        field = draw(st.sampled_from(("id", "dataset", "question")))
        bad[field] = ""
    elif kind in ("few_choices", "many_choices"):
        field = "choices"
        k = draw(st.integers(0, 1) if kind == "few_choices" else st.integers(27, 40))
        bad["choices"] = draw(st.lists(nonblank, min_size=k, max_size=k))
    elif kind == "blank_choice":
        field = "choices"
        choices = list(item["choices"])
        choices[draw(st.integers(0, n - 1))] = draw(st.text(" \t\n\r\x0b\x0c\u3000\u2028", max_size=3))
        bad["choices"] = choices
    elif kind == "choice_type":
        field = "choices"
        choices = list(item["choices"])
        choices[draw(st.integers(0, n - 1))] = draw(wrong_types(str))
        bad["choices"] = choices
    elif kind == "label_count":
        field = "labels"
        k = draw(st.integers(0, 30).filter(lambda k: k != n))
        bad["labels"] = [f"L{i}" for i in range(k)]
        bad["answer"] = "L0"
    elif kind == "label_dup":
        field = "labels"
        bad["labels"] = [labels[0], *labels[:-1]]
    elif kind == "answer":
        field = "answer"
        bad["answer"] = draw(text.filter(lambda a: a not in labels))
    elif kind == "extra":
        field = draw(text.filter(lambda k: k not in FIELDS))
        bad[field] = draw(json_values)
    else:
        field = "metadata"
        bad["metadata"] = draw(wrong_types(dict).filter(lambda v: v is not None))
    return bad, field


def jsonl(rows: list[Any], *, ascii: bool = True, crlf: bool = False, bom: bool = False) -> bytes:
    """JSON lines, with or without escaping, CRLF endings and a UTF-8 BOM."""
    body = "".join(json.dumps(r, ensure_ascii=ascii) + ("\r\n" if crlf else "\n") for r in rows)
    return (b"\xef\xbb\xbf" if bom else b"") + body.encode("utf-8")


# ---------------------------------------------------------------------------------- checks ----
#: Characters that break a message's one line or cannot be printed: control characters (newline,
#: carriage return, escape sequences…), line and paragraph separators, lone surrogates.
BREAKING = ("Cc", "Zl", "Zp", "Cs")


def load(path: Path) -> Bundle | BundleError:
    """The bundle at ``path`` or the BundleError it raised; any other exception propagates (and
    fails the test with its traceback)."""
    try:
        return load_bundle(path, readers=READERS, warn=None)
    except BundleError as exc:
        return exc


def check_item(item: Item) -> None:
    """``item`` satisfies the item interface (DESIGN.md, item interface)."""
    assert isinstance(item, Item)
    for name in ("id", "dataset", "task", "question", "answer"):
        value = getattr(item, name)
        assert isinstance(value, str) and value, (name, value)
    assert isinstance(item.choices, list) and 2 <= len(item.choices) <= 26
    assert all(isinstance(c, str) and c.strip() for c in item.choices)
    assert isinstance(item.labels, list) and len(item.labels) == len(item.choices)
    assert all(isinstance(label, str) for label in item.labels) and len(set(item.labels)) == len(item.labels)
    assert item.answer in item.labels
    assert item.context is None or isinstance(item.context, str)
    assert isinstance(item.metadata, dict) and all(isinstance(k, str) for k in item.metadata)
    # converted bundles are written as JSON or msgpack: metadata must survive both unchanged
    assert msgspec.json.decode(msgspec.json.encode(item.metadata)) == item.metadata, item.metadata
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(item.metadata)) == item.metadata, item.metadata


def check_bundle(bundle: Bundle) -> None:
    assert bundle.items, "a bundle without items must be an error"
    for item in bundle.items:
        check_item(item)
    ids = [it.id for it in bundle.items]
    assert len(set(ids)) == len(ids), "duplicate ids were accepted"


def check_error(exc: BundleError, path: Path, *, lines: int | None = None, unit: str = "line") -> None:
    """``exc`` is one printable line that starts with ``path`` (or the manifest beside it) and names
    the line/item at fault as ``path:N`` (JSONL, CSV) or ``path: item N`` (other readers), N in
    1..``lines`` when the number of lines/items is known."""
    msg = str(exc)
    assert not [c for c in msg if unicodedata.category(c) in BREAKING], f"not one printable line: {msg!r}"
    assert exc.path in (str(path), str(path.with_name("manifest.json"))), msg
    assert msg.startswith(exc.path), msg
    if exc.line is not None:
        assert isinstance(exc.line, int) and exc.line >= 1, msg
        if lines is not None and exc.path == str(path):
            assert exc.line <= lines, f"line {exc.line} of a file with {lines}: {msg}"
        where = f"{exc.path}:{exc.line}: " if exc.unit == "line" else f"{exc.path}: {exc.unit} {exc.line}: "
        assert msg.startswith(where), msg
        if exc.path == str(path):  # a reader's own unit, or the text line a JSON parse error is on
            assert exc.unit in (unit, "line"), msg
    if exc.field is not None and exc.field.isprintable():
        assert f": {exc.field}: " in f": {msg}", msg
    assert exc.problem and exc.problem.strip(), msg


def check_outcome(path: Path, *, lines: int | None = None, unit: str = "line") -> Bundle | BundleError:
    """Load ``path`` and check whichever outcome it had."""
    out = load(path)
    if isinstance(out, BundleError):
        check_error(out, path, lines=lines, unit=unit)
    else:
        check_bundle(out)
    return out
