"""`cgr run --config EXPERIMENT.toml` and the repeatable --model/--solver shorthand (real sandbox, echo solver)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cgr.kernel.cli import main

EXPERIMENT = """\
limit = 2
direct_modes = ["generate", "logprobs"]

[[solvers]]
plugin = "echo"

[[generators]]
strategy = "per_option"

[[generators]]
strategy = "pmi"
"""


def cgr(*args: str):
    return CliRunner().invoke(main, list(args))


def test_run_config_writes_a_grid_and_resumes_to_nothing(tmp_path):
    exp = tmp_path / "experiment.toml"
    exp.write_text(EXPERIMENT)
    out = tmp_path / "grid"
    result = cgr("run", "--config", str(exp), "--out", str(out), "-q")
    assert result.exit_code == 0, result.output
    assert "2 of 2 cell(s) complete, 4 new record(s)" in result.output
    assert "matrix: direct -> assisted" in result.output  # two generators: a block each
    grid = json.loads((out / "grid.json").read_text())
    assert [c["slug"] for c in grid["cells"]] == ["sample__echo__template-per_option", "sample__echo__template-pmi"]
    assert all((out / c["dir"] / "records.jsonl").is_file() for c in grid["cells"])
    again = cgr("run", "--config", str(exp), "--out", str(out), "--resume", "-q")
    assert again.exit_code == 0 and "2 of 2 cell(s) complete, 0 new record(s)" in again.output
    refused = cgr("run", "--config", str(exp), "--out", str(out), "-q")
    assert refused.exit_code == 1 and "grid.json exists; pass --resume" in refused.output
    cell = out / "cells" / "sample__echo__template-pmi"
    item_id = json.loads((cell / "records.jsonl").read_text().splitlines()[0])["item_id"]
    shown = cgr("show", str(cell), item_id)  # every command reads a cell like any run
    assert shown.exit_code == 0 and item_id in shown.output
    exported = cgr("export", str(cell), "-o", str(tmp_path / "cell.csv"))
    assert exported.exit_code == 0 and (tmp_path / "cell.csv").read_text().count("\n") > 2


def test_config_errors_are_one_line_naming_file_line_and_key(tmp_path):
    exp = tmp_path / "experiment.toml"
    exp.write_text("limit = 2\n[[solvers]]\nplugin = 'echo'\ncolour = 'red'\n")
    result = cgr("run", "--config", str(exp), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"cgr: error: {exp}:4: solvers[0].colour: unknown key; allowed: gpu_layers, model, n_ctx, n_threads, name, "
        "options, plugin"
    )
    exp.write_text("limit = 2\n[[solvers]]\nplugin = 'nope'\n")
    result = cgr("run", "--config", str(exp), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1 and result.output.startswith(f"cgr: error: {exp}:3: solvers[0].plugin: unknown solver")
    result = cgr("run", "--config", str(exp), "--limit", "3", "--timeout", "5")
    assert result.exit_code == 1
    assert "--limit, --timeout belong(s) in the experiment file" in result.output and "\n" not in result.output.strip()


def test_repeated_model_is_a_grid_of_models(tmp_path):
    out = tmp_path / "two"
    result = cgr("run", "--solver", "echo", "--model", "a", "--model", "b", "--limit", "2", "--out", str(out), "-q")
    assert result.exit_code == 0, result.output
    grid = json.loads((out / "grid.json").read_text())
    assert [c["slug"] for c in grid["cells"]] == ["sample__echo-a__template", "sample__echo-b__template"]
    assert [s["model"] for s in grid["experiment"]["solvers"]] == ["a", "b"]
    assert grid["experiment"]["limit"] == 2 and grid["status"] == "complete"
    # the echo solver has no model, so both cells' records carry one label: the report says so
    assert "hold an item more than once" in result.output
    unknown = cgr("run", "--solver", "echo", "--solver", "nope", "--out", str(tmp_path / "x"))
    assert unknown.exit_code == 1 and "unknown solver 'nope'" in unknown.output


def test_a_failing_cell_ends_in_exit_1_naming_it(tmp_path):
    exp = tmp_path / "experiment.toml"
    exp.write_text("limit = 2\n[[solvers]]\nmodel = 'no-such-model'\n[[solvers]]\nplugin = 'echo'\n")
    result = cgr("run", "--config", str(exp), "--out", str(tmp_path / "g"), "-q")
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("cgr: error: 1 of 2 cell(s) failed: first sample__llama-no-such-model__template:")
    assert "--resume" in last
    assert "1 of 2 cell(s) complete" in result.output
