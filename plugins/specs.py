"""Generate the machine-derived parts of ``specs/`` (prompt templates, JSON Schemas, hook list).

``python -m cgr.plugins.specs DIR`` rewrites them; ``tests/test_specs.py`` fails when the committed
files and the code drift apart.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

from cgr.kernel import hookspecs, prompts
from cgr.kernel.bundle import ItemModel
from cgr.kernel.records import json_schemas


def normalized(schema):
    """``schema`` with every ``description`` and ``title`` in one canonical form.

    The schema generator copies docstrings, and its versions format them differently (msgspec 0.23
    dedents them, earlier versions kept the source indentation): the meaning is the words, so each
    is reduced to its paragraphs with single spaces.
    """
    if isinstance(schema, dict):
        return {
            k: (_words(v) if k in ("description", "title") and isinstance(v, str) else normalized(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [normalized(v) for v in schema]
    return schema


def _words(text: str) -> str:
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def generated_files() -> dict[str, str]:
    """Relative path under ``specs/`` -> expected content."""
    from cgr.plugins.budget_baseline import CLOZE_VARIANTS

    texts = {**prompts.TEMPLATES, **CLOZE_VARIANTS}
    files = {f"prompts/{name}.txt": text + "\n" for name, text in texts.items()}
    files["hooks.md"] = hooks_markdown()
    schemas = {"item": ItemModel.model_json_schema(), **json_schemas()}  # the item: as the loader accepts it
    for name, schema in schemas.items():
        files[f"schemas/{name}.schema.json"] = json.dumps(normalized(schema), indent=2, sort_keys=True) + "\n"
    return files


def hook_names() -> list[str]:
    """Names of all hookspecs."""
    return [n for n, f in vars(hookspecs).items() if inspect.isfunction(f) and n.startswith("register_")]


_INTRO = """\
# cgr hook contract

<!-- Generated from cgr/kernel/hookspecs.py and cgr/kernel/api.py by `python -m cgr.plugins.specs specs`;
tests/test_specs.py fails when this file and the code differ. Do not edit by hand. -->

Plugins are pluggy plugins for project name `cgr`. Mark implementations with
`from cgr.kernel.hookspecs import hookimpl`. Third-party plugins register through the entry-point
group `cgr` (`[project.entry-points.cgr] myplugin = "my_package.module"`) and are indistinguishable
from built-ins. Set `CGR_DISABLE_PLUGINS=name1,name2` to block plugins (entry-point or module names).
"""


def hooks_markdown() -> str:
    """``specs/hooks.md``: every hookspec with its typed signature, its docstring, and the
    registrar protocol (from ``cgr.kernel.api``) its argument follows."""
    from cgr.kernel import api

    parts = [_INTRO, _words(hookspecs.__doc__ or "").replace("``", "`"), ""]
    for name in hook_names():
        fn = getattr(hookspecs, name)
        params = inspect.signature(fn).parameters
        sig = ", ".join(f"{p}: {params[p].annotation}" for p in params)
        parts += [f"## {name}({sig})", "", _words(fn.__doc__ or "").replace("``", "`"), ""]
        for p in params.values():
            proto = getattr(api, str(p.annotation), None)
            if proto is None or p.name == "plugins":
                continue
            parts.append(f"`{p.annotation}` (`cgr.kernel.api`):\n\n```python")
            for meth in ("__call__", "reader", "adapter", "command", "group", "add_command", "replace_command"):
                if meth in vars(proto):
                    shown = "register" if meth == "__call__" else f"{p.name}.{meth}"
                    parts.append(f"{shown}{_signature(vars(proto)[meth])}")
            parts += ["```", ""]
    return "\n".join(parts).rstrip() + "\n"


def _signature(fn: object) -> str:
    """``(name: str, *, description: str = "") -> None`` with the annotations as written."""
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    out, star = [], False
    for p in list(sig.parameters.values())[1:]:  # without self
        if p.kind is p.KEYWORD_ONLY and not star:
            out.append("*")
            star = True
        text = f"**{p.name}" if p.kind is p.VAR_KEYWORD else f"*{p.name}" if p.kind is p.VAR_POSITIONAL else p.name
        text += f": {p.annotation}" if p.annotation is not p.empty else ""
        text += f" = {p.default!r}".replace("'", '"') if p.default is not p.empty else ""
        out.append(text)
    return f"({', '.join(out)}) -> {sig.return_annotation}"


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
