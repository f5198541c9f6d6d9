"""cgr_check_solver (cgr.testing.check_solver) names the failing part and the check, and refuses
scores that are not log-probabilities (positive, NaN, infinite)."""

from __future__ import annotations

import math

import pytest

from cgr.kernel.api import Completion
from cgr.plugins.echo_solver import EchoSolver
from cgr.testing import LOGPROB_TOLERANCE, SolverConformanceError, check_solver, sample_records
from tests.plugins.fake_solver import FakeSolver


class Good:
    """A conforming solver: first choice, uniform log-probabilities."""

    name = "good"

    def info(self):
        return {"name": self.name}

    def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None):
        return Completion(text=choices[0] if choices else "B", prompt_tokens=1, completion_tokens=1)

    def label_logprobs(self, prompt, labels):
        return [-math.log(len(labels))] * len(labels)

    def logprobs(self, prompt, continuations):
        return [-1.5] * len(continuations)


def failure(solver) -> SolverConformanceError:
    with pytest.raises(SolverConformanceError) as info:
        check_solver(solver)
    return info.value


def test_conforming_solvers_pass():
    for solver in (Good(), EchoSolver(), FakeSolver()):
        said = check_solver(solver)
        assert said["choice"] in ["A", "B", "C", "D"]
        assert all(v <= 0 for v in said["logprobs"] + said["label_logprobs"])


def test_a_wrong_signature_names_the_method():
    class NoChoices(Good):
        def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None):
            return Completion(text="A")

    err = failure(NoChoices())
    assert (err.part, err.check) == ("complete()", "matches the Solver protocol")
    assert str(err) == ("solver 'good': complete(): matches the Solver protocol: complete() lacks keyword 'choices'")


def test_a_missing_method_is_named():
    class NoLogprobs(Good):
        logprobs = None

    err = failure(NoLogprobs())
    assert err.part == "logprobs()" and "has no logprobs() method" in str(err)

    class OneArg(Good):
        def label_logprobs(self, prompt):
            return []

    err = failure(OneArg())
    assert err.part == "label_logprobs()" and "takes 1 positional argument" in str(err)


def test_a_missing_name_is_named():
    class Nameless(Good):
        name = ""

    err = failure(Nameless())
    assert (err.part, err.check) == ("name", "is a non-empty str")


@pytest.mark.parametrize(
    "value, check",
    [
        (2.0, "log-probabilities are <= 0"),
        (0.5, "log-probabilities are <= 0"),
        (float("nan"), "log-probabilities are finite"),
        (float("inf"), "log-probabilities are finite"),
        (float("-inf"), "log-probabilities are finite"),
        ("x", "scores are numbers"),
        (True, "scores are numbers"),
    ],
)
def test_scores_must_be_finite_log_probabilities(value, check):
    class Bad(Good):
        def logprobs(self, prompt, continuations):
            return [value] + [-1.0] * (len(continuations) - 1)

    err = failure(Bad())
    assert (err.part, err.check) == ("logprobs()", check)
    assert "' Berlin'" in err.detail  # which input got the bad score

    class BadLabels(Good):
        def label_logprobs(self, prompt, labels):
            return [-1.0] * (len(labels) - 1) + [value]

    err = failure(BadLabels())
    assert (err.part, err.check) == ("label_logprobs()", check)
    assert "'D'" in err.detail


def test_zero_and_rounding_above_zero_are_log_probabilities():
    class Certain(Good):
        def logprobs(self, prompt, continuations):
            return [0.0, LOGPROB_TOLERANCE / 2] + [-3.0] * (len(continuations) - 2)

    check_solver(Certain())


def test_the_number_of_scores_is_checked():
    class Short(Good):
        def logprobs(self, prompt, continuations):
            return [-1.0]

    err = failure(Short())
    assert (err.part, err.check, err.detail) == ("logprobs()", "one score per input", "1 scores for 4 inputs")


def test_an_exception_is_reported_as_the_method_s_failure():
    class Raises(Good):
        def label_logprobs(self, prompt, labels):
            raise ValueError("no scores today")

    err = failure(Raises())
    assert str(err) == "solver 'good': label_logprobs(): raised: ValueError: no scores today"


def test_choices_and_determinism_are_named():
    class Free(Good):
        def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None):
            return Completion(text="E")

    err = failure(Free())
    assert err.part == "complete(choices=['A', 'B', 'C', 'D'])"
    assert (err.check, err.detail) == ("returns exactly one of the choices", "returned 'E'")

    class Drifts(Good):
        n = 0

        def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None):
            self.n += 1
            return Completion(text=str(self.n))

    err = failure(Drifts())
    assert (err.part, err.check, err.detail) == ("complete()", "deterministic at temperature 0", "'1' then '2'")


def test_completion_fields_are_checked():
    class Negative(Good):
        def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None):
            return Completion(text=choices[0] if choices else "A", prompt_tokens=-1)

    err = failure(Negative())
    assert (err.part, err.check) == ("complete()", "Completion.prompt_tokens is an int >= 0")

    class Plain(Good):
        def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None):
            return "A"

    err = failure(Plain())
    assert (err.check, err.detail) == ("returns a Completion", "got str")


def test_info_is_checked():
    class NoInfoName(Good):
        def info(self):
            return {"model": None}

    assert failure(NoInfoName()).check == "has a 'name' str"

    class Unserializable(Good):
        def info(self):
            return {"name": "x", "path": object()}

    assert failure(Unserializable()).check == "is JSON-serializable"


def test_sample_records_for_reporters(cgr_records):
    assert [r.item_id for r in cgr_records] == [r.item_id for r in sample_records()]
    assert {r.task for r in cgr_records} == {"geo", "sci"}
    assert sum(r.direct.correct for r in cgr_records) == 2 and sum(r.assisted.correct for r in cgr_records) == 2
