"""``echo``: a diagnostic solver with no model, for debugging scaffolds (``cgr sandbox run``).

It is deterministic and honest about being a diagnostic: ``complete`` echoes the prompt (or, with
``choices``, returns the first choice), log-probabilities are ``-len(continuation)``.
"""

from __future__ import annotations

from cgr.kernel.api import Completion, SolverConfig, SolverError
from cgr.kernel.hookspecs import hookimpl


class EchoSolver:
    """Echoes prompts back; no model."""

    name = "echo"

    def __init__(self, config: SolverConfig | None = None):
        self.config = config or SolverConfig()
        if self.config.options:  # it has none: a --solver-option meant for another solver is a mistake
            raise SolverError(
                f"echo solver: unknown --solver-option {', '.join(sorted(self.config.options))} (it takes none)"
            )

    def info(self) -> dict:
        """Manifest facts."""
        return {"name": self.name, "model": None, "model_sha256": None, "backend": "none"}

    def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None):
        """The prompt itself (cut at ``max_tokens`` characters), or the first of ``choices``."""
        text = choices[0] if choices else prompt[:max_tokens]
        return Completion(text=text, prompt_tokens=len(prompt.split()), completion_tokens=len(text.split()))

    def label_logprobs(self, prompt: str, labels: list[str]) -> list[float]:
        """Uniform scores."""
        return [0.0 for _ in labels]

    def logprobs(self, prompt: str, continuations: list[str]) -> list[float]:
        """Shorter continuations score higher."""
        return [-float(len(c)) for c in continuations]


@hookimpl
def register_solvers(register) -> None:
    """The diagnostic echo solver."""
    register("echo", EchoSolver, description="diagnostic: echoes prompts, no model")
