"""The pipeline end to end with the real sandbox and the test-only fake solver (fast)."""

import json
import threading

import msgspec
import pytest

from cgr.kernel.api import SolverError
from cgr.kernel.config import RunConfig, SandboxLimits
from cgr.kernel.manager import PluginError
from cgr.kernel.pipeline import Engine, run
from cgr.kernel.records import Record
from cgr.kernel.store import read_records
from tests.plugins.fake_solver import FakeSolver
from tests.records import records_without_timings


def config(bundle, out, **kw):
    return RunConfig(bundle=bundle, out=out, solver="fake", **kw)


def test_run_writes_contract_records(plugins, toy_bundle, tmp_path):
    out = tmp_path / "run"
    summary = run(config(toy_bundle, out), plugins=plugins)
    assert summary.written == 3
    lines = (out / "records.jsonl").read_text().splitlines()
    assert len(lines) == 3
    for line in lines:
        rec = json.loads(line)
        for key in (
            "item_id",
            "dataset",
            "task",
            "solver",
            "generator",
            "gold",
            "direct",
            "assisted",
            "generator_side",
            "audits",
        ):
            assert key in rec
        for ch in ("direct", "assisted", "generator_side"):
            assert {"answer", "correct", "calls"} <= set(rec[ch])
        assert rec["assisted"]["status"] == "ok"
        assert len(rec["assisted"]["program_sha256"]) == 64
        assert {a["verdict"] for a in rec["audits"]} <= {"pass", "flag"}
        msgspec.json.decode(line, type=Record)
    recs = {r.item_id: r for r in read_records(out)}
    # fake solver: logprobs prefer options containing "Paris"; per_option calls once per option
    assert recs["geo-1"].assisted.answer == "B" and recs["geo-1"].assisted.correct
    assert recs["geo-1"].assisted.calls == 4 and len(recs["geo-1"].assisted.trace) == 4
    assert recs["sci-1"].assisted.answer == "C" and not recs["sci-1"].assisted.correct
    # fake direct reply "The answer is B" -> answer_is extractor
    assert recs["geo-2"].direct.answer == "B" and recs["geo-2"].direct.method == "answer_is"
    assert all(a.verdict == "pass" for r in recs.values() for a in r.audits)
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "complete" and manifest["records"] == 3
    assert manifest["solver"]["name"] == "fake" and manifest["generator"]["strategy"] == "per_option"


def test_resume_does_not_duplicate(plugins, toy_bundle, tmp_path):
    out = tmp_path / "run"
    run(config(toy_bundle, out, limit=1), plugins=plugins)
    summary = run(config(toy_bundle, out, resume=True), plugins=plugins)
    assert (summary.written, summary.skipped, summary.total) == (2, 1, 3)
    ids = [r.item_id for r in read_records(out)]
    assert sorted(ids) == ["geo-1", "geo-2", "sci-1"] and len(ids) == 3


class HostileGenerator:
    """Scaffolds that misbehave in every typed way; the run must record each and go on."""

    name = "hostile"
    PROGRAMS = {
        "geo-1": "while True:\n    pass\n",
        "geo-2": "while True:\n    print('x' * 1000)\n",
        "sci-1": "raise RuntimeError('boom')\n",
    }

    def info(self):
        return {"name": self.name}

    def generate(self, item):
        from cgr.kernel.api import Scaffold

        return Scaffold(source=self.PROGRAMS[item["id"]])


def test_hostile_scaffolds_are_recorded_and_the_run_continues(plugins, toy_bundle, tmp_path):
    cfg = config(toy_bundle, tmp_path / "run", limits=SandboxLimits(timeout_s=1.0, max_output_bytes=4096))
    engine = Engine.from_config(cfg, plugins)
    engine.generator, engine.generator_name = HostileGenerator(), "hostile"
    summary = run(cfg, engine=engine)
    statuses = {r.item_id: r.assisted.status for r in summary.records}
    assert statuses == {"geo-1": "timeout", "geo-2": "output_cap", "sci-1": "error"}
    errors = {r.item_id: r.assisted.error for r in summary.records}
    assert "boom" in errors["sci-1"]
    for r in summary.records:
        assert r.assisted.answer is None and not r.assisted.correct
        verdicts = {a.auditor: a.verdict for a in r.audits}
        assert verdicts["hardcode"] == verdicts["solver_use"] == "flag"
        assert {v for name, v in verdicts.items() if name not in ("hardcode", "solver_use")} == {"pass"}
    assert len(read_records(tmp_path / "run")) == 3


