"""``cgr models``: a command of the llama plugin (``register_commands``), not of the kernel."""

from __future__ import annotations

import json

import click
import pluggy
from click.testing import CliRunner

from cgr.kernel import hookspecs
from cgr.plugins import llama_models, llama_solver

ROWS = [
    {
        "name": "tiny",
        "kind": "instruct",
        "package": "tiny-gguf",
        "license": "MIT",
        "installed": True,
        "bytes": 98_300_000,
        "default": True,
        "assembled_into": None,
        "install": "pip install tiny-gguf",
    },
    {
        "name": "big-base",
        "kind": "base",
        "package": "big-base-gguf",
        "license": "Some Terms",
        "installed": False,
        "bytes": None,
        "default": False,
        "assembled_into": "/c/models",
        "install": "pip install big-base-gguf",
    },
]


def cli_with_the_plugin() -> click.Group:
    """A bare root group with the llama plugin's commands, as the kernel's manager adds them."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(llama_solver)  # pluggy checks the hookimpl's arguments against the spec
    assert [i.plugin for i in pm.hook.register_commands.get_hookimpls()] == [llama_solver]
    cli = click.Group("cgr")
    llama_solver.register_commands(cli)
    return cli


def test_the_plugin_adds_a_models_command():
    cli = cli_with_the_plugin()
    assert list(cli.commands) == ["models"]
    assert cli.commands["models"].help.startswith("List the embedded models of the llama solver")
    assert [p.opts for p in cli.commands["models"].params] == [["--json"]]


def test_the_table_aligns_columns_and_says_how_to_install(monkeypatch):
    monkeypatch.setattr(llama_models, "models", lambda: [dict(r) for r in ROWS])
    res = CliRunner().invoke(cli_with_the_plugin(), ["models"], catch_exceptions=False)
    assert res.exit_code == 0
    assert res.output.splitlines() == [
        "name            kind       size  license     package        state",
        "tiny (default)  instruct  98 MB  MIT         tiny-gguf      installed",
        "big-base        base          -  Some Terms  big-base-gguf  not installed (pip install big-base-gguf)",
    ]


def test_json_is_the_rows(monkeypatch):
    monkeypatch.setattr(llama_models, "models", lambda: [dict(r) for r in ROWS])
    res = CliRunner().invoke(cli_with_the_plugin(), ["models", "--json"], catch_exceptions=False)
    assert res.exit_code == 0 and json.loads(res.output) == ROWS
    assert res.output == json.dumps(ROWS, indent=2) + "\n"


def test_the_real_catalogue_lists_every_embedded_model():
    res = CliRunner().invoke(cli_with_the_plugin(), ["models", "--json"], catch_exceptions=False)
    rows = json.loads(res.output)
    assert [r["name"] for r in rows] == list(llama_models.EMBEDDED) == ["smollm2-135m", "gemma3-270m"]
    assert [r["default"] for r in rows] == [True, False]
    lines = CliRunner().invoke(cli_with_the_plugin(), ["models"]).output.splitlines()
    assert lines[0].split() == ["name", "kind", "size", "license", "package", "state"]
    assert lines[1].startswith("smollm2-135m (default)") and len(lines) == 3


def test_the_old_names_still_import_from_the_plugin_module():
    assert llama_solver.models is llama_models.models and llama_solver.resolve_model is llama_models.resolve_model
    assert llama_solver.EMBEDDED is llama_models.EMBEDDED and llama_solver.DEFAULT_MODEL == "smollm2-135m"
