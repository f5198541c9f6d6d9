"""Adapters (known formats -> bundles), msgpack bundles, and `cgr bundle check/convert`."""

import json
import sys

import msgspec
import pytest
from click.testing import CliRunner

from cgr.kernel.adapters import convert, write_bundle
from cgr.kernel.bundle import BundleError, load_bundle, sample_bundle_path
from cgr.kernel.cli import main

ARC = [
    {"id": "Mercury_1", "question": "Which is a metal?",
     "choices": {"text": ["wood", "iron", "glass", "paper"], "label": ["A", "B", "C", "D"]}, "answerKey": "B"},
    {"id": "NYSEDREGENTS_2", "question": "Pick three.",
     "choices": {"text": ["one", "two", "three"], "label": ["1", "2", "3"]}, "answerKey": "3"},
]


def jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_arc_relabels_and_keeps_the_original(tmp_path):
    result = convert(jsonl(tmp_path / "arc.jsonl", ARC), "arc", task="arc_easy")
    a, b = result.items
    assert (a.id, a.dataset, a.task, a.labels, a.answer) == ("Mercury_1", "ai2_arc", "arc_easy", ["A", "B", "C", "D"], "B")
    assert (b.labels, b.answer, b.choices[2]) == (["A", "B", "C"], "C", "three")
    assert b.metadata["original_labels"] == ["1", "2", "3"] and b.metadata["original_answer"] == "3"
    assert b.metadata["source"] == "arc.jsonl:2"


def test_a_row_that_cannot_be_converted_names_file_line_and_field(tmp_path):
    rows = [ARC[0], {**ARC[1], "answerKey": "9"}, {**ARC[0], "id": "x", "question": "  "}]
    src = jsonl(tmp_path / "arc.jsonl", rows)
    with pytest.raises(BundleError) as err:
        convert(src, "arc")
    assert str(err.value) == f"{src}:2: answerKey: '9' is not one of the choice labels ['1', '2', '3']"
    result = convert(src, "arc", skip_invalid=True)
    assert [it.id for it in result.items] == ["Mercury_1"] and result.rows == 3
    assert [str(e) for e in result.skipped] == [
        f"{src}:2: answerKey: '9' is not one of the choice labels ['1', '2', '3']",
        f"{src}:3: question: missing or empty",
    ]
    twice = {**ARC[0], "choices": {"text": ["a", "b"], "label": ["A", "A"]}, "answerKey": "A"}
    with pytest.raises(BundleError, match=r"twice.jsonl:1: choices: duplicate labels \['A', 'A'\]"):
        convert(jsonl(tmp_path / "twice.jsonl", [twice]), "arc")
    dup = jsonl(tmp_path / "dup.jsonl", [ARC[0], ARC[0]])
    with pytest.raises(BundleError, match=r"dup.jsonl:2: id: duplicate id 'Mercury_1' \(first on line 1\)"):
        convert(dup, "arc")


def test_openbookqa_fact_becomes_context(tmp_path):
    row = {"id": "7-980", "question_stem": "The sun is responsible for",
           "choices": {"text": ["puppies", "plants sprouting", "stars", "rocks"], "label": list("ABCD")},
           "answerKey": "B", "fact1": "the sun is the source of energy for plants"}
    (item,) = convert(jsonl(tmp_path / "obqa.jsonl", [row]), "openbookqa").items
    assert item.context == "the sun is the source of energy for plants" and item.answer == "B"
    (bare,) = convert(jsonl(tmp_path / "obqa2.jsonl", [{k: v for k, v in row.items() if k != "fact1"}]),
                      "openbookqa").items
    assert bare.context is None and bare.dataset == bare.task == "openbookqa"


def test_sciq_shuffles_deterministically_and_tracks_the_answer(tmp_path):
    rows = [{"question": f"Q{i}?", "correct_answer": f"right{i}", "distractor1": f"w{i}a",
             "distractor2": f"w{i}b", "distractor3": f"w{i}c", "support": ""} for i in range(12)]
    src = jsonl(tmp_path / "sciq.jsonl", rows)
    first, again, other = (convert(src, "sciq", seed=s).items for s in (0, 0, 1))
    assert first == again
    for item in first:
        assert item.choices[item.labels.index(item.answer)] == item.metadata["original_answer"]
        assert item.context is None
    assert len({it.labels.index(it.answer) for it in first}) > 1  # not always first
    assert [it.choices for it in first] != [it.choices for it in other]
    assert first[3].id == "sciq-00004"
    bad = jsonl(tmp_path / "bad.jsonl", [{**rows[0], "distractor2": "right0"}])
    with pytest.raises(BundleError, match=r"bad.jsonl:1: distractor2: 'right0' repeats another option"):
        convert(bad, "sciq")


