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
