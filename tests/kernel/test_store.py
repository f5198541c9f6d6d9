import json

import pytest

from cgr.kernel.records import AssistedChannel, DirectChannel, GeneratorChannel, Record, RunManifest
from cgr.kernel.store import RunStore, StoreError, read_records


def manifest(sha="abc"):
    return RunManifest(
        cgr_version="0",
        created="now",
        config={},
        bundle={"sha256": sha},
        solver={"name": "fake"},
        generator={"name": "template"},
        extractors=[],
        auditors=[],
        versions={},
    )


def record(i):
    return Record(
        item_id=f"i{i}",
        dataset="d",
        task="t",
        solver="fake",
        generator="template",
        gold="A",
        direct=DirectChannel(answer="A", correct=True, calls=1),
        assisted=AssistedChannel(answer=None, correct=False, calls=0, status="timeout"),
        generator_side=GeneratorChannel(answer=None, correct=False, calls=0),
    )


def test_append_and_read_back(tmp_path):
    store = RunStore(tmp_path, manifest())
    for i in range(3):
        store.append(record(i))
    store.close("complete")
    assert [r.item_id for r in read_records(tmp_path)] == ["i0", "i1", "i2"]
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["status"] == "complete" and run["records"] == 3


def test_refuses_to_overwrite_without_resume(tmp_path):
    store = RunStore(tmp_path, manifest())
    store.append(record(0))
    store.close()
    with pytest.raises(StoreError, match="--resume"):
        RunStore(tmp_path, manifest())


def test_resume_drops_partial_line_and_keeps_records(tmp_path):
    store = RunStore(tmp_path, manifest())
    store.append(record(0))
    store.append(record(1))
    store.close()
    with (tmp_path / "records.jsonl").open("ab") as fh:
        fh.write(b'{"item_id": "i2", "dataset"')  # a run killed mid-write
    assert [r.item_id for r in read_records(tmp_path)] == ["i0", "i1"]
    store = RunStore(tmp_path, manifest(), resume=True)
    assert store.done == {"i0", "i1"}
    store.append(record(2))
    store.close()
    lines = (tmp_path / "records.jsonl").read_bytes().splitlines()
    assert [json.loads(x)["item_id"] for x in lines] == ["i0", "i1", "i2"]


def test_resume_refuses_a_different_bundle(tmp_path):
    store = RunStore(tmp_path, manifest("abc"))
    store.append(record(0))
    store.close()
    with pytest.raises(StoreError, match="cannot resume: bundle differs"):
        RunStore(tmp_path, manifest("other"), resume=True)


def test_resume_refuses_another_model(tmp_path):
    store = RunStore(tmp_path, manifest())
    store.append(record(0))
    store.close()
    other = manifest()
    other.solver = {"name": "fake", "model": "another-model"}
    with pytest.raises(StoreError, match="cannot resume: solver differs"):
        RunStore(tmp_path, other, resume=True)


def test_resume_refuses_other_scaffold_limits(tmp_path):
    def with_limits(max_calls):
        m = manifest()
        m.config = {"budget_baseline": False, "limits": {"timeout_s": 30.0, "max_calls": max_calls}}
        return m

    store = RunStore(tmp_path, with_limits(64))
    store.append(record(0))
    store.close()
    with pytest.raises(StoreError, match="cannot resume: config differs.*max_calls"):
        RunStore(tmp_path, with_limits(8), resume=True)
    store = RunStore(tmp_path, with_limits(64), resume=True)  # the same limits resume
    assert store.done == {"i0"}
    store.close()
