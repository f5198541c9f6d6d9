"""Batched generation (``llama_batch``) on the real default model: concurrent ``complete`` calls decoded
together give the replies of one call at a time.

The reference is the solver with ``batch_slots=1`` (today's path: ``create_completion`` behind the
lock). Requests are queued while the engine's condition is held, so the decode thread admits them
together and they really share decodes (``max_live``), without depending on thread timing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from cgr.kernel.api import SolverConfig, SolverError
from cgr.kernel.bundle import load_bundle
from cgr.plugins import llama_batch
from cgr.plugins.llama_batch import BatchEngine, sample
from cgr.plugins.llama_load import ModelKey, batch_slots, check_options
from cgr.plugins.llama_solver import load_solver


@pytest.fixture(scope="module")
def single():
    return load_solver(SolverConfig())


@pytest.fixture(scope="module")
def batched():
    return load_solver(SolverConfig(options={"batch_slots": "4"}))


@pytest.fixture(scope="module")
def prompts():
    items = load_bundle(None).items[:8]
    return [f"Question: {it.question}\nAnswer in one sentence." for it in items]


def tokens(solver, prompt):
    return solver._tokens(solver.chat_prompt(prompt), bos=True)


def submit_together(engine, requests):
    """Queue every ``(tokens, kwargs)`` before the decode thread may admit any; wait for all."""
    with engine._cond:
        queued = [engine.submit(t, **kw) for t, kw in requests]
    for r in queued:
        assert r.done.wait(600)
    return queued


def test_greedy_replies_in_a_batch_equal_one_call_at_a_time(single, batched, prompts):
    ref = [single.complete(p, max_tokens=40) for p in prompts]
    engine = batched.batch_engine()
    got = submit_together(engine, [(tokens(batched, p), {"max_tokens": 40}) for p in prompts])
    assert engine.max_live == 4  # four sequences sampled from one decode
    assert [r.error for r in got] == [None] * len(prompts)
    assert [r.reply.text for r in got] == [c.text for c in ref]
    assert [r.reply.completion_tokens for r in got] == [c.completion_tokens for c in ref]
    assert [r.reply.prompt_tokens for r in got] == [c.prompt_tokens for c in ref]
    # and through the solver API from 4 threads (the way `cgr run --workers 4` calls it)
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda p: batched.complete(p, max_tokens=40), prompts))
    assert threaded == ref
    assert len({c.text for c in ref}) > 1  # the prompts do lead to different replies


def test_a_seeded_sample_is_the_same_alone_and_in_a_batch(batched, prompts):
    engine = batched.batch_engine()
    target = tokens(batched, prompts[0])
    alone = [engine.generate(target, max_tokens=24, temperature=0.9, seed=s).text for s in (1, 2, 3)]
    others = [(tokens(batched, p), {"max_tokens": 24, "temperature": 0.9, "seed": 7}) for p in prompts[1:6]]
    mixed = submit_together(engine, [(target, {"max_tokens": 24, "temperature": 0.9, "seed": 2}), *others])
    assert mixed[0].reply.text == alone[1]
    assert len(set(alone)) > 1  # the seed matters: a sample, not the greedy reply
    via_solver = batched.complete(prompts[0], max_tokens=24, temperature=0.9, seed=3)
    assert via_solver.text == alone[2]


def test_max_tokens_and_stop_strings_as_one_call_at_a_time(single, batched, prompts):
    long = single.complete(prompts[1], max_tokens=40)
    words = long.text.split()
    assert len(words) > 4
    stop = " " + words[3]
    for kwargs in ({"max_tokens": 5}, {"max_tokens": 40, "stop": [stop]}, {"max_tokens": 40, "stop": ["zzz", ""]}):
        want = single.complete(prompts[1], **kwargs)
        with ThreadPoolExecutor(3) as pool:
            got = list(pool.map(lambda p, kw=kwargs: batched.complete(p, **kw), [prompts[1], prompts[2], prompts[3]]))
        assert got[0] == want, kwargs
    assert batched.complete(prompts[1], max_tokens=5).completion_tokens == 5
    cut = batched.complete(prompts[1], max_tokens=40, stop=[stop]).text
    assert cut == long.text[: long.text.index(stop)] and stop not in cut
    assert batched.complete(prompts[1], max_tokens=40, stop=[""]).text == ""


class FailingEngine(BatchEngine):
    """Test-only engine whose sampling raises for one marked prompt (a fault in one request)."""

    poison: list[int] = []

    def _pick(self, req, logits):
        if req.tokens == self.poison and req.out:
            raise RuntimeError("sampling failed for this request")
        return super()._pick(req, logits)


def test_an_error_in_one_request_fails_that_request_only(batched, prompts):
    engine = FailingEngine(batched.llm, slots=4, n_ctx=batched.config.n_ctx, n_threads=batched.n_threads)
    toks = [tokens(batched, p) for p in prompts[:4]]
    engine.poison = toks[1]
    ref = [engine.generate(t, max_tokens=12).text for t in (toks[0], toks[2], toks[3])]
    got = submit_together(engine, [(t, {"max_tokens": 12}) for t in toks])
    assert isinstance(got[1].error, RuntimeError) and got[1].reply is None
    assert [got[i].reply.text for i in (0, 2, 3)] == ref
    with pytest.raises(RuntimeError, match="sampling failed"):
        engine.generate(toks[1], max_tokens=12)
    # a prompt that does not fit is refused in its caller's thread; the engine goes on
    with pytest.raises(ValueError, match="does not fit the context window"):
        engine.generate([toks[0][0]] * batched.config.n_ctx, max_tokens=4)
    with pytest.raises(ValueError, match="temperature"):
        engine.generate(toks[0], max_tokens=4, temperature=float("nan"))
    assert engine.generate(toks[0], max_tokens=12).text == ref[0]


def test_choices_and_scoring_still_work_with_batch_slots(single, batched, prompts):
    prompt = prompts[0] + "\nAnswer with A, B, C or D."
    assert (
        batched.complete(prompt, choices=["A", "B", "C", "D"]).text
        == single.complete(prompt, choices=["A", "B", "C", "D"]).text
    )
    assert batched.label_logprobs(prompt, ["A", "B"]) == single.label_logprobs(prompt, ["A", "B"])
    assert batched.logprobs("The sky is", [" blue", " green"]) == single.logprobs("The sky is", [" blue", " green"])
    assert batched.info()["batch_slots"] == 4 and single.info()["batch_slots"] == 1


def test_the_decode_thread_exits_when_idle_and_restarts(batched, prompts, monkeypatch):
    monkeypatch.setattr(llama_batch, "IDLE_EXIT_S", 0.05)
    engine = BatchEngine(batched.llm, slots=2, n_ctx=batched.config.n_ctx, n_threads=batched.n_threads)
    t = tokens(batched, prompts[0])
    first = engine.generate(t, max_tokens=4).text
    thread = engine._thread
    assert thread is not None
    thread.join(60)
    assert not thread.is_alive() and engine._thread is None
    assert engine.generate(t, max_tokens=4).text == first


def test_batch_slots_option():
    assert batch_slots({}) == 1 and batch_slots({"batch_slots": "16"}) == 16
    for bad in ("0", "65", "x", True, "2.5"):
        with pytest.raises(
            SolverError, match=r"^llama solver: --solver-option batch_slots=.*: expected an integer 1\.\.64$"
        ):
            check_options({"batch_slots": bad})
    with pytest.raises(SolverError, match=r"unknown --solver-option nosuch .*batch_slots=1\.\.64"):
        check_options({"nosuch": 1})
    key = ModelKey.of(Path("/m.gguf"), SolverConfig(options={"batch_slots": 8}))
    assert key.batch_slots == 8 and ModelKey.of(Path("/m.gguf"), SolverConfig()).batch_slots == 1


def test_sample_greedy_topk_and_seeded():
    logits = np.array([0.0, 3.0, 1.0, 2.9, -5.0], dtype=np.float32)
    assert sample(logits, 0.0, np.random.default_rng(0)) == 1
    draws = [sample(logits, 1.0, np.random.default_rng(s)) for s in range(200)]
    assert set(draws) <= {1, 3, 2, 0} and 4 not in draws and {1, 3} <= set(draws)
    again = [sample(logits, 1.0, np.random.default_rng(s)) for s in range(200)]
    assert draws == again
    cold = [sample(logits, 0.005, np.random.default_rng(s)) for s in range(50)]
    assert set(cold) == {1}  # at a low temperature the 0.1 logit gap decides (20 nats)
