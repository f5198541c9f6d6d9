"""The built-in formats plugin: adapters and readers through ``convert``, and ``write_bundle``."""

import json
import sys

import msgspec
import pytest

from cgr.kernel.bundle import BundleError, load_bundle
from cgr.kernel.manager import UnknownPluginError, load_plugins
from cgr.plugins.formats import convert, write_bundle

ARC = [
    {"id": "Mercury_1", "question": "Which is a metal?",
     "choices": {"text": ["wood", "iron", "glass", "paper"], "label": ["A", "B", "C", "D"]}, "answerKey": "B"},
    {"id": "NYSEDREGENTS_2", "question": "Pick three.",
     "choices": {"text": ["one", "two", "three"], "label": ["1", "2", "3"]}, "answerKey": "3"},
]  # fmt: skip
SCIQ = [{"question": f"Q{i}?", "correct_answer": f"right{i}", "distractor1": f"w{i}a", "distractor2": f"w{i}b",
         "distractor3": f"w{i}c", "support": f"Because right{i}."} for i in range(12)]  # fmt: skip


@pytest.fixture(scope="module")
def formats():
    """The built-in formats plugin alone (no third-party entry points)."""
    return load_plugins(builtins=("cgr.plugins.formats",), entry_points=False)


def jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_plugin_registers_the_readers_and_adapters(formats):
    assert [e.name for e in formats.all("adapter")] == ["arc", "cgr", "mmlu", "mmlu-csv", "openbookqa", "sciq"]
    assert formats.get("adapter", "arc").extra["dataset"] == "ai2_arc"
    assert sorted(formats.readers()) == [".arrow", ".csv", ".json", ".mpk", ".msgpack", ".parquet"]
    assert ".jsonl" not in formats.readers()  # the kernel's own


def test_arc_relabels_and_keeps_the_original(tmp_path, formats):
    result = convert(jsonl(tmp_path / "arc.jsonl", ARC), "arc", task="arc_easy", plugins=formats)
    a, b = result.items
    assert (a.id, a.dataset, a.task, a.labels, a.answer) == (
        "Mercury_1",
        "ai2_arc",
        "arc_easy",
        ["A", "B", "C", "D"],
        "B",
    )
    assert (b.labels, b.answer, b.choices[2]) == (["A", "B", "C"], "C", "three")
    assert b.metadata["original_labels"] == ["1", "2", "3"] and b.metadata["original_answer"] == "3"
    assert b.metadata["source"] == "arc.jsonl:2"


def test_a_row_that_cannot_be_converted_names_file_line_and_field(tmp_path, formats):
    rows = [ARC[0], {**ARC[1], "answerKey": "9"}, {**ARC[0], "id": "x", "question": "  "}]
    src = jsonl(tmp_path / "arc.jsonl", rows)
    with pytest.raises(BundleError) as err:
        convert(src, "arc", plugins=formats)
    assert str(err.value) == f"{src}:2: answerKey: '9' is not one of the choice labels ['1', '2', '3']"
    result = convert(src, "arc", skip_invalid=True, plugins=formats)
    assert [it.id for it in result.items] == ["Mercury_1"] and result.rows == 3
    assert [str(e) for e in result.skipped] == [
        f"{src}:2: answerKey: '9' is not one of the choice labels ['1', '2', '3']",
        f"{src}:3: question: missing or empty",
    ]
    twice = {**ARC[0], "choices": {"text": ["a", "b"], "label": ["A", "A"]}, "answerKey": "A"}
    with pytest.raises(BundleError, match=r"twice.jsonl:1: choices: duplicate labels \['A', 'A'\]"):
        convert(jsonl(tmp_path / "twice.jsonl", [twice]), "arc", plugins=formats)
    dup = jsonl(tmp_path / "dup.jsonl", [ARC[0], ARC[0]])
    with pytest.raises(BundleError, match=r"dup.jsonl:2: id: duplicate id 'Mercury_1' \(first on line 1\)"):
        convert(dup, "arc", plugins=formats)
    with pytest.raises(BundleError, match=r"none.jsonl: no convertible items \(1 rows, 1 skipped\)"):
        convert(jsonl(tmp_path / "none.jsonl", rows[1:2]), "arc", skip_invalid=True, plugins=formats)
    with pytest.raises(UnknownPluginError, match="unknown adapter 'nope'"):
        convert(src, "nope", plugins=formats)


