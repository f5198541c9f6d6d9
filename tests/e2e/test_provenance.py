"""Provenance that cannot lie: a bundle's manifest.json counts only when its sha256 is the bundle's;
run.json records the bundle's absolute path and sha256; a run's bundle is found again from anywhere
(old runs' relative paths too), or the message says ``--bundle PATH``."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cgr.kernel import manager
from cgr.kernel.bundle import load_bundle, sample_bundle_path
from cgr.kernel.cli import main
from cgr.kernel.store import StoreError, read_manifest
from cgr.plugins.run_bundle import bundle_candidates, load_run_bundle
from tests.conftest import ITEMS

NEW_BUILTINS = ("cgr.plugins.export",)  # until pyproject.toml declares it


@pytest.fixture(autouse=True)
def _new_builtins(monkeypatch):
    missing = tuple(m for m in NEW_BUILTINS if m not in manager.DEFAULT_PLUGINS)
    if missing:
        load = functools.partial(manager.load_plugins, builtins=manager.DEFAULT_PLUGINS + missing)
        monkeypatch.setattr(manager, "load_plugins", load)


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_items(path: Path, items=ITEMS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(it) + "\n" for it in items))
    return path


def warnings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("cgr: warning:")]


def run_json(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


def questions(csv_text: str) -> dict[str, str]:
    return {row["item_id"]: row["question"] for row in csv.DictReader(io.StringIO(csv_text))}


# ----------------------------------------------------------------- the manifest beside a bundle ---
def test_the_manifest_of_another_bundle_in_the_directory_is_ignored_with_a_warning(tmp_path, capsys):
    a = write_items(tmp_path / "a.jsonl", ITEMS[:2])
    b = write_items(tmp_path / "b.jsonl", ITEMS[1:])
    (tmp_path / "manifest.json").write_text(json.dumps({"name": "a-set", "version": "3", "sha256": sha(a)}))

    mine = load_bundle(a)
    assert mine.manifest["name"] == "a-set" and mine.manifest_ignored is None
    assert mine.describe()["manifest"]["sha256"] == sha(a) and mine.describe()["name"] == "a-set"
    assert capsys.readouterr().err == ""

    other = load_bundle(b)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"cgr: warning: ignoring {tmp_path / 'manifest.json'}: ")
    assert sha(a) in err[0] and sha(b) in err[0]  # both hashes named
    described = other.describe()
    assert described["manifest"] is None and described["name"] == "b" and described["version"] is None
    assert sha(a) in described["manifest_ignored"] and sha(b) in described["manifest_ignored"]

    res = cli("run", "--bundle", b, "--solver", "echo", "--out", tmp_path / "run", "-q")
    assert res.exit_code == 0, res.output
    assert len(warnings(res.stderr)) == 1 and sha(b) in warnings(res.stderr)[0]
    recorded = run_json(tmp_path / "run")["bundle"]
    assert recorded["manifest"] is None and recorded["manifest_ignored"] == described["manifest_ignored"]
    assert recorded["name"] == "b" and recorded["sha256"] == sha(b)


def test_a_manifest_without_a_sha256_vouches_for_nothing(tmp_path, capsys):
    a = write_items(tmp_path / "a.jsonl")
    (tmp_path / "manifest.json").write_text('{"name": "n", "version": "2"}')
    loaded = load_bundle(a)
    assert loaded.manifest == {} and "records no sha256" in loaded.manifest_ignored
    assert "records no sha256" in capsys.readouterr().err
    assert load_bundle(a, warn=None).describe()["name"] == "a" and capsys.readouterr().err == ""


def test_the_shipped_sample_s_manifest_is_its_own():
    sample = load_bundle()
    assert sample.manifest["name"] == "cgr-sample" and sample.manifest_ignored is None
    assert sample.describe()["manifest"]["sha256"] == sample.sha256


# ----------------------------------------------------------------- run.json and finding it again -
@pytest.fixture
def relative_run(tmp_path, monkeypatch) -> Path:
    """A run made from ``tmp/w`` with a relative --bundle and --out; the cwd is then elsewhere."""
    work = tmp_path / "w"
    write_items(work / "data" / "items.jsonl")
    monkeypatch.chdir(work)
    res = cli("run", "--bundle", "data/items.jsonl", "--solver", "echo", "--out", "runs/a", "-q")
    assert res.exit_code == 0, res.output
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    return work / "runs" / "a"


def test_run_json_records_the_absolute_path_and_the_sha256(relative_run, tmp_path):
    bundle = run_json(relative_run)["bundle"]
    assert bundle["path"] == str(tmp_path / "w" / "data" / "items.jsonl")
    assert bundle["sha256"] == sha(tmp_path / "w" / "data" / "items.jsonl")


def test_replay_and_export_work_from_another_directory(relative_run):
    res = cli("replay", relative_run)
    assert res.exit_code == 0, res.output
    assert "3 record(s) replayed without a model: 3 reproduced" in res.output
    res = cli("export", relative_run)
    assert res.exit_code == 0 and not warnings(res.stderr), res.output
    assert questions(res.stdout) == {it["id"]: it["question"] for it in ITEMS}


def test_an_old_relative_path_is_found_from_the_directory_the_run_was_started_in(relative_run, tmp_path):
    manifest = run_json(relative_run)
    manifest["bundle"]["path"] = "data/items.jsonl"  # what cgr recorded before paths were absolute
    (relative_run / "run.json").write_text(json.dumps(manifest))
    candidates = bundle_candidates(relative_run, read_manifest(relative_run))
    assert candidates[0] == tmp_path / "w" / "data" / "items.jsonl"  # from --out runs/a, not the cwd
    assert load_run_bundle(relative_run).path == tmp_path / "w" / "data" / "items.jsonl"
    res = cli("export", relative_run)
    assert res.exit_code == 0 and not warnings(res.stderr), res.output
    assert questions(res.stdout)["geo-1"] == ITEMS[0]["question"]


def test_a_missing_bundle_says_pass_bundle(relative_run, tmp_path):
    bundle = tmp_path / "w" / "data" / "items.jsonl"
    moved = tmp_path / "moved.jsonl"
    shutil.move(bundle, moved)
    with pytest.raises(StoreError, match=r"is not there \(looked in .*\); pass --bundle PATH$"):
        load_run_bundle(relative_run)

    res = cli("replay", relative_run)
    assert res.exit_code == 1 and res.stderr.count("\n") == 1 and "pass --bundle PATH" in res.stderr

    res = cli("export", relative_run)  # the records still export, without the question text
    assert res.exit_code == 0, res.output
    (warning,) = warnings(res.stderr)
    assert "pass --bundle PATH; question and options left empty" in warning
    assert set(questions(res.stdout).values()) == {""}

    assert cli("replay", relative_run, "--bundle", moved).exit_code == 0
    res = cli("export", relative_run, "--bundle", moved)
    assert res.exit_code == 0 and questions(res.stdout)["sci-1"] == ITEMS[2]["question"]


def test_another_file_at_the_recorded_path_is_not_taken_for_the_bundle(relative_run, tmp_path):
    bundle = tmp_path / "w" / "data" / "items.jsonl"
    write_items(bundle, ITEMS[:2])  # same path, other content
    with pytest.raises(StoreError, match=r"not the bundle of this run \(sha256 .*\); pass --bundle PATH$"):
        load_run_bundle(relative_run)
    other = write_items(tmp_path / "other.jsonl", ITEMS[1:])
    with pytest.raises(StoreError, match="not the bundle of this run"):
        load_run_bundle(relative_run, other)
    res = cli("export", relative_run, "--bundle", other)
    assert res.exit_code == 0 and "not the bundle of this run" in warnings(res.stderr)[0]


def test_the_sample_bundle_is_found_by_its_hash_after_the_install_moved(tmp_path):
    res = cli("run", "--solver", "echo", "--limit", "1", "--out", tmp_path / "run", "-q")
    assert res.exit_code == 0, res.output
    manifest = run_json(tmp_path / "run")
    assert manifest["bundle"]["path"] == str(sample_bundle_path().absolute())
    manifest["bundle"]["path"] = "/nonexistent/old-venv/cgr/kernel/data/sample/items.jsonl"
    (tmp_path / "run" / "run.json").write_text(json.dumps(manifest))
    assert load_run_bundle(tmp_path / "run").path == sample_bundle_path()


def test_a_run_json_without_a_bundle_path_says_pass_bundle(tmp_path):
    res = cli("run", "--solver", "echo", "--limit", "1", "--out", tmp_path / "run", "-q")
    assert res.exit_code == 0, res.output
    manifest = run_json(tmp_path / "run")
    del manifest["bundle"]["path"]
    (tmp_path / "run" / "run.json").write_text(json.dumps(manifest))
    with pytest.raises(StoreError, match=r"run.json: names no bundle; pass --bundle PATH$"):
        load_run_bundle(tmp_path / "run")
    assert load_run_bundle(tmp_path / "run", sample_bundle_path()).sha256 == manifest["bundle"]["sha256"]
