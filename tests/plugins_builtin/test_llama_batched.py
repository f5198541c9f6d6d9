"""The llama solver's batched scoring and grammar-constrained choices, on the real default model.

``logprobs`` evaluates the prompt once and scores every continuation in one batched decode; the
reference here is lm-evaluation-harness's way: prompt + continuation evaluated from scratch, as one
sequence in one forward pass, reading the continuation tokens' log-probabilities.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from cgr.kernel import prompts
from cgr.kernel.api import SolverConfig
from cgr.kernel.bundle import load_bundle
from cgr.plugins import llama_score
from cgr.plugins.direct_modes import cloze_continuations
from cgr.plugins.llama_grammar import choices_gbnf, gbnf_literal
from cgr.plugins.llama_solver import load_solver


@pytest.fixture(scope="module")
def solver():
    return load_solver(SolverConfig())


@pytest.fixture(scope="module")
def items():
    return load_bundle(None).items[:30]


class FullPass:
    """The reference: one fresh sequence holding prompt + continuation, one forward pass, on a context
    with the scorer's settings but one sequence."""

    def __init__(self, solver, *, flash: bool = True, ubatch: int = llama_score.UBATCH):
        from llama_cpp import llama_cpp as lib

        params = lib.llama_context_default_params()
        params.n_ctx, params.n_batch, params.n_ubatch = solver.config.n_ctx, solver.config.n_ctx, ubatch
        params.flash_attn_type = lib.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash else lib.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.n_threads = params.n_threads_batch = solver.n_threads
        self.lib, self.solver = lib, solver
        self.ctx = lib.llama_init_from_model(solver.llm._model.model, params)

    def __call__(self, prompt: str, continuation: str) -> float:
        lib, s = self.lib, self.solver
        p, c = s._tokens(prompt, bos=True), s._tokens(continuation, bos=False)
        tokens = p + c
        lib.llama_memory_clear(lib.llama_get_memory(self.ctx), True)
        batch = lib.llama_batch_init(len(tokens), 0, 1)
        for i, t in enumerate(tokens):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = t, i, 1
            batch.seq_id[i][0], batch.logits[i] = 0, i >= len(p) - 1
        batch.n_tokens = len(tokens)
        assert lib.llama_decode(self.ctx, batch) == 0
        lib.llama_batch_free(batch)
        n_vocab = s.llm.n_vocab()
        rows = [lib.llama_get_logits_ith(self.ctx, len(p) - 1 + i) for i in range(len(c))]
        return sum(
            float(llama_score.log_softmax(np.ctypeslib.as_array(r, shape=(n_vocab,)))[t]) for r, t in zip(rows, c)
        )

    def close(self):
        self.lib.llama_free(self.ctx)


def cloze(item):
    return prompts.render_cloze(item.guest_view()), cloze_continuations(item.choices)


def test_batched_scores_equal_one_forward_pass_per_continuation(solver, items):
    full = FullPass(solver)
    try:
        worst, multi = 0.0, 0
        for item in items:
            prompt, conts = cloze(item)
            batched = solver.logprobs(prompt, conts)
            reference = [full(prompt, c) for c in conts]
            worst = max(worst, max(abs(a - b) for a, b in zip(batched, reference)))
            multi += sum(len(solver._tokens(c, bos=False)) > 1 for c in conts)
        assert multi > 50  # multi-token options are exercised, not only one-token ones
        assert worst <= 1e-4, f"batched scoring is {worst:.4f} nats from one forward pass"
    finally:
        full.close()


def test_one_option_per_call_equals_all_options_in_one_call(solver, items):
    """What the per_option scaffold does (one option per solver_logprobs) equals the host's cloze."""
    for item in items:
        prompt, conts = cloze(item)
        together = solver.logprobs(prompt, conts)
        assert [solver.logprobs(prompt, [c])[0] for c in conts] == list(together), item.id


def test_scores_do_not_depend_on_what_ran_before(solver, items):
    target = items[0]
    alone = list(solver.logprobs(*cloze(target)))
    for other in items[1:]:  # other prompts, some sharing the "Question: " prefix, other batch shapes
        solver.logprobs(*cloze(other))
        solver.logprobs(prompts.render_cloze(other.guest_view()) + " x", [" y"])
    assert list(solver.logprobs(*cloze(target))) == alone


def test_more_continuations_than_sequences_and_long_ones(solver):
    prompt = "Question: Name a number.\nAnswer:"
    conts = [f" {i} and then {i + 1}" for i in range(2 * llama_score.SEQS + 3)] + [""] + [" long" * 300]
    got = solver.logprobs(prompt, conts)
    assert got[-2] == 0.0 and all(s < 0 for i, s in enumerate(got) if i != len(conts) - 2)
    assert [solver.logprobs(prompt, [c])[0] for c in conts[:3] + conts[-1:]] == got[:3] + got[-1:]
    with pytest.raises(ValueError, match="does not fit the context window"):
        solver.logprobs(prompt, [" word" * 3000])


def test_the_reference_without_flash_attention_differs_only_by_rounding_chaos(solver, items):
    """Measured, not asserted tight: llama.cpp without flash attention (lm-eval's default server)
    gives other floats for the same pass; on a quantized model rounding changes can reach tenths of a
    nat. The acc_norm choice is what must agree (see bench/lmeval_cloze.py and test_direct_modes)."""
    plain = FullPass(solver, flash=False, ubatch=512)
    try:
        diffs = []
        for item in items[:10]:
            prompt, conts = cloze(item)
            diffs += [abs(a - plain(prompt, c)) for a, c in zip(solver.logprobs(prompt, conts), conts)]
        print(json.dumps({"max_nats_vs_no_flash_attention": max(diffs), "mean": sum(diffs) / len(diffs)}))
        assert max(diffs) < 3.0  # same model and text: a different pass, not a different answer
    finally:
        plain.close()


# ---------------------------------------------------------------- grammar ------------------------
def test_gbnf_escapes_hostile_choices():
    assert gbnf_literal('a"b\\c\nd\x01é') == '"a\\"b\\\\c\\nd\\x01é"'
    assert choices_gbnf(["A", "B", "A"]) == 'root ::= "A" | "B"\n'
    with pytest.raises(ValueError):
        choices_gbnf([])
    with pytest.raises(ValueError):
        choices_gbnf(["x"] * 1000)


def test_choices_are_enforced_by_a_grammar(solver):
    prompt = "Question: What is the capital of France?\nA. Berlin\nB. Paris\nC. Rome\nAnswer with the letter only."
    labels = ["A", "B", "C"]
    greedy = solver.complete(prompt, choices=labels, max_tokens=1)
    # greedy constrained decoding: the label token with the highest next-token probability
    lp = solver._eval_prefix(solver._tokens(solver.chat_prompt(prompt), bos=True))
    ids = [solver._tokens(lab, bos=False)[0] for lab in labels]
    assert greedy.text == labels[int(np.argmax(lp[ids]))]
    samples = {solver.complete(prompt, choices=labels, temperature=1.5, seed=s).text for s in range(12)}
    assert samples <= set(labels) and len(samples) >= 2  # a real sample among the choices
    hostile = ['say "hi"\\n', "multi word answer here", "été", "line\nbreak"]
    for s in range(4):
        assert solver.complete("Pick one.", choices=hostile, temperature=1.0, seed=s).text in hostile