def test_openbookqa_fact_becomes_context(tmp_path, formats):
    row = {"id": "7-980", "question_stem": "The sun is responsible for",
           "choices": {"text": ["puppies", "plants sprouting", "stars", "rocks"], "label": list("ABCD")},
           "answerKey": "B", "fact1": "the sun is the source of energy for plants"}  # fmt: skip
    (item,) = convert(jsonl(tmp_path / "obqa.jsonl", [row]), "openbookqa", plugins=formats).items
    assert item.context == "the sun is the source of energy for plants" and item.answer == "B"
    bare_src = jsonl(tmp_path / "obqa2.jsonl", [{k: v for k, v in row.items() if k != "fact1"}])
    (bare,) = convert(bare_src, "openbookqa", plugins=formats).items
    assert bare.context is None and bare.dataset == bare.task == "openbookqa"


def test_sciq_shuffles_deterministically_and_tracks_the_answer(tmp_path, formats):
    src = jsonl(tmp_path / "sciq.jsonl", SCIQ)
    first, again, other = (convert(src, "sciq", seed=s, plugins=formats).items for s in (0, 0, 1))
    assert first == again
    for item in first:
        assert item.choices[item.labels.index(item.answer)] == item.metadata["original_answer"]
    assert len({it.labels.index(it.answer) for it in first}) > 1  # not always first
    assert [it.choices for it in first] != [it.choices for it in other]
    assert first[3].id == "sciq-00004"
    bad = jsonl(tmp_path / "bad.jsonl", [{**SCIQ[0], "distractor2": "right0"}])
    with pytest.raises(BundleError, match=r"bad.jsonl:1: distractor2: 'right0' repeats another option"):
        convert(bad, "sciq", plugins=formats)


def test_sciq_support_is_the_context_unless_dropped(tmp_path, formats):
    src = jsonl(tmp_path / "sciq.jsonl", SCIQ)
    kept = convert(src, "sciq", plugins=formats).items
    assert kept[0].context == "Because right0."
    assert convert(src, "sciq", options={"support": "context"}, plugins=formats).items == kept
    dropped = convert(src, "sciq", options={"support": "drop"}, plugins=formats).items
    assert all(it.context is None for it in dropped)
    assert [it.choices for it in dropped] == [it.choices for it in kept]  # only the context differs
    with pytest.raises(ValueError, match=r"adapter 'sciq' has no option 'suport' \(its options: support\)"):
        convert(src, "sciq", options={"suport": "drop"}, plugins=formats)
    with pytest.raises(ValueError, match=r"option support='keep' is not one of \['context', 'drop'\]"):
        convert(src, "sciq", options={"support": "keep"}, plugins=formats)
    with pytest.raises(ValueError, match=r"adapter 'arc' has no option 'support' \(its options: none\)"):
        convert(jsonl(tmp_path / "arc.jsonl", ARC), "arc", options={"support": "drop"}, plugins=formats)


def test_mmlu_rows_from_a_json_array_and_the_original_csv(tmp_path, formats):
    rows = [{"question": "2+2?", "subject": "elementary_mathematics", "choices": ["3", "4", "5", "6"], "answer": 1},
            {"question": "Red planet?", "subject": "astronomy", "choices": ["Mars", "Venus", "Earth", "Moon"],
             "answer": "A"}]  # fmt: skip
    src = tmp_path / "mmlu.json"
    src.write_text(json.dumps(rows))
    a, b = convert(src, "mmlu", plugins=formats).items
    assert (a.task, a.answer, b.task, b.answer) == ("elementary_mathematics", "B", "astronomy", "A")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([rows[0], {**rows[1], "answer": 7}]))
    with pytest.raises(BundleError, match=r"bad.json: item 2: answer: index 7 is out of range for 4 choices"):
        convert(bad, "mmlu", plugins=formats)
    csv_path = tmp_path / "astronomy_test.csv"
    csv_path.write_text(
        '"Which planet,\nif any, is red?",Mars,Venus,Earth,Moon,A\n'
        "What orbits Earth?,Sun,Moon,Mars,Io,B\nToo,few,columns\n"
    )
    result = convert(csv_path, "mmlu-csv", skip_invalid=True, plugins=formats)
    assert [(it.task, it.answer) for it in result.items] == [("astronomy", "A"), ("astronomy", "B")]
    assert result.items[0].question == "Which planet,\nif any, is red?"
    assert [str(e) for e in result.skipped] == [
        f"{csv_path}:4: row: expected 6 columns (question, A, B, C, D, answer), got 3"]  # fmt: skip
    with pytest.raises(BundleError, match=r"mmlu.jsonl:1: row: expected a CSV record"):
        convert(jsonl(tmp_path / "mmlu.jsonl", rows), "mmlu-csv", plugins=formats)


