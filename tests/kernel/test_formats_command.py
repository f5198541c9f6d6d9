"""``cgr bundle check`` / ``cgr bundle convert`` from the formats plugin, on a fresh click group."""

import json

import click
import pytest
from click.testing import CliRunner

from cgr.kernel.api import RowContext, RowError
from cgr.kernel.bundle import BundleError, sample_bundle_path
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import load_plugins
from cgr.plugins.formats import takes
from cgr.plugins.formats.command import plugins_of

ARC = [
    {"id": "Mercury_1", "question": "Which is a metal?",
     "choices": {"text": ["wood", "iron", "glass", "paper"], "label": ["A", "B", "C", "D"]}, "answerKey": "B"},
    {"id": "NYSEDREGENTS_2", "question": "Pick three.",
     "choices": {"text": ["one", "two", "three"], "label": ["1", "2", "3"]}, "answerKey": "3"},
]  # fmt: skip


@takes(case=("keep", "upper"))
def toy(row: dict, ctx: RowContext) -> dict:
    """Toy rows: q, a|b, gold (a third-party adapter)"""
    if row.get("gold") not in ("a", "b"):
        raise RowError("gold", f"expected 'a' or 'b', got {row.get('gold')!r}")
    q = row["q"].upper() if ctx.options.get("case") == "upper" else row["q"]
    return {"id": f"toy-{ctx.number}", "question": q, "choices": [row["a"], row["b"]],
            "answer": "A" if row["gold"] == "a" else "B"}  # fmt: skip


class ToyFormats:
    @hookimpl
    def register_bundle_formats(self, register):
        register.adapter("toy", toy, dataset="toyset")


@pytest.fixture(scope="module")
def formats():
    return load_plugins(builtins=("cgr.plugins.formats",), entry_points=False)


@pytest.fixture(scope="module")
def with_toy():
    return load_plugins(builtins=("cgr.plugins.formats",), entry_points=False, extra=(ToyFormats(),))


def cli(plugins, *args, obj=True):
    """Invoke a fresh root group that has the plugins' commands (through the register_commands hook)."""

    @click.group()
    def root() -> None:
        pass

    plugins.add_commands(root)
    return CliRunner().invoke(root, [str(a) for a in args], obj=plugins if obj else None)


def jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_hook_adds_the_bundle_group(formats):
    root = click.Group("cgr")
    formats.add_commands(root)
    assert list(root.commands) == ["bundle"] and formats.get("command", "bundle").plugin == "cgr.plugins.formats"
    res = cli(formats, "bundle", "--help")
    assert res.exit_code == 0 and "check" in res.output and "convert" in res.output


def test_convert_then_check_a_msgpack_bundle(tmp_path, formats):
    out = tmp_path / "b" / "arc.msgpack"
    src = jsonl(tmp_path / "arc.jsonl", ARC)
    res = cli(formats, "bundle", "convert", src, "--from", "arc", "--out", out, "--license", "CC-BY-SA-4.0")
    assert res.exit_code == 0, res.output
    assert res.output == f"{out}: 2 items from 2 rows (0 skipped); manifest: {out.parent / 'manifest.json'}\n"
    manifest = json.loads((out.parent / "manifest.json").read_text())
    assert (manifest["format"], manifest["license"], manifest["tasks"]) == (
        "arc",
        "CC-BY-SA-4.0",
        {"ai2_arc/ai2_arc": 2},
    )
    assert "options" not in manifest
    res = cli(formats, "bundle", "convert", src, "--from", "arc", "--out", out)
    assert res.exit_code == 1 and "exists (use --force to overwrite)" in res.output
    summary = json.loads(cli(formats, "bundle", "check", out, "--json").output)
    assert (summary["count"], summary["options"], summary["gold_position"]) == (2, {"3": 1, "4": 1}, {"2": 1, "3": 1})
    text = cli(formats, "bundle", "check", out).output.splitlines()
    assert text[0].startswith(f"{out}: 2 valid items, sha256 ") and text[0].endswith("…, manifest: yes")
    assert text[1:] == ["  tasks: ai2_arc/ai2_arc 2", "  options: 3 1, 4 1", "  gold_position: 2 1, 3 1",
                        "  with context: 0"]  # fmt: skip


def test_check_raises_the_bad_line_as_one_bundle_error(tmp_path, formats):
    bad = tmp_path / "bad.jsonl"
    good = sample_bundle_path().read_text().splitlines()[0]
    bad.write_text(good + "\n" + json.dumps({**json.loads(good), "id": "other", "choices": ["only"]}) + "\n")
    res = cli(formats, "bundle", "check", bad)
    assert res.exit_code == 1 and isinstance(res.exception, BundleError)  # the CLI prints it as "cgr: error: …"
    assert str(res.exception) == f"{bad}:2: choices: List should have at least 2 items after validation, not 1"


