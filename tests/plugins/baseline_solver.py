"""TEST ONLY: a model-free stand-in solver for the budget-matched baseline's tests, and the pieces of a
baseline request (an assisted channel with a given trace, the request itself)."""

from __future__ import annotations

from collections.abc import Callable

from cgr.kernel.api import BaselineRequest, Completion, Scores
from cgr.kernel.manager import load_plugins
from cgr.kernel.records import AssistedChannel, Item, SolverCall


class BaselineTestSolver:
    """TEST ONLY: a deterministic solver that likes one option TEXT (``liked``) wherever it stands.

    - ``logprobs``: each option's log-likelihood is a per-byte value times the option's UTF-8 bytes;
      the per-byte values are ``per_byte(prompt)`` when given (e.g. by cloze wording), else -0.5 for
      the liked option and -1.0 for the others.
    - ``complete`` (letter prompts): the letter at which the liked text stands in this prompt, else
      ``letter``; a sample (temperature > 0) is always ``letter``. A constrained reply (``choices``)
      is the letter alone, a free one ``"<letter>. <liked>"`` (the letter alone without ``liked``).
    - ``label_logprobs``: -1.0 for that letter, -3.0 for the others.

    ``refuse`` ("score", "choice" or "generate") makes that kind of call raise ``ValueError`` (a
    refused request). Every call is recorded in ``calls`` as ``(kind, temperature, prompt)``.
    """

    name = "test-baseline"

    def __init__(
        self,
        liked: str | None = None,
        *,
        letter: str = "A",
        per_byte: Callable[[str], list[float]] | None = None,
        refuse: str | None = None,
    ):
        self.liked, self.letter, self.per_byte, self.refuse = liked, letter, per_byte, refuse
        self.calls: list[tuple[str, float, str]] = []

    def info(self) -> dict:
        return {"name": self.name, "model": None}

    def _letter(self, prompt: str) -> str:
        for line in prompt.splitlines():
            if self.liked is not None and line.endswith(". " + self.liked):
                return line[0]
        return self.letter

    def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None, seed=None):
        kind = "choice" if choices else "generate"
        self.calls.append((kind, temperature, prompt))
        if self.refuse == kind:
            raise ValueError("refused")
        letter = self._letter(prompt) if temperature == 0 else self.letter
        text = letter if choices or self.liked is None else f"{letter}. {self.liked}"
        return Completion(text=text, prompt_tokens=7, completion_tokens=2)

    def label_logprobs(self, prompt, labels):
        self.calls.append(("label_logprobs", 0.0, prompt))
        return [-1.0 if lab == self._letter(prompt) else -3.0 for lab in labels]

    def logprobs(self, prompt, continuations):
        self.calls.append(("score", 0.0, prompt))
        if self.refuse == "score":
            raise ValueError("refused")
        options = [c.strip() for c in continuations]
        values = self.per_byte(prompt) if self.per_byte else [-0.5 if o == self.liked else -1.0 for o in options]
        return Scores([v * len(o.encode()) for v, o in zip(values, options)], prompt_tokens=5)


def assisted_with(*ops: str, status: str = "ok") -> AssistedChannel:
    """An assisted channel whose trace holds ``ops``: ``logprobs``, ``solve``, ``solve:choices`` (a
    constrained call) or ``extract`` (not a solver call)."""
    trace = [SolverCall(op=op.split(":")[0], options={"choices": ["A"]} if op == "solve:choices" else {}) for op in ops]
    calls = sum(1 for op in ops if op != "extract")
    return AssistedChannel(answer=None, correct=False, calls=calls, status=status, trace=trace)


def baseline_request(solver: object, item: Item, assisted: AssistedChannel, *, seed: int = 0) -> BaselineRequest:
    """What the kernel hands a baseline for ``item``: the built-in extractor chain, greedy settings
    (``temperature`` is the run's ``budget_temperature``, which the built-in ignores)."""
    chain = load_plugins(entry_points=False).extractors()
    return BaselineRequest(solver, chain, item, assisted, seed=seed, max_tokens=8, temperature=0.7)
