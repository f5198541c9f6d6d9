"""The program store: generated scaffolds cached on disk, content-addressed, so none is paid for twice.

Layout under the store's root (``program_store=DIR`` generator option, else ``$CGR_PROGRAM_STORE``,
else ``$CGR_CACHE_DIR/programs``, ``$XDG_CACHE_HOME/cgr/programs`` or ``~/.cache/cgr/programs``):

- ``objects/<aa>/<sha256>.py``: each program's exact UTF-8 bytes, named by their sha256;
- ``entries/<identity>/<kk>/<key>.json``: one generation, for one (item id + item content hash)
  under one generator identity (backend, model, prompt version, sampling): the program's sha256,
  the generator-side answer, the raw reply (at most ``MAX_RAW_CHARS``), the typed outcome, what it
  cost; ``entries/<identity>/identity.json`` says what the identity is, readably.

Every file is written to a temporary name and renamed into place (a reader sees all or nothing);
generation of one key is serialized across threads and processes (a lock file per shard), so two
workers asking for the same item wait for one generation. A damaged or foreign file reads as a
miss and is regenerated. Transient failures (``timeout``, ``api_error``) are never cached.

Also here: the typed generator outcomes and ``cgr programs export RUN_DIR DIR`` (one
``<item_id>.py`` per record that has a program, plus ``manifest.json``), the input of the
``files`` generator.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import msgspec

from cgr.kernel import __version__
from cgr.kernel.api import Scaffold
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.store import StoreError, now_iso, read_manifest, read_records

try:  # POSIX: serialize generation of one key across processes too
    import fcntl
except ImportError:  # pragma: no cover - Windows: threads only
    fcntl = None  # type: ignore[assignment]

#: Every generator result is one of these (``Scaffold.outcome``).
OUTCOMES = ("ok", "no_code", "syntax_error", "refusal", "timeout", "api_error", "empty")
#: Outcomes that say nothing about the item (the backend was unavailable): retried, never cached.
TRANSIENT = frozenset({"timeout", "api_error"})
STORE_ENV = "CGR_PROGRAM_STORE"
MAX_RAW_CHARS = 256 * 1024  # raw reply kept in an entry
MAX_FILE_BYTES = 4 * 1024 * 1024  # a store file larger than this is not read (damaged or foreign)
LAYOUT = "v1"
_SHARDS = 64


def canonical(value: Any) -> bytes:
    """Canonical JSON bytes (sorted keys, no spaces): what identities and item hashes are taken of."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "replace")


def sha256_hex(data: bytes) -> str:
    """The sha256 of ``data``, hex."""
    return hashlib.sha256(data).hexdigest()


def program_sha256(source: str) -> str:
    """The sha256 of a program's UTF-8 bytes (what a record's ``assisted.program_sha256`` holds)."""
    return sha256_hex(source.encode("utf-8"))


def item_sha256(item: dict[str, Any]) -> str:
    """The sha256 of what a generator sees of an item besides its id (question, choices, labels, context)."""
    view = {k: item.get(k) for k in ("question", "choices", "labels", "context")}
    view["choices"], view["labels"] = list(view["choices"] or ()), list(view["labels"] or ())
    return sha256_hex(canonical(view))


def identity_sha256(identity: dict[str, Any]) -> str:
    """The sha256 of a generator identity (backend, model, prompt version, sampling)."""
    return sha256_hex(canonical(identity))


def default_root() -> Path:
    """``$CGR_PROGRAM_STORE``, else ``programs/`` under cgr's cache directory (as the sandbox's)."""
    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV]).expanduser()
    if os.environ.get("CGR_CACHE_DIR"):
        return Path(os.environ["CGR_CACHE_DIR"]).expanduser() / "programs"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) / "cgr" if xdg else Path.home() / ".cache" / "cgr") / "programs"


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _read_small(path: Path) -> bytes | None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        return path.read_bytes()
    except OSError:
        return None


class _Entry(msgspec.Struct, kw_only=True):
    item_id: str
    item_sha256: str
    identity_sha256: str
    program_sha256: str
    outcome: str
    answer: str | None = None
    raw: str = ""
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0
    created: str = ""


