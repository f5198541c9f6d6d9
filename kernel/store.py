"""Append-only JSONL record store with a run manifest; resumable after a kill.

Each record is one line, written with a single ``write`` and flushed + fsynced, so a killed run
leaves at most one partial trailing line. Opening for resume drops that partial line (it was never
a record), reads the ids already recorded and appends after them: no record is lost or duplicated.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from cgr.kernel.records import Record, RunManifest, decode_record, encode_record

RECORDS = "records.jsonl"
MANIFEST = "run.json"


class StoreError(RuntimeError):
    """The output directory cannot be used as asked (exists without --resume, config mismatch…)."""


def now_iso() -> str:
    """UTC timestamp, seconds precision."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _warn(message: str) -> None:
    print(f"cgr: warning: {message}", file=sys.stderr)


def read_records(
    directory: Path | str, *, on_bad: Callable[[str], None] | None = _warn, bad_ids: set[str] | None = None
) -> list[Record]:
    """All complete, valid records of a run directory (a partial trailing line is ignored).

    A line that is not a valid record never makes the directory unreadable: it is reported through
    ``on_bad`` (``file:line: problem``; default: a warning on stderr; ``None``: raise StoreError)
    and skipped. Its ``item_id``, where the line still has one, is added to ``bad_ids``.
    """
    path = Path(directory) / RECORDS
    if not path.is_file():
        raise StoreError(f"{path}: no such file (not a cgr run directory?)")
    out = []
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.endswith(b"\n"):
                break  # the partial line of a killed run
            if not line.strip():
                continue
            try:
                out.append(decode_record(line))
                continue
            except msgspec.ValidationError as exc:
                problem = f"{path}:{lineno}: invalid record ({_short(str(exc))}), skipped"
            except msgspec.DecodeError as exc:
                problem = f"{path}:{lineno}: invalid JSON ({_short(str(exc))}), skipped"
            if on_bad is None:
                raise StoreError(problem)
            on_bad(problem)
            if bad_ids is not None:
                item_id = _item_id(line)
                if item_id is not None:
                    bad_ids.add(item_id)
    return out


def count_records(directory: Path | str) -> int:
    """Complete lines of a run directory's records.jsonl without decoding them (0 if it has none);
    a half-written last line is not a record."""
    try:
        with (Path(directory) / RECORDS).open("rb") as fh:
            return sum(1 for line in fh if line.endswith(b"\n"))
    except OSError:
        return 0


def _short(text: str, n: int = 200) -> str:
    return text if len(text) <= n else text[:n] + "..."


def _item_id(line: bytes) -> str | None:
    """The ``item_id`` of a line that is JSON but not a valid record (None if it has none)."""
    try:
        value = msgspec.json.decode(line)
    except msgspec.DecodeError:
        return None
    item_id = value.get("item_id") if isinstance(value, dict) else None
    return item_id if isinstance(item_id, str) else None


def read_manifest(directory: Path | str) -> RunManifest:
    """The run manifest of a run directory."""
    path = Path(directory) / MANIFEST
    try:
        return msgspec.json.decode(path.read_bytes(), type=RunManifest)
    except FileNotFoundError:
        raise StoreError(f"{path}: no such file (not a cgr run directory?)") from None
    except msgspec.DecodeError as exc:
        raise StoreError(f"{path}: invalid run manifest: {exc}") from None


class RunStore:
    """Writes ``run.json`` and appends to ``records.jsonl`` in one output directory."""

    def __init__(self, directory: Path | str, manifest: RunManifest, *, resume: bool = False):
        self.dir = Path(directory)
        self.manifest = manifest
        self.records_path = self.dir / RECORDS
        self.manifest_path = self.dir / MANIFEST
        self.done: set[str] = set()
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.records_path.exists() and self.records_path.stat().st_size > 0:
            if not resume:
                raise StoreError(
                    f"{self.records_path} already holds records; pass --resume to continue that run"
                    " or choose another --out"
                )
            self._check_same_run()
            self._truncate_partial_line()
            # an invalid line still counts as done: a resume never redoes (or loops on) its item
            bad: set[str] = set()
            self.done = {r.item_id for r in read_records(self.dir, bad_ids=bad)} | bad
            self.manifest.created = read_manifest(self.dir).created
        self._fh = self.records_path.open("ab")
        self.write_manifest()

    def _check_same_run(self) -> None:
        if not self.manifest_path.exists():
            return
        old = read_manifest(self.dir)
        keys = ("bundle", "solver", "generator", "config")
        for key in keys:
            a, b = _identity(key, getattr(old, key)), _identity(key, getattr(self.manifest, key))
            if a != b:
                raise StoreError(
                    f"{self.manifest_path}: cannot resume: {key} differs from the recorded run"
                    f" ({json.dumps(a, sort_keys=True)} vs {json.dumps(b, sort_keys=True)})"
                )

    def _truncate_partial_line(self) -> None:
        with self.records_path.open("rb+") as fh:
            data = fh.read()
            end = data.rfind(b"\n") + 1
            if end != len(data):
                fh.truncate(end)

    def append(self, record: Record) -> None:
        """Append one record durably (one write, flush, fsync)."""
        self._fh.write(encode_record(record) + b"\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.done.add(record.item_id)

    def write_manifest(self, status: str | None = None) -> None:
        """Write ``run.json`` atomically (temp file + rename)."""
        if status is not None:
            self.manifest.status = status
        self.manifest.updated = now_iso()
        self.manifest.records = len(self.done)
        tmp = self.manifest_path.with_suffix(".json.tmp")
        tmp.write_bytes(msgspec.json.format(msgspec.json.encode(self.manifest), indent=2) + b"\n")
        os.replace(tmp, self.manifest_path)

    def close(self, status: str | None = None) -> None:
        """Close the records file and update the manifest."""
        self._fh.close()
        self.write_manifest(status)


def _identity(key: str, value: dict[str, Any]) -> dict[str, Any]:
    # The parts of the manifest that must match for a resumed run to be the same run.
    wanted = {
        "bundle": ("sha256",),
        "solver": ("name", "model", "model_sha256", "mode", "seed"),
        "generator": ("name", "strategy"),
        "config": ("budget_baseline", "baseline", "limits", "direct_modes"),  # limits change assisted outcomes
    }[key]
    # a key an older manifest lacks reads as its default
    return {k: value.get(k, {"direct_modes": [], "baseline": "budget_matched"}.get(k)) for k in wanted}
