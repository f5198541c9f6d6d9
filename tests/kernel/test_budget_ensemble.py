"""The budget-matched baseline's aggregation rule (cloze ensemble + option-permuted greedy votes), with
the test-only ``BaselineTestSolver``."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from cgr.kernel import prompts
from cgr.kernel.records import Item
from cgr.plugins.budget_baseline import (
    CLOZE_VARIANTS,
    budget_matched,
    cloze_wordings,
    decide,
    ensemble,
    per_byte,
    render_cloze_variant,
)
from tests.plugins.baseline_solver import BaselineTestSolver, assisted_with, baseline_request

ITEM = Item(
    id="e-1",
    dataset="toy",
    task="toy",
    question="Which gas do plants take in?",
    choices=["Oxygen", "Carbon dioxide", "Helium", "Neon"],
    labels=["A", "B", "C", "D"],
    answer="B",
)


def by_wording(greedy: list[float], others: list[float]):
    """Per-byte log-likelihoods that depend on the cloze wording: ``greedy`` after the greedy one
    (``Question: …\\nAnswer:``), ``others`` after every other."""
    return lambda prompt: greedy if prompt == prompts.render_cloze(ITEM.guest_view()) else others


def wording_solver(greedy: list[float], others: list[float], letter: str = "A", liked: str | None = None):
    """A ``BaselineTestSolver`` (TEST ONLY) scoring by cloze wording; letter prompts get ``letter``, or
    the letter the ``liked`` option text stands at in that prompt."""
    return BaselineTestSolver(liked, letter=letter, per_byte=by_wording(greedy, others))


def run(solver, *ops: str, item: Item = ITEM, seed: int = 0):
    channel, reason = budget_matched(baseline_request(solver, item, assisted_with(*ops), seed=seed))
    assert reason is None
    assert all(t == 0.0 for _, t, _ in solver.calls)  # every call greedy
    return channel


def test_score_calls_are_summed_not_counted():
    # greedy is confident in B; three other wordings lean weakly to C: hard votes would say C (3 to 1),
    # the summed per-byte log-likelihoods keep B
    solver = wording_solver(greedy=[-3.0, -1.0, -3.0, -3.0], others=[-3.0, -2.0, -1.9, -3.0])
    channel = run(solver, *["logprobs"] * 4)
    assert channel.raw == "score:B score:C score:C score:C ensemble:B"
    assert channel.answer == channel.greedy == "B" and channel.votes == {"B": 4} and channel.correct
    # and a clear enough lean of the others does overturn greedy (no guarantee of greedy per item)
    solver = wording_solver(greedy=[-3.0, -1.0, -1.1, -3.0], others=[-3.0, -2.0, -1.0, -3.0])
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
    solver = wording_solver(greedy=[-2.0, -1.0, -3.0, -3.0], others=[-1.0, -2.0, -3.0, -3.0])
    assert run(solver, "logprobs", "logprobs").answer == "B"


def test_per_byte_normalises_and_drops_unusable_calls():
    assert per_byte([-3.0, -2.0], ["abc", "é"]) == [-1.0, -1.0]
    assert per_byte([-3.0], ["abc", "é"]) is None  # wrong length
    assert per_byte([float("nan"), -2.0], ["abc", "é"]) is None
    assert per_byte([float("inf"), -2.0], ["abc", "é"]) is None
    # a call whose scores are unusable does not vote, and the others still decide
    solver = wording_solver(greedy=[-2.0, -1.0, -3.0, -3.0], others=[float("nan")] * 4)
    channel = run(solver, "logprobs", "logprobs", "logprobs")
    assert channel.answer == "B" and channel.votes == {"B": 1} and channel.raw.count("score:?") == 2


def test_position_biased_choice_votes_cancel_and_greedy_wins_the_tie():
    # a model that always answers "A": the n rotations put each option at A once, so 1 vote each
    solver = wording_solver(greedy=[], others=[], letter="A")
    channel = run(solver, *["solve:choices"] * 4)
    assert channel.votes == {"A": 1, "B": 1, "C": 1, "D": 1} and channel.answer == channel.greedy == "A"
    assert channel.method == "permuted_votes" and channel.temperature == 0.0
    first_lines = [p.split("\n")[1] for _, _, p in solver.calls]  # the option standing at A in each call
    assert first_lines == [f"A. {c}" for c in ("Oxygen", "Carbon dioxide", "Helium", "Neon")]
    # two free-generation calls: greedy (A) against the first rotation (B): a 1-1 tie, greedy wins
    channel = run(wording_solver([], [], letter="A"), "solve", "solve")
    assert channel.votes == {"A": 1, "B": 1} and channel.answer == channel.greedy == "A"


def test_mixed_kinds_weigh_the_ensemble_by_its_calls():
    # elimination-like: 4 score calls (ensemble B, weight 4) and 1 choice call (always A, identity order)
    solver = wording_solver(greedy=[-3.0, -1.0, -3.0, -3.0], others=[-3.0, -1.0, -3.0, -3.0], letter="A")
    channel = run(solver, *["logprobs"] * 4, "solve:choices")
    assert channel.votes == {"B": 4, "A": 1} and channel.answer == "B"
    assert channel.method == "cloze_ensemble+permuted_votes"
    # 1 score call against 2 choice calls that agree on Helium (C), wherever it stands: the votes win
    solver = wording_solver(greedy=[-3.0, -1.0, -3.0, -3.0], others=[], liked="Helium")
    channel = run(solver, "logprobs", "solve:choices", "solve:choices")
    assert channel.greedy == "B" and channel.votes == {"B": 1, "C": 2} and channel.answer == "C"
    # a position-biased model's two choice calls (C, then D in the rotated order) split: greedy wins
    solver = wording_solver(greedy=[-3.0, -1.0, -3.0, -3.0], others=[], letter="C")
    channel = run(solver, "logprobs", "solve:choices", "solve:choices")
    assert channel.votes == {"B": 1, "C": 1, "D": 1} and channel.answer == "B"
    assert decide({"C": 2, "B": 2}, "B") == "B" and decide({"C": 2, "B": 1}, "B") == "C"


def test_a_record_does_not_depend_on_other_items_or_order():
    def fields(channel):
        return msgspec.structs.replace(channel, latency_s=0.0)

    ops = ["solve:choices"] * 10  # beyond 2n calls: seeded shuffles
    alone = fields(run(wording_solver([], [], letter="B"), *ops))
    solver = wording_solver([], [], letter="B")
    other = msgspec.structs.replace(ITEM, id="e-2")
    run(solver, *ops, item=other)
    after = fields(run(solver, *ops))
    assert alone == after
    assert fields(run(wording_solver([], [], letter="B"), *ops, seed=1)) != alone  # the run seed matters


@pytest.mark.parametrize("index", range(8))
def test_cloze_wordings_cycle_and_start_with_the_direct_cloze(index):
    view = ITEM.guest_view()
    wordings = cloze_wordings()
    assert render_cloze_variant(view, 0) == prompts.render_cloze(view)
    assert len(set(wordings)) == len(wordings) == 1 + len(CLOZE_VARIANTS)
    text = render_cloze_variant(view, index)
    assert text == render_cloze_variant(view, index + len(wordings)) and ITEM.question in text
    with_context = render_cloze_variant({**view, "context": "Leaves."}, index)
    assert with_context == "Context: Leaves.\n" + text


def test_the_cloze_variants_are_their_normative_copies():
    """``specs/prompts/<name>.txt`` holds each wording (the plugin's own prompts, beside the kernel's)."""
    specs = Path(__file__).resolve().parents[2] / "specs" / "prompts"
    for name, text in CLOZE_VARIANTS.items():
        assert (specs / f"{name}.txt").read_text() == text + "\n", name
