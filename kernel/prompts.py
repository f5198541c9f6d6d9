"""Versioned prompt templates (the normative copies are in ``specs/prompts/``; a test compares them)."""

from __future__ import annotations

from typing import Any

DIRECT_VERSION = "direct-v1"
CLOZE_VERSION = "cloze-v1"
GENERATOR_VERSION = "generator-v1"

DIRECT_TEMPLATE = """\
{context_block}Question: {question}
{options}
Answer with the letter of the correct option only.
Answer:"""

#: The cloze prompt of the ``cloze`` direct modes (and of the template generator's scaffolds); each
#: option is scored as the continuation ``" " + option``. The budget-matched baseline's rewordings of
#: it are the plugin's own (``CLOZE_VARIANTS`` of ``plugins/budget_baseline.py``).
CLOZE_TEMPLATE = """\
{context_block}Question: {question}
Answer:"""

GENERATOR_TEMPLATE = """\
You write a short Python program (a "scaffold") that helps a small language model answer one
multiple-choice question. The program runs in a sandbox with only the Python standard library and:
  ITEM                      read-only: ITEM.question, ITEM.choices, ITEM.labels, ITEM.context
  solver_call(prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None) -> str
  solver_logprobs(prompt, continuations) -> list[float]
  extract_choice(text) -> str | None
  submit(label)             the final answer, one of ITEM.labels; ends the program
Rules: obtain the answer by calling the solver; never hard-code a label; read the question and
options from ITEM; end by calling submit(label).
After the program, state your own answer on a last line of the form "GENERATOR ANSWER: <label>".

{context_block}Question: {question}
{options}

Write the program in one ```python fenced block."""


def format_options(labels: list[str], choices: list[str]) -> str:
    """Lettered options, one per line: ``A. text``."""
    return "\n".join(f"{label}. {choice}" for label, choice in zip(labels, choices))


def context_block(context: str | None) -> str:
    """The context line that starts a prompt (empty without context)."""
    return f"Context: {context}\n" if context else ""


def render_direct(item: dict[str, Any]) -> str:
    """The direct solver prompt for ``item`` (any mapping with question/choices/labels/context)."""
    return DIRECT_TEMPLATE.format(
        context_block=context_block(item.get("context")),
        question=item["question"],
        options=format_options(item["labels"], item["choices"]),
    )


def render_cloze(item: dict[str, Any]) -> str:
    """The cloze prompt for ``item`` (question and context only; the options are the continuations)."""
    return CLOZE_TEMPLATE.format(context_block=context_block(item.get("context")), question=item["question"])


def render_generator(item: dict[str, Any]) -> str:
    """The generator prompt for ``item``."""
    return GENERATOR_TEMPLATE.format(
        context_block=context_block(item.get("context")),
        question=item["question"],
        options=format_options(item["labels"], item["choices"]),
    )


TEMPLATES = {
    DIRECT_VERSION: DIRECT_TEMPLATE,
    CLOZE_VERSION: CLOZE_TEMPLATE,
    GENERATOR_VERSION: GENERATOR_TEMPLATE,
}
