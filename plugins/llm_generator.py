"""``llm``: a language model writes the scaffold from the versioned generator prompt.

The model (any GGUF via the llama solver's loader: ``--generator-model``, default the solver's
default model) gets ``prompts.render_generator(item)``; the first fenced code block of its reply is
the scaffold, and a final ``GENERATOR ANSWER: <label>`` line is the generator-side answer. A reply
without a code block yields an empty scaffold (recorded as ``generator_error`` with the raw reply).
Small models write poor programs: that is measured, not hidden.
"""

from __future__ import annotations

import re

from cgr.kernel.api import GeneratorConfig, Scaffold, SolverConfig
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.prompts import GENERATOR_VERSION, render_generator

_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)
_ANSWER = re.compile(r"GENERATOR ANSWER:\s*\(?([A-Za-z0-9]{1,3})\)?", re.IGNORECASE)


def parse_reply(text: str, labels: list[str]) -> tuple[str, str | None]:
    """``(program, generator_answer)`` from a generator reply (empty program when none is fenced)."""
    m = _FENCE.search(text)
    program = m.group(1).strip() + "\n" if m and m.group(1).strip() else ""
    answers = [a for a in _ANSWER.findall(text) if a in labels or a.upper() in labels]
    answer = answers[-1] if answers else None
    if answer is not None and answer not in labels:
        answer = answer.upper()
    return program, answer


class LLMGenerator:
    """Prompts a GGUF model (through the llama solver's shared model loader) for a scaffold."""

    name = "llm"

    def __init__(self, config: GeneratorConfig | None = None):
        from cgr.plugins.llama_solver import load_solver

        self.config = config or GeneratorConfig()
        self.model = load_solver(SolverConfig(model=self.config.model, seed=self.config.seed, n_ctx=4096))

    def info(self) -> dict:
        """Manifest facts: the generator model and prompt version."""
        facts = self.model.info()
        return {
            "name": self.name,
            "strategy": "prompted",
            "model": facts["model"],
            "model_sha256": facts["model_sha256"],
            "prompt_version": GENERATOR_VERSION,
            "max_tokens": self.config.max_tokens,
            "temperature": 0.0,
            "seed": self.config.seed,
        }

    def generate(self, item: dict) -> Scaffold:
        """Ask the model for a program; parse the program and the stated answer."""
        reply = self.model.complete(render_generator(item), max_tokens=self.config.max_tokens, temperature=0.0)
        program, answer = parse_reply(reply.text, list(item["labels"]))
        return Scaffold(
            source=program,
            answer=answer,
            raw=reply.text,
            calls=1,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
        )


@hookimpl
def register_generators(register) -> None:
    """The model-backed generator."""
    register("llm", LLMGenerator, description="a GGUF model writes the scaffold (--generator-model)")
