"""TEST PLUGIN ONLY: ``fake`` solver, deterministic and model-free, for fast unit tests.

It "knows" nothing: ``complete`` returns a fixed reply, scores prefer the continuation whose text
contains ``FAKE_FAVOURITE``. Real-path tests use the real llama solver.
"""

from __future__ import annotations

from cgr.kernel.api import Completion, Scores, SolverConfig
from cgr.kernel.hookspecs import hookimpl

FAKE_FAVOURITE = "Paris"


class FakeSolver:
    """Deterministic stand-in solver for tests."""

    name = "fake"
    reply = "The answer is B"

    def __init__(self, config: SolverConfig | None = None):
        self.config = config or SolverConfig()
        self.calls: list[tuple] = []

    def info(self) -> dict:
        return {"name": "fake", "model": None, "model_sha256": None, "backend": "test"}

    def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None):
        self.calls.append(("complete", prompt))
        text = choices[-1] if choices else self.reply
        return Completion(text=text, prompt_tokens=len(prompt), completion_tokens=len(text))

    def label_logprobs(self, prompt, labels):
        self.calls.append(("label_logprobs", prompt))
        return [-1.0 if i == 1 else -2.0 for i, _ in enumerate(labels)]

    def logprobs(self, prompt, continuations):
        self.calls.append(("logprobs", prompt))
        # Scores says what the scoring read (characters stand in for tokens, as in complete);
        # label_logprobs returns a plain list, which stays valid (tokens unknown: 0).
        return Scores(
            [0.0 if FAKE_FAVOURITE in c else -10.0 for c in continuations],
            prompt_tokens=len(prompt) + sum(len(c) for c in continuations),
        )


@hookimpl
def register_solvers(register):
    register("fake", FakeSolver, description="TEST ONLY: deterministic fake solver")
