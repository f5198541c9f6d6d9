"""Generate the machine-derived parts of ``specs/`` (prompt templates, JSON Schemas, hook list).

``python -m cgr.kernel.specs DIR`` rewrites them; ``tests/test_specs.py`` fails when the committed
files and the code drift apart.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

from cgr.kernel import hookspecs, prompts
from cgr.kernel.records import json_schemas


def normalized(schema):
    """``schema`` with every ``description`` and ``title`` in one canonical form.

    The schema generator copies docstrings, and its versions format them differently (msgspec 0.23
    dedents them, earlier versions kept the source indentation): the meaning is the words, so each
    is reduced to its paragraphs with single spaces.
    """
    if isinstance(schema, dict):
        return {k: (_words(v) if k in ("description", "title") and isinstance(v, str) else normalized(v))
                for k, v in schema.items()}
    if isinstance(schema, list):
        return [normalized(v) for v in schema]
    return schema


def _words(text: str) -> str:
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def generated_files() -> dict[str, str]:
    """Relative path under ``specs/`` -> expected content."""
    files = {f"prompts/{name}.txt": text + "\n" for name, text in prompts.TEMPLATES.items()}
    for name, schema in json_schemas().items():
        files[f"schemas/{name}.schema.json"] = json.dumps(normalized(schema), indent=2, sort_keys=True) + "\n"
    return files


def hook_names() -> list[str]:
    """Names of all hookspecs."""
    return [n for n, f in vars(hookspecs).items() if inspect.isfunction(f) and n.startswith("register_")]


def write(directory: Path) -> list[Path]:
    """Write every generated file under ``directory``; return what was written."""
    out = []
    for rel, text in generated_files().items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        out.append(path)
    return out


if __name__ == "__main__":  # pragma: no cover
    for p in write(Path(sys.argv[1] if len(sys.argv) > 1 else "specs")):
        print(p)