def test_mmlu_rows_from_a_json_array_and_the_original_csv(tmp_path):
    rows = [{"question": "2+2?", "subject": "elementary_mathematics", "choices": ["3", "4", "5", "6"], "answer": 1},
            {"question": "Red planet?", "subject": "astronomy", "choices": ["Mars", "Venus", "Earth", "Moon"],
             "answer": "A"}]
    src = tmp_path / "mmlu.json"
    src.write_text(json.dumps(rows))
    a, b = convert(src, "mmlu").items
    assert (a.task, a.answer, b.task, b.answer) == ("elementary_mathematics", "B", "astronomy", "A")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([rows[0], {**rows[1], "answer": 7}]))
    with pytest.raises(BundleError, match=r"bad.json: item 2: answer: index 7 is out of range for 4 choices"):
        convert(bad, "mmlu")
    csv_path = tmp_path / "astronomy_test.csv"
    csv_path.write_text('"Which planet,\nif any, is red?",Mars,Venus,Earth,Moon,A\nWhat orbits Earth?,Sun,Moon,Mars,Io,B\n'
                        "Too,few,columns\n")
    result = convert(csv_path, "mmlu-csv", skip_invalid=True)
    assert [(it.task, it.answer) for it in result.items] == [("astronomy", "A"), ("astronomy", "B")]
    assert result.items[0].question == "Which planet,\nif any, is red?"
    assert [str(e) for e in result.skipped] == [
        f"{csv_path}:4: row: expected 6 columns (question, A, B, C, D, answer), got 3"]


def test_parquet_rows_and_a_clear_error_without_pyarrow(tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "arc.parquet"
    pq.write_table(pa.Table.from_pylist(ARC), src)
    assert [it.id for it in convert(src, "arc").items] == ["Mercury_1", "NYSEDREGENTS_2"]
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(BundleError, match=r"arc.parquet: reading Parquet needs pyarrow"):
        convert(src, "arc")


def test_msgpack_bundle_round_trip_and_errors_name_the_item(tmp_path):
    sample = load_bundle()
    out = tmp_path / "sample.msgpack"
    manifest = json.loads(write_bundle(sample.items, out, {"name": "s"}).read_text())
    assert manifest["count"] == len(sample.items) and manifest["name"] == "s"
    again = load_bundle(out)
    assert again.items == sample.items and again.manifest["name"] == "s"
    with pytest.raises(FileExistsError, match="--force"):
        write_bundle(sample.items, out, {})
    raw = msgspec.msgpack.decode(out.read_bytes())
    raw[2]["answer"] = "Z"
    out.write_bytes(msgspec.msgpack.encode(raw))
    with pytest.raises(BundleError) as err:
        load_bundle(out)
    assert str(err.value).startswith(f"{out}: item 3: answer: 'Z' is not one of the labels")
    out.write_bytes(b"\xc1 not msgpack")
    with pytest.raises(BundleError, match="invalid msgpack"):
        load_bundle(out)


def test_cli_convert_check_and_run_on_a_msgpack_bundle(tmp_path):
    out = tmp_path / "b" / "arc.msgpack"
    src = jsonl(tmp_path / "arc.jsonl", ARC)
    res = cli("bundle", "convert", src, "--from", "arc", "--out", out, "--license", "CC-BY-SA-4.0")
    assert res.exit_code == 0, res.output
    assert "2 items from 2 rows (0 skipped)" in res.output
    manifest = json.loads((out.parent / "manifest.json").read_text())
    assert (manifest["format"], manifest["license"], manifest["tasks"]) == ("arc", "CC-BY-SA-4.0", {"ai2_arc/ai2_arc": 2})
    res = cli("bundle", "convert", src, "--from", "arc", "--out", out)
    assert res.exit_code == 1 and "exists (use --force to overwrite)" in res.output
    summary = json.loads(cli("bundle", "check", out, "--json").output)
    assert (summary["count"], summary["options"], summary["gold_position"]) == (2, {"3": 1, "4": 1}, {"2": 1, "3": 1})
    res = cli("run", "--bundle", out, "--solver", "echo", "--out", tmp_path / "run", "-q")
    assert res.exit_code == 0, res.output
    assert len((tmp_path / "run" / "records.jsonl").read_text().splitlines()) == 2


def test_cli_check_reports_a_bad_line_as_one_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    good = sample_bundle_path().read_text().splitlines()[0]
    bad.write_text(good + "\n" + json.dumps({**json.loads(good), "id": "other", "choices": ["only"]}) + "\n")
    res = cli("bundle", "check", bad)
    assert res.exit_code == 1
    assert res.output.strip() == f"cgr: error: {bad}:2: choices: List should have at least 2 items after validation, not 1"
