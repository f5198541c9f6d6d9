"""A third-party package adds a reporter, a bundle format and a command through the new hooks.

``examples/cgr-example-extras`` is pip-installed into this environment for the module (and
uninstalled afterwards); every check goes through the real ``cgr`` command line in a subprocess.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cgr-example-extras"
CLI = [sys.executable, "-m", "cgr.kernel.cli"]


def pip(*args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", *args, "-q", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"pip {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"


def cgr(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CGR_NO_SUPERVISOR": "1"}
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


@pytest.fixture(scope="module")
def extras(tmp_path_factory):
    src = tmp_path_factory.mktemp("extras") / "cgr-example-extras"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    try:
        pip("install", "--no-deps", "--no-build-isolation", str(src))
        importlib.invalidate_caches()
        yield src
    finally:
        pip("uninstall", "-y", "cgr-example-extras")
        sys.modules.pop("cgr_example_extras", None)


def test_cgr_plugins_lists_what_the_package_registered(extras):
    proc = cgr("plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    row = next(r for r in json.loads(proc.stdout) if r["name"] == "example-extras")
    assert row["distribution"] == "cgr-example-extras 0.1.0" and not row["builtin"]
    assert row["reporters"] == ["csv-cells"] and row["readers"] == ["tsv"]
    assert row["adapters"] == ["csqa"] and row["commands"] == ["disagreements"]
    text = cgr("plugins").stdout
    assert "    command   disagreements  The items whose direct and assisted answers differ" in text


TSV = (
    "id\tquestion\tA\tB\tC\tanswer\n"
    "t1\tWhich is a fruit?\tstone\tapple\tsand\tB\n"
    "t2\tWhich is a colour?\tred\ttable\tnine\tA\n"
    "t3\tWhich is a number?\tcat\tdog\tseven\tC\n"
)


def test_a_tsv_bundle_runs_and_the_new_reporter_and_command_read_the_run(extras, tmp_path):
    bundle = tmp_path / "items.tsv"
    bundle.write_text(TSV)
    check = cgr("bundle", "check", bundle)
    assert check.returncode == 0 and "3 valid items" in check.stdout, check.stderr
    run = cgr("run", "--solver", "echo", "--bundle", bundle, "--out", tmp_path / "run", "-q")
    assert run.returncode == 0, run.stderr
    report = cgr("report", tmp_path / "run", "--format", "csv-cells")
    assert report.returncode == 0, report.stderr
    rows = list(csv.DictReader(io.StringIO(report.stdout)))
    assert [r["dataset"] for r in rows] == ["items"] and rows[0]["n"] == "3"
    records = [json.loads(line) for line in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]
    differ = sum(r["direct"]["answer"] != r["assisted"]["answer"] for r in records)
    dis = cgr("disagreements", tmp_path / "run")
    assert dis.returncode == 0 and dis.stderr.strip() == f"{differ} of 3 items differ"
    assert len(dis.stdout.splitlines()) == differ


def test_the_csqa_adapter_converts_and_names_a_bad_row(extras, tmp_path):
    rows = [
        {
            "id": "c1",
            "question": {
                "stem": "Where do fish live?",
                "choices": [{"label": "A", "text": "tree"}, {"label": "B", "text": "water"}],
            },
            "answerKey": "B",
        },
        {"id": "c2", "question": {"stem": "Bad", "choices": [{"label": "A", "text": "x"}]}, "answerKey": "Z"},
    ]
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    bad = cgr("bundle", "convert", source, "--from", "csqa", "--out", tmp_path / "c.jsonl")
    assert bad.returncode == 1 and "rows.jsonl:2: answerKey: " in bad.stderr, bad.stderr
    ok = cgr("bundle", "convert", source, "--from", "csqa", "--out", tmp_path / "c.jsonl", "--skip-invalid")
    assert ok.returncode == 0, ok.stderr
    item = json.loads((tmp_path / "c.jsonl").read_text().splitlines()[0])
    assert item["dataset"] == "commonsense_qa" and item["answer"] == "B" and item["choices"] == ["tree", "water"]
