"""Direct modes through the pipeline: several modes in one run, the cloze mode against the stored
lm-evaluation-harness output (bench/lmeval_sample.jsonl), and the per_option scaffold against cloze."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cgr.kernel.config import RunConfig
from cgr.kernel.pipeline import run
from cgr.kernel.store import read_manifest, read_records
from tests.plugins.fake_solver import FakeSolver

STORED = Path(__file__).resolve().parents[2] / "bench" / "lmeval_sample.jsonl"
ALL_MODES = ["generate", "grammar", "logprobs", "cloze", "cloze_raw"]


def test_one_run_records_every_requested_mode(plugins, toy_bundle, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(FakeSolver, "logprobs", _counting(FakeSolver.logprobs, calls))
    cfg = RunConfig(
        bundle=toy_bundle,
        out=tmp_path / "run",
        solver="fake",
        strategy="letter",
        direct_mode="cloze",
        direct_modes=ALL_MODES,
    )
    summary = run(cfg, plugins=plugins)
    assert summary.written == 3
    for r in read_records(tmp_path / "run"):
        assert r.direct.mode == "cloze" and sorted(r.direct_modes) == sorted(set(ALL_MODES) - {"cloze"})
        modes = {"cloze": r.direct, **r.direct_modes}
        assert all(ch.calls == 1 and ch.mode == m and ch.error is None for m, ch in modes.items())
        assert modes["cloze"].scores == modes["cloze_raw"].scores and len(modes["cloze"].scores) == len(
            r.direct.raw.split()
        )
        assert modes["cloze"].method == "cloze_acc_norm" and modes["cloze"].prompt_version == "cloze-v1"
        assert modes["logprobs"].scores is not None and modes["generate"].scores is None
        assert modes["grammar"].method == "grammar" and modes["grammar"].answer in {"A", "B", "C", "D"}
    # the fake solver's scores favour the option "Paris": B, A and C in the toy bundle
    assert {r.item_id: r.direct.answer for r in read_records(tmp_path / "run")} == {
        "geo-1": "B",
        "geo-2": "A",
        "sci-1": "C",
    }
    assert len(calls) == 3  # cloze and cloze_raw: one scoring call per item for both
    manifest = read_manifest(tmp_path / "run")
    assert manifest.solver["mode"] == "cloze" and manifest.solver["modes"] == [
        "cloze",
        *[m for m in ALL_MODES if m != "cloze"],
    ]


def _counting(fn, calls):
    def wrapper(self, prompt, continuations):
        calls.append(prompt)
        return fn(self, prompt, continuations)

    return wrapper


# ---------------------------------------------------------------- the real model ----------------
@pytest.mark.slow
def test_per_option_scaffold_and_cloze_mode_agree_item_for_item(tmp_path):
    cfg = RunConfig(limit=25, out=tmp_path / "run", direct_mode="cloze", strategy="per_option")
    run(cfg)
    records = read_records(tmp_path / "run")
    assert len(records) == 25
    for r in records:
        assert r.assisted.status == "ok" and r.assisted.answer == r.direct.answer, r.item_id
        # the scaffold's own scores (one solver_logprobs per option) are the host's, float for float
        assert [c.reply[0] for c in r.assisted.trace] == r.direct.scores, r.item_id


@pytest.mark.slow
def test_cloze_mode_agrees_with_lm_evaluation_harness_acc_norm(tmp_path):
    """``cgr run --direct-mode cloze`` on the shipped sample vs lm-eval's stored per-item acc_norm."""
    lines = [json.loads(x) for x in STORED.read_text().splitlines()]
    meta, stored = lines[0]["meta"], {x["id"]: x for x in lines[1:]}
    assert meta["lm_eval"] and meta["items"] == len(stored) == 250
    cfg = RunConfig(
        out=tmp_path / "run", direct_mode="cloze", direct_modes=["cloze_raw", "generate"], strategy="letter"
    )
    run(cfg)
    records = read_records(tmp_path / "run")
    assert {r.item_id for r in records} == set(stored)
    norm = sum(r.direct.answer == stored[r.item_id]["acc_norm_choice"] for r in records)
    raw = sum(r.direct_modes["cloze_raw"].answer == stored[r.item_id]["acc_choice"] for r in records)
    nbytes = sum(r.direct.answer == stored[r.item_id]["acc_bytes_choice"] for r in records)
    worst = max(abs(a - b) for r in records for a, b in zip(r.direct.scores, stored[r.item_id]["loglik"]))
    print(json.dumps({"acc_norm": norm, "acc": raw, "acc_bytes": nbytes, "n": len(records), "max_nats": worst}))
    assert norm >= 0.98 * len(records) and raw >= 0.98 * len(records)
    # the generate mode keeps the reply's letter and says when its option text names another option
    gen = [r.direct_modes["generate"] for r in records]
    assert all(g.disagreement == (g.answer is not None and g.text_answer not in (None, g.answer)) for g in gen)
