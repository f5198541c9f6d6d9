"""The call-budget-matched baseline and the direct modes' host-side logic, with test-only solvers."""

from __future__ import annotations

import msgspec
import pytest

from cgr.kernel import prompts
from cgr.kernel.api import Completion, Scores, SolverError
from cgr.kernel.budget import BudgetBaseline, calls_by_kind, permutation, vote
from cgr.kernel.config import RunConfig
from cgr.kernel.manager import load_plugins
from cgr.kernel.records import AssistedChannel, Item, SolverCall
from cgr.plugins.direct_modes import ClozeCache, answer_in_mode, best_option, option_length, text_answer

ITEM = Item(
    id="t-1",
    dataset="toy",
    task="toy",
    question="Which nerve carries taste?",
    choices=["Optic nerve", "Vagus", "Facial nerve", "Mandibular nerve"],
    labels=["A", "B", "C", "D"],
    answer="D",
)


class ContentTestSolver:
    """TEST ONLY: a solver that knows which option TEXT it likes, wherever the option stands.

    Scoring: the liked text scores best per byte. Letter prompts: it answers the letter that the
    liked text has in that prompt (greedy) or, when sampling, the first listed option. Records
    every call with its kind.
    """

    name = "test-content"

    def __init__(self, liked: str = "Mandibular nerve", refuse: str | None = None):
        self.liked, self.refuse, self.calls = liked, refuse, []

    def info(self):
        return {"name": self.name, "model": None}

    def _letter(self, prompt: str) -> str:
        for line in prompt.splitlines():
            if line.endswith(". " + self.liked):
                return line[0]
        return "?"

    def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None, seed=None):
        kind = "choice" if choices else "generate"
        self.calls.append((kind, temperature, prompt))
        if self.refuse == kind:
            raise ValueError("refused")
        letter = self._letter(prompt) if temperature == 0 else "A"
        return Completion(text=letter if choices else f"{letter}. {self.liked}", prompt_tokens=7, completion_tokens=2)

    def label_logprobs(self, prompt, labels):
        self.calls.append(("label_logprobs", 0.0, prompt))
        return [-1.0 if lab == self._letter(prompt) else -3.0 for lab in labels]

    def logprobs(self, prompt, continuations):
        self.calls.append(("score", 0.0, prompt))
        if self.refuse == "score":
            raise ValueError("refused")
        scores = [-0.5 * len(c) if c.strip() == self.liked else -1.0 * len(c) for c in continuations]
        return Scores(scores, prompt_tokens=5)


def assisted(*ops: str, status: str = "ok") -> AssistedChannel:
    trace = [
        SolverCall(op=op.split(":")[0], options={"choices": ["A", "B"]} if op == "solve:choices" else {}) for op in ops
    ]
    calls = sum(1 for op in ops if not op.startswith("extract"))
    return AssistedChannel(answer=None, correct=False, calls=calls, status=status, trace=trace)


def baseline(solver, **kw) -> BudgetBaseline:
    chain = load_plugins().extractors()
    return BudgetBaseline(solver, chain, seed=kw.get("seed", 0), temperature=0.7, max_tokens=8)


# ---------------------------------------------------------------- the baseline ------------------
def test_zero_call_items_get_no_baseline_and_a_reason():
    solver = ContentTestSolver()
    channel, reason = baseline(solver).run(ITEM, assisted(status="no_submit"))
    assert channel is None and "no solver call" in reason and "no_submit" in reason
    assert solver.calls == []  # nothing spent


def test_calls_are_matched_by_kind_and_all_greedy():
    a = assisted("logprobs", "logprobs", "solve:choices", "solve", "solve", "extract")
    assert calls_by_kind(a) == {"score": 2, "choice": 1, "generate": 2}
    solver = ContentTestSolver()
    channel, reason = baseline(solver).run(ITEM, a)
    assert reason is None and channel.calls == 5 and channel.calls_by_kind == {"score": 2, "choice": 1, "generate": 2}
    assert [kind for kind, _, _ in solver.calls] == ["score", "score", "choice", "generate", "generate"]
    # no temperature sample anywhere, whatever temperature the run passed (0.7 here)
    assert [t for _, t, _ in solver.calls] == [0.0] * 5 and channel.temperature == 0.0
    assert channel.raw.split()[0] == "score:D" and channel.method == "cloze_ensemble+permuted_votes"
    # the two score calls are one ensemble (weight 2), each reply one vote
    assert channel.votes == {"D": 5} and channel.answer == "D"


