import hashlib
import json

import pytest

from cgr.kernel.bundle import BundleError, load_bundle, sample_bundle_path

GOOD = {"id": "x1", "dataset": "d", "question": "q?", "choices": ["a", "b"], "answer": "A"}


def write(tmp_path, *objs, raw=None):
    path = tmp_path / "b.jsonl"
    lines = [json.dumps(o) for o in objs] + ([raw] if raw is not None else [])
    path.write_text("\n".join(lines) + "\n")
    return path


def test_defaults_labels_and_task(tmp_path):
    b = load_bundle(write(tmp_path, GOOD))
    item = b.items[0]
    assert item.labels == ["A", "B"] and item.task == "d" and item.context is None
    assert len(b.sha256) == 64


@pytest.mark.parametrize(
    "patch, field, needle",
    [
        ({"answer": "C"}, "answer", "not one of the labels"),
        ({"choices": ["a"]}, "choices", "at least 2"),
        ({"choices": "ab"}, "choices", "valid list"),
        ({"labels": ["A"]}, "labels", "1 labels for 2 choices"),
        ({"labels": ["A", "A"]}, "labels", "duplicate"),
        ({"extra": 1}, "extra", "Extra inputs"),
        ({"question": ""}, "question", "at least 1"),
        ({"choices": ["a", " "]}, "choices", "empty option"),
    ],
)
def test_bad_item_names_file_line_field(tmp_path, patch, field, needle):
    path = write(tmp_path, GOOD, {**GOOD, "id": "x2", **patch})
    with pytest.raises(BundleError) as err:
        load_bundle(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:2: {field}: "), msg
    assert needle in msg
    assert "\n" not in msg


def test_missing_field(tmp_path):
    bad = {k: v for k, v in GOOD.items() if k != "id"}
    with pytest.raises(BundleError, match=r":1: id: Field required"):
        load_bundle(write(tmp_path, bad))


def test_invalid_json_and_duplicate_id(tmp_path):
    with pytest.raises(BundleError, match=r"b.jsonl:2: invalid JSON"):
        load_bundle(write(tmp_path, GOOD, raw='{"id": '))
    with pytest.raises(BundleError, match=r"b.jsonl:2: id: duplicate id 'x1' \(first on line 1\)"):
        load_bundle(write(tmp_path, GOOD, GOOD))


def test_not_an_object_and_missing_file(tmp_path):
    with pytest.raises(BundleError, match=r":1: expected a JSON object, got list"):
        load_bundle(write(tmp_path, [1, 2]))
    with pytest.raises(BundleError, match="cannot read"):
        load_bundle(tmp_path / "nope.jsonl")


def test_sample_bundle_loads():
    b = load_bundle()
    assert b.path == sample_bundle_path()
    assert len(b.items) >= 200 and b.manifest["name"] == "cgr-sample"


def toy_reader(path, data):
    """A reader of ``.toy`` files: one JSON object per ``;``-separated part, numbered from 1."""
    for n, part in enumerate(data.decode().split(";"), start=1):
        yield n, json.loads(part)


def write_toy(tmp_path, *objs):
    path = tmp_path / "b.toy"
    path.write_text(";".join(json.dumps(o) for o in objs))
    return path


def test_other_suffixes_are_read_by_the_registered_reader(tmp_path):
    path = write_toy(tmp_path, GOOD, {**GOOD, "id": "x2", "answer": "C"})
    with pytest.raises(BundleError) as err:
        load_bundle(path, readers={".toy": toy_reader})
    assert str(err.value).startswith(f"{path}: item 2: answer: 'C' is not one of the labels")

    def rows(path, data):
        yield from toy_reader(path, data)

    rows.unit = "row"
    with pytest.raises(BundleError, match=r"b.toy: row 2: answer: "):
        load_bundle(path, readers={".toy": rows})
    assert [it.id for it in load_bundle(write_toy(tmp_path, GOOD), readers={".toy": toy_reader}).items] == ["x1"]


def test_a_suffix_no_reader_claims_is_jsonl(tmp_path):
    path = tmp_path / "b.txt"
    path.write_text(json.dumps(GOOD) + "\n\n" + json.dumps({**GOOD, "id": "x2"}) + "\n")
    assert [it.id for it in load_bundle(path, readers={".toy": toy_reader}).items] == ["x1", "x2"]


def test_a_failing_reader_is_one_bundle_error(tmp_path):
    def broken(path, data):
        yield 1, dict(GOOD)
        raise RuntimeError("boom")

    with pytest.raises(BundleError, match=r"^\S*b.toy: cannot read as .toy: RuntimeError: boom$"):
        load_bundle(write_toy(tmp_path, GOOD), readers={".toy": broken})


def test_readers_default_to_the_registered_ones_only_when_needed(tmp_path, monkeypatch):
    loaded = []

    class Fake:
        def readers(self):
            loaded.append(1)
            return {".toy": toy_reader}

    monkeypatch.setattr("cgr.kernel.manager.load_plugins", lambda: Fake())
    assert len(load_bundle(write(tmp_path, GOOD)).items) == 1 and not loaded  # JSONL: no plugins needed
    assert len(load_bundle(write_toy(tmp_path, GOOD)).items) == 1 and loaded == [1]


def test_a_manifest_that_is_not_an_object(tmp_path):
    path = write(tmp_path, GOOD)
    (tmp_path / "manifest.json").write_text("[1]")
    with pytest.raises(BundleError, match=r"manifest.json: expected a JSON object, got list"):
        load_bundle(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / "manifest.json").write_text(json.dumps({"name": "n", "version": "2", "sha256": digest}))
    assert load_bundle(path).describe()["name"] == "n"