def test_skipped_rows_are_listed_and_options_recorded(tmp_path, formats):
    rows = [{"question": "Q?", "correct_answer": "r", "distractor1": "a", "distractor2": "b", "distractor3": "c",
             "support": "It is r."}, {"question": "Q2?"}]  # fmt: skip
    src = jsonl(tmp_path / "sciq.jsonl", rows)
    out = tmp_path / "out.jsonl"
    res = cli(formats, "bundle", "convert", src, "--from", "sciq", "--out", out, "--option", "support=drop",
              "--skip-invalid")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert f"skipped: {src}:2: correct_answer: missing or empty" in res.output
    assert json.loads(out.read_text())["context"] is None
    assert json.loads((tmp_path / "manifest.json").read_text())["options"] == {"support": "drop"}
    res = cli(formats, "bundle", "convert", src, "--from", "sciq", "--out", out, "--force", "--option", "support")
    assert res.exit_code == 2 and "'support': expected KEY=VALUE" in res.output
    res = cli(formats, "bundle", "convert", src, "--from", "sciq", "--out", out, "--force", "--option", "support=no")
    assert res.exit_code == 2 and "option support='no' is not one of ['context', 'drop']" in res.output


def test_formats_and_choices_come_from_the_registered_adapters(tmp_path, formats, with_toy):
    res = cli(formats, "bundle", "convert", "--help")
    assert res.exit_code == 0
    assert "sciq        SciQ: question, correct_answer" in res.output
    assert "\n                --option support=context|drop\n" in res.output and "toy" not in res.output
    res = cli(with_toy, "bundle", "convert", "--help")
    assert (
        "toy         Toy rows: q, a|b, gold (a third-party adapter)\n                --option case=keep|upper"
        in res.output
    )
    src = jsonl(tmp_path / "toy.jsonl", [{"q": "Up?", "a": "yes", "b": "no", "gold": "a"},
                                         {"q": "Down?", "a": "yes", "b": "no", "gold": "c"}])  # fmt: skip
    res = cli(formats, "bundle", "convert", src, "--from", "toy", "--out", tmp_path / "t.jsonl")
    assert res.exit_code == 2 and "'toy' is not one of" in res.output
    res = cli(with_toy, "bundle", "convert", src, "--from", "toy", "--out", tmp_path / "t.jsonl", "--option",
              "case=upper", "--skip-invalid")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert f"skipped: {src}:2: gold: expected 'a' or 'b', got 'c'" in res.output
    item = json.loads((tmp_path / "t.jsonl").read_text())
    assert (item["id"], item["dataset"], item["question"]) == ("toy-1", "toyset", "UP?")


def test_without_plugins_in_the_context_they_are_loaded_once(tmp_path, formats, monkeypatch):
    calls = []

    def fake_load_plugins():
        calls.append(1)
        return formats

    monkeypatch.setattr("cgr.plugins.formats.command.load_plugins", fake_load_plugins)
    res = cli(formats, "bundle", "convert", "--help", obj=False)
    assert res.exit_code == 0 and "mmlu-csv" in res.output and len(calls) == 1
    assert plugins_of(click.Context(click.Command("x"), obj=formats)) is formats


def test_the_root_groups_plugins_are_used(with_toy, monkeypatch):
    monkeypatch.setattr("cgr.plugins.formats.command.load_plugins", lambda: pytest.fail("plugins loaded twice"))
    root = click.Group("cgr")
    root.plugins = with_toy  # as the cgr root group holds them
    with_toy.add_commands(root)
    res = CliRunner().invoke(root, ["bundle", "convert", "--help"])
    assert res.exit_code == 0 and "--option case=keep|upper" in res.output


def test_the_cgr_command_line_converts_and_checks_a_msgpack_bundle(tmp_path):
    """Through ``cgr`` itself: the plugin's commands, and its errors as one line."""
    from cgr.kernel.cli import main

    def cgr(*args):
        return CliRunner().invoke(main, [str(a) for a in args])

    out = tmp_path / "arc.msgpack"
    res = cgr("bundle", "convert", jsonl(tmp_path / "arc.jsonl", ARC), "--from", "arc", "--out", out)
    assert res.exit_code == 0, res.output
    assert json.loads(cgr("bundle", "check", out, "--json").output)["count"] == 2
    bad = tmp_path / "bad.jsonl"
    good = sample_bundle_path().read_text().splitlines()[0]
    bad.write_text(good + "\n" + json.dumps({**json.loads(good), "id": "other", "choices": ["only"]}) + "\n")
    res = cgr("bundle", "check", bad)
    assert res.exit_code == 1
    assert (
        res.output.strip() == f"cgr: error: {bad}:2: choices: List should have at least 2 items after validation, not 1"
    )