def test_generator_failure_is_recorded(plugins, toy_bundle, tmp_path):
    cfg = config(toy_bundle, tmp_path / "run")
    engine = Engine.from_config(cfg, plugins)

    class Broken:
        name = "broken"

        def info(self):
            return {}

        def generate(self, item):
            raise RuntimeError("generator down")

    engine.generator = Broken()
    summary = run(cfg, engine=engine)
    assert {r.assisted.status for r in summary.records} == {"generator_error"}
    assert "generator down" in summary.records[0].assisted.error


def test_records_validate_against_the_published_schema(plugins, toy_bundle, tmp_path):
    from pathlib import Path

    import jsonschema

    specs = Path(__file__).resolve().parents[2] / "specs" / "schemas"
    out = tmp_path / "run"
    run(config(toy_bundle, out), plugins=plugins)
    schema = json.loads((specs / "record.schema.json").read_text())
    for line in (out / "records.jsonl").read_text().splitlines():
        jsonschema.validate(json.loads(line), schema)
    manifest_schema = json.loads((specs / "run_manifest.schema.json").read_text())
    jsonschema.validate(json.loads((out / "run.json").read_text()), manifest_schema)
    bad = json.loads(line)
    bad["assisted"]["calls"] = "three"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


class RefusingSolver(FakeSolver):
    """Refuses one item's direct prompt the way llama.cpp refuses a prompt over its context."""

    def complete(self, prompt, **kw):
        if "Water boils" in prompt:
            raise ValueError("Requested tokens (5000) exceed context window of 2048")
        return super().complete(prompt, **kw)


class DownSolver(FakeSolver):
    """An inference server that went away after the first item."""

    def __init__(self, config=None, fail_in="logprobs"):
        super().__init__(config)
        self.fail_in = fail_in

    def logprobs(self, prompt, continuations):
        if self.fail_in == "logprobs" and "Which city" in prompt:
            raise SolverError("POST http://127.0.0.1:9/v1/completions: connection refused (3 attempts)")
        return super().logprobs(prompt, continuations)


def test_an_item_the_solver_refuses_is_recorded_and_the_run_goes_on(plugins, toy_bundle, tmp_path):
    cfg = config(toy_bundle, tmp_path / "run")
    engine = Engine.from_config(cfg, plugins)
    engine.solver = RefusingSolver()
    summary = run(cfg, engine=engine)
    recs = {r.item_id: r for r in summary.records}
    assert len(recs) == 3
    assert recs["sci-1"].direct.answer is None and "exceed context window" in recs["sci-1"].direct.error
    assert recs["geo-1"].direct.error is None and recs["geo-1"].direct.answer == "B"
    assert summary.direct_errors == 1 and summary.first_error[0] == "sci-1"
    assert summary.first_error[1].startswith("ValueError: Requested tokens (5000)")


def test_a_failed_solver_call_inside_a_scaffold_is_the_first_error(plugins, toy_bundle, tmp_path):
    class BrokenScores(FakeSolver):
        def logprobs(self, prompt, continuations):
            raise RuntimeError("scores broken")

    cfg = config(toy_bundle, tmp_path / "run")
    engine = Engine.from_config(cfg, plugins)
    engine.solver = BrokenScores()
    summary = run(cfg, engine=engine)
    assert [r.assisted.status for r in summary.records] == ["error"] * 3
    assert summary.direct_errors == 0  # the direct channel did not use logprobs
    assert summary.first_error == ("geo-1", "HostError: solver failed: RuntimeError: scores broken")


def test_a_solver_with_a_wrong_signature_stops_before_anything_is_written(plugins, toy_bundle, tmp_path):
    class NoChoices(FakeSolver):
        def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None):
            return super().complete(prompt, max_tokens=max_tokens)

    cfg = config(toy_bundle, tmp_path / "run")
    engine = Engine.from_config(cfg, plugins)
    engine.solver = NoChoices()
    with pytest.raises(PluginError, match=r"^solver 'fake': complete\(\) lacks keyword 'choices'$"):
        run(cfg, engine=engine)
    assert not (tmp_path / "run").exists()


