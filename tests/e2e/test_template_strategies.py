"""The code-using template strategies in the real sandbox: they run, stay within their documented
budgets, and answer right when the solver answers their sub-questions right.

``ScriptedOracleSolver`` is a TEST-ONLY solver that knows the gold option's text and answers each
kind of sub-question the scaffolds ask (a lettered list, a Yes/No verdict, a numeric value, a cloze
score) as a perfect small model would; the ``echo`` solver stands in for a useless, position-biased one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cgr.kernel.api import Completion, Scores
from cgr.plugins.auditors import hardcode_findings
from cgr.plugins.template_strategies import MAX_CALLS, NAMES, STRATEGIES, describe

ROOT = Path(__file__).resolve().parents[2]
_LINE = re.compile(r"^([A-Z])\. (.*)$", re.MULTILINE)
_PROPOSED = re.compile(r"^Proposed answer: (.*)$", re.MULTILINE)


class ScriptedOracleSolver:
    """TEST ONLY: answers every sub-question as if it knew that ``gold`` is the right option text."""

    name = "scripted-oracle"

    def __init__(self, gold: str, values: list[str] | None = None):
        self.gold = gold
        self.values = values  # replies to numeric questions, in turn (default: the gold text)
        self.asked = 0
        self.calls: list[str] = []

    def info(self) -> dict:
        return {"name": self.name, "model": None, "model_sha256": None, "backend": "test"}

    def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None):
        self.calls.append("complete")
        if choices:
            named = [letter for letter, text in _LINE.findall(prompt) if text == self.gold and letter in choices]
            text = named[0] if named else choices[0]
        elif prompt.endswith("Value:"):
            text = self.values[self.asked % len(self.values)] if self.values else self.gold
            self.asked += 1
        else:
            text = ""
        return Completion(text=text, prompt_tokens=1, completion_tokens=1)

    def label_logprobs(self, prompt, labels):
        self.calls.append("label_logprobs")
        return [0.0 for _ in labels]

    def logprobs(self, prompt, continuations):
        self.calls.append("logprobs")
        if list(continuations) == [" Yes", " No"]:
            proposed = _PROPOSED.findall(prompt)
            right = bool(proposed) and proposed[-1].strip() == self.gold
            return Scores([-0.1, -3.0] if right else [-3.0, -0.1], prompt_tokens=1)
        return Scores([0.0 if c.strip() == self.gold else -10.0 for c in continuations], prompt_tokens=1)


def item(question: str, choices: list[str], context: str | None = None) -> dict:
    return {
        "id": "strategy-test",
        "question": question,
        "choices": choices,
        "labels": [chr(ord("A") + i) for i in range(len(choices))],
        "context": context,
    }


#: (item, index of the right option)
CASES = {
    "four": (item("What is the capital of France?", ["Berlin", "Paris", "Rome", "Madrid"]), 1),
    "two": (item("Which is a mammal?", ["trout", "whale"]), 1),
    "three-context": (
        item("What gas do plants take in?", ["oxygen", "helium", "carbon dioxide"], "Photosynthesis."),
        2,
    ),
    "seven": (
        item("Which planet is largest?", ["Mars", "Venus", "Earth", "Mercury", "Neptune", "Jupiter", "Uranus"]),
        5,
    ),
    "numeric": (item("How many legs does a spider have?", ["6", "8", "10", "4"]), 1),
    "numeric-units": (item("At what temperature does water boil at sea level?", ["50 C", "1,000 C", "100 C"]), 2),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", NAMES)
def test_right_sub_answers_give_the_right_answer_within_budget(cgr_sandbox_run, name, case):
    it, gold = CASES[case]
    oracle = ScriptedOracleSolver(it["choices"][gold])
    budget = MAX_CALLS[name](len(it["choices"]))
    out = cgr_sandbox_run(STRATEGIES[name], oracle, item=it, max_calls=budget)
    assert out["status"] == "ok", out
    assert out["answer"] == it["labels"][gold], out["stdout"]
    assert out["solver_calls"] == len(oracle.calls) <= budget


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", NAMES)
def test_a_useless_solver_still_gets_an_answer_within_budget(cgr_sandbox_run, name, case):
    it, _ = CASES[case]
    budget = MAX_CALLS[name](len(it["choices"]))
    out = cgr_sandbox_run(STRATEGIES[name], "echo", item=it, max_calls=budget)
    assert out["status"] == "ok", out
    assert out["answer"] in it["labels"]
    assert 1 <= out["solver_calls"] <= budget


def test_exact_costs_when_the_sub_answers_agree(cgr_sandbox_run):
    """The documented costs of the common path: no tie, one survivor, every numeric reply parsed."""
    four, gold = CASES["four"]
    calls = {}
    for name in ("elimination", "decomposition", "vote"):
        oracle = ScriptedOracleSolver(four["choices"][gold])
        calls[name] = cgr_sandbox_run(STRATEGIES[name], oracle, item=four)["solver_calls"]
    assert calls == {"elimination": 4, "decomposition": 6, "vote": 4}
    numeric, gold = CASES["numeric"]
    out = cgr_sandbox_run(STRATEGIES["numeric"], ScriptedOracleSolver(numeric["choices"][gold]), item=numeric)
    assert out["solver_calls"] == 5 and out["answer"] == "B"


def test_knockout_above_six_options_costs_n_minus_one(cgr_sandbox_run):
    seven, gold = CASES["seven"]
    out = cgr_sandbox_run(STRATEGIES["decomposition"], ScriptedOracleSolver(seven["choices"][gold]), item=seven)
    assert out["solver_calls"] == 6 and out["answer"] == "F"


def test_numeric_takes_the_median_of_noisy_replies(cgr_sandbox_run):
    it, _ = CASES["numeric"]  # 6, 8, 10, 4: right is 8 (B)
    noisy = ScriptedOracleSolver("8", values=["7.9", "about 8.3", "eight", "8", "1e1"])  # median of 7.9 8.3 8 10
    out = cgr_sandbox_run(STRATEGIES["numeric"], noisy, item=it)
    assert out["answer"] == "B" and out["solver_calls"] == 5
    assert "median 8.15" in out["stdout"]
    # one outlier cannot move a median: a mean of these would be nearest 10
    skewed = ScriptedOracleSolver("8", values=["8", "7.5", "8.5", "900", "1000"])
    assert cgr_sandbox_run(STRATEGIES["numeric"], skewed, item=it)["answer"] == "B"


def test_numeric_falls_back_to_scoring_when_replies_do_not_parse(cgr_sandbox_run):
    it, gold = CASES["numeric"]
    oracle = ScriptedOracleSolver(it["choices"][gold], values=["no idea", "eight", "8", "many", "?"])
    out = cgr_sandbox_run(STRATEGIES["numeric"], oracle, item=it)
    assert out["solver_calls"] == 6 and oracle.calls[-1] == "logprobs"
    assert out["answer"] == "B" and "fallback" in out["stdout"]


def test_numeric_on_text_options_is_one_scoring_call(cgr_sandbox_run):
    it, gold = CASES["four"]
    oracle = ScriptedOracleSolver(it["choices"][gold])
    out = cgr_sandbox_run(STRATEGIES["numeric"], oracle, item=it)
    assert out["solver_calls"] == 1 and oracle.calls == ["logprobs"] and out["answer"] == "B"


def test_elimination_decides_among_survivors_only(cgr_sandbox_run):
    """Two options survive the verdicts: the final question shows those two, and only those."""

    class TwoSurvivors(ScriptedOracleSolver):
        def logprobs(self, prompt, continuations):
            self.calls.append("logprobs")
            proposed = _PROPOSED.findall(prompt)[-1]
            return Scores([-0.1, -3.0] if proposed in ("Paris", "Rome") else [-3.0, -0.1])

        def complete(self, prompt, **kwargs):
            self.final = prompt
            return super().complete(prompt, **kwargs)

    it, gold = CASES["four"]
    solver = TwoSurvivors("Paris")
    out = cgr_sandbox_run(STRATEGIES["elimination"], solver, item=it)
    assert out["answer"] == "B" and out["solver_calls"] == 5
    assert _LINE.findall(solver.final) == [("A", "Paris"), ("B", "Rome")]


def test_vote_is_not_fooled_by_position_bias(cgr_sandbox_run):
    """A solver that always says the first letter gives every option the same count: no option wins by
    position; the tie goes to the scoring call."""
    it, _ = CASES["four"]

    class FirstLetter(ScriptedOracleSolver):
        def complete(self, prompt, *, choices=None, **kwargs):
            self.calls.append("complete")
            return Completion(text=choices[0])

    solver = FirstLetter("Rome")  # the scoring call prefers Rome
    out = cgr_sandbox_run(STRATEGIES["vote"], solver, item=it)
    assert "votes: {'A': 1, 'B': 1, 'C': 1, 'D': 1}" in out["stdout"]
    assert out["answer"] == "C" and solver.calls[-1] == "logprobs"


@pytest.mark.parametrize("name", NAMES)
def test_strategies_are_clean_documented_and_in_specs(name):
    assert hardcode_findings(STRATEGIES[name]) == []
    assert "Solver calls" in describe(name)
    spec = ROOT / "specs" / "scaffolds" / f"{name}.py"
    assert spec.read_text(encoding="utf-8") == STRATEGIES[name], (
        f"{spec} differs from plugins/scaffolds/{name}.py: "
        "run python -m cgr.plugins.template_strategies specs/scaffolds"
    )
    assert (ROOT / "plugins" / "scaffolds" / f"{name}.py").read_text(encoding="utf-8") == STRATEGIES[name]
