"""The built-in ``budget_matched`` baseline (``cgr.plugins.budget_baseline``) and the direct modes'
host-side logic, with the test-only ``BaselineTestSolver``."""

from __future__ import annotations

import msgspec
import pytest

from cgr.kernel import prompts
from cgr.kernel.api import Completion, SolverError
from cgr.kernel.config import RunConfig
from cgr.kernel.manager import load_plugins
from cgr.kernel.records import AssistedChannel, Item
from cgr.plugins.budget_baseline import calls_by_kind, permutation, render_cloze_variant, vote
from cgr.plugins.direct_modes import ClozeCache, answer_in_mode, best_option, option_length, text_answer
from tests.plugins.baseline_solver import BaselineTestSolver, assisted_with, baseline_request

ITEM = Item(
    id="t-1",
    dataset="toy",
    task="toy",
    question="Which nerve carries taste?",
    choices=["Optic nerve", "Vagus", "Facial nerve", "Mandibular nerve"],
    labels=["A", "B", "C", "D"],
    answer="D",
)
LIKED = "Mandibular nerve"


def run_baseline(solver: BaselineTestSolver, assisted: AssistedChannel, *, seed: int = 0):
    """The registered ``budget_matched`` baseline on ``ITEM``, as the kernel calls it."""
    return (
        load_plugins(entry_points=False)
        .get("baseline", "budget_matched")
        .obj(baseline_request(solver, ITEM, assisted, seed=seed))
    )


# ---------------------------------------------------------------- the baseline ------------------
def test_zero_call_items_get_no_baseline_and_a_reason():
    solver = BaselineTestSolver(LIKED)
    channel, reason = run_baseline(solver, assisted_with(status="no_submit"))
    assert channel is None and "no solver call" in reason and "no_submit" in reason
    assert solver.calls == []  # nothing spent


def test_calls_are_matched_by_kind_and_all_greedy():
    a = assisted_with("logprobs", "logprobs", "solve:choices", "solve", "solve", "extract")
    assert calls_by_kind(a) == {"score": 2, "choice": 1, "generate": 2}
    solver = BaselineTestSolver(LIKED)
    channel, reason = run_baseline(solver, a)
    assert reason is None and channel.calls == 5 and channel.calls_by_kind == {"score": 2, "choice": 1, "generate": 2}
    assert [kind for kind, _, _ in solver.calls] == ["score", "score", "choice", "generate", "generate"]
    # no temperature sample anywhere, whatever temperature the run passed (0.7 here)
    assert [t for _, t, _ in solver.calls] == [0.0] * 5 and channel.temperature == 0.0
    assert channel.raw.split()[0] == "score:D" and channel.method == "cloze_ensemble+permuted_votes"
    # the two score calls are one ensemble (weight 2), each reply one vote
    assert channel.votes == {"D": 5} and channel.answer == "D"


def test_a_budget_of_one_is_exactly_the_greedy_direct_mode():
    for ops, mode in ((("logprobs",), "cloze"), (("solve:choices",), "grammar"), (("solve",), "generate")):
        solver, direct_solver = BaselineTestSolver(LIKED), BaselineTestSolver(LIKED)
        channel, _ = run_baseline(solver, assisted_with(*ops))
        direct = answer_in_mode(direct_solver, load_plugins().extractors(), ITEM, mode, max_tokens=8)
        assert channel.answer == channel.greedy == direct.label == "D", mode
        assert channel.method == "greedy" and channel.temperature == 0.0
        assert solver.calls == direct_solver.calls  # the same call: kind, temperature 0, prompt


def test_score_calls_use_the_fixed_cloze_wordings_in_order():
    solver = BaselineTestSolver(LIKED)
    channel, _ = run_baseline(solver, assisted_with(*["logprobs"] * 6))
    sent = [p for _, _, p in solver.calls]
    view = ITEM.guest_view()
    assert sent[0] == prompts.render_cloze(view)  # greedy: the cloze direct mode's prompt
    assert sent == [render_cloze_variant(view, i) for i in range(6)] and len(set(sent)) == 6
    assert all(ITEM.question in p and "Mandibular" not in p for p in sent)  # options are continuations
    assert channel.votes == {"D": 6} and channel.answer == "D" and channel.method == "cloze_ensemble"


def test_ties_go_to_greedy_and_votes_can_still_win():
    assert vote(["A", "D", "D", "A"], "D") == ("D", {"A": 2, "D": 2})  # not the first seen: greedy
    assert vote(["D", "A", "A"], "D") == ("A", {"D": 1, "A": 2})  # a real majority overrides
    assert vote([None, "B", "C"], None) == ("B", {"B": 1, "C": 1})  # no greedy: first seen
    assert vote([None, None], None) == (None, {})


