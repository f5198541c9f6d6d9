"""Bundles: a JSONL file of items plus a manifest. Every error names file, line and field."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cgr.kernel.records import Item

DEFAULT_LABELS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class BundleError(ValueError):
    """A bundle that cannot be used; ``str()`` is one line: ``file:line: field: problem``."""

    def __init__(self, path: Path | str, line: int | None, field: str | None, problem: str):
        self.path, self.line, self.field, self.problem = str(path), line, field, problem
        where = self.path if line is None else f"{self.path}:{line}"
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

    def describe(self) -> dict:
        """What the run manifest records about the bundle."""
        return {
            "path": str(self.path),
            "name": self.manifest.get("name", self.path.stem),
            "version": self.manifest.get("version"),
            "sha256": self.sha256,
            "count": len(self.items),
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


def parse_item(obj: object, path: Path | str, line: int) -> Item:
    """Validate one decoded JSON value as an item or raise BundleError naming the field."""
    if not isinstance(obj, dict):
        raise BundleError(path, line, None, f"expected a JSON object, got {type(obj).__name__}")
    try:
        return ItemModel.model_validate(obj).to_item()
    except ValidationError as exc:
        err = exc.errors()[0]
        raise BundleError(path, line, _field_of(err), _problem_of(err)) from None


def load_bundle(path: Path | str | None = None) -> Bundle:
    """Load and validate a JSONL bundle (default: the shipped sample). Stops at the first bad line."""
    path = Path(path) if path is not None else sample_bundle_path()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(path, None, None, f"cannot read: {exc.strerror or exc}") from None
    items: list[Item] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BundleError(path, lineno, None, f"invalid JSON: {exc}") from None
        item = parse_item(obj, path, lineno)
        if item.id in seen:
            raise BundleError(path, lineno, "id", f"duplicate id {item.id!r} (first on line {seen[item.id]})")
        seen[item.id] = lineno
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