def test_a_solver_outage_stops_the_run_without_a_false_record(plugins, toy_bundle, tmp_path):
    cfg = config(toy_bundle, tmp_path / "run")
    engine = Engine.from_config(cfg, plugins)
    engine.solver = DownSolver()
    with pytest.raises(SolverError, match="connection refused"):
        run(cfg, engine=engine)
    assert [r.item_id for r in read_records(tmp_path / "run")] == ["geo-1"]
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "interrupted"
    engine.solver = FakeSolver()  # the server is back
    summary = run(cfg.model_copy(update={"resume": True}), engine=engine)
    assert summary.skipped == 1 and summary.written == 2
    assert sorted(r.item_id for r in read_records(tmp_path / "run")) == ["geo-1", "geo-2", "sci-1"]


def test_budget_matched_baseline(plugins, toy_bundle, tmp_path):
    from cgr.plugins.stats import report

    out = tmp_path / "run"
    summary = run(config(toy_bundle, out, budget_baseline=True), plugins=plugins)
    for r in summary.records:
        b = r.budget_matched
        # the per_option scaffold makes one scoring call per option: the baseline makes as many, of
        # the same kind; the first is the greedy cloze answer and wins ties
        assert b is not None and b.calls == r.assisted.calls == len(r.assisted.trace)
        assert {k: n for k, n in b.calls_by_kind.items() if n} == {"score": b.calls}
        assert sum(b.votes.values()) <= b.calls and b.greedy is not None
        top = max(b.votes.values())
        assert b.answer == (b.greedy if b.votes.get(b.greedy) == top else max(b.votes, key=b.votes.get))
        assert b.correct == (b.answer == r.gold)
    rep = report(read_records(out), resamples=200)
    part = rep["partitions"]["all"]
    macro = sum(c["budget_acc"] for c in rep["cells"]) / len(rep["cells"])
    assert part["macro_budget"] == pytest.approx(macro)
    assert part["delta_vs_budget"] == pytest.approx(part["macro_assisted"] - part["macro_budget"])
    assert part["ci_low_vs_budget"] <= part["delta_vs_budget"] <= part["ci_high_vs_budget"]
    # resuming with the baseline switched off would mix two kinds of records: refused
    with pytest.raises(Exception, match="budget_baseline"):
        run(config(toy_bundle, out, resume=True), plugins=plugins)


def test_no_budget_fields_without_the_baseline(plugins, toy_bundle, tmp_path):
    from cgr.plugins.reports import format_table
    from cgr.plugins.stats import report

    run(config(toy_bundle, tmp_path / "run"), plugins=plugins)
    rep = report(read_records(tmp_path / "run"), resamples=100)
    assert all(c["budget_acc"] is None for c in rep["cells"])
    assert "macro_budget" not in rep["partitions"]["all"]
    assert "budget" not in format_table(rep)


def test_fuel_exhaustion_is_its_own_record_status(plugins, toy_bundle, tmp_path):
    cfg = config(toy_bundle, tmp_path / "run", limit=1, limits=SandboxLimits(timeout_s=60.0, fuel=50_000_000))
    engine = Engine.from_config(cfg, plugins)
    engine.generator, engine.generator_name = HostileGenerator(), "hostile"  # geo-1 loops forever
    (record,) = run(cfg, engine=engine).records
    assert record.assisted.status == "fuel" and "fuel limit" in record.assisted.error


def test_scoring_calls_count_their_tokens(plugins, toy_bundle, tmp_path):
    out = tmp_path / "run"
    run(config(toy_bundle, out, direct_mode="logprobs"), plugins=plugins)
    for rec in read_records(out):
        trace = rec.assisted.trace
        assert all(c.op == "logprobs" for c in trace)
        # the fake solver's Scores: prompt + continuation characters, summed over the scaffold's calls
        assert [c.prompt_tokens for c in trace] == [len(c.prompt) + len(c.options["continuations"][0]) for c in trace]
        assert rec.assisted.prompt_tokens == sum(c.prompt_tokens for c in trace) > 0
        assert rec.direct.prompt_tokens == 0  # label_logprobs returned a plain list: unknown, not guessed