class ProgramStore:
    """Programs on disk, per (item, generator identity): ``get_or_generate`` pays for each once."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root).expanduser() if root is not None else default_root()
        self._locks = [threading.Lock() for _ in range(_SHARDS)]
        self.hits = self.misses = 0  # this process's lookups (for tests and progress lines)

    # ------------------------------------------------------------------ paths -------------------
    def _entry_path(self, ident: str, key: str) -> Path:
        return self.root / LAYOUT / "entries" / ident[:24] / key[:2] / f"{key}.json"

    def _object_path(self, sha: str) -> Path:
        return self.root / LAYOUT / "objects" / sha[:2] / f"{sha}.py"

    @staticmethod
    def key(item: dict[str, Any], ident: str) -> str:
        """The entry key of ``item`` under an identity: its id and content hash together."""
        return sha256_hex(canonical({"id": str(item["id"]), "item": item_sha256(item), "identity": ident}))

    # ------------------------------------------------------------------ access ------------------
    def get(self, item: dict[str, Any], identity: dict[str, Any]) -> Scaffold | None:
        """The stored result for ``item`` (costs zero: ``calls``, tokens and ``retries`` are 0), or None."""
        ident = identity_sha256(identity)
        data = _read_small(self._entry_path(ident, self.key(item, ident)))
        if data is None:
            return None
        try:
            entry = msgspec.json.decode(data, type=_Entry)
        except msgspec.MsgspecError:
            return None
        if entry.outcome not in OUTCOMES or entry.item_id != str(item["id"]) or entry.identity_sha256 != ident:
            return None
        source = ""
        if entry.program_sha256 != program_sha256(""):
            blob = _read_small(self._object_path(entry.program_sha256))
            if blob is None or sha256_hex(blob) != entry.program_sha256:
                return None  # missing or damaged object: regenerate
            try:
                source = blob.decode("utf-8")
            except UnicodeDecodeError:
                return None
        return Scaffold(source=source, answer=entry.answer, raw=entry.raw, outcome=entry.outcome)

    def put(self, item: dict[str, Any], identity: dict[str, Any], scaffold: Scaffold) -> None:
        """Store ``scaffold`` for ``item`` (a transient outcome is not stored)."""
        if scaffold.outcome in TRANSIENT or scaffold.outcome not in OUTCOMES:
            return
        ident = identity_sha256(identity)
        sha = program_sha256(scaffold.source)
        if scaffold.source:
            obj = self._object_path(sha)
            if not obj.exists():
                _atomic_write(obj, scaffold.source.encode("utf-8"))
        described = self.root / LAYOUT / "entries" / ident[:24] / "identity.json"
        if not described.exists():
            _atomic_write(described, json.dumps({"sha256": ident, **identity}, indent=2, sort_keys=True).encode())
        entry = _Entry(
            item_id=str(item["id"]),
            item_sha256=item_sha256(item),
            identity_sha256=ident,
            program_sha256=sha,
            outcome=scaffold.outcome,
            answer=scaffold.answer,
            raw=scaffold.raw[:MAX_RAW_CHARS],
            calls=scaffold.calls,
            prompt_tokens=scaffold.prompt_tokens,
            completion_tokens=scaffold.completion_tokens,
            retries=scaffold.retries,
            created=now_iso(),
        )
        _atomic_write(self._entry_path(ident, self.key(item, ident)), msgspec.json.encode(entry))

    def get_or_generate(
        self, item: dict[str, Any], identity: dict[str, Any], generate: Callable[[], Scaffold]
    ) -> Scaffold:
        """The stored result, else ``generate()`` (stored unless transient); one generation per key at a time."""
        ident = identity_sha256(identity)
        key = self.key(item, ident)
        shard = int(key[:8], 16) % _SHARDS
        with self._locks[shard], self._file_lock(shard):
            found = self.get(item, identity)
            if found is not None:
                self.hits += 1
                return found
            self.misses += 1
            scaffold = generate()
            self.put(item, identity, scaffold)
            return scaffold

    def _file_lock(self, shard: int) -> _FileLock:
        return _FileLock(self.root / LAYOUT / "locks" / f"{shard:02x}.lock")


class _FileLock:
    """An exclusive ``flock`` on one file for the ``with`` block (nothing where fcntl is missing)."""

    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def __enter__(self) -> _FileLock:
        if fcntl is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the lock
            self.fd = None


# ---------------------------------------------------------------- export ----------------------
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
MANIFEST_NAME = "manifest.json"


def file_stem(item_id: str) -> str:
    """A safe file stem for ``item_id``: the id itself when it is made of ``[A-Za-z0-9._-]`` (not
    starting with a dot, at most 100 characters), else a cleaned prefix plus 10 hex digits of its sha256."""
    safe = _UNSAFE.sub("_", item_id).lstrip(".")
    if safe == item_id and 0 < len(safe) <= 100 and safe.lower() != "manifest":
        return safe
    return f"{safe[:80] or 'item'}-{sha256_hex(item_id.encode('utf-8', 'surrogatepass'))[:10]}"


def export_programs(run_dir: Path, out: Path, *, force: bool = False) -> dict[str, Any]:
    """Write one ``<stem>.py`` per record of ``run_dir`` that has a program, and ``manifest.json``.

    File names come from ``file_stem``; two ids whose names would clash (also on a case-insensitive
    file system) get numbered suffixes. Files hold the program's exact UTF-8 bytes, so each file's
    sha256 is the record's ``program_sha256``. Returns the manifest.
    """
    source = read_manifest(run_dir)
    records = read_records(run_dir)
    if out.exists() and not out.is_dir():
        raise StoreError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise StoreError(f"{out}: directory is not empty (pass --force to write into it)")
    items: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    without: list[str] = []
    mismatched: list[str] = []
    for record in records:
        program = record.assisted.program
        if record.item_id in items:
            continue  # a run holds one record per item; a duplicate line is ignored
        if not program:
            without.append(record.item_id)
            continue
        sha = program_sha256(program)
        if record.assisted.program_sha256 and record.assisted.program_sha256 != sha:
            mismatched.append(record.item_id)
        stem, n = file_stem(record.item_id), 1
        name = f"{stem}.py"
        while name.lower() in used:
            n += 1
            name = f"{stem}-{n}.py"
        used.add(name.lower())
        _atomic_write(out / name, program.encode("utf-8"))
        answer = record.generator_side.answer
        items[record.item_id] = {"file": name, "sha256": sha, **({"generator_answer": answer} if answer else {})}
    manifest = {
        "format": "cgr-programs-v1",
        "cgr_version": __version__,
        "created": now_iso(),
        "source_run": str(run_dir.resolve()),
        "generator": source.generator,
        "prompt_version": source.generator.get("prompt_version"),
        "identity": source.generator.get("identity"),
        "items": items,
        "without_program": without,
        "sha256_mismatch": mismatched,
    }
    _atomic_write(out / MANIFEST_NAME, (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return manifest


@hookimpl
def register_commands(cli: Any) -> None:
    """``cgr programs export RUN_DIR DIR``."""

    @cli.group(epilog="\b\nExample:\n  cgr programs export cgr-run programs/")
    def programs() -> None:
        """Program sets: export a run's scaffolds to files (run them again with --generator files)."""

    @programs.command(
        "export",
        epilog="\b\nExample:\n  cgr programs export cgr-run programs/\n"
        "  cgr run --generator files --generator-option dir=programs/ --model other.gguf",
    )
    @click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.argument("out", type=click.Path(path_type=Path))
    @click.option("--force", is_flag=True, help="Write into a directory that is not empty.")
    def export(run_dir: Path, out: Path, force: bool) -> None:
        """Write one ITEM_ID.py per record of RUN_DIR that has a program, plus manifest.json, into OUT."""
        manifest = export_programs(run_dir, out, force=force)
        click.echo(
            f"wrote {len(manifest['items'])} program(s) and {MANIFEST_NAME} to {out}"
            + (f"; {len(manifest['without_program'])} record(s) had no program" if manifest["without_program"] else "")
        )
        if manifest["sha256_mismatch"]:
            click.echo(
                f"cgr: warning: {len(manifest['sha256_mismatch'])} record(s) whose program does not match their "
                f"program_sha256 (first: {manifest['sha256_mismatch'][0]}); the files hold the programs",
                err=True,
            )
