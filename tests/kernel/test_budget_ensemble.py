"""The budget-matched baseline's aggregation rule (cloze ensemble + option-permuted greedy votes), with
test-only solvers."""

from __future__ import annotations

import msgspec
import pytest

from cgr.kernel import prompts
from cgr.kernel.api import Completion, Scores
from cgr.kernel.budget import BudgetBaseline, decide, ensemble, per_byte
from cgr.kernel.manager import load_plugins
from cgr.kernel.records import AssistedChannel, Item, SolverCall

ITEM = Item(
    id="e-1",
    dataset="toy",
    task="toy",
    question="Which gas do plants take in?",
    choices=["Oxygen", "Carbon dioxide", "Helium", "Neon"],
    labels=["A", "B", "C", "D"],
    answer="B",
)


class WordingTestSolver:
    """TEST ONLY: scoring depends on the cloze wording. Per-byte log-likelihoods are given per prompt
    (the greedy wording ``Question: …\\nAnswer:`` and the others); letter prompts get ``letter``, or
    the letter the ``liked`` option text stands at in that prompt."""

    name = "test-wording"

    def __init__(self, greedy: list[float], others: list[float], letter: str = "A", liked: str | None = None):
        self.greedy, self.others, self.letter, self.liked, self.calls = greedy, others, letter, liked, []

    def info(self):
        return {"name": self.name, "model": None}

    def logprobs(self, prompt, continuations):
        self.calls.append(("score", prompt))
        per_byte = self.greedy if prompt == prompts.render_cloze(ITEM.guest_view()) else self.others
        return Scores([v * len(c.strip().encode()) for v, c in zip(per_byte, continuations)], prompt_tokens=3)

    def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None, seed=None):
        self.calls.append(("choice" if choices else "generate", prompt))
        assert temperature == 0.0
        letter = self.letter
        for line in prompt.splitlines():
            if self.liked and line.endswith(". " + self.liked):
                letter = line[0]
        return Completion(text=letter, prompt_tokens=5, completion_tokens=1)


def assisted(*ops: str) -> AssistedChannel:
    trace = [
        SolverCall(op=op.split(":")[0], options={"choices": ["A"]} if op.endswith(":choices") else {}) for op in ops
    ]
    return AssistedChannel(answer=None, correct=False, calls=len(ops), status="ok", trace=trace)


def run(solver, *ops: str, item: Item = ITEM, seed: int = 0):
    channel, reason = BudgetBaseline(solver, load_plugins().extractors(), seed=seed, max_tokens=8).run(
        item, assisted(*ops)
    )
    assert reason is None
    return channel


def test_score_calls_are_summed_not_counted():
    # greedy is confident in B; three other wordings lean weakly to C: hard votes would say C (3 to 1),
    # the summed per-byte log-likelihoods keep B
    solver = WordingTestSolver(greedy=[-3.0, -1.0, -3.0, -3.0], others=[-3.0, -2.0, -1.9, -3.0])
    channel = run(solver, *["logprobs"] * 4)
    assert channel.raw == "score:B score:C score:C score:C ensemble:B"
    assert channel.answer == channel.greedy == "B" and channel.votes == {"B": 4} and channel.correct
    # and a clear enough lean of the others does overturn greedy (no guarantee of greedy per item)
    solver = WordingTestSolver(greedy=[-3.0, -1.0, -1.1, -3.0], others=[-3.0, -2.0, -1.0, -3.0])
    channel = run(solver, *["logprobs"] * 4)
    assert channel.greedy == "B" and channel.answer == "C" and channel.votes == {"C": 4}


def test_ensemble_ties_go_to_greedy_then_to_the_first_option():
    members = [[-1.0, -2.0, -5.0], [-2.0, -1.0, -5.0]]
    assert ensemble(members, ["A", "B", "C"], "B") == "B"
    assert ensemble(members, ["A", "B", "C"], "C") == "A"  # greedy not among the best: the first
    assert ensemble(members, ["A", "B", "C"], None) == "A"
    assert ensemble([], ["A", "B"], "A") is None
    assert ensemble([[-1.0, float("-inf")]], ["A", "B"], "B") == "A"  # an impossible option stays impossible
    # through the baseline: two wordings that mirror each other tie exactly
    solver = WordingTestSolver(greedy=[-2.0, -1.0, -3.0, -3.0], others=[-1.0, -2.0, -3.0, -3.0])
    assert run(solver, "logprobs", "logprobs").answer == "B"


