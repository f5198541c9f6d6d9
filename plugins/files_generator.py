"""``files``: a directory of programs, one per item (a published program set, or ``cgr programs export``).

``--generator files --generator-option dir=DIR``: the scaffold of item ``X`` is ``DIR/X.py`` (or the
file ``DIR/manifest.json`` names for it, as ``cgr programs export`` writes; ids that are not safe file
names are mapped by ``cgr.plugins.programs.file_stem``). ``Scaffold.source`` is the file's exact
text, decoded from its bytes as UTF-8 (no newline translation), so a record's
``assisted.program_sha256`` is the sha256 of the file's bytes (a leading UTF-8 BOM is kept too, so
the hash stays the file's; the sandbox compiles text, where U+FEFF is a syntax error: such a file is
``syntax_error``). The manifest's generator-side answer, where it has one, is the generator-side
answer again.

Outcomes (``Scaffold.outcome``): ``ok``; ``no_code`` (no file for the item: recorded, not a crash);
``empty`` (a blank file); ``syntax_error`` (the file does not parse on the host, is not UTF-8, or is
over ``MAX_FILE_BYTES``; a program that is readable is still passed on and the sandbox decides).
``raw`` says what went wrong, else it is empty. No model is called (``calls`` 0).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cgr.kernel.api import GeneratorConfig, PluginConfigError, Scaffold
from cgr.kernel.hookspecs import hookimpl
from cgr.plugins.llm_generator import parses
from cgr.plugins.programs import MANIFEST_NAME, file_stem, sha256_hex

MAX_FILE_BYTES = 1024 * 1024
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


class FilesGenerator:
    """Reads each item's program from a directory."""

    name = "files"

    def __init__(self, config: GeneratorConfig | None = None):
        config = config or GeneratorConfig()
        unknown = sorted(set(config.options) - {"dir"})
        if unknown:
            raise PluginConfigError(f"files generator: unknown option(s) {', '.join(unknown)} (it takes dir=DIR)")
        if not config.options.get("dir"):
            raise PluginConfigError("files generator: needs the program directory: --generator-option dir=DIR")
        self.dir = Path(str(config.options["dir"])).expanduser()
        if not self.dir.is_dir():
            raise PluginConfigError(f"files generator: dir={self.dir}: no such directory")
        self.manifest = self._read_manifest()
        entries = self.manifest.get("items")
        self.entries: dict[str, Any] = entries if isinstance(entries, dict) else {}

    def _read_manifest(self) -> dict[str, Any]:
        path = self.dir / MANIFEST_NAME
        if not path.is_file():
            return {}
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise PluginConfigError(f"files generator: {path}: over {MAX_MANIFEST_BYTES} bytes")
        try:
            data = json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError) as exc:
            raise PluginConfigError(f"files generator: {path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise PluginConfigError(f"files generator: {path}: expected a JSON object")
        return data

    def info(self) -> dict[str, Any]:
        """Manifest facts: the directory, its program count and where the set came from (if it says)."""
        return {
            "name": self.name,
            "strategy": None,
            "model": None,
            "dir": str(self.dir.resolve()),
            "programs": sum(1 for _ in self.dir.glob("*.py")),
            "source_run": self.manifest.get("source_run"),
            "source_generator": self.manifest.get("generator"),
            "source_prompt_version": self.manifest.get("prompt_version"),
        }

    def path_for(self, item_id: str) -> Path:
        """The file of ``item_id``: the manifest's entry, else ``file_stem(item_id).py``."""
        entry = self.entries.get(item_id)
        name = entry.get("file") if isinstance(entry, dict) else None
        if isinstance(name, str) and name and Path(name).name == name and not name.startswith("."):
            return self.dir / name
        return self.dir / f"{file_stem(item_id)}.py"

    def generate(self, item: dict[str, Any]) -> Scaffold:
        """The item's program, or a typed outcome saying why there is none."""
        item_id = str(item["id"])
        path = self.path_for(item_id)
        if not path.is_file():
            return Scaffold(source="", raw=f"no program file {path}", outcome="no_code")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return Scaffold(source="", raw=f"{path}: {size} bytes, over {MAX_FILE_BYTES}", outcome="syntax_error")
        data = path.read_bytes()
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Scaffold(source="", raw=f"{path}: not UTF-8 ({exc})", outcome="syntax_error")
        entry = self.entries.get(item_id)
        answer = entry.get("generator_answer") if isinstance(entry, dict) else None
        answer = answer if isinstance(answer, str) and answer in item["labels"] else None
        raw = ""
        if isinstance(entry, dict) and entry.get("sha256") not in (None, sha256_hex(data)):
            raw = f"{path}: sha256 differs from {MANIFEST_NAME} (the file was changed after export)"
        if not source.strip():
            return Scaffold(source="", raw=raw or f"{path}: empty file", outcome="empty")
        outcome = "ok" if parses(source) else "syntax_error"
        return Scaffold(source=source, answer=answer, raw=raw, outcome=outcome)


@hookimpl
def register_generators(register: Any) -> None:
    """The program-directory generator."""
    register("files", FilesGenerator, description="programs from a directory: --generator-option dir=DIR")
