"""The program store, ``cgr programs export`` and the ``files`` generator (no model, no sandbox)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cgr.kernel import cli, manager
from cgr.kernel.api import GeneratorConfig, PluginConfigError, Scaffold
from cgr.kernel.records import AssistedChannel, DirectChannel, GeneratorChannel, Record, RunManifest
from cgr.kernel.store import RunStore, StoreError
from cgr.plugins.files_generator import FilesGenerator
from cgr.plugins.programs import LAYOUT, ProgramStore, export_programs, file_stem, item_sha256, program_sha256

ITEM = {"id": "q1", "question": "Which?", "choices": ["x", "y"], "labels": ["A", "B"], "context": None}
IDENTITY = {"backend": "openai", "model": "m", "prompt_version": "generator-v1", "max_tokens": 768}
PROGRAM = "r = solver_call(ITEM.question)\nsubmit(extract_choice(r) or ITEM.labels[0])\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- the store ---------------------
def test_store_round_trip_is_content_addressed(tmp_path):
    store = ProgramStore(tmp_path)
    assert store.get(ITEM, IDENTITY) is None
    store.put(ITEM, IDENTITY, Scaffold(source=PROGRAM, answer="B", raw="reply", calls=1, outcome="ok"))
    got = store.get(ITEM, IDENTITY)
    assert (got.source, got.answer, got.raw, got.outcome, got.calls) == (PROGRAM, "B", "reply", "ok", 0)
    objects = list((tmp_path / LAYOUT / "objects").rglob("*.py"))
    assert [p.name for p in objects] == [f"{sha(PROGRAM.encode())}.py"] and objects[0].read_bytes() == PROGRAM.encode()
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temporaries
    # the same item under another identity, or with other content, is another entry
    assert store.get(ITEM, {**IDENTITY, "prompt_version": "generator-v2"}) is None
    assert store.get({**ITEM, "choices": ["x", "z"]}, IDENTITY) is None
    assert store.get({**ITEM, "id": "q2"}, IDENTITY) is None


def test_a_damaged_store_reads_as_a_miss(tmp_path):
    store = ProgramStore(tmp_path)
    store.put(ITEM, IDENTITY, Scaffold(source=PROGRAM, outcome="ok"))
    (obj,) = (tmp_path / LAYOUT / "objects").rglob("*.py")
    obj.write_text("submit('A')\n")  # no longer what its name says
    assert store.get(ITEM, IDENTITY) is None
    store.put(ITEM, IDENTITY, Scaffold(source=PROGRAM, outcome="ok"))
    (entry,) = (tmp_path / LAYOUT / "entries").rglob("[0-9a-f]*.json")
    entry.write_bytes(b"{not json")
    assert store.get(ITEM, IDENTITY) is None
    entry.write_text(json.dumps({"item_id": "q1", "outcome": "weird"}))
    assert store.get(ITEM, IDENTITY) is None


def test_transient_outcomes_are_not_stored_and_empty_programs_are(tmp_path):
    store = ProgramStore(tmp_path)
    store.put(ITEM, IDENTITY, Scaffold(source="", raw="HTTP 503", outcome="api_error", retries=2))
    store.put(ITEM, IDENTITY, Scaffold(source="", raw="timed out", outcome="timeout"))
    assert store.get(ITEM, IDENTITY) is None
    store.put(ITEM, IDENTITY, Scaffold(source="", raw="no code here", outcome="no_code"))
    got = store.get(ITEM, IDENTITY)
    assert (got.source, got.raw, got.outcome) == ("", "no code here", "no_code")


def test_store_location_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CGR_PROGRAM_STORE", str(tmp_path / "env-store"))
    assert ProgramStore().root == tmp_path / "env-store"
    monkeypatch.delenv("CGR_PROGRAM_STORE")
    monkeypatch.setenv("CGR_CACHE_DIR", str(tmp_path / "cache"))
    assert ProgramStore().root == tmp_path / "cache" / "programs"


def test_item_hash_ignores_the_id_and_order_of_keys():
    assert item_sha256(ITEM) == item_sha256({**ITEM, "id": "other"}) == item_sha256(dict(reversed(ITEM.items())))
    assert item_sha256(ITEM) != item_sha256({**ITEM, "context": "c"})


# ---------------------------------------------------------------- export ------------------------
@pytest.mark.parametrize(
    ("item_id", "expected"),
    [("arc-easy-17", "arc-easy-17"), ("Mercury_7.2", "Mercury_7.2")],
)
def test_safe_ids_are_their_own_file_names(item_id, expected):
    assert file_stem(item_id) == expected


@pytest.mark.parametrize("item_id", ["../etc/passwd", "a/b", ".hidden", "", "x" * 300, "día", "manifest", "a b"])
def test_unsafe_ids_get_a_clean_stem_and_a_hash(item_id):
    stem = file_stem(item_id)
    assert stem != item_id and "/" not in stem and not stem.startswith(".") and len(stem) <= 91
    assert stem.endswith(sha(item_id.encode())[:10])


def record(item_id: str, program: str, answer: str | None = "A") -> Record:
    return Record(
        item_id=item_id,
        dataset="toy",
        task="toy",
        solver="llama/smollm2-135m",
        generator="llm/m",
        gold="A",
        direct=DirectChannel(answer="A", correct=True, calls=1),
        assisted=AssistedChannel(
            answer=None,
            correct=False,
            calls=0,
            program=program,
            program_sha256=program_sha256(program) if program else "",
        ),
        generator_side=GeneratorChannel(answer=answer, correct=answer == "A", calls=1),
    )


def make_run(directory: Path, records: list[Record]) -> Path:
    manifest = RunManifest(
        cgr_version="0",
        created="now",
        config={},
        bundle={"sha256": "x"},
        solver={"name": "llama"},
        generator={"name": "llm", "strategy": "prompted", "prompt_version": "generator-v1", "identity": "abc"},
        extractors=[],
        auditors=[],
        versions={},
    )
    store = RunStore(directory, manifest)
    for r in records:
        store.append(r)
    store.close("complete")
    return directory


PROGRAMS = {
    "plain": PROGRAM,
    "crlf": "r = solver_call(ITEM.question)\r\nsubmit(extract_choice(r) or 'A')\r\n",
    "unicode": "# ¿qué? 答え\nsubmit(extract_choice(solver_call('é')) or ITEM.labels[0])\n",
    "Case": PROGRAM + "# upper\n",
    "case": PROGRAM + "# lower\n",
    "a/b": PROGRAM + "# slash\n",
}


def test_export_writes_each_program_byte_exact_with_a_manifest(tmp_path):
    run = make_run(tmp_path / "run", [record(i, p) for i, p in PROGRAMS.items()] + [record("empty", "", None)])
    out = tmp_path / "programs"
    manifest = export_programs(run, out)
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert manifest["without_program"] == ["empty"] and manifest["sha256_mismatch"] == []
    assert manifest["prompt_version"] == "generator-v1" and manifest["generator"]["name"] == "llm"
    assert manifest["source_run"] == str(run.resolve())
    names = {e["file"].lower() for e in manifest["items"].values()}
    assert len(names) == len(PROGRAMS)  # "Case"/"case" do not clash even on a case-insensitive disk
    for item_id, program in PROGRAMS.items():
        entry = manifest["items"][item_id]
        data = (out / entry["file"]).read_bytes()
        assert data == program.encode() and entry["sha256"] == sha(data) == program_sha256(program)
        assert entry["generator_answer"] == "A"


def test_export_refuses_a_non_empty_directory_without_force(tmp_path):
    run = make_run(tmp_path / "run", [record("q1", PROGRAM)])
    out = tmp_path / "programs"
    out.mkdir()
    (out / "other.txt").write_text("x")
    with pytest.raises(StoreError, match="not empty"):
        export_programs(run, out)
    assert export_programs(run, out, force=True)["items"]["q1"]["file"] == "q1.py"


def test_the_command_through_cgr(tmp_path, monkeypatch):
    assert "cgr.plugins.programs" in manager.DEFAULT_PLUGINS  # declared in pyproject.toml
    run = make_run(tmp_path / "run", [record("q1", PROGRAM), record("q2", "")])
    runner = CliRunner()
    res = runner.invoke(cli.main, ["programs", "export", str(run), str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "wrote 1 program(s) and manifest.json" in res.output and "1 record(s) had no program" in res.output
    res = runner.invoke(cli.main, ["programs", "export", str(run), str(tmp_path / "out")])
    assert res.exit_code == 1 and res.output.count("\n") == 1 and "cgr: error:" in res.output
    assert "not empty (pass --force" in res.output


# ---------------------------------------------------------------- files generator ----------------
def files(directory: Path, **options) -> FilesGenerator:
    return FilesGenerator(GeneratorConfig(options={"dir": str(directory), **options}))


def test_files_replays_an_export_with_the_same_sha256(tmp_path):
    run = make_run(tmp_path / "run", [record(i, p) for i, p in PROGRAMS.items()])
    out = tmp_path / "programs"
    export_programs(run, out)
    gen = files(out)
    for item_id, program in PROGRAMS.items():
        scaffold = gen.generate({**ITEM, "id": item_id})
        assert scaffold.source == program and scaffold.outcome == "ok" and scaffold.calls == 0
        assert program_sha256(scaffold.source) == sha((out / gen.path_for(item_id).name).read_bytes())
        assert scaffold.answer == "A" and scaffold.raw == ""
    assert gen.info()["source_run"] == str(run.resolve()) and gen.info()["programs"] == len(PROGRAMS)


def test_files_without_a_manifest_and_typed_outcomes(tmp_path):
    (tmp_path / "q1.py").write_bytes(b"\xef\xbb\xbf" + PROGRAM.encode())  # a BOM: kept, so hashed as the bytes
    (tmp_path / "q2.py").write_bytes(b"submit(\n")
    (tmp_path / "q3.py").write_bytes(b"\xff\xfe not utf-8")
    (tmp_path / "q4.py").write_bytes(b"  \n")
    (tmp_path / f"{file_stem('a/b')}.py").write_text(PROGRAM)
    gen = files(tmp_path)
    bom = gen.generate(ITEM)
    assert program_sha256(bom.source) == sha((tmp_path / "q1.py").read_bytes())
    assert bom.outcome == "syntax_error"  # as the sandbox sees it: compiled from text, U+FEFF is invalid
    assert gen.generate({**ITEM, "id": "q2"}).outcome == "syntax_error"
    assert gen.generate({**ITEM, "id": "q2"}).source == "submit(\n"  # still run: the sandbox decides
    undecodable = gen.generate({**ITEM, "id": "q3"})
    assert (undecodable.outcome, undecodable.source) == ("syntax_error", "") and "not UTF-8" in undecodable.raw
    assert gen.generate({**ITEM, "id": "q4"}).outcome == "empty"
    missing = gen.generate({**ITEM, "id": "nope"})
    assert (missing.outcome, missing.source) == ("no_code", "") and "nope.py" in missing.raw
    assert gen.generate({**ITEM, "id": "a/b"}).source == PROGRAM


def test_files_notes_a_file_changed_after_export(tmp_path):
    run = make_run(tmp_path / "run", [record("q1", PROGRAM)])
    export_programs(run, tmp_path / "p")
    (tmp_path / "p" / "q1.py").write_text(PROGRAM + "# edited\n")
    scaffold = files(tmp_path / "p").generate(ITEM)
    assert scaffold.source.endswith("# edited\n") and "changed after export" in scaffold.raw


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "needs the program directory"),
        ({"dir": "/no/such/dir"}, "no such directory"),
        ({"dir": ".", "x": "1"}, "x"),
    ],
)
def test_files_option_errors(options, message):
    with pytest.raises(PluginConfigError, match=message):
        FilesGenerator(GeneratorConfig(options=options))


def test_files_rejects_a_broken_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text("[1, 2")
    with pytest.raises(PluginConfigError, match="manifest.json: not valid JSON"):
        files(tmp_path)
