"""Bundles: a JSONL (or msgpack) file of items plus a manifest. Every error names file, line (or
item) and field."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import msgspec
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cgr.kernel.records import Item

DEFAULT_LABELS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


MSGPACK_SUFFIXES = (".msgpack", ".mpk")


class BundleError(ValueError):
    """A bundle that cannot be used; ``str()`` is one line: ``file:line: field: problem`` (for a
    msgpack bundle ``file: item N: field: problem``, N counted from 1)."""

    def __init__(self, path: Path | str, line: int | None, field: str | None, problem: str,
                 unit: str = "line"):
        self.path, self.line, self.field, self.problem, self.unit = str(path), line, field, problem, unit
        if line is None:
            where = self.path
        else:
            where = f"{self.path}:{line}" if unit == "line" else f"{self.path}: {unit} {line}"
        super().__init__(f"{where}: {field}: {problem}" if field else f"{where}: {problem}")


class ItemModel(BaseModel):
    """Validation model of one input item (pydantic, strict about shape, lenient about labels)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    id: str = Field(min_length=1)
    dataset: str = Field(min_length=1)
    task: str | None = None
    question: str = Field(min_length=1)
    choices: list[str] = Field(min_length=2, max_length=26)
    labels: list[str] | None = None
    answer: str
    context: str | None = None
    metadata: dict = {}

    @model_validator(mode="after")
    def _consistent(self) -> "ItemModel":
        if any(not c.strip() for c in self.choices):
            raise ValueError("choices: empty option text")
        if self.labels is None:
            self.labels = list(DEFAULT_LABELS[: len(self.choices)])
        if len(self.labels) != len(self.choices):
            raise ValueError(
                f"labels: {len(self.labels)} labels for {len(self.choices)} choices"
            )
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
    """Validated items and the bundle's manifest."""

    path: Path
    items: list[Item]
    manifest: dict
    sha256: str

    def summary(self) -> dict:
        """What ``cgr bundle check`` reports: :meth:`describe` plus :func:`item_counts`."""
        return {**self.describe(), **item_counts(self.items)}

    def describe(self) -> dict:
        """What the run manifest records about the bundle."""
        return {
            "path": str(self.path),
            "name": self.manifest.get("name", self.path.stem),
            "version": self.manifest.get("version"),
            "sha256": self.sha256,
            "count": len(self.items),
        }


def item_counts(items: list[Item]) -> dict:
    """Counts per dataset/task, per number of options and per gold position (from 1)."""
    def counted(values) -> dict:
        return {str(k): v for k, v in sorted(Counter(values).items())}

    return {
        "count": len(items),
        "tasks": counted(f"{it.dataset}/{it.task}" for it in items),
        "options": counted(len(it.choices) for it in items),
        "gold_position": counted(it.labels.index(it.answer) + 1 for it in items),
        "with_context": sum(1 for it in items if it.context),
    }


def sample_bundle_path() -> Path:
    """The bundled sample items shipped inside the package."""
    return Path(str(resources.files("cgr.kernel") / "data" / "sample" / "items.jsonl"))


def _field_of(err: dict) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ()))
    msg = err.get("msg", "")
    if not loc and ": " in msg:  # our model validator prefixes the field itself
        return msg.split(": ", 1)[0].removeprefix("Value error, ")
    return loc or "item"


def _problem_of(err: dict) -> str:
    msg = err.get("msg", "invalid").removeprefix("Value error, ")
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


def is_msgpack(path: Path | str) -> bool:
    """Whether ``path`` names a msgpack bundle (by its suffix); anything else is read as JSONL."""
    return Path(path).suffix.lower() in MSGPACK_SUFFIXES


def read_values(path: Path, data: bytes) -> tuple[str, Iterator[tuple[int, object]]]:
    """The unit ("line" or "item") and (number, decoded value) pairs of a JSONL file, or of a
    msgpack file holding an array (numbers from 1; blank JSONL lines are skipped)."""
    if not is_msgpack(path):
        return "line", _jsonl_values(path, data)
    try:
        values = msgspec.msgpack.decode(data)
    except msgspec.DecodeError as exc:
        raise BundleError(path, None, None, f"invalid msgpack: {exc}") from None
    if not isinstance(values, list):
        raise BundleError(path, None, None, f"expected a msgpack array, got {type(values).__name__}")
    return "item", enumerate(values, start=1)


def _jsonl_values(path: Path, data: bytes) -> Iterator[tuple[int, object]]:
    for lineno, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            yield lineno, json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BundleError(path, lineno, None, f"invalid JSON: {exc}") from None


def load_bundle(path: Path | str | None = None) -> Bundle:
    """Load and validate a bundle (default: the shipped sample): JSONL, or a msgpack array of items
    for a ``.msgpack``/``.mpk`` file. Stops at the first bad item."""
    path = Path(path) if path is not None else sample_bundle_path()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(path, None, None, f"cannot read: {exc.strerror or exc}") from None
    unit, values = read_values(path, data)
    items: list[Item] = []
    seen: dict[str, int] = {}
    for where, obj in values:
        item = parse_item(obj, path, where, unit)
        note_id(seen, item, path, where, unit)
        items.append(item)
    if not items:
        raise BundleError(path, None, None, "no items")
    manifest_path = path.with_name("manifest.json")
    manifest: dict = {}
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise BundleError(manifest_path, exc.lineno, None, f"invalid JSON: {exc.msg}") from None
    return Bundle(path, items, manifest, hashlib.sha256(data).hexdigest())
