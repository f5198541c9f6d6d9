"""Bundles: loading and validation. A bundle is a file of items plus an optional ``manifest.json``
beside it; every error names file, line (or item, row…) and field.

JSONL is the kernel's own format. A file with another suffix is read by the reader a plugin
registered for that suffix (``register_bundle_formats``, ``Plugins.readers()``); a suffix no reader
claims is read as JSONL. A reader may set the attribute ``unit`` on its function (``"line"``,
``"row"``…; default ``"item"``): the word errors use for its positions.
"""

from __future__ import annotations

import hashlib
import json
import sys
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from cgr.kernel.api import Reader
from cgr.kernel.records import Item

DEFAULT_LABELS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")

#: The kernel's own format; read without asking any plugin.
JSONL_SUFFIX = ".jsonl"


def one_line(text: str) -> str:
    """``text`` with the characters that would break its line or its printing escaped (control
    characters, line/paragraph separators, lone surrogates), e.g. in a field named by a hostile key."""
    if text.isprintable():
        return text
    return "".join(ascii(c)[1:-1] if unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs") else c for c in text)


class BundleError(ValueError):
    """A bundle that cannot be used; ``str()`` is one line: ``file:line: field: problem`` (for a
    reader whose unit is not ``line``, e.g. msgpack: ``file: item N: field: problem``, N from 1)."""

    def __init__(self, path: Path | str, line: int | None, field: str | None, problem: str, unit: str = "line"):
        self.path, self.line, self.field, self.problem, self.unit = str(path), line, field, problem, unit
        if line is None:
            where = self.path
        else:
            where = f"{self.path}:{line}" if unit == "line" else f"{self.path}: {unit} {line}"
        super().__init__(one_line(f"{where}: {field}: {problem}" if field else f"{where}: {problem}"))


class ItemModel(BaseModel):
    """One line of a bundle, as the loader accepts it (the source of ``specs/schemas/item.schema.json``).

    ``task`` defaults to ``dataset`` and ``labels`` to A, B, C, ...; beyond what the schema can say,
    ``labels`` must have one distinct label per choice and ``answer`` must be one of them.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, title="Item")

    id: str = Field(min_length=1)
    dataset: str = Field(min_length=1)
    task: str | None = None
    question: str = Field(min_length=1)
    choices: list[str] = Field(
        min_length=2, max_length=26, json_schema_extra={"items": {"type": "string", "pattern": "\\S"}}
    )
    labels: list[str] | None = None
    answer: str
    context: str | None = None
    metadata: dict[str, Any] = {}

    @field_validator("metadata")
    @classmethod
    def _plain_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Converted bundles are written as JSON or msgpack: only metadata that survives both."""
        try:
            msgspec.msgpack.encode(value)
            same = bool(msgspec.json.decode(msgspec.json.encode(value)) == value)
        except (TypeError, ValueError, OverflowError, msgspec.MsgspecError):
            same = False
        if not same:
            raise ValueError("not plain JSON (no NaN, infinity, bytes, integers beyond 64 bits or non-text keys)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ItemModel:
        if any(not c.strip() for c in self.choices):
            raise ValueError("choices: empty option text")
        if self.labels is None:
            self.labels = list(DEFAULT_LABELS[: len(self.choices)])
        if len(self.labels) != len(self.choices):
            raise ValueError(f"labels: {len(self.labels)} labels for {len(self.choices)} choices")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("labels: duplicate labels")
        if self.answer not in self.labels:
            raise ValueError(f"answer: {self.answer!r} is not one of the labels {self.labels}")
        return self

    def to_item(self) -> Item:
        """The msgspec record used everywhere after validation."""
        return Item(
            id=self.id,
            dataset=self.dataset,
            task=self.task or self.dataset,
            question=self.question,
            choices=list(self.choices),
            labels=list(self.labels or ()),
            answer=self.answer,
            context=self.context,
            metadata=dict(self.metadata),
        )


@dataclass(frozen=True)
class Bundle:
    """Validated items and the bundle's manifest: the ``manifest.json`` beside the file, only when
    the sha256 it records is the file's own (else ``{}``, and ``manifest_ignored`` says why)."""

    path: Path
    items: list[Item]
    manifest: dict[str, Any]
    sha256: str
    manifest_ignored: str | None = None

    def describe(self) -> dict[str, Any]:
        """What the run manifest records about the bundle: its absolute path (a run can be read from
        another directory), sha256, and the verified manifest (``None`` when there is none or it
        describes another file: ``manifest_ignored`` then says why)."""
        return {
            "path": str(self.path.absolute()),
            "name": self.manifest.get("name", self.path.stem),
            "version": self.manifest.get("version"),
            "sha256": self.sha256,
            "count": len(self.items),
            "manifest": self.manifest or None,
            "manifest_ignored": self.manifest_ignored,
        }


def sample_bundle_path() -> Path:
    """The bundled sample items shipped inside the package."""
    return Path(str(resources.files("cgr.kernel") / "data" / "sample" / "items.jsonl"))


def _field_of(err: ErrorDetails) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ()))
    msg = str(err.get("msg", ""))
    if not loc and ": " in msg:  # our model validator prefixes the field itself
        return msg.split(": ", 1)[0].removeprefix("Value error, ")
    return loc or "item"


def _problem_of(err: ErrorDetails) -> str:
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    if not err.get("loc") and ": " in msg:
        msg = msg.split(": ", 1)[1]
    return msg


