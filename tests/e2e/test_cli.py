"""The CLI contracts: cgr run / report --format json / audit / sandbox run / plugins / --version."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from cgr.kernel import __version__
from cgr.kernel.cli import main

HONEST = "r = solver_call('Q? ' + ITEM.question, choices=list(ITEM.labels))\nsubmit(extract_choice(r))\n"


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_version():
    res = cli("--version")
    assert res.exit_code == 0 and __version__ in res.output


def test_bad_bundle_line_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "a", "dataset": "d", "question": "q", "choices": ["x", "y"], "answer": "A"}\n'
        '{"id": "b", "dataset": "d", "question": "q", "choices": ["x", "y"], "answer": "Z"}\n'
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cgr.kernel.cli",
            "run",
            "--bundle",
            str(bad),
            "--solver",
            "echo",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"cgr: error: {bad}:2: answer: 'Z' is not one of the labels ['A', 'B']"]
    assert not (tmp_path / "o" / "records.jsonl").exists()


def test_unknown_solver_is_one_line(tmp_path):
    res = CliRunner().invoke(main, ["run", "--solver", "nope", "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and "unknown solver 'nope'" in res.output


def test_run_report_audit_with_echo(tmp_path):
    out = tmp_path / "run"
    res = cli("run", "--solver", "echo", "--limit", "6", "--out", out, "-q")
    assert res.exit_code == 0, res.output
    assert "nonzero_baseline" in res.output and "records.jsonl" in res.output
    rep = json.loads(cli("report", out, "--format", "json", "--resamples", "200").output)
    assert set(rep["partitions"]) == {"all", "nonzero_baseline", "gate_0.30"}
    cell = rep["cells"][0]
    for key in ("n", "direct_acc", "assisted_acc", "generator_acc"):
        assert key in cell
    assert all(0.0 <= c["direct_acc"] <= 1.0 for c in rep["cells"])
    assert sum(c["n"] for c in rep["cells"]) == 6
    lines = cli("audit", out, "--json").output.strip().splitlines()
    assert len(lines) == 6 and all(json.loads(x)["verdict"] == "clean" for x in lines)


def test_audit_scripts(tmp_path):
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_text(HONEST)
    bad.write_text("submit('A')\n")
    res = cli("audit", good, bad, "--json")
    assert res.exit_code == 1  # a flagged script fails the command
    out = [json.loads(x) for x in res.output.strip().splitlines()]
    assert [o["verdict"] for o in out] == ["clean", "hard_coded"]
    assert any("constant 'A'" in f["reason"] for f in out[1]["findings"])


def test_sandbox_run_contract(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(HONEST)
    res = cli("sandbox", "run", script, "--solver", "echo", "--json")
    assert res.exit_code == 0
    obj = json.loads(res.output)
    assert set(obj) == {"status", "answer", "solver_calls", "stdout", "stderr", "elapsed_s", "error"}
    assert obj["status"] == "ok" and obj["solver_calls"] == 1 and obj["answer"] == "A"
    script.write_text("while True: pass\n")
    obj = json.loads(cli("sandbox", "run", script, "--solver", "echo", "--timeout", "0.5", "--json").output)
    assert obj["status"] == "timeout" and obj["answer"] is None


def test_sandbox_run_usage_error_exits_2(tmp_path):
    res = CliRunner().invoke(main, ["sandbox", "run", str(tmp_path / "missing.py")])
    assert res.exit_code == 2


def test_plugins_lists_builtins():
    res = cli("plugins", "--json")
    names = {row["name"] for row in json.loads(res.output)}
    assert "cgr.plugins.llama_solver" in names and "cgr.plugins.template_generator" in names


@pytest.mark.parametrize(
    "args",
    [
        ["--timeout", "nan"],
        ["--timeout", "inf"],
        ["--timeout", "0"],
        ["--timeout", "100000"],
        ["--memory-mb", "100000"],
        ["--max-calls", "100000000"],
        ["--max-output-kb", "10000000"],
    ],
)
def test_sandbox_run_out_of_range_limits_are_usage_errors(tmp_path, args):
    script = tmp_path / "s.py"
    script.write_text("submit('A')\n")
    res = CliRunner().invoke(main, ["sandbox", "run", str(script), "--solver", "echo", "--json", *args])
    assert res.exit_code == 2 and "Invalid value" in res.output


def test_sandbox_run_with_an_item_file_without_gold(tmp_path):
    item = tmp_path / "item.json"
    item.write_text(json.dumps({"question": "Pick the fruit", "choices": ["stone", "apple", "car"]}))
    script = tmp_path / "s.py"
    script.write_text("print(ITEM.id, ITEM.labels, ITEM.question)\nsubmit(ITEM.labels[-1])\n")
    obj = json.loads(cli("sandbox", "run", script, "--item", item, "--solver", "echo", "--json").output)
    assert obj["status"] == "ok" and obj["answer"] == "C"
    assert obj["stdout"] == "item ('A', 'B', 'C') Pick the fruit\n"
    item.write_text(json.dumps({"question": "q", "choices": ["only one"]}))
    res = CliRunner().invoke(main, ["sandbox", "run", str(script), "--item", str(item), "--json"])
    assert res.exit_code == 2 and f"{item}:1: choices:" in res.output


def test_sandbox_run_fuel_exhaustion_is_a_contract_timeout(tmp_path):
    script = tmp_path / "spin.py"
    script.write_text("while True:\n    pass\n")
    obj = json.loads(cli("sandbox", "run", script, "--solver", "echo", "--fuel", "20000000", "--json").output)
    assert obj["status"] == "timeout" and obj["answer"] is None
    assert obj["error"] == "timeout: fuel limit of 20000000 exhausted"
    script.write_text(HONEST)
    obj = json.loads(cli("sandbox", "run", script, "--solver", "echo", "--fuel", "1000000000", "--json").output)
    assert obj["status"] == "ok" and obj["solver_calls"] == 1


def test_run_scaffold_limits_reach_the_sandbox_and_the_manifest(tmp_path):
    out = tmp_path / "run"
    res = cli(
        "run",
        "--solver",
        "echo",
        "--limit",
        "2",
        "--out",
        out,
        "-q",
        "--memory-mb",
        "64",
        "--max-output-kb",
        "8",
        "--max-calls",
        "3",
        "--threads",
        "1",
    )
    assert res.exit_code == 0, res.output
    config = json.loads((out / "run.json").read_text())["config"]
    limits = config["limits"]
    assert config["n_threads"] == 1
    assert (limits["memory_mb"], limits["max_output_bytes"], limits["max_calls"]) == (64, 8 * 1024, 3)
    records = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    # per_option makes one solver call per option (4 here): a budget of 3 is breached and recorded
    assert [r["assisted"]["status"] for r in records] == ["call_budget", "call_budget"]
    res = CliRunner().invoke(main, ["run", "--solver", "echo", "--out", str(tmp_path / "o"), "--memory-mb", "8"])
    assert res.exit_code == 2 and "Invalid value" in res.output


def test_compare_two_strategies_on_the_same_items(tmp_path):
    for strategy in ("letter", "per_option"):
        res = cli("run", "--solver", "echo", "--limit", "8", "--strategy", strategy, "--out", tmp_path / strategy, "-q")
        assert res.exit_code == 0, res.output
    cmp = json.loads(
        cli("compare", tmp_path / "letter", tmp_path / "per_option", "--format", "json", "--resamples", "200").output
    )
    assert cmp["n_items"] == 8 and cmp["only_in_a"] == cmp["only_in_b"] == 0
    assert sum(c["n"] for c in cmp["cells"]) == 8
    assert cmp["ci_low"] <= cmp["delta"] <= cmp["ci_high"]
    assert cmp["a"] == ["echo template/letter"] and cmp["b"] == ["echo template/per_option"]
    text = cli("compare", tmp_path / "letter", tmp_path / "per_option").output
    assert "channel assisted: 8 items in both runs" in text and "delta B-A=" in text
    res = CliRunner().invoke(main, ["compare", str(tmp_path / "letter"), str(tmp_path)])
    assert res.exit_code == 1 and "no such file" in res.output


def test_a_file_that_is_not_a_model_is_one_clear_error(tmp_path):
    bad = tmp_path / "truncated.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00")  # a GGUF header and nothing else
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cgr.kernel.cli",
            "run",
            "--model",
            str(bad),
            "--limit",
            "1",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(f"cgr: error: {bad}: llama.cpp cannot load this model file")
    assert "Traceback" not in proc.stderr and not (tmp_path / "o" / "records.jsonl").exists()


def test_models_lists_the_embedded_models_with_kind_size_and_license():
    rows = {r["name"]: r for r in json.loads(cli("models", "--json").output)}
    assert set(rows) == {"smollm2-135m", "gemma3-270m"}
    assert rows["smollm2-135m"]["default"] and rows["smollm2-135m"]["installed"]  # .ci/run installs it
    assert rows["smollm2-135m"]["bytes"] > 50e6 and rows["smollm2-135m"]["license"] == "Apache-2.0"
    assert (rows["smollm2-135m"]["kind"], rows["gemma3-270m"]["kind"]) == ("instruct", "base")
    lines = cli("models").output.splitlines()
    assert lines[0].split() == ["name", "kind", "size", "license", "package", "state"]
    assert lines[1].startswith("smollm2-135m (default)") and " instruct " in lines[1] and "installed" in lines[1]
    assert lines[2].index("gemma3-270m") == 0 and lines[2].index("base") == lines[1].index("instruct")


def test_run_only_some_tasks(tmp_path):
    out = tmp_path / "run"
    res = cli("run", "--solver", "echo", "--task", "sciq", "--task", "arc_easy", "--limit", "5", "--out", out, "-q")
    assert res.exit_code == 0, res.output
    tasks = [json.loads(x)["task"] for x in (out / "records.jsonl").read_text().splitlines()]
    assert len(tasks) == 5 and set(tasks) <= {"sciq", "arc_easy"} and len(set(tasks)) == 2
    res = CliRunner().invoke(main, ["run", "--solver", "echo", "--task", "nope", "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and "task: no items of task(s) nope; the bundle has: arc_challenge" in res.output
    assert not (tmp_path / "o").exists()
