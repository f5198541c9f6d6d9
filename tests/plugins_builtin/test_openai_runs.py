"""Runs through the pipeline with the ``openai`` solver on a stub server: workers, refused prompts
recorded as the item's error, a refused key or a dead server stopping the run, ``--resume``.
"""

from __future__ import annotations

import pytest

from cgr.kernel.api import SolverError
from cgr.kernel.manager import load_plugins
from tests.plugins_builtin.openai_stub import MODEL_ID, Stub, clear_env, free_port
from tests.records import records_without_timings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    clear_env(monkeypatch)


@pytest.fixture
def stub():
    with Stub() as server:
        yield server


def test_a_run_with_workers_against_the_server_matches_a_sequential_one(stub, toy_bundle, tmp_path):
    from cgr.kernel.config import RunConfig
    from cgr.kernel.pipeline import run

    def records(out, workers):
        cfg = RunConfig(
            bundle=toy_bundle,
            out=out,
            solver="openai",
            model=MODEL_ID,
            workers=workers,
            solver_options={"base_url": stub.url, "backoff_s": "0.01"},
        )
        run(cfg, plugins=load_plugins(entry_points=False))
        return records_without_timings(out)

    one, three = records(tmp_path / "one", 1), records(tmp_path / "three", 3)
    assert three == one and [r["item_id"] for r in three] == ["geo-1", "geo-2", "sci-1"]
    assert all(r["assisted"]["status"] == "ok" and r["assisted"]["prompt_tokens"] > 0 for r in three)


TOO_LONG = {"error": {"message": "the request exceeds the available context size"}}


def _pipeline_config(stub_url: str, bundle, out, **overrides):
    from cgr.kernel.config import RunConfig

    options = {"base_url": stub_url, "backoff_s": "0.01", "max_retries": "1"}
    return RunConfig(
        bundle=bundle, out=out, solver="openai", model=MODEL_ID, strategy="letter", solver_options=options, **overrides
    )


# The toy bundle's direct prompt for sci-1 and the letter scaffold's prompt for geo-2 (only those).
SCI1_DIRECT = "C. Paris\nAnswer with the letter of the correct option only."
GEO2_SCAFFOLD = "C. Oslo\nAnswer with the letter only."


def test_a_rejected_prompt_is_recorded_and_the_run_goes_on_and_resume_adds_nothing(stub, toy_bundle, tmp_path):
    from cgr.kernel.pipeline import run
    from cgr.kernel.store import read_manifest

    stub.rejects = [(SCI1_DIRECT, 400, TOO_LONG), (GEO2_SCAFFOLD, 400, TOO_LONG)]
    out = tmp_path / "run"
    summary = run(_pipeline_config(stub.url, toy_bundle, out), plugins=load_plugins(entry_points=False))
    assert (summary.written, summary.total) == (3, 3) and read_manifest(out).status == "complete"
    recs = {r["item_id"]: r for r in records_without_timings(out)}
    assert list(recs) == ["geo-1", "geo-2", "sci-1"]
    refused = (
        f"OpenAIRequestError: POST {stub.url}/chat/completions: HTTP 400 Bad Request: "
        "the request exceeds the available context size"
    )
    sci, geo2, geo1 = recs["sci-1"]["direct"], recs["geo-2"]["assisted"], recs["geo-1"]
    assert sci["error"] == refused and sci["answer"] is None and not sci["correct"]
    assert recs["sci-1"]["assisted"]["status"] == "ok"  # its scaffold's own prompt was fine
    assert geo2["status"] == "error" and geo2["answer"] is None and refused in geo2["error"]
    assert [c["error"] for c in geo2["trace"]] == [refused]
    assert recs["geo-2"]["direct"]["error"] is None and recs["geo-2"]["direct"]["answer"] is not None
    assert geo1["direct"]["error"] is None and geo1["assisted"]["status"] == "ok"
    seen, lines = len(stub.requests), (out / "records.jsonl").read_bytes()
    again = run(_pipeline_config(stub.url, toy_bundle, out, resume=True), plugins=load_plugins(entry_points=False))
    assert (again.written, again.skipped, again.total) == (0, 3, 3)
    assert (out / "records.jsonl").read_bytes() == lines and len(stub.requests) == seen  # no retry, no loop
    assert read_manifest(out).status == "complete"


@pytest.mark.parametrize("where", ["direct", "scaffold"])
def test_a_refused_key_still_stops_the_run(stub, toy_bundle, tmp_path, where):
    from cgr.kernel.pipeline import run
    from cgr.kernel.store import read_manifest

    needle = "C. Oslo\nAnswer with the letter" + (" of the correct option only." if where == "direct" else " only.")
    stub.rejects = [(needle, 401, {"error": {"message": "invalid api key"}})]
    out = tmp_path / "run"
    with pytest.raises(SolverError, match=r"HTTP 401 .*invalid api key"):
        run(_pipeline_config(stub.url, toy_bundle, out), plugins=load_plugins(entry_points=False))
    assert [r["item_id"] for r in records_without_timings(out)] == ["geo-1"]  # geo-2 is not recorded
    assert read_manifest(out).status == "interrupted"
    stub.rejects = []  # the key is fixed: --resume redoes geo-2 and finishes
    again = run(_pipeline_config(stub.url, toy_bundle, out, resume=True), plugins=load_plugins(entry_points=False))
    assert (again.written, again.skipped) == (2, 1) and read_manifest(out).status == "complete"


def test_connection_refused_still_stops_the_run(toy_bundle, tmp_path):
    from cgr.kernel.pipeline import run

    url = f"http://127.0.0.1:{free_port()}/v1"
    out = tmp_path / "run"
    with pytest.raises(SolverError, match=r"cannot connect"):
        run(_pipeline_config(url, toy_bundle, out), plugins=load_plugins(entry_points=False))
    assert not (out / "records.jsonl").read_text()
