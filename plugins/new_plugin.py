"""``cgr new plugin NAME``: write a ready-to-install plugin package (solver, reporter or command).

The package is what ``examples/`` shows, filled in for NAME: ``pyproject.toml`` with the entry
point of group ``cgr``, one module with the hook, a README, and tests written with the
``cgr.testing`` fixtures (which reach any test suite through cgr's ``pytest11`` entry point).
``pip install -e cgr-NAME`` then makes it part of every ``cgr`` command; ``docs/plugins.md`` says
what a solver receives.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

import click

from cgr.kernel.hookspecs import hookimpl

KINDS = ("solver", "reporter", "command")
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "A cgr $kind plugin: $name"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["cgr"]

# The whole registration: cgr loads every entry point of group "cgr" as a pluggy plugin.
[project.entry-points.cgr]
$name = "$module"

[tool.setuptools]
py-modules = ["$module"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

README = """\
# $dist

A cgr $kind plugin, registered as `$name` (entry point `$name = "$module"` of group `cgr`).

```bash
pip install -e .            # cgr now finds it: `cgr plugins` lists it
python -m pytest            # its tests, with the cgr.testing fixtures
$usage
```

See cgr's `docs/plugins.md` (what a solver receives) and `CONTRIBUTING.md` (the hooks).
"""

USAGE = {
    "solver": "cgr run --solver $name --limit 10 --out run-$name",
    "reporter": "cgr report cgr-run --format $name",
    "command": "cgr $name cgr-run",
}

SOLVER = '''\
"""$dist: a cgr solver plugin adding the solver ``$name``.

