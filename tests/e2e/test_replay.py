"""`cgr replay`: a run's scaffolds again, answered from their own call traces (no model)."""

import json

import pytest
from click.testing import CliRunner

from cgr.kernel.cli import main
from cgr.kernel.config import RunConfig
from cgr.kernel.pipeline import Engine, run
from cgr.kernel.store import StoreError
from cgr.plugins.replay import replay
from tests.plugins.fake_solver import FakeSolver


def fake_run(plugins, bundle, out, solver=None):
    cfg = RunConfig(bundle=bundle, out=out, solver="fake")
    engine = Engine.from_config(cfg, plugins)
    if solver is not None:
        engine.solver = solver
    run(cfg, engine=engine)
    return out


def edit_records(out, edit):
    path = out / "records.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    edit(rows)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


class PickyServer(FakeSolver):
    """Refuses to score one option of one item (the scaffold does not catch it: status error)."""

    def logprobs(self, prompt, continuations):
        if "boils" in prompt and "Paris" in continuations[0]:
            raise ValueError("Requested tokens exceed context window")
        return super().logprobs(prompt, continuations)


def test_a_run_replays_exactly_without_its_model(plugins, toy_bundle, tmp_path):
    out = fake_run(plugins, toy_bundle, tmp_path / "run", PickyServer())
    results = list(replay(out, plugins=plugins))
    assert [r.item_id for r in results] == ["geo-1", "geo-2", "sci-1"]
    assert all(r.match and r.divergence is None and r.stdout_match for r in results)
    sci = results[2]
    assert sci.recorded["status"] == sci.replayed["status"] == "error"  # the recorded refusal, again
    res = CliRunner().invoke(main, ["replay", str(out)])
    assert res.exit_code == 0 and "3 record(s) replayed without a model: 3 reproduced, 0 differ" in res.output


def test_a_changed_reply_changes_the_answer_and_is_reported(plugins, toy_bundle, tmp_path):
    out = fake_run(plugins, toy_bundle, tmp_path / "run")

    def favour_berlin(rows):  # geo-1 recorded Paris (B) as the best option; make Berlin (A) win
        rows[0]["assisted"]["trace"][0]["reply"] = [5.0]

    edit_records(out, favour_berlin)
    (geo1, *rest) = replay(out, plugins=plugins)
    assert not geo1.match and geo1.divergence is None
    assert geo1.recorded["answer"] == "B" and geo1.replayed["answer"] == "A"
    assert all(r.match for r in rest)
    res = CliRunner().invoke(main, ["replay", str(out)])
    assert res.exit_code == 1 and "geo-1: recorded" in res.output and "1 differ" in res.output


def test_a_program_that_asks_something_else_diverges_at_that_call(plugins, toy_bundle, tmp_path):
    out = fake_run(plugins, toy_bundle, tmp_path / "run")

    def tamper(rows):
        rows[1]["assisted"]["trace"][1]["prompt"] = "Question: something else\nAnswer:"
        del rows[2]["assisted"]["trace"][-1]

    edit_records(out, tamper)
    _, geo2, sci1 = replay(out, plugins=plugins)
    assert not geo2.match and geo2.divergence.startswith("call 2: recorded logprobs('Question: something else")
    assert not sci1.match and sci1.divergence == "call 3: logprobs beyond the 2 recorded call(s)"


def test_the_bundle_must_be_the_runs_own(plugins, toy_bundle, tmp_path):
    out = fake_run(plugins, toy_bundle, tmp_path / "run")
    other = tmp_path / "other.jsonl"
    other.write_text(toy_bundle.read_text().replace("capital of France", "capital of Peru"))
    with pytest.raises(StoreError, match="not the bundle of this run"):
        list(replay(out, bundle=other, plugins=plugins))
    moved = tmp_path / "moved.jsonl"
    moved.write_text(toy_bundle.read_text())
    toy_bundle.unlink()
    assert all(r.match for r in replay(out, bundle=moved, plugins=plugins))


def test_records_without_a_program_are_counted_apart(plugins, toy_bundle, tmp_path):
    out = fake_run(plugins, toy_bundle, tmp_path / "run")

    def generator_failed(rows):
        rows[0]["assisted"].update(program="", trace=[], status="generator_error", answer=None, calls=0)

    edit_records(out, generator_failed)
    first, *_ = replay(out, plugins=plugins)
    assert first.replayed is None and first.match
    res = CliRunner().invoke(main, ["replay", str(out)])
    assert res.exit_code == 0
    assert "2 record(s) replayed without a model: 2 reproduced, 0 differ; 1 without a program" in res.output
