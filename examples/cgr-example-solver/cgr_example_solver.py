"""cgr-example-solver: an EXAMPLE third-party cgr plugin adding the solver ``example-keyword``.

It is not a language model. It reads the question and the lettered options out of a prompt and
prefers the option sharing the most content words with the question (ties: the first option).
It is deterministic, needs nothing but cgr, and shows every part a real solver plugin has:
a factory taking ``SolverConfig``, the four ``Solver`` methods, and one ``register_solvers`` hook.

Its "log-probabilities" are ``log((k + 1) / (k + 2))`` of the overlap count ``k``: finite, <= 0 and
growing with the overlap, as log-probabilities are, but not a model's; ``info()`` says so.
"""

from __future__ import annotations

import math
import re

from cgr.kernel.api import Completion, SolverConfig
from cgr.kernel.hookspecs import hookimpl

__version__ = "0.1.0"

STOPWORDS = frozenset(
    "a an and are as at be by can do does for from has have how in is it its of on or that the "
    "their this to was were what when where which who why will with".split()
)
_WORD = re.compile(r"[a-z0-9]+")
_OPTION = re.compile(r"^\s*\(?([A-Z])[.):]\s+(.+?)\s*$")
_QUESTION = re.compile(r"^\s*(?:Question|Context):\s*(.*)$")


def words(text: str) -> set[str]:
    """Content words of ``text``: lower case, no stopwords, a plural ``s`` dropped."""
    out = set()
    for w in _WORD.findall(text.lower()):
        if w not in STOPWORDS:
            out.add(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w)
    return out


def parse_prompt(prompt: str) -> tuple[str, dict[str, str]]:
    """The question text (``Question:``/``Context:`` lines, else every other line) and the options."""
    question, other, options = [], [], {}
    for line in prompt.splitlines():
        if m := _OPTION.match(line):
            options.setdefault(m.group(1), m.group(2))
        elif m := _QUESTION.match(line):
            question.append(m.group(1))
        else:
            other.append(line)
    return "\n".join(question or other), options


def overlap(question: str, text: str) -> int:
    """How many content words ``text`` shares with ``question``."""
    return len(words(question) & words(text))


def as_logprob(count: int) -> float:
    """``log((count + 1) / (count + 2))``: in [log 1/2, 0), and higher for a higher overlap count."""
    return math.log((count + 1) / (count + 2))


def _best(question: str, texts: list[str]) -> int:
    scores = [overlap(question, t) for t in texts]
    return max(range(len(texts)), key=lambda i: (scores[i], -i))  # ties: the first


class KeywordSolver:
    """Word-overlap heuristic (example; no model): the option most like the question wins."""

    name = "example-keyword"

    def __init__(self, config: SolverConfig | None = None):
        self.config = config or SolverConfig()

    def info(self) -> dict:
        """Manifest facts: what this solver is (and is not)."""
        return {
            "name": self.name,
            "backend": "keyword-overlap (example; no model)",
            "model": None,
            "model_sha256": None,
            "version": __version__,
            "scores": "log((k + 1) / (k + 2)) of content-word overlap counts k, not a model's log-probabilities",
        }

    def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None) -> Completion:
        """The best option's label, or with ``choices`` the best choice; "" when nothing to pick."""
        question, options = parse_prompt(prompt)
        if choices:
            labels_of_prompt = all(c in options for c in choices)
            texts = [options[c] for c in choices] if labels_of_prompt else list(choices)
            text = choices[_best(question, texts)]
        elif options:
            text = list(options)[_best(question, list(options.values()))]
        else:
            text = ""
        return Completion(text=text, prompt_tokens=len(prompt.split()), completion_tokens=len(text.split()))

    def label_logprobs(self, prompt: str, labels: list[str]) -> list[float]:
        """Per label, :func:`as_logprob` of its option's overlap with the question (an unknown label: 0 overlap)."""
        question, options = parse_prompt(prompt)
        return [as_logprob(overlap(question, options.get(label, ""))) for label in labels]

    def logprobs(self, prompt: str, continuations: list[str]) -> list[float]:
        """Per continuation, :func:`as_logprob` of its overlap with the prompt's question."""
        question, _ = parse_prompt(prompt)
        return [as_logprob(overlap(question, c)) for c in continuations]


@hookimpl
def register_solvers(register) -> None:
    """The example keyword solver."""
    register("example-keyword", KeywordSolver, description="EXAMPLE: word-overlap heuristic, no model")