def parse_item(obj: object, path: Path | str, line: int, unit: str = "line") -> Item:
    """Validate one decoded value as an item or raise BundleError naming the field."""
    if not isinstance(obj, dict):
        wanted = "a JSON object" if unit == "line" else "a map"
        raise BundleError(path, line, None, f"expected {wanted}, got {type(obj).__name__}", unit)
    try:
        return ItemModel.model_validate(obj).to_item()
    except ValidationError as exc:
        err = exc.errors()[0]
        raise BundleError(path, line, _field_of(err), _problem_of(err), unit) from None


def note_id(seen: dict[str, int], item: Item, path: Path | str, where: int, unit: str = "line") -> None:
    """Record where ``item``'s id first appeared; a repeated id is a BundleError naming both places."""
    if item.id in seen:
        raise BundleError(path, where, "id", f"duplicate id {item.id!r} (first on {unit} {seen[item.id]})", unit)
    seen[item.id] = where


def jsonl_values(path: Path | str, data: bytes) -> Iterator[tuple[int, object]]:
    """(line number, decoded value) of each non-blank line of a JSONL file (numbers from 1)."""
    for lineno, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            yield lineno, json.loads(raw)
        except (ValueError, RecursionError) as exc:  # also: not UTF-8, an integer too long, nesting too deep
            raise BundleError(path, lineno, None, f"invalid JSON: {exc}") from None


def reader_unit(reader: Reader) -> str:
    """The word a reader's positions are named by in errors: its ``unit`` attribute, else ``item``."""
    unit = getattr(reader, "unit", None)
    return unit if isinstance(unit, str) and unit else "item"


def read_values(
    path: Path, data: bytes, readers: Mapping[str, Reader] | None = None
) -> tuple[str, Iterator[tuple[int, object]]]:
    """The unit of position (``line``, ``item``, ``row``…) and the (number, value) pairs of a file.

    JSONL unless ``readers`` (suffix -> reader) has a reader for the file's suffix. With
    ``readers=None`` the registered readers are used (``load_plugins().readers()``, loaded only for
    a suffix other than ``.jsonl``). A reader's own failure other than a BundleError becomes one.
    """
    suffix = path.suffix.lower()
    if suffix == JSONL_SUFFIX:
        return "line", jsonl_values(path, data)
    if readers is None:
        from cgr.kernel.manager import load_plugins  # late: the manager loads plugins

        readers = load_plugins().readers()
    reader = readers.get(suffix)
    if reader is None:
        return "line", jsonl_values(path, data)
    return reader_unit(reader), _guarded(reader, path, data)


def _guarded(reader: Reader, path: Path, data: bytes) -> Iterator[tuple[int, object]]:
    try:
        yield from reader(path, data)
    except BundleError:
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin's reader failing on a bad file
        raise BundleError(path, None, None, f"cannot read as {path.suffix}: {type(exc).__name__}: {exc}") from exc


def _warn(message: str) -> None:
    print(f"cgr: warning: {message}", file=sys.stderr)


def load_bundle(
    path: Path | str | None = None,
    readers: Mapping[str, Reader] | None = None,
    *,
    warn: Callable[[str], None] | None = _warn,
) -> Bundle:
    """Load and validate a bundle (default: the shipped sample). JSONL, or any format a plugin reads
    (``readers``: suffix -> reader, e.g. ``plugins.readers()``; see :func:`read_values`). Stops at
    the first bad item. A ``manifest.json`` beside it that records another sha256 (or none) is
    ignored, with one line to ``warn`` (default: stderr; ``None``: silent)."""
    path = Path(path) if path is not None else sample_bundle_path()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(path, None, None, f"cannot read: {exc.strerror or exc}") from None
    unit, values = read_values(path, data, readers)
    items: list[Item] = []
    seen: dict[str, int] = {}
    for where, obj in values:
        item = parse_item(obj, path, where, unit)
        note_id(seen, item, path, where, unit)
        items.append(item)
    if not items:
        raise BundleError(path, None, None, "no items")
    sha256 = hashlib.sha256(data).hexdigest()
    manifest, ignored = _verified_manifest(path, sha256)
    if ignored and warn is not None:
        warn(f"ignoring {ignored}")
    return Bundle(path, items, manifest, sha256, ignored)


def _verified_manifest(path: Path, sha256: str) -> tuple[dict[str, Any], str | None]:
    """The ``manifest.json`` beside ``path`` if it records ``sha256`` (the file's own), else ``{}``
    and why it is not this file's (one line naming both hashes). A manifest that is not a JSON
    object is a BundleError: it is broken, not someone else's."""
    manifest_path = path.with_name("manifest.json")
    if not manifest_path.is_file():
        return {}, None
    try:
        loaded = json.loads(manifest_path.read_bytes())
    except OSError as exc:
        raise BundleError(manifest_path, None, None, f"cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise BundleError(manifest_path, exc.lineno, None, f"invalid JSON: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:  # not UTF-8, an integer too long, nesting too deep
        raise BundleError(manifest_path, None, None, f"invalid JSON: {exc}") from None
    if not isinstance(loaded, dict):
        raise BundleError(manifest_path, None, None, f"expected a JSON object, got {type(loaded).__name__}")
    recorded = loaded.get("sha256")
    if recorded == sha256:
        return loaded, None
    if not isinstance(recorded, str) or not recorded:
        return {}, f"{manifest_path}: it records no sha256, so it cannot vouch for {path.name} (sha256 {sha256})"
    return {}, f"{manifest_path}: it describes another file (sha256 {recorded}, not {path.name}'s {sha256})"