def test_parquet_rows_and_a_clear_error_without_pyarrow(tmp_path, monkeypatch, formats):
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "arc.parquet"
    pq.write_table(pa.Table.from_pylist(ARC), src)
    assert [it.id for it in convert(src, "arc", plugins=formats).items] == ["Mercury_1", "NYSEDREGENTS_2"]
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist([ARC[0], {**ARC[1], "answerKey": "Z"}]), bad)
    with pytest.raises(BundleError, match=r"bad.parquet: row 2: answerKey: 'Z' is not one of"):
        convert(bad, "arc", plugins=formats)
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(BundleError, match=r"junk.parquet: cannot read as .parquet: ArrowInvalid"):
        convert(tmp_path / "junk.parquet", "arc", plugins=formats)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(BundleError, match=r"arc.parquet: reading Parquet needs pyarrow"):
        convert(src, "arc", plugins=formats)


def test_arrow_stream_and_file_dumps(tmp_path, formats):
    import pyarrow as pa

    table = pa.Table.from_pylist(ARC)
    for name, writer in (("stream.arrow", pa.ipc.new_stream), ("file.arrow", pa.ipc.new_file)):
        with pa.OSFile(str(tmp_path / name), "wb") as sink, writer(sink, table.schema) as w:
            w.write_table(table)
        assert [it.id for it in convert(tmp_path / name, "arc", plugins=formats).items] == [
            "Mercury_1",
            "NYSEDREGENTS_2",
        ]
    (tmp_path / "junk.arrow").write_bytes(b"junk")
    with pytest.raises(BundleError, match=r"junk.arrow: invalid Arrow IPC data"):
        convert(tmp_path / "junk.arrow", "arc", plugins=formats)


def test_cgr_items_re_encode_and_keep_their_dataset(tmp_path, formats):
    item = {"id": "x1", "dataset": "d", "question": "q?", "choices": ["a", "b"], "answer": "B"}
    src = jsonl(tmp_path / "items.jsonl", [item])
    (same,) = convert(src, "cgr", plugins=formats).items
    assert (same.dataset, same.task, same.metadata) == ("d", "d", {})
    (renamed,) = convert(src, "cgr", dataset="e", task="t", plugins=formats).items
    assert (renamed.dataset, renamed.task) == ("e", "t")


def test_bundles_round_trip_through_msgpack_and_a_json_array(tmp_path, formats):
    sample = load_bundle()
    for name in ("sample.msgpack", "sample.json", "sample.jsonl"):
        out = tmp_path / name
        manifest = json.loads(write_bundle(sample.items, out, {"name": "s"}, force=True).read_text())
        assert manifest["count"] == len(sample.items) and manifest["name"] == "s"
        again = load_bundle(out, readers=formats.readers())
        assert again.items == sample.items and again.manifest["name"] == "s"
        assert manifest["sha256"] == again.sha256
    with pytest.raises(FileExistsError, match="--force"):
        write_bundle(sample.items, tmp_path / "sample.msgpack", {})
    with pytest.raises(ValueError, match=r"cannot write a .parquet bundle"):
        write_bundle(sample.items, tmp_path / "x.parquet", {})


def test_msgpack_errors_name_the_item(tmp_path, formats):
    out = tmp_path / "sample.msgpack"
    write_bundle(load_bundle().items, out, {})
    raw = msgspec.msgpack.decode(out.read_bytes())
    raw[2]["answer"] = "Z"
    out.write_bytes(msgspec.msgpack.encode(raw))
    with pytest.raises(BundleError) as err:
        load_bundle(out, readers=formats.readers())
    assert str(err.value).startswith(f"{out}: item 3: answer: 'Z' is not one of the labels")
    out.write_bytes(b"\xc1 not msgpack")
    with pytest.raises(BundleError, match="invalid msgpack"):
        load_bundle(out, readers=formats.readers())
    out.write_bytes(msgspec.msgpack.encode({"not": "an array"}))
    with pytest.raises(BundleError, match="expected a msgpack array, got dict"):
        load_bundle(out, readers=formats.readers())
