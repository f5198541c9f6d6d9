"""``cgr export`` (flat CSV/Parquet, one row per item x channel, question included) and ``cgr show``
(one item's whole story); and every command's --help ends with an example."""

from __future__ import annotations

import csv
import functools
import io
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cgr.kernel import manager
from cgr.kernel.cli import main
from cgr.plugins.export import COLUMNS
from cgr.plugins.show import clean
from tests.conftest import ITEMS

NEW_BUILTINS = ("cgr.plugins.export", "cgr.plugins.new_plugin")  # until pyproject.toml declares them
CHANNELS = ["direct", "assisted", "generator_side", "budget_matched"]


def _patched_load():
    missing = tuple(m for m in NEW_BUILTINS if m not in manager.DEFAULT_PLUGINS)
    return functools.partial(manager.load_plugins, builtins=manager.DEFAULT_PLUGINS + missing) if missing else None


@pytest.fixture(autouse=True)
def _new_builtins(monkeypatch):
    load = _patched_load()
    if load:
        monkeypatch.setattr(manager, "load_plugins", load)


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """An echo run of the three toy items with the budget-matched baseline; sci-1's scaffold flagged."""
    root = tmp_path_factory.mktemp("export")
    bundle = root / "toy.jsonl"
    bundle.write_text("".join(json.dumps(it) + "\n" for it in ITEMS))
    with pytest.MonkeyPatch.context() as mp:
        load = _patched_load()
        if load:
            mp.setattr(manager, "load_plugins", load)
        res = cli("run", "--bundle", bundle, "--solver", "echo", "--budget-baseline", "--out", root / "run", "-q")
    assert res.exit_code == 0, res.output
    records = root / "run" / "records.jsonl"
    lines = [json.loads(line) for line in records.read_text().splitlines()]
    lines[2]["audits"].append({"auditor": "test", "verdict": "flag", "reason": "a flag for the export test"})
    lines[0]["assisted"]["stdout"] = "plain \x1b[31mred\x1b[0m \u202eevil\n"  # hostile terminal output
    records.write_text("".join(json.dumps(r) + "\n" for r in lines))
    return root / "run"


def read_rows(path: Path) -> list[dict]:
    """The CSV as pandas reads it when installed, else with the csv module (values as strings)."""
    try:
        import pandas
    except ImportError:
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    frame = pandas.read_csv(path, keep_default_na=False)
    assert str(frame["correct"].dtype) == "bool" and str(frame["calls"].dtype) == "int64"
    return [{k: str(v) for k, v in row.items()} for row in frame.to_dict("records")]


# ----------------------------------------------------------------------------- export ---------
def test_csv_has_a_row_per_item_and_channel_with_the_question(run_dir, tmp_path):
    out = tmp_path / "x.csv"
    res = cli("export", run_dir, "-o", out)
    assert res.exit_code == 0, res.output
    assert res.stderr.strip() == f"{out}: 12 rows (3 items x channels) of 1 run(s), csv"
    assert out.read_text(encoding="utf-8").splitlines()[0] == ",".join(COLUMNS)
    rows = read_rows(out)
    assert [(r["item_id"], r["channel"]) for r in rows] == [(it["id"], ch) for it in ITEMS for ch in CHANNELS]
    by_id = {it["id"]: it for it in ITEMS}
    for r in rows:
        item = by_id[r["item_id"]]
        assert r["question"] == item["question"] and json.loads(r["choices"]) == item["choices"]
        assert json.loads(r["labels"]) == ["A", "B", "C", "D"][: len(item["choices"])]
        assert r["gold"] == item["answer"] and r["task"] == item["task"] and r["run"] == str(run_dir)
        assert r["correct"] in ("True", "False") and int(r["calls"]) >= 0 and float(r["latency_s"]) >= 0
        assert (r["status"] != "") == (r["channel"] == "assisted")
        assert r["flagged"] == ("True" if r["item_id"] == "sci-1" else "False")
    assisted = [r for r in rows if r["channel"] == "assisted"]
    assert all(r["status"] == "ok" and r["method"] == "submit" and r["answer"] for r in assisted)


def test_csv_goes_to_standard_output_without_o(run_dir):
    res = cli("export", run_dir)
    assert res.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(rows) == 12 and rows[0]["question"] == ITEMS[0]["question"]