def test_per_byte_normalises_and_drops_unusable_calls():
    assert per_byte([-3.0, -2.0], ["abc", "é"]) == [-1.0, -1.0]
    assert per_byte([-3.0], ["abc", "é"]) is None  # wrong length
    assert per_byte([float("nan"), -2.0], ["abc", "é"]) is None
    assert per_byte([float("inf"), -2.0], ["abc", "é"]) is None
    # a call whose scores are unusable does not vote, and the others still decide
    solver = WordingTestSolver(greedy=[-2.0, -1.0, -3.0, -3.0], others=[float("nan")] * 4)
    channel = run(solver, "logprobs", "logprobs", "logprobs")
    assert channel.answer == "B" and channel.votes == {"B": 1} and channel.raw.count("score:?") == 2


def test_position_biased_choice_votes_cancel_and_greedy_wins_the_tie():
    # a model that always answers "A": the n rotations put each option at A once, so 1 vote each
    solver = WordingTestSolver(greedy=[], others=[], letter="A")
    channel = run(solver, *["solve:choices"] * 4)
    assert channel.votes == {"A": 1, "B": 1, "C": 1, "D": 1} and channel.answer == channel.greedy == "A"
    assert channel.method == "permuted_votes" and channel.temperature == 0.0
    first_lines = [p.split("\n")[1] for _, p in solver.calls]  # the option standing at A in each call
    assert first_lines == [f"A. {c}" for c in ("Oxygen", "Carbon dioxide", "Helium", "Neon")]
    # two free-generation calls: greedy (A) against the first rotation (B): a 1-1 tie, greedy wins
    channel = run(WordingTestSolver([], [], letter="A"), "solve", "solve")
    assert channel.votes == {"A": 1, "B": 1} and channel.answer == channel.greedy == "A"


def test_mixed_kinds_weigh_the_ensemble_by_its_calls():
    # elimination-like: 4 score calls (ensemble B, weight 4) and 1 choice call (always A, identity order)
    solver = WordingTestSolver(greedy=[-3.0, -1.0, -3.0, -3.0], others=[-3.0, -1.0, -3.0, -3.0], letter="A")
    channel = run(solver, *["logprobs"] * 4, "solve:choices")
    assert channel.votes == {"B": 4, "A": 1} and channel.answer == "B"
    assert channel.method == "cloze_ensemble+permuted_votes"
    # 1 score call against 2 choice calls that agree on Helium (C), wherever it stands: the votes win
    solver = WordingTestSolver(greedy=[-3.0, -1.0, -3.0, -3.0], others=[], liked="Helium")
    channel = run(solver, "logprobs", "solve:choices", "solve:choices")
    assert channel.greedy == "B" and channel.votes == {"B": 1, "C": 2} and channel.answer == "C"
    # a position-biased model's two choice calls (C, then D in the rotated order) split: greedy wins
    solver = WordingTestSolver(greedy=[-3.0, -1.0, -3.0, -3.0], others=[], letter="C")
    channel = run(solver, "logprobs", "solve:choices", "solve:choices")
    assert channel.votes == {"B": 1, "C": 1, "D": 1} and channel.answer == "B"
    assert decide({"C": 2, "B": 2}, "B") == "B" and decide({"C": 2, "B": 1}, "B") == "C"


def test_a_record_does_not_depend_on_other_items_or_order():
    def fields(channel):
        return msgspec.structs.replace(channel, latency_s=0.0)

    ops = ["solve:choices"] * 10  # beyond 2n calls: seeded shuffles
    alone = fields(run(WordingTestSolver([], [], letter="B"), *ops))
    solver = WordingTestSolver([], [], letter="B")
    other = msgspec.structs.replace(ITEM, id="e-2")
    run(solver, *ops, item=other)
    after = fields(run(solver, *ops))
    assert alone == after
    assert fields(run(WordingTestSolver([], [], letter="B"), *ops, seed=1)) != alone  # the run seed matters


@pytest.mark.parametrize("index", range(8))
def test_cloze_wordings_cycle_and_start_with_the_direct_cloze(index):
    view = ITEM.guest_view()
    wordings = prompts.cloze_wordings()
    assert prompts.render_cloze_variant(view, 0) == prompts.render_cloze(view)
    assert len(set(wordings)) == len(wordings) == 1 + len(prompts.CLOZE_VARIANTS)
    text = prompts.render_cloze_variant(view, index)
    assert text == prompts.render_cloze_variant(view, index + len(wordings)) and ITEM.question in text
    with_context = prompts.render_cloze_variant({**view, "context": "Leaves."}, index)
    assert with_context == "Context: Leaves.\n" + text