As generated it is an honest placeholder: ``complete`` answers with the first of its
``choices`` (and "" without), and every option gets the same log-probability, so a run with it
measures the floor. Replace the three method bodies with calls to your model; keep the
signatures (``cgr_check_solver`` in the tests checks them, and more).
"""

from __future__ import annotations

import math

from cgr.kernel.api import Completion, PluginConfigError, Scores, SolverConfig
from cgr.kernel.hookspecs import hookimpl

__version__ = "0.1.0"

#: The --solver-option keys this solver takes (anything else is refused, not ignored).
OPTIONS: tuple[str, ...] = ()


class $cls:
    """$name: a placeholder solver (first choice, uniform scores). Replace with your model."""

    name = "$name"

    def __init__(self, config: SolverConfig | None = None):
        self.config = config or SolverConfig()
        unknown = sorted(set(self.config.options) - set(OPTIONS))
        if unknown:
            raise PluginConfigError(f"solver $name: unknown --solver-option {', '.join(unknown)}")

    def info(self) -> dict:
        """What run.json records about this solver (JSON-serializable; ``name`` required)."""
        return {"name": self.name, "model": self.config.model, "backend": "placeholder", "version": __version__}

    def complete(
        self,
        prompt: str,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        choices: list[str] | None = None,
        seed: int | None = None,
    ) -> Completion:
        """A reply to ``prompt``; with ``choices``, exactly one of them. Deterministic at temperature 0;
        ``seed`` (when given) seeds sampling above 0."""
        text = choices[0] if choices else ""  # replace: call your model
        return Completion(text=text, prompt_tokens=len(prompt.split()), completion_tokens=len(text.split()))

    def label_logprobs(self, prompt: str, labels: list[str]) -> list[float]:
        """log P(label | prompt) per label (the direct channel's --direct-mode logprobs)."""
        return self.logprobs(prompt, labels)

    def logprobs(self, prompt: str, continuations: list[str]) -> list[float]:
        """log P(continuation | prompt) per continuation: finite and <= 0."""
        uniform = -math.log(len(continuations)) if continuations else 0.0  # replace: score with your model
        return Scores([uniform for _ in continuations], prompt_tokens=len(prompt.split()))


@hookimpl
def register_solvers(register) -> None:
    """The $name solver."""
    register("$name", $cls, description="$name (placeholder: first choice, uniform scores)")
'''

SOLVER_TEST = '''\
"""Tests of $dist with the cgr.testing fixtures (they come with cgr, entry point ``pytest11``)."""

from $module import $cls

LETTER = """\\
options = "\\\\n".join(f"{l}. {c}" for l, c in zip(ITEM.labels, ITEM.choices))
reply = solver_call("Question: " + ITEM.question + "\\\\n" + options + "\\\\nAnswer:", choices=list(ITEM.labels))
submit(extract_choice(reply))
"""


def test_registered_through_its_entry_point(cgr_plugins):
    assert cgr_plugins.solver("$name").obj is $cls


def test_conforms_to_the_solver_protocol(cgr_check_solver):
    said = cgr_check_solver($cls())
    assert said["info"]["name"] == "$name"
    assert all(score <= 0 for score in said["logprobs"])


def test_answers_a_scaffold_in_the_sandbox(cgr_sandbox_run, cgr_item):
    result = cgr_sandbox_run(LETTER, solver="$name")
    assert result["status"] == "ok" and result["answer"] in cgr_item["labels"]
'''

REPORTER = '''\
"""$dist: a cgr reporter plugin: ``cgr report RUN --format $name``."""

from __future__ import annotations

from collections import defaultdict

from cgr.kernel.api import ReportRequest
from cgr.kernel.hookspecs import hookimpl

__version__ = "0.1.0"


def report(request: ReportRequest) -> str:
    """Per task: items, direct and assisted accuracy (replace with your own report)."""
    by_task: dict[str, list] = defaultdict(list)
    for record in request.records:
        by_task[record.task].append(record)
    lines = ["task\\titems\\tdirect\\tassisted"]
    for task, records in sorted(by_task.items()):
        n = len(records)
        direct = sum(r.direct.correct for r in records) / n
        assisted = sum(r.assisted.correct for r in records) / n
        lines.append(f"{task}\\t{n}\\t{direct:.3f}\\t{assisted:.3f}")
    return "\\n".join(lines)


@hookimpl
def register_reporters(register) -> None:
    """The $name report format."""
    register("$name", report, description="$name: per-task accuracies, tab-separated")
'''

REPORTER_TEST = '''\
"""Tests of $dist with the cgr.testing fixtures (they come with cgr, entry point ``pytest11``)."""

from $module import report

from cgr.kernel.api import ReportRequest


def test_registered_through_its_entry_point(cgr_plugins):
    assert cgr_plugins.reporter("$name").obj is report


def test_reports_each_task(cgr_records):
    lines = report(ReportRequest(cgr_records)).splitlines()
    assert lines[0].split("\\t") == ["task", "items", "direct", "assisted"]
    assert lines[1:] == ["geo\\t2\\t0.500\\t1.000", "sci\\t2\\t0.500\\t0.000"]
'''

COMMAND = '''\
"""$dist: a cgr command plugin: ``cgr $name RUN_DIR``."""

from __future__ import annotations

from pathlib import Path

import click

from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.store import read_records

__version__ = "0.1.0"


@hookimpl
def register_commands(cli) -> None:
    @cli.command("$name", epilog="\\b\\nExample:\\n  cgr $name cgr-run")
    @click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
    def command(run_dir: Path) -> None:
        """The items of a run the scaffold got right and the direct answer did not (replace with yours)."""
        records = read_records(run_dir)
        gained = [r for r in records if r.assisted.correct and not r.direct.correct]
        for r in gained:
            click.echo(f"{r.item_id}\\tdirect={r.direct.answer}\\tassisted={r.assisted.answer}\\tgold={r.gold}")
        click.echo(f"{len(gained)} of {len(records)} items gained by the scaffold", err=True)
'''

COMMAND_TEST = '''\
"""Tests of $dist with the cgr.testing fixtures (they come with cgr, entry point ``pytest11``)."""

from click.testing import CliRunner

from cgr.kernel.cli import main
from cgr.kernel.records import encode_record


def test_lists_the_items_the_scaffold_gained(tmp_path, cgr_records):
    (tmp_path / "records.jsonl").write_bytes(b"".join(encode_record(r) + b"\\n" for r in cgr_records))
    result = CliRunner().invoke(main, ["$name", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "geo-2\\tdirect=B\\tassisted=A\\tgold=A" in lines and "1 of 4 items gained by the scaffold" in lines
'''

MODULES = {"solver": (SOLVER, SOLVER_TEST), "reporter": (REPORTER, REPORTER_TEST), "command": (COMMAND, COMMAND_TEST)}


def package_files(name: str, kind: str) -> dict[str, str]:
    """The files of the package for plugin ``name`` of ``kind``: relative path -> text."""
    if not _NAME.match(name):
        raise click.BadParameter(
            f"{name!r}: use lower-case letters, digits and single hyphens, starting with a letter (e.g. my-solver)",
            param_hint="NAME",
        )
    module = "cgr_" + name.replace("-", "_")
    fields = {
        "name": name,
        "kind": kind,
        "dist": f"cgr-{name}",
        "module": module,
        "cls": "".join(part.capitalize() for part in name.split("-")) + ("" if name.endswith("solver") else "Solver"),
    }
    fields["usage"] = Template(USAGE[kind]).substitute(fields)
    source, test = MODULES[kind]
    return {
        "pyproject.toml": Template(PYPROJECT).substitute(fields),
        "README.md": Template(README).substitute(fields),
        f"{module}.py": Template(source).substitute(fields),
        f"tests/test_{module}.py": Template(test).substitute(fields),
    }


def write_package(name: str, kind: str, directory: Path) -> Path:
    """Write the package into ``directory/cgr-NAME`` (which must not exist); returns that path."""
    name = name.removeprefix("cgr-")
    files = package_files(name, kind)
    root = directory / f"cgr-{name}"
    if root.exists():
        raise click.ClickException(f"{root} already exists; choose another NAME or --dir")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@hookimpl
def register_commands(cli):
    @cli.group(epilog="\b\nExample:\n  cgr new plugin my-solver --kind solver")
    def new():
        """Start something new from a template (a plugin package)."""

    @new.command(
        "plugin",
        epilog="\b\nExamples:\n  cgr new plugin my-solver && pip install -e cgr-my-solver && cgr plugins\n"
        "  cgr new plugin tsv-table --kind reporter --dir plugins/",
    )
    @click.argument("name")
    @click.option("--kind", type=click.Choice(KINDS), default="solver", show_default=True, help="What it adds.")
    @click.option(
        "--dir",
        "directory",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("."),
        show_default=True,
        help="Where to create cgr-NAME/.",
    )
    def plugin(name, kind, directory):
        """Write a ready-to-install plugin package cgr-NAME/: pyproject.toml with the entry point, the
        module, a README and tests using the cgr.testing fixtures."""
        root = write_package(name, kind, directory)
        name = name.removeprefix("cgr-")
        click.echo(f"created {root}/ ({kind} plugin {name!r}):")
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            click.echo(f"  {path}")
        usage = Template(USAGE[kind]).substitute(name=name)
        click.echo(f"next: pip install -e {root} && (cd {root} && python -m pytest) && {usage}")