def test_parquet_holds_the_same_rows_with_types(run_dir, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    res = cli("export", run_dir, "-o", tmp_path / "x.parquet")  # the format follows the suffix
    assert res.exit_code == 0, res.output
    table = pq.read_table(tmp_path / "x.parquet")
    assert table.column_names == list(COLUMNS)
    types = {f.name: str(f.type) for f in table.schema}
    assert types["correct"] == types["flagged"] == "bool" and types["calls"] == "int64"
    assert types["latency_s"] == "double" and types["question"] == "string"
    rows = table.to_pylist()
    text_rows = list(csv.DictReader(io.StringIO(cli("export", run_dir).stdout)))
    assert len(rows) == len(text_rows) == 12
    for r, t in zip(rows, text_rows):
        assert (r["item_id"], r["channel"], r["question"], r["answer"] or "") == (
            t["item_id"],
            t["channel"],
            t["question"],
            t["answer"],
        )
        assert r["status"] is None if r["channel"] != "assisted" else r["status"] == "ok"
    try:
        import pandas
    except ImportError:
        return
    frame = pandas.read_parquet(tmp_path / "x.parquet")
    assert frame.groupby("channel")["correct"].count().to_dict() == dict.fromkeys(CHANNELS, 3)


def test_parquet_needs_a_file_and_pyarrow(run_dir, tmp_path, monkeypatch):
    res = cli("export", run_dir, "--format", "parquet")
    assert res.exit_code == 2 and "--format parquet needs -o FILE" in res.output
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if not installed
    res = cli("export", run_dir, "-o", tmp_path / "x.parquet")
    assert res.exit_code == 1 and not (tmp_path / "x.parquet").exists()
    assert res.stderr.strip().splitlines() == [
        "cgr: error: Parquet export needs pyarrow: pip install 'cgr[build-bundle]' (or pip install pyarrow)"
    ]


def test_export_of_a_directory_without_records_is_one_line(tmp_path):
    res = cli("export", tmp_path)
    assert res.exit_code == 1 and res.stderr.strip().splitlines() == [
        f"cgr: error: {tmp_path}/records.jsonl: no such file (not a cgr run directory?)"
    ]


# ----------------------------------------------------------------------------- show -----------
def test_show_tells_one_item_s_whole_story(run_dir):
    res = cli("show", run_dir, "geo-1")
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "item geo-1  (dataset toy, task geo)" in out
    assert "question:\n    What is the capital of France?" in out
    assert "    A. Berlin\n  * B. Paris\n    C. Rome\n    D. Madrid\ngold: B" in out
    for channel in CHANNELS:
        assert f"\n  {channel} " in out
    assert "status ok" in out and "method submit" in out and "votes:" in out
    assert "# cgr template scaffold: per-option verification" in out  # the source, numbered
    assert "      1  # cgr template" in out
    assert "solver calls (4; extractions 0):" in out
    assert "  1. logprobs" in out and 'options: {"continuations": [" Berlin"]}' in out
    assert "prompt:\n        Question: What is the capital of France?\n        Answer:" in out
    assert "\naudits:\n" in out and "\n  hardcode " in out.split("\naudits:\n", 1)[1]


def test_show_escapes_what_the_scaffold_printed(run_dir):
    out = cli("show", run_dir, "geo-1").stdout
    assert "\x1b" not in out and "\u202e" not in out
    assert "stdout:\n    plain \\x1b[31mred\\x1b[0m \\u202eevil\n" in out
    assert clean("a\tb\nc\x00\x07") == "a\tb\nc\\x00\\x07"


def test_show_json_has_the_item_and_the_record(run_dir):
    res = cli("show", run_dir, "sci-1", "--json")
    obj = json.loads(res.stdout)
    assert obj["item"]["question"] == ITEMS[2]["question"] and obj["record"]["item_id"] == "sci-1"
    assert obj["record"]["audits"][-1]["verdict"] == "flag"


def test_show_of_an_unknown_item_is_one_line_with_close_matches(run_dir):
    res = cli("show", run_dir, "geo-3")
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines() == [
        f"cgr: error: {run_dir}: no item 'geo-3' among its 3 items; close matches: geo-2, geo-1"
    ]
    res = cli("show", run_dir, "zzzzzz")
    assert res.stderr.strip() == f"cgr: error: {run_dir}: no item 'zzzzzz' among its 3 items; no close match"


def test_show_without_the_bundle_still_shows_the_record(run_dir, tmp_path):
    manifest = json.loads((run_dir / "run.json").read_text())
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "records.jsonl").write_bytes((run_dir / "records.jsonl").read_bytes())
    manifest["bundle"]["path"] = str(tmp_path / "gone.jsonl")
    (copy / "run.json").write_text(json.dumps(manifest))
    res = cli("show", copy, "geo-2")
    assert res.exit_code == 0
    assert "pass --bundle PATH" in res.stderr and "question: (the run's bundle was not found" in res.stdout
    assert "gold: A" in res.stdout


# ----------------------------------------------------------------------------- --help ---------
#: Commands whose --help example is still to be added by their owners (strict: remove once added).
PENDING: set[str] = set()


def _commands() -> list[str]:
    with pytest.MonkeyPatch.context() as mp:
        load = _patched_load()
        if load:
            mp.setattr(manager, "load_plugins", load)
        import click

        ctx = click.Context(main)
        names = []
        for name in main.list_commands(ctx):
            cmd = main.get_command(ctx, name)
            names.append(name)
            if isinstance(cmd, click.Group):
                names += [f"{name} {sub}" for sub in cmd.list_commands(click.Context(cmd, parent=ctx))]
        main.plugins = None
        return names


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="epilog pending")) if c in PENDING else c
        for c in _commands()
    ],
)
def test_every_command_s_help_has_an_example(command):
    res = cli(*command.split(), "--help")
    assert res.exit_code == 0, res.output
    assert "Example" in res.output, res.output
    assert f"cgr {command}" in res.output.split("Example", 1)[1]