def test_refused_calls_do_not_vote_and_a_dead_solver_stops():
    channel, _ = run_baseline(BaselineTestSolver(LIKED, refuse="score"), assisted_with("logprobs", "solve"))
    assert channel.raw == "score:? generate:D" and channel.answer == "D" and channel.greedy is None
    assert channel.votes == {"D": 1}

    class Dead(BaselineTestSolver):
        def logprobs(self, prompt, continuations):
            raise SolverError("server down")

    with pytest.raises(SolverError):
        run_baseline(Dead(LIKED), assisted_with("logprobs"))


def test_permutations_rotate_then_reverse_then_shuffle_seeded_per_item():
    n = len(ITEM.choices)
    assert [permutation(0, ITEM, "choice", i) for i in range(n)] == [
        [0, 1, 2, 3],
        [1, 2, 3, 0],
        [2, 3, 0, 1],
        [3, 0, 1, 2],
    ]
    assert [permutation(0, ITEM, "choice", i) for i in range(n, 2 * n)] == [
        [3, 2, 1, 0],
        [2, 1, 0, 3],
        [1, 0, 3, 2],
        [0, 3, 2, 1],
    ]
    later = [permutation(0, ITEM, "choice", i) for i in range(2 * n, 2 * n + 6)]
    assert later == [permutation(0, ITEM, "choice", i) for i in range(2 * n, 2 * n + 6)]  # reproducible
    assert later != [permutation(1, ITEM, "choice", i) for i in range(2 * n, 2 * n + 6)]  # by run seed
    other = msgspec.structs.replace(ITEM, id="t-2")
    assert later != [permutation(0, other, "choice", i) for i in range(2 * n, 2 * n + 6)]  # by item
    assert all(sorted(p) == [0, 1, 2, 3] for p in later)


# ---------------------------------------------------------------- direct modes -----------------
def test_cloze_normalises_by_utf8_bytes_and_keeps_the_first_of_ties():
    assert option_length("abc") == 3 and option_length("é") == 2 and option_length("") == 1
    assert best_option([-3.0, -2.0], ["abc", "é"], normalise=True) == 0  # -1.0 per byte each: first
    assert best_option([-3.0, -2.0], ["abc", "é"], normalise=False) == 1
    assert best_option([-6.0, -4.0], ["abcdef", "é"], normalise=True) == 0


def test_cloze_and_cloze_raw_share_one_scoring_call():
    solver, cache = BaselineTestSolver(LIKED), ClozeCache()
    chain = load_plugins().extractors()
    norm = answer_in_mode(solver, chain, ITEM, "cloze", max_tokens=8, cloze_cache=cache)
    raw = answer_in_mode(solver, chain, ITEM, "cloze_raw", max_tokens=8, cloze_cache=cache)
    assert len(solver.calls) == 1 and norm.scores == raw.scores and len(norm.scores) == 4
    assert norm.label == "D" and norm.method == "cloze_acc_norm" and raw.method == "cloze_acc"
    assert raw.label == "B"  # unnormalised, the shortest option wins here
    assert norm.prompt_version == prompts.CLOZE_VERSION and solver.calls[0][2].endswith("\nAnswer:")


def test_generate_keeps_the_letter_and_the_option_text_it_states():
    class Contradicting(BaselineTestSolver):
        def complete(self, prompt, **kw):
            return Completion(text="C. Mandibular nerve")

    got = answer_in_mode(Contradicting(LIKED), load_plugins().extractors(), ITEM, "generate", max_tokens=8)
    assert got.label == "C" and got.text_answer == "D"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("C. Mandibular nerve", "D"),
        ("(D) mandibular nerve.", "D"),
        ("D", None),
        ("C. Mandib", "D"),  # cut by max_tokens: the start of one option's text
        ("C. Nerve", None),  # the start of none
        ("The answer is C, the facial nerve", "C"),
        ("A cell", None),  # the article is not a label
        ("Vagus nerve", "B"),
        ("", None),
    ],
)
def test_text_answer(reply, expected):
    assert text_answer(reply, ITEM.labels, ITEM.choices) == expected


def test_text_answer_prefers_the_longest_option_it_starts_with():
    assert text_answer("B. iron oxide", ["A", "B"], ["iron", "iron oxide"]) == "B"
    assert text_answer("iron and more", ["A", "B"], ["iron", "iron oxide"]) == "A"


def test_extra_direct_modes_drop_the_primary_and_repeats(tmp_path):
    cfg = RunConfig(direct_mode="cloze", direct_modes=["generate", "cloze", "logprobs", "generate"])
    assert cfg.direct_modes == ["generate", "logprobs"]
    from cgr.kernel.manager import UnknownPluginError
    from cgr.kernel.pipeline import run

    with pytest.raises(UnknownPluginError, match="unknown direct_mode 'nosuch'"):  # refused at run start
        run(RunConfig(direct_modes=["nosuch"], out=tmp_path / "o"))
    assert not (tmp_path / "o").exists()