def many_items(path, n=13):
    rows = [
        {
            "id": f"q{i:02d}",
            "dataset": "toy",
            "task": f"t{i % 3}",
            "question": f"Which one is Paris ({i})?",
            "choices": ["Rome", "Paris", "Oslo"] if i % 2 else ["Paris", "Lima", "Oslo", "Bern"],
            "answer": "B" if i % 3 else "A",
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_workers_give_the_same_records_in_bundle_order(plugins, tmp_path):
    bundle = many_items(tmp_path / "many.jsonl")
    run(config(bundle, tmp_path / "one"), plugins=plugins)
    summary = run(config(bundle, tmp_path / "four", workers=4), plugins=plugins)
    assert summary.written == 13
    four = records_without_timings(tmp_path / "four")
    assert four == records_without_timings(tmp_path / "one")
    assert [r["item_id"] for r in four] == [f"q{i:02d}" for i in range(13)]


class RendezvousSolver(FakeSolver):
    """Its first two direct answers wait for each other: they can only both return if two items
    are in flight at once (a sequential run would break the barrier after its timeout)."""

    def __init__(self):
        super().__init__()
        self.barrier = threading.Barrier(2, timeout=60)
        self.waits = 0
        self.lock = threading.Lock()

    def complete(self, prompt, **kw):
        with self.lock:
            self.waits += 1
            wait = self.waits <= 2
        if wait:
            self.barrier.wait()
        return super().complete(prompt, **kw)


def test_workers_really_run_items_at_once(plugins, tmp_path):
    cfg = config(many_items(tmp_path / "many.jsonl", n=4), tmp_path / "run", workers=2)
    engine = Engine.from_config(cfg, plugins)
    engine.solver = RendezvousSolver()
    summary = run(cfg, engine=engine)
    assert not engine.solver.barrier.broken  # broken (and recorded as direct errors) if run one by one
    assert summary.written == 4 and all(r.direct.error is None for r in summary.records)


def test_a_failure_with_workers_keeps_the_records_before_it_and_resume_finishes(plugins, toy_bundle, tmp_path):
    cfg = config(toy_bundle, tmp_path / "run", workers=3)
    engine = Engine.from_config(cfg, plugins)
    engine.solver = DownSolver()  # fails on geo-2, the second item; sci-1 may finish meanwhile
    with pytest.raises(SolverError, match="connection refused"):
        run(cfg, engine=engine)
    assert [r.item_id for r in read_records(tmp_path / "run")] == ["geo-1"]
    engine.solver = FakeSolver()
    summary = run(cfg.model_copy(update={"resume": True}), engine=engine)
    assert summary.written == 2
    assert [r.item_id for r in read_records(tmp_path / "run")] == ["geo-1", "geo-2", "sci-1"]


def test_solver_settings_reach_the_solver(plugins, toy_bundle, tmp_path):
    engine = Engine.from_config(config(toy_bundle, tmp_path / "run", n_threads=3, gpu_layers=0, seed=7), plugins)
    got = engine.solver.config
    assert (got.n_threads, got.gpu_layers, got.seed) == (3, 0, 7)


class PriorSolver(FakeSolver):
    """Knows a prior: after a bare "Answer:" the common word "Paris" is likely whatever the question."""

    def logprobs(self, prompt, continuations):
        self.calls.append(("logprobs", prompt))
        if prompt == "Answer:":
            return [-1.0 if "Paris" in c else -6.0 for c in continuations]
        return [-2.0 if "Paris" in c else -3.0 if "Rome" in c else -9.0 for c in continuations]


def test_pmi_strategy_subtracts_the_options_prior(plugins, toy_bundle, tmp_path):
    cfg = config(toy_bundle, tmp_path / "run", strategy="pmi", limit=1)
    engine = Engine.from_config(cfg, plugins)
    engine.solver = PriorSolver()
    (rec,) = run(cfg, engine=engine).records
    # geo-1: Berlin, Paris, Rome, Madrid. Given the question Paris is likeliest (-2), but it is likely
    # anyway (-1): PMI Paris -1, Rome +3, Berlin/Madrid -3 -> Rome (C)
    assert rec.assisted.answer == "C" and rec.assisted.status == "ok" and rec.assisted.calls == 2
    assert [c.prompt for c in rec.assisted.trace] == ["Question: What is the capital of France?\nAnswer:", "Answer:"]
    assert rec.generator == "template/pmi" and all(a.verdict == "pass" for a in rec.audits)
    cfg = config(toy_bundle, tmp_path / "po", limit=1)
    engine = Engine.from_config(cfg, plugins)
    engine.solver = PriorSolver()
    (per_option,) = run(cfg, engine=engine).records
    assert per_option.assisted.answer == "B"  # the same solver, plain cloze scores: Paris