def test_a_budget_of_one_is_exactly_the_greedy_direct_mode():
    for ops, mode in ((("logprobs",), "cloze"), (("solve:choices",), "grammar"), (("solve",), "generate")):
        solver, direct_solver = ContentTestSolver(), ContentTestSolver()
        channel, _ = baseline(solver).run(ITEM, assisted(*ops))
        direct = answer_in_mode(direct_solver, load_plugins().extractors(), ITEM, mode, max_tokens=8)
        assert channel.answer == channel.greedy == direct.label == "D", mode
        assert channel.method == "greedy" and channel.temperature == 0.0
        assert solver.calls == direct_solver.calls  # the same call: kind, temperature 0, prompt


def test_score_calls_use_the_fixed_cloze_wordings_in_order():
    solver = ContentTestSolver()
    channel, _ = baseline(solver).run(ITEM, assisted(*["logprobs"] * 6))
    sent = [p for _, _, p in solver.calls]
    view = ITEM.guest_view()
    assert sent[0] == prompts.render_cloze(view)  # greedy: the cloze direct mode's prompt
    assert sent == [prompts.render_cloze_variant(view, i) for i in range(6)] and len(set(sent)) == 6
    assert all(ITEM.question in p and "Mandibular" not in p for p in sent)  # options are continuations
    assert channel.votes == {"D": 6} and channel.answer == "D" and channel.method == "cloze_ensemble"


def test_ties_go_to_greedy_and_votes_can_still_win():
    assert vote(["A", "D", "D", "A"], "D") == ("D", {"A": 2, "D": 2})  # not the first seen: greedy
    assert vote(["D", "A", "A"], "D") == ("A", {"D": 1, "A": 2})  # a real majority overrides
    assert vote([None, "B", "C"], None) == ("B", {"B": 1, "C": 1})  # no greedy: first seen
    assert vote([None, None], None) == (None, {})


def test_refused_calls_do_not_vote_and_a_dead_solver_stops():
    channel, _ = baseline(ContentTestSolver(refuse="score")).run(ITEM, assisted("logprobs", "solve"))
    assert channel.raw == "score:? generate:D" and channel.answer == "D" and channel.greedy is None
    assert channel.votes == {"D": 1}

    class Dead(ContentTestSolver):
        def logprobs(self, prompt, continuations):
            raise SolverError("server down")

    with pytest.raises(SolverError):
        baseline(Dead()).run(ITEM, assisted("logprobs"))


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
    solver, cache = ContentTestSolver(), ClozeCache()
    chain = load_plugins().extractors()
    norm = answer_in_mode(solver, chain, ITEM, "cloze", max_tokens=8, cloze_cache=cache)
    raw = answer_in_mode(solver, chain, ITEM, "cloze_raw", max_tokens=8, cloze_cache=cache)
    assert len(solver.calls) == 1 and norm.scores == raw.scores and len(norm.scores) == 4
    assert norm.label == "D" and norm.method == "cloze_acc_norm" and raw.method == "cloze_acc"
    assert raw.label == "B"  # unnormalised, the shortest option wins here
    assert norm.prompt_version == prompts.CLOZE_VERSION and solver.calls[0][2].endswith("\nAnswer:")


def test_generate_keeps_the_letter_and_the_option_text_it_states():
    class Contradicting(ContentTestSolver):
        def complete(self, prompt, **kw):
            return Completion(text="C. Mandibular nerve")

    got = answer_in_mode(Contradicting(), load_plugins().extractors(), ITEM, "generate", max_tokens=8)
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
